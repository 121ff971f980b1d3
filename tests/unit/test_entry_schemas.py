"""Each entry type's data schema: declared for every type, checked as declared, rendered in docs/ENTRIES.md.

Every chain the integration tests build is also held to these schemas, entry by
entry (tests/integration/chain_checks.py).
"""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from chalicelib.ledger.entry_schemas import SPECS, data_problem, json_schema, members
from chalicelib.ledger.entry_types import TYPES, markdown

PAID = {"order": "o-1", "wallet": "w-1", "amount": 2500}


def test_every_type_of_the_table_has_a_schema_and_no_schema_lacks_a_type():
    assert {t.name for t in TYPES} == set(SPECS)
    assert all(members(t.name) for t in TYPES)


def test_valid_data_passes_and_extra_members_are_allowed():
    assert data_problem("order.paid", PAID) is None
    assert data_problem("order.paid", {**PAID, "later": "a member a later version adds"}) is None
    assert data_problem("subchain.upgraded", {"proposal": "p-1", "rule": "r", "version": "2", "digest": None}) is None
    assert data_problem("some.future_type", {"anything": 1}) is None  # a type the table does not know


@pytest.mark.parametrize(("data", "problem"), [
    ({"order": "o-1", "wallet": "w-1"}, "data.amount is missing"),
    ({**PAID, "amount": -1}, "data.amount must be an integer ≥ 0"),
    ({**PAID, "amount": 2.5}, "data.amount must be an integer ≥ 0"),
    ({**PAID, "amount": True}, "data.amount must be an integer ≥ 0"),
    ({**PAID, "amount": 2**53}, "data.amount must be an integer ≥ 0"),
    ({**PAID, "order": 7}, "data.order must be an id (string)"),
    ({**PAID, "order": ""}, "data.order must be an id (string)"),
    ({**PAID, "wallet": None}, "data.wallet may not be null"),
])
def test_data_that_breaks_the_schema_is_named(data, problem):
    assert data_problem("order.paid", data) == problem


def test_choices_and_optional_members():
    assert data_problem("goods.voted", {"order": "o-1", "product": "m-1:goods", "rating": "sideways"}) == \
        "data.rating must be `up` or `down`"
    minted = {"wallet": "w-1", "amount": 5, "rule": "rebate"}
    assert data_problem("coin.minted", minted) is None
    assert data_problem("coin.minted", {**minted, "funded_by": 3}) == "data.funded_by must be an id (string)"


def test_each_json_schema_is_valid_and_agrees_with_data_problem():
    for kind in TYPES:
        schema = json_schema(kind.name)
        Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(json_schema("order.paid"))
    assert validator.is_valid(PAID)
    assert not validator.is_valid({**PAID, "amount": -1}) and not validator.is_valid({"order": "o-1"})


def test_docs_render_every_schema():
    text = markdown()
    assert "## Data schemas" in text
    for kind in TYPES:
        assert f"- `{kind.name}`: " in text
    assert "`amount` an integer ≥ 0" in text


def test_the_verifiers_entry_check_refuses_data_that_breaks_its_schema():
    from chalicelib.ledger.entry_types import entry_problem

    entry = {"v": 1, "id": "e-1", "type": "order.settled", "ts": 1, "actor": "system", "auth": None,
             "data": {"order": "o-1", "seller_wallet": "w-1", "proceeds": 100, "reserve": 20}}
    assert entry_problem(entry) is None
    assert entry_problem({**entry, "data": {**entry["data"], "reserve": "20"}}) == \
        "data.reserve must be an integer ≥ 0"
