"""``covenant order|pay --via-subchain``: the consumer's own sub-chain confirms what the log recorded.

The request is signed here and sent to the log as always. Then the
consumer's sub-chain follows the log until its own verified copy holds the
entry the log named, and checks, from that copy alone:

- the entry's ``auth`` is exactly the request signed here: the same key id,
  signature base, signature and body bytes (so the log recorded this request
  and no other in its place);
- its ``data`` is what the request asked: an order's wallet, seller,
  quantity, prices and description, and ``amount`` = quantity x unit price;
  a payment's order, wallet and amount;
- before a payment, the order as placed (its ``order.placed`` entry, signed by
  this profile's key, for this node and wallet, neither paid nor cancelled in
  the copy), so the amount paid is the amount the buyer agreed to, whatever
  the API's order view says;
- then the sub-chain cosigns the checkpoint of the tree that holds it.

Anything else (the entry missing in time, or different) is exit 3.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import CovenantError
from .base import Api, CliError, Profile, Unconfirmed
from .subchain import ConsumerSubchain, FollowReport, SubchainError, quiet_core

ORDER_FIELDS = {"seller": "seller", "quantity": "quantity", "unit_price": "unit_price",
                "unit_profit": "unit_profit", "description": "description", "buyer_wallet": "wallet"}


def open_subchain(profile: Profile, api: Api) -> ConsumerSubchain:
    try:
        return ConsumerSubchain(profile.folder, api.base, label=profile.name, node_key=profile.key_path)
    except SubchainError as exc:
        raise CliError(str(exc)) from exc


def _member(entry: dict[str, Any], name: str) -> dict[str, Any]:
    value = entry.get(name)
    return value if isinstance(value, dict) else {}


def _as_sent(entry: dict[str, Any], sent: dict[str, str]) -> str | None:
    auth = entry.get("auth")
    if not isinstance(auth, dict):
        return "the entry carries no signed request"
    for member in ("kid", "base", "sig", "body"):
        if auth.get(member) != sent[member]:
            return f"its auth.{member} is not the one this client signed"
    if set(auth) != set(sent):
        return "its auth carries members this client did not sign"
    return None


def _order_problem(entry: dict[str, Any], order: dict[str, Any], node: str | None) -> str | None:
    data = _member(entry, "data")
    if entry.get("type") != "order.placed":
        return f"it is a {entry.get('type')!r} entry, not order.placed"
    for field, asked in ORDER_FIELDS.items():
        if data.get(field) != order.get(asked):
            return f"its data.{field} is {data.get(field)!r}, but the order asked {order.get(asked)!r}"
    quantity, price = data.get("quantity"), data.get("unit_price")
    if type(quantity) is not int or type(price) is not int or data.get("amount") != quantity * price:
        return f"its amount {data.get('amount')!r} is not quantity x unit price"
    if node is not None and (data.get("buyer") != node or entry.get("actor") != node):
        return f"its buyer is {data.get('buyer')!r}, not this profile's node {node}"
    return None


def _confirmation(sub: ConsumerSubchain, found: tuple[int, int, dict[str, Any]], report: FollowReport
                  ) -> dict[str, Any]:
    index, height, entry = found
    memory = sub.store.witnessed()
    return {"subchain": sub.witness.id, "entry": entry["id"], "index": index, "height": height, "verified": True,
            "matches_signed_request": True, "cosigned": memory.origin is not None and memory.size > index,
            "cosigned_size": memory.size, "cosignature_sent": memory.submitted,
            **({"note": report.not_cosigned} if report.not_cosigned else {})}


def order_via_subchain(api: Api, profile: Profile, args: argparse.Namespace, order: dict[str, Any]
                       ) -> tuple[int, dict[str, Any]]:
    try:
        return _order(api, profile, args, order)
    except CovenantError as exc:  # the log unreachable, or the copy's own storage
        raise CliError(str(exc)) from exc


def pay_via_subchain(api: Api, profile: Profile, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    try:
        return _pay(api, profile, args)
    except CovenantError as exc:
        raise CliError(str(exc)) from exc


def _order(api: Api, profile: Profile, args: argparse.Namespace, order: dict[str, Any]
           ) -> tuple[int, dict[str, Any]]:
    with quiet_core():
        sub = open_subchain(profile, api)
        try:
            status, answer, sent = api.post_signed(profile, "/orders", order)
            if status != 201:
                return status, answer
            found, report = sub.wait_for_entry(str(answer.get("entry")), args.wait)
            problem = _as_sent(found[2], sent) or _order_problem(found[2], order, profile.facts().get("node"))
            if problem:
                raise Unconfirmed(f"entry {answer.get('entry')} at height {found[1]} differs from your order: "
                                  f"{problem}")
            return status, {**answer, "via_subchain": _confirmation(sub, found, report)}
        finally:
            sub.close()


def _placed(sub: ConsumerSubchain, order_id: str) -> tuple[int, int, dict[str, Any]] | None:
    placed = sub.store.entries_of_type("order.placed", order=order_id)
    return placed[0] if placed else None


def _placed_problem(sub: ConsumerSubchain, entry: dict[str, Any], order_id: str, profile: Profile,
                    wallet: str) -> str | None:
    import json

    facts = profile.facts()
    data = _member(entry, "data")
    auth = _member(entry, "auth")
    if auth.get("kid") != facts.get("kid"):
        return "it was not signed with this profile's key"
    try:
        asked = json.loads(str(auth.get("body")))
    except ValueError:
        return "its signed body is not JSON"
    problem = _order_problem(entry, asked if isinstance(asked, dict) else {}, facts.get("node"))
    if problem:
        return problem.replace("the order asked", "your signed order asked")
    if data.get("buyer_wallet") != wallet:
        return f"it is paid from {data.get('buyer_wallet')!r}, not this profile's wallet {wallet}"
    for done in ("order.paid", "order.cancelled"):
        if sub.store.entries_of_type(done, order=order_id):
            return f"your copy already holds its {done} entry"
    return None


def _pay(api: Api, profile: Profile, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    order_id, wallet = args.order, profile.wallet()
    with quiet_core():
        sub = open_subchain(profile, api)
        try:
            # Before paying: the order as placed, from the sub-chain's own verified copy
            placed, _ = sub.wait_for(lambda: _placed(sub, order_id), args.wait,
                                     f"the order.placed entry of {order_id}")
            problem = _placed_problem(sub, placed[2], order_id, profile, wallet)
            if problem:
                raise Unconfirmed(f"order {order_id} as placed in your copy (entry {placed[2]['id']}, height "
                                  f"{placed[1]}) is not to be paid: {problem}")
            amount = placed[2]["data"]["amount"]
            status, answer, sent = api.post_signed(profile, f"/orders/{order_id}/payment", {"wallet": wallet})
            if status != 200:
                return status, answer
            found, report = sub.wait_for_entry(str(answer.get("entry")), args.wait)
            data = _member(found[2], "data")
            problem = _as_sent(found[2], sent)
            if problem is None and found[2].get("type") != "order.paid":
                problem = f"it is a {found[2].get('type')!r} entry, not order.paid"
            if problem is None and (data.get("order"), data.get("wallet"), data.get("amount")) != (
                    order_id, wallet, amount):
                problem = (f"it moves {data.get('amount')!r} from {data.get('wallet')!r} for "
                           f"{data.get('order')!r}, not {amount} from {wallet} for {order_id} as placed")
            if problem:
                raise Unconfirmed(f"entry {answer.get('entry')} at height {found[1]} differs from your payment: "
                                  f"{problem}")
            placed_data = placed[2]["data"]
            return status, {**answer, "via_subchain": {
                **_confirmation(sub, found, report),
                "order_as_placed": {"entry": placed[2]["id"], "height": placed[1], "seller": placed_data["seller"],
                                    "quantity": placed_data["quantity"], "unit_price": placed_data["unit_price"],
                                    "amount": amount}}}
        finally:
            sub.close()
