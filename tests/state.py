"""Reading and planting the program's state in tests, through the state port (memory or DynamoDB alike)."""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.domain.records import Key, Record
from chalicelib.store import backend
from chalicelib.store.memory import MemoryStore
from chalicelib.store.port import Put, Update

R = TypeVar("R", bound=Record)


def plant(record: Record) -> Record:
    """Write a record as it is, as a bug or an attack on the tables would."""
    backend.state().apply([Put(record, if_absent=False)])
    return record


def change(current: Record, **values: Any) -> None:
    """Set fields of a stored record directly (its index follows)."""
    backend.state().apply([Update.of(current, set=values, ordered=False)])


def get(kind: type[R], key: Key) -> R:
    found = backend.state().get(kind, key)
    assert found is not None, key
    return found


def every(kind: type[R]) -> list[R]:
    """Every record of a kind (a test may read everything; the program never does)."""
    store = backend.state()
    prefix = f"{kind.KIND}#"
    if isinstance(store, MemoryStore):
        with store.lock:
            keys = [k for k in store.items if k.pk.startswith(prefix)]
        return list(store.get_many(kind, keys).values())
    from chalicelib.store.dynamo import _record, model_of

    model = model_of(kind)
    return [_record(kind, item) for item in model.scan(model.pk.startswith(prefix), consistent_read=True)]
