"""Checkpoints as covenant-verify checks them: served notes opened, and trees compared with what was verified.

A checkpoint (LEDGER.md "Checkpoints, cosignatures and tiles") is a C2SP
signed note whose body names the origin, a tree size and its root. Opening one
here sorts what can go wrong into the two kinds of failure the command line
reports: an answer that is not a signed note at all cannot be read
(``ApiError``, exit 2); a note that is not signed by the key it must be
signed by, or whose body is not a checkpoint of that origin, is a ledger
that is wrong (``LedgerFault``, exit 1). Signature lines by other keys are
ignored, except the cosignatures of the witnesses a reader trusts (below).

Comparing a newly verified tree with the newest one verified before is where
a server that rewrites history between two runs is caught: a smaller tree is a
rollback, the same size with another root a fork, and a larger tree must come
with a consistency proof (RFC 9162 2.1.4) that leads from the old root to the
new one, or it is a fork too.

Witnesses (LEDGER.md "Cosigners"): a reader who trusts some witness keys
(C2SP tlog-cosignature v1, vkey type 0x04) and a quorum K accepts a checkpoint
only if at least K distinct ones of those keys cosigned it (``quorum_problem``,
pure, shared by the command line and anything else that applies the rule). A
key given twice, or one public key under two names, is one witness, and two
lines of one key count once. A line under the name and key ID of a trusted
witness that does not verify (forged, or a cosignature of another checkpoint
pasted under this one), or that is dated more than ``MAX_FUTURE_SECONDS``
ahead of the reader's clock, refuses the checkpoint: it is not quietly
counted out. Lines of keys the reader does not trust are ignored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..ledger import merkle
from ..ledger.note import (
    COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    Verifier,
    local_origin,
    open_checkpoint,
    parse_note,
    verify_cosignature,
)
from .client import ApiError
from .state import TreeRow

_LOCAL = re.compile(r"^localhost/covenant/[0-9a-f]{16}$")


class LedgerFault(Exception):
    """The API's ledger contradicts what was verified before (or what it must be), not one block's bytes."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


def describe(verifier: Verifier) -> str:
    """A log key as its signature lines name it: ``<name>+<key ID hex>``."""
    return f"{verifier.name}+{verifier.key_id.hex()}"


def open_served(text: bytes, verifier: Verifier, what: str) -> Checkpoint:
    """The checkpoint ``what`` (a path) answered, verified with ``verifier``; ApiError or LedgerFault."""
    try:
        note = parse_note(text)
    except NoteError as exc:
        raise ApiError(f"GET {what} is not a signed note: {exc}") from exc
    if not any(s.name == verifier.name and s.key_id == verifier.key_id for s in note.signatures):
        names = sorted({f"{s.name}+{s.key_id.hex()}" for s in note.signatures})
        shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
        raise LedgerFault("bad checkpoint", f"{what} has no signature by {describe(verifier)} (it is signed by "
                              f"{shown})")
    try:
        checkpoint, _ = open_checkpoint(text, verifier)
    except NoteError as exc:
        raise LedgerFault("bad checkpoint", f"{what}: {exc}") from exc
    if checkpoint.size == 0:
        # LEDGER.md: block 0 holds at least one entry, so this log never has an empty tree to sign
        raise LedgerFault("bad checkpoint", f"{what} is of 0 entries, but every block of this log holds one or more")
    return checkpoint


def signers(text: bytes, what: str) -> set[tuple[str, bytes]]:
    """The (name, key ID) of every signature line of a note; ApiError if it is not a signed note."""
    try:
        return {(s.name, s.key_id) for s in parse_note(text).signatures}
    except NoteError as exc:
        raise ApiError(f"GET {what} is not a signed note: {exc}") from exc


def tree_of(checkpoint: Checkpoint, text: bytes | None = None) -> TreeRow:
    return TreeRow(checkpoint.size, checkpoint.root.hex(), text.decode("utf-8") if text is not None else None)


def local_origin_problem(origin: str, genesis: str | None) -> str | None:
    """LEDGER.md: a local stack's origin is derived from its genesis hash; why ``origin`` breaks that, or None."""
    if genesis is None or not _LOCAL.match(origin) or origin == local_origin(genesis):
        return None
    return (f"the API's origin {origin} is a local stack's, but the local stack of genesis {genesis} has the origin "
            f"{local_origin(genesis)}")


def proof_path(values: Any) -> list[bytes]:
    """The hashes of a served proof's ``path``; ValueError unless it is at most 64 hashes in hex."""
    if not isinstance(values, list) or len(values) > 64:
        raise ValueError("a proof path is a list of at most 64 hashes")
    out = []
    for value in values:
        if not isinstance(value, str) or len(value) != 64:
            raise ValueError("a proof path holds 64-hex hashes")
        out.append(bytes.fromhex(value))
    return out


def _named(tree: TreeRow) -> str:
    return "checkpoint" if tree.note is not None else "verified head"


def compare(old: TreeRow | None, new: TreeRow, fetch_proof: Callable[[int, int], dict[str, Any]],
            served: str = "the API's checkpoint") -> str:
    """How ``new`` follows ``old`` (the newest tree verified before); LedgerFault if it does not.

    ``fetch_proof(m, n)`` answers ``GET /proofs/consistency?first=m&second=n``;
    it is called only when the tree grew. The answer is a phrase for the
    command's one-line result.
    """
    if old is None:
        return "the first tree verified for this URL"
    what = f"the {_named(old)} of {old.size} entries (root {old.root}) verified before"
    if new.size < old.size:
        raise LedgerFault("rollback", f"{served} is of {new.size} entries (root {new.root}), but {what}")
    if new.size == old.size:
        if new.root != old.root:
            raise LedgerFault(f"fork at size {new.size}", f"{served} of {new.size} entries has root {new.root}, "
                                  f"but the {_named(old)} of {old.size} entries verified before has root {old.root}")
        return f"the same tree as the {_named(old)} verified before"
    path: list[bytes] = []
    if old.size > 0:
        proof = fetch_proof(old.size, new.size)
        if proof.get("first") != old.size or proof.get("second") != new.size:
            raise ApiError("GET /proofs/consistency answered a proof for other sizes")
        try:
            path = proof_path(proof.get("path"))
        except ValueError as exc:
            raise ApiError(f"GET /proofs/consistency: {exc}") from exc
    try:
        merkle.verify_consistency(old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), path)
    except merkle.ProofError as exc:
        raise LedgerFault("fork", f"{served} of {new.size} entries (root {new.root}) is not consistent with "
                              f"{what}: {exc}") from exc
    return f"consistent with the {_named(old)} of {old.size} entries verified before"


# --- witnesses and their quorum

MAX_FUTURE_SECONDS = 600  # a cosignature dated further ahead of the reader's clock than this is refused


def distinct_witnesses(witnesses: Iterable[Verifier]) -> list[Verifier]:
    """The witness keys, each public key once (the first name given for it): the witnesses a quorum counts.

    A cosignature/v1 message does not name its cosigner, so one key listed
    under two names is still one witness.
    """
    seen: set[bytes] = set()
    out = []
    for witness in witnesses:
        if witness.public not in seen:
            seen.add(witness.public)
            out.append(witness)
    return out


def cosigned_by(note: Note, witnesses: Iterable[Verifier], now: int,
                max_future: int = MAX_FUTURE_SECONDS) -> list[tuple[Verifier, int]]:
    """The distinct witnesses with a valid cosignature on ``note``, in the order given, each with its time.

    NoteError, naming the witness, at any line under a given witness's name
    and key ID that does not verify or is dated more than ``max_future``
    seconds after ``now``; lines of other keys are ignored.
    """
    given = list(witnesses)
    for witness in given:
        if witness.key_type != COSIGNATURE_V1:
            raise NoteError(f"the witness key {describe(witness)} is not a cosignature/v1 (type 0x04) key")
    times: dict[bytes, int] = {}
    for witness in given:
        for signature in note.signatures:
            if signature.name != witness.name or signature.key_id != witness.key_id:
                continue
            try:
                when = verify_cosignature(note.body, signature, witness)
            except NoteError as exc:
                if len(signature.blob) != 8 + 64:
                    raise NoteError(f"the cosignature line by {describe(witness)}, a trusted witness, is not an "
                                    "8-byte time and a 64-byte Ed25519 signature") from exc
                raise NoteError(f"the cosignature by {describe(witness)}, a trusted witness, does not verify "
                                "(forged, or a cosignature of another checkpoint)") from exc
            if when > now + max_future:
                raise NoteError(f"the cosignature by {describe(witness)}, a trusted witness, is dated {when} "
                                f"({_utc(when)}), {when - now} s ahead of this clock (at most {max_future} s "
                                "allowed)")
            times[witness.public] = max(when, times.get(witness.public, when))
    return [(w, times[w.public]) for w in distinct_witnesses(given) if w.public in times]


def quorum_problem(note: Note, witnesses: Iterable[Verifier], quorum: int, now: int | None = None) -> str | None:
    """Why ``note`` is not cosigned by at least ``quorum`` distinct ones of ``witnesses``, or None.

    Only the cosignatures count here: the log's own signature is
    ``open_checkpoint``'s to check. ``now`` (POSIX seconds) defaults to this
    machine's clock.
    """
    given = list(witnesses)
    distinct = distinct_witnesses(given)
    if quorum < 0 or quorum > len(distinct):
        return f"a quorum of {quorum} of {len(distinct)} distinct witnesses can never be met"
    try:
        cosigners = cosigned_by(note, given, int(time.time()) if now is None else now)
    except NoteError as exc:
        return str(exc)
    if len(cosigners) < quorum:
        return f"cosigned by {witness_count(cosigners, distinct)}, below the quorum of {quorum}"
    return None


def witness_count(cosigners: list[tuple[Verifier, int]], distinct: list[Verifier]) -> str:
    """``2 of the 3 witnesses given (a+id, b+id)``: who cosigned, for a one-line result."""
    names = ", ".join(describe(w) for w, _ in cosigners)
    return f"{len(cosigners)} of the {len(distinct)} witnesses given" + (f" ({names})" if names else "")


def _utc(seconds: int) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return "beyond this clock's calendar"
