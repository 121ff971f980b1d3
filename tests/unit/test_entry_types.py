"""The table of entry types: docs/ENTRIES.md is generated from it, and it refuses entries that do not follow it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.entry_types import BY_NAME, TYPES, entry_problem, markdown, signed_route
from tests.chainmaker import signed_auth

ROOT = Path(__file__).resolve().parents[2]
KEY = Ed25519PrivateKey.generate()


def test_the_docs_are_the_table():
    assert (ROOT / "docs" / "ENTRIES.md").read_text() == markdown(), \
        "regenerate: python -m chalicelib.ledger.entry_types > docs/ENTRIES.md"


def _literal_types() -> set[str]:
    """Every entry type written as a literal where the program makes entries (Draft and Movement calls)."""
    found = set()
    for path in [*(ROOT / "chalicelib" / "services").glob("*.py"), ROOT / "chalicelib" / "domain" / "postings.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Draft", "Movement") \
                    and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
    return found - {"test.note"}


def test_every_type_the_program_writes_is_in_the_table_and_nothing_else():
    literal = _literal_types()
    # proposal kinds make their types through a lookup: wallet.frozen / wallet.unfrozen, proposal and dispute opened
    made_by_lookup = {"wallet.frozen", "wallet.unfrozen", "proposal.opened", "dispute.opened"}
    assert literal | made_by_lookup == set(BY_NAME)
    assert len(TYPES) == len(BY_NAME)


def _signed(entry_type, data, body, path, actor="c-1"):
    return {"v": 1, "id": "e1", "type": entry_type, "ts": 1_700_000_000_000, "actor": actor, "data": data,
            "auth": signed_auth(KEY, body, path)}


def test_a_signed_entry_names_its_route_and_follows_its_body():
    body = {"wallet": "w-1", "amount": 500}
    assert entry_problem(_signed("fiat.deposited", {"wallet": "w-1", "amount": 500}, body, "/deposits")) is None
    moved = entry_problem(_signed("fiat.deposited", {"wallet": "w-1", "amount": 900}, body, "/deposits"))
    assert moved == "data.amount does not follow from the request body"
    elsewhere = entry_problem(_signed("fiat.deposited", {"wallet": "w-1", "amount": 500}, body, "/withdrawals"))
    assert "POST /deposits" in elsewhere


def test_a_signed_request_for_one_act_cannot_be_lent_to_another():
    # an authorisation of the program, presented as the payment of an order
    entry = _signed("order.paid", {"order": "o-1", "wallet": "w-1", "amount": 10}, {}, "/program/authorisations")
    assert "POST /orders/{order_id}/payment" in entry_problem(entry)
    paid = _signed("order.paid", {"order": "o-2", "wallet": "w-1", "amount": 10}, {"wallet": "w-1"},
                   "/orders/o-1/payment")
    assert entry_problem(paid) == "data.order is not the route's order_id"


def test_signed_unknown_types_and_unsigned_signed_types_are_refused():
    assert "no signed route" in entry_problem(_signed("test.note", {}, {}, "/orders"))
    unsigned = {"v": 1, "id": "e", "type": "order.paid", "ts": 1, "actor": "c-1", "data": {}, "auth": None}
    assert "made only by a signed request" in entry_problem(unsigned)
    system_made = {"v": 1, "id": "e", "type": "coin.minted", "ts": 1, "actor": "c-1", "data": {}, "auth": None}
    assert "actor is system" in entry_problem(system_made)
    later_version = {"v": 1, "id": "e", "type": "future.thing", "ts": 1, "actor": "system", "data": {}, "auth": None}
    assert entry_problem(later_version) is None


def test_a_proposal_deadline_follows_from_its_entry_time():
    ts = 1_700_000_000_000
    data = {"kind": "halt", "subject": None, "params": {}, "minutes": 60, "opened_at": ts, "deadline": ts + 3_600_000,
            "proposal": "p-1", "rule": "majority_of_eligible", "eligible": 3, "eligible_digest": "ab" * 32,
            "needs_approval": False}
    entry = _signed("proposal.opened", data, {"kind": "halt", "deadline_minutes": 60}, "/proposals")
    assert entry_problem(entry) is None
    assert "deadline" in entry_problem({**entry, "data": {**data, "deadline": ts + 7_200_000}})


@pytest.mark.parametrize("base,route", [
    ('"@method": POST\n"@target-uri": https://x.example/orders/o-1/payment?\n"@signature-params": ()',
     ("POST", "/orders/o-1/payment")),
    ('"@method": POST\n"@authority": x.example\n"@path": /deposits\n"@query": ?\n"@signature-params": ()',
     ("POST", "/deposits")),
    ('"@path": /deposits\n"@signature-params": ()', None),
])
def test_the_signed_route_is_read_from_the_signature_base(base, route):
    assert signed_route(base) == route


# what the program adds to an item.published entry (its schema requires them)
ITEM_FINDINGS = {"item": "i-1", "commercial": False, "reason": "free", "originator": True, "copy_of": None,
                 "near_copy_of": None, "similarity_permille": None, "rule": "label"}


def test_an_item_entry_commits_to_the_text_the_request_sent():
    body = {"wallet": "w-1", "title": "T", "text": "hello", "price": 0}
    import hashlib

    data = {"wallet": "w-1", "title": "T", "price": 0, "stake": 0, "publisher": "c-1",
            "sha256": hashlib.sha256(b"hello").hexdigest(), "size": 5, "content": "text", **ITEM_FINDINGS}
    assert entry_problem(_signed("item.published", data, body, "/items")) is None
    assert "sha256" in entry_problem(_signed("item.published", {**data, "size": 6}, body, "/items"))
    assert "content" in entry_problem(_signed("item.published", {**data, "content": "binary"}, body, "/items"))
    assert json.loads(_signed("item.published", data, body, "/items")["auth"]["body"]) == body


def test_an_uploaded_item_entry_commits_to_the_upload_the_request_named():
    sha = "ab" * 32
    body = {"wallet": "w-1", "title": "T", "sha256": sha, "size": 70_000, "price": 0}
    data = {"wallet": "w-1", "title": "T", "price": 0, "stake": 0, "publisher": "c-1", "sha256": sha,
            "size": 70_000, "content": "binary", **ITEM_FINDINGS}
    assert entry_problem(_signed("item.published", data, body, "/items")) is None
    assert entry_problem(_signed("item.published", {**data, "content": "text"}, body, "/items")) is None
    assert "upload" in entry_problem(_signed("item.published", {**data, "size": 69_999}, body, "/items"))
    assert "upload" in entry_problem(_signed("item.published", {**data, "sha256": "cd" * 32}, body, "/items"))
    assert "content" in entry_problem(_signed("item.published", {**data, "content": "other"}, body, "/items"))
    both = {**body, "text": "hello"}
    assert "both" in entry_problem(_signed("item.published", data, both, "/items"))
    neither = {k: v for k, v in body.items() if k not in ("sha256", "size")}
    assert "neither" in entry_problem(_signed("item.published", data, neither, "/items"))
