"""Votes on goods after a confirmed purchase: once per order, rewarded in coins, ranked by votes only."""

from __future__ import annotations

from tests.actors import answer, expect


def _bought(running, buyer, product, price=1_000):
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": running.merchant.node, "quantity": 1,
                                          "unit_price": price, "unit_profit": 0, "product": product,
                                          "description": product}), 201)
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    expect(running.merchant.post(f"/orders/{order['order']}/shipment"), 200)
    expect(buyer.post(f"/orders/{order['order']}/receipt"), 200)
    return order["order"]


def _fund_rewards(running):
    expect(running.stamp.post("/deposits", {"wallet": "w-stamp", "amount": 10_000}), 201)


def test_a_buyer_votes_once_per_confirmed_order_and_is_rewarded(running):
    _fund_rewards(running)
    buyer = running.consumers[0]
    order = _bought(running, buyer, "lamp")
    vote = expect(buyer.post(f"/orders/{order}/vote", {"rating": "up"}), 201)
    assert vote["reward"] == 10
    assert answer(running.http.get(f"/wallets/{buyer.wallet}"))["balances"]["coin"] == 10
    expect(buyer.post(f"/orders/{order}/vote", {"rating": "down"}), 409, "already_voted")


def test_only_the_buyer_and_only_after_receipt(running):
    buyer, other = running.consumers[0], running.consumers[1]
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": running.merchant.node, "quantity": 1,
                                          "unit_price": 100, "unit_profit": 0, "product": "pen"}), 201)["order"]
    expect(buyer.post(f"/orders/{order}/vote", {"rating": "up"}), 409, "order_state")
    done = _bought(running, buyer, "pen")
    expect(other.post(f"/orders/{done}/vote", {"rating": "up"}), 403, "not_the_buyer")


def test_an_unfunded_reward_still_counts_the_vote(running):
    buyer, merchant = running.consumers[0], running.merchant
    order = _bought(running, buyer, "cup")
    # the seller funds the reward; a seller with nothing left cannot
    held = answer(running.http.get(f"/wallets/{merchant.wallet}"))["balances"]["fiat"]
    expect(running.stamp.post("/withdrawals", {"wallet": merchant.wallet, "amount": held}), 201)
    assert expect(buyer.post(f"/orders/{order}/vote", {"rating": "up"}), 201)["reward"] == 0
    assert answer(running.http.get("/rank"))["goods"][0]["up"] == 1


def test_goods_rank_by_votes_never_by_money(running):
    _fund_rewards(running)
    a, b, c = running.consumers
    # "gold" is bought dearly but voted down; "cheap" has the most net votes
    for buyer in (a, b):
        expect(buyer.post(f"/orders/{_bought(running, buyer, 'cheap', price=10)}/vote", {"rating": "up"}), 201)
    expect(c.post(f"/orders/{_bought(running, c, 'gold', price=90_000)}/vote", {"rating": "down"}), 201)
    expect(a.post(f"/orders/{_bought(running, a, 'tie-old', price=500)}/vote", {"rating": "up"}), 201)
    expect(b.post(f"/orders/{_bought(running, b, 'tie-new', price=50_000)}/vote", {"rating": "up"}), 201)
    seller = running.merchant.node
    ranked = [g["product"].removeprefix(f"{seller}/") for g in answer(running.http.get("/rank"))["goods"]]
    # ties (tie-old and tie-new, +1 each) go to the one voted on first, whatever was paid
    assert ranked == ["cheap", "tie-old", "tie-new", "gold"]
    page = answer(running.http.get("/rank?limit=2"))
    assert [g["rank"] for g in page["goods"]] == [1, 2] and page["next"]
    following = answer(running.http.get(f"/rank?limit=2&cursor={page['next']}"))
    assert [g["product"] for g in following["goods"]] == [f"{seller}/tie-new", f"{seller}/gold"]
    assert [g["rank"] for g in following["goods"]] == [3, 4] and following["next"] is None
    expect(running.http.get("/rank?cursor=not-a-cursor"), 400, "invalid_parameter")


def test_rewards_keep_conservation(running, chain):
    from chalicelib.domain.records import Totals, Wallet
    from chalicelib.domain.replay import replay
    from chalicelib.services.sealing import seal_pending_entries
    from tests import state
    from tests.integration.chain_checks import verified_chain

    _fund_rewards(running)
    buyer = running.consumers[0]
    expect(buyer.post(f"/orders/{_bought(running, buyer, 'mug')}/vote", {"rating": "up"}), 201)
    totals = state.get(Totals, Totals.key_of())
    wallets = {w.wallet_id: {"fiat": w.fiat, "coin": w.coin} for w in state.every(Wallet)}
    assert sum(w["coin"] for w in wallets.values()) == totals.coins_minted - totals.coins_retired
    assert totals.reserve >= sum(w["coin"] for w in wallets.values())
    seal_pending_entries(chain)
    assert replay(e for b in verified_chain() for e in b["entries"]).balances == wallets


def test_a_cheap_order_cannot_farm_rewards_or_touch_another_sellers_goods(running):
    _fund_rewards(running)
    buyer, friend = running.consumers[0], running.consumers[1]
    # a 1-unit purchase from a friend, naming the merchant's product id
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": friend.node, "quantity": 1,
                                          "unit_price": 1, "unit_profit": 0, "product": "acme-lamp"}), 201)["order"]
    expect(buyer.post(f"/orders/{order}/payment", {"wallet": buyer.wallet}), 200)
    expect(friend.post(f"/orders/{order}/shipment"), 200)
    expect(buyer.post(f"/orders/{order}/receipt"), 200)
    vote = expect(buyer.post(f"/orders/{order}/vote", {"rating": "down"}), 201)
    assert vote["reward"] == 1  # never more than the order paid
    assert vote["product"] == f"{friend.node}/acme-lamp"  # the friend's goods, not the merchant's


def test_goods_votes_wait_while_the_system_is_halted(running):
    from chalicelib.domain.records import Program
    from tests import state

    order = _bought(running, running.consumers[0], "kettle")
    state.change(state.get(Program, Program.key_of()), status="halted")
    expect(running.consumers[0].post(f"/orders/{order}/vote", {"rating": "up"}), 409, "program_not_running")
