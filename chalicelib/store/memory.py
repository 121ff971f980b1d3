"""The in-memory twin of the stores: the state port and the ledger's storage, in one process.

It keeps DynamoDB's semantics where the program relies on them (see
``store.port``): all-or-nothing commits with conditions, a conditional put per
entry id and per block height, strongly consistent reads, an index read by
key. The contract suite (``tests/contract``) runs the same tests on it and on
DynamoDB. Tests and local tools use it; nothing on AWS does.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ..domain.records import Key, Record
from ..errors import Conflict, DuplicateEntry
from ..ledger.merkle import HASH_SIZE
from .ledger_records import (
    Block,
    MissingNode,
    Pending,
    Position,
    PreparedEntry,
    StoredEntry,
    new_commit_key,
    pending_seq,
    shard_of,
)
from .port import (
    INDEX_PK,
    INDEX_SK,
    Absent,
    Change,
    Check,
    Condition,
    Delete,
    Eq,
    Exists,
    Ge,
    In,
    Ne,
    Put,
    Update,
    index_attributes,
    key_of_change,
    one_change_per_item,
)

R = TypeVar("R", bound=Record)
Item = dict[str, Any]
TILE_WIDTH = 256


def _holds(item: Item | None, condition: Condition) -> bool:
    if isinstance(condition, Exists):
        return item is not None
    if isinstance(condition, Absent):
        return item is None
    value = None if item is None else item.get(condition.field)
    if value is None:
        return False  # as in DynamoDB, a comparison with a missing attribute is false
    if isinstance(condition, Eq):
        return bool(value == condition.value)
    if isinstance(condition, Ne):
        return bool(value != condition.value)
    if isinstance(condition, Ge):
        return bool(value >= condition.value)
    if isinstance(condition, In):
        return value in condition.values
    raise TypeError(condition)  # pragma: no cover - the union is closed


def _record(kind: type[R], item: Item) -> R:
    return kind(**{f.name: item.get(f.name) for f in dataclasses.fields(kind)})


class MemoryStore:
    """``StateStore`` and the ledger's storage, in memory, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.items: dict[Key, Item] = {}
        self.nonces: dict[str, str] = {}
        # the ledger
        self.entries: dict[str, StoredEntry] = {}
        self.pending: dict[tuple[int, str], Pending] = {}
        self.blocks: dict[int, Block] = {}
        self.positions: dict[str, Position] = {}
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.head = -1
        self.sealers: dict[str, dict[str, Any]] = {}

    # --- the state port

    def get(self, kind: type[R], key: Key) -> R | None:
        with self.lock:
            item = self.items.get(Key(*key))
            return None if item is None else _record(kind, item)

    def get_many(self, kind: type[R], keys: Sequence[Key]) -> dict[Key, R]:
        with self.lock:
            return {Key(*k): _record(kind, self.items[Key(*k)]) for k in keys if Key(*k) in self.items}

    def query(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        with self.lock:
            found = sorted((k.sk, item) for k, item in self.items.items()
                           if k.pk == pk and (after is None or k.sk > after))
        return [_record(kind, item) for _, item in found[:limit]]

    def index(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        with self.lock:
            found = sorted((item[INDEX_SK], key, item) for key, item in self.items.items()
                           if item.get(INDEX_PK) == pk and (after is None or item[INDEX_SK] > after))
        return [_record(kind, item) for _, _, item in found[:limit]]

    def commit(self, entries: Sequence[Any], changes: Sequence[Change]) -> None:
        with self.lock:
            key = new_commit_key(int(entries[0].entry["ts"]))
            for prepared in entries:
                if prepared.id in self.entries:
                    raise DuplicateEntry(f"entry {prepared.id} already exists", field="id")
            staged = self._staged(changes, key)
            for position, prepared in enumerate(entries):
                self._append(prepared, pending_seq(key, position))
            self.items.update(staged)
            for item_key in [k for k, v in staged.items() if v is _DELETED]:
                del self.items[item_key]

    def apply(self, changes: Sequence[Change]) -> None:
        with self.lock:
            staged = self._staged(changes, new_commit_key(0))
            self.items.update(staged)
            for item_key in [k for k, v in staged.items() if v is _DELETED]:
                del self.items[item_key]

    def put_all(self, records: Sequence[Record]) -> None:
        with self.lock:
            for record in records:
                self.items[record.key] = {**record.fields(), **index_attributes(record)}

    def claim_nonce(self, kid: str, nonce: str, idempotency_key: str, expires_at: int) -> str | None:
        with self.lock:
            seen = self.nonces.get(f"{kid}#{nonce}")
            if seen is None:
                self.nonces[f"{kid}#{nonce}"] = idempotency_key
            return seen

    def release_nonce(self, kid: str, nonce: str, idempotency_key: str) -> None:
        with self.lock:
            if self.nonces.get(f"{kid}#{nonce}") == idempotency_key:
                del self.nonces[f"{kid}#{nonce}"]

    def _staged(self, changes: Sequence[Change], commit_key: str) -> dict[Key, Any]:
        """The items after ``changes``, checked all at once; raises Conflict, changing nothing."""
        staged: dict[Key, Any] = {}
        one_change_per_item(changes)
        for change in changes:
            key = key_of_change(change)
            current = self.items.get(key)
            when = change.when
            if isinstance(change, Put) and change.if_absent:
                when = (Absent(), *when)
            if not all(_holds(current, condition) for condition in when):
                raise Conflict("the state changed under this request; nothing was written")
            if isinstance(change, Put):
                # a new item starts its order here: later ordered changes come after this commit
                staged[key] = {**change.record.fields(), **index_attributes(change.record), "last_seq": commit_key}
            elif isinstance(change, Check):
                continue
            elif isinstance(change, Delete):
                staged[key] = _DELETED
            else:
                staged[key] = self._updated(current, change, commit_key)
        return {k: v for k, v in staged.items() if v is not None}

    @staticmethod
    def _updated(current: Item | None, change: Update, commit_key: str) -> Item:
        if change.ordered:
            last = None if current is None else current.get("last_seq")
            if last is not None and not last < commit_key:
                raise Conflict("the state changed under this request; nothing was written")
        item = copy.deepcopy(current) if current is not None else {}
        for name, value in change.set.items():
            if value is None:
                item.pop(name, None)
            else:
                item[name] = value
        for name, value in change.add.items():
            item[name] = int(item.get(name) or 0) + value
        for name, value in change.set_default.items():
            item.setdefault(name, value)
        for name in change.remove:
            if name not in change.set:
                item.pop(name, None)
        if change.ordered:
            item["last_seq"] = commit_key
        return item

    # --- the ledger's storage (the same operations as store.ledger_store)

    def _append(self, prepared: PreparedEntry, seq: str) -> None:
        self.entries[prepared.id] = StoredEntry(prepared.id, prepared.body, prepared.leaf, seq)
        shard = shard_of(prepared.id)
        self.pending[(shard, seq)] = Pending(shard, seq, prepared.id, prepared.leaf)

    def append(self, entries: Sequence[PreparedEntry], changes: Sequence[Change] = ()) -> None:
        self.commit(entries, changes)

    def oldest_pending(self, limit: int) -> list[Pending]:
        with self.lock:
            return sorted(self.pending.values(), key=lambda p: p.seq)[:limit]

    def delete_pending(self, keys: Iterable[tuple[int, str]]) -> None:
        with self.lock:
            for shard, seq in keys:
                self.pending.pop((int(shard), seq), None)

    def put_block(self, record: Block) -> bool:
        with self.lock:
            if record.height in self.blocks:
                return False
            self.blocks[record.height] = record
            return True

    def get_block(self, height: int) -> Block | None:
        with self.lock:
            return self.blocks.get(height)

    def entry_records(self, ids: Sequence[str]) -> dict[str, StoredEntry]:
        with self.lock:
            return {i: self.entries[i] for i in ids if i in self.entries}

    def get_entry(self, entry_id: str, consistent: bool = False) -> StoredEntry | None:
        with self.lock:
            return self.entries.get(entry_id)

    def completed_height(self) -> int:
        with self.lock:
            return self.head

    def advance_completed_height(self, height: int) -> None:
        with self.lock:
            self.head = max(self.head, height)

    def write_positions(self, height: int, first_index: int, ids: Sequence[str]) -> None:
        with self.lock:
            for offset, entry_id in enumerate(ids):
                self.positions[entry_id] = Position(first_index + offset, height)

    def sealed_ids(self, ids: Sequence[str]) -> set[str]:
        with self.lock:
            return {i for i in ids if i in self.positions}

    def position_of(self, entry_id: str) -> Position | None:
        with self.lock:
            return self.positions.get(entry_id)

    def read_node(self, level: int, index: int) -> bytes:
        with self.lock:
            nodes = self.tiles.get((level, index // TILE_WIDTH), b"")
        offset = (index % TILE_WIDTH) * HASH_SIZE
        if len(nodes) < offset + HASH_SIZE:
            raise MissingNode(f"node {level}/{index} is not stored")
        return nodes[offset:offset + HASH_SIZE]

    def write_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> int:
        written = 0
        with self.lock:
            for level, index, value in sorted(nodes):
                tile = (level, index // TILE_WIDTH)
                existing = self.tiles.get(tile, b"")
                offset = (index % TILE_WIDTH) * HASH_SIZE
                if len(existing) == offset:
                    self.tiles[tile] = existing + value
                    written += 1
                elif len(existing) < offset:
                    raise LookupError(f"Merkle tile {tile} would have a gap at {index}")
        return written

    def sealer_keys(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(copy.deepcopy(list(self.sealers.values())),
                          key=lambda item: (item["added"], item["jwk"]["kid"]))

    def record_sealer_keys(self, changes: Sequence[dict[str, Any]]) -> None:
        with self.lock:
            for change in changes:
                self.sealers[change["jwk"]["kid"]] = copy.deepcopy(change)


_DELETED: Any = object()
