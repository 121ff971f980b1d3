"""Covenant benchmarks: `make bench` (or `python -m bench [--quick]`). Prints figures; asserts nothing.

Every speed is shown beside a baseline measured in the same run on the same
bytes, so figures from different machines can be compared as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, {platform.system()}"


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<52} {value:>16}  {note}")


def median_time(action: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# --- environments -------------------------------------------------------------

def in_process_aws():
    """A context manager: mock_aws with every resource and a started chain."""
    import contextlib

    @contextlib.contextmanager
    def context():
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL"):
                del os.environ[name]
        os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "COVENANT_PREFIX": "covenant-bench",
                           "POWERTOOLS_LOG_LEVEL": "ERROR", "COVENANT_MAX_BLOCK_ENTRIES": "1000"})
        from moto import mock_aws

        from devstack import moto_patch
        from devstack.bootstrap import create_resources, reset_process_state, start_chain, write_new_key

        moto_patch.apply()
        with tempfile.TemporaryDirectory() as state, mock_aws():
            key = Path(state) / "key.pem"
            write_new_key(key)
            os.environ["COVENANT_SEALER_KEY"] = f"file:{key}"
            reset_process_state()
            stack = create_resources("covenant-bench", 3)
            os.environ["COVENANT_BLOCKS_TOPIC_ARN"] = stack.topic_arn
            reset_process_state()
            start_chain()
            yield stack
        reset_process_state()

    return context()


def dynamodb_request_counter():
    """Counts DynamoDB requests and consumed write capacity, via botocore events."""
    from chalicelib.store.models import dynamodb_client

    counts = {"requests": 0}
    client = dynamodb_client()

    def before(**kwargs):
        counts["requests"] += 1

    client.meta.events.register("before-call.dynamodb", before)
    return counts


# --- the figures --------------------------------------------------------------

def bench_append_and_seal(quick: bool) -> None:
    from chalicelib.services.ledger import Draft, commit
    from chalicelib.services.sealer_key import load_signer
    from chalicelib.services.sealing import seal_pending_entries
    from chalicelib.settings import reset_settings

    print("\nAppending and sealing (moto in-process, patched as in the local stack)")
    with in_process_aws():
        reset_settings()
        signer = load_signer()
        n = 300 if quick else 1000
        payload = {"order": "o-123", "amount": 129900, "currency": "EUR", "buyer": "c-42", "seller": "m-7"}
        counter = dynamodb_request_counter()
        start = time.perf_counter()
        for i in range(n):
            commit([Draft("bench.note", "system", {**payload, "n": i})])
        elapsed = time.perf_counter() - start
        row("entries appended per second (1 thread)", f"{n / elapsed:,.0f}/s",
            f"{counter['requests'] / n:.1f} DynamoDB request per append")
        threads = 4
        per = n // threads

        def writer(t: int) -> None:
            for i in range(per):
                commit([Draft("bench.note", "system", {**payload, "t": t, "n": i})])

        workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        row(f"entries appended per second ({threads} threads)", f"{per * threads / elapsed:,.0f}/s",
            "moto serialises every write; DynamoDB spreads ids and 16 queue shards over partitions")
        # drain what is pending, then time one block of exactly 1,000
        while seal_pending_entries(signer).blocks:
            pass
        for i in range(1000):
            commit([Draft("bench.note", "system", {**payload, "n": i})])
        from chalicelib.store import log_bucket

        s3 = {"requests": 0}
        log_bucket.s3_client().meta.events.register(
            "before-call.s3", lambda **_: s3.update(requests=s3["requests"] + 1))
        counter["requests"] = 0
        start = time.perf_counter()
        report = seal_pending_entries(signer)
        elapsed = time.perf_counter() - start
        assert report.entries == 1000 and len(report.blocks) == 1
        row("time to seal and complete one block of 1,000 entries", f"{elapsed * 1000:,.0f} ms",
            f"{counter['requests']} DynamoDB requests, broadcast to 3 replicas included; "
            f"{s3['requests']} S3 requests writing its tiles, bundles and checkpoint")


def bench_verifier_offline(quick: bool) -> None:
    from bench.verifier import bench_offline

    bench_offline(row, quick)
    from chalicelib.ledger.canonical import canonical, reference_canonical
    from tests.chainmaker import ChainMaker

    sample = [e for b in ChainMaker().with_signed_entries(blocks=2, per_block=1000).blocks for e in b["entries"]]
    fast = median_time(lambda: [canonical(e) for e in sample], 3)
    reference = median_time(lambda: [reference_canonical(e) for e in sample[:1000]], 3) * len(sample) / 1000
    row("RFC 8785 fast path", f"{len(sample) / fast:,.0f} entries/s",
        f"{reference / fast:.1f} x the rfc8785 package")


def _write_into(stack) -> None:
    """Point this process's clients at a running local stack's moto server, as a writer would."""
    from devstack.bootstrap import reset_process_state

    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{stack.moto_port}", "COVENANT_PREFIX": "covenant-local",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench"})
    reset_process_state()


def bench_verifier_api(quick: bool) -> None:
    from bench.verifier import bench_through_the_api

    bench_through_the_api(row, quick, _write_into)


def bench_growth(quick: bool) -> None:
    """LOCAL-AWS.md trap 1: the local stack must stay responsive as the ledger grows."""
    import random
    import urllib.request

    print("\nThe local stack as the ledger grows (moto server + chalice local; 4 writer threads)")
    from tests.e2e.test_local_stack import Stack

    step, total = (2500, 10_000) if quick else (5000, 30_000)
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            _write_into(stack)
            from chalicelib.services.ledger import Draft, commit

            ids: list[str] = []

            def writer(start: int, count: int) -> None:
                for i in range(start, start + count):
                    ids.append(commit([Draft("bench.note", "system", {"amount": i, "memo": "growth"})])[0]["id"])

            def get(path: str) -> None:
                with urllib.request.urlopen(stack.api + path) as response:
                    response.read()

            print(f"  {'entries':>8} {'appends/s':>10} {'head ms':>8} {'block ms':>9} {'proof ms':>9} {'entry ms':>9}")
            for done in range(0, total, step):
                threads = [threading.Thread(target=writer, args=(done + t * step // 4, step // 4)) for t in range(4)]
                start = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                rate = step / (time.perf_counter() - start)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    with urllib.request.urlopen(f"{stack.api}/chain/head") as response:
                        head = json.loads(response.read())["header"]
                    if head["log_size"] == done + step + 1:
                        break
                    time.sleep(0.5)
                size, height = head["log_size"], head["height"]
                head_ms = median_time(lambda: get("/chain/head"), 15) * 1000
                block_ms = median_time(lambda h=height: get(f"/blocks/{h}?limit=100"), 15) * 1000
                proof_ms = median_time(
                    lambda n=size: get(f"/proofs/inclusion?index={random.randrange(n)}&size={n}"), 15) * 1000
                entry_ms = median_time(lambda: get(f"/entries/{random.choice(ids)}"), 15) * 1000
                print(f"  {done + step:>8} {rate:>10,.0f} {head_ms:>8.1f} {block_ms:>9.1f} {proof_ms:>9.1f} "
                      f"{entry_ms:>9.1f}")
        finally:
            stack.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)


def bench_lifecycles(quick: bool) -> None:
    from bench.lifecycle import cost_per_lifecycle, lifecycles_on_the_local_stack

    print("\nOrder lifecycles (order, pay, ship with the rebate, confirm)")
    lifecycles_on_the_local_stack(row, quick)
    cost_per_lifecycle(row, in_process_aws)


def bench_reads_by_index(quick: bool) -> None:
    from bench.reads import bench_reads

    bench_reads(row, in_process_aws, quick)


def bench_uploads(quick: bool) -> None:
    from bench.uploads import bench_uploads as run

    run(row, in_process_aws, quick)


def bench_subchains(quick: bool) -> None:
    from bench.subchain import cost_per_entry, time_to_quorum

    cost_per_entry(row, in_process_aws, quick)
    time_to_quorum(row, quick, _write_into)


def bench_cold_import() -> None:
    print("\nCold import (a new interpreter each time; median of 7)")

    def timed(code: str) -> float:
        samples = []
        for _ in range(7):
            out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; "
                                  "print(time.perf_counter() - t)"], cwd=ROOT, capture_output=True, text=True,
                                 check=True, env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
            samples.append(float(out.stdout.strip().splitlines()[-1]))
        return statistics.median(samples)

    boto = timed("import boto3")
    app = timed("import app")
    first = timed("import app, chalicelib.api.bodies, chalicelib.store.dynamo, chalicelib.store.ledger_store, "
                  "chalicelib.services.signed, boto3")
    row("import boto3 (baseline)", f"{boto * 1000:.0f} ms")
    row("import app (Chalice app, every blueprint)", f"{app * 1000:.0f} ms", f"{app / boto:.1f} x import boto3")
    row("  and what the first signed request loads", f"{first * 1000:.0f} ms",
        f"{first / boto:.1f} x import boto3: body models, PynamoDB, boto3, on first use")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", choices=["append", "offline", "api", "growth", "lifecycle", "reads", "uploads",
                                                 "subchains", "import"])
    args = parser.parse_args()
    # Quiet handlers: no per-call logs, and metrics (flushed by the Lambda
    # middleware per invocation) are off outside a handler.
    os.environ.update({"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"})
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("moto").setLevel(logging.ERROR)
    print(f"Covenant benchmarks on {machine()}")
    steps = {"append": lambda: bench_append_and_seal(args.quick), "offline": lambda: bench_verifier_offline(args.quick),
             "api": lambda: bench_verifier_api(args.quick), "growth": lambda: bench_growth(args.quick),
             "lifecycle": lambda: bench_lifecycles(args.quick), "reads": lambda: bench_reads_by_index(args.quick),
             "uploads": lambda: bench_uploads(args.quick), "subchains": lambda: bench_subchains(args.quick),
             "import": bench_cold_import}
    for name, step in steps.items():
        if args.only in (None, name):
            step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
