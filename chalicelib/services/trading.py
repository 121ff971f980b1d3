"""Trading, the invention's steps S3 to S5: order, escrowed payment, tiered finality, shipment
with the rebate minted to the buyer, receipt; cancellation with refund before shipment.

Order states: placed -> paid -> shipped -> received; placed or paid -> cancelled.
"""

from __future__ import annotations

import secrets
from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.rules import endorsements_needed, order_amount, rebate
from ..errors import Conflict, Forbidden, NotFound, StorageError
from ..settings import get_settings
from ..store import ledger_store
from ..store.replica_store import endorsements
from ..store.state_models import ITEM, OrderRecord, TotalsRecord
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import credit, debit, history, refused_debit
from .nodes import get_node, get_wallet
from .program import require_running, rules, update
from .signed import SignedRequest

TRADING_ROLES = ("consumer", "merchant")


def get_order(order_id: str) -> OrderRecord:
    try:
        return OrderRecord.get(f"order#{order_id}", ITEM, consistent_read=True)
    except OrderRecord.DoesNotExist as exc:
        raise NotFound(f"there is no order {order_id}", field="order") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the order") from exc


def order_view(order: OrderRecord) -> dict[str, Any]:
    return {"order": order.order_id, "status": order.status, "buyer": order.buyer, "seller": order.seller,
            "buyer_wallet": order.buyer_wallet, "seller_wallet": order.seller_wallet,
            "quantity": int(order.quantity), "unit_price": int(order.unit_price),
            "unit_profit": int(order.unit_profit), "amount": int(order.amount), "escrow": int(order.escrow),
            "rebate": int(order.rebate), "endorsements_needed": int(order.endorsements_needed),
            "paid_entry": order.paid_entry, "product": order.product}


def _own_wallet(signed: SignedRequest, wallet_id: str) -> str:
    node = signed.node
    if node is None or node.wallet_id != wallet_id:
        raise Forbidden(f"wallet {wallet_id} does not belong to the signer", field="wallet", code="not_your_wallet")
    return wallet_id


def _trader(signed: SignedRequest) -> None:
    node = signed.node
    if node is None or node.role not in TRADING_ROLES or node.status != "active":
        raise Forbidden("only active consumer and merchant nodes trade", code="not_a_trader")


def place_order(signed: SignedRequest, wallet_id: str, seller_id: str, quantity: int, unit_price: int,
                unit_profit: int, description: str, product: str | None = None) -> tuple[int, dict[str, Any]]:
    """A consumer orders goods from a merchant or from another consumer in good standing."""
    running = require_running()
    node = signed.node
    if node is None or node.role != "consumer" or node.status != "active":
        raise Forbidden("only active consumer nodes place orders", code="consumers_only")
    _own_wallet(signed, wallet_id)
    buyer_wallet = get_wallet(wallet_id)
    if buyer_wallet.status != "active":
        raise Conflict(f"wallet {wallet_id} is {buyer_wallet.status}", field="wallet", code="wallet_not_active")
    seller = get_node(seller_id)
    if seller.node_id == node.node_id:
        raise Conflict("a node cannot buy from itself", field="seller", code="self_trade")
    if seller.role not in TRADING_ROLES or seller.status != "active" or not seller.wallet_id:
        raise Conflict(f"{seller_id} is not a seller in good standing", field="seller", code="seller_not_active")
    if get_wallet(seller.wallet_id).status != "active":
        raise Conflict("the seller's wallet is not active", field="seller", code="wallet_not_active")
    amount = order_amount(quantity, unit_price)
    program_rules = rules(running)
    needed = endorsements_needed(amount, get_settings().replica_count, program_rules)
    ts = now_ms()
    order_id = "o-" + secrets.token_hex(8)
    entry_id = new_entry_id(ts)
    order = OrderRecord(pk=f"order#{order_id}", sk=ITEM, order_id=order_id, buyer=node.node_id,
                        buyer_wallet=wallet_id, seller=seller.node_id, seller_wallet=seller.wallet_id,
                        quantity=quantity, unit_price=unit_price, unit_profit=unit_profit, amount=amount,
                        status="placed", endorsements_needed=needed, product=product or f"{seller.node_id}:goods",
                        ts=ts)
    answer = {**order_view(order), "entry": entry_id}
    data = {"order": order_id, "buyer": node.node_id, "buyer_wallet": wallet_id, "seller": seller.node_id,
            "seller_wallet": seller.wallet_id, "quantity": quantity, "unit_price": unit_price,
            "unit_profit": unit_profit, "amount": amount, "description": description,
            "endorsements_needed": needed, "product": order.product}
    commit([Draft("order.placed", node.node_id, data, signed.auth, id=entry_id)],
           [lambda tx: tx.save(order, condition=OrderRecord.pk.does_not_exist()), signed.remember(201, answer)])
    return 201, answer


def pay(signed: SignedRequest, order_id: str, wallet_id: str) -> tuple[int, dict[str, Any]]:
    """The buyer's sub-chain pays the order's amount into escrow."""
    require_running()
    _own_wallet(signed, wallet_id)
    order = get_order(order_id)
    if order.buyer != signed.node_id or order.buyer_wallet != wallet_id:
        raise Forbidden("only the buyer pays, from the order's wallet", code="not_the_buyer")
    if order.status != "placed":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    amount = int(order.amount)
    answer = {"order": order_id, "status": "paid", "escrow": amount, "entry": entry_id,
              "endorsements_needed": int(order.endorsements_needed)}
    try:
        commit([Draft("order.paid", signed.node_id, {"order": order_id, "wallet": wallet_id, "amount": amount},
                      signed.auth, id=entry_id)], [
            debit(wallet_id, "fiat", amount),
            update(OrderRecord(pk=f"order#{order_id}", sk=ITEM),
                   [OrderRecord.status.set("paid"), OrderRecord.escrow.set(amount),
                    OrderRecord.paid_entry.set(entry_id)], OrderRecord.status == "placed"),
            history(wallet_id, entry_id, "order.paid", "fiat", -amount, ts),
            signed.remember(200, answer),
        ])
    except Conflict as exc:
        if get_order(order_id).status != "placed":
            raise Conflict(f"order {order_id} is no longer placed", code="order_state") from exc
        raise refused_debit(exc, wallet_id, "fiat", amount) from exc
    return 200, answer


def finality(order: OrderRecord) -> dict[str, Any]:
    """Whether the payment is final: sealed in a block that enough replicas endorsed."""
    needed = int(order.endorsements_needed)
    if not order.paid_entry:
        return {"final": False, "needed": needed, "endorsed": 0}
    if needed == 0:
        return {"final": True, "needed": 0, "endorsed": 0}
    position = ledger_store.position_of(order.paid_entry)
    if position is None:
        return {"final": False, "needed": needed, "endorsed": 0, "sealed": False}
    block = ledger_store.get_block(int(position.height))
    endorsed = sum(1 for e in endorsements(int(position.height)) if block is not None and e.hash == block.hash)
    return {"final": endorsed >= needed, "needed": needed, "endorsed": endorsed, "sealed": True,
            "height": int(position.height)}


def ship(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    """The seller ships; the rebate goes to the reserve and is minted to the buyer; the seller gets the rest."""
    running = require_running()
    order = get_order(order_id)
    if order.seller != signed.node_id:
        raise Forbidden("only the seller ships", code="not_the_seller")
    if order.status != "paid":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    state = finality(order)
    if not state["final"]:
        raise Conflict(f"the payment needs {state['needed']} replica endorsements, has {state['endorsed']}",
                       code="order_not_final", details=state)
    program_rules = rules(running)
    amount, quantity = int(order.amount), int(order.quantity)
    unit_price, unit_profit = int(order.unit_price), int(order.unit_profit)
    minted = rebate(quantity, unit_price, unit_profit, program_rules)
    proceeds = amount - minted
    ts = now_ms()
    shipped, mint, settled = new_entry_id(ts), new_entry_id(ts), new_entry_id(ts)
    answer = {"order": order_id, "status": "shipped", "rebate": minted, "seller_proceeds": proceeds,
              "entry": shipped}
    inputs = {"quantity": quantity, "unit_price": unit_price, "unit_profit": unit_profit,
              "rebate_bps": program_rules.rebate_bps}
    drafts = [
        Draft("order.shipped", signed.node_id, {"order": order_id}, signed.auth, id=shipped),
        Draft("coin.minted", "system", {"order": order_id, "wallet": order.buyer_wallet, "amount": minted,
                                        "rule": "rebate", "formula": "quantity * min(unit_profit, unit_price) * "
                                        "rebate_bps / 10000", "inputs": inputs}, id=mint),
        Draft("order.settled", "system", {"order": order_id, "seller_wallet": order.seller_wallet,
                                          "proceeds": proceeds, "reserve": minted}, id=settled),
    ]
    writes = [
        update(OrderRecord(pk=f"order#{order_id}", sk=ITEM),
               [OrderRecord.status.set("shipped"), OrderRecord.escrow.set(0), OrderRecord.rebate.set(minted)],
               OrderRecord.status == "paid"),
        credit(order.seller_wallet, "fiat", proceeds),
        update(TotalsRecord(pk="totals", sk=ITEM),
               [TotalsRecord.coins_minted.add(minted), TotalsRecord.reserve.add(minted)], ordered=False),
        history(order.seller_wallet, settled, "order.settled", "fiat", proceeds, ts),
        signed.remember(200, answer),
    ]
    if minted:
        writes += [credit(order.buyer_wallet, "coin", minted, require_active=False),
                   history(order.buyer_wallet, mint, "coin.minted", "coin", minted, ts)]
    try:
        commit(drafts, writes)
    except Conflict as exc:
        if get_order(order_id).status != "paid":
            raise Conflict(f"order {order_id} is no longer paid", code="order_state") from exc
        raise Conflict("the seller's wallet is not active", code="wallet_not_active") from exc
    return 200, answer


def confirm_receipt(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    order = get_order(order_id)
    if order.buyer != signed.node_id:
        raise Forbidden("only the buyer confirms receipt", code="not_the_buyer")
    if order.status != "shipped":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    entry_id = new_entry_id(now_ms())
    answer = {"order": order_id, "status": "received", "entry": entry_id}
    try:
        commit([Draft("order.received", signed.node_id, {"order": order_id}, signed.auth, id=entry_id)], [
            update(OrderRecord(pk=f"order#{order_id}", sk=ITEM), [OrderRecord.status.set("received")],
                   OrderRecord.status == "shipped"),
            signed.remember(200, answer),
        ])
    except Conflict as exc:
        raise Conflict(f"order {order_id} is no longer shipped", code="order_state") from exc
    return 200, answer


def cancel(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    """Buyer or seller cancels before shipment; a paid order's escrow goes back to the buyer."""
    order = get_order(order_id)
    if signed.node_id not in (order.buyer, order.seller):
        raise Forbidden("only the buyer or the seller cancels", code="not_a_party")
    if order.status not in ("placed", "paid"):
        raise Conflict(f"order {order_id} is {order.status}; only placed or paid orders are cancelled",
                       code="order_state")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    refund = int(order.escrow)
    answer = {"order": order_id, "status": "cancelled", "refunded": refund, "entry": entry_id}
    writes = [update(OrderRecord(pk=f"order#{order_id}", sk=ITEM),
                     [OrderRecord.status.set("cancelled"), OrderRecord.escrow.set(0)],
                     OrderRecord.status == order.status),
              signed.remember(200, answer)]
    if refund:
        writes += [credit(order.buyer_wallet, "fiat", refund, require_active=False),
                   history(order.buyer_wallet, entry_id, "order.cancelled", "fiat", refund, ts)]
    try:
        commit([Draft("order.cancelled", signed.node_id, {"order": order_id, "refunded": refund}, signed.auth,
                      id=entry_id)], writes)
    except Conflict as exc:
        raise Conflict(f"order {order_id} changed; try again", code="order_state") from exc
    return 200, answer
