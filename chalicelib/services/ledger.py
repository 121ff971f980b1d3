"""Appending to the ledger: the one service function later capabilities call."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChainNotStarted, Conflict, DuplicateEntry, InvalidParameter
from ..ledger.format import make_entry
from ..observability import count
from ..store import ledger_store as store
from ..store.ledger_store import StateWrite

Clock = Callable[[], int]
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems
COMMIT_ATTEMPTS = 5
MAX_ENTRY_BYTES = 350_000  # an entry is one DynamoDB item, 400 KB at most with its attributes


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_entry_id(ts: int) -> str:
    """Time-ordered and unique: milliseconds, then 64 random bits."""
    return f"{ts:013d}-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Draft:
    """An entry to commit; the ledger assigns ``ts`` and, unless given, ``id``."""

    type: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    auth: dict[str, str] | None = None
    id: str | None = None


_started = False


def _require_genesis() -> None:
    global _started
    if not _started:
        if store.completed_height() < 0:
            raise ChainNotStarted("the ledger has no genesis block yet")
        _started = True


def commit(drafts: Sequence[Draft], writes: Sequence[StateWrite] = (), clock: Clock = now_ms) -> list[dict[str, Any]]:
    """Commit entries and the state change they describe in one DynamoDB transaction.

    Either everything is written or nothing is: a failed condition in
    ``writes`` raises Conflict, a reused entry id DuplicateEntry. Log indices
    are not assigned here but when the entries are sealed, so appending
    touches no shared counter.
    """
    if not drafts:
        raise InvalidParameter("nothing to commit")
    if 2 * len(drafts) + len(writes) > MAX_TRANSACTION_ITEMS:
        raise InvalidParameter(f"one commit holds at most {MAX_TRANSACTION_ITEMS} items: two per entry and one "
                               "per state write")
    _require_genesis()
    for attempt in range(COMMIT_ATTEMPTS):
        ts = clock()
        try:
            entries = [make_entry(d.id or new_entry_id(ts), d.type, ts, d.actor, d.data, d.auth) for d in drafts]
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from exc
        prepared = [store.prepare(entry) for entry in entries]
        if any(len(p.body.encode("utf-8")) > MAX_ENTRY_BYTES for p in prepared):
            raise InvalidParameter(f"an entry may hold at most {MAX_ENTRY_BYTES} bytes", field="body")
        try:
            store.append(prepared, writes)
        except DuplicateEntry:
            raise
        except Conflict:
            # A concurrent commit touched one of these items with a later key, or
            # DynamoDB saw two transactions meet: nothing was written, so try again
            # with a fresh time. A real refusal (a balance) fails every attempt.
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.004 * (attempt + 1)))  # let the other commit finish
            continue
        count("EntriesAppended", len(entries))
        return entries
    raise AssertionError("unreachable")  # pragma: no cover
