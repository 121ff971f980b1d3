"""A consumer's own sub-chain: ``covenant subchain run | status | verify | retire``, and ``--via-subchain``.

It runs the very core the operator's sub-chains run (``services.replication``):
each block is fetched through the public API, verified with the one pure
verifier (``ledger.verify.verify_block``) against this machine's own copy,
kept in a SQLite file of the profile (``subchain_store``), and the checkpoint
of the verified head is cosigned with the sub-chain's own key (made here,
``subchain-key.pem``, used for nothing else) and sent to the log. Nothing the
operator says is taken on trust: a block that does not verify, or that
contradicts the copy (a fork, a rollback), is quarantined with its reason and
never cosigned.

The core keeps a cosignature the log refuses and sends it again (right for a
registration not yet sealed); this module learns the log's refusal through the
``LogSource`` it hands the core (``RecordingLog``), keeps the last one in the
copy's ``meta`` table, and acts on those that are for good: a retired
sub-chain's key is moved aside (``subchain-key.retired-<time>.pem``) so that
the next ``run`` makes and registers a new one. The copy itself is the log's,
not the key's, and is kept; the witness memory (the last cosignature) counts
only for the key that signed it (``KeyedStore``).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import BlockUnavailable, CosignatureRefused, CovenantError
from ..ledger.cosigners import subchain_name
from ..ledger.keys import KeyFormatError, private_key_from_pem, private_key_to_pem, raw_public
from ..ledger.note import NoteError, parse_signature_line, parse_vkey
from ..ledger.verify import ChainState, MemoryKeyBook, MemoryNonceBook, VerificationError, verify_block
from ..services.replication import Witness, Witnessed, cosign_head, receive_block
from ..verifier.client import ApiError
from ..verifier.log_source import HttpLog
from .base import Unconfirmed
from .subchain_store import SqliteSubchainStore

KEY_FILE = "subchain-key.pem"
STORE_FILE = "subchain.sqlite3"
T = TypeVar("T")
# meta: {"api", "subchain", "entry", "vkey", "node", "time"} once the log took (or listed) the registration; with
# "retired" (POSIX time) and "key_moved_to" once the log retired it
REGISTRATION = "registration"
REFUSAL = "refusal"  # meta: {"code", "message", "size", "subchain", "time"}: the log's last refusal of a cosignature


class SubchainError(Exception):
    """The sub-chain cannot go on (no key, a file it cannot read, a registration refused)."""


class SubchainRefused(SubchainError):
    """The log refuses this sub-chain for good (retired, a registration it lost, a key another node registered)."""


class RegistrationPending(SubchainError):
    """The log says the key is registered but does not list it yet: asked again on the next pass."""


Post = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@contextmanager
def quiet_core() -> Iterator[None]:
    """The core logs for Lambda (JSON lines on stdout) and counts metrics: a command line reports on its own."""
    import logging

    from ..services import replication

    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logger: Any = replication.core_logger()  # Powertools' where it is installed, the standard library's elsewhere
    level = logger.level if isinstance(logger, logging.Logger) else logger.log_level
    logger.setLevel("CRITICAL")
    try:
        yield
    finally:
        logger.setLevel(level)


def load_or_make_key(folder: Path, node_key: Path | None = None, make: bool = True
                     ) -> tuple[Ed25519PrivateKey | None, bool]:
    """The sub-chain's key in ``folder`` (made there, 0600, if absent and ``make``); never the node's key."""
    path = folder / KEY_FILE
    if path.exists():
        try:
            key = private_key_from_pem(path.read_bytes())
        except KeyFormatError as exc:
            raise SubchainError(f"{path}: {exc}") from exc
        made = False
    elif not make:
        return None, False
    else:
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(private_key_to_pem(key))
        made = True
    if node_key is not None and node_key.exists():
        try:
            node = private_key_from_pem(node_key.read_bytes())
        except KeyFormatError:
            node = None
        if node is not None and raw_public(node.public_key()) == raw_public(key.public_key()):
            raise SubchainError(f"{path} is the node's own key; a sub-chain's key is used for nothing else")
    return key, made


def line_signer(line: str) -> str | None:
    """The key name a cosignature line is signed under (``<origin>/subchain/<id>``), or None."""
    try:
        return parse_signature_line(line).name
    except NoteError:
        return None


class KeyedStore(SqliteSubchainStore):
    """The copy, whose witness memory counts only for the key that signed it.

    The blocks, entries and head are the log's and stay valid whatever key
    cosigns them; the last cosignature is the key's: a new key (after a
    retirement) starts with no memory, so it cosigns the head it holds and sends
    that, and never resends the old key's line.
    """

    def __init__(self, path: str | Path, subchain: str, label: str | None = None):
        super().__init__(path, label)
        self.subchain = subchain

    def _own(self, memory: Witnessed) -> bool:
        return memory.origin is None or line_signer(memory.line) == subchain_name(memory.origin, self.subchain)

    def witnessed(self) -> Witnessed:
        memory = super().witnessed()
        return memory if self._own(memory) else Witnessed()

    def record_cosigned(self, previous: Witnessed, new: Witnessed) -> bool:
        if previous.origin is None:
            kept = super().witnessed()
            if not self._own(kept):
                previous = kept  # the other key's memory is replaced, still only over the one that was read
        return super().record_cosigned(previous, new)


class RecordingLog:
    """The ``LogSource`` handed to the core: it records the log's refusal of a cosignature, then re-raises.

    The core keeps a refused cosignature and sends it again (a registration
    not yet sealed is the usual reason); what the log said is kept in the
    copy's meta (``refusal``), and cleared once the log takes a cosignature.
    """

    def __init__(self, log: HttpLog, store: SqliteSubchainStore, subchain: str, clock: Callable[[], int]):
        self.log, self.store, self.subchain, self.clock = log, store, subchain, clock
        self.refused: dict[str, Any] | None = None  # this pass's refusal
        self.taken = False

    def block(self, height: int) -> dict[str, Any] | None:
        return self.log.block(height)

    def checkpoint(self, height: int) -> str | None:
        return self.log.checkpoint(height)

    def submit(self, size: int, line: str) -> None:
        try:
            self.log.submit(size, line)
        except CosignatureRefused as exc:
            self.refused = {"code": exc.code, "message": str(exc)[:500], "size": size, "subchain": self.subchain,
                            "time": self.clock() // 1000}
            self.store.set_meta(REFUSAL, json.dumps(self.refused))
            raise
        self.refused, self.taken = None, True
        self.store.delete_meta(REFUSAL)


def _stamp(seconds: int) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def cosigned_time(line: str) -> int | None:
    """The POSIX time a C2SP cosignature line states (its 8 bytes after the key ID)."""
    try:
        blob = parse_signature_line(line).blob
    except NoteError:
        return None
    return int.from_bytes(blob[:8], "big") if len(blob) == 72 else None


@dataclass
class FollowReport:
    """What one pass over the log did."""

    log_height: int = -1
    applied: list[int] = field(default_factory=list)
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    rollback: str = ""
    cosigned: Witnessed | None = None
    not_cosigned: str = ""
    refused: dict[str, Any] | None = None  # the log's refusal of this pass's cosignature (code, message, ...)

    @property
    def faults(self) -> bool:
        return bool(self.quarantined or self.rollback)


class ConsumerSubchain:
    """One profile's sub-chain: its key, its SQLite copy, and the log it follows over HTTP."""

    def __init__(self, folder: Path, api_url: str, label: str = "", node_key: Path | None = None,
                 clock: Callable[[], int] | None = None, make_key: bool = True):
        self.folder = folder
        self.key, self.made_key = load_or_make_key(folder, node_key, make_key)
        self._witness = None if self.key is None else Witness(self.key)
        own = "" if self._witness is None else self._witness.id
        self.store = KeyedStore(folder / STORE_FILE, own, label=label or folder.name)
        self.api_url = api_url.rstrip("/")
        try:
            self.log = HttpLog(self.api_url)
        except ValueError as exc:
            raise SubchainError(str(exc)) from exc
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.source = RecordingLog(self.log, self.store, own, self.clock)  # what the core cosigns through

    def close(self) -> None:
        self.store.close()
        self.log.api.close()

    @property
    def has_key(self) -> bool:
        return self._witness is not None

    @property
    def witness(self) -> Witness:
        if self._witness is None:
            raise SubchainError(f"there is no sub-chain key in {self.folder} (`covenant subchain run` makes one)")
        return self._witness

    @property
    def public_key(self) -> str:
        return base64.b64encode(self.witness.public).decode("ascii")

    # --- registration

    def last_registration(self) -> dict[str, Any] | None:
        """The registration the copy recorded last, of this key or of a retired one."""
        text = self.store.meta(REGISTRATION)
        record = json.loads(text) if text else None
        return record if isinstance(record, dict) else None

    def registration(self) -> dict[str, Any] | None:
        """This key's registration with this log, as recorded in the copy (retired or not)."""
        record = self.last_registration()
        if (record is not None and self.has_key and record.get("api") == self.api_url
                and record.get("subchain") == self.witness.id):
            return record
        return None

    def origin(self) -> str | None:
        """The log's origin as this key's registration names it (``<origin>/subchain/<id>``): the only one it
        cosigns under. None before it is registered (then the genesis checkpoint's, in the core)."""
        record = self.registration()
        text = record.get("vkey") if record is not None else None
        if not isinstance(text, str):
            return None
        try:
            verifier = parse_vkey(text)
        except NoteError:
            return None
        if verifier.public != self.witness.public or "/subchain/" not in verifier.name:
            return None
        return verifier.name.rsplit("/subchain/", 1)[0]

    def refusal(self) -> dict[str, Any] | None:
        """The log's last refusal of a cosignature (cleared once it takes one)."""
        text = self.store.meta(REFUSAL)
        record = json.loads(text) if text else None
        return record if isinstance(record, dict) else None

    def listed(self) -> dict[str, dict[str, Any]]:
        """``GET /cosigners`` by sub-chain id: the sub-chains whose registration is in the published tree."""
        answer = self.log.api.get("/cosigners")
        members = answer.get("cosigners")
        if not isinstance(members, list):
            raise ApiError("GET /cosigners has no list of cosigners")
        return {str(c["id"]): c for c in members if isinstance(c, dict) and "id" in c}

    def ensure_registered(self, post: Post, node: str | None = None) -> tuple[bool, dict[str, Any]]:
        """Register the sub-chain's key with a request the node signs, unless it already was; (new, record).

        ``subchain_exists`` is taken only once ``GET /cosigners`` lists the
        sub-chain as ``node``'s: another node's is SubchainRefused, one not
        listed yet is RegistrationPending (nothing recorded; asked again).
        A registration the copy knows as retired is SubchainRefused too.
        """
        known = self.registration()
        if known is not None:
            if known.get("retired") is not None:
                raise SubchainRefused(self.retired_message(self.put_key_aside(known)))
            return False, known
        status, answer = post("/subchains", {"public_key": self.public_key})
        code = (answer.get("error") or {}).get("code") if isinstance(answer, dict) else None
        now = self.clock() // 1000
        if status == 201:
            record = {"api": self.api_url, "subchain": answer.get("subchain"), "entry": answer.get("entry"),
                      "vkey": answer.get("vkey"), "node": answer.get("node"), "time": now}
            if record["subchain"] != self.witness.id:
                raise SubchainError(f"the log registered {record['subchain']!r}, not this key's {self.witness.id}")
        elif status == 409 and code == "subchain_exists":
            record = self._confirm_existing(node, now)
        else:
            message = (answer.get("error") or {}).get("message") if isinstance(answer, dict) else answer
            raise SubchainError(f"the log refused to register the sub-chain ({status} {code}): {message}")
        self.store.set_meta(REGISTRATION, json.dumps(record))
        return status == 201, record

    def _confirm_existing(self, node: str | None, now: int) -> dict[str, Any]:
        """The record of a key the log says is registered, once its listing shows it is ``node``'s."""
        sub_id = self.witness.id
        try:
            listed = self.listed().get(sub_id)
        except ApiError as exc:
            raise RegistrationPending(f"the log says sub-chain {sub_id} is registered, but GET /cosigners cannot "
                                      f"be read to confirm it is yours ({exc}); asked again on the next pass") from exc
        if listed is None:
            raise RegistrationPending(f"the log says sub-chain {sub_id} is registered, but does not list it yet "
                                      "(its registration is not sealed); asked again on the next pass")
        if not node:
            raise SubchainError(f"sub-chain {sub_id} is registered, and this profile does not know its node to "
                                "confirm it is yours (register the profile first)")
        owner = listed.get("node")
        if owner != node:
            raise SubchainRefused(f"this key is registered by node {owner}, not by you ({node}): move "
                                  f"{self.folder / KEY_FILE} aside, and run again to make and register a new one")
        record = {"api": self.api_url, "subchain": sub_id, "entry": None, "vkey": listed.get("vkey"), "node": owner,
                  "time": now}
        if listed.get("retired") is not None:
            self.store.set_meta(REGISTRATION, json.dumps(record))
            raise SubchainRefused(self.retired_message(self.put_key_aside(record)))
        return record

    # --- retirement

    def put_key_aside(self, record: dict[str, Any] | None = None) -> Path | None:
        """Move the retired key to ``subchain-key.retired-<time>.pem`` and mark its registration retired.

        The copy stays (it is the log's); the next ``run`` makes a new key. The
        path it moved the key to (None if the key file was gone already).
        """
        now = self.clock() // 1000
        path, target = self.folder / KEY_FILE, None
        if path.exists():
            target = self.folder / f"subchain-key.retired-{_stamp(now)}.pem"
            n = 1
            while target.exists():
                target, n = self.folder / f"subchain-key.retired-{_stamp(now)}-{n}.pem", n + 1
            os.rename(path, target)
        record = dict(record or self.registration() or {"api": self.api_url, "subchain": self.witness.id})
        record.setdefault("retired", now)
        if target is not None:
            record["key_moved_to"] = str(target)
        self.store.set_meta(REGISTRATION, json.dumps(record))
        return target

    def retired_message(self, moved: Path | None) -> str:
        where = f"its key is moved aside to {moved.name}" if moved is not None else "its key is gone already"
        return (f"this sub-chain {self.witness.id} is retired by the log; {where}; run again to make and register "
                "a new one")

    def registered_in_copy(self) -> int | None:
        """The index of this sub-chain's ``subchain.registered`` entry in the verified copy, or None."""
        for index, _, entry in self.store.entries_of_type("subchain.registered"):
            data = entry.get("data")
            cosigner = data.get("cosigner") if isinstance(data, dict) else None
            if isinstance(cosigner, dict) and cosigner.get("id") == self.witness.id:
                return index
        return None

    def refusal_problem(self, report: FollowReport) -> str | None:
        """Why ``run`` stops after the log's refusal in ``report`` (and what it did about it), or None to go on.

        ``cosigner_retired``: the key is moved aside. ``cosigner_unknown``: the
        usual first pass while the registration is not in a published tree; but
        a registration this verified copy holds that ``GET /cosigners`` does not
        list is one the log forgot.
        """
        code = (report.refused or {}).get("code")
        if code == "cosigner_retired":
            return self.retired_message(self.put_key_aside())
        if code == "cosigner_unknown" and self.registration() is not None:
            index = self.registered_in_copy()
            if index is None:
                return None  # not sealed yet: the next block takes it
            try:
                listed = self.listed()
            except ApiError:
                return None  # cannot tell: asked again with the next cosignature
            if self.witness.id not in listed:
                return (f"the log does not know sub-chain {self.witness.id} (GET /cosigners lists no such "
                        f"sub-chain), though its registration is entry {index} of this verified copy: the log "
                        f"forgot or never took the registration ({(report.refused or {}).get('message')})")
        return None

    # --- following the log

    def follow(self, stop: Callable[[], bool] = lambda: False, cosign: bool = True) -> FollowReport:
        """Catch up with the log once: every missing block verified and kept, then the head cosigned and sent."""
        report = FollowReport()
        try:
            head = self.log.api.head()
        except ApiError as exc:
            raise BlockUnavailable(f"{self.api_url} cannot be read: {exc}") from exc
        header = head.get("header")
        log_height = header.get("height") if isinstance(header, dict) else None
        if type(log_height) is not int:
            raise BlockUnavailable("GET /chain/head has no header height")
        report.log_height = log_height
        state = self.store.state()
        if log_height <= state.height:
            # the log's head must be a block of this copy: another hash there is a fork
            if receive_block(self.store, {**head, "kind": "block"}, self.log, None, self.clock) == "quarantined":
                report.quarantined.append((log_height, self.store.quarantined().reason))
            elif log_height < state.height:
                report.rollback = (f"the log's head is block {log_height}, but this copy holds blocks up to "
                                   f"{state.height}: the log went back")
        for height in range(state.height + 1, log_height + 1):
            if stop():
                break
            block = self.log.block(height)
            if block is None:
                break
            outcome = receive_block(self.store, {**block, "kind": "block"}, self.log, None, self.clock)
            if outcome == "quarantined":
                report.quarantined.append((height, self.store.quarantined().reason))
                break
            if self.store.state().height != height:
                break  # the log answered another block than the one asked for: the next pass asks again
            report.applied.append(height)
        if cosign and not stop():
            self._cosign(report)
        return report

    def _cosign(self, report: FollowReport) -> None:
        state = self.store.state()
        self.source.refused = None
        try:
            memory = cosign_head(self.store, self.source, self.witness, clock=self.clock, origin=self.origin())
        except BlockUnavailable as exc:
            report.not_cosigned = str(exc)
            return
        report.cosigned = memory
        report.refused = self.source.refused
        refused: dict[str, Any] = report.refused or {}
        code, message = refused.get("code"), refused.get("message")
        if memory.size < state.log_size:
            status, reason, _ = self.store.status()
            report.not_cosigned = reason if status == "checkpoint_refused" else "the checkpoint was not cosigned"
        elif not memory.submitted and code not in (None, "cosigner_unknown"):
            report.not_cosigned = f"the log refused the cosignature ({code}): {message}"
        elif not memory.submitted:
            report.not_cosigned = ("cosigned, but the log has not taken the cosignature yet (it takes it once the "
                                   "sub-chain's registration is in a tree it cosigns; it is sent again)")

    def wait_for(self, find: Callable[[], T | None], timeout: float, what: str,
                 sleep: Callable[[float], object] = time.sleep) -> tuple[T, FollowReport]:
        """Follow the log until ``find`` finds something in the copy, then cosign the head that holds it.

        Unconfirmed if nothing is found within ``timeout`` seconds, or the log's blocks are refused.
        """
        deadline = time.monotonic() + timeout
        while True:
            report = self.follow(cosign=False)
            if report.faults:
                problem = report.rollback or "; ".join(f"block {h}: {r}" for h, r in report.quarantined)
                raise Unconfirmed(f"your sub-chain refused the log's blocks: {problem}")
            found = find()
            if found is not None:
                self._cosign(report)
                return found, report
            if time.monotonic() >= deadline:
                raise Unconfirmed(f"{what} did not appear in your sub-chain's verified copy within {timeout:g} s "
                                  "(the log has not sealed it yet, or withholds it)")
            sleep(1.0)

    def wait_for_entry(self, entry_id: str, timeout: float, sleep: Callable[[float], object] = time.sleep
                       ) -> tuple[tuple[int, int, dict[str, Any]], FollowReport]:
        return self.wait_for(lambda: self.store.entry(entry_id), timeout, f"entry {entry_id}", sleep)

    # --- reading it back

    def status(self) -> dict[str, Any]:
        state = self.store.state()
        memory = self.store.witnessed()
        kept, reason, ts = self.store.status()
        quarantined = self.store.quarantined()
        registration = self.registration()
        last = self.last_registration()
        retired = None
        if (last is not None and last.get("retired") is not None and last.get("api") == self.api_url
                and (not self.has_key or last.get("subchain") == self.witness.id)):
            retired = {"subchain": last.get("subchain"), "time": last.get("retired"),
                       "key_moved_to": last.get("key_moved_to")}
        answer: dict[str, Any] = {
            "subchain": self.witness.id if self.has_key else None,
            "public_key": self.public_key if self.has_key else None,
            "key": str(self.folder / KEY_FILE) if self.has_key else None, "api": self.api_url,
            "registered": registration is not None and retired is None, "retired": retired,
            "refusal": self.refusal(), "file": str(self.store.path),
            "height": state.height, "hash": state.hash if state.height >= 0 else None, "log_size": state.log_size,
            "root": state.log_root if state.height >= 0 else None, "status": kept,
            "cosigned": None if memory.origin is None else {
                "size": memory.size, "root": memory.root, "time": cosigned_time(memory.line),
                "sent": memory.submitted},
            "quarantined": quarantined.count,
            "newest_quarantine": None if not quarantined.count else {
                "height": quarantined.height, "hash": quarantined.hash, "reason": quarantined.reason},
        }
        if kept == "checkpoint_refused":
            answer["alarm"] = {"reason": reason, "time": ts // 1000}
        try:
            text = self.log.api.checkpoint()
            lines = (text or b"").decode("utf-8", "replace").split("\n")
            size = int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None
            if size is None:
                raise ApiError("GET /checkpoint is not a checkpoint")
            answer["log"] = {"reachable": True, "size": size, "lag": max(0, size - state.log_size)}
        except (ApiError, ValueError) as exc:
            answer["log"] = {"reachable": False, "error": str(exc)[:300]}
        return answer

    def verify_offline(self) -> dict[str, Any]:
        """Re-verify the whole copy from an empty state, with no network: the height and root it reaches."""
        head = self.store.state()
        state = ChainState.empty()
        keys, nonces, seen = MemoryKeyBook(), MemoryNonceBook(), set[str]()
        for height in range(head.height + 1):
            block = self.store.block(height)
            if block is None:
                return {"ok": False, "height": state.height, "fault": f"block {height} is missing from the copy"}
            try:
                outcome = verify_block(state, block, keys, nonces, seen)
            except VerificationError as exc:
                return {"ok": False, "height": state.height, "fault": str(exc)}
            keys.update(outcome.keys)
            nonces.remember(outcome.nonces)
            state = outcome.state
        if (state.height, state.hash, state.log_size) != (head.height, head.hash, head.log_size):
            return {"ok": False, "height": state.height,
                    "fault": f"the copy's head says block {head.height} ({head.hash}), but its blocks lead to "
                             f"block {state.height} ({state.hash})"}
        extra = self.store.entries(state.log_size, state.log_size)
        if extra:
            return {"ok": False, "height": state.height, "fault": f"the copy holds entries beyond {state.log_size}"}
        memory = self.store.witnessed()
        if memory.origin is not None:
            cosigned = [h for h in range(state.height + 1)
                        if (self.store.header(h) or {}).get("log_size") == memory.size]
            if not cosigned or (self.store.header(cosigned[0]) or {}).get("log_root") != memory.root:
                return {"ok": False, "height": state.height,
                        "fault": f"the last cosigned tree ({memory.size} entries, root {memory.root}) is not a "
                                 "tree of the verified copy"}
        return {"ok": True, "height": state.height, "hash": state.hash if state.height >= 0 else None,
                "log_size": state.log_size, "root": state.log_root if state.height >= 0 else None}


def run_loop(sub: ConsumerSubchain, interval: float, once: bool, say: Callable[[str], None],
             warn: Callable[[str], None], stop: threading.Event, register: Callable[[], bool] = lambda: True) -> int:
    """``covenant subchain run``: follow, verify, keep, cosign.

    0 caught up; 1 a block refused, or the log refuses the sub-chain for good
    (retired: its key moved aside; a registration the log lost; a key another
    node registered); 2 unreachable. ``register`` answers whether the
    registration is confirmed (asked each pass until it is): nothing is
    cosigned before.
    """
    last = ""
    registered = False
    while True:
        try:
            registered = registered or register()
            report = sub.follow(stop.is_set, cosign=registered)
        except SubchainRefused as exc:
            warn(f"covenant: {exc}")
            return 1
        except (BlockUnavailable, ApiError) as exc:
            if once:
                warn(f"covenant: {exc}")
                return 2
            warn(f"covenant: {exc} (trying again in {interval:g} s)")
            if stop.wait(interval):
                return 0
            continue
        except CovenantError as exc:  # the copy's own storage
            warn(f"covenant: {exc}")
            return 2
        for height, reason in report.quarantined:
            warn(f"QUARANTINED: block {height}: {reason} (kept in {sub.store.path}; never cosigned)")
        if report.rollback:
            warn(f"ROLLBACK: {report.rollback}")
        if not registered:
            report.not_cosigned = "nothing is cosigned before the registration is confirmed"
        try:
            problem = sub.refusal_problem(report)
        except (CovenantError, OSError) as exc:
            warn(f"covenant: {exc}")
            return 2
        line = _progress(sub, report)
        if line != last or once:
            say(line)
            last = line
        if problem is not None:
            warn(f"covenant: {problem}")
            return 1
        if once:
            return 1 if report.faults else 0
        if stop.wait(interval):
            return 0


def _progress(sub: ConsumerSubchain, report: FollowReport) -> str:
    state = sub.store.state()
    done = (f"verified blocks {report.applied[0]}..{report.applied[-1]}; " if report.applied else "")
    memory = report.cosigned or sub.store.witnessed()
    cosigned = (f"cosigned {memory.size} entries ({'sent' if memory.submitted else 'not taken yet'})"
                if memory.origin is not None else "nothing cosigned yet")
    root = state.log_root if state.height >= 0 else "-"
    text = (f"{done}height {state.height}, {state.log_size} entries, root {root}; "
            f"the log's head is block {report.log_height}; {cosigned}")
    if report.not_cosigned:
        text += f" ({report.not_cosigned})"
    return text
