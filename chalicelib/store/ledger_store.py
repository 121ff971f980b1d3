"""Repository functions for the ledger tables: every write the ledger makes.

Shape of each function: try the call, log, raise a domain error ``from`` the
AWS error. Entries and blocks are written only with conditional puts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from ..errors import Conflict, DuplicateEntry, StorageError
from ..observability import logger
from .cache import LruCache
from .ledger_records import (
    PENDING_SHARDS,
    Block,
    MissingNode,
    Pending,
    Position,
    PreparedEntry,
    StoredEntry,
    new_commit_key,
    pending_seq,
    pending_ts,
    prepare,
    shard_of,
)
from .models import (
    BlockRecord,
    EntryRecord,
    HeadRecord,
    PendingRecord,
    PositionRecord,
    SealerKeysRecord,
    TileRecord,
    transaction_connection,
)

__all__ = ["PENDING_SHARDS", "PreparedEntry", "pending_ts", "prepare", "shard_of"]
TILE_WIDTH = 256
HASH_SIZE = 32
HEAD_KEY = "head"
SEALER_KEYS_KEY = "sealer-keys"

StateWrite = Callable[[TransactWrite], None]
"""A state change that joins an entry's transaction (later capabilities pass these)."""

_commit_key: ContextVar[str | None] = ContextVar("commit_key", default=None)


def commit_key() -> str:
    """The key of the commit being built: its entries' queue keys start with it, so they sort by it.

    A state write that must appear in the log in the order it was applied
    requires its item's last commit key to be smaller, and sets it to this one.
    """
    key = _commit_key.get()
    if key is None:
        raise RuntimeError("commit_key() is only available while a commit is being built")
    return key


def current_commit_key() -> str | None:
    """The key of the commit being built, if any (writes outside a ledger commit have none)."""
    return _commit_key.get()


def _condition_failed(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


# --- appending

def append(entries: Sequence[PreparedEntry], writes: Sequence[StateWrite] = ()) -> None:
    """Commit entries, their sealing-queue items and the state writes in one transaction."""
    key = new_commit_key(int(entries[0].entry["ts"]))
    building = _commit_key.set(key)
    try:
        with TransactWrite(connection=transaction_connection()) as tx:
            for position, prepared in enumerate(entries):
                seq = pending_seq(key, position)
                record = EntryRecord(id=prepared.id, body=prepared.body, leaf=prepared.leaf, seq=seq)
                tx.save(record, condition=EntryRecord.id.does_not_exist())
                tx.save(PendingRecord(shard=shard_of(prepared.id), seq=seq, id=prepared.id, leaf=prepared.leaf))
            for write in writes:
                write(tx)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        failed = [i for i, reason in enumerate(reasons) if reason and reason.code == "ConditionalCheckFailed"]
        logger.info("append cancelled", extra={"reasons": [r.code if r else None for r in reasons]})
        for position in failed:
            if position < 2 * len(entries) and position % 2 == 0:
                raise DuplicateEntry(f"entry {entries[position // 2].id} already exists", field="id") from exc
        if failed or any(reason and reason.code == "TransactionConflict" for reason in reasons):
            raise Conflict("the state changed under this request; nothing was written") from exc
        raise StorageError("the ledger could not commit the entry; nothing was written") from exc
    finally:
        _commit_key.reset(building)


# --- the sealing queue

def oldest_pending(limit: int) -> list[Pending]:
    """Up to ``limit`` unsealed entries, oldest first, read with strong consistency."""
    found: list[Pending] = []
    try:
        for shard in range(PENDING_SHARDS):
            found.extend(Pending(int(r.shard), r.seq, r.id, r.leaf)
                         for r in PendingRecord.query(shard, consistent_read=True, limit=limit))
    except PynamoDBException as exc:
        raise StorageError("could not read the sealing queue") from exc
    found.sort(key=lambda record: record.seq)
    return found[:limit]


def delete_pending(keys: Iterable[tuple[int, str]]) -> None:
    try:
        with PendingRecord.batch_write() as batch:
            for shard, seq in keys:
                batch.delete(PendingRecord(shard=shard, seq=seq))
    except PynamoDBException as exc:
        raise StorageError("could not clear sealed entries from the queue") from exc


# --- blocks

def put_block(block: Block) -> bool:
    """Store a block if its height is free; False when another sealer took the height."""
    record = BlockRecord(height=block.height, header=block.header, hash=block.hash, sig=block.sig,
                         ids=list(block.ids), frontier=list(block.frontier), checkpoint=block.checkpoint or None)
    try:
        record.save(condition=BlockRecord.height.does_not_exist())
    except PutError as exc:
        if _condition_failed(exc):
            return False
        raise StorageError(f"could not store block {record.height}") from exc
    return True


def get_block(height: int) -> Block | None:
    try:
        r = BlockRecord.get(height, consistent_read=True)
        return Block(int(r.height), r.header, r.hash, r.sig, list(r.ids), list(r.frontier), r.checkpoint or "")
    except BlockRecord.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise StorageError(f"could not read block {height}") from exc


def _stored(record: EntryRecord) -> StoredEntry:
    return StoredEntry(record.id, record.body, record.leaf, record.seq)


def entry_records(ids: Sequence[str]) -> dict[str, StoredEntry]:
    try:
        return {r.id: _stored(r) for r in EntryRecord.batch_get(list(dict.fromkeys(ids)), consistent_read=True)}
    except PynamoDBException as exc:
        raise StorageError("could not read entries") from exc


def get_entry(entry_id: str, consistent: bool = False) -> StoredEntry | None:
    try:
        return _stored(EntryRecord.get(entry_id, consistent_read=consistent))
    except EntryRecord.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise StorageError("could not read the entry") from exc


# --- the head hint: highest completed block

def completed_height() -> int:
    """The highest block whose completion finished, or -1 before genesis."""
    try:
        return int(HeadRecord.get(HEAD_KEY, consistent_read=True).height)
    except HeadRecord.DoesNotExist:
        return -1
    except PynamoDBException as exc:
        raise StorageError("could not read the chain head") from exc


def advance_completed_height(height: int) -> None:
    try:
        HeadRecord(pk=HEAD_KEY, height=height).save(
            condition=HeadRecord.pk.does_not_exist() | (HeadRecord.height < height)
        )
    except PutError as exc:
        if not _condition_failed(exc):
            raise StorageError("could not advance the chain head") from exc


# --- positions

def write_positions(height: int, first_index: int, ids: Sequence[str]) -> None:
    try:
        with PositionRecord.batch_write() as batch:
            for offset, entry_id in enumerate(ids):
                batch.save(PositionRecord(pk=f"e#{entry_id}", idx=first_index + offset, height=height))
    except PynamoDBException as exc:
        raise StorageError("could not index sealed entries") from exc


def sealed_ids(ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` already have a log position (are in a stored, completed block)."""
    try:
        return {record.pk[2:] for record in PositionRecord.batch_get([f"e#{i}" for i in ids], consistent_read=True)}
    except PynamoDBException as exc:
        raise StorageError("could not read the entry index") from exc


def position_of(entry_id: str) -> Position | None:
    try:
        r = PositionRecord.get(f"e#{entry_id}")
        return Position(int(r.idx), int(r.height))
    except PositionRecord.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise StorageError("could not read the entry index") from exc


# --- Merkle nodes, in tiles of 256 per level

# Tiles never change below their size, so a container keeps what it read.
tile_cache: LruCache[str, bytes] = LruCache(capacity=4096)


def _tile_key(level: int, tile: int) -> str:
    return f"n#{level}#{tile}"


def _read_tile(key: str) -> bytes:
    try:
        return bytes(TileRecord.get(key, consistent_read=True).nodes)
    except TileRecord.DoesNotExist:
        return b""
    except PynamoDBException as exc:
        raise StorageError("could not read Merkle nodes") from exc


def read_node(level: int, index: int) -> bytes:
    key = _tile_key(level, index // TILE_WIDTH)
    offset = (index % TILE_WIDTH) * HASH_SIZE
    nodes = tile_cache.get(key)
    if nodes is None or len(nodes) < offset + HASH_SIZE:
        nodes = _read_tile(key)
        if nodes:
            tile_cache.put(key, nodes)
    if len(nodes) < offset + HASH_SIZE:
        raise MissingNode(f"node {level}/{index} is not stored")
    return nodes[offset:offset + HASH_SIZE]


def write_nodes(nodes: Iterable[tuple[int, int, bytes]]) -> int:
    """Store perfect-subtree hashes; returns the number of tile items written.

    Concurrent completions of one block write equal bytes, and a later block
    only extends a tile, so a tile is written only when it grows.
    """
    grouped: dict[str, list[tuple[int, bytes]]] = {}
    for level, index, value in nodes:
        grouped.setdefault(_tile_key(level, index // TILE_WIDTH), []).append((index % TILE_WIDTH, value))
    written = 0
    for key, items in grouped.items():
        items.sort()
        first = items[0][0]
        existing = _read_tile(key) if first else b""
        if len(existing) < first * HASH_SIZE:
            raise StorageError(f"Merkle tile {key} has a gap before position {first}")
        merged = bytearray(existing[: first * HASH_SIZE])
        for position, value in items:
            if position * HASH_SIZE != len(merged):
                raise StorageError(f"Merkle tile {key} would have a gap at position {position}")
            merged += value
        count = len(merged) // HASH_SIZE
        if len(existing) >= len(merged):
            continue
        try:
            TileRecord(pk=key, nodes=bytes(merged), size=count).save(
                condition=TileRecord.pk.does_not_exist() | (TileRecord.size < count)
            )
            written += 1
        except PutError as exc:
            if not _condition_failed(exc):
                raise StorageError("could not store Merkle nodes") from exc
    return written


# --- sealer keys (for GET /keys)

def sealer_keys() -> list[dict[str, Any]]:
    try:
        record = SealerKeysRecord.get(SEALER_KEYS_KEY, consistent_read=True)
    except SealerKeysRecord.DoesNotExist:
        return []
    except PynamoDBException as exc:
        raise StorageError("could not read the sealer keys") from exc
    return list(json.loads(record.keys))


def record_sealer_keys(changes: Sequence[dict[str, Any]]) -> None:
    """Merge key records (``jwk``, ``added``, ``revoked``), keyed by kid; retried on races."""
    for _ in range(10):
        try:
            record = SealerKeysRecord.get(SEALER_KEYS_KEY, consistent_read=True)
        except SealerKeysRecord.DoesNotExist:
            record = SealerKeysRecord(pk=SEALER_KEYS_KEY, keys="[]")
        known = {item["jwk"]["kid"]: item for item in json.loads(record.keys)}
        merged = dict(known)
        for change in changes:
            merged[change["jwk"]["kid"]] = change
        if merged == known:
            return
        record.keys = json.dumps(sorted(merged.values(), key=lambda item: (item["added"], item["jwk"]["kid"])))
        try:
            record.save()
            return
        except PutError as exc:
            if not _condition_failed(exc):
                raise StorageError("could not record sealer keys") from exc
    raise StorageError("could not record sealer keys: too much contention")
