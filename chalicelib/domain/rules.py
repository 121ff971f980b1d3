"""The program's rules and the formulas they drive. Integers of minor units throughout.

Peg: 1 coin = 100 coin units = 1.00 of fiat = 100 fiat minor units, so one
coin unit is worth one fiat minor unit.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

BPS = 10_000  # basis points in a whole


@dataclass(frozen=True)
class Tier:
    """Orders of at least ``min_amount`` need endorsements from ``ratio_bps`` of the replicas."""

    min_amount: int
    ratio_bps: int


@dataclass(frozen=True)
class ProgramRules:
    # Rebate: this share of the declared profit (quantity x unit profit) goes back to the buyer as coins.
    rebate_bps: int = 2_000
    # Exchange of coins back to fiat pays the peg less this fee, which goes to the stamp node.
    exchange_fee_bps: int = 200
    # Share of consumer nodes that must authorise the program before it runs (51%);
    # the same share of the eligible passes a proposal.
    start_quorum_bps: int = 5_100
    # Coins (units) the program mints to a buyer for voting on goods it bought, funded by the goods' seller.
    vote_reward: int = 10
    # Coins (units) a voter earns from an item's stake ("vote to earn"), while the stake lasts.
    stake_reward: int = 10
    tiers: tuple[Tier, ...] = field(default_factory=lambda: (
        Tier(0, 0),                # small orders are final once paid
        Tier(100_000, 5_000),      # from 1,000.00: half of the replicas
        Tier(1_000_000, 10_000),   # from 10,000.00: every replica
    ))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tiers"] = [asdict(t) for t in self.tiers]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgramRules:
        """Rules stored before a rule existed take its default."""
        merged = {**cls().to_json(), **data}
        return cls(rebate_bps=merged["rebate_bps"], exchange_fee_bps=merged["exchange_fee_bps"],
                   start_quorum_bps=merged["start_quorum_bps"], vote_reward=merged["vote_reward"],
                   stake_reward=merged["stake_reward"],
                   tiers=tuple(Tier(**t) for t in merged["tiers"]))


def order_amount(quantity: int, unit_price: int) -> int:
    return quantity * unit_price


def rebate(quantity: int, unit_price: int, unit_profit: int, rules: ProgramRules) -> int:
    """Rebate in fiat minor units (= coin units): ``floor(quantity x unit_profit x rebate_bps / 10,000)``.

    The declared profit may not exceed the price, so the rebate never exceeds the payment.
    """
    profit = quantity * min(unit_profit, unit_price)
    return profit * rules.rebate_bps // BPS


def endorsement_ratio(amount: int, rules: ProgramRules) -> int:
    """The share of replicas (basis points) that must endorse an order of ``amount`` before it is final."""
    ratio = 0
    for tier in sorted(rules.tiers, key=lambda t: t.min_amount):
        if amount >= tier.min_amount:
            ratio = tier.ratio_bps
    return ratio


def endorsements_needed(amount: int, replicas: int, rules: ProgramRules) -> int:
    ratio = endorsement_ratio(amount, rules)
    return -(-replicas * ratio // BPS)  # ceiling


def exchange_fee(coin_units: int, rules: ProgramRules) -> int:
    """The fee on exchanging coins back to fiat, rounded up.

    Rounding up means that no split pays less than the whole (the fees of parts
    sum to at least the fee of their sum), so exchanging in small pieces never
    avoids it: rounding never favours whoever can repeat the operation.
    """
    return -(-coin_units * rules.exchange_fee_bps // BPS)


def quorum_reached(yes: int, eligible: int, quorum_bps: int) -> bool:
    """At least ``quorum_bps`` of the eligible (not of the votes cast): 51% of 100 is 51."""
    return eligible > 0 and yes * BPS >= eligible * quorum_bps


def identity_key(legal_name: str, licence_number: str) -> str:
    """Merchants with the same normalised legal name and licence number are the same identity."""
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    material = json.dumps([norm(legal_name), norm(licence_number)], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
