"""The management program's API: signed writes, public reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from ..errors import InvalidParameter
from ..services import cosigners, exchange, goods, governance, items, legality, money, nodes, program, trading, uploads
from ..services import search as search_service
from .routing import int_param, query, route
from .signed_routes import Answer, signed_route

if TYPE_CHECKING:
    from ..services.signed import SignedRequest
    from . import bodies

program_api = Blueprint(__name__)


@signed_route(program_api, "/nodes", "RegisterNode", registration=True)
def register_node(signed: SignedRequest, body: bodies.RegisterNode) -> Answer:
    identity = body.identity.model_dump() if body.identity else None
    return nodes.register(signed, body.role, body.jwk.model_dump(), identity)


@signed_route(program_api, "/nodes/{node_id}/approval", "Empty")
def approve_merchant(signed: SignedRequest, body: bodies.Empty, node_id: str) -> Answer:
    return nodes.approve_merchant(signed, node_id)


@signed_route(program_api, "/program/authorisations", "Empty")
def authorise_program(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return program.authorise(signed)


@signed_route(program_api, "/deposits", "WalletAmount")
def deposit(signed: SignedRequest, body: bodies.WalletAmount) -> Answer:
    return money.deposit(signed, body.wallet, body.amount)


@signed_route(program_api, "/withdrawals", "WalletAmount")
def withdraw(signed: SignedRequest, body: bodies.WalletAmount) -> Answer:
    return money.withdraw(signed, body.wallet, body.amount)


@signed_route(program_api, "/orders", "PlaceOrder")
def place_order(signed: SignedRequest, body: bodies.PlaceOrder) -> Answer:
    return trading.place_order(signed, body.wallet, body.seller, body.quantity, body.unit_price, body.unit_profit,
                               body.description, body.product)


@signed_route(program_api, "/orders/{order_id}/payment", "Payment")
def pay_order(signed: SignedRequest, body: bodies.Payment, order_id: str) -> Answer:
    return trading.pay(signed, order_id, body.wallet)


@signed_route(program_api, "/orders/{order_id}/shipment", "Empty")
def ship_order(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.ship(signed, order_id)


@signed_route(program_api, "/orders/{order_id}/receipt", "Empty")
def confirm_receipt(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.confirm_receipt(signed, order_id)


@signed_route(program_api, "/orders/{order_id}/cancellation", "Empty")
def cancel_order(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.cancel(signed, order_id)


@signed_route(program_api, "/exchanges", "Exchange")
def exchange_coins(signed: SignedRequest, body: bodies.Exchange) -> Answer:
    return exchange.exchange(signed, body.wallet, body.direction, body.amount)


@signed_route(program_api, "/sweeps", "Empty")
def run_sweep(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return legality.requested_sweep(signed)


@signed_route(program_api, "/proposals", "OpenProposal")
def open_proposal(signed: SignedRequest, body: bodies.OpenProposal) -> Answer:
    return governance.open_proposal(signed, body.kind, body.subject, dict(body.params), body.deadline_minutes)


@signed_route(program_api, "/proposals/{proposal_id}/votes", "CastVote")
def cast_vote(signed: SignedRequest, body: bodies.CastVote, proposal_id: str) -> Answer:
    return governance.vote(signed, proposal_id, body.choice)


@signed_route(program_api, "/proposals/{proposal_id}/approval", "Empty")
def approve_proposal(signed: SignedRequest, body: bodies.Empty, proposal_id: str) -> Answer:
    return governance.approve(signed, proposal_id)


@signed_route(program_api, "/tallies", "Empty")
def run_tally(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return governance.requested_tally(signed)


@signed_route(program_api, "/orders/{order_id}/vote", "GoodsVote")
def vote_on_goods(signed: SignedRequest, body: bodies.GoodsVote, order_id: str) -> Answer:
    return goods.vote_on_goods(signed, order_id, body.rating)


@signed_route(program_api, "/orders/{order_id}/disputes", "OpenDispute")
def open_dispute(signed: SignedRequest, body: bodies.OpenDispute, order_id: str) -> Answer:
    return governance.open_dispute(signed, order_id, body.ground, body.remedy, body.statement,
                                   body.deadline_minutes)


@signed_route(program_api, "/uploads", "RequestUpload")
def request_upload(signed: SignedRequest, body: bodies.RequestUpload) -> Answer:
    return uploads.request_upload(signed, body.sha256, body.size, body.content_type)


@signed_route(program_api, "/items", "PublishItem")
def publish_item(signed: SignedRequest, body: bodies.PublishItem) -> Answer:
    return items.publish(signed, body.wallet, body.title, body.price, body.stake, text=body.text,
                         sha256=body.sha256, size=body.size)


@signed_route(program_api, "/items/{item_id}/purchase", "Payment")
def buy_item(signed: SignedRequest, body: bodies.Payment, item_id: str) -> Answer:
    return items.buy(signed, item_id, body.wallet)


@signed_route(program_api, "/items/{item_id}/vote", "ItemVote")
def vote_on_item(signed: SignedRequest, body: bodies.ItemVote, item_id: str) -> Answer:
    return items.vote(signed, item_id, body.rating)


@route(program_api, "/items/{item_id}", methods=["GET"])
def get_item(item_id: str) -> dict[str, Any]:
    query(program_api, set())
    return items.item_view(items.get_item(item_id))


@route(program_api, "/search", methods=["GET"])
def search() -> dict[str, Any]:
    params = query(program_api, {"q", "cursor", "limit"})
    text = params.get("q", "")
    if not text.strip() or len(text) > 200:
        raise InvalidParameter("q is 1 to 200 characters of search words", field="q")
    offset = int_param("cursor", params["cursor"]) if "cursor" in params else 0
    limit = int_param("limit", params["limit"], 1, 100) if "limit" in params else 20
    return search_service.search(text, offset, limit)


@route(program_api, "/rank", methods=["GET"])
def rank() -> dict[str, Any]:
    params = query(program_api, {"cursor", "limit"})
    limit = int_param("limit", params["limit"], 1, 100) if "limit" in params else goods.RANK_PAGE
    return goods.ranking(params.get("cursor"), limit)


@route(program_api, "/proposals", methods=["GET"])
def list_proposals() -> dict[str, Any]:
    params = query(program_api, {"status", "cursor", "limit"})
    status = params.get("status")
    if status is not None and status not in ("open", "passed", "rejected"):
        raise InvalidParameter("status is open, passed or rejected", field="status")
    offset = int_param("cursor", params["cursor"]) if "cursor" in params else 0
    limit = int_param("limit", params["limit"], 1, 100) if "limit" in params else None
    return governance.list_proposals(status, offset, limit)


@route(program_api, "/proposals/{proposal_id}", methods=["GET"])
def get_proposal(proposal_id: str) -> dict[str, Any]:
    query(program_api, set())
    return governance.proposal_view(governance.get_proposal(proposal_id))


@route(program_api, "/reports/{proposal_id}", methods=["GET"])
def get_report(proposal_id: str) -> dict[str, Any]:
    query(program_api, set())
    return governance.report(proposal_id)


@route(program_api, "/program", methods=["GET"])
def program_status() -> dict[str, Any]:
    query(program_api, set())
    return program.status()


@route(program_api, "/nodes/{node_id}", methods=["GET"])
def get_node(node_id: str) -> dict[str, Any]:
    query(program_api, set())
    return nodes.node_view(nodes.get_node(node_id))


@route(program_api, "/wallets/{wallet_id}", methods=["GET"])
def get_wallet(wallet_id: str) -> dict[str, Any]:
    query(program_api, set())
    return money.balance(wallet_id)


@route(program_api, "/wallets/{wallet_id}/history", methods=["GET"])
def wallet_history(wallet_id: str) -> dict[str, Any]:
    params = query(program_api, {"cursor", "limit"})
    limit = int_param("limit", params["limit"], 1, 500) if "limit" in params else money.HISTORY_PAGE
    return money.wallet_history(wallet_id, params.get("cursor"), limit)


@route(program_api, "/orders/{order_id}", methods=["GET"])
def get_order(order_id: str) -> dict[str, Any]:
    query(program_api, set())
    from ..services.timeline import order_entries

    order = trading.get_order(order_id)
    return {**trading.order_view(order), "finality": trading.finality(order),
            "entries": order_entries(order_id)}


@signed_route(program_api, "/subchains", "RegisterSubchain")
def register_subchain(signed: SignedRequest, body: bodies.RegisterSubchain) -> Answer:
    return cosigners.register(signed, body.public_key)


@signed_route(program_api, "/subchains/{subchain_id}/retirement", "Empty")
def retire_subchain(signed: SignedRequest, body: bodies.Empty, subchain_id: str) -> Answer:
    return cosigners.retire(signed, subchain_id)
