"""Appending to the ledger: the one service function later capabilities call."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChainNotStarted, Conflict, DuplicateEntry, EntryTooLarge, InvalidParameter
from ..ledger.format import MAX_ENTRY_BYTES, EntryTooLargeError, make_entry
from ..observability import count
from ..store import backend
from ..store import ledger as store
from ..store.ledger_records import prepare
from ..store.port import Change

Clock = Callable[[], int]
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems
COMMIT_ATTEMPTS = 5
# Tests move the program's clock (deadlines); nothing else does.
_offset_ms = 0


def now_ms() -> int:
    return time.time_ns() // 1_000_000 + _offset_ms


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
        from .sealing import log_origin

        log_origin()  # nothing is written under another origin than genesis fixed (OriginChanged)
        _started = True


def commit(drafts: Sequence[Draft], changes: Sequence[Change] = (), clock: Clock | None = None
           ) -> list[dict[str, Any]]:
    """Commit entries and the state change they describe in one transaction.

    Either everything is written or nothing is: a failed condition in
    ``changes`` raises Conflict, a reused entry id DuplicateEntry, an entry
    over 65,535 bytes of canonical JSON EntryTooLarge. Log indices are not
    assigned here but when the entries are sealed, so appending touches no
    shared counter. ``clock`` gives each attempt its time (it may refuse one).
    """
    if not drafts:
        raise InvalidParameter("nothing to commit")
    signatures = [d.auth["sig"] for d in drafts if d.auth is not None]
    if len(set(signatures)) != len(signatures):
        # LEDGER.md: one signed request is the auth of one entry, never of two
        raise InvalidParameter("a signed request is the auth of one entry only")
    if 2 * len(drafts) + len(changes) > MAX_TRANSACTION_ITEMS:
        raise InvalidParameter(f"one commit holds at most {MAX_TRANSACTION_ITEMS} items: two per entry and one "
                               "per state write")
    _require_genesis()
    for attempt in range(COMMIT_ATTEMPTS):
        ts = (clock or now_ms)()
        try:
            entries = [make_entry(d.id or new_entry_id(ts), d.type, ts, d.actor, d.data, d.auth) for d in drafts]
        except EntryTooLargeError as exc:
            raise EntryTooLarge(f"{exc}: the ledger holds entries of at most {MAX_ENTRY_BYTES} bytes of canonical "
                                "JSON (LEDGER.md)", field="body") from exc
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from exc
        prepared = [prepare(entry) for entry in entries]
        try:
            backend.state().commit(prepared, changes)
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
