"""End to end over real HTTP: `make run`'s runner (moto server + chalice local) on free loopback ports.

Entries are committed straight into the moto server (the write API comes with
the next capability); the runner seals them and its three operator sub-chains
verify and cosign them; the verifier checks the chain through the public API
only, and catches a changed byte.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.keys import jwk_of
from chalicelib.ledger.note import cosigners_of, parse_note, parse_vkey
from devstack.bootstrap import reset_process_state
from tests.chainmaker import signed_auth

ROOT = Path(__file__).resolve().parents[2]
VERIFY = str(Path(sys.executable).parent / "covenant-verify")
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _until(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last and not isinstance(last, tuple):
                return last
        except (urllib.error.URLError, OSError, KeyError):
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}; last answer {last!r}\n{tail}")


class Stack:
    def __init__(self, tmp: Path):
        self.moto_port, self.api_port = _free_port(), _free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.state = tmp / "state"
        self.log_path = tmp / f"run-{self.api_port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "COVENANT_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack.run", "--moto-port", str(self.moto_port), "--api-port",
             str(self.api_port), "--interval", "0.5", "--state-dir", str(self.state)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        _until(lambda: _get(f"{self.api}/chain/head"), 120, "the API", self.log_path)
        # the stamp node registers the three operator sub-chains after genesis; the runner seals them
        _until(lambda: len(_get(f"{self.api}/cosigners")["cosigners"]) == 3, 60, "the sub-chains' registration",
               self.log_path)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VERIFY, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def stack(tmp_path, monkeypatch):
    running = Stack(tmp_path)
    # This test process writes into the stack's moto server, as a later write API would.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{running.moto_port}")
    monkeypatch.setenv("COVENANT_PREFIX", "covenant-local")
    reset_process_state()
    yield running
    if running.process.poll() is None:
        running.stop()
    monkeypatch.undo()
    reset_process_state()


def test_the_local_stack_end_to_end(stack, tmp_path):
    from chalicelib.services.ledger import Draft, commit

    # Given a consumer key registered by a signed request, and entries it signed
    consumer = Ed25519PrivateKey.generate()
    jwk = jwk_of(consumer.public_key())
    node, body = f"c-{jwk['kid'][:16]}", {"role": "consumer", "jwk": jwk}
    auth = signed_auth(consumer, body, "/nodes")
    ids = [commit([Draft("node.registered", node, {"node": node, **body}, auth)])[0]["id"]]
    for i in range(40):  # signed requests, as docs/ENTRIES.md has them (made by POST /deposits)
        data = {"wallet": f"w-{jwk['kid'][:16]}", "amount": 250 * (i + 1)}
        ids.append(commit([Draft("fiat.deposited", node, data, signed_auth(consumer, data, "/deposits"))])[0]["id"])

    # When the runner seals and the operator sub-chains verify and cosign the broadcast blocks
    def settled():
        head = _get(f"{stack.api}/chain/head")
        vkeys = [parse_vkey(c["vkey"]) for c in _get(f"{stack.api}/cosigners")["cosigners"]]
        with urllib.request.urlopen(f"{stack.api}/checkpoint", timeout=10) as response:
            note = parse_note(response.read().decode())
        cosigned = cosigners_of(note, vkeys)
        done = head["header"]["log_size"] == 45 and f"\n{head['header']['log_size']}\n" in note.body and \
            len(cosigned) == 3
        return head if done else (head["header"], sorted(cosigned))

    # Then the head's checkpoint gathers the three sub-chains' cosignatures, each verifying with its listed vkey
    head = _until(settled, 90, "sealing and three cosignatures", stack.log_path)
    # (and the runner told a consumer how to run a sub-chain of their own)
    assert f"covenant --profile alice subchain run --api {stack.api}" in stack.log_path.read_text()

    # Then the verifier accepts the chain through the API (its entry bundles), pinned to the genesis hash
    genesis = json.loads((stack.state / "genesis.json").read_text())["hash"]
    result = _verify("chain", "--api", stack.api, "--genesis", genesis, "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "45 entries verified" in result.stdout and "entry bundles); " in result.stdout
    assert f"origin localhost/covenant/{genesis[:16]} (pinned)" in result.stdout
    found = _get(f"{stack.api}/entries/{ids[7]}")
    assert _verify("inclusion", "--api", stack.api, "--entry", ids[7]).returncode == 0
    height = head["header"]["height"]
    assert _verify("consistency", "--api", stack.api, "--from", "0", "--to", str(height)).returncode == 0
    assert _verify("export", "--api", stack.api, "--out", str(tmp_path / "dump.jsonl")).returncode == 0
    assert _verify("chain", "--file", str(tmp_path / "dump.jsonl")).returncode == 0
    from tests.independent.ledger_spec_verifier import verify_chain

    exported = [json.loads(line) for line in (tmp_path / "dump.jsonl").read_text().splitlines()]
    sealers = [k["kid"] for k in _get(f"{stack.api}/keys")["keys"]]
    verify_chain(exported, genesis, sealer_kids=sealers)  # the LEDGER.md-only verifier agrees
    assert _verify("chain", "--api", stack.api, "--genesis", "0" * 64).returncode == 1

    # And one changed byte in storage is named by height and entry, through the JSON pages that read it
    table = boto3.client("dynamodb")
    key = {"id": {"S": ids[7]}}
    item = table.get_item(TableName="covenant-local-entries", Key=key)["Item"]
    changed = item["body"]["S"].replace('"amount":1750', '"amount":1751')
    assert changed != item["body"]["S"] and len(changed) == len(item["body"]["S"])
    table.put_item(TableName="covenant-local-entries", Item={**item, "body": {"S": changed}})
    result = _verify("chain", "--api", stack.api, "--no-progress", "--no-tiles")
    assert result.returncode == 1
    assert f"FAILED at height {found['height']}, entry index {found['index']} (id {ids[7]})" in result.stdout
    assert _verify("inclusion", "--api", stack.api, "--entry", ids[7]).returncode == 1
    # (the entry bundles were written when the blocks completed: the published log still verifies)
    assert _verify("chain", "--api", stack.api, "--no-progress", "--tiles").returncode == 0


def _bundle_of(api: str, n: int, width: int) -> list[bytes]:
    from chalicelib.ledger.tiles import TileRef, unbundle

    path = TileRef(None, n, width).path
    request = urllib.request.Request(f"{api}/{path}", headers={"Accept": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return unbundle(response.read())


def test_the_verifier_pins_the_origin_checks_checkpoints_and_reads_tiles(stack, tmp_path):
    from chalicelib.ledger.note import local_origin, parse_vkey
    from chalicelib.ledger.tiles import TileRef, bundle
    from chalicelib.services.ledger import Draft, commit

    # Given 302 entries (with the three sub-chains' registrations), half of them signed requests: a full entry
    # bundle and a partial one
    consumer = Ed25519PrivateKey.generate()
    jwk = jwk_of(consumer.public_key())
    node, body = f"c-{jwk['kid'][:16]}", {"role": "consumer", "jwk": jwk}
    commit([Draft("node.registered", node, {"node": node, **body}, signed_auth(consumer, body, "/nodes"))])

    def deposits(count: int, start: int) -> None:
        for i in range(start, start + count):
            if i % 2:
                data = {"wallet": f"w-{jwk['kid'][:16]}", "amount": 100 + i}
                commit([Draft("fiat.deposited", node, data, signed_auth(consumer, data, "/deposits"))])
            else:
                commit([Draft("test.note", "system", {"n": i})])

    deposits(298, 0)
    _until(lambda: _get(f"{stack.api}/chain/head")["header"]["log_size"] == 303, 120, "sealing", stack.log_path)
    genesis = json.loads((stack.state / "genesis.json").read_text())["hash"]
    origin = local_origin(genesis)
    state = ["--state-dir", str(tmp_path / "verifier")]

    # When the verifier first reads it: the genesis and the origin are pinned, every entry read from bundles
    result = _verify("chain", "--api", stack.api, "--no-progress", *state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"TOFU: pinned the origin {origin} for {stack.api}" in result.stdout
    assert "303 entries verified" in result.stdout and "entry bundles); " in result.stdout
    assert f"origin {origin} (pinned); the head's checkpoint verifies with the vkey of /keys ({origin}+" \
        in result.stdout
    result = _verify("chain", "--api", stack.api, "--no-progress", "--no-tiles", *state)
    assert result.returncode == 0 and "JSON pages); " in result.stdout, result.stdout + result.stderr

    # Then the checkpoint command follows the log as it grows, consistently
    vkey = _get(f"{stack.api}/keys")["keys"][-1]["vkey"]
    assert parse_vkey(vkey).name == origin
    result = _verify("checkpoint", "--api", stack.api, "--vkey", vkey, *state)
    assert result.returncode == 0 and "checkpoint of 303 entries" in result.stdout, result.stdout + result.stderr
    assert "the same tree as the checkpoint verified before" in result.stdout
    deposits(20, 1000)
    _until(lambda: _get(f"{stack.api}/chain/head")["header"]["log_size"] == 323, 60, "sealing", stack.log_path)
    result = _verify("checkpoint", "--api", stack.api, "--vkey", vkey, *state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checkpoint of 323 entries" in result.stdout
    assert "consistent with the checkpoint of 303 entries verified before" in result.stdout
    assert _verify("state", "--api", stack.api, *state).stdout.count(f"origin {origin} pinned") == 1

    # And an origin other than the pin is refused, by either command
    for command in (["chain", "--no-progress"], ["checkpoint", "--vkey", vkey]):
        result = _verify(*command, "--api", stack.api, "--origin", "covenant.example.com/ledger", *state)
        assert result.returncode == 1 and "FAILED: different origin: --origin covenant.example.com/ledger is not " \
            f"the origin pinned for {stack.api}, {origin}" in result.stdout

    # And an entry changed in a published bundle is named, while the JSON pages still verify
    entries = _bundle_of(stack.api, 1, 67)
    entries[10] = json.dumps(json.loads(entries[10])).encode()  # the same entry, but not its JCS
    boto3.client("s3").put_object(Bucket="covenant-local-log", Key=TileRef(None, 1, 67).path, Body=bundle(entries))
    result = _verify("chain", "--api", stack.api, "--no-progress", *state)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "entry index 266" in result.stdout and "does not hold this entry's JCS" in result.stdout
    assert _verify("chain", "--api", stack.api, "--no-progress", "--no-tiles", *state).returncode == 0


def test_the_stack_stops_on_ctrl_c_and_starts_cleanly_again(tmp_path):
    first = Stack(tmp_path)
    genesis = _get(f"{first.api}/blocks/0")
    assert first.stop() == 0
    second = Stack(tmp_path)  # the same state folder: a fresh chain, a fresh key
    try:
        block = _get(f"{second.api}/blocks/0")
        assert block["header"]["height"] == 0 and block["hash"] != genesis["hash"]
        keys = _get(f"{second.api}/keys")["keys"]
        assert keys[0]["kid"] == block["header"]["sealer"] != genesis["header"]["sealer"]
    finally:
        assert second.stop() == 0


def _cli(home: Path, api: str, *args: str) -> dict:
    """Run the people's client as a person would, and return its JSON answer."""
    import io

    from chalicelib.client.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["--api", api, "--home", str(home), "--json", *args], out, err)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_a_full_trade_with_the_cli_and_an_independent_client(tmp_path):
    stack = Stack(tmp_path)
    try:
        home, api = tmp_path / "people", stack.api
        # Given two consumers and a merchant, each with a key made on their own machine
        for person in ("alice", "bob"):
            _cli(home, api, "--profile", person, "keys")
            _cli(home, api, "--profile", person, "register", "consumer")
        _cli(home, api, "--profile", "shop", "keys")
        shop = _cli(home, api, "--profile", "shop", "register", "merchant", "--legal-name", "Lamp Shop Ltd",
                    "--licence", "LS-77", "--ip", "203.0.113.9", "--contact", "hello@lamps.example")
        _cli(home, api, "--profile", "stamp", "import-key", str(stack.state / "sealer-key.pem"), "--node", "stamp",
             "--wallet", "w-stamp")
        _cli(home, api, "--profile", "stamp", "approve", shop["node"])
        # When they authorise the program and trade
        for person in ("alice", "bob"):
            _cli(home, api, "--profile", person, "authorise")
        assert _cli(home, api, "program")["status"] == "running"
        alice = json.loads((home / "alice" / "profile.json").read_text())
        _cli(home, api, "--profile", "stamp", "deposit", alice["wallet"], "500.00")
        order = _cli(home, api, "--profile", "alice", "order", shop["node"], "--quantity", "2", "--unit-price",
                     "25.00", "--unit-profit", "5.00", "--description", "two desk lamps")
        # alice runs her own sub-chain, and pays through it: her verified copy confirms the order and the payment
        import io

        from chalicelib.client.cli import main

        out, err = io.StringIO(), io.StringIO()
        assert main(["--api", api, "--home", str(home), "--profile", "alice", "subchain", "run", "--once"], out,
                    err) == 0, out.getvalue() + err.getvalue()
        paid = _cli(home, api, "--profile", "alice", "pay", order["order"], "--via-subchain", "--wait", "60")
        assert paid["via_subchain"]["verified"] and paid["via_subchain"]["order_as_placed"]["amount"] == 5000
        assert paid["via_subchain"]["cosigned"] and paid["via_subchain"]["cosignature_sent"]
        shipped = _cli(home, api, "--profile", "shop", "ship", order["order"])
        _cli(home, api, "--profile", "alice", "confirm", order["order"])
        # Then the rebate (2 x 5.00 x 20% = 2.00) is minted to alice as coins
        assert shipped["rebate"] == 200
        assert _cli(home, api, "--profile", "alice", "balance")["balances"] == {"fiat": 45_000, "coin": 200}
        sold = _cli(home, api, "--profile", "alice", "exchange", "--to", "fiat", "1.00")
        assert (sold["fee"], sold["fiat"]) == (2, 98)
        kinds = [h["type"] for h in _cli(home, api, "--profile", "alice", "history")["history"]]
        assert kinds == ["fiat.deposited", "order.paid", "coin.minted", "coin.exchanged", "coin.exchanged"]

        # And an independent RFC 9421 client over real HTTP is accepted
        import datetime

        import requests
        from requests_http_signature import HTTPSignatureAuth, algorithms

        from chalicelib.ledger.keys import private_key_from_pem

        bob_key = private_key_from_pem((home / "bob" / "key.pem").read_bytes())
        bob = json.loads((home / "bob" / "profile.json").read_text())
        auth = HTTPSignatureAuth(signature_algorithm=algorithms.ED25519, key=bob_key, key_id=bob["kid"],
                                 covered_component_ids=("@method", "@target-uri", "content-digest",
                                                        "idempotency-key"),
                                 use_nonce=True, expires_in=datetime.timedelta(minutes=2))
        response = requests.post(f"{api}/exchanges", json={"wallet": bob["wallet"], "direction": "fiat_to_coin",
                                                           "amount": 1}, auth=auth,
                                 headers={"Idempotency-Key": "bob-1"}, timeout=30)
        assert response.status_code == 409 and response.json()["error"]["code"] == "insufficient_funds"

        # And the whole chain, every signed request in it, verifies through the API
        _until(lambda: _get(f"{api}/chain/head")["header"]["log_size"] >= 15, 60, "sealing", stack.log_path)
        result = _verify("chain", "--api", api, "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        # as does the verifier written from LEDGER.md alone, on every signed request in it
        from tests.independent.ledger_spec_verifier import verify_chain

        dump = tmp_path / "chain.jsonl"
        assert _verify("export", "--api", api, "--out", str(dump)).returncode == 0
        blocks = [json.loads(line) for line in dump.read_text().splitlines()]
        signed = [e for b in blocks for e in b["entries"] if e["auth"] is not None]
        assert len(signed) >= 10
        verify_chain(blocks, sealer_kids=[k["kid"] for k in _get(f"{api}/keys")["keys"]])
    finally:
        stack.stop()


def test_a_governance_round_and_information_goods_with_the_cli(tmp_path):
    stack = Stack(tmp_path)
    try:
        home, api = tmp_path / "people", stack.api

        def cli(*args: str) -> dict:
            return _cli(home, api, *args)

        for person in ("alice", "bob", "carol"):
            cli("--profile", person, "keys")
            cli("--profile", person, "register", "consumer")
        cli("--profile", "shop", "keys")
        shop = cli("--profile", "shop", "register", "merchant", "--legal-name", "Rogue Lamps", "--licence", "RL-1",
                   "--ip", "198.51.100.20", "--contact", "x@rogue.example")
        cli("--profile", "stamp", "import-key", str(stack.state / "sealer-key.pem"), "--node", "stamp", "--wallet",
            "w-stamp")
        approved = cli("--profile", "stamp", "approve", shop["node"])
        cli("--profile", "alice", "authorise")
        cli("--profile", "bob", "authorise")
        # A governance round: freeze the merchant's legal wallet by majority of the eligible
        proposal = cli("--profile", "alice", "propose", "freeze", "--subject", approved["wallet"])
        assert proposal["eligible"] == 4  # three consumers and the stamp node
        for person in ("alice", "bob", "carol"):
            cli("--profile", person, "vote", proposal["proposal"], "yes")
        # the runner's scheduled tally closes and enacts it
        _until(lambda: cli("proposals", "--status", "passed")["proposals"], 30, "the tally", stack.log_path)
        assert _get(f"{api}/wallets/{approved['wallet']}")["status"] == "frozen"
        # Information goods: carol publishes, alice buys with coins, search finds it
        essay = tmp_path / "essay.txt"
        essay.write_text("On lamps: a short essay about light, oil and wicks.")
        alice = json.loads((home / "alice" / "profile.json").read_text())
        cli("--profile", "stamp", "deposit", alice["wallet"], "10.00")
        cli("--profile", "alice", "exchange", "--to", "coin", "5.00")
        item = cli("--profile", "carol", "publish", "--title", "On lamps", "--file", str(essay), "--price", "1.00")
        assert item["originator"] and item["commercial"]
        bought = cli("--profile", "alice", "buy-item", item["item"])
        assert bought["price"] == 100 and bought["download"].startswith("http")
        assert [r["id"] for r in cli("search", "lamps")["results"]] == [item["item"]]
        # binary content larger than an entry: uploaded to the bucket by a presigned PUT, verified, published
        photo = tmp_path / "lamp.png"
        photo.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(150_000))
        uploaded = cli("--profile", "carol", "publish", "--title", "Lamp photo", "--file", str(photo), "--price",
                       "1.00")
        assert (uploaded["content"], uploaded["size"]) == ("binary", photo.stat().st_size)
        download = cli("--profile", "alice", "buy-item", uploaded["item"])["download"]
        with urllib.request.urlopen(download, timeout=30) as response:
            assert response.read() == photo.read_bytes()
        assert _verify("chain", "--api", api, "--no-progress").returncode == 0
    finally:
        stack.stop()
