"""Postings, the one owner of every movement of value: each balances, and a fold of any sequence conserves value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import postings as p
from chalicelib.domain.replay import replay
from chalicelib.domain.rules import ProgramRules

RULES = ProgramRules()
WALLETS = ["w1", "w2", "w3"]
amounts = st.integers(1, 10**9)


def _movements():
    wallet = st.sampled_from(WALLETS)
    return st.one_of(
        st.builds(p.deposit, wallet, amounts),
        st.builds(p.withdrawal, wallet, amounts),
        st.builds(p.payment, st.just("o1"), wallet, amounts),
        st.builds(p.refund, st.just("o1"), wallet, st.integers(0, 10**9)),
        st.builds(lambda q, price, profit, b, s: p.shipment("o1", b, s, q, price, min(profit, price), RULES)[0],
                  st.integers(1, 100), amounts, amounts, wallet, wallet),
        st.builds(lambda q, price, profit, b, s: p.shipment("o1", b, s, q, price, min(profit, price), RULES)[1],
                  st.integers(1, 100), amounts, amounts, wallet, wallet),
        st.builds(p.vote_reward, st.just("o1"), wallet, wallet, amounts),
        st.builds(lambda b, s, q, price: p.reissued_rebate("d1", "o1", b, s, q, price, price, RULES), wallet, wallet,
                  st.integers(1, 100), amounts),
        st.builds(lambda w, c, bps: p.coins_to_fiat(w, c, "w3", ProgramRules(exchange_fee_bps=bps)), wallet, amounts,
                  st.integers(0, 5_000)),
        st.builds(p.fiat_to_coins, wallet, amounts),
        st.builds(p.item_sale, st.just("i1"), wallet, st.integers(0, 10**9), wallet),
        st.builds(lambda w, s: p.Movement("item.published", {"item": "i1", "wallet": w, "stake": s}), wallet,
                  st.integers(0, 10**9)),
        st.builds(lambda w, r: p.Movement("item.voted", {"item": "i1", "wallet": w, "paid_from_stake": r}), wallet,
                  st.integers(0, 10**9)),
    )


@given(_movements())
def test_every_movement_balances_per_asset(movement):
    assert p.balanced(movement.postings)


@given(st.lists(_movements(), max_size=40))
def test_any_sequence_conserves_value_in_every_asset(movements):
    entries = [{"type": m.type, "data": m.data, "id": f"e{i}"} for i, m in enumerate(movements)]
    folded = replay(entries)
    assert folded.unbalanced == []
    assert folded.total("fiat") == 0 and folded.total("coin") == 0
    coins_out = sum(b["coin"] for b in folded.balances.values()) + folded.staked
    assert coins_out == folded.coins_minted - folded.coins_retired


def test_an_exchange_pays_the_reserve_value_less_the_fee_rounded_up():
    movement = p.coins_to_fiat("w1", 49, "stamp", RULES)
    assert (movement.data["fee"], movement.data["fiat"]) == (1, 48)
    assert {(x.account, x.asset, x.delta) for x in movement.postings} == {
        ("wallet:w1", "coin", -49), ("issuance", "coin", 49), ("reserve", "fiat", -49), ("wallet:w1", "fiat", 48),
        ("wallet:stamp", "fiat", 1)}


def test_a_vote_reward_is_funded_by_the_seller_not_by_the_platform():
    reward = p.vote_reward("o1", "buyer", "seller", 10)
    fiat = {x.account: x.delta for x in reward.postings if x.asset == "fiat"}
    assert fiat == {"wallet:seller": -10, "reserve": 10}
    assert not any(x.account == "wallet:w-stamp" for x in reward.postings)


def test_a_fold_flags_a_balance_that_would_go_negative():
    entries = [{"type": "fiat.withdrawn", "data": {"wallet": "w1", "amount": 5}, "id": "e1"}]
    assert replay(entries).negative == ["e1: wallet:w1 fiat -5"]
