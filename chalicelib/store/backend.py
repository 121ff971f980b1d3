"""Which store the services use: DynamoDB (the default, and on AWS) or the in-memory twin (tests)."""

from __future__ import annotations

import threading

from ..settings import get_settings
from .port import StateStore

_lock = threading.Lock()
_store: StateStore | None = None


def state() -> StateStore:
    """The configured ``StateStore`` (``store.port``), made on first use."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                if get_settings().store == "memory":
                    from .memory import MemoryStore

                    _store = MemoryStore()
                else:
                    from .dynamo import DynamoState

                    _store = DynamoState()
    return _store


def use(store: StateStore | None) -> None:
    """Install a store (tests), or None to make the configured one again on next use."""
    global _store
    with _lock:
        _store = store
