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

from ..errors import BlockUnavailable, CovenantError
from ..ledger.keys import KeyFormatError, private_key_from_pem, private_key_to_pem, raw_public
from ..ledger.note import NoteError, parse_signature_line
from ..ledger.verify import ChainState, MemoryKeyBook, MemoryNonceBook, VerificationError, verify_block
from ..services.replication import Witness, Witnessed, cosign_head, receive_block
from ..verifier.client import ApiError
from ..verifier.log_source import HttpLog
from .cli import Unconfirmed
from .subchain_store import SqliteSubchainStore

KEY_FILE = "subchain-key.pem"
STORE_FILE = "subchain.sqlite3"
T = TypeVar("T")
REGISTRATION = "registration"  # meta: {"api", "subchain", "entry"} once the log took the registration


class SubchainError(Exception):
    """The sub-chain cannot go on (no key, a file it cannot read, a registration refused)."""


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


def load_or_make_key(folder: Path, node_key: Path | None = None) -> tuple[Ed25519PrivateKey, bool]:
    """The sub-chain's key in ``folder`` (made there, 0600, if absent); never the node's key."""
    path = folder / KEY_FILE
    if path.exists():
        try:
            key = private_key_from_pem(path.read_bytes())
        except KeyFormatError as exc:
            raise SubchainError(f"{path}: {exc}") from exc
        made = False
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

    @property
    def faults(self) -> bool:
        return bool(self.quarantined or self.rollback)


class ConsumerSubchain:
    """One profile's sub-chain: its key, its SQLite copy, and the log it follows over HTTP."""

    def __init__(self, folder: Path, api_url: str, label: str = "", node_key: Path | None = None,
                 clock: Callable[[], int] | None = None):
        self.folder = folder
        self.key, self.made_key = load_or_make_key(folder, node_key)
        self.witness = Witness(self.key)
        self.store = SqliteSubchainStore(folder / STORE_FILE, label=label or folder.name)
        self.api_url = api_url.rstrip("/")
        try:
            self.log = HttpLog(self.api_url)
        except ValueError as exc:
            raise SubchainError(str(exc)) from exc
        self.clock = clock or (lambda: int(time.time() * 1000))

    def close(self) -> None:
        self.store.close()
        self.log.api.close()

    @property
    def public_key(self) -> str:
        return base64.b64encode(self.witness.public).decode("ascii")

    # --- registration

    def registration(self) -> dict[str, Any] | None:
        text = self.store.meta(REGISTRATION)
        record = json.loads(text) if text else None
        if isinstance(record, dict) and record.get("api") == self.api_url and record.get("subchain") == self.witness.id:
            return record
        return None

    def ensure_registered(self, post: Post) -> tuple[bool, dict[str, Any]]:
        """Register the sub-chain's key with a request the node signs, unless it already was; (new, record)."""
        known = self.registration()
        if known is not None:
            return False, known
        status, answer = post("/subchains", {"public_key": self.public_key})
        code = (answer.get("error") or {}).get("code") if isinstance(answer, dict) else None
        if status == 201:
            record = {"api": self.api_url, "subchain": answer.get("subchain"), "entry": answer.get("entry"),
                      "vkey": answer.get("vkey")}
            if record["subchain"] != self.witness.id:
                raise SubchainError(f"the log registered {record['subchain']!r}, not this key's {self.witness.id}")
        elif status == 409 and code == "subchain_exists":
            record = {"api": self.api_url, "subchain": self.witness.id, "entry": None, "vkey": None}
        else:
            message = (answer.get("error") or {}).get("message") if isinstance(answer, dict) else answer
            raise SubchainError(f"the log refused to register the sub-chain ({status} {code}): {message}")
        self.store.set_meta(REGISTRATION, json.dumps(record))
        return status == 201, record

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
        try:
            memory = cosign_head(self.store, self.log, self.witness, clock=self.clock)
        except BlockUnavailable as exc:
            report.not_cosigned = str(exc)
            return
        report.cosigned = memory
        if memory.size < state.log_size:
            status, reason, _ = self.store.status()
            report.not_cosigned = reason if status == "checkpoint_refused" else "the checkpoint was not cosigned"
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
        answer: dict[str, Any] = {
            "subchain": self.witness.id, "public_key": self.public_key, "api": self.api_url,
            "registered": registration is not None, "file": str(self.store.path),
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
             warn: Callable[[str], None], stop: threading.Event) -> int:
    """``covenant subchain run``: follow, verify, keep, cosign; 0 caught up, 1 a block refused, 2 unreachable."""
    last = ""
    while True:
        try:
            report = sub.follow(stop.is_set)
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
        line = _progress(sub, report)
        if line != last or once:
            say(line)
            last = line
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
