"""Verifying blocks one after another, as LEDGER.md says a verifier must.

The same ``verify_block`` serves the replicas (which persist ``ChainState``,
the key records and the signed requests already seen, in their own table) and
the verifier command line tool (which keeps them in memory, or in its state
file). It is pure: the caller fetches blocks and stores the outcome.

What the caller remembers between blocks, and hands back for the next one:

- ``ChainState``: height, hash, log size, Merkle frontier and the stamp node;
- a ``KeyBook``: every key record (``get(kid)``), with its owner;
- a ``NonceBook``: every ``(auth.kid, nonce)`` pair of a signed request that an
  earlier entry carried (``used(pairs)`` answers which of the given pairs were
  seen). ``BlockOutcome.nonces`` lists the block's new pairs to remember;
- optionally, every entry id seen so far (``seen_ids``).

Order of the checks, so that blame is never chosen by the server: the header's
form, height and hash; then its signature (block 0's sealer key is found in
block 0 itself); then ``prev``, the count, every entry in log order; the
``log_root`` last. A header whose signature fails is blamed as such, and a
``log_root`` mismatch is only reported under a header the sealer signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import entry_types, merkle
from .auth import NonceProblem, VerifiedSignatures, auth_problem, signature_nonce
from .canonical import CanonicalisationError, canonical
from .format import (
    ZERO_HASH,
    block_hash,
    entry_problem,
    entry_size_problem,
    header_bytes,
    header_problem,
    is_entry_id,
    is_key_id,
)
from .keys import KeyFormatError, public_key_from_jwk, signature_valid

SYSTEM_ACTOR = "system"
# The node id the program's genesis gives the stamp node (services.sealing).
# Only the sealing service's default: verifiers learn the stamp node from
# block 0 (the owner of the key that seals it), never from this constant.
GENESIS_STAMP_NODE = "stamp"

SignedRequest = tuple[str, str]  # (auth.kid, the nonce signature parameter of auth.base)


@dataclass(frozen=True)
class KeyRecord:
    """A key id as the ledger knows it: its JWK, the index that registered it, its revocation and owner.

    A kid revoked before it was ever registered has a record with an empty
    ``jwk`` (``registered`` is False) that keeps the revocation.
    """

    jwk: dict[str, str]
    added: int
    revoked: int | None = None
    sealer: bool = False
    owner: str = ""

    @property
    def registered(self) -> bool:
        return bool(self.jwk)

    def usable_at(self, index: int) -> bool:
        """Entered at or before ``index`` and not revoked before it."""
        return self.added <= index and (self.revoked is None or self.revoked >= index)


class KeyBook(Protocol):
    def get(self, kid: str) -> KeyRecord | None: ...


class NonceBook(Protocol):
    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        """Which of ``pairs`` an entry of an earlier block carried."""
        ...


class IdBook(Protocol):
    def __contains__(self, entry_id: object, /) -> bool: ...

    def update(self, ids: Iterable[str], /) -> None: ...


def nonce_digest(pair: SignedRequest) -> str:
    """A fixed-size name for a (kid, nonce) pair, for stores with key size limits."""
    kid, nonce = pair
    return hashlib.sha256(kid.encode("utf-8") + b"\x00" + nonce.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ChainState:
    """What a verifier must remember after block ``height`` to check the next one."""

    height: int
    hash: str
    log_size: int
    frontier: tuple[bytes, ...]
    stamp_node: str | None = None

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
    nonces: list[SignedRequest] = field(default_factory=list)


class VerificationError(Exception):
    """The first thing wrong with a block, naming the height and, if any, the entry."""

    def __init__(self, height: int, reason: str, index: int | None = None, entry_id: str | None = None):
        self.height = height
        self.reason = reason
        self.index = index
        # Only a well-formed id is repeated: a hostile one may be megabytes long.
        self.entry_id = entry_id if is_entry_id(entry_id) else None
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


class MemoryNonceBook:
    def __init__(self) -> None:
        self.pairs: set[SignedRequest] = set()

    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        return self.pairs.intersection(pairs)

    def remember(self, pairs: Iterable[SignedRequest]) -> None:
        self.pairs.update(pairs)


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def key_owner(entry: Mapping[str, Any]) -> Any:
    """LEDGER.md: a key belongs to its registering entry's ``data.node``, or, without one, to its actor."""
    data = entry["data"]
    return data["node"] if "node" in data else entry["actor"]


def registers_sealer_key(entry: Mapping[str, Any], stamp_node: str | None) -> bool:
    """LEDGER.md "Sealer keys": a key of the stamp node registered by an entry whose actor is ``system``."""
    data = entry["data"]
    return (isinstance(data.get("jwk"), dict) and entry["actor"] == SYSTEM_ACTOR
            and stamp_node is not None and key_owner(entry) == stamp_node)


def _genesis_sealer(sealer: str, entries: Any) -> tuple[dict[str, str], str]:
    """The JWK that block 0 registers for the key sealing it, and that key's owner (the stamp node)."""
    for entry in entries if isinstance(entries, list) else []:
        data = entry.get("data") if isinstance(entry, dict) else None
        jwk = data.get("jwk") if isinstance(data, dict) else None
        if not isinstance(jwk, dict) or jwk.get("kid") != sealer:
            continue
        if entry.get("actor") != SYSTEM_ACTOR:
            raise VerificationError(0, "the key sealing block 0 is not registered by the system")
        owner = key_owner(entry)
        if not isinstance(owner, str) or not owner:
            raise VerificationError(0, "the key sealing block 0 names no owner (data.node)")
        try:
            public_key_from_jwk(jwk)
        except KeyFormatError as exc:
            raise VerificationError(0, f"the key sealing block 0 is malformed: {exc}") from exc
        return jwk, owner
    raise VerificationError(0, "block 0 does not register the key that seals it")


def _signed_request(entry: Any) -> SignedRequest | None:
    """(auth.kid, nonce) of an entry whose auth has the form to carry them; None otherwise."""
    auth = entry.get("auth") if isinstance(entry, dict) else None
    if not isinstance(auth, dict) or not is_key_id(auth.get("kid")) or not isinstance(auth.get("base"), str):
        return None
    try:
        return auth["kid"], signature_nonce(auth["base"])
    except NonceProblem:
        return None


class _EntryChecker:
    """The key, auth and replay rules of LEDGER.md "Entries", entry after entry of one block."""

    def __init__(self, keys: _Overlay, stamp_node: str, used: AbstractSet[SignedRequest],
                 verified: VerifiedSignatures = ()):
        self.keys = keys
        self.stamp_node = stamp_node
        self.used = used
        self.verified = verified
        self.new_pairs: list[SignedRequest] = []
        self._in_block: set[SignedRequest] = set()

    def problem(self, entry: dict[str, Any], index: int, request: SignedRequest | None) -> str | None:
        """``request``: the entry's (kid, nonce) if already parsed."""
        return (self._registration(entry, index) or self._auth(entry, index, request)
                or self._revocation(entry, index) or entry_types.entry_type_problem(entry, index, self.keys))

    def _registration(self, entry: dict[str, Any], index: int) -> str | None:
        data, actor = entry["data"], entry["actor"]
        if "jwk" not in data:
            return None
        try:
            public_key_from_jwk(data["jwk"])
        except KeyFormatError as exc:
            return f"data.jwk: {exc}"
        owner = key_owner(entry)
        if not isinstance(owner, str) or not owner:
            return "data.node of an entry that registers a key must be a node id"
        if entry["auth"] is not None and owner != actor:
            return (f"an entry with an auth registers a key only for its own actor, not for node "
                    f"{_shown(owner)}")
        kid = data["jwk"]["kid"]
        existing = self.keys.get(kid)
        if existing is not None and existing.registered:
            return f"key id {kid} is registered again (it entered the ledger at entry {existing.added})"
        sealer = actor == SYSTEM_ACTOR and owner == self.stamp_node
        self.keys.changes[kid] = KeyRecord(jwk=data["jwk"], added=index, sealer=sealer, owner=owner,
                                           revoked=existing.revoked if existing is not None else None)
        return None

    def _auth(self, entry: dict[str, Any], index: int, request: SignedRequest | None) -> str | None:
        auth = entry["auth"]
        if auth is None:
            return None
        kid = auth.get("kid")
        if not is_key_id(kid):
            return "auth.kid is not a key id"
        record = self.keys.get(kid)
        if record is None or not record.registered or record.added > index:
            return "auth.kid names no key registered at or before this entry"
        if not record.usable_at(index):
            return "auth.kid names a key revoked before this entry"
        if record.owner != entry["actor"]:
            return (f"auth.kid names a key of node {_shown(record.owner)}, not of the entry's actor "
                    f"{_shown(entry['actor'])}")
        problem = auth_problem(auth, record.jwk, self.verified)
        if problem:
            return problem
        try:
            pair = request if request is not None else (kid, signature_nonce(auth["base"]))
        except NonceProblem as exc:
            return str(exc)
        if pair in self.used or pair in self._in_block:
            return "auth repeats the kid and nonce of an earlier entry: a signed request is replayed"
        self._in_block.add(pair)
        self.new_pairs.append(pair)
        return None

    def _revocation(self, entry: dict[str, Any], index: int) -> str | None:
        data = entry["data"]
        if "revoke_kid" not in data:
            return None
        kid = data["revoke_kid"]
        if not is_key_id(kid):
            return "data.revoke_kid must be a key id (32 lower-case hex characters)"
        record = self.keys.get(kid)
        if record is None:
            # LEDGER.md does not require the key to be known: the revocation
            # stands, and the kid can never be used, even if registered later.
            self.keys.changes[kid] = KeyRecord(jwk={}, added=index, revoked=index)
        elif record.revoked is None:
            self.keys.changes[kid] = KeyRecord(jwk=record.jwk, added=record.added, revoked=index,
                                               sealer=record.sealer, owner=record.owner)
        return None


def _sealer_jwk(height: int, header: dict[str, Any], entries: Any, state: ChainState,
                keys: KeyBook) -> tuple[dict[str, str], str]:
    """The key that must have signed this header, and the stamp node."""
    if height == 0:
        return _genesis_sealer(header["sealer"], entries)
    if state.stamp_node is None:
        raise VerificationError(height, "the verified state before this block does not name the stamp node")
    record = keys.get(header["sealer"])
    if record is None or not record.registered or not record.sealer:
        raise VerificationError(height, "sealer names no sealer key in the ledger")
    first_index = state.log_size
    if not (record.added < first_index and (record.revoked is None or record.revoked >= first_index)):
        raise VerificationError(height, "the sealer key was not valid for this block")
    return record.jwk, state.stamp_node


def verify_block(state: ChainState, block: Any, keys: KeyBook, nonces: NonceBook,
                 seen_ids: IdBook | None = None, verified: VerifiedSignatures = ()) -> BlockOutcome:
    """Check ``block`` as the successor of ``state``; raise VerificationError at the first fault.

    ``nonces`` answers which signed requests earlier entries carried; the
    block's own go back in ``BlockOutcome.nonces`` for the caller to remember
    with the rest of the outcome. ``seen_ids``, when given, holds every entry id
    verified so far and is extended with this block's ids only if the block
    verifies. ``verified`` may hold auth signatures found valid ahead of time
    (``auth.auth_problem``): the verifier checks them on its other cores.
    """
    height = state.height + 1
    if not isinstance(block, Mapping):
        raise VerificationError(height, "a block is a JSON object")
    header = block.get("header")
    problem = header_problem(header)
    if problem:
        raise VerificationError(height, problem)
    assert isinstance(header, dict)
    if header["height"] != height:
        raise VerificationError(height, f"header height is {header['height']}, expected {height}")
    computed = block_hash(header)
    if block.get("hash") != computed:
        raise VerificationError(height, f"block hash is not SHA-256(JCS(header)) = {computed}")
    entries = block.get("entries")
    jwk, stamp_node = _sealer_jwk(height, header, entries, state, keys)
    if not signature_valid(public_key_from_jwk(jwk), block.get("sig"), header_bytes(header)):
        raise VerificationError(height, "the block signature does not verify")
    # From here on the header is the sealer's word.
    if header["prev"] != state.hash:
        raise VerificationError(height, "prev does not match the hash of the previous header")
    if not isinstance(entries, list) or len(entries) != header["count"]:
        raise VerificationError(height, f"header count is {header['count']} but the block has "
                                f"{len(entries) if isinstance(entries, list) else 'no'} entries")
    if header["log_size"] != state.log_size + header["count"]:
        raise VerificationError(height, f"log_size {header['log_size']} is not {state.log_size} + count")

    overlay = _Overlay(keys)
    requests = [_signed_request(e) for e in entries]
    asked = {r for r in requests if r is not None}
    checker = _EntryChecker(overlay, stamp_node, nonces.used(asked) if asked else frozenset(), verified)
    frontier: tuple[bytes, ...] | list[bytes] = state.frontier
    leaves = []
    new_ids: set[str] = set()
    for offset, entry in enumerate(entries):
        index = state.log_size + offset
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        problem = entry_problem(entry)
        if problem is None and seen_ids is not None:
            if entry["id"] in seen_ids or entry["id"] in new_ids:
                problem = "entry id is not unique"
            new_ids.add(entry["id"])
        if problem is None:
            try:
                raw = canonical(entry)
                problem = entry_size_problem(raw) or checker.problem(entry, index, requests[offset])
            except CanonicalisationError as exc:
                problem = f"entry cannot be canonicalised: {exc}"
            except RecursionError:
                problem = "entry cannot be canonicalised: it is nested too deeply"
        if problem:
            raise VerificationError(height, problem, index=index, entry_id=entry_id)
        leaf = merkle.leaf_hash(raw)
        frontier, _ = merkle.append_leaf(frontier, index, leaf)
        leaves.append(leaf)
    root = merkle.frontier_root(frontier).hex()
    if header["log_root"] != root:
        raise VerificationError(height, f"log_root does not match the recomputed root {root}")
    if height == 0:
        sealer = overlay.changes.get(header["sealer"])
        if sealer is None or not sealer.sealer:
            raise VerificationError(0, "the key sealing block 0 is not a sealer key")
        if sealer.revoked is not None:
            raise VerificationError(0, "the key sealing block 0 is revoked within it")

    if seen_ids is not None:
        seen_ids.update(new_ids)
    new_state = ChainState(height=height, hash=computed, log_size=header["log_size"], frontier=tuple(frontier),
                           stamp_node=stamp_node)
    return BlockOutcome(state=new_state, keys=overlay.changes, leaves=leaves, nonces=checker.new_pairs)
