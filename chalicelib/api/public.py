"""The public read API of LEDGER.md, and the cosignatures sub-chains send it."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from ..errors import InvalidParameter
from ..ledger.format import MAX_ID_LENGTH
from ..services import reading
from .routing import IMMUTABLE, JSON, int_param, query, route

TEXT = "text/plain; charset=utf-8"
TILE = "application/octet-stream"

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


@route(public_api, "/checkpoint", methods=["GET"], content_type=TEXT)
def checkpoint() -> str:
    """The newest block's signed checkpoint (C2SP tlog-checkpoint, signed-note)."""
    query(public_api, set())
    return reading.checkpoint()


@route(public_api, "/blocks/{h}/checkpoint", methods=["GET"], content_type=TEXT)
def block_checkpoint(h: str) -> str:
    query(public_api, set())
    return reading.block_checkpoint(int_param("h", h))


@route(public_api, "/cosigners", methods=["GET"])
def cosigners() -> dict[str, Any]:
    """The registered sub-chains (LEDGER.md "Cosigners")."""
    query(public_api, set())
    from ..services import cosigners as service

    return service.listing()


@route(public_api, "/openapi.json", methods=["GET"])
def openapi_document() -> dict[str, Any]:
    """This API's OpenAPI 3.1 document, generated from the code (``api/openapi.py``)."""
    query(public_api, set())
    from .openapi import document

    return document(public_api.current_app)


@route(public_api, "/checkpoints/{size}/cosignatures", methods=["POST"], content_types=["application/json"])
def submit_cosignature(size: str) -> Response:
    """A sub-chain's cosignature of the checkpoint of ``size`` entries. Not RFC 9421-signed: the line is
    itself a signature by the registered sub-chain key, and the log verifies it before keeping it."""
    from ..services import cosigners as service
    from .signed_routes import body_model, check_content_type, parse_body

    request = public_api.current_request
    query(public_api, set())
    check_content_type(request)
    raw = request.raw_body or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    body = parse_body(body_model("SubmitCosignature"), text)
    status, answer = service.submit(int_param("size", size, 1), body.cosignature)  # type: ignore[attr-defined]
    return Response(body=answer, status_code=status, headers=dict(JSON))


def _tile(*parts: str) -> tuple[bytes, str]:
    query(public_api, set())
    return reading.tile("/".join(("tile", *parts)))


# C2SP tlog-tiles: /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>], where <N> is 1 to 4 path
# elements (x001/x234/067); Chalice has no greedy path parameter, so one route per depth.
@route(public_api, "/tile/{level}/{a}", methods=["GET"], content_type=TILE)
def tile_1(level: str, a: str) -> tuple[bytes, str]:
    return _tile(level, a)


@route(public_api, "/tile/{level}/{a}/{b}", methods=["GET"], content_type=TILE)
def tile_2(level: str, a: str, b: str) -> tuple[bytes, str]:
    return _tile(level, a, b)


@route(public_api, "/tile/{level}/{a}/{b}/{c}", methods=["GET"], content_type=TILE)
def tile_3(level: str, a: str, b: str, c: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c)


@route(public_api, "/tile/{level}/{a}/{b}/{c}/{d}", methods=["GET"], content_type=TILE)
def tile_4(level: str, a: str, b: str, c: str, d: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c, d)


@route(public_api, "/tile/{level}/{a}/{b}/{c}/{d}/{e}", methods=["GET"], content_type=TILE)
def tile_5(level: str, a: str, b: str, c: str, d: str, e: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c, d, e)
