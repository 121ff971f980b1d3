"""Votes on goods after a confirmed purchase, their reward, and the ranking.

A buyer votes once per received order, up or down. The program rewards the
vote with ``vote_reward`` coin units (a rule, never more than the seller
received for the order), minted against fiat the goods' seller moves into the
reserve: two nodes that trade with each other to farm rewards only pay
themselves. When the seller's wallet cannot fund it the vote counts and the
reward is skipped, and the answer says so. Goods rank by net votes (up less
down), most first; ties go to more votes in all, then to the goods voted on
first, then to the product id: the order of the index, read page by page.
Money paid never enters the ranking.
"""

from __future__ import annotations

import base64
from typing import Any

from ..domain import postings as p
from ..domain.records import GOODS_INDEX, Goods, Order, ProductVote, Wallet
from ..errors import Conflict, Forbidden, InvalidParameter
from ..store import backend
from ..store.port import Change, Eq, Put, Update
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import merged, value_changes
from .program import allowed, rules
from .search import index_words
from .signed import SignedRequest
from .trading import get_order

RANK_PAGE = 20
ATTEMPTS = 3


def goods_id(order: Order) -> str:
    """Goods are the seller's: one seller's buyers cannot vote on another seller's product of the same name."""
    return f"{order.seller}/{order.product}"


def _tally_change(order: Order, rating: str, ts: int) -> Change:
    """The goods' new counts, set against the counts read: two votes at once cannot lose one."""
    product = goods_id(order)
    current = backend.state().get(Goods, Goods.key_of(product))
    if current is None:
        index_words(f"goods#{product}", f"{order.product or ''} {product}")
        fresh = Goods(product=product, seller=order.seller, title=order.product or "", first_vote=ts,
                      up=int(rating == "up"), down=int(rating == "down"))
        return Put(fresh)
    counter = "up" if rating == "up" else "down"
    return Update.of(current, set={counter: getattr(current, counter) + 1},
                     when=(Eq("up", current.up), Eq("down", current.down)))


def vote_on_goods(signed: SignedRequest, order_id: str, rating: str) -> tuple[int, dict[str, Any]]:
    order = get_order(order_id)
    if order.buyer != signed.node_id:
        raise Forbidden("only the buyer votes on the goods of an order", code="not_the_buyer")
    if order.status != "received":
        raise Conflict("goods are voted on after the buyer confirms receipt", code="order_state")
    running, guard = allowed("goods_vote")
    # Never more than the seller received for the order: the seller funds it.
    reward = min(rules(running).vote_reward, order.amount - order.rebate)
    for _ in range(ATTEMPTS):
        if _voted(order_id):
            raise Conflict("the goods of this order were already voted on", code="already_voted")
        ts = now_ms()
        vote_id, mint_id = new_entry_id(ts), new_entry_id(ts)
        base: list[Change] = [guard, Put(ProductVote(order_id=order_id, product=order.product or "", rating=rating,
                                                     ts=ts)), _tally_change(order, rating, ts)]
        vote = Draft("goods.voted", signed.node_id, {"order": order_id, "product": goods_id(order),
                                                      "rating": rating}, signed.auth, id=vote_id)
        answer = {"order": order_id, "product": goods_id(order), "rating": rating, "reward": reward,
                  "entry": vote_id}
        try:
            if reward and _seller_can_fund(order, reward):
                mint = p.vote_reward(order_id, order.buyer_wallet, order.seller_wallet, reward)
                commit([vote, Draft(mint.type, "system", mint.data, id=mint_id)],
                       merged([*base, *value_changes([(mint_id, mint)], ts), signed.remember(201, answer)]))
                return 201, answer
            # no reward rule, or the seller's wallet cannot fund it: the vote still counts
            unfunded = {**answer, "reward": 0}
            commit([vote], [*base, signed.remember(201, unfunded)])
            return 201, unfunded
        except Conflict:
            continue  # another vote on the same goods, or the seller's balance, moved: read them again
    if _voted(order_id):
        raise Conflict("the goods of this order were already voted on", code="already_voted")
    raise Conflict("the goods' votes changed under this vote; nothing was written, try again")


def _seller_can_fund(order: Order, reward: int) -> bool:
    seller = backend.state().get(Wallet, Wallet.key_of(order.seller_wallet))
    return seller is not None and seller.status == "active" and seller.fiat >= reward


def _voted(order_id: str) -> bool:
    return backend.state().get(ProductVote, ProductVote.key_of(order_id)) is not None


def _encode(position: int, sk: str) -> str:
    return base64.urlsafe_b64encode(f"{position}|{sk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        position, _, sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        if not sk or not position.isdigit() or len(position) > 12:
            raise ValueError(cursor)
        return int(position), sk
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter("cursor is malformed", field="cursor") from exc


def ranking(cursor: str | None = None, limit: int = RANK_PAGE) -> dict[str, Any]:
    """One page of the ranking, read from the index in rank order: it costs what it returns."""
    offset, after = _decode(cursor) if cursor else (0, None)
    found = backend.state().index(Goods, GOODS_INDEX, after=after, limit=limit + 1)
    page = []
    for position, g in enumerate(found[:limit], start=offset + 1):
        page.append({"product": g.product, "seller": g.seller, "title": g.title, "up": g.up, "down": g.down,
                     "first_vote": g.first_vote, "rank": position, "score": g.up - g.down})
    following = _encode(offset + limit, found[limit - 1].index_key().sk) if len(found) > limit else None
    return {"goods": page, "next": following}

