"""covenant-verify: check a Covenant ledger without trusting its operator.

    covenant-verify chain --api URL [--genesis HASH] [--origin ORIGIN] [--tiles|--no-tiles]
                                                          every block, entry, signature and auth
    covenant-verify chain --file DUMP.jsonl [--genesis HASH]   the same, offline, from an export
    covenant-verify checkpoint --api URL --vkey VKEY      the log's signed checkpoint, consistent with the last one
        [--witness-vkey VKEY ... | --witness-vkeys-file FILE] --quorum K
                                                          ... and cosigned by K of the witnesses you trust
    covenant-verify cosigners --api URL                   the witness keys the log lists (trusting them is trusting it)
    covenant-verify inclusion --api URL --entry ID        one entry is in the verified log
    covenant-verify consistency --api URL --from H1 --to H2   the verified log at H1 is a prefix of H2's
    covenant-verify export --api URL --out DUMP.jsonl     save every block for offline checks
    covenant-verify state --api URL                       what is pinned and verified for URL
    covenant-verify forget --api URL                      drop URL's pins, checkpoint and verified head

State per API URL (--state-dir, default $XDG_CONFIG_HOME/covenant/verify or
~/.config/covenant/verify): the genesis hash and the log's origin are pinned on
first use (or as --genesis and --origin give them), and the verified head and
the last verified checkpoint remembered; a later run refuses another genesis,
another origin, a fork and a rollback.

Witnesses: with --witness-vkey (repeatable) or --witness-vkeys-file (one vkey
a line, '#' comments), --quorum K is required and a checkpoint is accepted only
if K distinct ones of those keys have valid cosignature/v1 lines on it; a line
by one of them that does not verify, or dated more than 10 minutes ahead of
this clock, refuses it. Lines by other keys are ignored.

Exit status: 0 verified; 1 the ledger is wrong (fork, rollback, different
genesis, any bad byte: the first bad height or entry is named); 2 the ledger
could not be read (network, timeouts, size caps, answers that are not answers).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..ledger import merkle
from ..ledger.auth import VerifiedSignatures
from ..ledger.canonical import CanonicalisationError
from ..ledger.format import block_hash, entry_leaf, entry_problem, header_problem
from ..ledger.keys import KeyFormatError, public_key_from_jwk, raw_public
from ..ledger.note import COSIGNATURE_V1, ED25519, NoteError, Verifier, origin_problem, parse_note, parse_vkey
from ..ledger.tiles import WIDTH, TileRef
from ..ledger.verify import BlockOutcome, ChainState, VerificationError, verify_block
from . import ahead, checkpoints
from .checkpoints import LedgerFault
from .client import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    ApiError,
    BlockStream,
    LedgerApi,
    Limits,
    NotJson,
    TileBlockStream,
    parse_json,
)
from .state import (
    ChainMemory,
    ChainStore,
    MemoryChain,
    StateError,
    StateLock,
    TreeRow,
    default_state_dir,
    forget,
    legacy_state_dir,
    lock_path,
    move_legacy_state,
    normalise_url,
    state_path,
)

OK, BAD, UNREADABLE = 0, 1, 2
_HASH = re.compile(r"^[0-9a-fA-F]{64}$")


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
    source: str = "memory"
    origin: str | None = None
    checkpoint: str = "no checkpoints served"


def _result(memory: ChainMemory, started: float, checked_blocks: int, checked_entries: int,
            source: str = "memory", finish: Finish | None = None) -> ChainResult:
    state = memory.state
    if state.height < 0:
        raise VerificationError(0, "there is no genesis block")
    genesis = memory.block_at(0)
    assert genesis is not None
    result = ChainResult(state.height + 1, state.log_size, state.hash, genesis.hash, memory.sealer_keys(),
                         time.perf_counter() - started, checked_blocks, checked_entries, source)
    if finish is not None:
        result.origin, result.checkpoint = finish.origin, finish.checkpoint
    return result


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


def _check_block(memory: ChainMemory, block: Any, genesis: str | None, remembered: ChainMemory | None,
                 url: str | None, raw: list[bytes] | None = None, verified: VerifiedSignatures = ()) -> BlockOutcome:
    """Verify one block after ``memory``'s head and remember it; raise at the first fault.

    ``remembered``, when given, is what an earlier run verified: every height it
    holds must come back with the same hash, or the API's chain has departed
    from it (a fork, or a different genesis). ``raw``, when the entries were
    read from entry bundles, holds their bytes: each must be its entry's JCS.
    ``verified``: auth signatures found valid ahead (``ahead.SignaturesAhead``).
    """
    state = memory.state
    height = state.height + 1
    row = remembered.block_at(height) if remembered is not None else None
    try:
        outcome = verify_block(state, block, memory, memory, memory, verified)
    except VerificationError as exc:
        if remembered is not None and row is not None:
            served = _served_hash(block.get("header")) if isinstance(block, dict) else None
            if served != row.hash:
                fault = _departure(remembered, height, served, url)
                raise LedgerFault(fault.kind, f"{fault.message}; and it does not verify: {exc}") from exc
        blamed = _bundle_blame(exc, block, state.log_size)
        if blamed is exc:
            raise
        raise blamed from exc
    if height == 0 and genesis is not None and outcome.state.hash != genesis:
        if url is None:
            raise VerificationError(0, f"the genesis hash is {outcome.state.hash}, but --genesis is {genesis}")
        raise LedgerFault("different genesis", f"--genesis {genesis}, but the API's genesis is {outcome.state.hash}")
    if remembered is not None and row is not None and row.hash != outcome.state.hash:
        raise _departure(remembered, height, outcome.state.hash, url)
    if raw is not None:
        for offset, (data, leaf) in enumerate(zip(raw, outcome.leaves, strict=True)):
            if merkle.leaf_hash(data) != leaf:
                raise VerificationError(height, "the entry bundle does not hold this entry's JCS (RFC 8785) bytes, "
                                        "but another serialisation of it", index=state.log_size + offset,
                                        entry_id=block["entries"][offset].get("id"))
    memory.remember(block["header"], outcome)
    return outcome


def _bundle_blame(error: VerificationError, block: Any, first: int) -> VerificationError:
    """The error, said more plainly when the entry it names came from bundle bytes that are not JSON."""
    entries = block.get("entries") if isinstance(block, dict) else None
    offset = None if error.index is None else error.index - first
    if isinstance(entries, list) and offset is not None and 0 <= offset < len(entries) \
            and isinstance(entries[offset], NotJson):
        return VerificationError(error.height, f"the entry bundle's bytes for this entry are not a JSON entry "
                                 f"({entries[offset].reason})", index=error.index)
    return error


def verify_blocks(blocks: Iterable[Any], progress: Progress | None = None, genesis: str | None = None,
                  memory: ChainMemory | None = None, threads: int = 1) -> ChainResult:
    """Verify blocks from genesis on, in memory; raises VerificationError at the first fault.

    ``threads`` threads verify the entries' signatures together (``ahead.py``); 1 verifies them inline.
    """
    started = time.perf_counter()
    memory = memory if memory is not None else MemoryChain()
    checked = entries = 0
    with _ahead(blocks, memory, threads) as stream:
        for block, verified in stream:
            outcome = _check_block(memory, block, genesis, None, None, verified=verified)
            checked += 1
            entries += len(outcome.leaves)
            if progress is not None:
                progress.update(checked, entries)
    if progress is not None:
        progress.update(checked, entries, force=True)
        progress.close()
    return _result(memory, started, checked, entries)


@contextlib.contextmanager
def _ahead(blocks: Iterable[Any], memory: ChainMemory,
           threads: int) -> Iterator[Iterable[tuple[Any, VerifiedSignatures]]]:
    """The blocks, each with the signatures ``threads`` threads verified together (none if 1)."""
    if threads <= 1:
        yield ((block, ()) for block in blocks)
        return

    def key_of(kid: str) -> str | None:
        record = memory.get(kid)
        return record.jwk.get("x") if record is not None and record.registered else None

    stream = ahead.SignaturesAhead(blocks, key_of, threads)
    try:
        yield stream
    finally:
        stream.close()


def read_dump(path: str) -> Iterable[Any]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield parse_json(line, f"line {number} of {path}")


# --- blame after a log_root mismatch

def _inclusion_proven(api: LedgerApi, index: int, size: int, leaf: bytes, root: bytes) -> bool:
    try:
        proof = api.get("/proofs/inclusion", index=index, size=size)
        if proof.get("leaf_index") != index or proof.get("tree_size") != size:
            return False
        merkle.verify_inclusion(index, size, leaf, checkpoints.proof_path(proof.get("path")), root)
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
            merkle.verify_consistency(first, size, bytes.fromhex(before.log_root), root,
                                      checkpoints.proof_path(proof.get("path")))
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
    if not isinstance(vkey, str):
        return None, "a vkey is <origin>+<key id>+<base64 key>"
    try:
        verifier = parse_vkey(vkey)
    except NoteError as exc:
        return None, str(exc)
    try:
        public = raw_public(public_key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "kid")}))
    except (KeyError, KeyFormatError):
        return None, "the vkey is not base64 of a key"
    if verifier.key_type != ED25519 or verifier.public != public:
        return None, "the vkey is not this key's Ed25519 verifier key"
    problem = origin_problem(verifier.name)
    if problem:
        return None, f"the vkey's name is not an origin: {problem}"
    return verifier.name, None


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
    origin: str | None = None
    progress: bool | None = None
    tiles: bool | None = None  # None: through the entry bundles when the API serves them
    threads: int | None = None  # threads verifying the entries' signatures together; None: one per core
    limits: Limits = field(default_factory=Limits)
    legacy_dir: Path | None = None  # where earlier versions kept the state (the default directory only)


@dataclass
class Finish:
    """What the end of a run found about the API's checkpoints and origin, for its one-line result."""

    origin: str | None = None
    checkpoint: str = "no checkpoints served"


class Run:
    """One command against one API URL: its lock, its state and the API."""

    def __init__(self, url: str, options: Options, out: TextIO, err: TextIO):
        self.url = normalise_url(url)
        self.api = LedgerApi(url, options.limits)
        self.options = options
        self.out, self.err = out, err
        self.path = state_path(options.state_dir, url)
        self.source = "JSON pages"
        if options.legacy_dir is not None and options.legacy_dir != options.state_dir:
            moved = move_legacy_state(self.path, options.legacy_dir)
            if moved is not None:
                self.out.write(f"MOVED: the pins and verified state of {self.url} from {moved} to {self.path}\n")

    # -- steps shared by every command

    def _check_genesis_option(self, pinned: ChainStore | None) -> None:
        wanted = self.options.genesis
        if pinned is not None and pinned.genesis is not None and wanted is not None and wanted != pinned.genesis:
            raise LedgerFault("different genesis", f"--genesis {wanted} is not the genesis pinned for {self.url}, "
                              f"{pinned.genesis}; if the operator really started a new chain, run "
                              f"`covenant-verify forget --api {self.url}` first")
        self._check_origin_option(pinned)

    def _check_origin_option(self, pinned: ChainStore | None) -> None:
        wanted = self.options.origin
        if pinned is not None and pinned.origin is not None and wanted is not None and wanted != pinned.origin:
            raise LedgerFault("different origin", f"--origin {wanted} is not the origin pinned for {self.url}, "
                              f"{pinned.origin}; if the operator really started a new log, run "
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

    def _advance(self, memory: ChainStore, target: int, size: int, remembered: ChainStore | None) -> tuple[int, int]:
        """Verify the API's blocks after ``memory``'s head up to ``target`` (``size`` entries); (blocks, entries)."""
        start = memory.state.height + 1
        if start > target:
            return 0, 0
        total = target + 1 - start
        show = self.options.progress
        progress = Progress(total, self.err, self.err.isatty() and total >= 10 if show is None else show)
        checked = entries = 0
        threads = self.options.threads or ahead.default_threads()
        stream = self._stream(start, target + 1, memory.state.log_size, size)
        try:
            with _ahead(stream, memory, threads) as blocks:
                for block, verified in blocks:
                    before = memory.state
                    try:
                        outcome = _check_block(memory, block, self.options.genesis, remembered, self.url,
                                               stream.raw_for(block), verified)
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

    def _stream(self, start: int, stop: int, first: int, size: int) -> BlockStream | TileBlockStream:
        """Blocks ``start`` to ``stop - 1``: through the entry bundles if asked, or by default if the API has them."""
        if self.options.tiles is False or first >= size:
            return self.api.blocks(start, stop)
        n = first // WIDTH
        width = min(WIDTH, size - n * WIDTH)
        bundle = self.api.bundle(n, width)
        if bundle is None:
            if self.options.tiles:
                raise ApiError(f"the API serves no entry bundles (GET /{TileRef(None, n, width).path} answered 404); "
                               "read its JSON pages with --no-tiles")
            return self.api.blocks(start, stop)
        self.source = "entry bundles"
        return self.api.tiles(start, stop, first, size, first_bundle=bundle)

    def _announce_pin(self, genesis: str) -> None:
        if self.options.genesis is not None:
            self.out.write(f"PINNED: genesis {genesis} for {self.url}, as --genesis gave it (state: {self.path})\n")
        else:
            self.out.write(f"TOFU: first use of {self.url}: pinned its genesis {genesis} (state: {self.path}). "
                           "Check it against the genesis hash the operator publishes; later runs refuse any other.\n")

    def _finish(self, memory: ChainStore, head: dict[str, Any], head_hash: str) -> Finish:
        """After the blocks: the head, /keys, the served checkpoints and the origin; pins what is new."""
        state = memory.state
        if head.get("hash") != head_hash or state.hash != head_hash:
            raise VerificationError(state.height, "the head the API announces is not the block it serves")
        published = self.api.get("/keys").get("keys")
        problem = keys_problem(published, memory.sealer_keys())
        if problem:
            raise VerificationError(state.height, problem)
        assert isinstance(published, list)
        vkeys = {key["kid"]: key["vkey"] for key in published if "vkey" in key}
        self._check_remembered_tree(memory)
        finish, verified = self._check_checkpoints(memory, head["header"], vkeys)
        origin = finish.origin or next((parse_vkey(v).name for v in vkeys.values()), None)
        finish.origin = self._settle_origin(memory, origin)
        newest = memory.checkpoint
        if verified is not None and (newest is None or verified.size >= newest.size):
            memory.remember_checkpoint(verified)
        return finish

    def _check_checkpoints(self, memory: ChainStore, header: dict[str, Any],
                           vkeys: dict[str, str]) -> tuple[Finish, TreeRow | None]:
        """The head block's checkpoint and the newest one must agree with the verified headers.

        Returns what to say and the newest tree they verified (to remember once the origin is settled).
        """
        state = memory.state
        head_text = self.api.checkpoint(state.height)
        newest_text = self.api.checkpoint()
        if head_text is None and newest_text is None:
            return Finish(), None
        where = f"/blocks/{state.height}/checkpoint"
        if head_text is None:
            raise LedgerFault("missing checkpoint", f"the API serves /checkpoint but no checkpoint of its head, "
                              f"block {state.height} ({where} answered 404)")
        sealer = header["sealer"]
        if sealer not in vkeys:
            raise LedgerFault("bad checkpoint", f"/keys gives no vkey for the sealer key {sealer} of block "
                              f"{state.height}, so its checkpoint cannot be checked")
        verifier = parse_vkey(vkeys[sealer])
        served = checkpoints.open_served(head_text, verifier, where)
        if (served.size, served.root.hex()) != (state.log_size, state.log_root):
            raise LedgerFault("bad checkpoint", f"{where} is of {served.size} entries with root {served.root.hex()}, "
                              f"but the verified block {state.height} has {state.log_size} entries and root "
                              f"{state.log_root}")
        verified = checkpoints.tree_of(served, head_text)
        said = f"the head's checkpoint verifies with the vkey of /keys ({checkpoints.describe(verifier)})"
        if newest_text is not None and newest_text != head_text:
            newer, note = self._newest_checkpoint(memory, newest_text, verifier.name, vkeys)
            if newer is not None:
                verified = newer
            if note:
                said += f"; {note}"
        return Finish(origin=verifier.name, checkpoint=said), verified

    def _newest_checkpoint(self, memory: ChainStore, text: bytes, origin: str,
                           vkeys: dict[str, str]) -> tuple[TreeRow | None, str]:
        """/checkpoint when it is not the head's: an older verified block's, or a newer tree consistent with it."""
        state = memory.state
        sealers = {jwk["kid"] for jwk in memory.sealer_keys()}
        signed = checkpoints.signers(text, "/checkpoint")
        known = [parse_vkey(v) for kid, v in vkeys.items() if kid in sealers]
        verifier = next((v for v in known if (v.name, v.key_id) in signed), None)
        if verifier is None:
            # A key the verified chain does not hold yet may seal a block added since the head was read.
            served = _checkpoint_size(text)
            if served is not None and served > state.log_size:
                return None, (f"/checkpoint (of {served} entries, newer than the verified head) is signed by no "
                              "sealer key of the verified chain: not checked")
            raise LedgerFault("bad checkpoint", f"/checkpoint has no signature by a sealer key of the verified chain "
                              f"under the origin {origin}")
        if verifier.name != origin:
            raise LedgerFault("bad checkpoint", f"/checkpoint is signed under the name {verifier.name}, not the "
                              f"origin {origin}")
        tree = checkpoints.tree_of(checkpoints.open_served(text, verifier, "/checkpoint"), text)
        if tree.size <= state.log_size:
            row = memory.block_of_size(tree.size)
            if row is None or row.log_root != tree.root:
                shown = "no verified block has that size" if row is None else f"the verified block of that size " \
                                                                                f"has root {row.log_root}"
                raise LedgerFault("bad checkpoint", f"/checkpoint is of {tree.size} entries with root {tree.root}, "
                                  f"but {shown}")
            if tree.size == state.log_size:
                return None, ""  # the head's, with other cosignatures
            return None, f"/checkpoint is the verified block's of {tree.size} entries, older than the head"
        record = next((memory.get(kid) for kid, v in vkeys.items() if kid in sealers and parse_vkey(v) == verifier),
                      None)
        if record is not None and record.revoked is not None:
            # a revoked key seals nothing after its revocation, so it vouches for no tree beyond the head
            raise LedgerFault("bad checkpoint", f"/checkpoint, of {tree.size} entries beyond the verified head, is "
                              f"signed by a sealer key revoked at entry {record.revoked}")
        head = TreeRow(state.log_size, state.log_root)
        relation = checkpoints.compare(head, tree, self._consistency_proof, "/checkpoint")
        return tree, f"/checkpoint, of {tree.size} entries sealed since the head was read, is {relation}"

    def _consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        return self.api.get("/proofs/consistency", first=first, second=second)

    def _check_remembered_tree(self, memory: ChainStore) -> None:
        """The last checkpoint verified for this URL must be a tree of the verified chain."""
        remembered, state = memory.checkpoint, memory.state
        if remembered is None:
            return
        if remembered.size > state.log_size:
            raise LedgerFault("rollback", f"the API's chain holds {state.log_size} entries (head at height "
                              f"{state.height}, {state.hash}), but a checkpoint of {remembered.size} entries (root "
                              f"{remembered.root}) was verified before")
        row = memory.block_of_size(remembered.size)
        if row is None or row.log_root != remembered.root:
            shown = (f"no block of the API's chain holds {remembered.size} entries" if row is None
                     else f"the API's block of {remembered.size} entries has root {row.log_root}")
            raise LedgerFault("fork", f"the checkpoint of {remembered.size} entries verified before has root "
                              f"{remembered.root}, but {shown}")

    def _settle_origin(self, memory: ChainStore, served: str | None) -> str | None:
        """The API's origin against --origin and the pin; pinned on first use. The origin in force."""
        wanted, pinned = self.options.origin, memory.origin
        if served is not None:
            if wanted is not None and wanted != served:
                raise LedgerFault("different origin", f"--origin {wanted}, but the API's origin (its checkpoints' "
                                  f"key name) is {served}")
            if pinned is not None and pinned != served:
                raise LedgerFault("different origin", f"the API's origin is {served}, but the pinned origin is "
                                  f"{pinned}; if the operator really started a new log, run "
                                  f"`covenant-verify forget --api {self.url}`")
            problem = checkpoints.local_origin_problem(served, memory.genesis)
            if problem:
                raise LedgerFault("different origin", problem)
        if pinned is None:
            origin = served or wanted
            if origin is not None:
                memory.pin_origin(origin)
                self._announce_origin(origin, served is not None)
            return origin
        return pinned

    def _announce_origin(self, origin: str, served: bool) -> None:
        if self.options.origin is not None:
            checked = "" if served else " (the API serves no checkpoints yet: it will be checked when it does)"
            self.out.write(f"PINNED: origin {origin} for {self.url}, as --origin gave it{checked} "
                           f"(state: {self.path})\n")
        else:
            self.out.write(f"TOFU: pinned the origin {origin} for {self.url}, the key name of its checkpoints "
                           f"(state: {self.path}). Check it against the origin the operator publishes; later runs "
                           "refuse any other.\n")

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
            if old is not None:
                new.adopt_pins(old)
            contradicted = False
            try:
                blocks, entries = self._advance(new, height, int(head["header"]["log_size"]), old)
                finish = self._finish(new, head, head_hash)
                new.mark_verified()
                return _result(new, started, blocks, entries, self.source, finish)
            except LedgerFault:
                contradicted = True
                raise
            finally:
                # Keep what was verified, unless that would forget a head verified before, or the API
                # contradicts what was pinned or checked before (then nothing it served is kept).
                if not contradicted and new.state.height >= (old.state.height if old is not None else 0):
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
            self._advance(store, height, int(head["header"]["log_size"]), None)
            self._finish(store, head, head_hash)
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
            path = checkpoints.proof_path(proof.get("path"))
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
                path = checkpoints.proof_path(proof.get("path"))
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

    # -- the log's checkpoint alone

    def checkpoint(self, verifier: Verifier, witnesses: list[Verifier] | None = None, quorum: int = 0) -> str:
        with StateLock(lock_path(self.path)):
            store = ChainStore.open(self.path, self.url, create=True)
            assert store is not None
            try:
                said = self._checkpoint(store, verifier, witnesses or [], quorum)
                store.commit()
                return said
            finally:
                store.close()

    def _checkpoint(self, store: ChainStore, verifier: Verifier, witnesses: list[Verifier], quorum: int) -> str:
        """GET /checkpoint: signed by ``verifier``, of the pinned origin, cosigned by ``quorum`` of ``witnesses``
        (when any are given), and consistent with the newest tree verified."""
        self._check_origin_option(store)
        wanted, pinned = self.options.origin, store.origin
        for name, origin in (("--origin", wanted), ("the origin pinned for " + self.url, pinned)):
            if origin is not None and origin != verifier.name:
                raise LedgerFault("different origin", f"--vkey is a key of the origin {verifier.name}, but {name} is "
                                  f"{origin}")
        text = self.api.checkpoint()
        if text is None:
            raise ApiError("GET /checkpoint answered 404: the API serves no checkpoints")
        served = checkpoints.open_served(text, verifier, "/checkpoint")
        cosigned = self._witnessed(text, witnesses, quorum) if witnesses else ""
        new = checkpoints.tree_of(served, text)
        old = store.newest_tree()
        relation = checkpoints.compare(old, new, self._consistency_proof)
        self._settle_origin(store, served.origin)
        remembered = store.checkpoint
        if remembered is None or new.size >= remembered.size:
            store.remember_checkpoint(new)
        if old is None:
            relation = f"the first checkpoint verified for {self.url}"
        return (f"checkpoint of {new.size} entries (root {new.root}) signed by {checkpoints.describe(verifier)}; "
                f"{cosigned}{relation}")

    @staticmethod
    def _witnessed(text: bytes, witnesses: list[Verifier], quorum: int) -> str:
        """LedgerFault unless ``quorum`` distinct ``witnesses`` cosigned the (log-verified) checkpoint ``text``."""
        note = parse_note(text)
        try:
            cosigners = checkpoints.cosigned_by(note, witnesses, int(time.time()))
        except NoteError as exc:
            raise LedgerFault("bad cosignature", f"/checkpoint: {exc}") from exc
        count = checkpoints.witness_count(cosigners, checkpoints.distinct_witnesses(witnesses))
        if len(cosigners) < quorum:
            raise LedgerFault("no quorum", f"/checkpoint is cosigned by {count}, but --quorum is {quorum}")
        return f"cosigned by {count}, quorum {quorum}; "

    # -- state on its own

    def forget(self) -> str:
        with StateLock(lock_path(self.path)):
            store = ChainStore.open(self.path, self.url)
            info = store.info() if store is not None else None
            if store is not None:
                store.close()
            forget(self.path)
        if info is None or (info["genesis"] is None and info["origin"] is None and info["checkpoint"] is None):
            return f"nothing was pinned for {self.url}"
        return (f"forgot {self.url}: pinned genesis {info['genesis']}, origin {info['origin']}, verified up to "
                f"height {info['height']} ({self.path} deleted)")

    def describe(self) -> str:
        store = ChainStore.open(self.path, self.url)
        if store is None:
            return f"nothing is pinned for {self.url} ({self.path})"
        try:
            info = store.info()
        finally:
            store.close()

        def when(ms: str | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ms or 0) / 1000))

        genesis = f"genesis {info['genesis']} pinned" if info["genesis"] else "no genesis pinned"
        origin = f"origin {info['origin']} pinned" if info["origin"] else "no origin pinned"
        checkpoint = info["checkpoint"]
        checked = (f"last checkpoint verified: {checkpoint[0]} entries, root {checkpoint[1]}, at "
                   f"{when(info['checkpoint_ms'])}" if checkpoint else "no checkpoint verified")
        return (f"{self.url}: {genesis}; {origin}; verified up to height {info['height']} "
                f"({info['log_size']} entries, head {info['hash']}) at {when(info['verified_ms'])}; {checked}; "
                f"state {self.path}")


def list_cosigners(api: LedgerApi) -> str:
    """GET /cosigners as lines for a --witness-vkeys-file: each active cosigner's vkey, retired ones commented."""
    answer = api.get("/cosigners")
    listed = answer.get("cosigners")
    if not isinstance(listed, list):
        raise ApiError("GET /cosigners did not answer {\"cosigners\": [...]}")
    lines = []
    for number, cosigner in enumerate(listed):
        problem = _cosigner_problem(cosigner)
        if problem:
            raise ApiError(f"GET /cosigners: cosigner {number}: {problem}")
        retired = cosigner.get("retired")
        said = f"# {cosigner['id']}: registered at entry {cosigner['registered']}"
        if retired is None:
            lines += [said, cosigner["vkey"]]
        else:
            lines += [f"{said}, retired at entry {retired}", f"# {cosigner['vkey']}"]
    return "".join(line + "\n" for line in lines)


def _cosigner_problem(cosigner: Any) -> str | None:
    """Why one member of GET /cosigners is not ``{id, name, vkey, registered, retired}`` of a sub-chain's key."""
    from ..ledger.cosigners import SUBCHAIN_ID, subchain_id

    if not isinstance(cosigner, dict):
        return "not a JSON object"
    sub_id, name, vkey = cosigner.get("id"), cosigner.get("name"), cosigner.get("vkey")
    if not isinstance(sub_id, str) or not SUBCHAIN_ID.match(sub_id) or not isinstance(name, str) \
            or not isinstance(vkey, str):
        return "id, name and vkey are strings, the id sc- and 16 hex digits"
    for member in ("registered", "retired"):
        value = cosigner.get(member)
        if not (type(value) is int and value >= 0) and not (member == "retired" and value is None):
            return f"{member} is an entry index" + (" or null" if member == "retired" else "")
    try:
        verifier = parse_vkey(vkey)
    except NoteError as exc:
        return f"vkey: {exc}"
    if verifier.key_type != COSIGNATURE_V1 or verifier.name != name or subchain_id(verifier.public) != sub_id \
            or not name.endswith(f"/subchain/{sub_id}"):
        return "the vkey is not the cosignature/v1 key named <origin>/subchain/<id> of the sub-chain's id"
    return None


def _checkpoint_size(text: bytes) -> int | None:
    """The size a note's body claims, unverified (to tell a checkpoint newer than the verified head)."""
    try:
        lines = text.decode("utf-8").split("\n")
        return int(lines[1]) if len(lines) > 1 and lines[1].isascii() and lines[1].isdigit() else None
    except (UnicodeDecodeError, ValueError):
        return None


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


def _origin(value: str) -> str:
    problem = origin_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _vkey(value: str) -> Verifier:
    try:
        verifier = parse_vkey(value)
    except NoteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if verifier.key_type != ED25519:
        raise argparse.ArgumentTypeError("a log's vkey has the Ed25519 type byte 0x01 (0x04 is a cosigner's)")
    problem = origin_problem(verifier.name)
    if problem:
        raise argparse.ArgumentTypeError(f"a log's vkey is named by its origin: {problem}")
    return verifier


def _witness_vkey(value: str) -> Verifier:
    try:
        verifier = parse_vkey(value)
    except NoteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if verifier.key_type != COSIGNATURE_V1:
        raise argparse.ArgumentTypeError("a witness's vkey has the cosignature/v1 type byte 0x04 (0x01 is a log's)")
    return verifier


def _witness_file(path: str) -> list[Verifier]:
    """The vkeys of a --witness-vkeys-file: one a line; blank lines and '#' comments skipped. ValueError if bad."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--witness-vkeys-file {path}: {exc}") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(_witness_vkey(line))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--witness-vkeys-file {path}, line {number}: {exc}") from exc
    return out


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a quorum is a whole number") from exc
    if number < 0:
        raise argparse.ArgumentTypeError("a quorum is 0 or more")
    return number


def _settle_witnesses(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Gather --witness-vkey and --witness-vkeys-file into ``args.witnesses`` and hold --quorum to them."""
    witnesses = list(args.witness_vkeys)
    for path in args.witness_files:
        try:
            witnesses += _witness_file(path)
        except ValueError as exc:
            parser.error(str(exc))
    distinct = len(checkpoints.distinct_witnesses(witnesses))
    if witnesses and args.quorum is None:
        parser.error(f"--quorum is required with witnesses ({distinct} given): say how many of them must cosign")
    quorum = args.quorum or 0
    if quorum > distinct:
        parser.error(f"--quorum {quorum} is more than the {distinct} distinct witness keys given: no checkpoint "
                     "could meet it")
    args.witnesses, args.quorum = witnesses, quorum


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
                          help="where the pins, last checkpoint and verified head of each URL are kept "
                               "(default $XDG_CONFIG_HOME/covenant/verify or ~/.config/covenant/verify)")
    origin = argparse.ArgumentParser(add_help=False)
    origin.add_argument("--origin", type=_origin, help="the log's origin you trust (its checkpoints' key name)")
    pinned = argparse.ArgumentParser(add_help=False, parents=[origin])
    pinned.add_argument("--genesis", type=_genesis, help="the genesis block hash you trust")
    pinned.add_argument("--jobs", type=_positive(int), default=None,
                        help="threads that verify the entries' Ed25519 signatures together (default: one per core, "
                             "at most 4; 1: the verifier's own thread only)")
    commands = parser.add_subparsers(dest="command", required=True)

    chain = commands.add_parser("chain", parents=[reading, stateful, pinned], help="verify every block and entry")
    source = chain.add_mutually_exclusive_group(required=True)
    source.add_argument("--api", help="base URL of the public API")
    source.add_argument("--file", help="a JSON-lines export, one block per line (no state is kept)")
    bar = chain.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    tiles = chain.add_mutually_exclusive_group()
    tiles.add_argument("--tiles", dest="tiles", action="store_true", default=None,
                       help="read the entries from the C2SP entry bundles (the default when the API serves them)")
    tiles.add_argument("--no-tiles", dest="tiles", action="store_false",
                       help="read the entries from the JSON pages of GET /blocks/{h}")

    check = commands.add_parser("checkpoint", parents=[reading, stateful, origin],
                                help="check the log's signed checkpoint and its consistency with the last one")
    check.add_argument("--api", required=True)
    check.add_argument("--vkey", type=_vkey, required=True,
                       help="the log's C2SP verifier key, <origin>+<key ID>+<base64 key> (GET /keys shows it)")
    check.add_argument("--witness-vkey", dest="witness_vkeys", type=_witness_vkey, action="append", default=[],
                       metavar="VKEY", help="a witness (cosigner) key you trust, <name>+<key ID>+<base64 of 0x04 "
                                            "and the key>; repeatable")
    check.add_argument("--witness-vkeys-file", dest="witness_files", action="append", default=[], metavar="FILE",
                       help="witness keys you trust, one vkey a line ('#' starts a comment); repeatable")
    check.add_argument("--quorum", type=_count, default=None, metavar="K",
                       help="how many distinct witnesses given must have cosigned the checkpoint (required with "
                            "witnesses; 0 without)")

    inclusion = commands.add_parser("inclusion", parents=[reading, stateful, pinned],
                                    help="prove one entry is in the verified log")
    inclusion.add_argument("--api", required=True)
    inclusion.add_argument("--entry", required=True, help="the entry id")
    consistency = commands.add_parser("consistency", parents=[reading, stateful, pinned],
                                      help="prove one block's log is a prefix of another's")
    consistency.add_argument("--api", required=True)
    consistency.add_argument("--from", dest="first", type=int, required=True, help="the earlier block height")
    consistency.add_argument("--to", dest="second", type=int, required=True, help="the later block height")
    for command in (inclusion, consistency, check):
        command.set_defaults(progress=None)
    listed = commands.add_parser("cosigners", parents=[reading],
                                 help="print the witness (sub-chain) keys the log lists, for a --witness-vkeys-file")
    listed.add_argument("--api", required=True)
    dump = commands.add_parser("export", parents=[reading], help="save every block as JSON lines")
    dump.add_argument("--api", required=True)
    dump.add_argument("--out", required=True)
    state = commands.add_parser("state", parents=[stateful], help="show what is pinned and verified for a URL")
    state.add_argument("--api", required=True)
    drop = commands.add_parser("forget", parents=[stateful],
                               help="forget a URL's pins, checkpoint and verified head (a new chain at that URL)")
    drop.add_argument("--api", required=True)
    return parser


def _rate(result: ChainResult) -> str:
    return f"{result.checked_entries / max(result.seconds, 1e-9):,.0f} entries/s"


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    limits = Limits(timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                    max_bytes=getattr(args, "max_bytes", DEFAULT_MAX_BYTES))
    if args.command == "chain" and args.file:
        result = verify_blocks(read_dump(args.file), Progress(0, err, bool(args.progress)), args.genesis,
                               threads=args.jobs or ahead.default_threads())
        pin = "matches --genesis" if args.genesis else "not pinned: pass --genesis to check it"
        out.write(f"OK: {result.blocks} blocks and {result.entries} entries verified ({_rate(result)}); "
                  f"genesis {result.genesis} ({pin}); head {result.head_hash}\n")
        return
    if args.command == "export":
        exported = export(LedgerApi(args.api, limits), args.out)
        out.write(f"OK: exported {exported} blocks to {args.out}\n")
        return
    if args.command == "cosigners":
        listing = list_cosigners(LedgerApi(args.api, limits))
        err.write("covenant-verify: these are the keys the log itself lists, and trusting them is trusting the log: "
                  "keep in your --witness-vkeys-file only witnesses you know by other means (their operators, "
                  "keys they publish themselves)\n")
        out.write(listing)
        return
    options = Options(state_dir=args.state_dir or default_state_dir(), genesis=getattr(args, "genesis", None),
                      origin=getattr(args, "origin", None), progress=getattr(args, "progress", None),
                      tiles=getattr(args, "tiles", None), threads=getattr(args, "jobs", None), limits=limits,
                      legacy_dir=None if args.state_dir else legacy_state_dir())
    run = Run(args.api, options, out, err)
    if args.command == "chain":
        result = run.chain()
        origin = f"origin {result.origin} (pinned)" if result.origin else "no origin served"
        out.write(f"OK: {result.blocks} blocks and {result.entries} entries verified ({_rate(result)}, "
                  f"{result.source}); genesis {result.genesis} (pinned); head {result.head_hash}; {origin}; "
                  f"{result.checkpoint}\n")
    elif args.command == "checkpoint":
        out.write("OK: " + run.checkpoint(args.vkey, args.witnesses, args.quorum) + "\n")

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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "chain" and args.file and (args.origin is not None or args.tiles is not None):
        parser.error("--origin, --tiles and --no-tiles need --api (an export holds no checkpoints nor tiles)")
    if args.command == "checkpoint":
        _settle_witnesses(parser, args)
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
