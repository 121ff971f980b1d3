"""Verifying blocks one after another, as LEDGER.md says a verifier must.

The same code serves the replicas (which persist ``ChainState`` and the key
records between blocks) and the verifier command line tool (which keeps them in
memory). It is pure: the caller fetches blocks and stores the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import merkle
from .auth import auth_problem
from .canonical import CanonicalisationError
from .format import ZERO_HASH, block_hash, entry_leaf, entry_problem, header_bytes, header_problem
from .keys import KeyFormatError, public_key_from_jwk, signature_valid

# An entry that registers a key with this role, made by the system itself, adds
# a key that may seal blocks (the stamp node's key).
SEALER_ROLE = "stamp"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class KeyRecord:
    jwk: dict[str, str]
    added: int
    revoked: int | None = None
    sealer: bool = False

    def usable_at(self, index: int) -> bool:
        """Entered at or before ``index`` and not revoked before it."""
        return self.added <= index and (self.revoked is None or self.revoked >= index)


class KeyBook(Protocol):
    def get(self, kid: str) -> KeyRecord | None: ...


@dataclass(frozen=True)
class ChainState:
    """What a verifier must remember after block ``height`` to check the next one."""

    height: int
    hash: str
    log_size: int
    frontier: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> ChainState:
        return cls(height=-1, hash=ZERO_HASH, log_size=0, frontier=())

    @property
    def log_root(self) -> str:
        return merkle.frontier_root(self.frontier).hex()


@dataclass
class BlockOutcome:
    state: ChainState
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    leaves: list[bytes] = field(default_factory=list)


class VerificationError(Exception):
    """The first thing wrong with a block, naming the height and, if any, the entry."""

    def __init__(self, height: int, reason: str, index: int | None = None, entry_id: str | None = None):
        self.height = height
        self.reason = reason
        self.index = index
        self.entry_id = entry_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"height {self.height}"
        if self.index is not None:
            where += f", entry index {self.index}"
            if self.entry_id is not None:
                where += f" (id {self.entry_id})"
        return f"{where}: {self.reason}"


class _Overlay:
    """Key records added by the block under check, over the caller's key book."""

    def __init__(self, base: KeyBook):
        self.base = base
        self.changes: dict[str, KeyRecord] = {}

    def get(self, kid: str) -> KeyRecord | None:
        if kid in self.changes:
            return self.changes[kid]
        return self.base.get(kid)


class MemoryKeyBook:
    def __init__(self, records: Mapping[str, KeyRecord] | None = None):
        self.records: dict[str, KeyRecord] = dict(records or {})

    def get(self, kid: str) -> KeyRecord | None:
        return self.records.get(kid)

    def update(self, records: Mapping[str, KeyRecord]) -> None:
        self.records.update(records)


def registers_sealer_key(entry: dict[str, Any]) -> bool:
    """A key that may seal blocks enters only through the system's own registration of the stamp node."""
    data = entry["data"]
    system_made = entry["actor"] == SYSTEM_ACTOR and entry["auth"] is None
    return "jwk" in data and data.get("role") == SEALER_ROLE and system_made


def _check_entry_keys(entry: dict[str, Any], index: int, keys: _Overlay) -> str | None:
    auth = entry["auth"]
    data = entry["data"]
    if "jwk" in data:
        try:
            public_key_from_jwk(data["jwk"])
        except KeyFormatError as exc:
            return f"data.jwk: {exc}"
        kid = data["jwk"]["kid"]
        if keys.get(kid) is None:
            keys.changes[kid] = KeyRecord(jwk=data["jwk"], added=index, sealer=registers_sealer_key(entry))
    if auth is not None:
        kid = auth.get("kid") if isinstance(auth, dict) else None
        record = keys.get(kid) if isinstance(kid, str) else None
        if record is None:
            return "auth.kid names no key registered at or before this entry"
        if not record.usable_at(index):
            return "auth.kid names a key revoked before this entry"
        problem = auth_problem(auth, record.jwk)
        if problem:
            return problem
    if "revoke_kid" in data:
        kid = data["revoke_kid"]
        if not isinstance(kid, str):
            return "data.revoke_kid must be a key id"
        record = keys.get(kid)
        if record is None:
            # LEDGER.md does not require the key to be known: the revocation
            # stands, and the kid can never be used, even if registered later.
            keys.changes[kid] = KeyRecord(jwk={}, added=index, revoked=index)
        elif record.revoked is None:
            keys.changes[kid] = KeyRecord(jwk=record.jwk, added=record.added, revoked=index, sealer=record.sealer)
    return None


def verify_block(
    state: ChainState, block: Mapping[str, Any], keys: KeyBook, seen_ids: set[str] | None = None
) -> BlockOutcome:
    """Check ``block`` as the successor of ``state``; raise VerificationError at the first fault.

    ``seen_ids``, when given, holds every entry id verified so far and is
    extended with this block's ids only if the block verifies.
    """
    height = state.height + 1
    header = block.get("header")
    problem = header_problem(header)
    if problem:
        raise VerificationError(height, problem)
    assert isinstance(header, dict)
    if header["height"] != height:
        raise VerificationError(height, f"header height is {header['height']}, expected {height}")
    if header["prev"] != state.hash:
        raise VerificationError(height, "prev does not match the hash of the previous header")
    computed = block_hash(header)
    if block.get("hash") != computed:
        raise VerificationError(height, f"block hash is not SHA-256(JCS(header)) = {computed}")
    entries = block.get("entries")
    if not isinstance(entries, list) or len(entries) != header["count"]:
        raise VerificationError(height, f"header count is {header['count']} but the block has "
                                f"{len(entries) if isinstance(entries, list) else 'no'} entries")
    if header["log_size"] != state.log_size + header["count"]:
        raise VerificationError(height, f"log_size {header['log_size']} is not {state.log_size} + count")

    overlay = _Overlay(keys)
    frontier: tuple[bytes, ...] | list[bytes] = state.frontier
    leaves = []
    new_ids: set[str] = set()
    for offset, entry in enumerate(entries):
        index = state.log_size + offset
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        entry_id = entry_id if isinstance(entry_id, str) else None
        problem = entry_problem(entry)
        if problem is None and seen_ids is not None:
            if entry["id"] in seen_ids or entry["id"] in new_ids:
                problem = "entry id is not unique"
            new_ids.add(entry["id"])
        if problem is None:
            try:
                problem = _check_entry_keys(entry, index, overlay)
                leaf = entry_leaf(entry)
            except CanonicalisationError as exc:
                problem = f"entry cannot be canonicalised: {exc}"
        if problem:
            raise VerificationError(height, problem, index=index, entry_id=entry_id)
        frontier, _ = merkle.append_leaf(frontier, index, leaf)
        leaves.append(leaf)
    root = merkle.frontier_root(frontier).hex()
    if header["log_root"] != root:
        raise VerificationError(height, f"log_root does not match the recomputed root {root}")

    sealer = overlay.get(header["sealer"])
    first_index = state.log_size
    if sealer is None or not sealer.sealer:
        raise VerificationError(height, "sealer names no sealer key in the ledger")
    if height == 0:
        valid_for_block = sealer.revoked is None
    else:
        valid_for_block = sealer.added < first_index and (sealer.revoked is None or sealer.revoked >= first_index)
    if not valid_for_block:
        raise VerificationError(height, "the sealer key was not valid for this block")
    if not signature_valid(public_key_from_jwk(sealer.jwk), block.get("sig"), header_bytes(header)):
        raise VerificationError(height, "the block signature does not verify")

    if seen_ids is not None:
        seen_ids.update(new_ids)
    new_state = ChainState(height=height, hash=computed, log_size=header["log_size"], frontier=tuple(frontier))
    return BlockOutcome(state=new_state, keys=overlay.changes, leaves=leaves)
