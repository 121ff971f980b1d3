"""The one port through which the program's services load and save state.

Services describe a change as data (``Put``, ``Update``, ``Check``, ``Delete``)
with conditions (``Exists``, ``Eq``, ``Ge``, ...); a ``StateStore`` applies a
list of them together with ledger entries, all or nothing. Two stores
implement the port: DynamoDB (``store.dynamo``) and memory (``store.memory``),
and one contract suite (``tests/contract``) runs against both, so a service
behaves the same on either.

Semantics, on both stores:

- a failed condition, or a concurrent transaction touching the same items,
  raises ``Conflict`` and writes nothing; a reused entry id ``DuplicateEntry``;
- an ``Update`` of a missing item creates it, unless a condition says
  otherwise; ``add`` adds to a number (a missing one counts as 0);
  ``set_default`` sets a field only when it is missing;
- an ``ordered`` update also requires the item's last commit key to be
  smaller than this commit's and records it, so the log never lists two
  changes to one item in another order than they were applied;
- comparisons with a missing field are false, as in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..domain.records import IndexKey, Key, Record
from ..errors import InvalidParameter

R = TypeVar("R", bound=Record)

INDEX_PK, INDEX_SK = "gsi1pk", "gsi1sk"


# --- conditions


@dataclass(frozen=True)
class Exists:
    pass


@dataclass(frozen=True)
class Absent:
    pass


@dataclass(frozen=True)
class Eq:
    field: str
    value: Any


@dataclass(frozen=True)
class Ne:
    """``field`` is present and not ``value``."""

    field: str
    value: Any


@dataclass(frozen=True)
class Ge:
    field: str
    value: int


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Any, ...]


Condition = Exists | Absent | Eq | Ne | Ge | In


# --- changes


@dataclass(frozen=True)
class Put:
    """Write a whole record; ``if_absent`` only if its key is free."""

    record: Record
    if_absent: bool = True
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Update:
    """Change some fields of one item. Build it with ``Update.of`` when a set field feeds the item's index."""

    kind: type[Record]
    key: Key
    set: Mapping[str, Any] = field(default_factory=dict)
    add: Mapping[str, int] = field(default_factory=dict)
    set_default: Mapping[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()
    ordered: bool = True

    def __post_init__(self) -> None:
        touched = set(self.set) | set(self.add) | set(self.set_default) | set(self.remove)
        if touched & self.kind.INDEXED and not {INDEX_PK, INDEX_SK} & (set(self.set) | set(self.remove)):
            raise ValueError(f"an update of {sorted(touched & self.kind.INDEXED)} on {self.kind.__name__} "
                             "changes its index: build it with Update.of(current, ...)")
        if set(self.add) & self.kind.INDEXED:
            raise ValueError("indexed fields are set, not added: read, compute, and set with a condition")

    @classmethod
    def of(cls, current: Record, set: Mapping[str, Any] | None = None, add: Mapping[str, int] | None = None,
           remove: tuple[str, ...] = (), when: tuple[Condition, ...] = (), ordered: bool = True) -> Update:
        """An update of ``current`` that keeps the item's index key in step with the fields it sets."""
        values = dict(set or {})
        after = current.__class__(**{**current.fields(), **values})
        index = after.index_key()
        removed = tuple(remove)
        if index is None:
            removed += (INDEX_PK, INDEX_SK)
        else:
            values.update({INDEX_PK: index.pk, INDEX_SK: index.sk})
        return cls(type(current), current.key, set=values, add=dict(add or {}), remove=removed, when=when,
                   ordered=ordered)


@dataclass(frozen=True)
class Check:
    """A condition on an item that this commit does not write."""

    kind: type[Record]
    key: Key
    when: tuple[Condition, ...]


@dataclass(frozen=True)
class Delete:
    kind: type[Record]
    key: Key
    when: tuple[Condition, ...] = ()


Change = Put | Update | Check | Delete


def key_of_change(change: Change) -> Key:
    return Key(*(change.record.key if isinstance(change, Put) else change.key))


def one_change_per_item(changes: Sequence[Change]) -> None:
    """A commit changes each item once, as DynamoDB requires (``money.merged`` joins updates)."""
    keys = [key_of_change(change) for change in changes]
    if len(set(keys)) != len(keys):
        raise InvalidParameter("one commit changes each item once (as DynamoDB requires)")


def index_attributes(record: Record) -> dict[str, str]:
    index: IndexKey | None = record.index_key()
    return {} if index is None else {INDEX_PK: index.pk, INDEX_SK: index.sk}


class StateStore(Protocol):
    """What the services need of storage. Reads are strongly consistent."""

    def get(self, kind: type[R], key: Key) -> R | None: ...

    def get_many(self, kind: type[R], keys: Sequence[Key]) -> dict[Key, R]: ...

    def query(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        """Items of one partition, by sort key, starting after ``after``."""

    def index(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        """Items under one index key, by index sort key, starting after ``after`` (eventually consistent)."""

    def commit(self, entries: Sequence[Any], changes: Sequence[Change]) -> None:
        """Write prepared ledger entries (with their sealing-queue items) and the changes, all or nothing."""

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply changes all or nothing, with no entry (answers kept for signed requests)."""

    def put_all(self, records: Sequence[Record]) -> None:
        """Write records unconditionally and not atomically: rows that are safe to write twice (indexes)."""

    def claim_nonce(self, kid: str, nonce: str, idempotency_key: str, expires_at: int) -> str | None:
        """Record a signature nonce; None if it is new, else the Idempotency-Key it was first seen with."""

    def release_nonce(self, kid: str, nonce: str, idempotency_key: str) -> None:
        """Forget a nonce claimed by a request that wrote nothing, so that the very same request may be sent again."""
