"""Balances re-derived from ledger entries alone: what a replica or an auditor computes.

Folding every entry in log order must give the program's balances, never a
negative one, and coins outstanding equal to coins minted less coins retired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Replayed:
    balances: dict[str, dict[str, int]] = field(default_factory=dict)
    coins_minted: int = 0
    coins_retired: int = 0
    reserve: int = 0
    staked: int = 0  # coins held in items' stakes, out of every wallet
    negative: list[str] = field(default_factory=list)

    def move(self, wallet: str, asset: str, delta: int, entry_id: str) -> None:
        account = self.balances.setdefault(wallet, {"fiat": 0, "coin": 0})
        account[asset] += delta
        if account[asset] < 0:
            self.negative.append(f"{entry_id}: {wallet} {asset} {account[asset]}")


def replay(entries: Iterable[dict[str, Any]]) -> Replayed:
    state = Replayed()
    orders: dict[str, dict[str, Any]] = {}
    for entry in entries:
        kind, data, entry_id = entry["type"], entry["data"], entry["id"]
        if kind == "wallet.issued" or (kind == "node.registered" and "wallet" in data):
            state.balances.setdefault(data["wallet"], {"fiat": 0, "coin": 0})
        elif kind == "fiat.deposited":
            state.move(data["wallet"], "fiat", data["amount"], entry_id)
        elif kind == "fiat.withdrawn":
            state.move(data["wallet"], "fiat", -data["amount"], entry_id)
        elif kind == "order.placed":
            orders[data["order"]] = data
        elif kind == "order.paid":
            state.move(data["wallet"], "fiat", -data["amount"], entry_id)
        elif kind == "order.cancelled" and data["refunded"]:
            state.move(orders[data["order"]]["buyer_wallet"], "fiat", data["refunded"], entry_id)
        elif kind == "coin.minted":
            if "funded_by" in data:  # a vote reward: fiat from the stamp node's wallet backs it
                state.move(data["funded_by"], "fiat", -data["amount"], entry_id)
            state.move(data["wallet"], "coin", data["amount"], entry_id)
            state.coins_minted += data["amount"]
            state.reserve += data["amount"]
        elif kind == "order.settled":
            state.move(data["seller_wallet"], "fiat", data["proceeds"], entry_id)
        elif kind == "coin.exchanged":
            state.move(data["wallet"], "coin", -data["coins"], entry_id)
            state.move(data["wallet"], "fiat", data["fiat"], entry_id)
            state.move(data["fee_wallet"], "fiat", data["fee"], entry_id)
            state.coins_retired += data["coins"]
            state.reserve -= data["coins"]
        elif kind == "item.published" and data["stake"]:
            state.move(data["wallet"], "coin", -data["stake"], entry_id)
            state.staked += data["stake"]
        elif kind == "item.bought" and data["price"]:
            state.move(data["wallet"], "coin", -data["price"], entry_id)
            state.move(data["publisher_wallet"], "coin", data["price"], entry_id)
        elif kind == "item.voted" and data["paid_from_stake"]:
            state.move(data["wallet"], "coin", data["paid_from_stake"], entry_id)
            state.staked -= data["paid_from_stake"]
        elif kind == "coin.bought":
            state.move(data["wallet"], "fiat", -data["fiat"], entry_id)
            state.move(data["wallet"], "coin", data["coins"], entry_id)
            state.coins_minted += data["coins"]
            state.reserve += data["coins"]
    return state
