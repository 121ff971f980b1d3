"""Each entry type's ``data`` schema (pure): its members, their JSON types, which are required.

One line per type, in the table's own words: ``name:kind``, where kind is
``id`` (a string id), ``str``, ``int`` (an integer 0 to 2^53 - 1: amounts, counts,
times), ``sint`` (a signed integer), ``bool``, ``obj``, ``list`` or ``a|b|c`` (one of
these strings); a trailing ``?`` makes the member optional, a trailing ``~`` lets it
be null. Members a type does not name are allowed (a later version may add some);
the named ones must be as written. docs/ENTRIES.md renders these schemas, and
``json_schema`` gives each as JSON Schema 2020-12.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

MAX_SAFE = 2**53 - 1
_PROPOSAL = ("proposal:id kind:str subject:id~ params:obj opened_at:int minutes:int deadline:int rule:str "
             "eligible:int eligible_digest:str needs_approval:bool")

SPECS: dict[str, str] = {
    "node.registered": "node:id role:consumer|merchant|stamp jwk:obj identity:obj? wallet:id?",
    "wallet.issued": "wallet:id node:id kid:str",
    "merchant.approved": "node:id",
    "program.authorised": "node:id",
    "program.started": "rule:str inputs:obj",
    "fiat.deposited": "wallet:id amount:int",
    "fiat.withdrawn": "wallet:id amount:int",
    "order.placed": "order:id buyer:id buyer_wallet:id seller:id seller_wallet:id quantity:int unit_price:int "
                    "unit_profit:int amount:int description:str endorsements_needed:int product:str",
    "order.paid": "order:id wallet:id amount:int",
    "order.shipped": "order:id",
    "coin.minted": "wallet:id amount:int rule:str inputs:obj? order:id? funded_by:id? formula:str? proposal:id?",
    "order.settled": "order:id seller_wallet:id proceeds:int reserve:int",
    "order.received": "order:id",
    "order.cancelled": "order:id refunded:int wallet:id rule:str?",
    "coin.exchanged": "wallet:id coins:int fee:int fiat:int fee_wallet:id rule:str inputs:obj",
    "coin.bought": "wallet:id fiat:int coins:int rule:str",
    "system.halted": "rule:str inputs:obj",
    "node.revoked": "node:id wallets:list revoke_kid:str~ rule:str inputs:obj?",
    "wallets.revoked": "node:id wallets:list rule:str",
    "system.restored": "rule:str status:str genuine_stamp:str~",
    "wallet.blackened": "wallet:id node:id legal_wallet:id rule:str",
    "subchain.registered": "cosigner:obj node:id",
    "subchain.retired": "id:id node:id",
    "legality.swept": "actions:list status:str",
    "proposal.opened": _PROPOSAL,
    "dispute.opened": _PROPOSAL,
    "proposal.voted": "proposal:id choice:yes|no",
    "proposal.approved": "proposal:id",
    "proposal.closed": "proposal:id result:passed|rejected yes:int no:int eligible:int quorum_bps:int rule:str "
                       "deadline:int outcome:obj",
    "program.halted": "proposal:id rule:str",
    "program.restarted": "proposal:id rule:str",
    "wallet.frozen": "proposal:id rule:str wallet:id",
    "wallet.unfrozen": "proposal:id rule:str wallet:id",
    "report.filed": "proposal:id rule:str report_hash:str evidence:list",
    "subchain.upgraded": "proposal:id rule:str version:str digest:str~",
    "rules.changed": "proposal:id rule:str before:obj after:obj",
    "dispute.upheld": "proposal:id order:id rule:str remedy:str",
    "dispute.dismissed": "proposal:id order:id rule:str",
    "tally.requested": "closed:list",
    "goods.voted": "order:id product:str rating:up|down",
    "item.published": "item:id publisher:id wallet:id title:str sha256:str size:int content:text|binary price:int "
                      "stake:int commercial:bool reason:str originator:bool copy_of:id~ near_copy_of:id~ "
                      "similarity_permille:int~ rule:str",
    "item.bought": "item:id wallet:id price:int publisher_wallet:id",
    "item.voted": "item:id rating:up|down wallet:id paid_from_stake:int rule:str",
}

_JSON_KINDS: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "minLength": 1, "maxLength": 256}, "str": {"type": "string"},
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE},
    "sint": {"type": "integer", "minimum": -MAX_SAFE, "maximum": MAX_SAFE},
    "bool": {"type": "boolean"}, "obj": {"type": "object"}, "list": {"type": "array"}}
_WORDS = {"id": "an id (string)", "str": "a string", "int": "an integer ≥ 0", "sint": "an integer",
          "bool": "true or false", "obj": "an object", "list": "a list"}


@dataclass(frozen=True)
class Member:
    name: str
    kind: str
    required: bool
    nullable: bool

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.kind.split("|")) if "|" in self.kind else ()

    def words(self) -> str:
        kind = " or ".join(f"`{c}`" for c in self.choices) if self.choices else _WORDS[self.kind]
        return kind + (", or null" if self.nullable else "") + ("" if self.required else " (optional)")

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else f"data.{self.name} may not be null"
        if self.choices:
            ok = isinstance(value, str) and value in self.choices
        elif self.kind in ("id", "str"):
            ok = isinstance(value, str) and (self.kind == "str" or 0 < len(value) <= 256)
        elif self.kind == "int":
            ok = type(value) is int and 0 <= value <= MAX_SAFE
        elif self.kind == "sint":
            ok = type(value) is int and -MAX_SAFE <= value <= MAX_SAFE
        elif self.kind == "bool":
            ok = isinstance(value, bool)
        elif self.kind == "obj":
            ok = isinstance(value, dict)
        else:
            ok = isinstance(value, list)
        return None if ok else f"data.{self.name} must be {self.words().replace(' (optional)', '')}"


@cache
def members(entry_type: str) -> tuple[Member, ...]:
    """The declared members of a type's data (empty for a type the table does not know)."""
    found = []
    for part in SPECS.get(entry_type, "").split():
        name, _, kind = part.partition(":")
        optional, nullable = kind.endswith("?"), kind.rstrip("?").endswith("~")
        kind = kind.rstrip("?").rstrip("~")
        if kind not in _WORDS and "|" not in kind:
            raise ValueError(f"{entry_type}: {name} has an unknown kind {kind}")
        found.append(Member(name, kind, not optional, nullable))
    return tuple(found)


def data_problem(entry_type: str, data: Mapping[str, Any]) -> str | None:
    """What in an entry's data breaks its type's schema, or None (also for types the table does not know)."""
    for member in members(entry_type):
        if member.name not in data:
            if member.required:
                return f"data.{member.name} is missing"
            continue
        problem = member.problem(data[member.name])
        if problem:
            return problem
    return None


def json_schema(entry_type: str) -> dict[str, Any]:
    """The type's data schema as JSON Schema 2020-12."""
    properties: dict[str, Any] = {}
    for member in members(entry_type):
        if member.choices:
            schema: dict[str, Any] = {"enum": list(member.choices)}
        else:
            schema = dict(_JSON_KINDS[member.kind])
        properties[member.name] = {"anyOf": [schema, {"type": "null"}]} if member.nullable else schema
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": entry_type, "type": "object",
            "properties": properties, "required": [m.name for m in members(entry_type) if m.required],
            "additionalProperties": True}
