"""The RFC 8785 fast path equals the reference on every value it takes; everything else falls back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalisationError,
    canonical,
    ledger_value_problem,
    reference_canonical,
)

safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
any_text = st.text(st.characters(codec="utf-8"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | any_text | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_canonical_equals_the_reference(value):
    assert canonical(value) == reference_canonical(value)


@given(st.dictionaries(st.text(st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), min_size=1,
                               max_size=3) | st.text(max_size=3), safe_ints, min_size=2, max_size=6))
def test_astral_keys_sort_by_utf16_as_rfc8785_says(value):
    assert canonical(value) == reference_canonical(value)


def test_known_astral_ordering():
    # U+1F600 sorts before U+FB01 by UTF-16 code units (0xD83D < 0xFB01), after it by code points.
    assert canonical({"\ufb01": 1, "\U0001f600": 2}) == '{"😀":2,"ﬁ":1}'.encode()


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), float("inf"), {1: "non-string key"}, "\ud800"])
def test_values_outside_json_are_refused(value):
    with pytest.raises(CanonicalisationError):
        canonical(value)


@given(json_values)
def test_ledger_values_refuse_floats_wherever_they_hide(value):
    assert (ledger_value_problem(value) is not None) == _contains_float(value)


def _contains_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_contains_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_float(v) for v in value)
    return False
