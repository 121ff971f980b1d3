"""Trading (S3-S5): order, escrow, tiered finality, shipment with the rebate minted, receipt, cancellation."""

from __future__ import annotations

import json

from chalicelib.services.sealing import seal_pending_entries
from tests.actors import answer, expect
from tests.conftest import deliver, drain_queue


def _order(buyer, seller, quantity=2, unit_price=10_000, unit_profit=2_500):
    return expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": quantity,
                                         "unit_price": unit_price, "unit_profit": unit_profit,
                                         "description": "two lamps"}), 201)


def _balances(http, actor):
    return answer(http.get(f"/wallets/{actor.wallet}"))["balances"]


def test_a_full_trade_mints_the_rebate_to_the_buyer(running):
    buyer, merchant, http = running.consumers[0], running.merchant, running.http
    order = _order(buyer, merchant)
    assert order["amount"] == 20_000 and order["endorsements_needed"] == 0
    paid = expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    assert paid["escrow"] == 20_000
    assert _balances(http, buyer) == {"fiat": 480_000, "coin": 0}
    shipped = expect(merchant.post(f"/orders/{order['order']}/shipment"), 200)
    # rebate = quantity x unit_profit x 20% = 2 x 2,500 x 0.2
    assert shipped["rebate"] == 1_000 and shipped["seller_proceeds"] == 19_000
    assert _balances(http, buyer) == {"fiat": 480_000, "coin": 1_000}
    assert _balances(http, merchant) == {"fiat": 519_000, "coin": 0}
    expect(buyer.post(f"/orders/{order['order']}/receipt"), 200)
    assert answer(http.get(f"/orders/{order['order']}"))["status"] == "received"


def test_only_the_parties_act(running):
    buyer, other, merchant = running.consumers[0], running.consumers[1], running.merchant
    order = _order(buyer, merchant)
    expect(other.post(f"/orders/{order['order']}/payment", {"wallet": other.wallet}), 403, "not_the_buyer")
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    expect(buyer.post(f"/orders/{order['order']}/shipment"), 403, "not_the_seller")
    expect(buyer.post(f"/orders/{order['order']}/receipt"), 409, "order_state")
    expect(merchant.post("/orders", {"wallet": merchant.wallet, "seller": buyer.node, "quantity": 1,
                                     "unit_price": 1, "unit_profit": 0}), 403, "consumers_only")


def test_a_consumer_may_sell_to_another_consumer(running):
    buyer, seller = running.consumers[0], running.consumers[2]
    order = _order(buyer, seller, quantity=1, unit_price=5_000, unit_profit=5_000)
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    assert expect(seller.post(f"/orders/{order['order']}/shipment"), 200)["rebate"] == 1_000


def test_cancellation_before_shipment_refunds_the_escrow(running):
    buyer, merchant, http = running.consumers[0], running.merchant, running.http
    placed = _order(buyer, merchant)
    expect(merchant.post(f"/orders/{placed['order']}/cancellation"), 200)
    paid = _order(buyer, merchant)
    expect(buyer.post(f"/orders/{paid['order']}/payment", {"wallet": buyer.wallet}), 200)
    assert expect(buyer.post(f"/orders/{paid['order']}/cancellation"), 200)["refunded"] == 20_000
    assert _balances(http, buyer)["fiat"] == 500_000
    shipped = _order(buyer, merchant)
    expect(buyer.post(f"/orders/{shipped['order']}/payment", {"wallet": buyer.wallet}), 200)
    expect(merchant.post(f"/orders/{shipped['order']}/shipment"), 200)
    expect(buyer.post(f"/orders/{shipped['order']}/cancellation"), 409, "order_state")
    expect(running.consumers[1].post(f"/orders/{shipped['order']}/cancellation"), 403, "not_a_party")


def test_payment_needs_the_funds(running):
    buyer, merchant = running.consumers[0], running.merchant
    order = _order(buyer, merchant, quantity=1, unit_price=500_001, unit_profit=0)
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 409, "insufficient_funds")
    assert answer(running.http.get(f"/orders/{order['order']}"))["status"] == "placed"


def _set_wallet_status(wallet: str, status: str) -> None:
    from chalicelib.domain.records import Wallet
    from tests import state

    state.change(state.get(Wallet, Wallet.key_of(wallet)), status=status)


def test_frozen_black_or_revoked_wallets_cannot_trade(running):
    buyer, merchant = running.consumers[0], running.merchant
    for status in ("frozen", "black", "revoked"):
        _set_wallet_status(buyer.wallet, status)
        expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": merchant.node, "quantity": 1,
                                      "unit_price": 100, "unit_profit": 0}), 409, "wallet_not_active")
    _set_wallet_status(buyer.wallet, "active")
    order = _order(buyer, merchant)
    _set_wallet_status(buyer.wallet, "frozen")
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 409, "wallet_not_active")
    _set_wallet_status(buyer.wallet, "active")
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    _set_wallet_status(merchant.wallet, "black")
    expect(merchant.post(f"/orders/{order['order']}/shipment"), 409, "wallet_not_active")


def test_a_large_order_is_final_only_once_every_sub_chain_cosigned_it(running, operator_subchains, chain, aws):
    buyer, merchant = running.consumers[0], running.merchant
    expect(running.stamp.post("/deposits", {"wallet": buyer.wallet, "amount": 2_000_000}), 201)
    order = _order(buyer, merchant, quantity=1, unit_price=1_500_000, unit_profit=100_000)
    assert order["endorsements_needed"] == 3  # every sub-chain, from 10,000.00
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    refused = expect(merchant.post(f"/orders/{order['order']}/shipment"), 409, "order_not_final")
    assert refused["error"]["details"]["sealed"] is False
    seal_pending_entries(chain)
    for url in aws.queue_urls[:2]:
        deliver({"Records": drain_queue(url)})
    finality = answer(running.http.get(f"/orders/{order['order']}"))["finality"]
    assert (finality["cosigned"], finality["needed"], finality["final"]) == (2, 3, False)
    assert finality["cosigners"] == sorted(operator_subchains[:2])
    expect(merchant.post(f"/orders/{order['order']}/shipment"), 409, "order_not_final")
    deliver({"Records": drain_queue(aws.queue_urls[2])})
    assert expect(merchant.post(f"/orders/{order['order']}/shipment"), 200)["rebate"] == 20_000
    shipped = answer(running.http.get(f"/orders/{order['order']}"))
    assert shipped["final_by"] == sorted(operator_subchains)


def test_exchange_both_ways(running):
    buyer, merchant, http = running.consumers[0], running.merchant, running.http
    bought = expect(buyer.post("/exchanges", {"wallet": buyer.wallet, "direction": "fiat_to_coin",
                                              "amount": 10_000}), 201)
    assert bought["coins"] == 10_000 and _balances(http, buyer) == {"fiat": 490_000, "coin": 10_000}
    sold = expect(buyer.post("/exchanges", {"wallet": buyer.wallet, "direction": "coin_to_fiat",
                                            "amount": 5_000}), 201)
    assert (sold["fee"], sold["fiat"]) == (100, 4_900)  # 2% fee
    assert _balances(http, buyer) == {"fiat": 494_900, "coin": 5_000}
    assert _balances(http, running.stamp)["fiat"] == 100
    expect(buyer.post("/exchanges", {"wallet": buyer.wallet, "direction": "coin_to_fiat", "amount": 5_001}), 409,
           "insufficient_funds")
    expect(merchant.post("/exchanges", {"wallet": buyer.wallet, "direction": "coin_to_fiat", "amount": 1}), 403,
           "not_your_wallet")


def test_every_step_is_an_entry_in_the_chain(running, chain):
    buyer, merchant = running.consumers[0], running.merchant
    order = _order(buyer, merchant)
    expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
    expect(merchant.post(f"/orders/{order['order']}/shipment"), 200)
    expect(buyer.post(f"/orders/{order['order']}/receipt"), 200)
    seal_pending_entries(chain)
    from tests.integration.chain_checks import verified_chain

    types = [e["type"] for block in verified_chain() for e in block["entries"]
             if e["data"].get("order") == order["order"]]
    assert types == ["order.placed", "order.paid", "order.shipped", "coin.minted", "order.settled", "order.received"]
    minted = next(e for block in verified_chain() for e in block["entries"] if e["type"] == "coin.minted")
    assert minted["data"]["rule"] == "rebate" and minted["data"]["inputs"]["rebate_bps"] == 2000
    assert json.loads(json.dumps(minted))["auth"] is None
