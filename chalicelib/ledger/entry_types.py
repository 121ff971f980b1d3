"""HOOK: the per-entry-type check of LEDGER.md ("Entries").

LEDGER.md: "Each entry type's documentation says which signed route makes it
and how its ``data`` follows from the request body; the project's verifier
checks that too." That table (type -> signed route, and data as a function of
``auth.body``) is NOT written yet: it belongs with docs/ENTRIES.md and is the
lead's to plug in here.

``verify_block`` calls ``entry_type_problem`` for every entry of every block,
after the entry's shape, size, keys and ``auth`` have been checked, in the
replicas and in ``covenant-verify`` alike (one function, one table). Until the
table exists every entry passes, and nothing else in the verifier assumes
anything about types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .verify import KeyBook


class EntryTypeCheck(Protocol):
    def __call__(self, entry: dict[str, Any], index: int, keys: KeyBook) -> str | None: ...


def entry_type_problem(entry: dict[str, Any], index: int, keys: KeyBook) -> str | None:
    """Why ``entry`` (at log ``index``) does not follow from its signed request as its type says, or None.

    ``entry`` has passed every other check: its ``auth``, when present, verifies
    under a key of its actor, and ``keys`` answers for every key registered at
    or before it. Return a short reason to refuse the entry; the verifier
    names the height and the entry.
    """
    return None
