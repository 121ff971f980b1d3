"""A consumer's own sub-chain (issue 9, point 5), over real HTTP on a loopback port.

The app is served by its own gateway (chalice's, through chalice.test) behind a
small HTTP server on a free loopback port, so the people's client talks HTTP
to it exactly as to `make run` or AWS: `covenant subchain run --once` makes
its key, registers it with a request the node signs, catches up, verifies,
keeps a SQLite copy, cosigns and submits; `status` and `verify` read the copy;
`pay --via-subchain` is confirmed from the copy, and refused when the log's
answer does not match what its copy holds. The log's refusals for good are
acted on: a retired sub-chain's key is moved aside and the next run registers
a new one over the same copy; a registration the log forgot, and a key another
node registered first, stop `run`. A malicious server
(tests/adversarial/ledger_server.py) shows a fork and a forged block: both
quarantined, neither cosigned.
"""

from __future__ import annotations

import copy
import io
import json
import sqlite3
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from chalicelib.client.cli import Api, Profile, main
from chalicelib.client.subchain import ConsumerSubchain
from chalicelib.ledger.note import cosigners_of, parse_note, parse_vkey
from tests.actors import expect
from tests.adversarial.ledger_server import LedgerServer, RecordedLedger
from tests.chainmaker import honest_and_fork
from tests.loopback import Loopback


class Served:
    """The app behind a loopback HTTP server; ``seal`` seals pending entries before each GET /chain/head
    (a prompt sealer), ``tamper`` may rewrite an answer, and every request is counted."""

    def __init__(self, http: Any, signer: Any):
        self.http, self.signer = http, signer
        self.seal = True
        self.tamper: Any = None
        self.requests: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                served.requests.append(f"{method} {self.path}")
                if method == "GET" and self.path == "/chain/head" and served.seal:
                    from chalicelib.services.sealing import seal_pending_entries

                    seal_pending_entries(served.signer)
                response = served.http.request(method, self.path, headers=dict(self.headers.items()), body=body)
                payload = response.body if isinstance(response.body, bytes) else str(response.body).encode()
                if served.tamper is not None:
                    payload = served.tamper(method, self.path, payload)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.loopback = Loopback(Handler)  # one request at a time: the app's gateway is not thread-safe
        self.url = self.loopback.url

    def stop(self) -> None:
        self.loopback.stop()


@pytest.fixture
def served(running, chain):
    server = Served(running.http, chain)
    yield server
    server.stop()


def block_reads(served: Served) -> list[str]:
    """The sub-chain's block reads (the client's check of a profile's chain reads block 0's header too)."""
    return [r for r in served.requests if r.startswith("GET /blocks/") and r != "GET /blocks/0?limit=1"]


def cli(home: Path, api: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--api", api, "--home", str(home), *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def alice(served, running, tmp_path):
    """A consumer with a profile made by the people's client over HTTP, with fiat to pay with."""
    home = tmp_path / "people"
    assert cli(home, served.url, "--profile", "alice", "keys")[0] == 0
    code, _out, err = cli(home, served.url, "--profile", "alice", "register", "consumer")
    assert code == 0, err
    facts = json.loads((home / "alice" / "profile.json").read_text())
    expect(running.stamp.post("/deposits", {"wallet": facts["wallet"], "amount": 100_000}), 201)
    return home


def _copy(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "alice" / "subchain.sqlite3")


def test_run_registers_catches_up_cosigns_and_resumes(served, alice, running):
    home = alice
    # When alice runs her sub-chain once: the key is made here, registered by her node, the log followed
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    key = home / "alice" / "subchain-key.pem"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert "made the sub-chain key" in out and "registered with" in out
    assert (home / "alice" / "key.pem").read_bytes() != key.read_bytes()
    [registered] = [r for r in served.requests if r.startswith("POST /subchains")]
    # its registration is sealed with the next block: the second pass cosigns a tree that holds it
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    assert "is registered" in out and "(sent)" in out
    assert [r for r in served.requests if r.startswith("POST /subchains")] == [registered]  # not again

    # Then the log's checkpoint carries her cosignature, verifying with the vkey /cosigners lists
    sub_id = json.loads(cli(home, served.url, "--profile", "alice", "--json", "subchain", "status")[1])["subchain"]
    listed = {c["id"]: c for c in json.loads(running.http.get("/cosigners").body)["cosigners"]}
    note = parse_note(running.http.get("/checkpoint").body.decode())
    cosigned = cosigners_of(note, [parse_vkey(listed[sub_id]["vkey"])])
    assert list(cosigned) == [listed[sub_id]["name"]]
    head = json.loads(running.http.get("/chain/head").body)
    with _copy(home) as db:
        assert db.execute("SELECT MAX(height) FROM blocks").fetchone()[0] == head["header"]["height"]
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == head["header"]["log_size"]

    # And a restart resumes from the copy: no block it holds is fetched again
    served.requests.clear()
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    assert not block_reads(served), served.requests
    # new entries: only the new blocks are fetched
    expect(running.stamp.post("/deposits", {"wallet": running.consumers[0].wallet, "amount": 1}), 201)
    served.requests.clear()
    assert cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")[0] == 0
    fetched = {r.split("?")[0] for r in block_reads(served)}
    assert fetched and all(int(r.split("/")[2]) > head["header"]["height"] for r in fetched)

    # status and verify read the copy
    code, out, err = cli(home, served.url, "--profile", "alice", "--json", "subchain", "status")
    status = json.loads(out)
    new_head = json.loads(running.http.get("/chain/head").body)
    assert (status["height"], status["hash"]) == (new_head["header"]["height"], new_head["hash"])
    assert status["root"] == new_head["header"]["log_root"]
    assert status["cosigned"]["size"] == new_head["header"]["log_size"] and status["cosigned"]["sent"]
    assert status["log"] == {"reachable": True, "size": new_head["header"]["log_size"], "lag": 0}
    assert status["quarantined"] == 0 and status["registered"]
    code, out, _ = cli(home, served.url, "--profile", "alice", "subchain", "status")
    assert code == 0 and "lag: 0 entries behind" in out and "sent to the log" in out
    code, out, _ = cli(home, "http://127.0.0.1:9", "--profile", "alice", "subchain", "verify")
    assert code == 0 and f"height {new_head['header']['height']}" in out and new_head["header"]["log_root"] in out
    # a byte changed in the copy is found offline
    with _copy(home) as db:
        db.execute("UPDATE entries SET body = replace(body, '\"amount\":1,', '\"amount\":2,') WHERE type = ?",
                   ("fiat.deposited",))
    code, out, _ = cli(home, "http://127.0.0.1:9", "--profile", "alice", "subchain", "verify")
    assert code == 1 and out.startswith("FAILED after height") and "data.amount does not follow" in out
    # and an unreachable log is said, not a traceback
    code, out, _ = cli(home, "http://127.0.0.1:9", "--profile", "alice", "subchain", "status")
    assert code == 0 and "lag: unknown, the log cannot be read" in out


def _order(home: Path, api: str, seller: str, *extra: str) -> tuple[int, str, str]:
    return cli(home, api, "--profile", "alice", "--json", "order", seller, "--quantity", "2", "--unit-price",
               "25.00", "--unit-profit", "5.00", "--description", "two lamps", *extra)


def test_orders_and_payments_through_the_consumers_own_subchain(served, alice, running):
    home, seller = alice, running.merchant.node
    assert cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")[0] == 0
    # an order, confirmed from alice's own verified copy
    code, out, err = _order(home, served.url, seller, "--via-subchain", "--wait", "20")
    assert code == 0, err
    placed = json.loads(out)
    check = placed["via_subchain"]
    assert check["verified"] and check["matches_signed_request"] and check["entry"] == placed["entry"]
    assert check["cosigned"] and check["cosigned_size"] > check["index"]
    # the payment: the order as placed is read from the copy first, then the paying entry is checked
    code, out, err = cli(home, served.url, "--profile", "alice", "--json", "pay", placed["order"], "--via-subchain",
                         "--wait", "20")
    assert code == 0, err
    paid = json.loads(out)["via_subchain"]
    assert paid["order_as_placed"] == {"entry": placed["entry"], "height": check["height"], "seller": seller,
                                       "quantity": 2, "unit_price": 2500, "amount": 5000}
    assert paid["verified"] and paid["cosigned"] and paid["height"] >= check["height"]
    with _copy(home) as db:
        [(body,)] = db.execute("SELECT body FROM entries WHERE id = ?", (json.loads(out)["entry"],)).fetchall()
    assert json.loads(body)["type"] == "order.paid"


def test_an_answer_the_copy_does_not_confirm_exits_3(served, alice, running):
    home, seller = alice, running.merchant.node
    assert cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")[0] == 0
    code, out, err = _order(home, served.url, seller, "--via-subchain", "--wait", "20")
    placed = json.loads(out)

    # the log answers the payment with the id of another entry (its order.placed): the copy shows the difference
    def swap(method: str, path: str, payload: bytes) -> bytes:
        if method == "POST" and path.endswith("/payment"):
            answer = json.loads(payload)
            return json.dumps({**answer, "entry": placed["entry"]}).encode()
        return payload

    served.tamper = swap
    code, out, err = cli(home, served.url, "--profile", "alice", "pay", placed["order"], "--via-subchain", "--wait",
                         "20")
    assert code == 3, out + err
    assert "NOT CONFIRMED by your sub-chain" in err and "auth.base is not the one this client signed" in err

    # an entry that never appears in the copy, within the wait
    served.tamper = lambda method, path, payload: (
        json.dumps({**json.loads(payload), "entry": "e-0000000000000-never"}).encode()
        if method == "POST" and path == "/orders" else payload)
    code, out, err = _order(home, served.url, seller, "--via-subchain", "--wait", "1")
    assert code == 3 and "did not appear in your sub-chain's verified copy within 1 s" in err


def test_a_payment_for_an_order_not_as_placed_is_not_sent(served, alice, running):
    home = alice
    # an order that is not alice's: her copy shows it, and her client refuses to pay it
    other = running.consumers[0]
    order = expect(other.post("/orders", {"wallet": other.wallet, "seller": running.merchant.node, "quantity": 1,
                                          "unit_price": 100, "unit_profit": 10, "description": ""}), 201)
    served.requests.clear()
    code, _out, err = cli(home, served.url, "--profile", "alice", "pay", order["order"], "--via-subchain", "--wait",
                         "20")
    assert code == 3 and "is not to be paid" in err and "not signed with this profile's key" in err
    assert not [r for r in served.requests if r.endswith("/payment")]


# --- the log's refusals for good: a retired sub-chain, a registration the log forgot, another node's key


def _status(home: Path, api: str) -> dict[str, Any]:
    code, out, err = cli(home, api, "--profile", "alice", "--json", "subchain", "status")
    assert code == 0, err
    return dict(json.loads(out))


def _cosigned_by(running: Any, sub_id: str) -> list[str]:
    """The names of ``sub_id``'s cosignatures on the log's newest checkpoint."""
    listed = {c["id"]: c for c in json.loads(running.http.get("/cosigners").body)["cosigners"]}
    note = parse_note(running.http.get("/checkpoint").body.decode())
    return list(cosigners_of(note, [parse_vkey(listed[sub_id]["vkey"])]))


def _run_twice(home: Path, api: str) -> dict[str, Any]:
    """Registered on the first pass, the cosignature taken on the second."""
    for _ in range(2):
        code, out, err = cli(home, api, "--profile", "alice", "subchain", "run", "--once")
        assert code == 0, out + err
    status = _status(home, api)
    assert status["cosigned"]["sent"] and status["refusal"] is None
    return status


def test_a_cosignature_sent_before_the_registration_is_sealed_is_refused_then_taken(served, alice, running, chain):
    from chalicelib.services.sealing import seal_pending_entries

    home = alice
    served.seal = False  # the registration waits in the log's pending entries
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    assert "registered with" in out and "the log has not taken the cosignature yet" in out
    status = _status(home, served.url)
    assert status["registered"] and not status["cosigned"]["sent"]
    assert status["refusal"]["code"] == "cosigner_unknown" and status["refusal"]["subchain"] == status["subchain"]
    code, out, _ = cli(home, served.url, "--profile", "alice", "subchain", "status")
    assert "the log's last refusal: cosigner_unknown" in out and "not taken by the log yet" in out
    # sealed: the next pass cosigns the tree that holds the registration, the log takes it, the refusal is cleared
    seal_pending_entries(chain)
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0 and "(sent)" in out, out + err
    assert _status(home, served.url)["refusal"] is None


def test_retire_moves_the_key_aside_and_the_next_run_registers_a_new_one_over_the_same_copy(served, alice, running):
    home, folder = alice, alice / "alice"
    old = _run_twice(home, served.url)
    # When alice retires her sub-chain: the log answers 200, and the key is moved aside
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "retire")
    assert code == 0, err
    [aside] = folder.glob("subchain-key.retired-*.pem")
    assert not (folder / "subchain-key.pem").exists() and oct(aside.stat().st_mode & 0o777) == "0o600"
    assert f"sub-chain {old['subchain']} retired" in out and aside.name in out
    # status says so, and makes no key
    code, out, _ = cli(home, served.url, "--profile", "alice", "subchain", "status")
    assert code == 0 and f"sub-chain {old['subchain']} retired by {served.url}" in out and aside.name in out
    assert not (folder / "subchain-key.pem").exists()
    status = _status(home, served.url)
    assert status["subchain"] is None and not status["registered"]
    assert status["retired"]["subchain"] == old["subchain"] and status["retired"]["key_moved_to"] == str(aside)
    # retire again: there is no key to retire
    code, _out, err = cli(home, served.url, "--profile", "alice", "subchain", "retire")
    assert code == 2 and "there is no sub-chain key" in err

    # Then the next run makes a new key and registers it (the node's slot is free again), over the same copy
    served.requests.clear()
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    assert "made the sub-chain key" in out and "registered with" in out
    fetched = {int(r.split("?")[0].split("/")[2]) for r in block_reads(served)}
    assert fetched and min(fetched) > old["height"]  # the copy is the log's, not the key's: it is kept
    new = _status(home, served.url)
    assert new["subchain"] != old["subchain"] and new["registered"] and new["retired"] is None
    # the new key inherits no witness memory: it cosigns its head, and the log takes that once it lists the key
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0 and "(sent)" in out, out + err
    new = _status(home, served.url)
    assert new["cosigned"]["sent"] and new["refusal"] is None and new["height"] > old["height"]
    assert _cosigned_by(running, new["subchain"]) == [
        {c["id"]: c for c in json.loads(running.http.get("/cosigners").body)["cosigners"]}[new["subchain"]]["name"]]
    assert _cosigned_by(running, old["subchain"]) == []
    assert cli(home, served.url, "--profile", "alice", "subchain", "verify")[0] == 0


def test_a_sub_chain_retired_elsewhere_stops_run_and_its_key_is_moved_aside(served, alice, running):
    home, folder = alice, alice / "alice"
    old = _run_twice(home, served.url)
    # the node retires the sub-chain with a request of its own (not through `covenant subchain retire`)
    status, answer = Api(served.url).post(Profile(home, "alice"), f"/subchains/{old['subchain']}/retirement", {})
    assert status == 200, answer
    # When run cosigns the next block: the log refuses it for good, and run says so instead of "sent again"
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 1, out + err
    [aside] = folder.glob("subchain-key.retired-*.pem")
    assert (f"this sub-chain {old['subchain']} is retired by the log; its key is moved aside to {aside.name}; "
            "run again to make and register a new one") in err
    assert "it is sent again" not in out and "(cosigner_retired)" in out
    assert not (folder / "subchain-key.pem").exists()
    status = _status(home, served.url)
    assert status["retired"]["subchain"] == old["subchain"] and not status["registered"]
    assert status["refusal"]["code"] == "cosigner_retired" and status["refusal"]["subchain"] == old["subchain"]
    code, out, _ = cli(home, served.url, "--profile", "alice", "subchain", "status")
    assert "retired by" in out and "the log's last refusal: cosigner_retired" in out

    # Then the next runs register a new key, whose cosignature the log takes: the refusal is cleared
    for _ in range(2):
        code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
        assert code == 0, out + err
    new = _status(home, served.url)
    assert new["subchain"] != old["subchain"] and new["registered"] and new["cosigned"]["sent"]
    assert new["refusal"] is None and new["retired"] is None


def test_a_registration_the_log_forgot_stops_run(served, alice, running):
    from chalicelib.domain.records import Cosigner
    from chalicelib.store import backend
    from chalicelib.store.port import Delete

    home = alice
    old = _run_twice(home, served.url)
    # the log loses the registration its own published tree holds (and lists it no more)
    backend.state().apply([Delete(Cosigner, Cosigner.key_of(old["subchain"]))])
    expect(running.stamp.post("/deposits", {"wallet": running.consumers[0].wallet, "amount": 1}), 201)
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 1, out + err
    assert (f"the log does not know sub-chain {old['subchain']} (GET /cosigners lists no such sub-chain), though its "
            "registration is entry") in err and "forgot or never took the registration" in err
    assert (alice / "alice" / "subchain-key.pem").exists()  # not retired: the key stays
    assert _status(home, served.url)["refusal"]["code"] == "cosigner_unknown"


def test_a_key_another_node_registered_first_is_not_taken_as_yours(served, alice, running, chain):
    from chalicelib.services.sealing import seal_pending_entries

    home, folder = alice, alice / "alice"
    sub = ConsumerSubchain(folder, served.url)  # alice's key, whose public key another node learns and registers
    public, sub_id = sub.public_key, sub.witness.id
    sub.close()
    other = running.consumers[0]
    served.seal = False
    expect(other.post("/subchains", {"public_key": public}), 201)
    # not sealed yet: the log says subchain_exists but does not list it; nothing is guessed, nothing cosigned
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    assert f"sub-chain {sub_id}: the log says sub-chain {sub_id} is registered, but does not list it yet" in out
    assert "registered with" not in out and "nothing is cosigned before the registration is confirmed" in out
    assert not [r for r in served.requests if r.startswith("POST /checkpoints/")]
    assert not _status(home, served.url)["registered"]
    # sealed: GET /cosigners lists it as the other node's, and run refuses it
    seal_pending_entries(chain)
    served.requests.clear()
    code, out, err = cli(home, served.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 1, out + err
    assert f"this key is registered by node {other.node}, not by you" in err and "subchain-key.pem aside" in err
    assert not [r for r in served.requests if r.startswith("POST /checkpoints/")]
    assert not _status(home, served.url)["registered"]
    with _copy(home) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'registration'").fetchone() is None


# --- a malicious log: a fork and a forged block are quarantined, never cosigned


@pytest.fixture
def liar(tmp_path):
    honest, forked = honest_and_fork(16)
    server = LedgerServer(RecordedLedger(honest.blocks, signers=[honest.signer.key])).start()
    home = tmp_path / "people"
    folder = home / "alice"
    sub = ConsumerSubchain(folder, server.url)  # registered already: the log says subchain_exists, and lists it
    server.ledger.cosigners = [{"id": sub.witness.id, "node": "n-alice", "vkey": "", "registered": 0, "retired": None}]
    new, record = sub.ensure_registered(lambda path, body: (409, {"error": {"code": "subchain_exists"}}), "n-alice")
    assert not new and record["node"] == "n-alice"
    sub.close()
    yield server, home, honest, forked
    server.stop()


def test_a_fork_is_quarantined_and_not_cosigned(liar):
    server, home, honest, forked = liar
    code, out, err = cli(home, server.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 0, out + err
    cosigned = [r for r in server.requests if r.startswith("POST /checkpoints/")]
    assert cosigned == [f"POST /checkpoints/{honest.blocks[-1]['header']['log_size']}/cosignatures"]
    # the log now shows another history of the same heights, by the same sealer
    server.ledger = RecordedLedger(forked.blocks, signers=[honest.signer.key])
    server.requests.clear()
    code, out, err = cli(home, server.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 1 and "QUARANTINED: block 15" in err and "fork" in err
    assert not [r for r in server.requests if r.startswith("POST ")]
    status = json.loads(cli(home, server.url, "--profile", "alice", "--json", "subchain", "status")[1])
    assert status["quarantined"] == 1 and status["height"] == 15 and status["hash"] == honest.blocks[-1]["hash"]
    assert status["cosigned"]["root"] == honest.blocks[-1]["header"]["log_root"]
    assert status["newest_quarantine"]["hash"] == forked.blocks[-1]["hash"]
    # shown again, it is refused again but counted once
    assert cli(home, server.url, "--profile", "alice", "subchain", "run", "--once")[0] == 1
    assert json.loads(cli(home, server.url, "--profile", "alice", "--json", "subchain", "status")[1])[
        "quarantined"] == 1


def test_a_forged_block_is_quarantined_and_the_head_before_it_stays_cosigned(liar):
    server, home, honest, _ = liar
    blocks = copy.deepcopy(honest.blocks)
    blocks[13]["entries"][0]["data"]["n"] = 999  # the log's own copy changed after sealing
    server.ledger = RecordedLedger(blocks, keys=server.ledger.keys, signers=[honest.signer.key])
    code, _out, err = cli(home, server.url, "--profile", "alice", "subchain", "run", "--once")
    assert code == 1 and "QUARANTINED: block 13" in err and "log_root" in err
    status = json.loads(cli(home, server.url, "--profile", "alice", "--json", "subchain", "status")[1])
    assert status["height"] == 12 and status["cosigned"]["size"] == honest.blocks[12]["header"]["log_size"]
    posted = [r for r in server.requests if r.startswith("POST /checkpoints/")]
    assert posted == [f"POST /checkpoints/{honest.blocks[12]['header']['log_size']}/cosignatures"]
    assert cli(home, server.url, "--profile", "alice", "subchain", "verify")[0] == 0
