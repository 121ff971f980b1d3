"""Route registration with the one mapping from errors to JSON answers.

Chalice turns any exception inside a view into its own 500 body before
middleware sees it, so the mapping wraps each view where it is registered.
Every error answers ``{"error": {"code", "message", "field"?}}``; no stack
trace ever leaves the server.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Response

from ..errors import CovenantError, InvalidParameter
from ..ledger.canonical import MAX_SAFE_INTEGER
from ..observability import logger

JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}
IMMUTABLE = "public, max-age=31536000, immutable"
_DIGITS = re.compile(r"^[0-9]{1,16}$")
_PATH_PARAM = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def error_response(error: CovenantError) -> Response:
    return Response(body=error.to_body(), status_code=error.status, headers=dict(JSON))


def route(bp: Blueprint, path: str, cache: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(*args: Any, **kwargs: Any) -> Response:
            try:
                check_path_params(kwargs)
                body = view(*args, **kwargs)
            except CovenantError as error:
                logger.info("request refused", extra={"code": error.code, "field": error.field})
                return error_response(error)
            except Exception:
                logger.exception("unhandled error")
                return error_response(CovenantError("an internal error occurred"))
            headers = dict(JSON)
            headers["Cache-Control"] = cache or "no-cache"
            return Response(body=body, status_code=200, headers=headers)

        bp.route(path, **options)(handler)
        return view

    return register


def check_path_params(params: dict[str, Any]) -> None:
    for name, value in params.items():
        if not isinstance(value, str) or not _PATH_PARAM.match(value):
            raise InvalidParameter(f"{name} must be 1 to 128 characters of A-Z a-z 0-9 . _ : -", field=name)


def int_param(name: str, raw: str | None, low: int = 0, high: int = MAX_SAFE_INTEGER) -> int:
    """A decimal integer parameter in ``[low, high]``, or a 400 naming the parameter."""
    if raw is None or raw == "":
        raise InvalidParameter(f"{name} is required", field=name)
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def query(bp: Blueprint, allowed: set[str]) -> dict[str, str]:
    """The request's query parameters; unknown or repeated ones answer 400."""
    request = bp.current_request
    params = dict(request.query_params or {})
    for name in params:
        if name not in allowed:
            raise InvalidParameter(f"unknown query parameter {name!r}", field=name)
        values = request.query_params.getlist(name) if request.query_params else []
        if len(values) > 1:
            raise InvalidParameter(f"{name} is given more than once", field=name)
    return params
