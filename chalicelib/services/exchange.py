"""Exchange between coins and fiat at the peg (1 coin unit = 1 fiat minor unit).

Coins to fiat: the coins are retired, the reserve pays their value less the
platform fee (rounded up), which goes to the stamp node's wallet. Fiat to
coins: the fiat goes into the reserve and the same value is minted. Either way
the reserve keeps covering every outstanding coin at the peg.
"""

from __future__ import annotations

from typing import Any

from ..domain import postings as p
from ..errors import Conflict
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import merged, refused_debit, value_changes
from .program import allowed, rules
from .sealing import STAMP_WALLET
from .signed import SignedRequest
from .trading import own_wallet, trader


def exchange(signed: SignedRequest, wallet_id: str, direction: str, amount: int) -> tuple[int, dict[str, Any]]:
    running, guard = allowed("exchange")
    trader(signed)
    own_wallet(signed, wallet_id)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    if direction == "coin_to_fiat":
        movement = p.coins_to_fiat(wallet_id, amount, STAMP_WALLET, rules(running))
        answer = {"wallet": wallet_id, "direction": direction, "coins": amount, "fee": movement.data["fee"],
                  "fiat": movement.data["fiat"], "entry": entry_id}
        spent = "coin"
    else:
        movement = p.fiat_to_coins(wallet_id, amount)
        answer = {"wallet": wallet_id, "direction": direction, "fiat": amount, "coins": amount, "entry": entry_id}
        spent = "fiat"
    try:
        commit([Draft(movement.type, signed.node_id, movement.data, signed.auth, id=entry_id)],
               merged([guard, *value_changes([(entry_id, movement)], ts), signed.remember(201, answer)]))
    except Conflict as exc:
        raise refused_debit(exc, wallet_id, spent, amount) from exc
    return 201, answer
