"""Exchange between coins and fiat at the peg (1 coin unit = 1 fiat minor unit).

Coins to fiat: the coins are retired, the reserve pays their value less the
platform fee, which goes to the stamp node's wallet. Fiat to coins: the fiat
goes into the reserve and the same value is minted. Either way the reserve
keeps covering every outstanding coin at the peg.
"""

from __future__ import annotations

from typing import Any

from ..domain.rules import exchange_fee
from ..errors import Conflict
from ..store.state_models import ITEM, TotalsRecord
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import credit, exchange_assets, history, refused_debit
from .program import require_running, rules, update
from .sealing import STAMP_WALLET
from .signed import SignedRequest
from .trading import _own_wallet, _trader


def exchange(signed: SignedRequest, wallet_id: str, direction: str, amount: int) -> tuple[int, dict[str, Any]]:
    running = require_running()
    _trader(signed)
    _own_wallet(signed, wallet_id)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    totals = TotalsRecord(pk="totals", sk=ITEM)
    if direction == "coin_to_fiat":
        program_rules = rules(running)
        fee = exchange_fee(amount, program_rules)
        paid = amount - fee
        answer = {"wallet": wallet_id, "direction": direction, "coins": amount, "fee": fee, "fiat": paid,
                  "entry": entry_id}
        data = {"wallet": wallet_id, "coins": amount, "fee": fee, "fiat": paid, "fee_wallet": STAMP_WALLET,
                "rule": "exchange_fee",
                "inputs": {"exchange_fee_bps": program_rules.exchange_fee_bps}}
        spent, writes = "coin", [
            exchange_assets(wallet_id, "coin", amount, "fiat", paid),
            credit(STAMP_WALLET, "fiat", fee, require_active=False),
            update(totals, [TotalsRecord.coins_retired.add(amount), TotalsRecord.reserve.add(-amount),
                            TotalsRecord.fees.add(fee)], TotalsRecord.reserve >= amount, ordered=False),
            history(wallet_id, entry_id, "coin.exchanged", "coin", -amount, ts),
            history(wallet_id, entry_id + ".fiat", "coin.exchanged", "fiat", paid, ts),
        ]
        entry_type = "coin.exchanged"
    else:
        answer = {"wallet": wallet_id, "direction": direction, "fiat": amount, "coins": amount, "entry": entry_id}
        data = {"wallet": wallet_id, "fiat": amount, "coins": amount, "rule": "peg"}
        spent, writes = "fiat", [
            exchange_assets(wallet_id, "fiat", amount, "coin", amount),
            update(totals, [TotalsRecord.coins_minted.add(amount), TotalsRecord.reserve.add(amount)], ordered=False),
            history(wallet_id, entry_id, "coin.bought", "fiat", -amount, ts),
            history(wallet_id, entry_id + ".coin", "coin.bought", "coin", amount, ts),
        ]
        entry_type = "coin.bought"
    try:
        commit([Draft(entry_type, signed.node_id, data, signed.auth, id=entry_id)],
               [*writes, signed.remember(201, answer)])
    except Conflict as exc:
        raise refused_debit(exc, wallet_id, spent, amount) from exc
    return 201, answer
