"""covenant-verify: check a Covenant ledger without trusting its operator.

    covenant-verify chain --api URL [--genesis HASH]      every block, entry and signature
    covenant-verify chain --file DUMP.jsonl               the same, offline, from an export
    covenant-verify inclusion --api URL --entry ID        one entry is in the signed log
    covenant-verify consistency --api URL --from H1 --to H2   the log at H1 is a prefix of H2
    covenant-verify export --api URL --out DUMP.jsonl     save every block for offline checks

Exit status: 0 verified; 1 the ledger is wrong (the first bad height or entry
is named); 2 the ledger could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from ..ledger import merkle
from ..ledger.format import entry_leaf, header_bytes, header_problem
from ..ledger.keys import KeyFormatError, public_key_from_jwk, signature_valid
from ..ledger.verify import ChainState, MemoryKeyBook, MemoryNonceBook, VerificationError, verify_block
from .client import ApiError, LedgerApi

OK, BAD, UNREADABLE = 0, 1, 2


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
            filled = int(width * done / self.total)
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
    sealer_keys: list[dict[str, Any]]
    seconds: float


def verify_blocks(blocks: Iterable[dict[str, Any]], progress: Progress | None = None,
                  genesis: str | None = None) -> ChainResult:
    """Verify blocks from genesis on; raises VerificationError at the first fault."""
    start = time.perf_counter()
    state, keys, nonces, seen = ChainState.empty(), MemoryKeyBook(), MemoryNonceBook(), set[str]()
    entries = 0
    for block in blocks:
        outcome = verify_block(state, block, keys, nonces, seen)
        nonces.remember(outcome.nonces)
        if outcome.state.height == 0 and genesis is not None and outcome.state.hash != genesis:
            raise VerificationError(0, f"the genesis hash is {outcome.state.hash}, not the pinned {genesis}")
        keys.update(outcome.keys)
        state = outcome.state
        entries += len(block["entries"])
        if progress is not None:
            progress.update(state.height + 1, entries)
    if state.height < 0:
        raise VerificationError(0, "there is no genesis block")
    if progress is not None:
        progress.update(state.height + 1, entries, force=True)
        progress.close()
    sealers = [r.jwk for r in sorted(keys.records.values(), key=lambda r: r.added) if r.sealer]
    return ChainResult(state.height + 1, entries, state.hash, sealers, time.perf_counter() - start)


def read_dump(path: str) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise VerificationError(number - 1, f"line {number} of {path} is not JSON") from exc


def _checked_header(block: dict[str, Any], keys: list[dict[str, Any]]) -> dict[str, Any]:
    """A header whose signature verifies under one of the published sealer keys."""
    header = block.get("header")
    problem = header_problem(header)
    height = header.get("height", -1) if isinstance(header, dict) else -1
    if problem:
        raise VerificationError(height, problem)
    assert isinstance(header, dict)
    jwk = next((k for k in keys if isinstance(k, dict) and k.get("kid") == header["sealer"]), None)
    if jwk is None:
        raise VerificationError(height, "the sealer key is not published at /keys")
    try:
        valid = signature_valid(public_key_from_jwk(jwk), block.get("sig"), header_bytes(header))
    except KeyFormatError as exc:
        raise VerificationError(height, f"the published sealer key is malformed: {exc}") from exc
    if not valid:
        raise VerificationError(height, "the block signature does not verify")
    return header


def _hashes(values: Any, height: int) -> list[bytes]:
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise VerificationError(height, "the proof is not a list of hex hashes") from exc


def check_inclusion(api: LedgerApi, entry_id: str) -> str:
    from urllib.parse import quote

    found = api.get(f"/entries/{quote(entry_id, safe='')}")
    entry, index, height = found["entry"], found["index"], found["height"]
    if not isinstance(entry, dict) or entry.get("id") != entry_id:
        raise VerificationError(height, "the API answered another entry", index=index, entry_id=entry_id)
    head = api.head()
    header = _checked_header(head, api.get("/keys")["keys"])
    size = header["log_size"]
    if not 0 <= index < size:
        raise VerificationError(header["height"], f"index {index} is outside the signed log of {size}")
    proof = api.get("/proofs/inclusion", index=index, size=size)
    if proof.get("leaf_index") != index or proof.get("tree_size") != size:
        raise VerificationError(header["height"], "the proof is for another leaf or tree")
    try:
        merkle.verify_inclusion(index, size, entry_leaf(entry), _hashes(proof.get("path"), header["height"]),
                                bytes.fromhex(header["log_root"]))
    except merkle.ProofError as exc:
        raise VerificationError(header["height"], f"inclusion: {exc}", index=index, entry_id=entry_id) from exc
    return (f"entry {entry_id} is leaf {index} of the log of {size} entries signed at height "
            f"{header['height']} (block {height})")


def check_consistency(api: LedgerApi, first_height: int, second_height: int) -> str:
    if first_height > second_height:
        raise ValueError("--from must not exceed --to")
    keys = api.get("/keys")["keys"]
    first = _checked_header(api.get(f"/blocks/{first_height}", limit=1), keys)
    second = _checked_header(api.get(f"/blocks/{second_height}", limit=1), keys)
    m, n = first["log_size"], second["log_size"]
    path: list[bytes] = []
    if m != n:
        proof = api.get("/proofs/consistency", first=m, second=n)
        if proof.get("first") != m or proof.get("second") != n:
            raise VerificationError(second_height, "the proof is for other sizes")
        path = _hashes(proof.get("path"), second_height)
    try:
        merkle.verify_consistency(m, n, bytes.fromhex(first["log_root"]), bytes.fromhex(second["log_root"]), path)
    except merkle.ProofError as exc:
        raise VerificationError(second_height, f"consistency with height {first_height}: {exc}") from exc
    return f"the log at height {first_height} ({m} entries) is a prefix of the log at height {second_height} ({n})"


def locate_changed_entry(api: LedgerApi, error: VerificationError) -> VerificationError:
    """Name the entry behind a log_root mismatch: the first whose inclusion proof fails.

    The block's signed header fixes the root; the operator's stored Merkle
    nodes yield each proof. An entry whose leaf does not lead to the signed
    root is one that changed (or the proof did: either way, that entry).
    """
    block = api.block(error.height)
    header = block["header"]
    size, root = header["log_size"], bytes.fromhex(header["log_root"])
    first = size - header["count"]
    for offset, entry in enumerate(block["entries"]):
        index = first + offset
        proof = api.get("/proofs/inclusion", index=index, size=size)
        try:
            merkle.verify_inclusion(index, size, entry_leaf(entry), _hashes(proof.get("path"), error.height), root)
        except (merkle.ProofError, VerificationError, ValueError):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            return VerificationError(error.height, "the entry does not match the signed log_root "
                                     "(its inclusion proof fails)", index=index, entry_id=entry_id)
    return error


def verify_chain_via_api(api: LedgerApi, genesis: str | None, show_progress: bool | None,
                         stream: TextIO) -> ChainResult:
    head = api.head()
    total = head["header"]["height"] + 1
    enabled = stream.isatty() and total >= 10 if show_progress is None else show_progress
    try:
        result = verify_blocks(api.blocks(0, total), Progress(total, stream, enabled), genesis)
    except VerificationError as exc:
        if exc.index is None and exc.reason.startswith("log_root"):
            raise locate_changed_entry(api, exc) from exc
        raise
    if result.head_hash != head.get("hash"):
        raise VerificationError(total - 1, "the head the API announces is not the block it serves")
    published = api.get("/keys")["keys"]
    if sorted(json.dumps(k, sort_keys=True) for k in published) != sorted(
            json.dumps(k, sort_keys=True) for k in result.sealer_keys):
        raise VerificationError(total - 1, "/keys does not list exactly the sealer keys in the ledger")
    return result


def export(api: LedgerApi, out: str) -> int:
    total = int(api.head()["header"]["height"]) + 1
    with open(out, "w", encoding="utf-8") as handle:
        for block in api.blocks(0, total):
            handle.write(json.dumps(block, separators=(",", ":"), ensure_ascii=False) + "\n")
    return total


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covenant-verify", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    chain = commands.add_parser("chain", help="verify every block and entry")
    source = chain.add_mutually_exclusive_group(required=True)
    source.add_argument("--api", help="base URL of the public API")
    source.add_argument("--file", help="a JSON-lines export, one block per line")
    chain.add_argument("--genesis", help="the genesis block hash you trust")
    bar = chain.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    inclusion = commands.add_parser("inclusion", help="prove one entry is in the signed log")
    inclusion.add_argument("--api", required=True)
    inclusion.add_argument("--entry", required=True, help="the entry id")
    consistency = commands.add_parser("consistency", help="prove one block's log extends another's")
    consistency.add_argument("--api", required=True)
    consistency.add_argument("--from", dest="first", type=int, required=True, help="the earlier block height")
    consistency.add_argument("--to", dest="second", type=int, required=True, help="the later block height")
    dump = commands.add_parser("export", help="save every block as JSON lines")
    dump.add_argument("--api", required=True)
    dump.add_argument("--out", required=True)
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if args.command == "chain":
            if args.file:
                result = verify_blocks(read_dump(args.file), Progress(0, stderr, bool(args.progress)), args.genesis)
            else:
                result = verify_chain_via_api(LedgerApi(args.api), args.genesis, args.progress, stderr)
            rate = result.entries / max(result.seconds, 1e-9)
            stdout.write(f"OK: {result.blocks} blocks and {result.entries} entries verified "
                         f"({rate:,.0f} entries/s); head {result.head_hash}\n")
        elif args.command == "inclusion":
            stdout.write("OK: " + check_inclusion(LedgerApi(args.api), args.entry) + "\n")
        elif args.command == "consistency":
            stdout.write("OK: " + check_consistency(LedgerApi(args.api), args.first, args.second) + "\n")
        else:
            exported = export(LedgerApi(args.api), args.out)
            stdout.write(f"OK: exported {exported} blocks to {args.out}\n")
    except VerificationError as exc:
        stdout.write(f"FAILED at {exc}\n")
        return BAD
    except (ApiError, OSError, KeyError, TypeError, ValueError) as exc:
        stderr.write(f"covenant-verify: cannot read the ledger: {exc}\n")
        return UNREADABLE
    return OK


if __name__ == "__main__":
    raise SystemExit(main())
