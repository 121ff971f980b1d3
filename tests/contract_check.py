"""Every answer the test suite receives through the app, checked against GET /openapi.json.

tests/conftest.py wraps chalice.test's HTTP client (the one every in-process
test talks through) with ``checked``: each answer's status must be declared for
its route and method, a JSON body must match the declared schema, and an error's
code must be one of those the route declares for that status. A test that saw a
violation fails, naming the request and what broke; so the whole suite, with its
hundreds of API calls, keeps the document true.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SKIP = "COVENANT_CONTRACT_CHECK"


@functools.cache
def _document() -> dict[str, Any]:
    from app import app
    from chalicelib.api.openapi import document

    return document(app)


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for path in _document()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
        found.append((re.compile(pattern), path))
    # the most literal template first: /proposals/{id} must not take /proposals
    return sorted(found, key=lambda item: (item[1].count("{"), -len(item[1])))


def template_of(path: str) -> str | None:
    bare = urlsplit(path).path
    for pattern, template in _templates():
        if pattern.match(bare):
            return template
    return None


@functools.cache
def _validator(schema_json: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    document = _document()
    resource = Resource.from_contents({**document, "$schema": "https://json-schema.org/draft/2020-12/schema"})
    registry = Registry().with_resource("urn:covenant:openapi", resource)
    schema = json.loads(schema_json)
    return Draft202012Validator({"$schema": "https://json-schema.org/draft/2020-12/schema", **_rebased(schema)},
                                registry=registry)


def _rebased(schema: Any) -> Any:
    """``#/components/...`` references, made to point into the whole document."""
    if isinstance(schema, dict):
        return {k: ("urn:covenant:openapi" + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else
                    _rebased(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rebased(v) for v in schema]
    return schema


def problems(method: str, path: str, status: int, headers: dict[str, Any], body: bytes) -> list[str]:
    """What in this answer the document does not declare; empty when it all holds."""
    where = f"{method} {path} -> {status}"
    template = template_of(path)
    if template is None:
        # Paths no route has are answered by the gateway (404 not_found): nothing to check against.
        return [] if status == 404 else [f"{where}: no route in the document has this path"]
    operation = _document()["paths"][template].get(method.lower())
    if operation is None:
        return [] if status == 405 else [f"{where}: the document has no {method} for {template}"]
    response = operation["responses"].get(str(status))
    if response is None:
        return [f"{where}: status {status} is not declared for {method} {template}"]
    content = response.get("content") or {}
    media = str(_header(headers, "content-type") or "").split(";")[0].strip()
    if not content:
        return [] if not body else [f"{where}: a body where the document declares none"]
    if media not in content:
        return [f"{where}: Content-Type {media!r} is not declared ({sorted(content)})"]
    schema = content[media].get("schema")
    if schema is None or media != "application/json":
        return []
    try:
        value = json.loads(body)
    except ValueError:
        return [f"{where}: the body is not JSON"]
    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value), key=lambda e: list(e.path))
    return [f"{where}: {'/'.join(str(p) for p in e.absolute_path) or 'body'}: {e.message[:300]}" for e in errors[:3]]


def _header(headers: dict[str, Any], name: str) -> Any:
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


def _observe(method: str, path: str, response: Any) -> None:
    """With $COVENANT_OBSERVE (a folder), one JSON line per answer: route, status, error code, a body sample."""
    folder = os.environ.get("COVENANT_OBSERVE")
    if not folder:
        return
    try:
        body = json.loads(response.body or b"null")
    except ValueError:
        body = None
    code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    line = {"method": method, "route": template_of(path), "status": response.status_code, "code": code,
            "body": body if response.status_code < 300 else None}
    with open(Path(folder) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str)[:20000] + "\n")


def checked(request: Callable[..., Any], seen: list[str]) -> Callable[..., Any]:
    """chalice.test's ``TestHTTPClient.request``, recording in ``seen`` what each answer breaks."""
    @functools.wraps(request)
    def wrapper(self: Any, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
        response = request(self, method, path, headers=headers, body=body)
        _observe(method, path, response)
        seen.extend(problems(method, path, response.status_code, dict(response.headers), response.body or b""))
        return response

    return wrapper
