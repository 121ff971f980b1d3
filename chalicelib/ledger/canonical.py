"""RFC 8785 (JSON Canonicalization Scheme) serialisation.

The pure-Python ``rfc8785`` package is the reference. For objects without
floats and without keys outside the Basic Multilingual Plane, ``json.dumps``
with sorted keys produces the same bytes about four times faster (key order
differs from RFC 8785 only for astral-plane keys, which sort by UTF-16 code
units there and by code points in Python). A property test holds the fast path
equal to the reference; anything else falls back to the reference.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalisationError(ValueError):
    """The value cannot be represented in canonical JSON (LEDGER.md: Encoding)."""


def _fast_path_ok(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str or (key and max(key) > "\uffff"):
                    return False
                stack.append(child)
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False
    return True


def ledger_value_problem(value: Any) -> str | None:
    """Why ``value`` may not appear in a hashed ledger object: floats and unsafe integers are refused."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            return "floats are not allowed in ledger objects; use integer minor units"
        if kind is int and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            return "integers must stay within the safe range of plus or minus 2^53 - 1"
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif not (kind is str or kind is int or kind is bool or item is None):
            return f"a value of type {kind.__name__} is not JSON"
    return None


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    if _fast_path_ok(value):
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation reject it
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalisationError(str(exc)) from exc


def reference_canonical(value: Any) -> bytes:
    """The reference implementation alone, for tests and benchmarks."""
    return rfc8785.dumps(value)
