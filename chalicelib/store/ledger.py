"""The ledger's storage, on whichever store the state uses: DynamoDB (``ledger_store``) or memory.

The sealer, the read API and the program reach the ledger's tables only
through these functions; each is the operation of ``ledger_store`` of the
same name (the DynamoDB one), or of the in-memory twin when the state lives
in memory. Their results are plain data (``ledger_records``). ``ledger_store``
is imported where it is used, so PynamoDB and botocore load with the first
storage call, never at a cold start that needs none (``import app``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import backend
from .ledger_records import Block, Pending, Position, StoredEntry, prepare, shard_of
from .memory import MemoryStore

__all__ = ["prepare", "shard_of"]


def _memory() -> MemoryStore | None:
    store = backend.state()
    return store if isinstance(store, MemoryStore) else None


def oldest_pending(limit: int) -> list[Pending]:
    from . import ledger_store

    memory = _memory()
    return memory.oldest_pending(limit) if memory else ledger_store.oldest_pending(limit)


def delete_pending(keys: Iterable[tuple[int, str]]) -> None:
    from . import ledger_store

    memory = _memory()
    return memory.delete_pending(keys) if memory else ledger_store.delete_pending(keys)


def put_block(block: Block) -> bool:
    from . import ledger_store

    memory = _memory()
    return memory.put_block(block) if memory else ledger_store.put_block(block)


def get_block(height: int) -> Block | None:
    from . import ledger_store

    memory = _memory()
    return memory.get_block(height) if memory else ledger_store.get_block(height)


def entry_records(ids: Sequence[str]) -> dict[str, StoredEntry]:
    from . import ledger_store

    memory = _memory()
    return memory.entry_records(ids) if memory else ledger_store.entry_records(ids)


def get_entry(entry_id: str, consistent: bool = False) -> StoredEntry | None:
    from . import ledger_store

    memory = _memory()
    return memory.get_entry(entry_id) if memory else ledger_store.get_entry(entry_id, consistent)


def completed_height() -> int:
    from . import ledger_store

    memory = _memory()
    return memory.completed_height() if memory else ledger_store.completed_height()


def advance_completed_height(height: int) -> None:
    from . import ledger_store

    memory = _memory()
    return memory.advance_completed_height(height) if memory else ledger_store.advance_completed_height(height)


def write_positions(height: int, first_index: int, ids: Sequence[str]) -> None:
    from . import ledger_store

    memory = _memory()
    if memory:
        return memory.write_positions(height, first_index, ids)
    return ledger_store.write_positions(height, first_index, ids)


def sealed_ids(ids: Sequence[str]) -> set[str]:
    from . import ledger_store

    memory = _memory()
    return memory.sealed_ids(ids) if memory else ledger_store.sealed_ids(ids)


def position_of(entry_id: str) -> Position | None:
    from . import ledger_store

    memory = _memory()
    return memory.position_of(entry_id) if memory else ledger_store.position_of(entry_id)


def read_node(level: int, index: int) -> bytes:
    from . import ledger_store

    memory = _memory()
    return memory.read_node(level, index) if memory else ledger_store.read_node(level, index)


def write_nodes(nodes: Iterable[tuple[int, int, bytes]]) -> int:
    from . import ledger_store

    memory = _memory()
    return memory.write_nodes(nodes) if memory else ledger_store.write_nodes(nodes)


def sealer_keys() -> list[dict[str, Any]]:
    from . import ledger_store

    memory = _memory()
    return memory.sealer_keys() if memory else ledger_store.sealer_keys()


def record_sealer_keys(changes: Sequence[dict[str, Any]]) -> None:
    from . import ledger_store

    memory = _memory()
    return memory.record_sealer_keys(changes) if memory else ledger_store.record_sealer_keys(changes)
