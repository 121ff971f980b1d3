"""Balances per asset, the stamp node's fiat bridge, and each wallet's history.

Every movement of value is a ``domain.postings.Movement``; ``value_changes``
turns its postings into the state changes that commit with its entry: one
conditional update per account touched, so that a debit requires the balance
to cover it and the wallet to be active, and no balance can go negative,
whatever runs concurrently; plus one history row per wallet and asset.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from ..domain import postings as p
from ..domain.postings import Movement
from ..domain.records import History, Item, Order, Record, Totals, Wallet
from ..errors import Conflict, InvalidParameter
from ..store import backend
from ..store.port import Change, Check, Condition, Eq, Exists, Ge, Put, Update, key_of_change
from .ledger import Draft, commit, new_entry_id, now_ms
from .nodes import get_wallet
from .program import allowed, require_stamp
from .signed import SignedRequest

ASSETS = p.ASSETS
_CURSOR = re.compile(r"^[0-9]{13}#[A-Za-z0-9._:-]{1,128}#(fiat|coin)?$")
HISTORY_PAGE = 100
_TOTALS = {p.RESERVE: "reserve"}


def value_changes(movements: Sequence[tuple[str, Movement]], ts: int,
                  active_credits: Collection[str] = ()) -> list[Change]:
    """The state changes that carry out the postings of ``movements`` (entry id, movement), merged per item.

    A debit needs the balance and an active wallet; a credit needs the wallet
    to exist, and to be active too for the wallets in ``active_credits``.
    """
    net: dict[tuple[str, str], int] = {}
    changes: list[Change] = []
    for entry_id, movement in movements:
        per_entry: dict[tuple[str, str], tuple[int, str]] = {}
        for posting in movement.postings:
            key = (posting.account, posting.asset)
            delta, label = per_entry.get(key, (0, posting.label or movement.type))
            per_entry[key] = (delta + posting.delta, label)
        for (account, asset), (delta, label) in per_entry.items():
            net[(account, asset)] = net.get((account, asset), 0) + delta
            if account.startswith("wallet:") and delta:
                changes.append(Put(History(wallet_id=account[7:], ts=ts, entry_id=entry_id, type=label, asset=asset,
                                           delta=delta), if_absent=False))
    totals: dict[str, int] = {}
    totals_when: list[Condition] = []
    for (account, asset), delta in net.items():
        kind, _, name = account.partition(":")
        if account == p.ISSUANCE:
            field = "coins_minted" if delta < 0 else "coins_retired"
            totals[field] = totals.get(field, 0) + abs(delta)
        elif account == p.OUTSIDE:
            field = "fiat_in" if delta < 0 else "fiat_out"
            totals[field] = totals.get(field, 0) + abs(delta)
        elif account == p.RESERVE:
            totals["reserve"] = totals.get("reserve", 0) + delta
            if delta < 0:
                totals_when.append(Ge("reserve", -delta))
        elif kind == "wallet":
            when: list[Condition] = [Exists()]
            if delta < 0:
                when += [Ge(asset, -delta), Eq("status", "active")]
            elif name in active_credits:
                when.append(Eq("status", "active"))
            changes.append(Update(Wallet, Wallet.key_of(name), add={asset: delta}, when=tuple(when)))
        elif kind == "escrow":
            changes.append(Update(Order, Order.key_of(name), add={"escrow": delta},
                                  when=(Ge("escrow", -delta),) if delta < 0 else (Exists(),)))
        elif kind == "stake":
            changes.append(Update(Item, Item.key_of(name), add={"stake": delta},
                                  when=(Ge("stake", -delta),) if delta < 0 else (Exists(),)))
        else:  # pragma: no cover - postings name no other account
            raise ValueError(f"no state holds account {account}")
    fees = sum(x.delta for _, m in movements for x in m.postings if x.label == "exchange.fee")
    if fees:
        totals["fees"] = fees
    totals = {name: value for name, value in totals.items() if value}
    if totals:
        changes.append(Update(Totals, Totals.key_of(), add=totals, when=tuple(totals_when), ordered=False))
    return changes


def merged(changes: Sequence[Change]) -> list[Change]:
    """One change per item, as DynamoDB requires: updates of one item are joined (sets, adds, conditions)."""
    joined: dict[Any, Change] = {}
    order: list[Any] = []
    for change in changes:
        key = key_of_change(change)
        if key not in joined:
            joined[key] = change
            order.append(key)
            continue
        first = joined[key]
        if isinstance(first, Put) and isinstance(change, Update):
            joined[key] = Put(_updated_record(first.record, change), first.if_absent, first.when)
            continue
        if isinstance(first, Check) and isinstance(change, Update):
            first, change = change, first
        if not isinstance(first, Update) or not isinstance(change, Update | Check):
            raise ValueError(f"two changes of {key} that cannot be joined")
        if isinstance(change, Check):
            joined[key] = replace(first, when=(*first.when, *change.when))
            continue
        if set(first.set) & set(change.set):
            raise ValueError(f"two updates set the same field of {key}")
        adds = dict(first.add)
        for name, value in change.add.items():
            adds[name] = adds.get(name, 0) + value
        joined[key] = replace(first, set={**first.set, **change.set}, add=adds,
                              set_default={**first.set_default, **change.set_default},
                              remove=(*first.remove, *change.remove), when=(*first.when, *change.when),
                              ordered=first.ordered or change.ordered)
    return [joined[key] for key in order]


def _updated_record(record: Record, change: Update) -> Record:
    """A record being created, with an update of the same commit applied to it (a stake credited, say)."""
    values = record.fields()
    values.update(change.set)
    for name, value in change.add.items():
        values[name] = (values.get(name) or 0) + value
    after = type(record)(**{k: v for k, v in values.items() if k in record.fields()})
    # the update's conditions speak of the item before it: the record the put creates
    unmet = [c for c in change.when if not isinstance(c, Exists)
             and not (isinstance(c, Ge) and (getattr(record, c.field) or 0) >= c.value)]
    if unmet or change.remove or change.set_default:
        raise ValueError(f"an update of {record.key} cannot join the put that creates it")
    return after


def refused_debit(exc: Conflict, wallet_id: str, asset: str, amount: int) -> Conflict:
    """Name the reason a debit failed: the wallet's status or its balance."""
    wallet = get_wallet(wallet_id)
    if wallet.status != "active":
        return Conflict(f"wallet {wallet_id} is {wallet.status}", field="wallet", code="wallet_not_active")
    held = getattr(wallet, asset)
    if held < amount:
        return Conflict(f"wallet {wallet_id} holds {held} {asset}, not {amount}", field="amount",
                        code="insufficient_funds")
    return exc


def _bridge(signed: SignedRequest, action: str, movement: Movement, wallet_id: str,
            amount: int) -> tuple[int, dict[str, Any]]:
    require_stamp(signed)
    _, guard = allowed(action)
    get_wallet(wallet_id)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"wallet": wallet_id, "asset": "fiat", "amount": amount, "entry": entry_id}
    try:
        commit([Draft(movement.type, signed.node_id, movement.data, signed.auth, id=entry_id)],
               [guard, *value_changes([(entry_id, movement)], ts), signed.remember(201, answer)])
    except Conflict as exc:
        raise refused_debit(exc, wallet_id, "fiat", amount) from exc
    return 201, answer


def deposit(signed: SignedRequest, wallet_id: str, amount: int) -> tuple[int, dict[str, Any]]:
    """The stamp node records fiat that arrived from outside for a wallet (frozen ones included)."""
    return _bridge(signed, "deposit", p.deposit(wallet_id, amount), wallet_id, amount)


def withdraw(signed: SignedRequest, wallet_id: str, amount: int) -> tuple[int, dict[str, Any]]:
    """The stamp node pays fiat out of a wallet to the outside world."""
    return _bridge(signed, "withdraw", p.withdrawal(wallet_id, amount), wallet_id, amount)


def balance(wallet_id: str) -> dict[str, Any]:
    wallet = get_wallet(wallet_id)
    return {"wallet": wallet_id, "node": wallet.node_id, "status": wallet.status,
            "balances": {"fiat": wallet.fiat, "coin": wallet.coin}}


def wallet_history(wallet_id: str, cursor: str | None = None, limit: int = HISTORY_PAGE) -> dict[str, Any]:
    after = _decode_cursor(cursor) if cursor is not None else None
    get_wallet(wallet_id)
    page = backend.state().query(History, f"history#{wallet_id}", after=after, limit=limit + 1)
    items = [{"entry": r.entry_id, "type": r.type, "asset": r.asset, "delta": r.delta, "ts": r.ts}
             for r in page[:limit]]
    following = _encode_cursor(page[limit - 1].key.sk) if len(page) > limit else None
    return {"wallet": wallet_id, "history": items, "next": following}


def _encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter("cursor is malformed", field="cursor") from exc
    if not _CURSOR.match(sk):
        raise InvalidParameter("cursor is malformed", field="cursor")
    return sk
