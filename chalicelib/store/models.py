"""PynamoDB models of every table.

Table names come from settings when a model is first used, never at import, so
the same code runs on AWS, on a moto server and under ``mock_aws``. Append-only
tables (entries, blocks) are written only with conditional puts: see
``ledger_store``.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.client
import botocore.session
from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.models import Model
from pynamodb.settings import get_settings_value

from ..settings import get_settings


class _LazyTableName(type):
    """Metaclass of a model's ``Meta``: the table name follows the settings."""

    suffix: str

    @property
    def table_name(cls) -> str:
        return get_settings().table(cls.suffix)


def _strings(null: bool = False) -> ListAttribute[str]:
    """A list of strings (PynamoDB types ``of`` as the element type, not its attribute class)."""
    return ListAttribute(of=UnicodeAttribute, null=null)  # type: ignore[arg-type]


def _meta(suffix: str) -> Any:
    return _LazyTableName("Meta", (), {"suffix": suffix})


@functools.cache
def dynamodb_client() -> Any:
    """One botocore client for every model and transaction.

    PynamoDB otherwise makes a botocore session per model, and each parses the
    DynamoDB service description again (about 0.1 s apiece on a cold start).
    Configured as PynamoDB configures its own.
    """
    config = botocore.client.Config(
        parameter_validation=False,
        connect_timeout=get_settings_value("connect_timeout_seconds"),
        read_timeout=get_settings_value("read_timeout_seconds"),
        max_pool_connections=max(get_settings_value("max_pool_connections"), 50),
        retries={"total_max_attempts": 1 + get_settings_value("max_retry_attempts"), "mode": "standard"},
    )
    return botocore.session.get_session().create_client("dynamodb", config=config)


class SharedClientModel(Model):
    """Base of every model: its connection uses the shared client."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        connection = super()._get_connection()
        if connection.connection._client is None:
            connection.connection._client = dynamodb_client()
        return connection


# --- the ledger: append-only

class EntryRecord(SharedClientModel):
    """One ledger entry, stored as the exact RFC 8785 bytes that are hashed."""

    Meta = _meta("entries")
    id = UnicodeAttribute(hash_key=True)
    body = UnicodeAttribute()
    leaf = UnicodeAttribute()
    seq = UnicodeAttribute()  # its sealing-queue key: commit time, commit, position in the commit


class BlockRecord(SharedClientModel):
    """One sealed block: its header bytes, hash, signature and entry ids in log order."""

    Meta = _meta("blocks")
    height = NumberAttribute(hash_key=True)
    header = UnicodeAttribute()
    hash = UnicodeAttribute()
    sig = UnicodeAttribute()
    ids = _strings()
    frontier = _strings()
    checkpoint = UnicodeAttribute(null=True)


# --- the sealing work queue: written with each entry, deleted once sealed

class PendingRecord(SharedClientModel):
    Meta = _meta("pending")
    shard = NumberAttribute(hash_key=True)
    seq = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    leaf = UnicodeAttribute()


# --- derived read index: rebuilt from blocks, safe to rewrite with equal values

class PositionRecord(SharedClientModel):
    """``e#<entry id>``: where a sealed entry sits in the log."""

    Meta = _meta("index")
    pk = UnicodeAttribute(hash_key=True)
    idx = NumberAttribute()
    height = NumberAttribute()


class TileRecord(SharedClientModel):
    """``n#<level>#<tile>``: up to 256 consecutive perfect-subtree hashes of one level."""

    Meta = _meta("index")
    pk = UnicodeAttribute(hash_key=True)
    nodes = BinaryAttribute(legacy_encoding=False)
    size = NumberAttribute()


class HeadRecord(SharedClientModel):
    """``head``: the highest block whose completion (index, broadcast, queue cleanup) finished."""

    Meta = _meta("index")
    pk = UnicodeAttribute(hash_key=True)
    height = NumberAttribute()


class SealerKeysRecord(SharedClientModel):
    """``sealer-keys``: every key that may seal blocks, as JSON, for ``GET /keys``."""

    Meta = _meta("index")
    pk = UnicodeAttribute(hash_key=True)
    keys = UnicodeAttribute()
    version = VersionAttribute()


# --- replicas

class ReplicaRecord(SharedClientModel):
    """One item of a replica's own table; ``pk`` says which kind.

    ``state``: the verified head (``owner``: the stamp node); ``b#<height>``: a
    block header; ``e#<index>``: an entry; ``k#<kid>``: a key record (``owner``:
    the node the key belongs to); ``n#<sha256>``: a signed request (kid, nonce)
    an entry carried; ``q#<height>#<hash or sha256>``: a quarantined block.
    """

    Meta = _meta("replica-template")
    pk = UnicodeAttribute(hash_key=True)
    height = NumberAttribute(null=True)
    hash = UnicodeAttribute(null=True)
    log_size = NumberAttribute(null=True)
    frontier = _strings(null=True)
    status = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    header = UnicodeAttribute(null=True)
    sig = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    jwk = UnicodeAttribute(null=True)
    added = NumberAttribute(null=True)
    revoked = NumberAttribute(null=True)
    sealer = BooleanAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    ts = NumberAttribute(null=True)


@functools.cache
def replica_model(replica: int) -> type[ReplicaRecord]:
    """The model bound to replica ``replica``'s own table."""
    return type(f"Replica{replica}Record", (ReplicaRecord,), {"Meta": _meta(f"replica-{replica}")})


LEDGER_MODELS: tuple[type[Model], ...] = (
    EntryRecord, BlockRecord, PendingRecord, PositionRecord, TileRecord, HeadRecord, SealerKeysRecord,
)


@functools.cache
def transaction_connection() -> Connection:
    """The connection transactions use, on the shared client."""
    connection = Connection()
    connection._client = dynamodb_client()
    return connection


def reset_connections() -> None:
    """Drop cached clients (tests switch between moto back ends)."""
    from . import dynamo

    models: tuple[type[Model], ...] = (*LEDGER_MODELS, ReplicaRecord, dynamo.StateItem, dynamo.NonceItem,
                                       *dynamo._models.values())
    for model in models:
        model._connection = None
    for replica in range(get_settings().replica_count):
        replica_model(replica)._connection = None
    replica_model.cache_clear()
    transaction_connection.cache_clear()
    dynamodb_client.cache_clear()
