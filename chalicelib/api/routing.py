"""Route registration with the one mapping from errors to JSON answers.

Chalice turns any exception inside a view into its own 500 body before
middleware sees it, so the mapping wraps each view where it is registered.
Every error answers ``{"error": {"code", "message", "field"?}}``; no stack
trace ever leaves the server.

Chalice also answers some requests itself, in its own ``{"Code", "Message"}``
shape, without calling a view: 405 (a method the path does not have), 415 (a
``Content-Type`` the route does not take), 400 (a binary answer the ``Accept``
header does not take, JSON it cannot parse) and 500. ``error_shape``, an HTTP
middleware, rewrites those. Unknown paths never reach the app: API Gateway
answers them itself, with the 404 ``not_found`` that ``infra/render.py``'s
gateway responses configure; ``devstack/gateway_patch.py`` gives ``chalice
local`` and ``chalice.test.Client`` (which imitate the gateway) the same answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from chalice.app import Blueprint, Response

from ..errors import (
    Conflict,
    CovenantError,
    Forbidden,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    RequestRefused,
    RequestTooLarge,
    TooManyRequests,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..ledger.canonical import MAX_SAFE_INTEGER
from ..observability import logger

JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}
IMMUTABLE = "public, max-age=31536000, immutable"
_DIGITS = re.compile(r"^[0-9]{1,16}$")
_PATH_PARAM = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PATH_NAMES = re.compile(r"\{([^}/]+)\}")


def error_response(error: CovenantError, status: int | None = None,
                   headers: dict[str, str | list[str]] | None = None) -> Response:
    return Response(body=error.to_body(), status_code=status or error.status, headers={**(headers or {}), **JSON})


@dataclass(frozen=True)
class Query:
    """One query parameter a read route takes: it drives both the check of each request and the document."""

    name: str
    description: str
    kind: Literal["integer", "string"] = "integer"
    low: int = 0
    high: int = MAX_SAFE_INTEGER
    required: bool = False
    default: int | str | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 200
    pattern: str | None = None  # what a string must contain somewhere (re.search), e.g. "\\S"

    def value(self, raw: str | None) -> int | str | None:
        """The parameter's value from its text, the default when absent, or a 400 naming it."""
        if raw is None:
            if self.required:
                raise InvalidParameter(f"{self.name} is required", field=self.name)
            return self.default
        if self.kind == "integer":
            return int_param(self.name, raw, self.low, self.high)
        if self.choices and raw not in self.choices:
            raise InvalidParameter(f"{self.name} is one of {', '.join(self.choices)}", field=self.name)
        if len(raw) > self.max_length:
            raise InvalidParameter(f"{self.name} is at most {self.max_length} characters", field=self.name)
        if self.pattern is not None and not re.search(self.pattern, raw):
            raise InvalidParameter(f"{self.name} does not match {self.pattern}: {self.description}", field=self.name)
        return raw


@dataclass(frozen=True)
class Spec:
    """What one route and method take and answer, as registered: ``GET /openapi.json`` is made of these."""

    method: str
    path: str
    view: Callable[..., Any]
    kind: Literal["read", "signed", "unsigned"]
    query: tuple[Query, ...] = ()
    path_params: tuple[Query, ...] = ()  # the path parameters that are not plain ids (integers: a height, a size)
    answer: str | None = None  # the answer's model in api/answers.py (JSON answers)
    statuses: tuple[int, ...] = (200,)
    errors: tuple[str, ...] = ()  # the codes this route's own work can answer (errors.CODES has their statuses)
    media: str = "application/json"
    body: str | None = None  # the request body's model in api/bodies.py
    cache: str | None = None
    tag: str = "ledger"


# (method, path) -> its Spec, for every route registered through route() or signed_route()
SPECS: dict[tuple[str, str], Spec] = {}


def register(spec: Spec) -> None:
    clash = {q.name for q in spec.query} & set(_PATH_NAMES.findall(spec.path))
    if clash:
        raise ValueError(f"{spec.path}: query parameters {clash} share a name with its path parameters")
    SPECS[(spec.method, spec.path)] = spec


def route(bp: Blueprint, path: str, *, methods: list[str], params: tuple[Query, ...] = (),
          path_params: tuple[Query, ...] = (), answer: str | None = None,
          errors: tuple[str, ...] = (), cache: str | None = None, content_type: str | None = None,
          statuses: tuple[int, ...] = (200,), body: str | None = None, tag: str = "ledger",
          **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """A read route answering JSON, or, with ``content_type``, the bytes or text the view returns.

    The view is called with the path parameters and the declared query parameters (``params``), checked and
    typed; any other query parameter, or one given twice, is a 400. A view may return ``(body, cache)`` to
    choose its Cache-Control per answer, or a whole ``Response``.
    """
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        declared = {q.name: q for q in params}
        typed = {q.name: q for q in path_params}

        @functools.wraps(view)
        def handler(*args: Any, **kwargs: Any) -> Response:
            try:
                given_path: dict[str, Any] = check_path_params(kwargs)
                for name, q in typed.items():
                    given_path[name] = q.value(given_path[name])
                given = query(bp, set(declared))
                values = {name: q.value(given.get(name)) for name, q in declared.items()}
                body = view(*args, **given_path, **values)
            except CovenantError as error:
                logger.info("request refused", extra={"code": error.code, "field": error.field})
                return error_response(error)
            except Exception:
                logger.exception("unhandled error")
                return error_response(CovenantError("an internal error occurred"))
            if isinstance(body, Response):
                return body
            answer_cache = cache or "no-cache"
            if isinstance(body, tuple):
                body, answer_cache = body
            headers: dict[str, str | list[str]] = {"Content-Type": content_type} if content_type else dict(JSON)
            headers["Cache-Control"] = answer_cache
            return Response(body=body, status_code=200, headers=headers)

        for method in methods:
            register(Spec(method=method, path=path, view=view, kind="read" if method == "GET" else "unsigned",
                          query=params, path_params=path_params, answer=answer, statuses=statuses, errors=errors,
                          media=content_type or "application/json", body=body, cache=cache, tag=tag))
        bp.route(path, methods=methods, **options)(handler)
        return view

    return decorate


def check_path_params(params: dict[str, Any]) -> dict[str, str]:
    """The path parameters, percent-decoded (``chalice local`` passes them as sent; the gateway decodes them, and
    a second decoding cannot make a valid one of an invalid one: ``%`` is never valid), each checked."""
    decoded: dict[str, str] = {}
    for name, value in params.items():
        text = unquote(value) if isinstance(value, str) else value
        if not isinstance(text, str) or not _PATH_PARAM.match(text):
            raise InvalidParameter(f"{name} must be 1 to 128 characters of A-Z a-z 0-9 . _ : -", field=name)
        decoded[name] = text
    return decoded


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


# --- answers Chalice and the gateway make themselves, in the same shape

_BY_STATUS: dict[int, Callable[[], CovenantError]] = {
    400: lambda: InvalidParameter("the request is invalid"),
    401: lambda: Unauthenticated("the request is not authenticated"),
    403: lambda: Forbidden("the request is forbidden"),
    404: lambda: NotFound("no such route"),
    409: lambda: Conflict("the request conflicts with the current state"),
    413: lambda: RequestTooLarge("the request is too large"),
    429: lambda: TooManyRequests("too many requests; retry later"),
}


def _in_shape(body: Any) -> bool:
    return isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict) \
        and isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str)


def _platform_error(status: int, chalice_code: str, allow: str) -> CovenantError:
    """The project's error for an answer Chalice made itself (its body's ``Code`` and the status)."""
    if status == 405:
        return MethodNotAllowed(f"this path does not take this method; it takes {allow or 'none'}")
    if status == 415:
        return UnsupportedMediaType("Content-Type must be application/json", field="Content-Type")
    if chalice_code == "BadRequestError":  # Request.json_body: JSON that does not parse
        return ValidationFailed("the body is not valid JSON", field="body")
    if chalice_code == "BadRequest":  # a binary answer the request's Accept header does not take
        return InvalidParameter("the Accept header does not take this answer's media type", field="Accept")
    if status in _BY_STATUS:
        return _BY_STATUS[status]()
    if status < 500:
        return RequestRefused("the request was refused")
    return CovenantError("an internal error occurred")


def _reshaped(response: Response) -> Response:
    body = response.body if isinstance(response.body, dict) else {}
    headers = {name: value for name, value in response.headers.items() if name.lower() != "content-type"}
    allow = next((str(v) for k, v in headers.items() if k.lower() == "allow"), "")
    status = response.status_code if 400 <= response.status_code <= 599 else 500
    error = _platform_error(status, str(body.get("Code", "")), allow)
    if status >= 500:
        logger.error("the platform answered an error", extra={"status": status, "chalice_code": body.get("Code")})
    else:
        logger.info("request refused", extra={"code": error.code, "field": error.field})
    return error_response(error, status=status, headers=headers)


def error_shape(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: an error Chalice answers itself (405, 415, 400, 500) in the project's shape.

    Register it first, so it also catches what later middleware raises: nothing
    but ``{"error": {...}}`` ever leaves, and never a stack trace.
    """
    try:
        response = get_response(event)
        if not isinstance(response, Response):
            raise TypeError(f"a handler answered {type(response).__name__}, not a Response")
        if 100 <= response.status_code < 400:
            return response
        return response if _in_shape(response.body) else _reshaped(response)
    except Exception:
        logger.exception("unhandled error")
        return error_response(CovenantError("an internal error occurred"))
