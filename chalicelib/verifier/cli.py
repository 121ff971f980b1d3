"""covenant-verify: check a Covenant ledger without trusting its operator.

    covenant-verify chain --api URL [--genesis HASH]      every block, entry, signature and auth
    covenant-verify chain --file DUMP.jsonl [--genesis HASH]   the same, offline, from an export
    covenant-verify inclusion --api URL --entry ID        one entry is in the verified log
    covenant-verify consistency --api URL --from H1 --to H2   the verified log at H1 is a prefix of H2's
    covenant-verify export --api URL --out DUMP.jsonl     save every block for offline checks
    covenant-verify state --api URL                       what is pinned and verified for URL
    covenant-verify forget --api URL                      drop URL's pinned genesis and verified head

State per API URL (--state-dir, default $XDG_STATE_HOME/covenant-verify or
~/.local/state/covenant-verify): the genesis is pinned on first use (or as
--genesis gives it) and the verified head remembered; a later run refuses a
different genesis, a fork and a rollback.

Exit status: 0 verified; 1 the ledger is wrong (fork, rollback, different
genesis, any bad byte: the first bad height or entry is named); 2 the ledger
could not be read (network, timeouts, size caps, answers that are not answers).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..ledger import merkle
from ..ledger.canonical import CanonicalisationError
from ..ledger.format import block_hash, entry_leaf, entry_problem, header_problem
from ..ledger.keys import KeyFormatError, public_key_from_jwk, raw_public
from ..ledger.verify import BlockOutcome, ChainState, VerificationError, verify_block
from .client import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, ApiError, LedgerApi, Limits, parse_json
from .state import (
    ChainMemory,
    ChainStore,
    MemoryChain,
    StateError,
    StateLock,
    default_state_dir,
    forget,
    lock_path,
    normalise_url,
    state_path,
)

OK, BAD, UNREADABLE = 0, 1, 2
_HASH = re.compile(r"^[0-9a-fA-F]{64}$")


class LedgerFault(Exception):
    """The API's ledger contradicts what was verified before (or what it must be), not one block's bytes."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


class Progress:
    """A one-line progress bar on stderr, for long chains."""

    def __init__(self, total: int, stream: TextIO, enabled: bool):
        self.total, self.stream, self.enabled = max(total, 1), stream, enabled
        self.known = total > 0
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: int, entries: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < 0.1):
            return
        self.last = now
        rate = entries / max(now - self.start, 1e-9)
        if self.known:
            width = 30
            filled = int(width * min(done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} blocks"
        else:
            bar = f"{done} blocks"
        self.stream.write(f"\r{bar}, {entries} entries, {rate:,.0f} entries/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class ChainResult:
    blocks: int
    entries: int
    head_hash: str
    genesis: str
    sealer_keys: list[dict[str, Any]]
    seconds: float
    checked_blocks: int = 0
    checked_entries: int = 0


def _result(memory: ChainMemory, started: float, checked_blocks: int, checked_entries: int) -> ChainResult:
    state = memory.state
    if state.height < 0:
        raise VerificationError(0, "there is no genesis block")
    genesis = memory.block_at(0)
    assert genesis is not None
    return ChainResult(state.height + 1, state.log_size, state.hash, genesis.hash, memory.sealer_keys(),
                       time.perf_counter() - started, checked_blocks, checked_entries)


# --- one block after another, from whatever remembers the chain so far

def _served_hash(header: Any) -> str | None:
    """SHA-256(JCS(header)) of a served header, or None if it is not a header at all."""
    return block_hash(header) if header_problem(header) is None else None


def _departure(memory: ChainMemory, height: int, served: str | None, url: str | None) -> LedgerFault:
    """The fault of an API whose block ``height`` is not the one verified there before."""
    row = memory.block_at(height)
    before = row.hash if row is not None else "unknown"
    shown = served or "not a block header"
    if height == 0:
        hint = f"; if the operator really started a new chain, run `covenant-verify forget --api {url}`" if url else ""
        return LedgerFault("different genesis", f"the API's genesis is {shown}, but the pinned genesis is "
                                                f"{before}{hint}")
    return LedgerFault(f"fork after height {height - 1}",
                       f"the API's block {height} is {shown}, but block {height} verified before is {before}")


def _check_block(memory: ChainMemory, block: Any, genesis: str | None,
                 remembered: ChainMemory | None, url: str | None) -> BlockOutcome:
    """Verify one block after ``memory``'s head and remember it; raise at the first fault.

    ``remembered``, when given, is what an earlier run verified: every height it
    holds must come back with the same hash, or the API's chain has departed
    from it (a fork, or a different genesis).
    """
    state = memory.state
    height = state.height + 1
    row = remembered.block_at(height) if remembered is not None else None
    try:
        outcome = verify_block(state, block, memory, memory, memory)
    except VerificationError as exc:
        if remembered is not None and row is not None:
            served = _served_hash(block.get("header")) if isinstance(block, dict) else None
            if served != row.hash:
                fault = _departure(remembered, height, served, url)
                raise LedgerFault(fault.kind, f"{fault.message}; and it does not verify: {exc}") from exc
        raise
    if height == 0 and genesis is not None and outcome.state.hash != genesis:
        raise VerificationError(0, f"the genesis hash is {outcome.state.hash}, not the pinned {genesis}")
    if remembered is not None and row is not None and row.hash != outcome.state.hash:
        raise _departure(remembered, height, outcome.state.hash, url)
    memory.remember(block["header"], outcome)
    return outcome


def verify_blocks(blocks: Iterable[Any], progress: Progress | None = None, genesis: str | None = None,
                  memory: ChainMemory | None = None) -> ChainResult:
    """Verify blocks from genesis on, in memory; raises VerificationError at the first fault."""
    started = time.perf_counter()
    memory = memory if memory is not None else MemoryChain()
    checked = entries = 0
    for block in blocks:
        outcome = _check_block(memory, block, genesis, None, None)
        checked += 1
        entries += len(outcome.leaves)
        if progress is not None:
            progress.update(checked, entries)
    if progress is not None:
        progress.update(checked, entries, force=True)
        progress.close()
    return _result(memory, started, checked, entries)


def read_dump(path: str) -> Iterable[Any]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield parse_json(line, f"line {number} of {path}")


# --- blame after a log_root mismatch

def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 64:
        raise ValueError("a proof path is a list of at most 64 hashes")
    out = []
    for value in values:
        if not isinstance(value, str) or len(value) != 64:
            raise ValueError("a proof path holds 64-hex hashes")
        out.append(bytes.fromhex(value))
    return out


def _inclusion_proven(api: LedgerApi, index: int, size: int, leaf: bytes, root: bytes) -> bool:
    try:
        proof = api.get("/proofs/inclusion", index=index, size=size)
        if proof.get("leaf_index") != index or proof.get("tree_size") != size:
            return False
        merkle.verify_inclusion(index, size, leaf, _hashes(proof.get("path")), root)
    except (ApiError, merkle.ProofError, ValueError, TypeError):
        return False
    return True


def locate_changed_entry(api: LedgerApi | None, block: dict[str, Any], before: ChainState,
                         error: VerificationError) -> VerificationError:
    """After a log_root mismatch under a header whose signature verified: which entry changed, if provable.

    The API's proofs are used only as evidence the verifier checks itself. If
    the log before the block is proven a prefix of the signed tree, and every
    entry but one is proven a leaf of it, the remaining one is necessarily the
    entry that differs from what the sealer signed. Anything less (a proof that
    fails or cannot be read for two entries, or for the prefix) names the
    height only: a server must not be able to make the verifier blame an
    innocent entry by serving a bad proof for it.
    """
    unnamed = VerificationError(error.height, f"{error.reason}; the API's proofs cannot show which entry changed")
    if api is None:
        return error
    header, entries = block["header"], block["entries"]
    size, first = header["log_size"], before.log_size
    root = bytes.fromhex(header["log_root"])
    if first > 0:
        try:
            proof = api.get("/proofs/consistency", first=first, second=size)
            if proof.get("first") != first or proof.get("second") != size:
                return unnamed
            merkle.verify_consistency(first, size, bytes.fromhex(before.log_root), root, _hashes(proof.get("path")))
        except (ApiError, merkle.ProofError, ValueError, TypeError):
            return unnamed
    unproven: list[int] = []
    for offset, entry in enumerate(entries):
        if not _inclusion_proven(api, first + offset, size, entry_leaf(entry), root):
            unproven.append(offset)
            if len(unproven) > 1:
                return unnamed
    if len(unproven) != 1:
        return unnamed
    offset = unproven[0]
    entry = entries[offset]
    return VerificationError(error.height, "the entry does not match the signed log_root: the log before the block "
                             "and every other entry of it are proven in the signed tree, so this one changed",
                             index=first + offset, entry_id=entry.get("id"))


# --- the published sealer keys

def _vkey_problem(jwk: dict[str, Any], vkey: Any) -> tuple[str | None, str | None]:
    """(origin, None) if ``vkey`` is the C2SP signed-note verifier key of ``jwk``; else (None, why)."""
    import base64
    import hashlib

    if not isinstance(vkey, str) or vkey.count("+") < 2:
        return None, "a vkey is <origin>+<key id>+<base64 key>"
    # C2SP signed-note: a key name holds no "+"; the base64 key may.
    origin, key_id, encoded = vkey.split("+", 2)
    try:
        raw = base64.b64decode(encoded, validate=True)
        public = raw_public(public_key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "kid")}))
    except (ValueError, KeyError, KeyFormatError):
        return None, "the vkey is not base64 of a key"
    if raw != b"\x01" + public:
        return None, "the vkey is not this key's Ed25519 verifier key"
    expected = hashlib.sha256(origin.encode("utf-8") + b"\n\x01" + public).digest()[:4].hex()
    if key_id != expected:
        return None, "the vkey's key ID is not SHA-256(origin || 0x0A || 0x01 || key)[:4]"
    return origin, None


def keys_problem(published: Any, sealers: list[dict[str, Any]]) -> str | None:
    """Why ``/keys`` is not exactly the ledger's sealer keys (each may add a consistent ``vkey``), or None."""
    if not isinstance(published, list):
        return "/keys does not answer a list of keys"
    jwks, origins = [], set()
    for key in published:
        if not isinstance(key, dict):
            return "/keys lists something that is not a key"
        if "vkey" in key:
            origin, problem = _vkey_problem(key, key["vkey"])
            if problem:
                return f"/keys: {problem}"
            origins.add(origin)
        jwks.append({k: v for k, v in key.items() if k != "vkey"})
    if len(origins) > 1:
        return "/keys names more than one origin"

    def canon(keys: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(k, sort_keys=True) for k in keys)

    if canon(jwks) != canon(sealers):
        return "/keys does not list exactly the sealer keys in the ledger"
    return None


# --- runs against an API, with state

@dataclass
class Options:
    state_dir: Path
    genesis: str | None = None
    progress: bool | None = None
    limits: Limits = field(default_factory=Limits)


class Run:
    """One command against one API URL: its lock, its state and the API."""

    def __init__(self, url: str, options: Options, out: TextIO, err: TextIO):
        self.url = normalise_url(url)
        self.api = LedgerApi(url, options.limits)
        self.options = options
        self.out, self.err = out, err
        self.path = state_path(options.state_dir, url)

    # -- steps shared by every command

    def _check_genesis_option(self, pinned: ChainStore | None) -> None:
        wanted = self.options.genesis
        if pinned is not None and pinned.genesis is not None and wanted is not None and wanted != pinned.genesis:
            raise LedgerFault("different genesis", f"--genesis {wanted} is not the genesis pinned for {self.url}, "
                              f"{pinned.genesis}; if the operator really started a new chain, run "
                              f"`covenant-verify forget --api {self.url}` first")

    def _head(self) -> tuple[dict[str, Any], int, str]:
        head = self.api.head()
        header = head.get("header")
        problem = header_problem(header)
        if problem:
            raise ApiError(f"the head the API announces is not a block header: {problem}")
        assert isinstance(header, dict)
        return head, int(header["height"]), block_hash(header)

    def _served_hash_at(self, height: int) -> str | None:
        return _served_hash(self.api.get(f"/blocks/{height}", limit=1).get("header"))

    def _first_difference(self, memory: ChainStore, differs: int, served: str | None) -> tuple[int, str | None]:
        """The lowest height the API's chain differs from the verified one, by bisection, as far as it answers."""
        low, high, at_high = -1, differs, served
        try:
            while high - low > 1:
                middle = (low + high) // 2
                row = memory.block_at(middle)
                found = self._served_hash_at(middle)
                if row is not None and found == row.hash:
                    low = middle
                else:
                    high, at_high = middle, found
        except ApiError:
            pass
        return high, at_high

    def _check_history(self, memory: ChainStore, head_height: int, head_hash: str) -> None:
        """The API's chain must hold the verified head: same height, same hash (no rollback, no fork)."""
        verified = memory.state
        if verified.height < 0:
            return
        if head_height < verified.height:
            row = memory.block_at(head_height)
            if row is not None and row.hash == head_hash:
                raise LedgerFault("rollback", f"the API's chain ends at height {head_height} ({head_height + 1} "
                                  f"blocks, head {head_hash}), but {verified.height + 1} blocks, up to height "
                                  f"{verified.height} ({verified.hash}), were verified before")
            height, served = self._first_difference(memory, head_height, head_hash)
            fault = _departure(memory, height, served, self.url)
            raise LedgerFault(fault.kind, f"{fault.message}; and the API's chain is shorter (it ends at height "
                              f"{head_height}, the verified one at {verified.height})")
        served_at_head = head_hash if head_height == verified.height else self._served_hash_at(verified.height)
        if served_at_head != verified.hash:
            height, served = self._first_difference(memory, verified.height, served_at_head)
            raise _departure(memory, height, served, self.url)

    def _advance(self, memory: ChainStore, target: int, remembered: ChainStore | None) -> tuple[int, int]:
        """Verify the API's blocks after ``memory``'s head up to ``target``; (blocks, entries) checked."""
        start = memory.state.height + 1
        if start > target:
            return 0, 0
        total = target + 1 - start
        show = self.options.progress
        progress = Progress(total, self.err, self.err.isatty() and total >= 10 if show is None else show)
        checked = entries = 0
        stream = self.api.blocks(start, target + 1)
        try:
            for block in stream:
                before = memory.state
                try:
                    outcome = _check_block(memory, block, self.options.genesis, remembered, self.url)
                except VerificationError as exc:
                    stream.close()
                    if exc.index is None and exc.reason.startswith("log_root"):
                        raise locate_changed_entry(self.api, block, before, exc) from exc
                    raise
                if outcome.state.height == 0 and remembered is None:
                    self._announce_pin(outcome.state.hash)
                checked += 1
                entries += len(outcome.leaves)
                progress.update(checked, entries)
            progress.update(checked, entries, force=True)
        finally:
            stream.close()
            progress.close()
        return checked, entries

    def _announce_pin(self, genesis: str) -> None:
        if self.options.genesis is not None:
            self.out.write(f"PINNED: genesis {genesis} for {self.url}, as --genesis gave it (state: {self.path})\n")
        else:
            self.out.write(f"TOFU: first use of {self.url}: pinned its genesis {genesis} (state: {self.path}). "
                           "Check it against the genesis hash the operator publishes; later runs refuse any other.\n")

    def _check_head_and_keys(self, memory: ChainStore, head: dict[str, Any], head_hash: str) -> None:
        state = memory.state
        if head.get("hash") != head_hash or state.hash != head_hash:
            raise VerificationError(state.height, "the head the API announces is not the block it serves")
        problem = keys_problem(self.api.get("/keys").get("keys"), memory.sealer_keys())
        if problem:
            raise VerificationError(state.height, problem)

    # -- the whole chain, from genesis

    def chain(self) -> ChainResult:
        with StateLock(lock_path(self.path)):
            return self._chain()

    def _chain(self) -> ChainResult:
        """Verify every block from genesis, check the result against the state, and keep it."""
        started = time.perf_counter()
        old = ChainStore.open(self.path, self.url)
        try:
            self._check_genesis_option(old)
            head, height, head_hash = self._head()
            if old is not None:
                self._check_history(old, height, head_hash)
            scratch = self.path.with_name(self.path.name + ".new")
            scratch.unlink(missing_ok=True)
            new = ChainStore.open(scratch, self.url, create=True)
            assert new is not None
            try:
                blocks, entries = self._advance(new, height, old)
                self._check_head_and_keys(new, head, head_hash)
                new.mark_verified()
                return _result(new, started, blocks, entries)
            finally:
                # Keep what was verified, unless that would forget a head verified before.
                if new.state.height >= (old.state.height if old is not None else 0):
                    if old is not None:
                        old.close()
                    new.replace(self.path)
                else:
                    new.close()
                    scratch.unlink(missing_ok=True)
        finally:
            if old is not None:
                old.close()

    # -- the state brought up to date, then proofs against it

    def _up_to_date(self) -> ChainStore:
        """This URL's state verified up to the API's head (a full run on first use); the caller closes it."""
        store = ChainStore.open(self.path, self.url)
        if store is None or store.state.height < 0:
            if store is not None:
                store.close()
            self._chain()
            store = ChainStore.open(self.path, self.url)
            if store is None:
                raise StateError(f"the state file {self.path} was not written")
            return store
        try:
            self._check_genesis_option(store)
            head, height, head_hash = self._head()
            self._check_history(store, height, head_hash)
            self._advance(store, height, None)
            self._check_head_and_keys(store, head, head_hash)
            store.mark_verified()
            store.commit()
        except BaseException:
            store.close()
            raise
        return store

    def inclusion(self, entry_id: str) -> str:
        with StateLock(lock_path(self.path)):
            store = self._up_to_date()
            try:
                return self._inclusion(store, entry_id)
            finally:
                store.close()

    def consistency(self, first: int, second: int) -> str:
        if not 0 <= first <= second:
            raise ValueError("--from and --to must be heights with 0 <= --from <= --to")
        with StateLock(lock_path(self.path)):
            store = self._up_to_date()
            try:
                return self._consistency(store, first, second)
            finally:
                store.close()

    def _inclusion(self, store: ChainStore, entry_id: str) -> str:
        state = store.state
        found = self.api.entry(entry_id)
        entry, index = found.get("entry"), found.get("index")
        if type(index) is not int or index < 0:
            raise ApiError("GET /entries: index is not a log index")
        if index >= state.log_size:
            raise ApiError(f"the API places entry {entry_id} at index {index}, beyond the verified log of "
                           f"{state.log_size} entries (head at height {state.height}); run again once a head "
                           "that holds it is sealed")
        height = store.height_of_index(index)
        assert height is not None
        if not isinstance(entry, dict) or entry.get("id") != entry_id:
            raise VerificationError(height, f"the API answers another entry for id {entry_id}", index=index)
        problem = entry_problem(entry)
        try:
            leaf = entry_leaf(entry) if problem is None else None
        except (CanonicalisationError, RecursionError):
            leaf = None
        proof = self.api.get("/proofs/inclusion", index=index, size=state.log_size)
        if proof.get("leaf_index") != index or proof.get("tree_size") != state.log_size:
            raise ApiError("GET /proofs/inclusion answered a proof for another leaf or tree")
        try:
            path = _hashes(proof.get("path"))
        except ValueError as exc:
            raise ApiError(f"GET /proofs/inclusion: {exc}") from exc
        try:
            if leaf is None:
                raise merkle.ProofError(problem or "the entry cannot be canonicalised")
            merkle.verify_inclusion(index, state.log_size, leaf, path, bytes.fromhex(state.log_root))
        except merkle.ProofError as exc:
            raise VerificationError(height, f"the entry the API serves is not leaf {index} of the verified log of "
                                    f"{state.log_size} entries (head at height {state.height}): {exc}",
                                    index=index, entry_id=entry_id) from exc
        claimed = found.get("height")
        if claimed != height:
            raise VerificationError(height, f"the API places this entry in block {claimed!r}, but leaf {index} "
                                    f"lies in verified block {height}", index=index, entry_id=entry_id)
        return (f"entry {entry_id} is leaf {index} of the verified log of {state.log_size} entries (head at height "
                f"{state.height}, {state.hash}); it was sealed in block {height}")

    def _consistency(self, store: ChainStore, first: int, second: int) -> str:
        state = store.state
        if second > state.height:
            raise ApiError(f"height {second} is beyond the verified head (height {state.height})")
        low, high = store.block_at(first), store.block_at(second)
        assert low is not None and high is not None
        path: list[bytes] = []
        if low.log_size != high.log_size:
            proof = self.api.get("/proofs/consistency", first=low.log_size, second=high.log_size)
            if proof.get("first") != low.log_size or proof.get("second") != high.log_size:
                raise ApiError("GET /proofs/consistency answered a proof for other sizes")
            try:
                path = _hashes(proof.get("path"))
            except ValueError as exc:
                raise ApiError(f"GET /proofs/consistency: {exc}") from exc
        try:
            merkle.verify_consistency(low.log_size, high.log_size, bytes.fromhex(low.log_root),
                                      bytes.fromhex(high.log_root), path)
        except merkle.ProofError as exc:
            raise VerificationError(second, f"the API's consistency proof from height {first} does not lead to the "
                                    f"verified roots: {exc}") from exc
        return (f"the verified log at height {first} ({low.log_size} entries) is a prefix of the log at height "
                f"{second} ({high.log_size} entries): the API's consistency proof leads to both verified roots")

    # -- state on its own

    def forget(self) -> str:
        with StateLock(lock_path(self.path)):
            store = ChainStore.open(self.path, self.url)
            info = store.info() if store is not None else None
            if store is not None:
                store.close()
            forget(self.path)
        if info is None or info["genesis"] is None:
            return f"nothing was pinned for {self.url}"
        return (f"forgot {self.url}: pinned genesis {info['genesis']}, verified up to height {info['height']} "
                f"({self.path} deleted)")

    def describe(self) -> str:
        store = ChainStore.open(self.path, self.url)
        if store is None:
            return f"nothing is pinned for {self.url} ({self.path})"
        try:
            info = store.info()
        finally:
            store.close()
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(info["verified_ms"] or 0) / 1000))
        return (f"{self.url}: genesis {info['genesis']} pinned; verified up to height {info['height']} "
                f"({info['log_size']} entries, head {info['hash']}) at {when}; state {self.path}")


def export(api: LedgerApi, out: str) -> int:
    head = api.head()
    header = head.get("header")
    if header_problem(header) is not None:
        raise ApiError("the head the API announces is not a block header")
    assert isinstance(header, dict)
    total = int(header["height"]) + 1
    with open(out, "w", encoding="utf-8") as handle, api.blocks(0, total) as stream:
        for block in stream:
            handle.write(json.dumps(block, separators=(",", ":"), ensure_ascii=False) + "\n")
    return total


# --- the command line

def _genesis(value: str) -> str:
    if not _HASH.match(value):
        raise argparse.ArgumentTypeError("a genesis hash is 64 hex characters")
    return value.lower()


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(value: str) -> float | int:
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError("must be above 0")
        return number

    return parse


def _parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="covenant-verify", description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument("--timeout", type=_positive(float), default=DEFAULT_TIMEOUT,
                         help=f"seconds allowed for each whole answer (default {DEFAULT_TIMEOUT:g})")
    reading.add_argument("--max-bytes", type=_positive(int), default=DEFAULT_MAX_BYTES,
                         help=f"largest answer read, in bytes (default {DEFAULT_MAX_BYTES:,})")
    stateful = argparse.ArgumentParser(add_help=False)
    stateful.add_argument("--state-dir", type=Path, default=None,
                          help="where the pinned genesis and verified head of each URL are kept "
                               "(default $XDG_STATE_HOME/covenant-verify or ~/.local/state/covenant-verify)")
    pinned = argparse.ArgumentParser(add_help=False)
    pinned.add_argument("--genesis", type=_genesis, help="the genesis block hash you trust")
    commands = parser.add_subparsers(dest="command", required=True)

    chain = commands.add_parser("chain", parents=[reading, stateful, pinned], help="verify every block and entry")
    source = chain.add_mutually_exclusive_group(required=True)
    source.add_argument("--api", help="base URL of the public API")
    source.add_argument("--file", help="a JSON-lines export, one block per line (no state is kept)")
    bar = chain.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")

    inclusion = commands.add_parser("inclusion", parents=[reading, stateful, pinned],
                                    help="prove one entry is in the verified log")
    inclusion.add_argument("--api", required=True)
    inclusion.add_argument("--entry", required=True, help="the entry id")
    consistency = commands.add_parser("consistency", parents=[reading, stateful, pinned],
                                      help="prove one block's log is a prefix of another's")
    consistency.add_argument("--api", required=True)
    consistency.add_argument("--from", dest="first", type=int, required=True, help="the earlier block height")
    consistency.add_argument("--to", dest="second", type=int, required=True, help="the later block height")
    for command in (inclusion, consistency):
        command.set_defaults(progress=None)
    dump = commands.add_parser("export", parents=[reading], help="save every block as JSON lines")
    dump.add_argument("--api", required=True)
    dump.add_argument("--out", required=True)
    state = commands.add_parser("state", parents=[stateful], help="show what is pinned and verified for a URL")
    state.add_argument("--api", required=True)
    drop = commands.add_parser("forget", parents=[stateful],
                               help="forget a URL's pinned genesis and verified head (a new chain at that URL)")
    drop.add_argument("--api", required=True)
    return parser


def _rate(result: ChainResult) -> str:
    return f"{result.checked_entries / max(result.seconds, 1e-9):,.0f} entries/s"


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    limits = Limits(timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                    max_bytes=getattr(args, "max_bytes", DEFAULT_MAX_BYTES))
    if args.command == "chain" and args.file:
        result = verify_blocks(read_dump(args.file), Progress(0, err, bool(args.progress)), args.genesis)
        pin = "matches --genesis" if args.genesis else "not pinned: pass --genesis to check it"
        out.write(f"OK: {result.blocks} blocks and {result.entries} entries verified ({_rate(result)}); "
                  f"genesis {result.genesis} ({pin}); head {result.head_hash}\n")
        return
    if args.command == "export":
        exported = export(LedgerApi(args.api, limits), args.out)
        out.write(f"OK: exported {exported} blocks to {args.out}\n")
        return
    options = Options(state_dir=args.state_dir or default_state_dir(), genesis=getattr(args, "genesis", None),
                      progress=getattr(args, "progress", None), limits=limits)
    run = Run(args.api, options, out, err)
    if args.command == "chain":
        result = run.chain()
        out.write(f"OK: {result.blocks} blocks and {result.entries} entries verified ({_rate(result)}); "
                  f"genesis {result.genesis} (pinned); head {result.head_hash}\n")
    elif args.command == "inclusion":
        out.write("OK: " + run.inclusion(args.entry) + "\n")
    elif args.command == "consistency":
        out.write("OK: " + run.consistency(args.first, args.second) + "\n")
    elif args.command == "state":
        out.write(run.describe() + "\n")
    else:
        out.write(run.forget() + "\n")


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        _run(args, out, err)
    except LedgerFault as exc:
        out.write(f"FAILED: {exc}\n")
        return BAD
    except VerificationError as exc:
        out.write(f"FAILED at {exc}\n")
        return BAD
    except (ApiError, StateError) as exc:
        err.write(f"covenant-verify: cannot read the ledger: {exc}\n")
        return UNREADABLE
    except (OSError, ValueError) as exc:
        err.write(f"covenant-verify: cannot read the ledger: {exc}\n")
        return UNREADABLE
    except RecursionError:
        err.write("covenant-verify: cannot read the ledger: an answer is nested too deeply\n")
        return UNREADABLE
    except KeyboardInterrupt:
        err.write("covenant-verify: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback, never exit 1 for a fault of this program
        err.write(f"covenant-verify: cannot read the ledger (unexpected {type(exc).__name__}: {exc}; "
                  "please report this)\n")
        return UNREADABLE
    finally:
        out.flush()
    return OK


if __name__ == "__main__":
    raise SystemExit(main())
