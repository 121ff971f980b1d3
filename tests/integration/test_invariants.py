"""The program's invariants: conservation, no negative balance under concurrency, replicas re-derive balances."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import boto3
import pytest

from chalicelib.domain.records import Totals, Wallet
from chalicelib.domain.replay import replay
from chalicelib.services.sealing import seal_pending_entries
from chalicelib.store.replica_store import ReplicaStore
from tests import state
from tests.actors import expect
from tests.conftest import deliver, drain_queue


def _state_balances() -> dict[str, dict[str, int]]:
    return {w.wallet_id: {"fiat": w.fiat, "coin": w.coin} for w in state.every(Wallet)}


def _trade(running, buyer, quantity, price, profit, ship=True):
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": running.merchant.node,
                                          "quantity": quantity, "unit_price": price, "unit_profit": profit}), 201)
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    if ship:
        expect(running.merchant.post(f"/orders/{order['order']}/shipment"), 200)
    return order


def _activity(running):
    a, b, c = running.consumers
    for i in range(4):
        _trade(running, a, 1 + i, 3_000 + i, 700 * i)
    cancelled = _trade(running, b, 2, 1_500, 300, ship=False)
    expect(b.post(f"/orders/{cancelled['order']}/cancellation"), 200)
    _trade(running, c, 5, 999, 999)
    expect(a.post("/exchanges", {"wallet": a.wallet, "direction": "coin_to_fiat", "amount": 1_234}), 201)
    expect(c.post("/exchanges", {"wallet": c.wallet, "direction": "fiat_to_coin", "amount": 5_000}), 201)
    expect(running.stamp.post("/withdrawals", {"wallet": b.wallet, "amount": 10_000}), 201)


def test_conservation_holds(running):
    _activity(running)
    balances = _state_balances()
    totals = state.get(Totals, Totals.key_of())
    outstanding = sum(b["coin"] for b in balances.values())
    assert outstanding == int(totals.coins_minted) - int(totals.coins_retired)
    assert int(totals.reserve) >= outstanding  # the reserve covers every coin at the peg
    assert all(v >= 0 for b in balances.values() for v in b.values())
    deposited = 4 * 500_000
    assert sum(b["fiat"] for b in balances.values()) + int(totals.reserve) == deposited - 10_000


def test_a_replica_replaying_the_entries_reaches_the_same_balances(running, chain, aws):
    _activity(running)
    seal_pending_entries(chain)
    deliver({"Records": drain_queue(aws.queue_urls[1])})
    replica = ReplicaStore(1)
    replayed = replay(replica.entries(0, replica.state().log_size - 1))
    assert replayed.negative == []
    assert replayed.balances == _state_balances()
    totals = state.get(Totals, Totals.key_of())
    assert (replayed.coins_minted, replayed.coins_retired, replayed.reserve) == (
        int(totals.coins_minted), int(totals.coins_retired), int(totals.reserve))


# --- 200 conflicting payments from one wallet, concurrently, against a moto server


@pytest.fixture
def moto_server(tmp_path, monkeypatch):
    from moto.server import ThreadedMotoServer

    from devstack import moto_patch
    from devstack.bootstrap import create_resources, reset_process_state, start_chain, write_new_key

    moto_patch.apply()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    key = tmp_path / "key.pem"
    write_new_key(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("COVENANT_SEALER_KEY", f"file:{key}")
    reset_process_state()
    stack = create_resources("covenant-test", 3)
    monkeypatch.setenv("COVENANT_BLOCKS_TOPIC_ARN", stack.topic_arn)
    reset_process_state()
    start_chain()
    yield port
    reset_process_state()
    server.stop()


def test_200_concurrent_payments_from_one_wallet_never_overdraw_it(moto_server):
    from chalicelib.services import money, nodes, program, trading
    from chalicelib.services.sealer_key import load_signer
    from chalicelib.services.signed import authenticate
    from tests.actors import Actor

    def signed(actor, path, body):
        raw = json.dumps(body).encode()
        headers = actor.signed_headers(path, raw)
        jwk = body.get("jwk")
        return authenticate("POST", f"http://localhost{path}", headers, raw, registering=jwk)

    stamp = Actor(None, key=load_signer().key)
    buyer, seller = Actor(None), Actor(None)
    for actor in (buyer, seller):
        body = {"role": "consumer", "jwk": actor.jwk}
        answer = nodes.register(signed(actor, "/nodes", body), "consumer", actor.jwk, None)[1]
        actor.node, actor.wallet = answer["node"], answer["wallet"]
    for actor in (buyer, seller):
        program.authorise(signed(actor, "/program/authorisations", {}))
    assert program.program().status == "running"
    money.deposit(signed(stamp, "/deposits", {}), buyer.wallet, 50_000)
    orders = [trading.place_order(signed(buyer, "/orders", {}), buyer.wallet, seller.node, 1, 1_000, 100, "")[1]
              for _ in range(200)]
    payments = [signed(buyer, f"/orders/{o['order']}/payment", {"n": uuid.uuid4().hex}) for o in orders]

    outcomes: list[str] = []
    barrier = threading.Barrier(16)

    def worker(chunk):
        barrier.wait()
        for order, request in chunk:
            for _ in range(20):  # a client retries "conflict": nothing was done, try again
                try:
                    trading.pay(request, order["order"], buyer.wallet)
                    outcomes.append("paid")
                except Exception as exc:  # each refusal is named below
                    if getattr(exc, "code", None) == "conflict":
                        continue
                    outcomes.append(getattr(exc, "code", type(exc).__name__))
                break

    jobs = list(zip(orders, payments, strict=True))
    threads = [threading.Thread(target=worker, args=(jobs[i::16],)) for i in range(16)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    wallet = state.get(Wallet, Wallet.key_of(buyer.wallet))
    paid = [o for o in orders if trading.get_order(o["order"]).status == "paid"]
    assert outcomes.count("paid") == len(paid) == 50, (outcomes, elapsed)
    assert set(outcomes) == {"paid", "insufficient_funds"}
    assert int(wallet.fiat) == 0  # 50,000 - 50 x 1,000: no lost update, never negative
    assert sum(int(trading.get_order(o["order"]).escrow) for o in paid) == 50_000
    assert boto3.client("dynamodb").describe_table(TableName="covenant-test-state")["Table"]["TableStatus"] == "ACTIVE"
    assert os.environ["AWS_ENDPOINT_URL"].endswith(str(moto_server))


def test_the_log_lists_changes_to_a_wallet_in_the_order_they_applied(running, chain):
    from chalicelib.domain import postings
    from chalicelib.services.ledger import Draft, commit, now_ms
    from chalicelib.services.money import value_changes
    from tests.chainmaker import signed_auth
    from tests.integration.chain_checks import verified_chain

    wallet = running.consumers[0].wallet  # holds 500,000
    stale = now_ms() - 5_000  # a withdrawal that took its time, then stalled
    deposit, withdrawal = postings.deposit(wallet, 200_000), postings.withdrawal(wallet, 600_000)
    # signed by the stamp node, as the routes would
    commit([Draft(deposit.type, "stamp", deposit.data, signed_auth(chain.key, deposit.data, "/deposits"),
                  id="deposit-1")], value_changes([("deposit-1", deposit)], 1))
    times = iter([stale])
    commit([Draft(withdrawal.type, "stamp", withdrawal.data, signed_auth(chain.key, withdrawal.data, "/withdrawals"),
                  id="withdrawal-1")],
           value_changes([("withdrawal-1", withdrawal)], 2), clock=lambda: next(times, None) or now_ms())
    seal_pending_entries(chain)
    entries = [e for block in verified_chain() for e in block["entries"]]
    kinds = [e["type"] for e in entries if e["data"].get("wallet") == wallet and e["type"].startswith("fiat.")]
    assert kinds[-2:] == ["fiat.deposited", "fiat.withdrawn"]
    assert replay(entries).negative == []
    assert _state_balances()[wallet]["fiat"] == 100_000
