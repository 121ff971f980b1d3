"""The OpenAPI 3.1 document of the API, generated from the code and never written by hand.

Every route and method the Chalice app registers is in it (``app.routes``); path
parameters come from the route's pattern; query parameters from the
``query(bp, {...})`` call each read view makes; request bodies from the
pydantic models of ``api/bodies.py`` that ``signed_route`` records in
``BODY_MODELS`` (schemas by pydantic's ``models_json_schema``, which are
OpenAPI 3.1 JSON Schema); the four headers every signed request carries (RFC
9421 and the idempotency key); and the one error shape, ``{"error": {...}}``,
for every 4xx and 5xx answer.

Not yet here: response models (a 200 or 201 answer is documented as a JSON
object, a checkpoint as text, a tile as bytes) and the exact error codes each
route can give; both come with the response models.

Imported only by ``GET /openapi.json``, and built once per process.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

from chalice.app import Chalice, RouteEntry

OPENAPI_VERSION = "3.1.0"
_PATH_PARAM = re.compile(r"\{([^}/]+)\}")
_CACHE: dict[int, dict[str, Any]] = {}
TEXT_ROUTES = frozenset({"/checkpoint", "/blocks/{h}/checkpoint"})
TILE_PREFIX = "/tile/"
UNSIGNED_BODIES = {"/checkpoints/{size}/cosignatures": "SubmitCosignature"}
# Statuses a route may answer with the error shape: every route (400, 404, 405, 415, 500 and the
# gateway's 429, 503, 504), and what signed requests add (401, 403, 409, 413).
READ_ERRORS = (400, 404, 405, 415, 429, 500, 503, 504)
SIGNED_ERRORS = (400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503, 504)
SIGNATURE_HEADERS = {
    "Signature": "RFC 9421 signature of the request by the caller's registered Ed25519 key.",
    "Signature-Input": "RFC 9421 signature parameters: covered components, keyid, created, nonce.",
    "Content-Digest": "RFC 9530 digest of the body (sha-256), covered by the signature.",
    "Idempotency-Key": "The request's idempotency key: a retry with the same key gets the first answer back.",
}
_DESCRIPTIONS = {
    400: "Invalid parameter or body.", 401: "Missing or invalid signature.", 403: "Forbidden.",
    404: "Not found.", 405: "Method not allowed.", 409: "Conflict with the current state.",
    413: "Request too large.", 415: "Content-Type is not application/json.", 429: "Too many requests.",
    500: "Internal error.", 503: "Service unavailable; retry later.", 504: "Timed out; retry later.",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable, machine-readable code."},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The parameter, header or body field at fault."},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
}
_OBJECT = {"type": "object", "additionalProperties": True}


def document(app: Chalice) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document, built on first use and kept for the process."""
    if id(app) not in _CACHE:
        _CACHE[id(app)] = build(app)
    return _CACHE[id(app)]


def build(app: Chalice) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from .signed_routes import BODY_MODELS, body_model

    bodies = {**BODY_MODELS, **UNSIGNED_BODIES}
    models = sorted(set(bodies.values()))
    _, defs = models_json_schema([(body_model(name), "validation") for name in models],
                                 ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        item: dict[str, Any] = {}
        for method, entry in sorted(app.routes[path].items()):
            signed = method == "POST" and path in BODY_MODELS
            item[method.lower()] = _operation(path, method, entry, bodies.get(path) if method == "POST" else None,
                                              signed)
        paths[path] = item
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Covenant",
            "version": "1",
            "description": "A verifiable ledger's API. Generated from the code; response bodies are documented "
                           "as generic objects until response models are added.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "responses": {"Error": _error_response("An error.")}},
    }


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(path: str, method: str, entry: RouteEntry, model: str | None, signed: bool) -> dict[str, Any]:
    view = inspect.unwrap(entry.view_function)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}
        for name in _PATH_PARAM.findall(path)
    ]
    for name, required in _query_params(view):
        parameters.append({"name": name, "in": "query", "required": required, "schema": {"type": "string"}})
    if signed:
        parameters.extend({"name": name, "in": "header", "required": True, "description": description,
                           "schema": {"type": "string", "minLength": 1}}
                          for name, description in SIGNATURE_HEADERS.items())
    operation: dict[str, Any] = {"operationId": f"{view.__name__}_{method.lower()}"}
    doc = inspect.getdoc(view)
    if doc:
        operation["summary"] = doc.splitlines()[0]
        operation["description"] = doc
    if parameters:
        operation["parameters"] = parameters
    if model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    responses: dict[str, Any] = {}
    if signed:
        responses["200"] = {"description": "The answer (or, with Idempotent-Replayed, the first answer again).",
                            "content": {"application/json": {"schema": _OBJECT}}}
        responses["201"] = {"description": "Created.", "content": {"application/json": {"schema": _OBJECT}}}
    elif path in TEXT_ROUTES:
        responses["200"] = {"description": "A signed checkpoint (C2SP tlog-checkpoint).",
                            "content": {"text/plain": {"schema": {"type": "string"}}}}
    elif path.startswith(TILE_PREFIX):
        responses["200"] = {"description": "A tile (C2SP tlog-tiles).",
                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                "contentMediaType":
                                                                                "application/octet-stream"}}}}
    else:
        responses["200"] = {"description": "The answer.", "content": {"application/json": {"schema": _OBJECT}}}
        if method == "POST":
            responses["201"] = {"description": "Kept.", "content": {"application/json": {"schema": _OBJECT}}}
    for status in SIGNED_ERRORS if signed or method == "POST" else READ_ERRORS:
        responses[str(status)] = _error_response(_DESCRIPTIONS[status])
    operation["responses"] = responses
    return operation


def _query_params(view: Any) -> list[tuple[str, bool]]:
    """``(name, required)`` for each query parameter the view's ``query(bp, {...})`` call allows.

    Required: the view passes ``params.get(name)`` straight to ``int_param``, which refuses it missing.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(view)))
    except (OSError, TypeError, SyntaxError):
        return []
    allowed: list[str] = []
    required: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "query" and len(node.args) == 2 and isinstance(node.args[1], ast.Set):
            allowed.extend(str(e.value) for e in node.args[1].elts if isinstance(e, ast.Constant))
        if node.func.id == "int_param" and len(node.args) >= 2:
            raw = node.args[1]
            if isinstance(raw, ast.Call) and isinstance(raw.func, ast.Attribute) and raw.func.attr == "get" \
                    and len(raw.args) == 1 and isinstance(raw.args[0], ast.Constant):
                required.add(str(raw.args[0].value))
    return [(name, name in required) for name in sorted(allowed)]
