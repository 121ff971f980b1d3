"""What a sub-chain keeps of a block it refused (pure): heights as LEDGER.md allows them, and every field cut to fit.

A quarantined block may be anything a hostile sender made: what is kept of it
is bounded, so that quarantining itself never fails on the block's sizes
(DynamoDB's 2 KB partition key and 400 KB item, or a SQLite row).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .canonical import MAX_SAFE_INTEGER
from .format import is_hash

MAX_REASON_CHARS = 1_000
MAX_HEADER_CHARS = 100_000
MAX_SHOWN_HASH_CHARS = 200


def is_height(value: Any) -> bool:
    """A height LEDGER.md allows: a non-negative integer within the safe range."""
    return type(value) is int and 0 <= value <= MAX_SAFE_INTEGER


def bounded_json(value: Any, limit: int) -> str:
    """ASCII JSON of ``value``, at most ``limit`` characters, whatever ``value`` is."""
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):
        text = '"(not serialisable)"'
    return text if len(text) <= limit else text[:limit]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def quarantine_key(height: Any, claimed_hash: Any) -> str:
    """``q#<height>#<hash>``, with a SHA-256 standing for a claimed hash that is not one."""
    where = f"{height:012d}" if is_height(height) else "unknown"
    name = claimed_hash if is_hash(claimed_hash) else (
        "sha256-" + hashlib.sha256(bounded_json(claimed_hash, 1_000_000).encode("ascii")).hexdigest())
    return f"q#{where}#{name}"
