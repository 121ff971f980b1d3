"""Every entry type, in one table (pure): who makes it, which signed route, its data, how the data follows.

LEDGER.md leaves each type's ``data`` to the project's documentation, which
must say which signed route makes a type and how its data follows from the
request body; the project's verifier checks both. This table is that
documentation: ``docs/ENTRIES.md`` is generated from it (a test keeps them
equal), and ``entry_problem`` is the check the verifier and the replicas run
on every entry.

A signed entry (non-null ``auth``) must be of a type a signed route makes,
its ``auth.base`` must name that route (method and path), and its data must
follow from ``auth.body``. An entry with a null ``auth`` must be of a type the
program makes itself, with actor ``system``. Types this table does not know
(a later version's) are left alone when unsigned and refused when signed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .verify import KeyBook

Check = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, str], Mapping[str, Any]], str | None]
"""``(data, body, path parameters, entry) -> why the data does not follow, or None``."""


@dataclass(frozen=True)
class EntryType:
    name: str
    section: str
    actor: str
    data: str
    route: str | None = None  # "POST /orders/{order_id}/payment": the signed route that makes it
    system: bool = False  # the program also (or only) makes it itself, unsigned, with actor "system"
    follows: Check | None = None
    notes: str = ""
    fields: tuple[str, ...] = field(default_factory=tuple)


def _same(*names: str, defaults: Mapping[str, Any] | None = None) -> Check:
    """Each named data member equals the body member of the same name (or its default)."""
    def check(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
        for name in names:
            expected = body.get(name, (defaults or {}).get(name))
            if data.get(name) != expected:
                return f"data.{name} does not follow from the request body"
        return None

    return check


def _path(data_member: str, param: str) -> Check:
    def check(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
        return None if data.get(data_member) == params.get(param) else f"data.{data_member} is not the route's {param}"

    return check


def _all(*checks: Check) -> Check:
    def check(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
        for part in checks:
            problem = part(data, body, params, entry)
            if problem:
                return problem
        return None

    return check


def _actor_is(member: str) -> Check:
    def check(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
        return None if data.get(member) == entry.get("actor") else f"data.{member} is not the entry's actor"

    return check


def _registered(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
                entry: Mapping[str, Any]) -> str | None:
    if data.get("role") != body.get("role") or data.get("jwk") != body.get("jwk"):
        return "data.role and data.jwk do not follow from the request body"
    if data.get("identity") != body.get("identity"):
        return "data.identity does not follow from the request body"
    jwk = _obj(body.get("jwk"))
    if data.get("node") != f"{str(body.get('role'))[:1]}-{str(jwk.get('kid'))[:16]}":
        return "data.node is not the node id of the registered key"
    return _actor_is("node")(data, body, params, entry)


def _order_placed(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
                  entry: Mapping[str, Any]) -> str | None:
    problem = _same("seller", "quantity", "unit_price", "unit_profit", defaults={})(data, body, params, entry)
    if problem:
        return problem
    if data.get("buyer_wallet") != body.get("wallet") or data.get("description") != body.get("description", ""):
        return "data.buyer_wallet or data.description does not follow from the request body"
    if data.get("product") != (body.get("product") or f"{body.get('seller')}:goods"):
        return "data.product does not follow from the request body"
    if data.get("amount") != _product(body.get("quantity"), body.get("unit_price")):
        return "data.amount is not quantity x unit_price"
    return _actor_is("buyer")(data, body, params, entry)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _product(first: Any, second: Any) -> Any:
    return first * second if type(first) is int and type(second) is int else None


def _exchanged(direction: str, amount_member: str) -> Check:
    def check(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
        if body.get("direction") != direction:
            return f"the request asked for {body.get('direction')!r}, not {direction}"
        if data.get("wallet") != body.get("wallet") or data.get(amount_member) != body.get("amount"):
            return f"data.wallet or data.{amount_member} does not follow from the request body"
        return None

    return check


def _proposal(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
              entry: Mapping[str, Any]) -> str | None:
    if data.get("kind") != body.get("kind") or data.get("subject") != body.get("subject"):
        return "data.kind or data.subject does not follow from the request body"
    given = body.get("params") or {}
    kept = _obj(data.get("params"))
    if not isinstance(given, dict) or any(kept.get(name) != value for name, value in given.items()):
        return "data.params does not follow from the request body"
    if data.get("minutes") != body.get("deadline_minutes", 24 * 60):
        return "data.minutes does not follow from the request body"
    return _deadline(data, entry)


def _dispute(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
             entry: Mapping[str, Any]) -> str | None:
    kept = _obj(data.get("params"))
    if data.get("kind") != "dispute" or data.get("subject") != params.get("order_id"):
        return "data.subject is not the route's order_id"
    if any(kept.get(name) != body.get(name) for name in ("ground", "remedy", "statement")):
        return "data.params does not follow from the request body"
    if data.get("minutes") != body.get("deadline_minutes", 24 * 60):
        return "data.minutes does not follow from the request body"
    return _deadline(data, entry)


def _deadline(data: Mapping[str, Any], entry: Mapping[str, Any]) -> str | None:
    minutes = data.get("minutes")
    if data.get("opened_at") != entry.get("ts") or type(minutes) is not int or \
            data.get("deadline") != entry.get("ts", 0) + minutes * 60_000:
        return "data.deadline is not the entry's time plus data.minutes"
    return None


def _published(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
               entry: Mapping[str, Any]) -> str | None:
    problem = _same("title", "wallet", "price", "stake", defaults={"stake": 0})(data, body, params, entry)
    if problem:
        return problem
    text, upload = body.get("text"), (body.get("sha256") is not None, body.get("size") is not None)
    if text is not None and not any(upload):
        if not isinstance(text, str):
            return "the request body's text is not a string"
        content = text.encode("utf-8")
        if data.get("sha256") != hashlib.sha256(content).hexdigest() or data.get("size") != len(content):
            return "data.sha256 or data.size is not the request's text"
        if data.get("content") != "text":
            return "data.content is not text, for text sent in the request"
    elif text is None and all(upload):
        # uploaded content: the program verified the bytes before committing; the entry commits to what was named
        if data.get("sha256") != body.get("sha256") or data.get("size") != body.get("size"):
            return "data.sha256 or data.size is not the upload the request named"
        if data.get("content") not in ("text", "binary"):
            return "data.content is neither text nor binary"
    else:
        return "the request body names neither text nor an upload (sha256 and size), or both"
    return _actor_is("publisher")(data, body, params, entry)


def _rating(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
            entry: Mapping[str, Any]) -> str | None:
    return None if data.get("rating") == body.get("rating") else "data.rating does not follow from the request body"


def _subchain_registered(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
                         entry: Mapping[str, Any]) -> str | None:
    from .cosigners import registration_problem

    return registration_problem(data, body) or _actor_is("node")(data, body, params, entry)


def _owner_or_stamp(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
                    entry: Mapping[str, Any]) -> str | None:
    if entry.get("actor") in (data.get("node"), "stamp"):
        return None
    return "data.node is neither the entry's actor nor retired by the stamp node"


def _nothing(data: Mapping[str, Any], body: Mapping[str, Any], params: Mapping[str, str],
             entry: Mapping[str, Any]) -> str | None:
    return None  # the body is empty; the data is what the program found


PROGRAM, COVENANT = "The management program", "The ultimate covenant"
RULE = "`rule` names the rule, `inputs` what it read"

TYPES: tuple[EntryType, ...] = (
    EntryType("node.registered", PROGRAM, "the node", "`node`, `role` (`consumer` or `merchant`), `jwk`; merchants "
              "add `identity` {`legal_name`, `licence_number`, `registered_ip`, `contact`}; genesis adds `wallet` "
              "and role `stamp`", "POST /nodes", system=True, follows=_registered,
              notes="The genesis entry (id `genesis-stamp-node`, actor `system`) registers the stamp node and its "
                    "sealer key; every other registration is the node's own signed request, for its own key."),
    EntryType("wallet.issued", PROGRAM, "system", "`wallet`, `node`, `kid`: a consumer's at registration, a "
              "merchant's at approval", system=True),
    EntryType("merchant.approved", PROGRAM, "stamp", "`node`", "POST /nodes/{node_id}/approval",
              follows=_path("node", "node_id")),
    EntryType("program.authorised", PROGRAM, "a consumer", "`node` (entry id `authz-<node>`: once per node)",
              "POST /program/authorisations", follows=_actor_is("node")),
    EntryType("program.started", PROGRAM, "system", "`rule` `start_quorum`, `inputs` {`authorisations`, "
              "`consumers`, `quorum_bps`}", system=True),
    EntryType("fiat.deposited", PROGRAM, "stamp", "`wallet`, `amount`", "POST /deposits",
              follows=_same("wallet", "amount")),
    EntryType("fiat.withdrawn", PROGRAM, "stamp", "`wallet`, `amount`", "POST /withdrawals",
              follows=_same("wallet", "amount")),
    EntryType("order.placed", PROGRAM, "buyer", "`order`, `buyer`, `buyer_wallet`, `seller`, `seller_wallet`, "
              "`quantity`, `unit_price`, `unit_profit`, `amount`, `description`, `endorsements_needed` (the cosigning "
              "sub-chains the tier asked for at placement; finality counts the active ones when the seller ships), "
              "`product`",
              "POST /orders", follows=_order_placed),
    EntryType("order.paid", PROGRAM, "buyer", "`order`, `wallet`, `amount` (into escrow)",
              "POST /orders/{order_id}/payment", follows=_all(_path("order", "order_id"), _same("wallet"))),
    EntryType("order.shipped", PROGRAM, "seller", "`order`", "POST /orders/{order_id}/shipment",
              follows=_path("order", "order_id")),
    EntryType("coin.minted", PROGRAM, "system", "`wallet`, `amount`, `rule`, `inputs`; `order`; `funded_by` names "
              "the wallet whose fiat backs it in the reserve, when the order's own escrow does not: the rebate "
              "(`rule` `rebate`, with `formula`), a vote on goods (`rule` `vote_reward`, funded by the seller), an "
              "upheld dispute (`rule` `dispute_majority_of_eligible`, funded by the seller, with `proposal`)",
              system=True),
    EntryType("order.settled", PROGRAM, "system", "`order`, `seller_wallet`, `proceeds` (payment less rebate), "
              "`reserve` (the rebate, into the reserve)", system=True),
    EntryType("order.received", PROGRAM, "buyer", "`order`", "POST /orders/{order_id}/receipt",
              follows=_path("order", "order_id")),
    EntryType("order.cancelled", PROGRAM, "buyer or seller; system", "`order`, `refunded` (the escrow, back to the "
              "buyer), `wallet` (the buyer's); `rule` `seller_revoked` when the program refunds a revoked seller's "
              "open order", "POST /orders/{order_id}/cancellation", system=True, follows=_path("order", "order_id")),
    EntryType("coin.exchanged", PROGRAM, "the node", "`wallet`, `coins`, `fee` (rounded up), `fiat`, `fee_wallet`, "
              "`rule` `exchange_fee`, `inputs` {`exchange_fee_bps`}", "POST /exchanges",
              follows=_exchanged("coin_to_fiat", "coins")),
    EntryType("coin.bought", PROGRAM, "the node", "`wallet`, `fiat`, `coins`, `rule` `peg`", "POST /exchanges",
              follows=_exchanged("fiat_to_coin", "fiat")),
    EntryType("system.halted", PROGRAM, "system", "`rule` `constitution`, `inputs` {`impostor_stamps`, "
              "`duplicate_merchants`, `genuine_stamp`}", system=True),
    EntryType("node.revoked", PROGRAM, "system", f"`node`, `wallets`, `revoke_kid`; {RULE}", system=True),
    EntryType("wallets.revoked", PROGRAM, "system", "`node`, `wallets`, `rule`: more wallets of a revoked node, "
              "90 to an entry, before its `node.revoked`", system=True),
    EntryType("system.restored", PROGRAM, "system", "`rule`, `status` (what the program was before the halt), "
              "`genuine_stamp`", system=True),
    EntryType("wallet.blackened", PROGRAM, "system", "`wallet`, `node`, `legal_wallet`, `rule` "
              "`constitution.one_legal_wallet`", system=True),
    EntryType("subchain.registered", PROGRAM, "the node that runs it", "`cosigner` {`id` (`sc-` and the first 16 "
              "hex of SHA-256 of the public key), `name` (`<origin>/subchain/<id>`), `vkey` (cosignature/v1, type "
              "0x04)}, `node` (the owner, the actor)", "POST /subchains", follows=_subchain_registered,
              notes="The request body is `{\"public_key\": <the sub-chain's raw Ed25519 public key, base64>}`; the "
                    "key is used for nothing else, so a node's own key is refused, and a key is registered once. "
                    "The stamp node registers the operator's sub-chains; any other node runs at most one."),
    EntryType("subchain.retired", PROGRAM, "the owner, or the stamp node", "`id` (the sub-chain), `node` (its "
              "owner)", "POST /subchains/{subchain_id}/retirement",
              follows=_all(_path("id", "subchain_id"), _owner_or_stamp)),
    EntryType("legality.swept", PROGRAM, "stamp", "`actions`, `status`: what a requested sweep did",
              "POST /sweeps", follows=_nothing),
    EntryType("proposal.opened", COVENANT, "the proposer", "`proposal`, `kind` (`halt`, `restart`, `freeze`, "
              "`unfreeze`, `report`, `upgrade`, `rules`), `subject`, `params`, `opened_at` (the entry's time), "
              "`minutes`, `deadline` (`opened_at` + `minutes` x 60,000 ms), `rule`, `eligible` (count), "
              "`eligible_digest` (SHA-256 of the sorted eligible node ids, one per line), `needs_approval`",
              "POST /proposals", follows=_proposal),
    EntryType("dispute.opened", COVENANT, "the buyer", "as `proposal.opened`, `kind` `dispute`, `subject` the order, "
              "`params` {`ground`, `remedy`, `statement`, `buyer`, `seller`}", "POST /orders/{order_id}/disputes",
              follows=_dispute),
    EntryType("proposal.voted", COVENANT, "the voter", "`proposal`, `choice` (`yes` or `no`); timestamped at or "
              "before the deadline", "POST /proposals/{proposal_id}/votes",
              follows=_all(_path("proposal", "proposal_id"), _same("choice"))),
    EntryType("proposal.approved", COVENANT, "stamp", "`proposal`", "POST /proposals/{proposal_id}/approval",
              follows=_path("proposal", "proposal_id")),
    EntryType("proposal.closed", COVENANT, "system", "`proposal`, `result` (`passed`, or `rejected`: only "
              "timestamped after the deadline), `yes`, `no`, `eligible`, `quorum_bps`, `rule` `majority_of_eligible`, "
              "`deadline`, `outcome`", system=True),
    EntryType("program.halted", COVENANT, "system", "`proposal`, `rule`", system=True),
    EntryType("program.restarted", COVENANT, "system", "`proposal`, `rule`", system=True),
    EntryType("wallet.frozen", COVENANT, "system", "`proposal`, `rule`, `wallet`", system=True),
    EntryType("wallet.unfrozen", COVENANT, "system", "`proposal`, `rule`, `wallet`", system=True),
    EntryType("report.filed", COVENANT, "system", "`proposal`, `rule`, `report_hash` (SHA-256 of the signed "
              "report's JCS), `evidence`", system=True),
    EntryType("subchain.upgraded", COVENANT, "system", "`proposal`, `rule`, `version`, `digest`", system=True),
    EntryType("rules.changed", COVENANT, "system", "`proposal`, `rule`, `before`, `after`", system=True),
    EntryType("dispute.upheld", COVENANT, "system", "`proposal`, `order`, `rule`, `remedy`", system=True),
    EntryType("dispute.dismissed", COVENANT, "system", "`proposal`, `order`, `rule`", system=True),
    EntryType("tally.requested", COVENANT, "stamp", "`closed`: the proposals a requested tally closed",
              "POST /tallies", follows=_nothing),
    EntryType("goods.voted", COVENANT, "the buyer", "`order`, `product`, `rating` (`up` or `down`)",
              "POST /orders/{order_id}/vote", follows=_all(_path("order", "order_id"), _rating)),
    EntryType("item.published", COVENANT, "the publisher", "`item`, `publisher`, `wallet`, `title`, `sha256` and "
              "`size` (of the request's `text`, or the upload its `sha256` and `size` name), `content` (`text`, or "
              "`binary`: an upload that is not UTF-8, not compared for near copies), `price`, `stake`, `commercial`, "
              "`reason`, `originator`, `copy_of`, `near_copy_of`, `similarity_permille`, `rule`", "POST /items",
              follows=_published,
              notes="An uploaded item's bytes are not in the ledger: the program read the upload and checked its "
                    "SHA-256 and size before committing the entry, and serves buyers those very bytes, at "
                    "`items/<sha256>` in the items bucket. Anyone who holds them checks them against `sha256`."),
    EntryType("item.bought", COVENANT, "the buyer", "`item`, `wallet`, `price`, `publisher_wallet`",
              "POST /items/{item_id}/purchase", follows=_all(_path("item", "item_id"), _same("wallet"))),
    EntryType("item.voted", COVENANT, "the voter", "`item`, `rating`, `wallet`, `paid_from_stake`, `rule` "
              "`stake_reward`", "POST /items/{item_id}/vote", follows=_all(_path("item", "item_id"), _rating)),
)
BY_NAME = {t.name: t for t in TYPES}


def _route_pattern(route: str) -> tuple[str, re.Pattern[str]]:
    method, path = route.split(" ", 1)
    return method, re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[A-Za-z0-9._:-]{1,128})", re.escape(path))
                              + "$")


_ROUTES = {t.name: _route_pattern(t.route) for t in TYPES if t.route}


def _base_lines(base: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in base.split("\n"):
        match = re.match(r'^"([^"]+)": (.*)$', line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def signed_route(base: str) -> tuple[str, str] | None:
    """The method and path an ``auth.base`` signed: from ``@method`` and ``@target-uri`` (or ``@path``)."""
    lines = _base_lines(base)
    method = lines.get("@method")
    path = lines.get("@path")
    if path is None and "@target-uri" in lines:
        path = urlsplit(lines["@target-uri"]).path
    return (method, path) if method and path else None


def entry_problem(entry: Mapping[str, Any]) -> str | None:
    """Why an entry's type, route or data is not as this table documents, or None."""
    kind = BY_NAME.get(str(entry.get("type")))
    auth = entry.get("auth")
    data = _obj(entry.get("data"))
    problem = _route_problem(kind, entry, auth, data)
    if problem is None and kind is not None:
        from .entry_schemas import data_problem

        problem = data_problem(kind.name, data)
    return problem


def _route_problem(kind: EntryType | None, entry: Mapping[str, Any], auth: Any,
                   data: Mapping[str, Any]) -> str | None:
    if auth is None:
        if kind is not None and not kind.system:
            return f"a {kind.name} entry is made only by a signed request ({kind.route})"
        if kind is not None and entry.get("actor") != "system":
            return f"an unsigned {kind.name} entry is the program's own: its actor is system"
        return None
    if kind is None or kind.route is None:
        return f"no signed route makes {entry.get('type')!r} entries"
    route = signed_route(str(auth.get("base", "")))
    method, pattern = _ROUTES[kind.name]
    match = pattern.match(route[1]) if route is not None and route[0] == method else None
    if match is None:
        return f"the signed request was not {kind.route}, the route that makes {kind.name} entries"
    try:
        body = json.loads(auth.get("body", ""))
    except (ValueError, RecursionError):
        return "auth.body is not JSON"
    if not isinstance(body, dict):
        return "auth.body is not a JSON object"
    assert kind.follows is not None
    return kind.follows(data, body, match.groupdict(), entry)


class EntryTypeCheck(Protocol):
    def __call__(self, entry: dict[str, Any], index: int, keys: KeyBook) -> str | None: ...


def entry_type_problem(entry: dict[str, Any], index: int, keys: KeyBook) -> str | None:
    """The check ``verify_block`` runs on every entry, after its shape, size, keys and ``auth``."""
    if entry.get("type") == "node.registered" and entry.get("auth") is None and index != 0:
        # the program registers a node itself only at genesis: any other key comes by its own signed request
        return "only the genesis entry registers a node without its signed request"
    return entry_problem(entry)


def markdown() -> str:
    """docs/ENTRIES.md, generated from this table and each type's data schema (``entry_schemas``)."""
    return _table_markdown().rstrip("\n") + "\n" + _schemas_markdown()


def _schemas_markdown() -> str:
    from .entry_schemas import members

    lines = ["", "## Data schemas", "",
             "Each type's `data`, member by member (`chalicelib/ledger/entry_schemas.py`). `covenant-verify`",
             "and every sub-chain refuse an entry of a type below whose data breaks its schema (a member",
             "missing, or of another type), and leave alone members a type does not name, which a later",
             "version may add. Integers are 0 to 2^53 - 1 unless said otherwise.", ""]
    for kind in TYPES:
        parts = [f"`{m.name}` {m.words()}" for m in members(kind.name)]
        lines.append(f"- `{kind.name}`: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def _table_markdown() -> str:
    lines = [
        "# Entry types",
        "",
        "<!-- Generated from chalicelib/ledger/entry_types.py by `python -m chalicelib.ledger.entry_types`;",
        "     a test fails when this file and the table disagree. -->",
        "",
        "LEDGER.md fixes the shape of every entry; this page documents each `type` and",
        "its `data`, as LEDGER.md asks: which signed route makes it and how its data",
        "follows from the request body. Amounts are integers of minor units; times",
        "are milliseconds since the epoch; no floats anywhere.",
        "",
        "A signed entry (non-null `auth`) is made only by the route named here: its",
        "`auth.base` signs that method and path, and its `data` follows from",
        "`auth.body` (the members named alike are equal, path parameters name the",
        "`order`, `proposal` or `item`, the rest the program adds). An entry with a",
        "null `auth` is the program's own (actor `system`) and names the `rule` and",
        "`inputs` that made it. `covenant-verify` and the replicas check all of this.",
        "",
        "## Keys",
        "",
        "A key enters with the entry that registers it (`data.jwk`), once; a signed",
        "entry registers only its own actor's key. The stamp node is the owner of the",
        "key that seals block 0; its keys registered by `system` entries are the",
        "sealer keys (`GET /keys`). Any entry whose `data.revoke_kid` names a key",
        "revokes it for every later entry; a revoked sealer key stays listed and may",
        "not seal later blocks.",
    ]
    for section in (PROGRAM, COVENANT):
        lines += ["", f"## {section}", "", "| type | actor | signed route | `data` |", "| --- | --- | --- | --- |"]
        for kind in TYPES:
            if kind.section == section:
                route = f"`{kind.route}`" if kind.route else "none: the program's own"
                if kind.route and kind.system:
                    route += "; also the program's own"
                lines.append(f"| `{kind.name}` | {kind.actor} | {route} | {kind.data} |")
        notes = [f"`{kind.name}`: {kind.notes}" for kind in TYPES if kind.section == section and kind.notes]
        if notes:
            lines += ["", *notes]
    lines += ["", "`domain/governance.py` recomputes every tally from these entries;",
              "`domain/replay.py` folds their postings (`domain/postings.py`) into balances;",
              "the tests hold both equal to the program's state.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
