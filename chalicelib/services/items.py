"""Information goods: publish (originator stamp, near-copy flag, commercial label), buy with coins, vote.

The first item published with some exact content (by SHA-256) is stamped its
originator; an exact copy is published as a copy, refused the stamp and linked
to the original; a near copy (MinHash, see domain/similarity.py) is flagged
and linked. A publisher may stake coins on an item ("vote to earn"): each vote
then pays the voter ``stake_reward`` coins from the stake while it lasts.

Content comes as ``text`` in the request (up to 48,000 bytes, kept in the
entry's ``auth``), or as an upload the program verifies first
(services/uploads.py): binary content is published too, without the near-copy
check, while the exact-copy stamp by SHA-256 applies to every item.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from ..domain import postings as p
from ..domain.classify import classify
from ..domain.records import Band, ContentClaim, Item, ItemPurchase, ItemVote, Key
from ..domain.similarity import NEAR_COPY_THRESHOLD, bands, normalise, signature, similarity
from ..errors import Conflict, Forbidden, NotFound
from ..store import backend, content
from ..store.port import Change, Ge, Put, Update
from . import uploads
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import merged, refused_debit, value_changes
from .program import allowed, rules
from .search import index_words
from .signed import SignedRequest
from .trading import own_wallet, trader

DOWNLOAD_SECONDS = 300
EXCERPT = 500


def get_item(item_id: str) -> Item:
    found = backend.state().get(Item, Item.key_of(item_id))
    if found is None:
        raise NotFound(f"there is no item {item_id}", field="item")
    return found


def item_view(item: Item) -> dict[str, Any]:
    return {"item": item.item_id, "title": item.title, "publisher": item.publisher, "sha256": item.sha256,
            "size": item.size, "content": item.content, "price": item.price, "stake": item.stake,
            "label": "vote_to_earn" if item.stake > 0 else None,
            "commercial": bool(item.commercial), "reason": item.reason, "originator": bool(item.originator),
            "copy_of": item.copy_of, "near_copy_of": item.near_copy_of,
            "similarity": float(item.similarity) if item.similarity else None,
            "up": item.up, "down": item.down}


def _original_of(sha: str) -> str | None:
    claim = backend.state().get(ContentClaim, ContentClaim.key_of(sha))
    return None if claim is None else claim.item_id


def _nearest(sig: list[int], keys: list[str]) -> tuple[str, float] | None:
    store = backend.state()
    candidates: set[str] = set()
    for band in keys:
        candidates.update(row.item_id for row in store.query(Band, f"band#{band}"))
    found = store.get_many(Item, [Item.key_of(i) for i in sorted(candidates)])  # uncommitted ones are absent
    best: tuple[str, float] | None = None
    for key in sorted(found):
        other = found[key]
        score = similarity(sig, json.loads(other.minhash))
        linked = other.copy_of or other.item_id  # an exact copy's text is its originator's: link the originator
        if score >= NEAR_COPY_THRESHOLD and (best is None or score > best[1]):
            best = (linked, score)
    return best


def publish(signed: SignedRequest, wallet_id: str, title: str, price: int, stake: int, text: str | None = None,
            sha256: str | None = None, size: int | None = None) -> tuple[int, dict[str, Any]]:
    """Publish ``text`` sent in the request, or content uploaded before (``sha256`` and ``size``, verified here)."""
    _, guard = allowed("publish")
    trader(signed)
    own_wallet(signed, wallet_id)
    store: Callable[[], None]
    sample: str | None  # the text compared for near copies and excerpted; None for binary content
    if text is not None:
        raw = text.encode("utf-8")
        sha, length, sample = hashlib.sha256(raw).hexdigest(), len(raw), text
        store = functools.partial(content.put_text, sha, raw)
    else:
        assert sha256 is not None and size is not None  # the body's model requires one or the other
        verified = uploads.verify_upload(sha256, size)
        sha, length, sample = verified.sha256, verified.size, verified.text
        store = functools.partial(uploads.keep_verified, verified)
    item_id = "i-" + secrets.token_hex(8)
    commercial, reason = classify(title, sample or "", price)
    original = _original_of(sha)
    sig = signature(sample) if sample is not None else []
    keys = bands(sig) if sample is not None and normalise(sample) else []  # punctuation or emoji alone
    near = None if original or not keys else _nearest(sig, keys)
    store()  # before the entry: an entry never names content that is not stored
    # Index rows first: a row whose item never commits is skipped by every reader.
    backend.state().put_all([Band(band=key, item_id=item_id) for key in keys])
    index_words(f"item#{item_id}", f"{title} {sample or ''}")
    ts = now_ms()
    kind = "binary" if sample is None else "text"
    record = Item(item_id=item_id, publisher=signed.node_id, publisher_wallet=wallet_id, title=title,
                  excerpt=(sample or "")[:EXCERPT], sha256=sha, size=length, price=price, stake=0,
                  commercial=commercial, reason=reason, originator=original is None, copy_of=original,
                  near_copy_of=near[0] if near else None, similarity=f"{near[1]:.3f}" if near else None,
                  minhash=json.dumps(sig), ts=ts, content=kind)
    entry_id = new_entry_id(ts)
    data = {"item": item_id, "publisher": signed.node_id, "wallet": wallet_id, "title": title, "sha256": sha,
            "size": length, "content": kind, "price": price, "stake": stake, "commercial": commercial,
            "reason": reason, "originator": original is None, "copy_of": original,
            "near_copy_of": record.near_copy_of, "similarity_permille": int(near[1] * 1000) if near else None,
            "rule": "first_uploader_is_originator"}
    answer = {**item_view(record), "stake": stake, "label": "vote_to_earn" if stake else None, "entry": entry_id}
    changes: list[Change] = [guard, Put(record), signed.remember(201, answer)]
    if original is None:
        changes.append(Put(ContentClaim(sha256=sha, item_id=item_id)))
    # the stake moves from the wallet into the item: the item is written with 0 and credited by the posting
    changes += value_changes([(entry_id, p.Movement("item.published", data))], ts)
    try:
        commit([Draft("item.published", signed.node_id, data, signed.auth, id=entry_id)], merged(changes))
    except Conflict as exc:
        if stake:
            raise refused_debit(exc, wallet_id, "coin", stake) from exc
        raise Conflict("the same content was published at the same moment; publish again", code="conflict") from exc
    return 201, answer


def buy(signed: SignedRequest, item_id: str, wallet_id: str) -> tuple[int, dict[str, Any]]:
    _, guard = allowed("buy_item")
    trader(signed)
    own_wallet(signed, wallet_id)
    item = get_item(item_id)
    if item.publisher == signed.node_id:
        raise Conflict("a publisher does not buy its own item", code="self_trade")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    movement = p.item_sale(item_id, wallet_id, item.price, item.publisher_wallet)
    answer = {"item": item_id, "price": item.price, "entry": entry_id, "sha256": item.sha256}
    try:
        commit([Draft(movement.type, signed.node_id, movement.data, signed.auth, id=entry_id)], merged([
            guard, Put(ItemPurchase(item_id=item_id, node_id=signed.node_id, ts=ts)),
            *value_changes([(entry_id, movement)], ts), signed.remember(201, answer)]))
    except Conflict as exc:
        if _bought(item_id, signed.node_id):
            raise Conflict("this node already bought the item", code="already_bought") from exc
        raise refused_debit(exc, wallet_id, "coin", item.price) from exc
    return 201, {**answer, "download": download_url(item)}


def download_url(item: Item) -> str:
    """A presigned, expiring S3 URL for the item's content: the verified bytes, at ``items/<sha256>``."""
    return content.presign_download(item.sha256, DOWNLOAD_SECONDS)


def _bought(item_id: str, node_id: str) -> bool:
    return backend.state().get(ItemPurchase, ItemPurchase(item_id=item_id, node_id=node_id, ts=0).key) is not None


def vote(signed: SignedRequest, item_id: str, rating: str) -> tuple[int, dict[str, Any]]:
    """A buyer votes once on an item; a staked item pays the voter from its stake."""
    running, guard = allowed("item_vote")
    if not _bought(item_id, signed.node_id):
        raise Forbidden("only a node that bought the item votes on it", code="not_a_buyer")
    for _ in range(3):
        try:
            return _vote_once(signed, get_item(item_id), rating, rules(running).stake_reward, guard)
        except Conflict:
            if _voted(item_id, signed.node_id):
                raise Conflict("this node already voted on the item", code="already_voted") from None
            # the stake changed under us (another voter took the last of it): read it again
    raise Conflict("the item changed under this vote; try again", code="conflict")


def _voted(item_id: str, node_id: str) -> bool:
    return backend.state().get(ItemVote, Key(f"ivote#{item_id}", node_id)) is not None


def _vote_once(signed: SignedRequest, item: Item, rating: str, stake_reward: int,
               guard: Change) -> tuple[int, dict[str, Any]]:
    item_id, node_id = item.item_id, signed.node_id
    wallet = signed.node.wallet_id if signed.node else None
    reward = min(stake_reward, item.stake) if wallet else 0
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"item": item_id, "rating": rating, "paid_from_stake": reward, "entry": entry_id}
    data = {"item": item_id, "rating": rating, "wallet": wallet, "paid_from_stake": reward, "rule": "stake_reward"}
    counter = "up" if rating == "up" else "down"
    commit([Draft("item.voted", node_id, data, signed.auth, id=entry_id)], merged([
        guard, Put(ItemVote(item_id=item_id, node_id=node_id, rating=rating)),
        Update(Item, item.key, add={counter: 1}, when=(Ge("stake", reward),)),
        *value_changes([(entry_id, p.Movement("item.voted", data))], ts),
        signed.remember(201, answer)]))
    return 201, answer
