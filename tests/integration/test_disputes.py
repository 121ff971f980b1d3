"""Disputes (S7): the buyer contests; consumer nodes not party to the order decide by majority of the eligible."""

from __future__ import annotations

import pytest

from chalicelib.services.sealing import seal_pending_entries
from tests.actors import answer, expect, register_consumer


@pytest.fixture
def market(running):
    """Six consumers: a buyer, a consumer seller, and four neutral voters."""
    running.consumers += [register_consumer(running.http) for _ in range(3)]
    return running


def _shipped(market, buyer, seller, quantity=2, price=10_000, profit=2_500):
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": quantity,
                                          "unit_price": price, "unit_profit": profit}), 201)["order"]
    expect(buyer.post(f"/orders/{order}/payment", {"wallet": buyer.wallet}), 200)
    expect(seller.post(f"/orders/{order}/shipment"), 200)
    return order


def _dispute(buyer, order, remedy="reissue_rebate", ground="quality", deadline=30):
    return buyer.post(f"/orders/{order}/disputes", {"ground": ground, "remedy": remedy,
                                                    "statement": "the lamps arrived broken",
                                                    "deadline_minutes": deadline})


def _votes(voters, dispute, choice="yes"):
    for voter in voters:
        expect(voter.post(f"/proposals/{dispute}/votes", {"choice": choice}), 201)


def test_only_the_buyer_opens_a_dispute_once(market):
    buyer, seller, other = market.consumers[0], market.merchant, market.consumers[1]
    order = _shipped(market, buyer, seller)
    expect(_dispute(other, order), 403, "not_the_buyer")
    opened = expect(_dispute(buyer, order), 201)
    # eligible: consumers not party to the order (the buyer is out; the merchant and stamp are not consumers)
    assert opened["eligible"] == len(market.consumers) - 1 and opened["kind"] == "dispute"
    expect(_dispute(buyer, order), 409, "already_disputed")


def test_an_unshipped_order_is_not_disputed(market):
    buyer = market.consumers[0]
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": market.merchant.node, "quantity": 1,
                                          "unit_price": 100, "unit_profit": 0}), 201)["order"]
    expect(_dispute(buyer, order), 409, "order_state")


def test_a_party_cannot_vote_on_its_own_dispute(market):
    buyer, consumer_seller = market.consumers[0], market.consumers[1]
    order = _shipped(market, buyer, consumer_seller)
    dispute = expect(_dispute(buyer, order), 201)["proposal"]
    expect(buyer.post(f"/proposals/{dispute}/votes", {"choice": "yes"}), 403, "party_to_dispute")
    expect(consumer_seller.post(f"/proposals/{dispute}/votes", {"choice": "no"}), 403, "party_to_dispute")
    expect(market.stamp.post(f"/proposals/{dispute}/votes", {"choice": "yes"}), 403, "not_eligible")


def test_an_upheld_dispute_reissues_the_rebate_from_the_seller(market):
    buyer, seller = market.consumers[0], market.merchant
    order = _shipped(market, buyer, seller)  # rebate 2 x 2,500 x 20% = 1,000
    dispute = expect(_dispute(buyer, order), 201)
    neutral = market.consumers[1:]
    needed = -(-dispute["eligible"] * 51 // 100)
    _votes(neutral[:needed - 1], dispute["proposal"])
    assert expect(market.stamp.post("/tallies"), 200)["closed"] == []  # one short of 51%
    _votes(neutral[needed - 1:needed], dispute["proposal"])
    closed = expect(market.stamp.post("/tallies"), 200)["closed"]
    assert closed[0]["enacted"] == {"reissued_rebate": 1_000}
    assert answer(market.http.get(f"/wallets/{buyer.wallet}"))["balances"]["coin"] == 2_000
    assert answer(market.http.get(f"/wallets/{seller.wallet}"))["balances"]["fiat"] == 500_000 + 19_000 - 1_000


def test_revoking_a_seller_refunds_its_open_orders(market):
    buyer, seller, other_buyer = market.consumers[0], market.merchant, market.consumers[1]
    order = _shipped(market, buyer, seller)
    open_paid = expect(other_buyer.post("/orders", {"wallet": other_buyer.wallet, "seller": seller.node,
                                                    "quantity": 1, "unit_price": 7_000, "unit_profit": 0}),
                       201)["order"]
    expect(other_buyer.post(f"/orders/{open_paid}/payment", {"wallet": other_buyer.wallet}), 200)
    dispute = expect(_dispute(buyer, order, remedy="revoke_seller"), 201)["proposal"]
    _votes(market.consumers[1:5], dispute)
    result = expect(market.stamp.post("/tallies"), 200)
    assert result["closed"][0]["enacted"] == {"revoked": seller.node}
    assert result["refunded"] == [open_paid]
    assert answer(market.http.get(f"/nodes/{seller.node}"))["status"] == "revoked"
    assert answer(market.http.get(f"/orders/{open_paid}"))["status"] == "cancelled"
    assert answer(market.http.get(f"/wallets/{other_buyer.wallet}"))["balances"]["fiat"] == 500_000
    expect(seller.post("/exchanges", {"wallet": seller.wallet, "direction": "fiat_to_coin", "amount": 1}), 403,
           "key_revoked")


def test_a_dispute_short_of_the_majority_is_dismissed_at_its_deadline(market, chain, program_clock):
    buyer = market.consumers[0]
    order = _shipped(market, buyer, market.merchant)
    dispute = expect(_dispute(buyer, order, deadline=1), 201)["proposal"]
    _votes(market.consumers[1:3], dispute)
    program_clock.advance(61_000)
    closed = expect(market.stamp.post("/tallies"), 200)["closed"]
    assert closed[0]["result"] == "rejected"
    seal_pending_entries(chain)
    from tests.integration.chain_checks import verified_chain

    assert any(e["type"] == "dispute.dismissed" for b in verified_chain() for e in b["entries"])


def test_a_reissue_the_seller_cannot_fund_says_so_and_history_adds_up(market):
    buyer, seller = market.consumers[0], market.merchant
    order = _shipped(market, buyer, seller)
    dispute = expect(_dispute(buyer, order), 201)["proposal"]
    wallet = answer(market.http.get(f"/wallets/{seller.wallet}"))["balances"]["fiat"]
    expect(market.stamp.post("/withdrawals", {"wallet": seller.wallet, "amount": wallet}), 201)
    _votes(market.consumers[1:5], dispute)
    closed = expect(market.stamp.post("/tallies"), 200)["closed"][0]
    assert "cannot fund" in closed["not_enacted"] and closed["reason"] == "seller_cannot_fund"
    # an enacted one leaves history rows that add up to the balances
    second = _shipped(market, buyer, seller)
    expect(market.stamp.post("/deposits", {"wallet": seller.wallet, "amount": 5_000}), 201)
    dispute = expect(_dispute(buyer, second), 201)["proposal"]
    _votes(market.consumers[1:5], dispute)
    expect(market.stamp.post("/tallies"), 200)
    for wallet_id in (buyer.wallet, seller.wallet):
        balances = answer(market.http.get(f"/wallets/{wallet_id}"))["balances"]
        rows = answer(market.http.get(f"/wallets/{wallet_id}/history?limit=500"))["history"]
        for asset in ("fiat", "coin"):
            assert sum(r["delta"] for r in rows if r["asset"] == asset) == balances[asset], (wallet_id, asset)
