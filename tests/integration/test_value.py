"""Money that cannot leak: rewards that cannot be farmed, fees that cannot be split away, answers that stay true."""

from __future__ import annotations

from tests.actors import answer, expect


def _value(http, wallet):
    balances = answer(http.get(f"/wallets/{wallet}"))["balances"]
    return balances["fiat"] + balances["coin"]  # at the peg, a coin unit is worth a fiat minor unit


def _cycle(running, buyer, seller, price=10):
    """Buy cheap goods from a friend, confirm, vote: what a farming pair would repeat."""
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": 1,
                                          "unit_price": price, "unit_profit": price}), 201)["order"]
    expect(buyer.post(f"/orders/{order}/payment", {"wallet": buyer.wallet}), 200)
    expect(seller.post(f"/orders/{order}/shipment"), 200)
    expect(buyer.post(f"/orders/{order}/receipt"), 200)
    return expect(buyer.post(f"/orders/{order}/vote", {"rating": "up"}), 201)


def test_two_nodes_trading_with_each_other_cannot_farm_vote_rewards(running):
    # Given the stamp node's wallet holds money that rewards used to come from
    expect(running.stamp.post("/deposits", {"wallet": "w-stamp", "amount": 10_000}), 201)
    a, b = running.consumers[0], running.consumers[1]
    http = running.http
    pair_before = _value(http, a.wallet) + _value(http, b.wallet)
    stamp_before = _value(http, "w-stamp")
    # When the pair runs three cycles of a 10-unit order and a vote, each way
    rewards = [_cycle(running, a, b)["reward"] for _ in range(3)] + [_cycle(running, b, a)["reward"] for _ in range(3)]
    # Then votes were rewarded, but by the seller: the pair holds no more value than it started with
    assert all(r > 0 for r in rewards)
    assert _value(http, a.wallet) + _value(http, b.wallet) == pair_before
    assert _value(http, "w-stamp") == stamp_before


def test_exchanging_in_small_pieces_pays_at_least_the_fee_of_the_whole(running):
    consumer = running.consumers[0]
    expect(consumer.post("/exchanges", {"wallet": consumer.wallet, "direction": "fiat_to_coin", "amount": 490}), 201)
    fees = [expect(consumer.post("/exchanges", {"wallet": consumer.wallet, "direction": "coin_to_fiat",
                                                "amount": 49}), 201)["fee"] for _ in range(10)]
    whole = expect(running.consumers[1].post("/exchanges", {"wallet": running.consumers[1].wallet,
                                                            "direction": "fiat_to_coin", "amount": 490}), 201)
    assert whole["coins"] == 490
    single = expect(running.consumers[1].post("/exchanges", {"wallet": running.consumers[1].wallet,
                                                             "direction": "coin_to_fiat", "amount": 490}), 201)
    assert sum(fees) == 10 and single["fee"] == 10 and sum(fees) >= single["fee"]


def test_a_retryable_refusal_is_not_kept_as_the_first_answer(running, monkeypatch):
    """409 conflict says "nothing was written, try again": a retry with the same key must really try again."""
    from chalicelib.errors import Conflict
    from chalicelib.services import money

    consumer, stamp = running.consumers[0], running.stamp
    body = {"wallet": consumer.wallet, "amount": 123}
    raw = __import__("json").dumps(body).encode()
    real = money.commit
    calls = {"n": 0}

    def busy(*args, **kwargs):
        calls["n"] += 1
        raise Conflict("the state changed under this request; nothing was written")

    monkeypatch.setattr(money, "commit", busy)
    headers = stamp.signed_headers("/deposits", raw, idempotency_key="deposit-123")
    expect(running.http.post("/deposits", body=raw, headers=headers), 409, "conflict")
    monkeypatch.setattr(money, "commit", real)
    # the very same request again (same signature, same nonce): it is carried out, not answered from memory
    done = expect(running.http.post("/deposits", body=raw, headers=headers), 201)
    assert done["amount"] == 123 and calls["n"] == 1
    # and now that answer is the one kept
    again = stamp.signed_headers("/deposits", raw, idempotency_key="deposit-123")
    replayed = running.http.post("/deposits", body=raw, headers=again)
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"


def test_a_refusal_that_describes_the_state_is_still_kept(running):
    consumer = running.consumers[0]
    body = {"wallet": consumer.wallet, "direction": "coin_to_fiat", "amount": 10**9}
    raw = __import__("json").dumps(body).encode()
    first = consumer.signed_headers("/exchanges", raw, idempotency_key="too-much")
    expect(running.http.post("/exchanges", body=raw, headers=first), 409, "insufficient_funds")
    second = consumer.signed_headers("/exchanges", raw, idempotency_key="too-much")
    response = running.http.post("/exchanges", body=raw, headers=second)
    assert response.status_code == 409 and response.headers["Idempotent-Replayed"] == "true"


def test_an_entry_over_65535_bytes_is_refused_with_its_own_code(running):
    consumer = running.consumers[0]
    # 40,000 bytes of text, each line break escaped twice in the entry (once in the body, once in auth.body)
    text = "a\n" * 20_000
    response = consumer.post("/items", {"wallet": consumer.wallet, "title": "Lines", "text": text, "price": 0})
    error = expect(response, 413, "entry_too_large")["error"]
    assert error["field"] == "body" and "65,535" in error["message"]
    # plain text of the same size fits
    expect(consumer.post("/items", {"wallet": consumer.wallet, "title": "Prose", "text": "word " * 9_000,
                                    "price": 0}), 201)


def test_item_text_beyond_the_documented_limit_is_refused_by_field(running):
    consumer = running.consumers[0]
    response = consumer.post("/items", {"wallet": consumer.wallet, "title": "Big", "text": "x" * 48_001, "price": 0})
    assert expect(response, 400, "invalid_body")["error"]["field"] == "text"


def test_one_signed_request_is_the_auth_of_one_entry_only(running):
    from chalicelib.errors import InvalidParameter
    from chalicelib.services.ledger import Draft, commit
    from tests.chainmaker import signed_auth

    consumer = running.consumers[0]
    auth = signed_auth(consumer.key, {}, "/program/authorisations")
    with __import__("pytest").raises(InvalidParameter, match="one entry only"):
        commit([Draft("program.authorised", consumer.node, {"node": consumer.node}, auth),
                Draft("program.authorised", consumer.node, {"node": consumer.node}, auth)])
