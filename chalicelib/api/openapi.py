"""The OpenAPI 3.1 document of the API, generated from the code and never written by hand.

Every route is registered through ``route`` or ``signed_route`` (api/routing.py,
api/signed_routes.py), which record what it takes and answers in ``SPECS``: its
query parameters (the same declarations that check each request), the request
body's pydantic model (api/bodies.py), the answer's pydantic model
(api/answers.py) or media type, its success statuses, and the error codes its
own work can give. To those this module adds what every route of a kind shares:
path parameters from the route's pattern, the four headers every signed request
carries (RFC 9421 and the idempotency key), the codes of signature checking and
idempotency, and the codes the platform and the gateway answer themselves. Each
error status is documented with exactly its codes (``errors.CODES``), as an enum
of the one error shape.

A unit test fails if a route of ``app.routes`` is missing; the test suite holds
every answer it sees to this document (tests/contract_check.py); schemathesis
fuzzes the API against it. Imported only by ``GET /openapi.json``, built once
per process.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.json_schema import JsonSchemaMode

from ..errors import CODES
from .routing import SPECS, Query, Spec

OPENAPI_VERSION = "3.1.0"
_PATH_PARAM = re.compile(r"\{([^}/]+)\}")
_CACHE: dict[int, dict[str, Any]] = {}

# What every route can answer without its own work: a malformed path parameter or query, a Content-Type
# Chalice refuses, the gateway's limits, and failures of the platform or the storage.
EVERY_ROUTE = ("invalid_parameter", "request_refused", "unsupported_media_type", "request_too_large",
               "too_many_requests", "internal_error", "storage_unavailable", "timeout")
# What every signed request can answer: its body, its signature, its key, its idempotency, the program's state.
EVERY_SIGNED = ("invalid_body", "signature_missing", "signature_malformed", "signature_incomplete",
                "signature_expired", "clock_skew", "digest_mismatch", "unsupported_algorithm", "nonce_reused",
                "bad_signature", "unknown_key", "key_revoked", "idempotency_key_reused", "request_in_progress",
                "conflict", "entry_too_large", "program_not_running", "chain_not_started")
SIGNATURE_HEADERS = {
    "Signature": "RFC 9421 signature of the request by the caller's registered Ed25519 key (label sig1).",
    "Signature-Input": "RFC 9421 signature parameters: the covered components (@method, @target-uri, "
                       "content-digest, idempotency-key), keyid, alg=\"ed25519\", created, expires, nonce.",
    "Content-Digest": "RFC 9530 digest of the body: sha-256=:<base64>:, covered by the signature.",
    "Idempotency-Key": "The request's idempotency key: a retry with the same key and body gets the first answer "
                       "back, with Idempotent-Replayed: true.",
}
_HEADER_SCHEMAS = {"Idempotency-Key": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}
_PATH_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
_CACHE_HEADER = {"Cache-Control": {"description": "How long the answer may be kept: immutable for sealed "
                                                  "blocks, proofs and full tiles; no-cache otherwise.",
                                   "schema": {"type": "string"}}}
_REPLAYED_HEADER = {"Idempotent-Replayed": {"description": "true when this is a retry's copy of the first answer.",
                                            "schema": {"type": "string", "enum": ["true"]}}}
_STATUS_WORDS = {200: "OK", 201: "Created"}


def document(app: Chalice) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document, built on first use and kept for the process."""
    if id(app) not in _CACHE:
        _CACHE[id(app)] = build(app)
    return _CACHE[id(app)]


def build(app: Chalice) -> dict[str, Any]:
    missing = sorted(f"{method} {path}" for path, methods in app.routes.items() for method in methods
                     if (method, path) not in SPECS)
    if missing:
        raise ValueError(f"routes registered without route() or signed_route(): {', '.join(missing)}")
    specs = [SPECS[(method, path)] for path in sorted(app.routes) for method in sorted(app.routes[path])]
    schemas = _schemas(specs)
    paths: dict[str, Any] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Covenant",
            "version": "1",
            "description": "A verifiable commerce ledger's API: the public read API of LEDGER.md, the signed "
                           "writes of the management program, and the explorer. Generated from the code. Amounts "
                           "are integers of minor units; times are milliseconds since the epoch. Every error "
                           "answers {\"error\": {\"code\", \"message\", \"field\"?}} with a stable code.",
        },
        "tags": [{"name": name} for name in sorted({spec.tag for spec in specs})],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _schemas(specs: list[Spec]) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from . import answers
    from .signed_routes import body_model

    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (body_model(name), "validation") for name in sorted({s.body for s in specs if s.body})]
    models += [(getattr(answers, name), "serialization") for name in sorted({s.answer for s in specs if s.answer})]
    _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = _error_schema(sorted(CODES))
    return schemas


def _error_schema(codes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": codes, "description": "A stable, machine-readable code."},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The parameter, header or body member at fault."},
                "details": {"type": ["array", "object"],
                            "description": "More about the refusal: every problem of an invalid body (a list, "
                                           "each with its field), or the state that refused it (an object)."},
            },
        }},
    }


def _query_parameter(q: Query) -> dict[str, Any]:
    schema: dict[str, Any]
    if q.kind == "integer":
        schema = {"type": "integer", "minimum": q.low, "maximum": q.high}
    else:
        schema = {"type": "string", "maxLength": q.max_length}
        if q.pattern is not None:
            schema["pattern"] = q.pattern
        if q.choices:
            schema["enum"] = list(q.choices)
    if q.default is not None:
        schema["default"] = q.default
    return {"name": q.name, "in": "query", "required": q.required, "description": q.description, "schema": schema}


def codes_of(spec: Spec) -> dict[int, list[str]]:
    """Each error status the route can answer, with its codes."""
    codes = {*EVERY_ROUTE, *spec.errors, *(EVERY_SIGNED if spec.kind == "signed" else ())}
    if spec.kind != "read":
        codes.add("invalid_body")
    by_status: dict[int, set[str]] = {}
    for code in codes:
        statuses, _ = CODES[code]
        for status in statuses:
            by_status.setdefault(status, set()).add(code)
    return {status: sorted(found) for status, found in sorted(by_status.items())}


def _operation(spec: Spec) -> dict[str, Any]:
    view = inspect.unwrap(spec.view)
    typed = {q.name: q for q in spec.path_params}
    parameters: list[dict[str, Any]] = [
        {**_query_parameter(typed[name]), "in": "path", "required": True} if name in typed else
        {"name": name, "in": "path", "required": True, "schema": _PATH_SCHEMA}
        for name in _PATH_PARAM.findall(spec.path)]
    parameters += [_query_parameter(q) for q in spec.query]
    if spec.kind == "signed":
        parameters += [{"name": name, "in": "header", "required": True, "description": text,
                        "schema": _HEADER_SCHEMAS.get(name, {"type": "string", "minLength": 1})}
                       for name, text in SIGNATURE_HEADERS.items()]
    operation: dict[str, Any] = {"operationId": view.__name__, "tags": [spec.tag]}
    doc = inspect.getdoc(view)
    if doc:
        operation["summary"] = doc.splitlines()[0].rstrip(".")
        operation["description"] = doc
    if spec.kind == "signed":
        operation["description"] = (doc + "\n\n" if doc else "") + \
            "A signed request (RFC 9421, Ed25519) by a registered node's key; see the signature headers."
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": spec.body != "Empty",  # an empty body is the empty object
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body}"}}},
        }
    responses: dict[str, Any] = {}
    for status in spec.statuses:
        responses[str(status)] = _success(spec, status)
    for status, codes in codes_of(spec).items():
        responses[str(status)] = {
            "description": "; ".join(f"{code}: {CODES[code][1]}" for code in codes),
            "content": {"application/json": {"schema": {
                "allOf": [{"$ref": "#/components/schemas/Error"}],
                "properties": {"error": {"properties": {"code": {"enum": codes}}}},
            }}},
        }
    operation["responses"] = responses
    return operation


def _success(spec: Spec, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _STATUS_WORDS.get(status, "OK")}
    if spec.answer is not None:
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{spec.answer}"}
        answer["content"] = {"application/json": {"schema": schema}}
    elif spec.media.startswith("application/octet-stream"):
        answer["content"] = {"application/octet-stream": {"schema": {"type": "string",
                                                                       "contentMediaType": "application/octet-stream"}}}
    else:
        answer["content"] = {media.split(";")[0].strip(): {"schema": {"type": "string"}}
                             for media in spec.media.split(", ")}
    if spec.kind == "signed":
        answer["headers"] = dict(_REPLAYED_HEADER)
    elif spec.method == "GET":
        answer["headers"] = dict(_CACHE_HEADER)
    return answer
