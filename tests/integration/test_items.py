"""Information goods: originator stamp, exact and near copies, labels, buying with coins, voting from a stake."""

from __future__ import annotations

import boto3
import pytest

from tests.actors import answer, expect
from tests.unit.test_similarity import EDITED, ORIGINAL, PARAPHRASE, UNRELATED


def _publish(actor, title, text, price=0, stake=0):
    return actor.post("/items", {"wallet": actor.wallet, "title": title, "text": text, "price": price,
                                 "stake": stake})


def test_the_first_uploader_is_the_originator_and_an_exact_copy_is_linked(readers):
    author, copier = readers.consumers[0], readers.consumers[1]
    first = expect(_publish(author, "Chapter one", ORIGINAL), 201)
    assert first["originator"] is True and first["copy_of"] is None
    copy = expect(_publish(copier, "My chapter", ORIGINAL), 201)
    assert copy["originator"] is False and copy["copy_of"] == first["item"] and copy["sha256"] == first["sha256"]


def test_near_copies_are_flagged_and_linked_and_unrelated_text_is_not(readers):
    author, other = readers.consumers[0], readers.consumers[1]
    first = expect(_publish(author, "Chapter one", ORIGINAL), 201)["item"]
    edited = expect(_publish(other, "Chapter 1", EDITED), 201)
    assert edited["originator"] and edited["near_copy_of"] == first and edited["similarity"] > 0.8
    paraphrase = expect(_publish(other, "A retelling", PARAPHRASE), 201)
    assert paraphrase["near_copy_of"] == first
    unrelated = expect(_publish(other, "A whaling tale", UNRELATED), 201)
    assert unrelated["near_copy_of"] is None and unrelated["similarity"] is None


@pytest.mark.parametrize("title,text,price,commercial,reason", [
    ("Poem", "the sea is calm tonight", 0, False, "free"),
    ("Lamps", "Buy now: discount lamps, limited time", 0, True, "promotional terms"),
    ("Notes", "see https://lamps.example/guide for more", 0, True, "links"),
    ("Essay", "the sea is calm tonight", 250, True, "offered for sale at 250"),
])
def test_each_item_is_labelled_with_a_reason(readers, title, text, price, commercial, reason):
    item = expect(_publish(readers.consumers[0], title, text, price=price), 201)
    assert item["commercial"] is commercial and reason in item["reason"]


def test_buying_an_item_with_coins_gives_a_download_link(readers):
    author, reader = readers.consumers[0], readers.consumers[1]
    item = expect(_publish(author, "Chapter one", ORIGINAL, price=300), 201)["item"]
    bought = expect(reader.post(f"/items/{item}/purchase", {"wallet": reader.wallet}), 201)
    assert "X-Amz-Expires=300" in bought["download"] or "Expires=" in bought["download"]
    content = boto3.client("s3").get_object(Bucket="covenant-test-items", Key=f"items/{bought['sha256']}")
    assert content["Body"].read().decode() == ORIGINAL
    assert answer(readers.http.get(f"/wallets/{reader.wallet}"))["balances"]["coin"] == 10_000 - 300
    assert answer(readers.http.get(f"/wallets/{author.wallet}"))["balances"]["coin"] == 10_000 + 300
    expect(reader.post(f"/items/{item}/purchase", {"wallet": reader.wallet}), 409, "already_bought")
    poor = readers.consumers[2]
    expect(poor.post(f"/items/{item}/purchase", {"wallet": poor.wallet}), 409, "insufficient_funds")


def test_voting_on_a_staked_item_pays_the_voter_from_the_stake(readers):
    author, reader, other = readers.consumers[0], readers.consumers[1], readers.consumers[2]
    item = expect(_publish(author, "Vote to earn", "a short essay on lamps and light", stake=15), 201)
    assert item["label"] == "vote_to_earn"
    expect(other.post(f"/items/{item['item']}/vote", {"rating": "up"}), 403, "not_a_buyer")
    expect(reader.post(f"/items/{item['item']}/purchase", {"wallet": reader.wallet}), 201)
    voted = expect(reader.post(f"/items/{item['item']}/vote", {"rating": "up"}), 201)
    assert voted["paid_from_stake"] == 10
    expect(reader.post(f"/items/{item['item']}/vote", {"rating": "down"}), 409, "already_voted")
    expect(other.post(f"/items/{item['item']}/purchase", {"wallet": other.wallet}), 201)
    assert expect(other.post(f"/items/{item['item']}/vote", {"rating": "up"}), 201)["paid_from_stake"] == 5
    view = answer(readers.http.get(f"/items/{item['item']}"))
    assert (view["stake"], view["up"], view["label"]) == (0, 2, None)


def test_search_ranks_by_votes_and_shows_the_label(readers):
    author, reader = readers.consumers[0], readers.consumers[1]
    low = expect(_publish(author, "Lamp manual", "how to wire a desk lamp"), 201)["item"]
    high = expect(_publish(author, "Lamp history", "the story of the oil lamp", price=1), 201)["item"]
    expect(reader.post(f"/items/{high}/purchase", {"wallet": reader.wallet}), 201)
    expect(reader.post(f"/items/{high}/vote", {"rating": "up"}), 201)
    results = answer(readers.http.get("/search?q=lamp"))["results"]
    assert [r["id"] for r in results] == [high, low]
    assert results[0]["label"] == "commercial" and results[1]["label"] == "non-commercial"
    assert answer(readers.http.get("/search?q=lamp&limit=1"))["next"] == "1"
    assert answer(readers.http.get("/search?q=whale"))["results"] == []
    expect(readers.http.get("/search"), 400, "invalid_parameter")


def test_stakes_keep_conservation(readers, chain):
    from chalicelib.domain.records import Item, Totals, Wallet
    from chalicelib.domain.replay import replay
    from chalicelib.services.sealing import seal_pending_entries
    from tests import state
    from tests.integration.chain_checks import verified_chain

    author, reader = readers.consumers[0], readers.consumers[1]
    item = expect(_publish(author, "Essay", "words on lamps", price=7, stake=25), 201)["item"]
    expect(reader.post(f"/items/{item}/purchase", {"wallet": reader.wallet}), 201)
    expect(reader.post(f"/items/{item}/vote", {"rating": "up"}), 201)
    totals = state.get(Totals, Totals.key_of())
    wallets = {w.wallet_id: {"fiat": w.fiat, "coin": w.coin} for w in state.every(Wallet)}
    staked = sum(i.stake for i in state.every(Item))
    assert sum(w["coin"] for w in wallets.values()) + staked == totals.coins_minted - totals.coins_retired
    seal_pending_entries(chain)
    replayed = replay(e for b in verified_chain() for e in b["entries"])
    assert replayed.balances == wallets and replayed.staked == staked and replayed.negative == []


def test_search_finds_words_deep_in_the_text_and_refuses_an_empty_query(readers):
    text = "lamps " * 200 + "zebra"
    item = expect(_publish(readers.consumers[0], "Long essay", text), 201)["item"]
    assert [r["id"] for r in answer(readers.http.get("/search?q=zebra"))["results"]] == [item]
    assert answer(readers.http.get("/search?q=%21%21%21"))["results"] == []  # punctuation: nothing matches it
    expect(readers.http.get("/search?q=%20"), 400, "invalid_parameter")  # nothing but spaces: no query


def test_a_near_copy_links_the_originator_not_an_exact_copy(readers):
    author, copier, editor = readers.consumers
    original = expect(_publish(author, "Chapter one", ORIGINAL), 201)["item"]
    expect(_publish(copier, "Copy", ORIGINAL), 201)
    assert expect(_publish(editor, "Edited", EDITED), 201)["near_copy_of"] == original


def test_text_is_limited_in_bytes_not_characters(readers):
    error = expect(_publish(readers.consumers[0], "Euros", "€" * 40_000), 400, "invalid_body")["error"]
    assert error["field"] == "text"


def test_punctuation_alone_is_not_a_near_copy_of_other_punctuation(readers):
    expect(_publish(readers.consumers[0], "Dots", "!!! ??? ..."), 201)
    assert expect(_publish(readers.consumers[1], "Dashes", "--- ;;; ,,,"), 201)["near_copy_of"] is None


def test_item_votes_wait_while_the_system_is_halted(readers):
    from chalicelib.domain.records import Program
    from tests import state

    author, reader = readers.consumers[0], readers.consumers[1]
    item = expect(_publish(author, "Essay", "words", stake=20), 201)["item"]
    expect(reader.post(f"/items/{item}/purchase", {"wallet": reader.wallet}), 201)
    state.change(state.get(Program, Program.key_of()), status="halted")
    expect(reader.post(f"/items/{item}/vote", {"rating": "up"}), 409, "program_not_running")
