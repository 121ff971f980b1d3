"""What the ledger's storage holds, as plain data (pure), for both stores.

Entries are kept as the exact RFC 8785 bytes that are hashed; a queue item per
unsealed entry, in one of ``PENDING_SHARDS`` partitions, ordered by its commit
key; blocks with their header bytes and entry ids in log order.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from ..ledger.canonical import canonical
from ..ledger.merkle import leaf_hash

# Writers spread their queue items over this many partitions. A constant, not a
# setting: shrinking it would strand the items queued in the shards dropped.
PENDING_SHARDS = 16


@dataclass(frozen=True)
class PreparedEntry:
    entry: dict[str, Any]
    body: str
    leaf: str

    @property
    def id(self) -> str:
        return str(self.entry["id"])


def prepare(entry: dict[str, Any]) -> PreparedEntry:
    body = canonical(entry)  # once: the stored bytes are the hashed bytes
    return PreparedEntry(entry=entry, body=body.decode("utf-8"), leaf=leaf_hash(body).hex())


@dataclass(frozen=True)
class StoredEntry:
    id: str
    body: str
    leaf: str
    seq: str


@dataclass(frozen=True)
class Pending:
    shard: int
    seq: str
    id: str
    leaf: str


@dataclass(frozen=True)
class Block:
    height: int
    header: str
    hash: str
    sig: str
    ids: list[str]
    frontier: list[str]
    # The C2SP checkpoint of the tree at this block's log_size, signed by the block's sealer
    # (LEDGER.md); written with the block, so a stored block always has it. Empty only on
    # blocks stored before checkpoints existed.
    checkpoint: str = ""


@dataclass(frozen=True)
class Position:
    idx: int
    height: int


class MissingNode(LookupError):
    """A Merkle node a proof needs is not stored (yet)."""


def shard_of(entry_id: str) -> int:
    return int.from_bytes(hashlib.sha256(entry_id.encode("utf-8")).digest()[:4], "big") % PENDING_SHARDS


def new_commit_key(ts: int) -> str:
    """A commit's key: its time, then 48 random bits. Queue items and ordered updates sort by it."""
    return f"{ts:013d}#{secrets.token_hex(6)}"


def pending_ts(seq: str) -> int | None:
    """The commit time (ms) a queue key starts with, or None if it is not one ``pending_seq`` makes."""
    head = seq[:13]
    return int(head) if len(head) == 13 and head.isascii() and head.isdigit() and seq[13:14] == "#" else None


def pending_seq(key: str, position: int) -> str:
    """Queue order: the commit's key, then the entry's place in it."""
    return f"{key}#{position:03d}"
