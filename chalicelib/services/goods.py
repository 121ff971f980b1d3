"""Votes on goods after a confirmed purchase, their reward, and the ranking.

A buyer votes once per received order, up or down. The program rewards the
vote with ``vote_reward`` coin units (a rule), minted against fiat the stamp
node's wallet moves into the reserve, so the reserve still covers every coin;
when that wallet cannot fund it the vote counts and the reward is skipped, and
the entry says so. Goods rank by net votes (up less down), most first; ties go
to more votes in all, then to the goods voted on first, then to the product
id. Money paid never enters the ranking.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..errors import Conflict, Forbidden, StorageError
from ..store.state_models import ITEM, GoodsRecord, OrderRecord, ProductVoteRecord, TotalsRecord, exists
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import credit, debit, history
from .program import require_running, rules, save, update
from .sealing import STAMP_WALLET
from .signed import SignedRequest
from .trading import get_order

RANK_PAGE = 20


def goods_id(order: OrderRecord) -> str:
    """Goods are the seller's: one seller's buyers cannot vote on another seller's product of the same name."""
    return f"{order.seller}/{order.product}"


def _goods_writes(order: OrderRecord, rating: str, ts: int, title: str) -> list[Any]:
    goods = GoodsRecord(pk=f"goods#{goods_id(order)}", sk=ITEM)
    counter = GoodsRecord.up if rating == "up" else GoodsRecord.down

    def tally(tx: Any) -> None:
        tx.update(goods, actions=[counter.add(1), GoodsRecord.product.set(goods_id(order)),
                                  GoodsRecord.seller.set(order.seller),
                                  GoodsRecord.title.set(GoodsRecord.title | title),
                                  GoodsRecord.first_vote.set(GoodsRecord.first_vote | ts)])

    return [tally]


def vote_on_goods(signed: SignedRequest, order_id: str, rating: str) -> tuple[int, dict[str, Any]]:
    order = get_order(order_id)
    if order.buyer != signed.node_id:
        raise Forbidden("only the buyer votes on the goods of an order", code="not_the_buyer")
    if order.status != "received":
        raise Conflict("goods are voted on after the buyer confirms receipt", code="order_state")
    running = require_running()
    # Never more than the order paid, so buying from oneself through a friend cannot farm coins.
    reward = min(rules(running).vote_reward, int(order.amount))
    ts = now_ms()
    vote_id, mint_id = new_entry_id(ts), new_entry_id(ts)
    title = order.product or ""
    base_writes = [
        save(ProductVoteRecord(pk=f"pvote#{order_id}", sk=ITEM, product=order.product, rating=rating, ts=ts),
             ProductVoteRecord.pk.does_not_exist()),
        *_goods_writes(order, rating, ts, title),
    ]
    vote = Draft("goods.voted", signed.node_id, {"order": order_id, "product": goods_id(order), "rating": rating},
                 signed.auth, id=vote_id)
    funded = {"order": order_id, "wallet": order.buyer_wallet, "amount": reward, "rule": "vote_reward",
              "inputs": {"vote_reward": reward}, "funded_by": STAMP_WALLET}
    answer = {"order": order_id, "product": goods_id(order), "rating": rating, "reward": reward, "entry": vote_id}
    reward_writes = [
        debit(STAMP_WALLET, "fiat", reward),
        history(STAMP_WALLET, mint_id, "coin.minted", "fiat", -reward, ts),
        credit(order.buyer_wallet, "coin", reward, require_active=False),
        update(TotalsRecord(pk="totals", sk=ITEM),
               [TotalsRecord.coins_minted.add(reward), TotalsRecord.reserve.add(reward)], ordered=False),
        history(order.buyer_wallet, mint_id, "coin.minted", "coin", reward, ts),
    ]
    try:
        if reward:
            commit([vote, Draft("coin.minted", "system", funded, id=mint_id)],
                   [*base_writes, *reward_writes, signed.remember(201, answer)])
            return 201, answer
    except Conflict:
        if _voted(order_id):
            raise Conflict("the goods of this order were already voted on", code="already_voted") from None
    # no reward rule, or the stamp node's wallet cannot fund it: the vote still counts
    unfunded = {**answer, "reward": 0}
    try:
        commit([vote], [*base_writes, signed.remember(201, unfunded)])
    except Conflict as exc:
        raise Conflict("the goods of this order were already voted on", code="already_voted") from exc
    return 201, unfunded


def _voted(order_id: str) -> bool:
    return exists(ProductVoteRecord, f"pvote#{order_id}")


def rank_key(goods: dict[str, Any]) -> tuple[int, int, int, str]:
    """Most net votes first; then more votes; then voted on first; then product id."""
    return (-(goods["up"] - goods["down"]), -(goods["up"] + goods["down"]), goods["first_vote"], goods["product"])


def ranking(offset: int = 0, limit: int = RANK_PAGE) -> dict[str, Any]:
    try:
        goods: list[dict[str, Any]] = [
            {"product": g.product, "seller": g.seller, "title": g.title, "up": int(g.up), "down": int(g.down),
             "first_vote": int(g.first_vote or 0)}
            for g in GoodsRecord.scan(GoodsRecord.pk.startswith("goods#"))]
    except PynamoDBException as exc:
        raise StorageError("could not read the goods") from exc
    goods.sort(key=rank_key)
    page = goods[offset:offset + limit]
    for position, item in enumerate(page, start=offset + 1):
        item["rank"] = position
        item["score"] = item["up"] - item["down"]
    following = offset + limit if offset + limit < len(goods) else None
    return {"goods": page, "next": str(following) if following is not None else None}
