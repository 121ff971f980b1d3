"""Trading, the invention's steps S3 to S5: order, escrowed payment, tiered finality, shipment
with the rebate minted to the buyer, receipt; cancellation with refund before shipment.

Order states: placed -> paid -> shipped -> received; placed or paid -> cancelled.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..domain import postings as p
from ..domain.records import Node, Order
from ..domain.rules import BPS, endorsement_ratio, endorsements_needed, order_amount
from ..errors import Conflict, Forbidden, NotFound
from ..store import backend, ledger
from ..store.port import Check, Eq, Put, Update
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import merged, refused_debit, value_changes
from .nodes import get_node, get_wallet
from .program import allowed, program, rules
from .signed import SignedRequest

TRADING_ROLES = ("consumer", "merchant")


def get_order(order_id: str) -> Order:
    found = backend.state().get(Order, Order.key_of(order_id))
    if found is None:
        raise NotFound(f"there is no order {order_id}", field="order")
    return found


def order_view(order: Order) -> dict[str, Any]:
    return {"order": order.order_id, "status": order.status, "buyer": order.buyer, "seller": order.seller,
            "buyer_wallet": order.buyer_wallet, "seller_wallet": order.seller_wallet,
            "quantity": order.quantity, "unit_price": order.unit_price, "unit_profit": order.unit_profit,
            "amount": order.amount, "escrow": order.escrow, "rebate": order.rebate,
            "endorsements_needed": order.endorsements_needed, "paid_entry": order.paid_entry,
            "product": order.product, "final_by": order.final_by.split(",") if order.final_by else []}


def own_wallet(signed: SignedRequest, wallet_id: str) -> str:
    node = signed.node
    if node is None or node.wallet_id != wallet_id:
        raise Forbidden(f"wallet {wallet_id} does not belong to the signer", field="wallet", code="not_your_wallet")
    return wallet_id


def trader(signed: SignedRequest) -> None:
    node = signed.node
    if node is None or node.role not in TRADING_ROLES or node.status != "active":
        raise Forbidden("only active consumer and merchant nodes trade", code="not_a_trader")


def place_order(signed: SignedRequest, wallet_id: str, seller_id: str, quantity: int, unit_price: int,
                unit_profit: int, description: str, product: str | None = None) -> tuple[int, dict[str, Any]]:
    """A consumer orders goods from a merchant or from another consumer in good standing."""
    running, guard = allowed("order")
    node = signed.node
    if node is None or node.role != "consumer" or node.status != "active":
        raise Forbidden("only active consumer nodes place orders", code="consumers_only")
    own_wallet(signed, wallet_id)
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
    from .cosigners import active_cosigners

    # at placement, for the record; finality counts the sub-chains active when the seller ships
    needed = endorsements_needed(amount, len(active_cosigners()), rules(running))
    ts = now_ms()
    order_id = "o-" + secrets.token_hex(8)
    entry_id = new_entry_id(ts)
    order = Order(order_id=order_id, buyer=node.node_id, buyer_wallet=wallet_id, seller=seller.node_id,
                  seller_wallet=seller.wallet_id, quantity=quantity, unit_price=unit_price, unit_profit=unit_profit,
                  amount=amount, status="placed", endorsements_needed=needed,
                  product=product or f"{seller.node_id}:goods", ts=ts)
    answer = {**order_view(order), "entry": entry_id}
    data = {"order": order_id, "buyer": node.node_id, "buyer_wallet": wallet_id, "seller": seller.node_id,
            "seller_wallet": seller.wallet_id, "quantity": quantity, "unit_price": unit_price,
            "unit_profit": unit_profit, "amount": amount, "description": description,
            "endorsements_needed": needed, "product": order.product}
    try:
        # The seller must still be active when the order lands: a revoked seller's refunds find every open order.
        commit([Draft("order.placed", node.node_id, data, signed.auth, id=entry_id)],
               [guard, Put(order), Check(Node, seller.key, (Eq("status", "active"),)), signed.remember(201, answer)])
    except Conflict as exc:
        if get_node(seller_id).status != "active":
            raise Conflict(f"{seller_id} is not a seller in good standing", field="seller",
                           code="seller_not_active") from exc
        raise
    return 201, answer


def pay(signed: SignedRequest, order_id: str, wallet_id: str) -> tuple[int, dict[str, Any]]:
    """The buyer's sub-chain pays the order's amount into escrow."""
    _, guard = allowed("pay")
    own_wallet(signed, wallet_id)
    order = get_order(order_id)
    if order.buyer != signed.node_id or order.buyer_wallet != wallet_id:
        raise Forbidden("only the buyer pays, from the order's wallet", code="not_the_buyer")
    if order.status != "placed":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    movement = p.payment(order_id, wallet_id, order.amount)
    answer = {"order": order_id, "status": "paid", "escrow": order.amount, "entry": entry_id,
              "endorsements_needed": order.endorsements_needed}
    try:
        commit([Draft(movement.type, signed.node_id, movement.data, signed.auth, id=entry_id)], merged([
            guard,
            Update.of(order, set={"status": "paid", "paid_entry": entry_id}, when=(Eq("status", "placed"),)),
            *value_changes([(entry_id, movement)], ts),
            signed.remember(200, answer),
        ]))
    except Conflict as exc:
        if get_order(order_id).status != "placed":
            raise Conflict(f"order {order_id} is no longer placed", code="order_state") from exc
        raise refused_debit(exc, wallet_id, "fiat", order.amount) from exc
    return 200, answer


def finality(order: Order) -> dict[str, Any]:
    """Whether the payment is final: covered by checkpoints cosigned by enough active sub-chains.

    The order's tier gives a share of the active sub-chains (rounded up, and
    at least one when the share is not zero); a sub-chain counts when its
    largest cosigned checkpoint holds the paying entry. A sub-chain that is
    retired, or was never registered, counts for nothing.
    """
    from .cosigners import active_cosigners

    ratio = endorsement_ratio(order.amount, rules(program()))
    if not order.paid_entry:
        return {"final": False, "share_bps": ratio, "needed": None, "cosigned": 0, "cosigners": []}
    if ratio == 0:
        return {"final": True, "share_bps": 0, "needed": 0, "cosigned": 0, "cosigners": []}
    active = active_cosigners()
    needed = max(1, -(-len(active) * ratio // BPS))
    position = ledger.position_of(order.paid_entry)
    if position is None:
        return {"final": False, "share_bps": ratio, "needed": needed, "active": len(active), "cosigned": 0,
                "cosigners": [], "sealed": False}
    covering = sorted(c.subchain_id for c in active if c.cosigned_size > int(position.idx))
    return {"final": len(covering) >= needed, "share_bps": ratio, "needed": needed, "active": len(active),
            "cosigned": len(covering), "cosigners": covering, "sealed": True, "index": int(position.idx),
            "height": int(position.height)}


def ship(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    """The seller ships; the rebate goes to the reserve and is minted to the buyer; the seller gets the rest."""
    running, guard = allowed("ship")
    order = get_order(order_id)
    if order.seller != signed.node_id:
        raise Forbidden("only the seller ships", code="not_the_seller")
    if order.status != "paid":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    state = finality(order)
    if not state["final"]:
        raise Conflict(f"the payment needs cosignatures of {state['needed']} sub-chains, has {state['cosigned']}",
                       code="order_not_final", details=state, retryable=True)
    settled, mint = p.shipment(order_id, order.buyer_wallet, order.seller_wallet, order.quantity, order.unit_price,
                               order.unit_profit, rules(running))
    ts = now_ms()
    shipped, mint_id, settled_id = new_entry_id(ts), new_entry_id(ts), new_entry_id(ts)
    minted, proceeds = mint.data["amount"], settled.data["proceeds"]
    answer = {"order": order_id, "status": "shipped", "rebate": minted, "seller_proceeds": proceeds,
              "entry": shipped}
    drafts = [
        Draft("order.shipped", signed.node_id, {"order": order_id}, signed.auth, id=shipped),
        Draft(mint.type, "system", mint.data, id=mint_id),
        Draft(settled.type, "system", settled.data, id=settled_id),
    ]
    changes = merged([
        guard,
        Update.of(order, set={"status": "shipped", "rebate": minted, "final_by": ",".join(state["cosigners"])},
                  when=(Eq("status", "paid"),)),
        # a frozen seller's wallet takes no proceeds: the shipment waits
        *value_changes([(settled_id, settled), (mint_id, mint)], ts, active_credits={order.seller_wallet}),
        signed.remember(200, answer),
    ])
    try:
        commit(drafts, changes)
    except Conflict as exc:
        if get_order(order_id).status != "paid":
            raise Conflict(f"order {order_id} is no longer paid", code="order_state") from exc
        if get_wallet(order.seller_wallet).status != "active":
            raise Conflict("the seller's wallet is not active", code="wallet_not_active") from exc
        raise
    return 200, answer


def confirm_receipt(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    _, guard = allowed("receipt")
    order = get_order(order_id)
    if order.buyer != signed.node_id:
        raise Forbidden("only the buyer confirms receipt", code="not_the_buyer")
    if order.status != "shipped":
        raise Conflict(f"order {order_id} is {order.status}", code="order_state")
    entry_id = new_entry_id(now_ms())
    answer = {"order": order_id, "status": "received", "entry": entry_id}
    try:
        commit([Draft("order.received", signed.node_id, {"order": order_id}, signed.auth, id=entry_id)], [
            guard,
            Update.of(order, set={"status": "received"}, when=(Eq("status", "shipped"),)),
            signed.remember(200, answer),
        ])
    except Conflict as exc:
        if get_order(order_id).status != "shipped":
            raise Conflict(f"order {order_id} is no longer shipped", code="order_state") from exc
        raise
    return 200, answer


def cancel_changes(order: Order, entry_id: str, ts: int, rule: str | None = None) -> tuple[Draft, list[Any]]:
    """The entry and changes that cancel an open order, refunding its escrow to the buyer."""
    movement = p.refund(order.order_id, order.buyer_wallet, order.escrow, rule)
    changes = [Update.of(order, set={"status": "cancelled"}, when=(Eq("status", order.status),)),
               *value_changes([(entry_id, movement)], ts)]
    return Draft(movement.type, "system", movement.data, id=entry_id), changes


def cancel(signed: SignedRequest, order_id: str) -> tuple[int, dict[str, Any]]:
    """Buyer or seller cancels before shipment; a paid order's escrow goes back to the buyer."""
    _, guard = allowed("cancel")
    order = get_order(order_id)
    if signed.node_id not in (order.buyer, order.seller):
        raise Forbidden("only the buyer or the seller cancels", code="not_a_party")
    if order.status not in ("placed", "paid"):
        raise Conflict(f"order {order_id} is {order.status}; only placed or paid orders are cancelled",
                       code="order_state")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    draft, changes = cancel_changes(order, entry_id, ts)
    answer = {"order": order_id, "status": "cancelled", "refunded": order.escrow, "entry": entry_id}
    try:
        commit([Draft(draft.type, signed.node_id, draft.data, signed.auth, id=entry_id)],
               merged([guard, *changes, signed.remember(200, answer)]))
    except Conflict as exc:
        if get_order(order_id).status != order.status:
            raise Conflict(f"order {order_id} changed; try again", code="order_state") from exc
        raise
    return 200, answer
