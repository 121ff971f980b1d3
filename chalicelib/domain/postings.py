"""Every movement of value, written once (pure): the entry it makes and the postings it states.

A movement is a ledger entry (type and data) whose data says everything the
movement does; ``postings(type, data)`` reads the balance changes back out of
the data. The services commit those postings (``services.money``) and a
replica or an auditor folds the same postings over the ledger
(``domain.replay``), so the two cannot drift.

Accounts, each holding one asset:

- ``wallet:<id>``: a wallet's fiat or coins;
- ``escrow:<order>``: fiat an order's buyer paid, until shipment or refund;
- ``stake:<item>``: coins a publisher staked on an item;
- ``reserve``: fiat backing every coin in circulation, at the peg;
- ``issuance``: coins: minting draws from it, retiring returns to it, so its
  balance is minus the coins in circulation;
- ``outside``: fiat beyond the stamp node's bridge (deposits come from it,
  withdrawals go to it).

Every movement balances per asset: its postings sum to zero for fiat and for
coins. So value is never created or lost, only moved; and coins appear only by
an ``issuance`` posting, which the rebate, reward and exchange rules pair with
fiat into the reserve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .rules import ProgramRules, exchange_fee, rebate

FIAT, COIN = "fiat", "coin"
ASSETS = (FIAT, COIN)
RESERVE, ISSUANCE, OUTSIDE = "reserve", "issuance", "outside"


def wallet(wallet_id: str) -> str:
    return f"wallet:{wallet_id}"


def escrow(order_id: str) -> str:
    return f"escrow:{order_id}"


def stake(item_id: str) -> str:
    return f"stake:{item_id}"


@dataclass(frozen=True)
class Posting:
    account: str
    asset: str
    delta: int
    label: str | None = None  # the history row's type, when not the entry's


@dataclass(frozen=True)
class Movement:
    """An entry that moves value: its type and data. ``postings`` are derived from them."""

    type: str
    data: dict[str, Any]

    @property
    def postings(self) -> tuple[Posting, ...]:
        return postings(self.type, self.data)


def _p(account: str, asset: str, delta: int, label: str | None = None) -> list[Posting]:
    return [Posting(account, asset, delta, label)] if delta else []


def postings(entry_type: str, data: Mapping[str, Any]) -> tuple[Posting, ...]:
    """The balance changes an entry states; empty for entries that move no value."""
    found: list[Posting] = []
    if entry_type == "fiat.deposited":
        found = _p(OUTSIDE, FIAT, -data["amount"]) + _p(wallet(data["wallet"]), FIAT, data["amount"])
    elif entry_type == "fiat.withdrawn":
        found = _p(wallet(data["wallet"]), FIAT, -data["amount"]) + _p(OUTSIDE, FIAT, data["amount"])
    elif entry_type == "order.paid":
        found = _p(wallet(data["wallet"]), FIAT, -data["amount"]) + _p(escrow(data["order"]), FIAT, data["amount"])
    elif entry_type == "order.cancelled":
        found = _p(escrow(data["order"]), FIAT, -data["refunded"]) + _p(wallet(data["wallet"]), FIAT, data["refunded"])
    elif entry_type == "order.settled":
        found = (_p(escrow(data["order"]), FIAT, -(data["proceeds"] + data["reserve"]))
                 + _p(wallet(data["seller_wallet"]), FIAT, data["proceeds"]) + _p(RESERVE, FIAT, data["reserve"]))
    elif entry_type == "coin.minted":
        found = _p(ISSUANCE, COIN, -data["amount"]) + _p(wallet(data["wallet"]), COIN, data["amount"])
        if data.get("funded_by"):  # a reward or a re-issued rebate: fiat from that wallet backs it
            found += _p(wallet(data["funded_by"]), FIAT, -data["amount"]) + _p(RESERVE, FIAT, data["amount"])
    elif entry_type == "coin.exchanged":
        found = (_p(wallet(data["wallet"]), COIN, -data["coins"]) + _p(ISSUANCE, COIN, data["coins"])
                 + _p(RESERVE, FIAT, -data["coins"]) + _p(wallet(data["wallet"]), FIAT, data["fiat"])
                 + _p(wallet(data["fee_wallet"]), FIAT, data["fee"], "exchange.fee"))
    elif entry_type == "coin.bought":
        found = (_p(wallet(data["wallet"]), FIAT, -data["fiat"]) + _p(RESERVE, FIAT, data["fiat"])
                 + _p(ISSUANCE, COIN, -data["coins"]) + _p(wallet(data["wallet"]), COIN, data["coins"]))
    elif entry_type == "item.published":
        found = _p(wallet(data["wallet"]), COIN, -data["stake"]) + _p(stake(data["item"]), COIN, data["stake"])
    elif entry_type == "item.bought":
        found = (_p(wallet(data["wallet"]), COIN, -data["price"])
                 + _p(wallet(data["publisher_wallet"]), COIN, data["price"], "item.sold"))
    elif entry_type == "item.voted" and data.get("wallet"):
        found = (_p(stake(data["item"]), COIN, -data["paid_from_stake"])
                 + _p(wallet(data["wallet"]), COIN, data["paid_from_stake"]))
    return tuple(found)


def balanced(found: Iterable[Posting]) -> bool:
    """Whether postings sum to zero for every asset."""
    totals = dict.fromkeys(ASSETS, 0)
    for posting in found:
        totals[posting.asset] += posting.delta
    return all(value == 0 for value in totals.values())


# --- the movements the program makes, each from the rule that decides it


def deposit(wallet_id: str, amount: int) -> Movement:
    return Movement("fiat.deposited", {"wallet": wallet_id, "amount": amount})


def withdrawal(wallet_id: str, amount: int) -> Movement:
    return Movement("fiat.withdrawn", {"wallet": wallet_id, "amount": amount})


def payment(order_id: str, wallet_id: str, amount: int) -> Movement:
    return Movement("order.paid", {"order": order_id, "wallet": wallet_id, "amount": amount})


def refund(order_id: str, wallet_id: str, amount: int, rule: str | None = None) -> Movement:
    """A cancelled order's escrow goes back to the buyer's wallet."""
    data: dict[str, Any] = {"order": order_id, "refunded": amount, "wallet": wallet_id}
    if rule:
        data["rule"] = rule
    return Movement("order.cancelled", data)


REBATE_FORMULA = "quantity * min(unit_profit, unit_price) * rebate_bps / 10000"


def shipment(order_id: str, buyer_wallet: str, seller_wallet: str, quantity: int, unit_price: int,
             unit_profit: int, rules: ProgramRules) -> tuple[Movement, Movement]:
    """Settlement of a shipped order: the rebate goes from the escrow to the reserve and is minted to the buyer.

    The seller receives the rest. The rebate is rounded down, never in favour of whoever can place orders.
    """
    amount = quantity * unit_price
    minted = rebate(quantity, unit_price, unit_profit, rules)
    settled = Movement("order.settled", {"order": order_id, "seller_wallet": seller_wallet,
                                         "proceeds": amount - minted, "reserve": minted})
    inputs = {"quantity": quantity, "unit_price": unit_price, "unit_profit": unit_profit,
              "rebate_bps": rules.rebate_bps}
    mint = Movement("coin.minted", {"order": order_id, "wallet": buyer_wallet, "amount": minted, "rule": "rebate",
                                    "formula": REBATE_FORMULA, "inputs": inputs})
    return settled, mint


def vote_reward(order_id: str, buyer_wallet: str, seller_wallet: str, amount: int) -> Movement:
    """The reward for a vote on goods, minted to the buyer, backed by fiat from the seller's wallet.

    The seller of the goods funds it, so two nodes that trade with each other
    and vote only move their own money between themselves: nothing is farmed.
    """
    return Movement("coin.minted", {"order": order_id, "wallet": buyer_wallet, "amount": amount,
                                    "rule": "vote_reward", "inputs": {"vote_reward": amount},
                                    "funded_by": seller_wallet})


def reissued_rebate(proposal_id: str, order_id: str, buyer_wallet: str, seller_wallet: str, quantity: int,
                    unit_price: int, unit_profit: int, rules: ProgramRules) -> Movement:
    """An upheld rebate dispute: the rebate is minted again, funded by the seller's wallet."""
    amount = rebate(quantity, unit_price, unit_profit, rules)
    return Movement("coin.minted", {"proposal": proposal_id, "order": order_id, "rule": "dispute_majority_of_eligible",
                                    "wallet": buyer_wallet, "amount": amount, "funded_by": seller_wallet,
                                    "inputs": {"quantity": quantity, "unit_price": unit_price,
                                               "unit_profit": unit_profit}})


def coins_to_fiat(wallet_id: str, coins: int, fee_wallet: str, rules: ProgramRules) -> Movement:
    """Coins are retired; the reserve pays their value less the fee, rounded up, to the wallet."""
    fee = exchange_fee(coins, rules)
    return Movement("coin.exchanged", {"wallet": wallet_id, "coins": coins, "fee": fee, "fiat": coins - fee,
                                       "fee_wallet": fee_wallet, "rule": "exchange_fee",
                                       "inputs": {"exchange_fee_bps": rules.exchange_fee_bps}})


def fiat_to_coins(wallet_id: str, amount: int) -> Movement:
    return Movement("coin.bought", {"wallet": wallet_id, "fiat": amount, "coins": amount, "rule": "peg"})


def item_sale(item_id: str, wallet_id: str, price: int, publisher_wallet: str) -> Movement:
    return Movement("item.bought", {"item": item_id, "wallet": wallet_id, "price": price,
                                    "publisher_wallet": publisher_wallet})
