"""Refusals that no other test asserted, each with its documented status and code."""

from __future__ import annotations

from tests import state
from tests.actors import Actor, answer, expect, register_consumer


def test_nobody_buys_from_itself(running):
    buyer = running.consumers[0]
    expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": buyer.node, "quantity": 1, "unit_price": 10,
                                  "unit_profit": 0}), 409, "self_trade")


def test_a_publisher_does_not_buy_its_own_item(running):
    author = running.consumers[0]
    item = expect(author.post("/items", {"wallet": author.wallet, "title": "Mine", "text": "words", "price": 1}),
                  201)["item"]
    expect(author.post(f"/items/{item}/purchase", {"wallet": author.wallet}), 409, "self_trade")


def test_a_seller_that_is_not_in_good_standing_takes_no_orders(running):
    from chalicelib.domain.records import Node

    buyer, seller = running.consumers[0], running.consumers[1]
    state.change(state.get(Node, Node.key_of(seller.node)), status="frozen")
    expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": 1, "unit_price": 10,
                                  "unit_profit": 0}), 409, "seller_not_active")
    expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": "stamp", "quantity": 1, "unit_price": 10,
                                  "unit_profit": 0}), 409, "seller_not_active")


def test_a_new_key_registers_only_itself(http):
    signer, other = Actor(http), Actor(http)
    # the signer's key is not registered, and the body presents another: no key vouches for the request
    expect(signer.post("/nodes", {"role": "consumer", "jwk": other.jwk}), 401, "unknown_key")
    known = register_consumer(http)
    expect(known.post("/nodes", {"role": "consumer", "jwk": other.jwk}), 409, "key_already_registered")


def test_key_mismatch_when_the_body_names_another_key_than_the_signature(running, monkeypatch):
    """The HTTP layer already refuses this (unknown_key above); the service refuses it again, by name."""
    from chalicelib.services import signed

    newcomer, other = Actor(running.http), Actor(running.http)
    # present the newcomer's key for the signature check, but name another key id in the body's jwk
    real = signed.authenticate

    def presenting_the_signers_key(*args, **kwargs):
        kwargs["registering"] = newcomer.jwk
        return real(*args, **kwargs)

    monkeypatch.setattr("chalicelib.api.signed_routes.authenticate", presenting_the_signers_key)
    expect(newcomer.post("/nodes", {"role": "consumer", "jwk": other.jwk}), 403, "key_mismatch")


def test_only_active_consumers_and_merchants_trade(running):
    from chalicelib.domain.records import Node

    trader = running.consumers[1]
    state.change(state.get(Node, Node.key_of(trader.node)), status="frozen")
    expect(trader.post("/exchanges", {"wallet": trader.wallet, "direction": "fiat_to_coin", "amount": 10}), 403,
           "not_a_trader")
    expect(running.stamp.post("/exchanges", {"wallet": "w-stamp", "direction": "fiat_to_coin", "amount": 10}), 403,
           "not_a_trader")


def test_merchants_do_not_vote_on_proposals(running):
    proposal = expect(running.consumers[0].post("/proposals", {"kind": "halt"}), 201)["proposal"]
    expect(running.merchant.post(f"/proposals/{proposal}/votes", {"choice": "yes"}), 403, "not_a_voter")
    expect(running.merchant.post("/proposals", {"kind": "halt"}), 403, "not_a_voter")


def test_a_proposal_must_apply_to_the_state_it_meets(running):
    consumer = running.consumers[0]
    expect(consumer.post("/proposals", {"kind": "restart"}), 409, "program_not_running")
    expect(consumer.post("/proposals", {"kind": "unfreeze", "subject": running.merchant.wallet}), 409,
           "proposal_not_applicable")
    halt = expect(consumer.post("/proposals", {"kind": "halt"}), 201)["proposal"]
    assert answer(running.http.get(f"/proposals/{halt}"))["status"] == "open"


def test_an_extra_wallet_the_sweep_blackened_is_answered_black_wallet(running):
    """The README says black_wallet: a black wallet is never a legal one, so it was answered not_a_legal_wallet."""
    from chalicelib.domain.records import Wallet

    merchant = running.merchant
    kid = answer(running.http.get(f"/nodes/{merchant.node}"))["kid"]
    state.plant(Wallet(wallet_id="w-extra", node_id=merchant.node, kid=kid, status="active", ts=10**13))
    expect(running.stamp.post("/sweeps"), 200)
    assert answer(running.http.get("/wallets/w-extra"))["status"] == "black"
    expect(running.consumers[0].post("/proposals", {"kind": "unfreeze", "subject": "w-extra"}), 409, "black_wallet")
    expect(running.consumers[0].post("/proposals", {"kind": "freeze", "subject": "w-extra"}), 409, "black_wallet")
