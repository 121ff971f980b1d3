"""schemathesis against the running API: `chalice local` on a moto server, every check, signed routes signed.

The local stack (`make run`'s runner) starts on free loopback ports. With the
people's client, the stamp node (its key is in the stack's state folder)
deposits money for a consumer, approves a merchant, and the consumer orders
from the merchant; the program starts with the consumers' authorisations.
Then schemathesis runs every one of its checks against GET /openapi.json with
a fixed seed (its configuration in schemathesis.toml beside this file), its
hooks (tests/fuzz/hooks.py) signing each generated request to a signed route
with a registered test key, so the fuzzer reaches the handlers and not only
the signature check. It passes only with no failure (no 5xx, no answer outside
its declared schema, no undocumented status or error code), at least MIN_CASES
requests to the document's operations, every operation called, and every
signed route answering past the signature check at least once.

Alone: ``PYTHONPATH=$PWD .venv/bin/python -m pytest -p no:cacheprovider -s tests/fuzz``;
``COVENANT_FUZZ_SEED`` changes the seed, ``COVENANT_FUZZ_EXAMPLES`` the examples per operation, and
``COVENANT_FUZZ_ARGS`` adds schemathesis options (``--continue-on-failure``, say).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import ROOT, Stack, _cli, _get

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MIN_CASES = 1000
SEED = os.environ.get("COVENANT_FUZZ_SEED", "20261122")
EXAMPLES = os.environ.get("COVENANT_FUZZ_EXAMPLES", "5")


def make_people(stack: Stack, home: Path) -> dict[str, object]:
    """The stamp node, an approved merchant and two consumers, the program running, a deposit and an order."""
    api = stack.api

    def cli(*args: str) -> dict:
        return _cli(home, api, *args)

    cli("--profile", "stamp", "import-key", str(stack.state / "sealer-key.pem"), "--node", "stamp",
        "--wallet", "w-stamp")
    for person in ("alice", "bob"):
        cli("--profile", person, "keys")
        cli("--profile", person, "register", "consumer")
    cli("--profile", "shop", "keys")
    shop = cli("--profile", "shop", "register", "merchant", "--legal-name", "Fuzz Lamps Ltd", "--licence", "FZ-1",
               "--ip", "203.0.113.5", "--contact", "ops@fuzz.example")
    cli("--profile", "stamp", "approve", shop["node"])
    for person in ("alice", "bob"):
        cli("--profile", person, "authorise")
    alice = json.loads((home / "alice" / "profile.json").read_text())
    merchant = _get(f"{api}/nodes/{shop['node']}")
    cli("--profile", "stamp", "deposit", alice["wallet"], "5000.00")
    order = cli("--profile", "alice", "order", shop["node"], "--quantity", "2", "--unit-price", "25.00",
                "--unit-profit", "5.00")
    return {
        "api": api,
        "pems": {name: str(home / profile / "key.pem")
                 for name, profile in (("stamp", "stamp"), ("consumer", "alice"), ("merchant", "shop"))},
        "ids": {"wallet": alice["wallet"], "consumer_node": alice["node"], "merchant_node": shop["node"],
                "merchant_wallet": str(merchant["wallet"]), "order": order["order"]},
    }


class Run:
    """One schemathesis run: its exit code and output, and every answer the hooks logged."""

    def __init__(self, result: subprocess.CompletedProcess[str], answers: list[tuple[str, int]], gaps: list[str]):
        self.code, self.output = result.returncode, result.stdout + result.stderr
        self.answers, self.gaps = answers, gaps

    def statuses(self) -> dict[str, Counter[int]]:
        found: dict[str, Counter[int]] = {}
        for operation, status in self.answers:
            found.setdefault(operation, Counter())[status] += 1
        return found


def run_schemathesis(config: dict[str, object], work: Path, seed: str, examples: str) -> Run:
    """schemathesis's CLI with every check, from ``work`` (its .hypothesis/ folder stays out of the app's tree)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(config))
    log, gaps = work / "answers.log", work / "gaps.log"
    for path in (log, gaps):
        path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
           "COVENANT_FUZZ_CONFIG": str(work / "config.json"), "COVENANT_FUZZ_LOG": str(log),
           "COVENANT_FUZZ_GAPS": str(gaps)}
    result = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
         f"{config['api']}/openapi.json", "--checks", "all", "--max-examples", examples, "--seed", seed,
         "--workers", "1", "--no-color", "--request-timeout", "30", "--max-failures", "50",
         "--suppress-health-check", "all", "--output-sanitize", "false",
         *os.environ.get("COVENANT_FUZZ_ARGS", "").split()],
        cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    lines = log.read_text().splitlines() if log.exists() else []
    answers = [(line.rsplit(" ", 1)[0], int(line.rsplit(" ", 1)[1])) for line in lines]
    return Run(result, answers, gaps.read_text().splitlines() if gaps.exists() else [])


def operations(api: str) -> tuple[set[str], set[str]]:
    """Every operation of the API's document, and the signed ones."""
    paths = _get(f"{api}/openapi.json")["paths"]
    every = {f"{method.upper()} {path}" for path, methods in paths.items() for method in methods}
    signed = {f"{method.upper()} {path}" for path, methods in paths.items() for method, operation in methods.items()
              if any(p["in"] == "header" and p["name"] == "Signature" for p in operation.get("parameters", []))}
    return every, signed


def test_schemathesis_finds_nothing(tmp_path):
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is missing: requirements-dev.txt installs it")
    stack = Stack(tmp_path)
    try:
        config = make_people(stack, tmp_path / "people")
        every, signed = operations(stack.api)
        run = run_schemathesis(config, tmp_path / "schemathesis", SEED, EXAMPLES)
    finally:
        stack.stop()
    statuses = run.statuses()
    summary = "\n".join(f"  {operation}: {dict(sorted(found.items()))}"
                        for operation, found in sorted(statuses.items()))
    print(f"schemathesis: {len(run.answers)} requests, seed {SEED}, {EXAMPLES} examples per operation\n{summary}")
    print(f"failures dropped as gaps in the document ({len(run.gaps)}):\n  " + "\n  ".join(sorted(set(run.gaps))))
    # Then schemathesis found nothing: no 5xx, no answer outside its schema, no undocumented status
    assert run.code == 0, f"schemathesis failed (seed {SEED}, {len(run.answers)} cases):\n{run.output[-30000:]}"
    # over at least MIN_CASES requests to the document's operations (not counting its probes with undeclared
    # methods), reaching every one but the document itself, which schemathesis reads and leaves out
    cases = sum(1 for operation, _ in run.answers if operation in every)
    assert cases >= MIN_CASES, f"only {cases} cases ran (seed {SEED}):\n{run.output[-5000:]}"
    assert every - {"GET /openapi.json"} <= set(statuses), f"never called: {sorted(every - set(statuses))}"
    # and every signed route answered past the signature check at least once: its handler ran
    unsigned = sorted(operation for operation in signed if set(statuses[operation]) <= {401})
    assert not unsigned, f"signed routes that only ever answered 401: {unsigned}\n{summary}"
    assert len(signed) >= 20


if __name__ == "__main__":  # a stack to fuzz by hand: prints the config file, runs until Ctrl-C
    import tempfile
    import time

    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    running = Stack(folder)
    try:
        (folder / "config.json").write_text(json.dumps(make_people(running, folder / "people")))
        print(folder / "config.json", flush=True)
        while True:
            time.sleep(3600)
    finally:
        running.stop()
