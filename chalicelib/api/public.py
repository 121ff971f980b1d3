"""The public read API of LEDGER.md, plus ``GET /replicas``."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from ..errors import InvalidParameter
from ..ledger.format import MAX_ID_LENGTH
from ..services import reading
from .routing import IMMUTABLE, int_param, query, route

public_api = Blueprint(__name__)


@route(public_api, "/chain/head", methods=["GET"])
def chain_head() -> dict[str, Any]:
    query(public_api, set())
    return reading.head()


@route(public_api, "/blocks/{h}", methods=["GET"], cache=IMMUTABLE)
def get_block(h: str) -> dict[str, Any]:
    params = query(public_api, {"cursor", "limit"})
    height = int_param("h", h)
    cursor = int_param("cursor", params["cursor"]) if "cursor" in params else 0
    limit = int_param("limit", params["limit"], 1, reading.MAX_PAGE) if "limit" in params else reading.DEFAULT_PAGE
    return reading.block(height, cursor, limit)


@route(public_api, "/entries/{entry_id}", methods=["GET"])
def get_entry(entry_id: str) -> dict[str, Any]:
    query(public_api, set())
    if not entry_id or len(entry_id) > MAX_ID_LENGTH:
        raise InvalidParameter(f"id must be 1 to {MAX_ID_LENGTH} characters", field="id")
    return reading.entry(entry_id)


@route(public_api, "/proofs/inclusion", methods=["GET"], cache=IMMUTABLE)
def inclusion_proof() -> dict[str, Any]:
    params = query(public_api, {"index", "size"})
    return reading.inclusion_proof(int_param("index", params.get("index")), int_param("size", params.get("size"), 1))


@route(public_api, "/proofs/consistency", methods=["GET"], cache=IMMUTABLE)
def consistency_proof() -> dict[str, Any]:
    params = query(public_api, {"first", "second"})
    first = int_param("first", params.get("first"), 1)
    return reading.consistency_proof(first, int_param("second", params.get("second"), 1))


@route(public_api, "/keys", methods=["GET"])
def sealer_keys() -> dict[str, Any]:
    query(public_api, set())
    return reading.keys()


@route(public_api, "/replicas", methods=["GET"])
def replicas() -> dict[str, Any]:
    query(public_api, set())
    return reading.replicas()
