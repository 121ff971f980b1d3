"""Entries and block headers, version 1 of LEDGER.md."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .canonical import MAX_SAFE_INTEGER, canonical, ledger_value_problem
from .merkle import leaf_hash

VERSION = 1
ZERO_HASH = "0" * 64
ENTRY_MEMBERS = frozenset({"v", "id", "type", "ts", "actor", "data", "auth"})
HEADER_MEMBERS = frozenset({"v", "height", "prev", "log_size", "log_root", "count", "ts", "sealer"})
MAX_ID_LENGTH = 128
# LEDGER.md: an entry's JCS is at most 65,535 bytes (it must fit a tlog-tiles
# entry bundle, whose length prefix is a big-endian uint16).
MAX_ENTRY_BYTES = 65_535

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_ID = re.compile(r"^[A-Za-z0-9._:-]+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KID = re.compile(r"^[0-9a-f]{32}$")


class EntryTooLargeError(ValueError):
    """An entry over LEDGER.md's 65,535 bytes of JCS."""


def make_entry(
    entry_id: str, entry_type: str, ts: int, actor: str, data: dict[str, Any], auth: dict[str, str] | None = None
) -> dict[str, Any]:
    entry = {"v": VERSION, "id": entry_id, "type": entry_type, "ts": ts, "actor": actor, "data": data, "auth": auth}
    problem = entry_problem(entry)
    if problem:
        raise ValueError(problem)
    too_large = entry_size_problem(canonical(entry))
    if too_large:
        raise EntryTooLargeError(too_large)
    return entry


def entry_size_problem(jcs: bytes) -> str | None:
    """Why an entry of these canonical bytes is too large for the ledger, or None."""
    if len(jcs) > MAX_ENTRY_BYTES:
        return f"an entry's JCS is at most {MAX_ENTRY_BYTES:,} bytes; this one is {len(jcs):,}"
    return None


def is_key_id(value: Any) -> bool:
    """32 lower-case hex characters (LEDGER.md: the first 32 hex of SHA-256 of the raw key)."""
    return isinstance(value, str) and _KID.fullmatch(value) is not None


def is_hash(value: Any) -> bool:
    """64 lower-case hex characters."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_entry_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and _ID.fullmatch(value) is not None


def entry_leaf(entry: dict[str, Any]) -> bytes:
    """Leaf hash: SHA-256(0x00 || JCS(entry))."""
    return leaf_hash(canonical(entry))


def _is_int(value: Any, low: int = 0) -> bool:
    return type(value) is int and low <= value <= MAX_SAFE_INTEGER


def entry_problem(entry: Any) -> str | None:
    """Why ``entry`` is not a version-1 entry, or None."""
    if not isinstance(entry, dict) or set(entry) != ENTRY_MEMBERS:
        return "an entry has exactly the members " + ", ".join(sorted(ENTRY_MEMBERS))
    if entry["v"] != VERSION or type(entry["v"]) is not int:
        return "entry v must be 1"
    if not is_entry_id(entry["id"]):
        return "entry id must be 1-128 characters of A-Z a-z 0-9 . _ : -"
    if not isinstance(entry["type"], str) or not _TYPE.fullmatch(entry["type"]):
        return "entry type must be a dotted lower-case name"
    if not _is_int(entry["ts"]):
        return "entry ts must be a non-negative integer of milliseconds"
    if not isinstance(entry["actor"], str) or not entry["actor"]:
        return "entry actor must be a non-empty string"
    if not isinstance(entry["data"], dict):
        return "entry data must be an object"
    if entry["auth"] is not None and not isinstance(entry["auth"], dict):
        return "entry auth must be an object or null"
    return ledger_value_problem(entry)


def make_header(
    height: int, prev: str, log_size: int, log_root: bytes, count: int, ts: int, sealer: str
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "height": height,
        "prev": prev,
        "log_size": log_size,
        "log_root": log_root.hex(),
        "count": count,
        "ts": ts,
        "sealer": sealer,
    }


def header_bytes(header: dict[str, Any]) -> bytes:
    return canonical(header)


def block_hash(header: dict[str, Any]) -> str:
    """Block hash: SHA-256(JCS(header)), lower-case hex."""
    return hashlib.sha256(header_bytes(header)).hexdigest()


def header_problem(header: Any) -> str | None:
    """Why ``header`` is not a version-1 block header, or None."""
    if not isinstance(header, dict) or set(header) != HEADER_MEMBERS:
        return "a header has exactly the members " + ", ".join(sorted(HEADER_MEMBERS))
    if header["v"] != VERSION or type(header["v"]) is not int:
        return "header v must be 1"
    for name in ("height", "log_size", "ts"):
        if not _is_int(header[name]):
            return f"header {name} must be a non-negative integer"
    if not _is_int(header["count"], low=1):
        return "header count must be at least 1 (no empty blocks)"
    for name in ("prev", "log_root"):
        if not is_hash(header[name]):
            return f"header {name} must be 64 lower-case hex characters"
    if not is_key_id(header["sealer"]):
        return "header sealer must be a key id of 32 hex characters"
    return None
