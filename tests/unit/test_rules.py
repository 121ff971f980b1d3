"""The program's rules as pure functions, for all inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.legality import NodeView, WalletView, find_violations
from chalicelib.domain.rules import (
    ProgramRules,
    Tier,
    endorsement_ratio,
    endorsements_needed,
    exchange_fee,
    identity_key,
    quorum_reached,
    rebate,
)

RULES = ProgramRules()


@given(st.integers(1, 10**6), st.integers(1, 10**7), st.integers(0, 10**7))
def test_the_rebate_never_exceeds_the_payment_and_grows_with_profit(quantity, price, profit):
    amount = quantity * price
    value = rebate(quantity, price, profit, RULES)
    assert 0 <= value <= amount
    assert rebate(quantity, price, profit + 1, RULES) >= value


def test_the_rebate_formula_is_quantity_times_profit_times_the_rate():
    assert rebate(3, 1_000, 250, RULES) == 3 * 250 * 2_000 // 10_000 == 150


@given(st.integers(1, 10_000), st.integers(0, 10_000))
def test_quorum_is_a_share_of_the_eligible(eligible, yes):
    yes = min(yes, eligible)
    assert quorum_reached(yes, eligible, 5_100) == (yes * 100 >= eligible * 51)


def test_exactly_51_percent_passes_and_just_under_does_not():
    assert quorum_reached(51, 100, 5_100) and not quorum_reached(50, 100, 5_100)
    assert quorum_reached(2, 3, 5_100) and not quorum_reached(1, 3, 5_100)
    assert not quorum_reached(0, 0, 5_100)


@given(st.integers(0, 10**9))
def test_tiers_never_ask_less_of_a_larger_order(amount):
    assert endorsement_ratio(amount + 1, RULES) >= endorsement_ratio(amount, RULES)


def test_endorsements_round_up():
    rules = ProgramRules(tiers=(Tier(0, 0), Tier(10, 5_000)))
    assert endorsements_needed(5, 3, rules) == 0
    assert endorsements_needed(10, 3, rules) == 2  # half of three replicas, rounded up
    assert endorsements_needed(10**7, 3, RULES) == 3


@given(st.integers(0, 10**12))
def test_the_exchange_fee_is_the_share_rounded_up_and_never_more_than_the_whole(coins):
    fee = exchange_fee(coins, RULES)
    assert 0 <= fee <= coins and fee == -(-coins * 200 // 10_000)
    assert fee * 10_000 >= coins * 200 > (fee - 1) * 10_000


def test_small_exchanges_pay_a_fee_too():
    # 49 units at 2% was 0.98, rounded down to 0: ten exchanges of 49 paid nothing
    assert exchange_fee(49, RULES) == 1
    assert sum(exchange_fee(49, RULES) for _ in range(10)) >= exchange_fee(490, RULES)


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=30), st.integers(0, 5_000))
def test_no_split_pays_less_fee_than_the_whole(parts, bps):
    rules = ProgramRules(exchange_fee_bps=bps)
    assert sum(exchange_fee(part, rules) for part in parts) >= exchange_fee(sum(parts), rules)


def test_identities_compare_after_normalising_case_space_and_width():
    assert identity_key("Acme  Trading LTD", "lic-001") == identity_key("acme trading ltd", "LIC-001")
    assert identity_key("Ａｃｍｅ", "1") == identity_key("acme", "1")
    assert identity_key("Acme", "1") != identity_key("Acme", "2")


def test_rules_round_trip_through_json():
    assert ProgramRules.from_json(RULES.to_json()) == RULES


@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "c1"]), st.integers(0, 50)), max_size=8))
def test_black_wallets_leave_exactly_one_legal_wallet_per_merchant(wallets):
    nodes = [NodeView("m1", "merchant", "active", 0, "k1"), NodeView("m2", "merchant", "active", 1, "k2"),
             NodeView("c1", "consumer", "active", 2)]
    views = [WalletView(f"w{i}", node, "active", ts) for i, (node, ts) in enumerate(wallets)]
    findings = find_violations(nodes, views, "stamp")
    for node in ("m1", "m2"):
        owned = [w for w in views if w.node_id == node]
        legal = [w for w in owned if w.wallet_id in findings.black_wallets]
        blackened = [b for w in legal for b in findings.black_wallets[w.wallet_id]]
        if len(owned) >= 2:
            oldest = min(owned, key=lambda w: (w.ts, w.wallet_id))
            assert [w.wallet_id for w in legal] == [oldest.wallet_id]
            assert sorted(blackened) == sorted(w.wallet_id for w in owned if w != oldest)
        else:
            assert legal == []
    assert not findings.halts
