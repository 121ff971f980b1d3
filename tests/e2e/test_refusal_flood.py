"""The local stack does not stop under a flood of refused requests (the race that once stopped it).

Refused payments and shipments are transactions that fail late: the entry, its
sealing-queue item, the history row and the idempotency answer are written
first (PynamoDB sends puts before updates), then the wallet update fails its
condition (a balance that does not cover the payment, a frozen seller wallet)
and everything is rolled back. When moto let readers see those writes, the
runner's sealer sealed a queue item of a cancelled transaction and every later
run failed to complete that block, and a refused payment was answered
``order_state`` because another request's cancelled payment was visible.

Here, under `make run`'s real stack (moto server, `chalice local`, the runner
sealing every 0.5 s), signed clients flood it with such refusals from several
threads, racing each other on the same orders, interleaved with trades that
succeed, for a bounded time. Then: every refusal carries its own reason, every
accepted request's entry is sealed, the chain keeps growing and verifies, no
cancelled write is in it, and the money adds up.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.ledger.keys import private_key_from_pem
from tests.actors import Actor, expect, register_consumer, register_merchant
from tests.e2e.test_local_stack import Stack, _get, _until, _verify

pytestmark = pytest.mark.e2e

FLOOD_SECONDS = 18
DEPOSIT = 1_000_000
PRICE = 1_000  # 10.00: below the first endorsement tier, so a paid order is final at once


class Answer:
    def __init__(self, status: int, body: bytes):
        self.status_code, self.body = status, body


class Http:
    """The transport tests/actors.py expects, over real HTTP (the actors sign for Host: localhost)."""

    def __init__(self, base: str):
        self.base = base

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read())

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self._send(urllib.request.Request(self.base + path, data=body, headers=headers, method="POST"))

    def get(self, path: str) -> Answer:
        return self._send(urllib.request.Request(self.base + path))


class Flood:
    """What every thread saw: accepted entries, refusal codes by kind, and anything unexpected."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.codes: dict[str, Counter[str]] = {}
        self.wrong: list[str] = []
        self.stop = threading.Event()

    def accept(self, answer: dict[str, Any]) -> None:
        with self.lock:
            self.accepted.append(answer["entry"])

    def refused(self, kind: str, response: Answer, expected: set[str]) -> None:
        body = json.loads(response.body)
        code = body.get("error", {}).get("code", f"status {response.status_code}")
        with self.lock:
            self.codes.setdefault(kind, Counter())[code] += 1
            if response.status_code != 409 or code not in expected:
                self.wrong.append(f"{kind}: {response.status_code} {body}")

    def run(self, target, *args) -> threading.Thread:
        def guarded() -> None:
            try:
                while not self.stop.is_set():
                    target(*args)
            except BaseException as exc:  # reported by the test
                with self.lock:
                    self.wrong.append(f"{target.__name__} crashed: {exc!r}")

        thread = threading.Thread(target=guarded, name=target.__name__)
        thread.start()
        return thread


def _place(buyer: Actor, seller: Actor, flood: Flood | None = None) -> str:
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": 1,
                                          "unit_price": PRICE, "unit_profit": 100}), 201)
    if flood is not None:
        flood.accept(order)
    return str(order["order"])


def _totals() -> dict[str, int]:
    item = boto3.client("dynamodb").get_item(TableName="covenant-local-state",
                                             Key={"pk": {"S": "totals"}, "sk": {"S": "item"}},
                                             ConsistentRead=True)["Item"]
    return {k: int(v["N"]) for k, v in item.items() if "N" in v}


@pytest.fixture
def stack(tmp_path, monkeypatch):
    running = Stack(tmp_path)
    # this test process reads the stack's moto server for the totals, as an operator would
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{running.moto_port}")
    yield running
    if running.process.poll() is None:
        running.stop()


def test_a_flood_of_refused_requests_does_not_stop_the_chain(stack, tmp_path: Path):
    http = Http(stack.api)
    stamp = Actor(http, key=private_key_from_pem((stack.state / "sealer-key.pem").read_bytes()), node="stamp",
                  wallet="w-stamp")
    # Given three consumers (alice funded, bob with an empty wallet, carol who sells) and a merchant
    alice, bob, carol = (register_consumer(http) for _ in range(3))
    shop = register_merchant(http, stamp)
    for person in (alice, bob):
        expect(person.post("/program/authorisations"), 201)
    assert json.loads(http.get("/program").body)["status"] == "running"
    deposits = [expect(stamp.post("/deposits", {"wallet": alice.wallet, "amount": DEPOSIT}), 201)]
    # alice paid the shop for two orders before its wallet was frozen by a vote
    unshipped = [_place(alice, shop) for _ in range(2)]
    for order in unshipped:
        expect(alice.post(f"/orders/{order}/payment", {"wallet": alice.wallet}), 200)
    proposal = expect(alice.post("/proposals", {"kind": "freeze", "subject": shop.wallet}), 201)["proposal"]
    for person in (alice, bob, carol):
        expect(person.post(f"/proposals/{proposal}/votes", {"choice": "yes"}), 201)
    _until(lambda: _get(f"{stack.api}/wallets/{shop.wallet}")["status"] == "frozen", 60, "the freeze",
           stack.log_path)
    # bob ordered twice from carol and cannot pay
    unpaid = [_place(bob, carol) for _ in range(2)]
    start_height = _get(f"{stack.api}/chain/head")["header"]["height"]

    flood = Flood()
    paid_by_alice: list[str] = []

    def poor_payment(order: str) -> None:
        """bob's payment: the debit fails inside the transaction, after the entry and queue item were written."""
        response = bob.post(f"/orders/{order}/payment", {"wallet": bob.wallet})
        flood.refused("payment from an empty wallet", response, {"insufficient_funds"})

    def frozen_shipment(order: str) -> None:
        """The shop's shipment: the order is marked shipped, then the frozen wallet's credit fails."""
        response = shop.post(f"/orders/{order}/shipment")
        flood.refused("shipment to a frozen wallet", response, {"wallet_not_active"})

    def trade() -> None:
        """A trade that succeeds, with two payments of one order racing each other (one must lose cleanly)."""
        order = _place(alice, carol, flood)
        answers: list[Answer] = []
        racers = [threading.Thread(target=lambda: answers.append(
            alice.post(f"/orders/{order}/payment", {"wallet": alice.wallet}))) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        won = [a for a in answers if a.status_code == 200]
        assert len(won) == 1, [json.loads(a.body) for a in answers]
        flood.accept(json.loads(won[0].body))
        for lost in (a for a in answers if a.status_code != 200):
            flood.refused("the losing one of two racing payments", lost, {"order_state"})
        if len(paid_by_alice) % 2:  # every other order is shipped and received; the rest stay in escrow
            flood.accept(expect(carol.post(f"/orders/{order}/shipment"), 200))
            flood.accept(expect(alice.post(f"/orders/{order}/receipt"), 200))
        paid_by_alice.append(order)

    threads = [flood.run(poor_payment, order) for order in unpaid for _ in range(2)]
    threads += [flood.run(frozen_shipment, order) for order in unshipped for _ in range(2)]
    threads.append(flood.run(trade))
    time.sleep(FLOOD_SECONDS)
    flood.stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    # Then every refusal carried its own reason, never another request's cancelled write
    assert not flood.wrong, flood.wrong[:10]
    refusals = {kind: sum(codes.values()) for kind, codes in flood.codes.items()}
    assert refusals.get("payment from an empty wallet", 0) >= 5, flood.codes
    assert refusals.get("shipment to a frozen wallet", 0) >= 5, flood.codes
    assert len(paid_by_alice) >= 2, flood.codes

    # And the chain kept growing: a request after the flood is sealed in a new block, as is every accepted one
    flood_end_height = _get(f"{stack.api}/chain/head")["header"]["height"]
    deposits.append(expect(stamp.post("/deposits", {"wallet": bob.wallet, "amount": PRICE}), 201))
    accepted = flood.accepted + [d["entry"] for d in deposits]

    def all_sealed() -> bool:
        for entry_id in accepted:
            try:
                _get(f"{stack.api}/entries/{entry_id}")
            except urllib.error.HTTPError:
                return False
        return True

    _until(all_sealed, 90, "every accepted entry to be sealed", stack.log_path)
    head = _get(f"{stack.api}/chain/head")["header"]["height"]
    assert head > flood_end_height > start_height
    assert _get(f"{stack.api}/entries/{deposits[-1]['entry']}")["height"] > flood_end_height
    # the runner never failed, and the sealer never met a queue item without its entry
    log = stack.log_path.read_text(errors="replace").splitlines()
    for trouble in ("failed and will run again", "names entries that are not stored", "skipped a queue item",
                    "disagrees with its stored entry"):
        assert not [line for line in log if trouble in line], [line for line in log if trouble in line][:5]
    assert boto3.client("dynamodb").scan(TableName="covenant-local-pending", Select="COUNT")["Count"] == 0

    # And the whole chain verifies through the API, and holds no write of a cancelled transaction
    result = _verify("chain", "--api", stack.api, "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    dump = tmp_path / "chain.jsonl"
    assert _verify("export", "--api", stack.api, "--out", str(dump)).returncode == 0
    entries = [e for line in dump.read_text().splitlines() for e in json.loads(line)["entries"]]
    assert {e["id"] for e in entries} >= set(accepted)
    assert not [e for e in entries if e["type"] == "order.paid" and e["data"]["order"] in unpaid]
    assert not [e for e in entries if e["type"] == "order.shipped" and e["data"]["order"] in unshipped]

    # And the money adds up: every deposit is in a wallet, in escrow or in the rebate reserve
    wallets = [alice.wallet, bob.wallet, carol.wallet, shop.wallet, "w-stamp"]
    balances = [_get(f"{stack.api}/wallets/{w}")["balances"] for w in wallets]
    assert all(b["fiat"] >= 0 and b["coin"] >= 0 for b in balances), balances
    orders = [_get(f"{stack.api}/orders/{o}") for o in unshipped + unpaid + paid_by_alice]
    assert [o["status"] for o in orders[:4]] == ["paid", "paid", "placed", "placed"]
    totals = _totals()
    escrow = sum(o["escrow"] for o in orders)
    assert sum(b["fiat"] for b in balances) + escrow + totals["reserve"] == DEPOSIT + PRICE
    assert sum(b["coin"] for b in balances) == totals["coins_minted"] - totals.get("coins_retired", 0)
    assert _get(f"{stack.api}/wallets/{bob.wallet}")["balances"]["fiat"] == PRICE
