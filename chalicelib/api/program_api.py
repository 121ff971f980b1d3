"""The management program's API: signed writes, public reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from ..services import cosigners, exchange, goods, governance, items, legality, money, nodes, program, trading, uploads
from ..services import search as search_service
from .routing import Query, route
from .signed_routes import Answer, signed_route

if TYPE_CHECKING:
    from ..services.signed import SignedRequest
    from . import bodies

program_api = Blueprint(__name__)


@signed_route(program_api, "/nodes", "RegisterNode", registration=True,
              answer="NodeRegistered", status=201, tag="nodes",
              errors=("already_registered", "key_already_registered", "key_in_use", "key_mismatch", "origin_changed"))
def register_node(signed: SignedRequest, body: bodies.RegisterNode) -> Answer:
    identity = body.identity.model_dump() if body.identity else None
    return nodes.register(signed, body.role, body.jwk.model_dump(), identity)


@signed_route(program_api, "/nodes/{node_id}/approval", "Empty", answer="Approved", status=200, tag="nodes",
              errors=("stamp_only", "not_pending", "not_found"))
def approve_merchant(signed: SignedRequest, body: bodies.Empty, node_id: str) -> Answer:
    return nodes.approve_merchant(signed, node_id)


@signed_route(program_api, "/program/authorisations", "Empty", answer="Authorised", status=201, tag="program",
              errors=("consumers_only", "already_authorised", "program_already_started"))
def authorise_program(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return program.authorise(signed)


@signed_route(program_api, "/deposits", "WalletAmount", answer="Moved", status=201, tag="money",
              errors=("stamp_only", "not_found", "wallet_not_active"))
def deposit(signed: SignedRequest, body: bodies.WalletAmount) -> Answer:
    return money.deposit(signed, body.wallet, body.amount)


@signed_route(program_api, "/withdrawals", "WalletAmount", answer="Moved", status=201, tag="money",
              errors=("stamp_only", "not_found", "wallet_not_active", "insufficient_funds"))
def withdraw(signed: SignedRequest, body: bodies.WalletAmount) -> Answer:
    return money.withdraw(signed, body.wallet, body.amount)


@signed_route(program_api, "/orders", "PlaceOrder", answer="OrderPlaced", status=201, tag="orders",
              errors=("consumers_only", "not_your_wallet", "self_trade", "seller_not_active", "wallet_not_active",
                      "not_found"))
def place_order(signed: SignedRequest, body: bodies.PlaceOrder) -> Answer:
    return trading.place_order(signed, body.wallet, body.seller, body.quantity, body.unit_price, body.unit_profit,
                               body.description, body.product)


@signed_route(program_api, "/orders/{order_id}/payment", "Payment", answer="Paid", status=200, tag="orders",
              errors=("not_the_buyer", "not_your_wallet", "insufficient_funds", "wallet_not_active", "order_state",
                      "not_found"))
def pay_order(signed: SignedRequest, body: bodies.Payment, order_id: str) -> Answer:
    return trading.pay(signed, order_id, body.wallet)


@signed_route(program_api, "/orders/{order_id}/shipment", "Empty", answer="Shipped", status=200, tag="orders",
              errors=("not_the_seller", "order_state", "order_not_final", "wallet_not_active", "not_found"))
def ship_order(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.ship(signed, order_id)


@signed_route(program_api, "/orders/{order_id}/receipt", "Empty", answer="OrderMoved", status=200, tag="orders",
              errors=("not_the_buyer", "order_state", "wallet_not_active", "not_found"))
def confirm_receipt(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.confirm_receipt(signed, order_id)


@signed_route(program_api, "/orders/{order_id}/cancellation", "Empty", answer="OrderMoved", status=200, tag="orders",
              errors=("not_a_party", "order_state", "wallet_not_active", "not_found"))
def cancel_order(signed: SignedRequest, body: bodies.Empty, order_id: str) -> Answer:
    return trading.cancel(signed, order_id)


@signed_route(program_api, "/exchanges", "Exchange", answer="Exchanged", status=201, tag="money",
              errors=("not_a_trader", "not_your_wallet", "insufficient_funds", "wallet_not_active", "not_found"))
def exchange_coins(signed: SignedRequest, body: bodies.Exchange) -> Answer:
    return exchange.exchange(signed, body.wallet, body.direction, body.amount)


@signed_route(program_api, "/sweeps", "Empty", answer="Sweep", status=200, tag="program",
              errors=("stamp_only",))
def run_sweep(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return legality.requested_sweep(signed)


@signed_route(program_api, "/proposals", "OpenProposal", answer="ProposalOpened", status=201, tag="governance",
              errors=("not_a_voter", "voter_not_active", "black_wallet", "not_a_legal_wallet",
                      "proposal_not_applicable", "not_found"))
def open_proposal(signed: SignedRequest, body: bodies.OpenProposal) -> Answer:
    return governance.open_proposal(signed, body.kind, body.subject, dict(body.params), body.deadline_minutes)


@signed_route(program_api, "/proposals/{proposal_id}/votes", "CastVote", answer="Voted", status=201, tag="governance",
              errors=("not_a_voter", "not_eligible", "party_to_dispute", "voter_not_active", "already_voted",
                      "voting_closed", "not_found"))
def cast_vote(signed: SignedRequest, body: bodies.CastVote, proposal_id: str) -> Answer:
    return governance.vote(signed, proposal_id, body.choice)


@signed_route(program_api, "/proposals/{proposal_id}/approval", "Empty",
              answer="ProposalApproved", status=200, tag="governance",
              errors=("stamp_only", "approval_not_needed", "approval_not_open", "not_found"))
def approve_proposal(signed: SignedRequest, body: bodies.Empty, proposal_id: str) -> Answer:
    return governance.approve(signed, proposal_id)


@signed_route(program_api, "/tallies", "Empty", answer="Tally", status=200, tag="governance",
              errors=("stamp_only", "sealer_key_unavailable"))
def run_tally(signed: SignedRequest, body: bodies.Empty) -> Answer:
    return governance.requested_tally(signed)


@signed_route(program_api, "/orders/{order_id}/vote", "GoodsVote", answer="GoodsVoted", status=201, tag="goods",
              errors=("not_the_buyer", "order_state", "already_voted", "not_found"))
def vote_on_goods(signed: SignedRequest, body: bodies.GoodsVote, order_id: str) -> Answer:
    return goods.vote_on_goods(signed, order_id, body.rating)


@signed_route(program_api, "/orders/{order_id}/disputes", "OpenDispute",
              answer="ProposalOpened", status=201, tag="governance",
              errors=("not_the_buyer", "order_state", "already_disputed", "seller_cannot_fund", "not_found"))
def open_dispute(signed: SignedRequest, body: bodies.OpenDispute, order_id: str) -> Answer:
    return governance.open_dispute(signed, order_id, body.ground, body.remedy, body.statement,
                                   body.deadline_minutes)


@signed_route(program_api, "/uploads", "RequestUpload", answer="Upload", status=201, tag="items",
              errors=("not_a_trader",))
def request_upload(signed: SignedRequest, body: bodies.RequestUpload) -> Answer:
    return uploads.request_upload(signed, body.sha256, body.size, body.content_type)


@signed_route(program_api, "/items", "PublishItem", answer="ItemPublished", status=201, tag="items",
              errors=("not_a_trader", "not_your_wallet", "wallet_not_active", "upload_missing", "upload_mismatch",
                      "insufficient_funds"))
def publish_item(signed: SignedRequest, body: bodies.PublishItem) -> Answer:
    return items.publish(signed, body.wallet, body.title, body.price, body.stake, text=body.text,
                         sha256=body.sha256, size=body.size)


@signed_route(program_api, "/items/{item_id}/purchase", "Payment", answer="ItemBought", status=201, tag="items",
              errors=("not_a_trader", "not_your_wallet", "self_trade", "already_bought", "insufficient_funds",
                      "wallet_not_active", "not_found"))
def buy_item(signed: SignedRequest, body: bodies.Payment, item_id: str) -> Answer:
    return items.buy(signed, item_id, body.wallet)


@signed_route(program_api, "/items/{item_id}/vote", "ItemVote", answer="ItemVoted", status=201, tag="items",
              errors=("not_a_buyer", "already_voted", "not_found"))
def vote_on_item(signed: SignedRequest, body: bodies.ItemVote, item_id: str) -> Answer:
    return items.vote(signed, item_id, body.rating)


PAGE = Query("limit", "the most results in the page", low=1, high=100, default=20)


@route(program_api, "/items/{item_id}", methods=["GET"], answer="Item", errors=("not_found",), tag="items")
def get_item(item_id: str) -> dict[str, Any]:
    """An item: its label, the reason for it, its price, stake and votes."""
    return items.item_view(items.get_item(item_id))


@route(program_api, "/search", methods=["GET"], answer="Search", tag="items", params=(
        Query("q", "search words: at least one character that is not a space", kind="string", required=True,
              pattern="\\S"),
        Query("cursor", "where the page starts (an earlier answer's next)", default=0), PAGE))
def search(q: str, cursor: int, limit: int) -> dict[str, Any]:
    """Goods and items whose titles hold the words, best rated first."""
    return search_service.search(q, cursor, limit)


@route(program_api, "/rank", methods=["GET"], answer="Rank", tag="goods", params=(
        Query("cursor", "where the page starts (an earlier answer's next)", kind="string"),
        Query("limit", "the most goods in the page", low=1, high=100, default=goods.RANK_PAGE)))
def rank(cursor: str | None, limit: int) -> dict[str, Any]:
    """Goods ranked by their buyers' votes."""
    return goods.ranking(cursor, limit)


@route(program_api, "/proposals", methods=["GET"], answer="Proposals", tag="governance", params=(
        Query("status", "only proposals in this status", kind="string", choices=("open", "passed", "rejected")),
        Query("cursor", "where the page starts (an earlier answer's next)", default=0),
        Query("limit", "the most proposals in the page; without it, every one", low=1, high=100)))
def list_proposals(status: str | None, cursor: int, limit: int | None) -> dict[str, Any]:
    """Proposals, oldest first, with their tallies."""
    return governance.list_proposals(status, cursor, limit)


@route(program_api, "/proposals/{proposal_id}", methods=["GET"], answer="Proposal", errors=("not_found",),
       tag="governance")
def get_proposal(proposal_id: str) -> dict[str, Any]:
    """One proposal with its tally and outcome."""
    return governance.proposal_view(governance.get_proposal(proposal_id))


@route(program_api, "/reports/{proposal_id}", methods=["GET"], answer="Report", errors=("not_found",),
       tag="governance")
def get_report(proposal_id: str) -> dict[str, Any]:
    """The signed report a passed report proposal filed: evidence entries with their inclusion proofs."""
    return governance.report(proposal_id)


@route(program_api, "/program", methods=["GET"], answer="Program", tag="program", errors=("chain_not_started",))
def program_status() -> dict[str, Any]:
    """The program's status and its rules."""
    return program.status()


@route(program_api, "/nodes/{node_id}", methods=["GET"], answer="Node", errors=("not_found",), tag="nodes")
def get_node(node_id: str) -> dict[str, Any]:
    """A node: role, key, status and wallet."""
    return nodes.node_view(nodes.get_node(node_id))


@route(program_api, "/wallets/{wallet_id}", methods=["GET"], answer="Wallet", errors=("not_found",), tag="money")
def get_wallet(wallet_id: str) -> dict[str, Any]:
    """A wallet's status and balances, in minor units."""
    return money.balance(wallet_id)


@route(program_api, "/wallets/{wallet_id}/history", methods=["GET"], answer="History", errors=("not_found",),
       tag="money", params=(
           Query("cursor", "where the page starts (an earlier answer's next)", kind="string"),
           Query("limit", "the most postings in the page", low=1, high=500, default=money.HISTORY_PAGE)))
def wallet_history(wallet_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """A wallet's postings, oldest first: each entry's change to its balances."""
    return money.wallet_history(wallet_id, cursor, limit)


@route(program_api, "/orders/{order_id}", methods=["GET"], answer="Order", errors=("not_found",), tag="orders")
def get_order(order_id: str) -> dict[str, Any]:
    """An order, its finality (which sub-chains' cosignatures made its payment final) and its entries."""
    from ..services.timeline import order_entries

    order = trading.get_order(order_id)
    return {**trading.order_view(order), "finality": trading.finality(order),
            "entries": order_entries(order_id)}


@signed_route(program_api, "/subchains", "RegisterSubchain", answer="SubchainRegistered", status=201, tag="sub-chains",
              errors=("key_in_use", "subchain_exists", "subchain_limit", "node_not_active"))
def register_subchain(signed: SignedRequest, body: bodies.RegisterSubchain) -> Answer:
    return cosigners.register(signed, body.public_key)


@signed_route(program_api, "/subchains/{subchain_id}/retirement", "Empty",
              answer="SubchainRetired", status=200, tag="sub-chains",
              errors=("not_your_subchain", "cosigner_unknown", "cosigner_retired"))
def retire_subchain(signed: SignedRequest, body: bodies.Empty, subchain_id: str) -> Answer:
    return cosigners.retire(signed, subchain_id)
