"""Nodes, wallets, the program's lifecycle and the stamp node's fiat bridge."""

from __future__ import annotations

from tests.actors import Actor, answer, expect, register_consumer, register_merchant


def test_a_consumer_gets_an_active_wallet_bound_to_its_key(http):
    consumer = register_consumer(http)
    node = answer(http.get(f"/nodes/{consumer.node}"))
    assert node["status"] == "active" and node["kid"] == consumer.kid and node["wallet"] == consumer.wallet
    assert answer(http.get(f"/wallets/{consumer.wallet}"))["balances"] == {"fiat": 0, "coin": 0}


def test_a_merchant_waits_for_the_stamp_nodes_approval(http, stamp):
    merchant = Actor(http)
    identity = {"legal_name": "Shop", "licence_number": "X-1", "registered_ip": "192.0.2.1", "contact": "c@d.example"}
    body = expect(merchant.post("/nodes", {"role": "merchant", "jwk": merchant.jwk, "identity": identity}), 201)
    assert body["status"] == "pending" and body["wallet"] is None
    other = register_consumer(http)
    expect(other.post(f"/nodes/{body['node']}/approval"), 403, "stamp_only")
    approved = expect(stamp.post(f"/nodes/{body['node']}/approval"), 200)
    assert answer(http.get(f"/nodes/{body['node']}"))["status"] == "active" and approved["wallet"]
    expect(stamp.post(f"/nodes/{body['node']}/approval"), 409, "not_pending")


def test_one_legal_identity_registers_once(http, stamp):
    register_merchant(http, stamp, name="Acme  Trading LTD", licence="lic-001")
    twin = Actor(http)
    identity = {"legal_name": "acme trading ltd", "licence_number": "LIC-001", "registered_ip": "192.0.2.9",
                "contact": "x@y.example"}
    expect(twin.post("/nodes", {"role": "merchant", "jwk": twin.jwk, "identity": identity}), 409,
           "already_registered")


def test_the_program_starts_at_51_percent_of_consumers(http, stamp):
    consumers = [register_consumer(http) for _ in range(4)]
    merchant = register_merchant(http, stamp)
    order = {"wallet": consumers[0].wallet, "seller": merchant.node, "quantity": 1, "unit_price": 100,
             "unit_profit": 10}
    expect(consumers[0].post("/orders", order), 409, "program_not_running")
    expect(consumers[0].post("/program/authorisations"), 201)
    expect(consumers[1].post("/program/authorisations"), 201)
    assert answer(http.get("/program"))["status"] == "awaiting_authorisation"  # 2 of 4 is 50%
    expect(consumers[1].post("/program/authorisations"), 409, "already_authorised")
    expect(merchant.post("/program/authorisations"), 403, "consumers_only")
    expect(consumers[2].post("/program/authorisations"), 201)  # 3 of 4
    status = answer(http.get("/program"))
    assert status["status"] == "running" and status["authorisations"] == 3 and status["consumers"] == 4
    expect(consumers[3].post("/program/authorisations"), 409, "program_already_started")


def test_the_stamp_node_bridges_fiat(running):
    wallet = running.consumers[0].wallet
    expect(running.stamp.post("/withdrawals", {"wallet": wallet, "amount": 100_000}), 201)
    expect(running.stamp.post("/withdrawals", {"wallet": wallet, "amount": 400_001}), 409, "insufficient_funds")
    expect(running.consumers[0].post("/deposits", {"wallet": wallet, "amount": 5}), 403, "stamp_only")
    expect(running.stamp.post("/deposits", {"wallet": "w-nope", "amount": 5}), 404, "not_found")
    history = answer(running.http.get(f"/wallets/{wallet}/history"))["history"]
    assert [(h["type"], h["delta"]) for h in history] == [("fiat.deposited", 500_000), ("fiat.withdrawn", -100_000)]
    assert answer(running.http.get(f"/wallets/{wallet}"))["balances"]["fiat"] == 400_000


def test_history_pages(running):
    wallet = running.consumers[1].wallet
    for amount in range(1, 6):
        expect(running.stamp.post("/deposits", {"wallet": wallet, "amount": amount}), 201)
    first = answer(running.http.get(f"/wallets/{wallet}/history?limit=4"))
    rest = answer(running.http.get(f"/wallets/{wallet}/history?limit=4&cursor={first['next']}"))
    assert len(first["history"]) == 4 and len(rest["history"]) == 2 and rest["next"] is None
    expect(running.http.get(f"/wallets/{wallet}/history?cursor=%27%3Bdrop"), 400, "invalid_parameter")
