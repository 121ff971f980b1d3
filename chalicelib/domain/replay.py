"""Balances re-derived from ledger entries alone: what a replica or an auditor computes.

It folds the same postings the program committed (``domain.postings``) over
every entry in log order: the result must equal the program's balances, no
account that holds value may go negative, and every movement must balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .postings import ASSETS, ISSUANCE, OUTSIDE, RESERVE, balanced, postings


@dataclass
class Replayed:
    balances: dict[str, dict[str, int]] = field(default_factory=dict)  # wallet -> asset -> units
    accounts: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, asset) -> units
    coins_minted: int = 0
    coins_retired: int = 0
    fiat_in: int = 0
    fiat_out: int = 0
    negative: list[str] = field(default_factory=list)
    unbalanced: list[str] = field(default_factory=list)

    @property
    def reserve(self) -> int:
        return self.accounts.get((RESERVE, "fiat"), 0)

    @property
    def staked(self) -> int:
        """Coins held in items' stakes, out of every wallet."""
        return sum(units for (account, _), units in self.accounts.items() if account.startswith("stake:"))

    @property
    def escrow(self) -> int:
        return sum(units for (account, _), units in self.accounts.items() if account.startswith("escrow:"))

    def total(self, asset: str) -> int:
        """The sum over every account: zero, always, since every movement balances."""
        return sum(units for (_, kind), units in self.accounts.items() if kind == asset)


# Accounts that are allowed below zero: they stand for the world outside and for coins in circulation.
_SOURCES = (ISSUANCE, OUTSIDE)


def replay(entries: Iterable[dict[str, Any]]) -> Replayed:
    state = Replayed()
    for entry in entries:
        kind, data, entry_id = entry["type"], entry["data"], entry["id"]
        if kind == "wallet.issued" or (kind == "node.registered" and "wallet" in data):
            state.balances.setdefault(data["wallet"], dict.fromkeys(ASSETS, 0))
        found = postings(kind, data)
        if not balanced(found):
            state.unbalanced.append(entry_id)
        for posting in found:
            key = (posting.account, posting.asset)
            state.accounts[key] = state.accounts.get(key, 0) + posting.delta
            if posting.account.startswith("wallet:"):
                account = state.balances.setdefault(posting.account[len("wallet:"):], dict.fromkeys(ASSETS, 0))
                account[posting.asset] += posting.delta
            if posting.account == ISSUANCE:
                if posting.delta < 0:
                    state.coins_minted -= posting.delta
                else:
                    state.coins_retired += posting.delta
            if posting.account == OUTSIDE:
                if posting.delta < 0:
                    state.fiat_in -= posting.delta
                else:
                    state.fiat_out += posting.delta
            if posting.account not in _SOURCES and state.accounts[key] < 0:
                state.negative.append(f"{entry_id}: {posting.account} {posting.asset} {state.accounts[key]}")
    return state
