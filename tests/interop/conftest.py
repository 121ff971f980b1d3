"""The logs that strangers' tools read here: one built from the pure modules, one served by the real local stack."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.interop import tools

# Entries per sealed block after genesis and the consumer's registration (log sizes 42, 292, 299, 512,
# 513, 653): blocks that end inside a tile, cross a 256-entry boundary, end exactly on one (full tiles,
# no partial one at level 0), hold one entry, and leave level-1 tiles behind.
BLOCKS = (40, 250, 7, 213, 1, 140)


@dataclass
class Log:
    """A log under test, read only over HTTP from here on, as a stranger reads it."""

    kind: str  # "pure" (ledger/note.py and ledger/tiles.py) or "stack" (the local stack's API)
    url: str
    sealer: Ed25519PrivateKey  # the log's own key, for the tests that sign a lie with it

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}/{path.lstrip('/')}", timeout=30) as response:
            return bytes(response.read())

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def head(self) -> dict[str, Any]:
        return dict(self.json("chain/head")["header"])

    def vkey(self, kid: str | None = None) -> str:
        """The served vkey (GET /keys) of sealer ``kid``, by default the newest block's."""
        kid = kid or self.head()["sealer"]
        [key] = [k for k in self.json("keys")["keys"] if k["kid"] == kid]
        return str(key["vkey"])


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The Go checker, built once per run (a few seconds with a cold build cache), shared by xdist's workers."""
    import fcntl

    tools.require_go()
    # xdist's workers share their base folder's parent, which is this run's own
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    with open(shared / "tlogcheck.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = shared / "tlogcheck" / "tlogcheck"
        return binary if binary.exists() else tools.build_tlogcheck(binary.parent)


def _pure_log() -> Iterator[Log]:
    from tests.chainmaker import ChainMaker
    from tests.interop.fakelog import FakeLog, Served

    maker = ChainMaker().with_signed_entries(0, 0)
    for count in BLOCKS:
        maker.signed_block(count)
    served = Served(FakeLog(maker))
    try:
        yield Log("pure", served.url, maker.signer.key)
    finally:
        served.close()


def _until(predicate: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (urllib.error.URLError, OSError, KeyError):
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}; last answer {last!r}\n{tail}")


def _stack_log(tmp: Path) -> Iterator[Log]:
    """`make run`'s stack on free ports, with a chain of more than 256 entries committed into it."""
    from chalicelib.ledger.keys import jwk_of, private_key_from_pem
    from chalicelib.services.ledger import Draft, commit
    from devstack.bootstrap import reset_process_state
    from tests.chainmaker import signed_auth
    from tests.e2e.test_local_stack import Stack

    stack = Stack(tmp)
    try:
        log = Log("stack", stack.api, private_key_from_pem((stack.state / "sealer-key.pem").read_bytes()))
        # This process commits into the stack's moto server, as the e2e tests do; the runner seals.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{stack.moto_port}")
            env.setenv("COVENANT_PREFIX", "covenant-local")
            reset_process_state()
            try:
                consumer = Ed25519PrivateKey.generate()
                jwk = jwk_of(consumer.public_key())
                node, body = f"c-{jwk['kid'][:16]}", {"role": "consumer", "jwk": jwk}
                size = log.head()["log_size"] + 1  # genesis and this registration
                commit([Draft("node.registered", node, {"node": node, **body}, signed_auth(consumer, body, "/nodes"))])
                _until(lambda: log.head()["log_size"] == size, 60, "the registration", stack.log_path)
                wallet = f"w-{jwk['kid'][:16]}"
                for count in BLOCKS:
                    drafts = []
                    for i in range(count):  # signed deposits, as POST /deposits makes them (docs/ENTRIES.md)
                        data = {"wallet": wallet, "amount": 100 + size + i}
                        drafts.append(Draft("fiat.deposited", node, data, signed_auth(consumer, data, "/deposits")))
                    for start in range(0, count, 50):
                        commit(drafts[start:start + 50])
                    size += count
                    _until(lambda want=size: log.head()["log_size"] == want, 60, f"a log of {size} entries",
                           stack.log_path)
                # and every block's tiles and checkpoint published
                _until(lambda: int(log.get("checkpoint").split(b"\n")[1]) == size, 60, "the newest checkpoint",
                       stack.log_path)
                # and cosigned by the three operator sub-chains, so that what the tools read no longer changes
                _until(lambda: log.get("checkpoint").count("\u2014".encode()) == 4, 60,
                       "the newest checkpoint's three cosignatures", stack.log_path)
            finally:
                reset_process_state()
        reset_process_state()
        yield log
    finally:
        if stack.process.poll() is None:
            stack.stop()


@pytest.fixture(scope="module")
def pure_log() -> Iterator[Log]:
    """The log as the pure modules alone make it: checkpoints by ledger/note.py, tiles by ledger/tiles.py."""
    yield from _pure_log()


@pytest.fixture
def stack_log(tmp_path: Path) -> Iterator[Log]:
    """The same shape of log from the real local stack (one end-to-end test reads it)."""
    yield from _stack_log(tmp_path)
