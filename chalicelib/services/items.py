"""Information goods: publish (originator stamp, near-copy flag, commercial label), buy with coins, vote.

The first item published with some exact content (by SHA-256) is stamped its
originator; an exact copy is published as a copy, refused the stamp and linked
to the original; a near copy (MinHash, see domain/similarity.py) is flagged
and linked. A publisher may stake coins on an item ("vote to earn"): each vote
then pays the voter ``stake_reward`` coins from the stake while it lasts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from ..domain.classify import classify
from ..domain.similarity import NEAR_COPY_THRESHOLD, bands, normalise, signature, similarity
from ..errors import Conflict, Forbidden, InvalidParameter, NotFound, StorageError
from ..settings import get_settings
from ..store.state_models import ITEM, BandRecord, ContentClaim, ItemPurchase, ItemRecord, ItemVote, exists
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import credit, debit, history, refused_debit
from .program import require_running, rules, save, update
from .signed import SignedRequest
from .trading import _own_wallet, _trader

DOWNLOAD_SECONDS = 300
EXCERPT = 500
MAX_WORDS = 60_000  # the distinct words of an item's text, for search


@functools.cache
def s3_client() -> Any:
    return boto3.client("s3")


def bucket() -> str:
    return get_settings().table("items")


def get_item(item_id: str) -> ItemRecord:
    try:
        return ItemRecord.get(f"item#{item_id}", ITEM, consistent_read=True)
    except ItemRecord.DoesNotExist as exc:
        raise NotFound(f"there is no item {item_id}", field="item") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the item") from exc


def item_view(item: ItemRecord) -> dict[str, Any]:
    return {"item": item.item_id, "title": item.title, "publisher": item.publisher, "sha256": item.sha256,
            "size": int(item.size), "price": int(item.price), "stake": int(item.stake),
            "label": "vote_to_earn" if int(item.stake) > 0 else None,
            "commercial": bool(item.commercial), "reason": item.reason, "originator": bool(item.originator),
            "copy_of": item.copy_of, "near_copy_of": item.near_copy_of,
            "similarity": float(item.similarity) if item.similarity else None,
            "up": int(item.up), "down": int(item.down)}


def _original_of(sha: str) -> str | None:
    try:
        return str(ContentClaim.get(f"sha#{sha}", ITEM, consistent_read=True).item_id)
    except ContentClaim.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise StorageError("could not check the content's originator") from exc


def _nearest(sig: list[int], keys: list[str]) -> tuple[str, float] | None:
    candidates: set[str] = set()
    try:
        for key in keys:
            candidates.update(str(r.sk) for r in BandRecord.query(f"band#{key}"))
        best: tuple[str, float] | None = None
        for item_id in sorted(candidates):
            try:
                other = ItemRecord.get(f"item#{item_id}", ITEM)
            except ItemRecord.DoesNotExist:
                continue  # indexed by a publication that did not commit
            score = similarity(sig, json.loads(other.minhash))
            linked = other.copy_of or item_id  # an exact copy's text is its originator's: link the originator
            if score >= NEAR_COPY_THRESHOLD and (best is None or score > best[1]):
                best = (linked, score)
    except PynamoDBException as exc:
        raise StorageError("could not search for near copies") from exc
    return best


def publish(signed: SignedRequest, wallet_id: str, title: str, text: str, price: int,
            stake: int) -> tuple[int, dict[str, Any]]:
    require_running()
    _trader(signed)
    _own_wallet(signed, wallet_id)
    content = text.encode("utf-8")
    sha = hashlib.sha256(content).hexdigest()
    item_id = "i-" + secrets.token_hex(8)
    commercial, reason = classify(title, text, price)
    original = _original_of(sha)
    sig = signature(text)
    keys = bands(sig) if normalise(text) else []  # punctuation or emoji alone: nothing to compare
    near = None if original or not keys else _nearest(sig, keys)
    try:
        s3_client().put_object(Bucket=bucket(), Key=f"items/{sha}", Body=content, ContentType="text/plain",
                               ChecksumSHA256=base64.b64encode(bytes.fromhex(sha)).decode())
        with BandRecord.batch_write() as batch:
            for key in keys:
                batch.save(BandRecord(pk=f"band#{key}", sk=item_id))
    except (BotoCoreError, ClientError, PynamoDBException) as exc:
        raise StorageError("could not store the item's content") from exc
    ts = now_ms()
    record = ItemRecord(pk=f"item#{item_id}", sk=ITEM, item_id=item_id, publisher=signed.node_id,
                        publisher_wallet=wallet_id, title=title, excerpt=text[:EXCERPT],
                        words=" ".join(sorted(set(normalise(text).split())))[:MAX_WORDS], sha256=sha,
                        size=len(content),
                        price=price, stake=stake, commercial=commercial, reason=reason, originator=original is None,
                        copy_of=original, near_copy_of=near[0] if near else None,
                        similarity=f"{near[1]:.3f}" if near else None, minhash=json.dumps(sig), ts=ts)
    entry_id = new_entry_id(ts)
    data = {"item": item_id, "publisher": signed.node_id, "wallet": wallet_id, "title": title, "sha256": sha,
            "size": len(content), "price": price, "stake": stake, "commercial": commercial, "reason": reason,
            "originator": original is None, "copy_of": original, "near_copy_of": record.near_copy_of,
            "similarity_permille": int(near[1] * 1000) if near else None, "rule": "first_uploader_is_originator"}
    answer = {**item_view(record), "entry": entry_id}
    writes = [save(record, ItemRecord.pk.does_not_exist()), signed.remember(201, answer)]
    if original is None:
        writes.append(save(ContentClaim(pk=f"sha#{sha}", sk=ITEM, item_id=item_id), ContentClaim.pk.does_not_exist()))
    if stake:
        writes += [debit(wallet_id, "coin", stake), history(wallet_id, entry_id, "item.published", "coin", -stake, ts)]
    try:
        commit([Draft("item.published", signed.node_id, data, signed.auth, id=entry_id)], writes)
    except Conflict as exc:
        if stake:
            raise refused_debit(exc, wallet_id, "coin", stake) from exc
        raise Conflict("the same content was published at the same moment; publish again", code="conflict") from exc
    return 201, answer


def buy(signed: SignedRequest, item_id: str, wallet_id: str) -> tuple[int, dict[str, Any]]:
    require_running()
    _trader(signed)
    _own_wallet(signed, wallet_id)
    item = get_item(item_id)
    if item.publisher == signed.node_id:
        raise Conflict("a publisher does not buy its own item", code="self_trade")
    price = int(item.price)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"item": item_id, "price": price, "entry": entry_id, "sha256": item.sha256}
    writes = [save(ItemPurchase(pk=f"purchase#{item_id}", sk=signed.node_id, ts=ts),
                   ItemPurchase.pk.does_not_exist()), signed.remember(201, answer)]
    if price:
        writes += [debit(wallet_id, "coin", price), credit(item.publisher_wallet, "coin", price, require_active=False),
                   history(wallet_id, entry_id, "item.bought", "coin", -price, ts),
                   history(item.publisher_wallet, entry_id + ".sale", "item.sold", "coin", price, ts)]
    try:
        commit([Draft("item.bought", signed.node_id, {"item": item_id, "wallet": wallet_id, "price": price,
                                                       "publisher_wallet": item.publisher_wallet},
                      signed.auth, id=entry_id)], writes)
    except Conflict as exc:
        if _bought(item_id, signed.node_id):
            raise Conflict("this node already bought the item", code="already_bought") from exc
        raise refused_debit(exc, wallet_id, "coin", price) from exc
    return 201, {**answer, "download": download_url(item)}


def download_url(item: ItemRecord) -> str:
    """A presigned, expiring S3 URL for the item's content."""
    try:
        return str(s3_client().generate_presigned_url("get_object", ExpiresIn=DOWNLOAD_SECONDS,
                                                      Params={"Bucket": bucket(), "Key": f"items/{item.sha256}"}))
    except (BotoCoreError, ClientError) as exc:
        raise StorageError("could not sign a download URL") from exc


def _bought(item_id: str, node_id: str) -> bool:
    return exists(ItemPurchase, f"purchase#{item_id}", node_id)


def vote(signed: SignedRequest, item_id: str, rating: str) -> tuple[int, dict[str, Any]]:
    """A buyer votes once on an item; a staked item pays the voter from its stake."""
    running = require_running()
    if not _bought(item_id, signed.node_id):
        raise Forbidden("only a node that bought the item votes on it", code="not_a_buyer")
    for _ in range(3):
        try:
            return _vote_once(signed, get_item(item_id), rating, rules(running).stake_reward)
        except Conflict:
            if _voted(item_id, signed.node_id):
                raise Conflict("this node already voted on the item", code="already_voted") from None
            # the stake changed under us (another voter took the last of it): read it again
    raise Conflict("the item changed under this vote; try again", code="conflict")


def _voted(item_id: str, node_id: str) -> bool:
    return exists(ItemVote, f"ivote#{item_id}", node_id)


def _vote_once(signed: SignedRequest, item: ItemRecord, rating: str, stake_reward: int) -> tuple[int, dict[str, Any]]:
    item_id, node_id = item.item_id, signed.node_id
    reward = min(stake_reward, int(item.stake))
    wallet = signed.node.wallet_id if signed.node else None
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"item": item_id, "rating": rating, "paid_from_stake": reward if wallet else 0, "entry": entry_id}
    counter = ItemRecord.up if rating == "up" else ItemRecord.down
    actions = [counter.add(1)]
    condition = None
    writes = [save(ItemVote(pk=f"ivote#{item_id}", sk=node_id, rating=rating), ItemVote.pk.does_not_exist()),
              signed.remember(201, answer)]
    if reward and wallet:
        actions.append(ItemRecord.stake.add(-reward))
        condition = ItemRecord.stake >= reward
        writes += [credit(wallet, "coin", reward, require_active=False),
                   history(wallet, entry_id, "item.voted", "coin", reward, ts)]
    writes.append(update(ItemRecord(pk=f"item#{item_id}", sk=ITEM), actions, condition))
    commit([Draft("item.voted", node_id, {"item": item_id, "rating": rating, "wallet": wallet,
                                           "paid_from_stake": answer["paid_from_stake"],
                                           "rule": "stake_reward"}, signed.auth, id=entry_id)], writes)
    return 201, answer


def search(text: str, offset: int, limit: int) -> dict[str, Any]:
    """Keyword search over goods and items: every word must match; ranked by votes, then tie-break."""
    from ..domain.similarity import normalise
    from ..store.state_models import GoodsRecord

    words = normalise(text).split()
    if not words:
        raise InvalidParameter("q has no words to search for", field="q")
    found: list[dict[str, Any]] = []
    try:
        for item in ItemRecord.scan(ItemRecord.pk.startswith("item#")):
            haystack = set(normalise(item.title).split()) | set((item.words or "").split())
            if all(w in haystack for w in words):
                found.append({"kind": "item", "id": item.item_id, "title": item.title, "up": int(item.up),
                              "down": int(item.down), "since": int(item.ts),
                              "label": "commercial" if item.commercial else "non-commercial", "reason": item.reason,
                              "vote_to_earn": int(item.stake) > 0})
        for goods in GoodsRecord.scan(GoodsRecord.pk.startswith("goods#")):
            goods_words = set(normalise(f"{goods.title} {goods.product}").split())
            if all(w in goods_words for w in words):
                found.append({"kind": "goods", "id": goods.product, "title": goods.title, "up": int(goods.up),
                              "down": int(goods.down), "since": int(goods.first_vote or 0),
                              "label": "commercial", "reason": "goods sold in orders", "vote_to_earn": False})
    except PynamoDBException as exc:
        raise StorageError("could not search") from exc
    found.sort(key=lambda r: (-(r["up"] - r["down"]), -(r["up"] + r["down"]), r["since"], r["kind"], r["id"]))
    page = found[offset:offset + limit]
    following = offset + limit if offset + limit < len(found) else None
    return {"query": text, "results": page, "next": str(following) if following is not None else None}
