"""Sub-chains: what verifying, keeping and cosigning costs per entry, and how long a block waits for its quorum.

- Cost per entry: the same chain of signed entries fed block by block through
  the one replication core (``receive_block``: verify, keep, cosign the
  checkpoint), on an operator sub-chain's DynamoDB table (moto in-process) and
  on a consumer's SQLite file, against the offline verifier
  (``covenant-verify``'s ``verify_blocks``, one thread) on the same blocks.
- Time to quorum, on the local stack (``make run``'s moto server, ``chalice
  local``, the runner with three operator sub-chains following the API over
  HTTP): for each round one signed request, then the time from the first
  checkpoint that holds its entry (sealed) to the first with two cosignatures
  (quorum 2 of 3), with the sealing latency (request to sealed) as baseline.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = Callable[..., None]


class _Silent:
    """A log that takes every cosignature and serves the maker's checkpoints."""

    def __init__(self, maker: Any):
        self.maker = maker
        self.sent = 0

    def block(self, height: int) -> dict[str, Any] | None:
        return self.maker.blocks[height] if height < len(self.maker.blocks) else None

    def checkpoint(self, height: int) -> str | None:
        return self.maker.records[height].checkpoint

    def submit(self, size: int, line: str) -> None:
        self.sent += 1


def _feed(maker: Any, store: Any, witness: Any) -> float:
    from chalicelib.services.replication import receive_block

    log = _Silent(maker)
    start = time.perf_counter()
    for block in maker.blocks:
        assert receive_block(store, {**block, "kind": "block"}, log, witness) == "applied"
    elapsed = time.perf_counter() - start
    assert log.sent == len(maker.blocks)
    return elapsed


def _sqlite_store(folder: str) -> Any:
    try:
        from chalicelib.client.subchain_store import SqliteSubchainStore  # type: ignore[import-not-found]
    except ImportError:
        return None
    return SqliteSubchainStore(Path(folder) / "subchain.sqlite3")


def cost_per_entry(row: Row, in_process_aws: Callable[[], Any], quick: bool) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chalicelib.services.replication import Witness
    from chalicelib.store.replica_store import ReplicaStore
    from chalicelib.verifier.cli import verify_blocks
    from tests.chainmaker import ChainMaker

    blocks, per_block = (4, 250) if quick else (10, 500)
    maker = ChainMaker().with_signed_entries(blocks=blocks, per_block=per_block)
    entries = sum(len(b["entries"]) for b in maker.blocks)
    print(f"\nSub-chains: verify, keep and cosign ({len(maker.blocks)} blocks, {entries:,} entries, half of them "
          "signed requests)")
    offline = statistics.median(_timed(lambda: verify_blocks(maker.blocks, threads=1)) for _ in range(3))
    row("offline verifier (covenant-verify, one thread)", f"{entries / offline:,.0f} entries/s", "the baseline")
    witness = Witness(Ed25519PrivateKey.generate())
    with in_process_aws():
        elapsed = _feed(maker, ReplicaStore(0), witness)
    row("operator sub-chain (DynamoDB on moto, in-process)", f"{entries / elapsed:,.0f} entries/s",
        f"{elapsed / entries * 1e6:,.0f} us per entry, {elapsed / offline:.1f} x the offline verifier's cost")
    with tempfile.TemporaryDirectory() as folder:
        store = _sqlite_store(folder)
        if store is None:
            row("consumer sub-chain (SQLite)", "n/a", "chalicelib/client/subchain_store.py not present")
            return
        elapsed = _feed(maker, store, witness)
        row("consumer sub-chain (SQLite, WAL)", f"{entries / elapsed:,.0f} entries/s",
            f"{elapsed / entries * 1e6:,.0f} us per entry, {elapsed / offline:.1f} x the offline verifier's cost")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def time_to_quorum(row: Row, quick: bool, write_into: Callable[[Any], None]) -> None:
    """Sealed to quorum (two cosignatures of three) on the local stack, with sealing latency as the baseline."""
    import urllib.request

    from chalicelib.ledger.note import parse_note
    from chalicelib.services.ledger import Draft, commit
    from tests.e2e.test_local_stack import Stack

    rounds = 8 if quick else 20
    print(f"\nSub-chains on the local stack ({rounds} rounds; the runner seals and polls the three sub-chains' "
          "queues every 0.5 s; each sub-chain reads blocks and sends its cosignature over HTTP)")

    def checkpoint(api: str) -> tuple[int, int]:
        with urllib.request.urlopen(f"{api}/checkpoint", timeout=10) as response:
            note = parse_note(response.read().decode())
        return int(note.body.split("\n")[1]), len(note.signatures) - 1

    sealed_after, quorum_after = [], []
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            write_into(stack)
            for i in range(rounds):
                before = checkpoint(stack.api)[0]
                sent = time.perf_counter()
                commit([Draft("bench.note", "system", {"round": i})])
                sealed = quorate = None
                while time.perf_counter() < sent + 60 and quorate is None:
                    size, cosignatures = checkpoint(stack.api)
                    now = time.perf_counter()
                    if size > before:
                        sealed = sealed or now
                        if cosignatures >= 2:
                            quorate = now
                    time.sleep(0.01)
                if sealed is None or quorate is None:
                    raise RuntimeError(f"round {i}: no quorum within 60 s")
                sealed_after.append(sealed - sent)
                quorum_after.append(quorate - sealed)
        finally:
            stack.stop()
    baseline = statistics.median(sealed_after)
    for name, samples in (("entry committed to sealed (baseline)", sealed_after),
                          ("sealed to a quorum of 2 of 3 cosignatures", quorum_after)):
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        row(name, f"{statistics.median(samples) * 1000:,.0f} ms median",
            f"p95 {p95 * 1000:,.0f} ms; {statistics.median(samples) / baseline:.2f} x the baseline's median")
