"""Balances per asset, the stamp node's fiat bridge, and each wallet's history.

Every balance change is a conditional update in the transaction that writes
its entry: a debit requires the balance to cover it and the wallet to be
active, so no balance can go negative, whatever runs concurrently.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from ..errors import Conflict, InvalidParameter, StorageError
from ..store.ledger_store import StateWrite
from ..store.state_models import HistoryRecord, WalletRecord
from .ledger import Draft, commit, new_entry_id, now_ms
from .nodes import get_wallet
from .program import in_log_order, require_stamp, save
from .signed import SignedRequest

ASSETS = ("fiat", "coin")
_CURSOR = re.compile(r"^[0-9]{13}#[A-Za-z0-9._:-]{1,128}$")
HISTORY_PAGE = 100


def credit(wallet_id: str, asset: str, amount: int, require_active: bool = True) -> StateWrite:
    attribute = getattr(WalletRecord, asset)
    condition = WalletRecord.pk.exists()
    if require_active:
        condition &= WalletRecord.status == "active"

    def write(tx: TransactWrite) -> None:
        actions, ordered = in_log_order(WalletRecord, [attribute.add(amount)], condition)
        tx.update(WalletRecord(pk=f"wallet#{wallet_id}", sk="item"), actions=actions, condition=ordered)

    return write


def exchange_assets(wallet_id: str, spend: str, amount: int, receive: str, received: int) -> StateWrite:
    """Spend one asset and receive the other in one update (DynamoDB allows one write per item per transaction)."""
    spent, got = getattr(WalletRecord, spend), getattr(WalletRecord, receive)

    def write(tx: TransactWrite) -> None:
        actions, ordered = in_log_order(WalletRecord, [spent.add(-amount), got.add(received)],
                                        (spent >= amount) & (WalletRecord.status == "active"))
        tx.update(WalletRecord(pk=f"wallet#{wallet_id}", sk="item"), actions=actions, condition=ordered)

    return write


def debit(wallet_id: str, asset: str, amount: int) -> StateWrite:
    attribute = getattr(WalletRecord, asset)

    def write(tx: TransactWrite) -> None:
        actions, ordered = in_log_order(WalletRecord, [attribute.add(-amount)],
                                        (attribute >= amount) & (WalletRecord.status == "active"))
        tx.update(WalletRecord(pk=f"wallet#{wallet_id}", sk="item"), actions=actions, condition=ordered)

    return write


def history(wallet_id: str, entry_id: str, entry_type: str, asset: str | None, delta: int, ts: int) -> StateWrite:
    return save(HistoryRecord(pk=f"history#{wallet_id}", sk=f"{ts:013d}#{entry_id}", entry_id=entry_id,
                              type=entry_type, asset=asset, delta=delta))


def refused_debit(exc: Conflict, wallet_id: str, asset: str, amount: int) -> Conflict:
    """Name the reason a debit failed: the wallet's status or its balance."""
    wallet = get_wallet(wallet_id)
    if wallet.status != "active":
        return Conflict(f"wallet {wallet_id} is {wallet.status}", field="wallet", code="wallet_not_active")
    if int(getattr(wallet, asset)) < amount:
        return Conflict(f"wallet {wallet_id} holds {int(getattr(wallet, asset))} {asset}, not {amount}",
                        field="amount", code="insufficient_funds")
    return exc


def deposit(signed: SignedRequest, wallet_id: str, amount: int) -> tuple[int, dict[str, Any]]:
    """The stamp node records fiat that arrived from outside for a wallet."""
    require_stamp(signed)
    get_wallet(wallet_id)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"wallet": wallet_id, "asset": "fiat", "amount": amount, "entry": entry_id}
    commit([Draft("fiat.deposited", signed.node_id, {"wallet": wallet_id, "amount": amount}, signed.auth,
                  id=entry_id)],
           [credit(wallet_id, "fiat", amount, require_active=False),
            history(wallet_id, entry_id, "fiat.deposited", "fiat", amount, ts), signed.remember(201, answer)])
    return 201, answer


def withdraw(signed: SignedRequest, wallet_id: str, amount: int) -> tuple[int, dict[str, Any]]:
    """The stamp node pays fiat out of a wallet to the outside world."""
    require_stamp(signed)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"wallet": wallet_id, "asset": "fiat", "amount": amount, "entry": entry_id}
    try:
        commit([Draft("fiat.withdrawn", signed.node_id, {"wallet": wallet_id, "amount": amount}, signed.auth,
                      id=entry_id)],
               [debit(wallet_id, "fiat", amount), history(wallet_id, entry_id, "fiat.withdrawn", "fiat", -amount, ts),
                signed.remember(201, answer)])
    except Conflict as exc:
        raise refused_debit(exc, wallet_id, "fiat", amount) from exc
    return 201, answer


def balance(wallet_id: str) -> dict[str, Any]:
    wallet = get_wallet(wallet_id)
    return {"wallet": wallet_id, "node": wallet.node_id, "status": wallet.status,
            "balances": {"fiat": int(wallet.fiat), "coin": int(wallet.coin)}}


def wallet_history(wallet_id: str, cursor: str | None = None, limit: int = HISTORY_PAGE) -> dict[str, Any]:
    after = _decode_cursor(cursor) if cursor is not None else None
    get_wallet(wallet_id)
    condition = HistoryRecord.sk > after if after else None
    try:
        page = list(HistoryRecord.query(f"history#{wallet_id}", range_key_condition=condition, limit=limit + 1,
                                        consistent_read=True))
    except PynamoDBException as exc:
        raise StorageError("could not read the history") from exc
    items = [{"entry": r.entry_id, "type": r.type, "asset": r.asset, "delta": int(r.delta),
              "ts": int(r.sk.split("#", 1)[0])} for r in page[:limit]]
    following = _encode_cursor(page[limit - 1].sk) if len(page) > limit else None
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
