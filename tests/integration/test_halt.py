"""A halted system is halted: every signed route, tried while halted, against the one table of domain/lifecycle.py.

Each request below would succeed on a running system (the first test proves
it for a sample); while halted, only a restart proposal, votes on it, and the
constitution's own machinery (sweeps, tallies) are accepted, and a refused
request writes nothing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from app import app
from chalicelib.domain.lifecycle import ALLOWED, AWAITING, HALTED, RUNNING, refusal
from tests.actors import Actor, answer, expect, register_consumer, register_merchant


def _order(world, buyer, *steps):
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": world.merchant.node, "quantity": 1,
                                          "unit_price": 1_000, "unit_profit": 100}), 201)["order"]
    if "pay" in steps:
        expect(buyer.post(f"/orders/{order}/payment", {"wallet": buyer.wallet}), 200)
    if "ship" in steps:
        expect(world.merchant.post(f"/orders/{order}/shipment"), 200)
    if "receive" in steps:
        expect(buyer.post(f"/orders/{order}/receipt"), 200)
    return order


@pytest.fixture
def world(running):
    """One of everything a request can act on, made while running."""
    buyer, voter = running.consumers[0], running.consumers[1]
    expect(buyer.post("/exchanges", {"wallet": buyer.wallet, "direction": "fiat_to_coin", "amount": 5_000}), 201)
    world = SimpleNamespace(**vars(running))
    world.placed = _order(running, buyer)
    world.paid = _order(running, buyer, "pay")
    world.shipped = _order(running, buyer, "pay", "ship")
    world.received = _order(running, buyer, "pay", "ship", "receive")
    world.received_too = _order(running, buyer, "pay", "ship", "receive")
    world.item = expect(voter.post("/items", {"wallet": voter.wallet, "title": "Notes", "text": "on lamps",
                                              "price": 10}), 201)["item"]
    expect(buyer.post(f"/items/{world.item}/purchase", {"wallet": buyer.wallet}), 201)
    world.other_item = expect(voter.post("/items", {"wallet": voter.wallet, "title": "More", "text": "on oil",
                                                    "price": 10}), 201)["item"]
    world.freeze = expect(buyer.post("/proposals", {"kind": "freeze", "subject": running.merchant.wallet}),
                          201)["proposal"]
    world.rules = expect(buyer.post("/proposals", {"kind": "rules", "params": {"rebate_bps": 1_000}}),
                         201)["proposal"]
    world.pending = Actor(running.http)
    identity = {"legal_name": "Late Shop", "licence_number": "L-1", "registered_ip": "192.0.2.1", "contact": "x@y"}
    world.pending.node = expect(world.pending.post("/nodes", {"role": "merchant", "jwk": world.pending.jwk,
                                                              "identity": identity}), 201)["node"]
    world.newcomer = Actor(running.http)
    world.subchain = expect(running.stamp.post("/subchains", {"public_key": _fresh_public_key()}), 201)["subchain"]
    return world


def _fresh_public_key() -> str:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chalicelib.ledger.keys import raw_public

    return base64.b64encode(raw_public(Ed25519PrivateKey.generate().public_key())).decode()


def _requests(w):
    """Every signed route, with a request that a running system accepts: (route, actor, path, body)."""
    buyer, voter, merchant, stamp = w.consumers[0], w.consumers[1], w.merchant, w.stamp
    return [
        ("/nodes", w.newcomer, "/nodes", {"role": "consumer", "jwk": w.newcomer.jwk}),
        ("/nodes/{node_id}/approval", stamp, f"/nodes/{w.pending.node}/approval", {}),
        ("/program/authorisations", w.consumers[2], "/program/authorisations", {}),
        ("/deposits", stamp, "/deposits", {"wallet": buyer.wallet, "amount": 100}),
        ("/withdrawals", stamp, "/withdrawals", {"wallet": buyer.wallet, "amount": 100}),
        ("/orders", buyer, "/orders", {"wallet": buyer.wallet, "seller": merchant.node, "quantity": 1,
                                       "unit_price": 100, "unit_profit": 0}),
        ("/orders/{order_id}/payment", buyer, f"/orders/{w.placed}/payment", {"wallet": buyer.wallet}),
        ("/orders/{order_id}/shipment", merchant, f"/orders/{w.paid}/shipment", {}),
        ("/orders/{order_id}/receipt", buyer, f"/orders/{w.shipped}/receipt", {}),
        ("/orders/{order_id}/cancellation", buyer, f"/orders/{w.placed}/cancellation", {}),
        ("/orders/{order_id}/vote", buyer, f"/orders/{w.received}/vote", {"rating": "up"}),
        ("/orders/{order_id}/disputes", buyer, f"/orders/{w.received_too}/disputes",
         {"ground": "quality", "remedy": "reissue_rebate", "statement": "broken"}),
        ("/exchanges", buyer, "/exchanges", {"wallet": buyer.wallet, "direction": "coin_to_fiat", "amount": 100}),
        ("/uploads", buyer, "/uploads", {"sha256": "ab" * 32, "size": 70_000}),
        ("/items", buyer, "/items", {"wallet": buyer.wallet, "title": "Mine", "text": "a note", "price": 0}),
        ("/items/{item_id}/purchase", buyer, f"/items/{w.other_item}/purchase", {"wallet": buyer.wallet}),
        ("/items/{item_id}/vote", buyer, f"/items/{w.item}/vote", {"rating": "up"}),
        ("/proposals", buyer, "/proposals", {"kind": "upgrade", "params": {"version": "2.0"}}),
        ("/proposals/{proposal_id}/votes", voter, f"/proposals/{w.freeze}/votes", {"choice": "yes"}),
        ("/proposals/{proposal_id}/approval", stamp, f"/proposals/{w.rules}/approval", {}),
        ("/sweeps", stamp, "/sweeps", {}),
        ("/tallies", stamp, "/tallies", {}),
        ("/subchains", w.consumers[2], "/subchains", {"public_key": _fresh_public_key()}),
        ("/subchains/{subchain_id}/retirement", stamp, f"/subchains/{w.subchain}/retirement", {}),
    ]


# route -> accepted while halted (with the request above)
WHILE_HALTED = {"/sweeps": True, "/tallies": True}


def _signed_routes() -> set[str]:
    # the one unsigned POST: a cosignature is itself a signature, by a registered sub-chain key
    return {path for path, methods in app.routes.items() if "POST" in methods} - {"/checkpoints/{size}/cosignatures"}


def test_every_signed_route_is_in_this_test():
    assert {route for route, *_ in _requests(SimpleNamespace(
        consumers=[SimpleNamespace(wallet="w", jwk={})] * 3, merchant=SimpleNamespace(node="m", wallet="w"),
        stamp=None, newcomer=SimpleNamespace(jwk={}), pending=SimpleNamespace(node="p"), placed="o", paid="o",
        shipped="o", received="o", received_too="o", item="i", other_item="i", freeze="p", rules="p",
        subchain="sc-0"))} \
        == _signed_routes()


def test_the_policy_names_every_action_and_allows_only_restarts_while_halted():
    assert {a for a, states in ALLOWED.items() if HALTED in states} == {"propose:restart", "vote:restart", "sweep",
                                                                       "tally"}
    assert refusal("order", HALTED) and refusal("order", AWAITING) and refusal("order", RUNNING) is None
    assert refusal("propose", HALTED, kind="restart") is None and refusal("propose", RUNNING, kind="restart")


def _halt(world):
    halt = expect(world.consumers[2].post("/proposals", {"kind": "halt"}), 201)["proposal"]
    for voter in [*world.consumers, world.stamp]:
        expect(voter.post(f"/proposals/{halt}/votes", {"choice": "yes"}), 201)
    expect(world.stamp.post("/tallies"), 200)
    assert answer(world.http.get("/program"))["status"] == "halted"


def _entries_count():
    from chalicelib.store import backend

    return len(backend.state().entries)  # the memory store: every committed entry


def test_while_halted_every_route_but_restarts_and_the_constitution_is_refused_and_writes_nothing(world):
    _halt(world)
    for route, actor, path, body in _requests(world):
        before = _entries_count()
        response = actor.post(path, body)
        if WHILE_HALTED.get(route):
            assert response.status_code in (200, 201), (route, answer(response))
        else:
            expect(response, 409, "program_not_running")
            assert answer(response)["error"]["details"] == {"status": "halted"}
            assert _entries_count() == before, route
    # and the restart still goes through, by the same vote
    restart = expect(world.consumers[0].post("/proposals", {"kind": "restart"}), 201)["proposal"]
    for voter in [*world.consumers, world.stamp]:
        expect(voter.post(f"/proposals/{restart}/votes", {"choice": "yes"}), 201)
    expect(world.stamp.post("/tallies"), 200)
    assert answer(world.http.get("/program"))["status"] == "running"


def test_a_halted_tally_closes_only_restart_proposals(world, program_clock):
    _halt(world)
    program_clock.advance(2 * 24 * 3600 * 1000)  # every other proposal's deadline goes by
    tallied = expect(world.stamp.post("/tallies"), 200)
    assert tallied["closed"] == []
    assert answer(world.http.get(f"/proposals/{world.freeze}"))["status"] == "open"


def test_the_same_requests_are_accepted_while_running(world):
    for route, actor, path, body in _requests(world):
        response = actor.post(path, body)
        if route == "/program/authorisations":  # authorising is for a program that has not started
            expect(response, 409, "program_already_started")
            continue
        assert response.status_code in (200, 201), (route, json.loads(response.body))


def test_a_commit_racing_a_halt_is_refused_by_its_own_condition(world, monkeypatch):
    """The status is read, the halt lands, then the commit: its condition on the program refuses it."""
    from chalicelib.domain.records import Program
    from chalicelib.services import program
    from tests import state

    buyer = world.consumers[0]
    real = program.program

    def halted_after_reading() -> Program:
        found = real()
        state.change(found, status="halted")  # the halt commits right after the read
        return found

    monkeypatch.setattr(program, "program", halted_after_reading)
    before = _entries_count()
    expect(buyer.post("/exchanges", {"wallet": buyer.wallet, "direction": "fiat_to_coin", "amount": 7}), 409)
    assert _entries_count() == before


def test_before_the_program_starts_only_registration_and_the_bridge_work(http, stamp):
    consumer = register_consumer(http)
    merchant = register_merchant(http, stamp)
    assert answer(http.get("/program"))["status"] == "awaiting_authorisation"
    expect(stamp.post("/deposits", {"wallet": consumer.wallet, "amount": 100}), 201)
    expect(consumer.post("/orders", {"wallet": consumer.wallet, "seller": merchant.node, "quantity": 1,
                                     "unit_price": 10, "unit_profit": 0}), 409, "program_not_running")
    expect(consumer.post("/proposals", {"kind": "halt"}), 409, "program_not_running")
