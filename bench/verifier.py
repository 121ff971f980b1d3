"""covenant-verify's speed: offline against its own baselines, and through the API's tiles and JSON pages.

Every figure is a ratio to baselines measured in the same run, on the same
entries:

- offline, on chains built in memory (every entry signed by a consumer key in
  one, none in the other): entries per second of ``verify_blocks`` with the
  entries' signatures verified in the verifier's thread alone and by one
  thread per core together (``ahead.py``; and, for the record, the two
  alternatives it rejects: worker processes verifying ahead, and a thread
  verifying beside the verifier), against (a) RFC 8785 + SHA-256 of the same
  entries (the least any verifier must do) and (b) one core's Ed25519
  verifications of their signatures;
- through the local stack (``make run``'s moto server and ``chalice local``):
  ``covenant-verify chain`` through the entry bundles (``--tiles``) and
  through the JSON pages (``--no-tiles``), each against the same verifier
  offline (``chain --file``) on an export of the same chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

Row = Callable[..., None]


def _median_rate(count: int, action: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return count / statistics.median(samples)


def _jcs_sha256_rate(entries: list[dict[str, Any]], repeats: int = 5) -> float:
    """(a) RFC 8785 (the project's canonical form) and SHA-256 of each entry, entries per second."""
    from chalicelib.ledger.canonical import canonical

    return _median_rate(len(entries), lambda: [hashlib.sha256(b"\x00" + canonical(e)).digest() for e in entries],
                        repeats)


def _ed25519_rate(entries: list[dict[str, Any]], keys: dict[str, dict[str, str]], repeats: int = 3) -> float:
    """(b) Ed25519 verifications of the entries' auth signatures on one core, per second."""
    import base64

    from chalicelib.ledger.keys import public_key_from_jwk

    signed = [(public_key_from_jwk(keys[e["auth"]["kid"]]), base64.b64decode(e["auth"]["sig"]),
               e["auth"]["base"].encode()) for e in entries if e["auth"] is not None][:5000]

    def verify_all() -> None:
        for key, signature, message in signed:
            key.verify(signature, message)

    return _median_rate(len(signed), verify_all, repeats)


def _chains(blocks: int, per_block: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two chains of the same size: every entry after the first two signed in one, none in the other."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.chainmaker import ChainMaker, signed_auth

    signed, unsigned = ChainMaker(), ChainMaker()
    consumer = Ed25519PrivateKey.generate()
    signed.consumer = consumer
    signed.seal([signed.register_consumer(consumer)])
    unsigned.seal([unsigned.entry({"n": 0, "memo": "padding to the same count"})])
    node = signed.consumer_node
    wallet = f"w-{node[2:]}"
    for b in range(blocks):
        with_auth, without = [], []
        for i in range(per_block):
            body = {"wallet": wallet, "amount": 100 + i}
            data = {**body, "block": b, "n": i, "memo": "bench entry"}
            with_auth.append(signed.entry(data, signed_auth(consumer, body, "/deposits"), actor=node,
                                          entry_type="fiat.deposited"))
            without.append(unsigned.entry(data, entry_type="bench.note"))  # the same data, the program's own
        signed.seal(with_auth)
        unsigned.seal(without)
    return signed.blocks, unsigned.blocks


def bench_offline(row: Row, quick: bool) -> None:
    from chalicelib.verifier import ahead
    from chalicelib.verifier.cli import verify_blocks

    blocks, per_block = (4, 1000) if quick else (10, 1000)
    threads = ahead.default_threads()
    print(f"\nVerifier, offline (chains in memory, {blocks} blocks of {per_block:,} entries; {os.cpu_count()} cores)")
    signed, unsigned = _chains(blocks, per_block)
    keys = {e["data"]["jwk"]["kid"]: e["data"]["jwk"] for b in signed for e in b["entries"] if "jwk" in e["data"]}
    ed25519 = _ed25519_rate([e for b in signed for e in b["entries"]], keys)
    row("(b) Ed25519 verifications, one core", f"{ed25519:,.0f}/s", "pyca/cryptography")
    for name, chain in (("every entry signed", signed), ("no entry signed", unsigned)):
        entries = [e for b in chain for e in b["entries"]]
        jcs = _jcs_sha256_rate(entries)
        row(f"(a) RFC 8785 + SHA-256, {name}", f"{jcs:,.0f}/s",
            f"{sum(len(json.dumps(e)) for e in entries) // len(entries)} bytes per entry")
        modes: list[tuple[str, Callable[[], object]]] = [
            ("one thread", lambda c=chain: verify_blocks(c, threads=1)),
            (f"{threads} threads (the default)", lambda c=chain: verify_blocks(c, threads=threads))]
        if name == "every entry signed":
            modes += [("1 process ahead (rejected)", lambda: _processes_ahead(signed, keys, 1)),
                      ("2 processes ahead (rejected)", lambda: _processes_ahead(signed, keys, 2)),
                      ("a thread beside (rejected)", lambda: _thread_beside(signed, keys))]
        for mode, action in modes:
            rate = _median_rate(len(entries), action, 3)
            row(f"verifier, {name}, {mode}", f"{rate:,.0f} entries/s",
                f"{rate / jcs:.3f} x (a), {rate / ed25519:.2f} x (b)")


def _triples(block: dict[str, Any], keys: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(keys[e["auth"]["kid"]]["x"], e["auth"]["sig"], e["auth"]["base"])
            for e in block["entries"] if e["auth"] is not None and e["auth"]["kid"] in keys]


def _processes_ahead(blocks: list[dict[str, Any]], keys: dict[str, dict[str, str]], workers: int) -> None:
    """Rejected: worker processes (spawned, as a verifier with fetching threads must) verify blocks ahead."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from chalicelib.verifier import ahead
    from chalicelib.verifier.cli import _check_block
    from chalicelib.verifier.state import MemoryChain

    memory = MemoryChain()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(ahead.check, _triples(block, keys)) for block in blocks]
        for block, future in zip(blocks, futures, strict=True):
            triples = _triples(block, keys)
            valid = {t for t, ok in zip(triples, future.result(), strict=True) if ok}
            _check_block(memory, block, None, None, None, verified=valid)


def _thread_beside(blocks: list[dict[str, Any]], keys: dict[str, dict[str, str]]) -> None:
    """Rejected: one thread verifies the next blocks' signatures while the verifier checks the current one."""
    from chalicelib.verifier import ahead
    from chalicelib.verifier.cli import _check_block
    from chalicelib.verifier.state import MemoryChain

    memory = MemoryChain()
    with ThreadPoolExecutor(1) as pool:
        futures = [pool.submit(ahead.check, _triples(block, keys)) for block in blocks]
        for block, future in zip(blocks, futures, strict=True):
            triples = _triples(block, keys)
            valid = {t for t, ok in zip(triples, future.result(), strict=True) if ok}
            _check_block(memory, block, None, None, None, verified=valid)


# --- through the local stack

def _fill_stack(stack: Any, entries: int) -> int:
    """Half signed deposits by one consumer, half system notes, committed into the stack; the log size."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chalicelib.ledger.keys import jwk_of
    from chalicelib.services.ledger import Draft, commit
    from tests.chainmaker import signed_auth

    consumer = Ed25519PrivateKey.generate()
    jwk = jwk_of(consumer.public_key())
    node, body = f"c-{jwk['kid'][:16]}", {"role": "consumer", "jwk": jwk}
    commit([Draft("node.registered", node, {"node": node, **body}, signed_auth(consumer, body, "/nodes"))])
    for i in range(entries - 1):
        if i % 2:
            data = {"wallet": f"w-{jwk['kid'][:16]}", "amount": 100 + i}
            commit([Draft("fiat.deposited", node, data, signed_auth(consumer, data, "/deposits"))])
        else:
            commit([Draft("bench.note", "system", {"amount": 100 + i, "n": i, "memo": "bench entry"})])
    size = entries + 1  # and genesis
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{stack.api}/chain/head") as response:
            if json.loads(response.read())["header"]["log_size"] >= size:
                return size
        time.sleep(0.5)
    raise RuntimeError("the stack did not seal the entries in time")


def _cli(*args: str) -> tuple[int, str, str]:
    from chalicelib.verifier.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def bench_through_the_api(row: Row, quick: bool, write_into: Callable[[Any], None]) -> None:
    from tests.e2e.test_local_stack import Stack

    n = 2000 if quick else 10_000
    print(f"\nVerifier through the API (make run's stack: moto server + chalice local; {n:,} entries, half signed)")
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            write_into(stack)
            size = _fill_stack(stack, n)
            dump = Path(tmp) / "chain.jsonl"
            code, _, err = _cli("export", "--api", stack.api, "--out", str(dump))
            if code != 0:
                raise RuntimeError(f"export failed: {err}")
            blocks = sum(1 for _ in dump.open())
            runs = {"offline": ["chain", "--file", str(dump)],
                    "tiles": ["chain", "--api", stack.api, "--tiles", "--no-progress"],
                    "json": ["chain", "--api", stack.api, "--no-tiles", "--no-progress"]}
            rates: dict[str, float | None] = {}
            for name, argv in runs.items():
                samples = []
                for attempt in range(2 if quick else 3):
                    state = Path(tmp) / f"verifier-{name}-{attempt}"
                    extra = [] if name == "offline" else ["--state-dir", str(state)]
                    start = time.perf_counter()
                    code, out, err = _cli(*argv, *extra)
                    elapsed = time.perf_counter() - start
                    if code != 0:
                        samples = []
                        rates[name] = None
                        row(f"chain ({name})", f"exit {code}", (err or out).strip().splitlines()[-1][:90])
                        break
                    samples.append(elapsed)
                if samples:
                    rates[name] = size / statistics.median(samples)
            offline = rates.get("offline")
            row(f"verifier offline on the export ({size:,} entries, {blocks} blocks)",
                f"{offline:,.0f} entries/s" if offline else "-", "chain --file, the baseline of the two below")
            for name, label in (("tiles", "through the entry bundles (--tiles)"),
                                ("json", "through the JSON pages (--no-tiles)")):
                rate = rates.get(name)
                if rate is not None and offline:
                    row(f"verifier {label}", f"{rate:,.0f} entries/s", f"{rate / offline:.3f} x offline")
            with contextlib.suppress(OSError):
                head = f"{stack.api}/blocks/{blocks // 2}?limit=1"
                bundle = urllib.request.Request(f"{stack.api}/tile/entries/000",
                                                headers={"Accept": "application/octet-stream"})
                for label, target in ((f"one GET /blocks/{{h}}?limit=1 (a header; {blocks} a run)", head),
                                      ("one GET /tile/entries/000 (256 entries)", bundle),
                                      ("one GET /chain/head", f"{stack.api}/chain/head")):
                    probe = _median_rate(1, lambda t=target: urllib.request.urlopen(t).read(), 20)
                    row(label, f"{1000 / probe:.1f} ms", "through chalice local")
        finally:
            stack.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)
