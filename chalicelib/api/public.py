"""The public read API of LEDGER.md, and the cosignatures sub-chains send it."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from ..errors import InvalidParameter
from ..ledger.format import MAX_ID_LENGTH
from ..services import reading
from .routing import IMMUTABLE, JSON, Query, route

TEXT = "text/plain; charset=utf-8"
TILE = "application/octet-stream"

public_api = Blueprint(__name__)


READ = ("not_found",)


@route(public_api, "/chain/head", methods=["GET"], answer="Head", errors=("chain_not_started",))
def chain_head() -> dict[str, Any]:
    """The newest block's header, hash and signature."""
    return reading.head()


HEIGHT = Query("h", "the block's height")


@route(public_api, "/blocks/{h}", methods=["GET"], cache=IMMUTABLE, answer="Block", errors=READ, path_params=(HEIGHT,),
       params=(
        Query("cursor", "the index in the block of the page's first entry (an earlier answer's next)", default=0),
        Query("limit", "the most entries in the page", low=1, high=reading.MAX_PAGE, default=reading.DEFAULT_PAGE)))
def get_block(h: int, cursor: int, limit: int) -> dict[str, Any]:
    """Block h: header, hash, signature and one page of its entries."""
    return reading.block(h, cursor, limit)


@route(public_api, "/entries/{entry_id}", methods=["GET"], answer="EntryAt", errors=(*READ, "entry_pending"))
def get_entry(entry_id: str) -> dict[str, Any]:
    """One entry, with its log index and the height of the block that holds it."""
    if not entry_id or len(entry_id) > MAX_ID_LENGTH:
        raise InvalidParameter(f"id must be 1 to {MAX_ID_LENGTH} characters", field="id")
    return reading.entry(entry_id)


@route(public_api, "/proofs/inclusion", methods=["GET"], cache=IMMUTABLE, answer="InclusionProof", errors=READ,
       params=(Query("index", "the entry's log index", required=True),
               Query("size", "the tree size (a block's log_size)", low=1, required=True)))
def inclusion_proof(index: int, size: int) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of the entry at index in the tree of size entries."""
    return reading.inclusion_proof(index, size)


@route(public_api, "/proofs/consistency", methods=["GET"], cache=IMMUTABLE, answer="ConsistencyProof", errors=READ,
       params=(Query("first", "the smaller tree size", low=1, required=True),
               Query("second", "the larger tree size", low=1, required=True)))
def consistency_proof(first: int, second: int) -> dict[str, Any]:
    """An RFC 9162 consistency proof between the trees of first and second entries."""
    return reading.consistency_proof(first, second)


@route(public_api, "/keys", methods=["GET"], answer="Keys", errors=("origin_changed", "sealer_key_unavailable"))
def sealer_keys() -> dict[str, Any]:
    """Every sealer key, current and retired, each with its signed-note vkey."""
    return reading.keys()


@route(public_api, "/checkpoint", methods=["GET"], content_type=TEXT, errors=(*READ, "chain_not_started"))
def checkpoint() -> str:
    """The newest block's signed checkpoint (C2SP tlog-checkpoint, signed-note), with its cosignatures."""
    return reading.checkpoint()


@route(public_api, "/blocks/{h}/checkpoint", methods=["GET"], content_type=TEXT, errors=READ, path_params=(HEIGHT,))
def block_checkpoint(h: int) -> str:
    """Block h's signed checkpoint, with its cosignatures."""
    return reading.block_checkpoint(h)


@route(public_api, "/cosigners", methods=["GET"], answer="Cosigners")
def cosigners() -> dict[str, Any]:
    """The registered sub-chains (LEDGER.md "Cosigners")."""
    from ..services import cosigners as service

    return service.listing()


@route(public_api, "/openapi.json", methods=["GET"], answer="Document", tag="meta")
def openapi_document() -> dict[str, Any]:
    """This API's OpenAPI 3.1 document, generated from the code (``api/openapi.py``)."""
    from .openapi import document

    return document(public_api.current_app)


@route(public_api, "/checkpoints/{size}/cosignatures", methods=["POST"], content_types=["application/json"],
       body="SubmitCosignature", answer="CosignatureKept", statuses=(200, 201), tag="sub-chains",
       path_params=(Query("size", "the cosigned checkpoint's tree size", low=1),),
       errors=("invalid_body", "cosignature_invalid", "cosigner_unknown", "cosigner_retired", "checkpoint_unknown",
               "conflict"))
def submit_cosignature(size: int) -> Response:
    """A sub-chain's cosignature of the checkpoint of size entries (201 kept, 200 kept already).

    Not RFC 9421-signed: the line is itself a signature by the registered sub-chain key, and the log verifies
    it before keeping it."""
    from ..services import cosigners as service
    from .signed_routes import body_model, check_content_type, parse_body

    request = public_api.current_request
    check_content_type(request)
    raw = request.raw_body or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    body = parse_body(body_model("SubmitCosignature"), text)
    status, answer = service.submit(size, body.cosignature)  # type: ignore[attr-defined]
    return Response(body=answer, status_code=status, headers=dict(JSON))


def _tile(*parts: str) -> tuple[bytes, str]:
    return reading.tile("/".join(("tile", *parts)))


# C2SP tlog-tiles: /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>], where <N> is 1 to 4 path
# elements (x001/x234/067); Chalice has no greedy path parameter, so one route per depth.
@route(public_api, "/tile/{level}/{a}", methods=["GET"], content_type=TILE, errors=READ, tag="tiles")
def tile_1(level: str, a: str) -> tuple[bytes, str]:
    return _tile(level, a)


@route(public_api, "/tile/{level}/{a}/{b}", methods=["GET"], content_type=TILE, errors=READ, tag="tiles")
def tile_2(level: str, a: str, b: str) -> tuple[bytes, str]:
    return _tile(level, a, b)


@route(public_api, "/tile/{level}/{a}/{b}/{c}", methods=["GET"], content_type=TILE, errors=READ, tag="tiles")
def tile_3(level: str, a: str, b: str, c: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c)


@route(public_api, "/tile/{level}/{a}/{b}/{c}/{d}", methods=["GET"], content_type=TILE, errors=READ, tag="tiles")
def tile_4(level: str, a: str, b: str, c: str, d: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c, d)


@route(public_api, "/tile/{level}/{a}/{b}/{c}/{d}/{e}", methods=["GET"], content_type=TILE, errors=READ, tag="tiles")
def tile_5(level: str, a: str, b: str, c: str, d: str, e: str) -> tuple[bytes, str]:
    return _tile(level, a, b, c, d, e)
