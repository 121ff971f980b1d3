"""schemathesis against the running API: `chalice local` on a moto server, every check, signed routes signed.

The local stack (`make run`'s runner) starts on free loopback ports; a stamp
node, an approved merchant and two consumers with money are set up with the
people's client; then schemathesis runs every check of its own against GET
/openapi.json with a fixed seed, its hook (tests/fuzz/hooks.py) signing each
generated request to a signed route with a registered test key, so the fuzzer
reaches the handlers and not only the signature check. It passes only with no
failure (no 5xx, no answer outside its declared schema, no undocumented status
or error code) and at least MIN_CASES cases sent. COVENANT_FUZZ_SEED and
COVENANT_FUZZ_EXAMPLES change the seed and the examples per operation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import Stack, _cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MIN_CASES = 1000
SEED = os.environ.get("COVENANT_FUZZ_SEED", "20261122")
EXAMPLES = os.environ.get("COVENANT_FUZZ_EXAMPLES", "25")


def _people(stack: Stack, home: Path) -> dict[str, str]:
    """The stamp node, an approved merchant and a funded consumer, made with the people's client."""
    api = stack.api
    _cli(home, api, "--profile", "stamp", "import-key", str(stack.state / "sealer-key.pem"), "--node", "stamp",
         "--wallet", "w-stamp")
    for person in ("alice", "bob"):
        _cli(home, api, "--profile", person, "keys")
        _cli(home, api, "--profile", person, "register", "consumer")
    for person in ("alice", "bob"):
        _cli(home, api, "--profile", person, "authorise")
    _cli(home, api, "--profile", "shop", "keys")
    shop = _cli(home, api, "--profile", "shop", "register", "merchant", "--legal-name", "Fuzz Lamps Ltd", "--licence",
                "FZ-1", "--ip", "203.0.113.5", "--contact", "ops@fuzz.example")
    _cli(home, api, "--profile", "stamp", "approve", shop["node"])
    alice = json.loads((home / "alice" / "profile.json").read_text())
    _cli(home, api, "--profile", "stamp", "deposit", alice["wallet"], "5000.00")
    return {"stamp": str(home / "stamp" / "key.pem"), "consumer": str(home / "alice" / "key.pem"),
            "merchant": str(home / "shop" / "key.pem")}


def test_schemathesis_finds_nothing(tmp_path):
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is missing: requirements-dev.txt installs it")
    stack = Stack(tmp_path)
    try:
        keys = tmp_path / "keys.json"
        keys.write_text(json.dumps({"api": stack.api, "pems": _people(stack, tmp_path / "people")}))
        count = tmp_path / "count"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
               "COVENANT_FUZZ_KEYS": str(keys), "COVENANT_FUZZ_COUNT": str(count)}
        work = tmp_path / "schemathesis"  # its .hypothesis/ folder, away from the app's tree
        work.mkdir()
        result = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
             f"{stack.api}/openapi.json", "--checks", "all", "--max-examples", EXAMPLES,
             "--seed", SEED, "--workers", "1", "--no-color", "--request-timeout", "30",
             "--max-failures", "20", *os.environ.get("COVENANT_FUZZ_ARGS", "").split()],
            cwd=work, env=env, capture_output=True, text=True, timeout=1500)
        output = result.stdout + result.stderr
        cases = len(count.read_text().splitlines()) if count.exists() else 0
        assert result.returncode == 0, f"schemathesis failed (seed {SEED}):\n{output[-20000:]}"
        assert cases >= MIN_CASES, f"only {cases} cases ran:\n{output[-5000:]}"
        print(f"schemathesis: {cases} cases, seed {SEED}")
    finally:
        stack.stop()
