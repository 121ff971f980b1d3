"""Registering mutating routes: every one signed (RFC 9421), idempotent, and validated."""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from ..errors import Conflict, CovenantError, InvalidParameter, UnsupportedMediaType, ValidationFailed
from ..observability import logger
from ..services.signed import SignedRequest, authenticate
from ..settings import get_settings
from .routing import JSON, Spec, check_path_params, error_response
from .routing import register as register_spec

if TYPE_CHECKING:
    from pydantic import BaseModel

Answer = tuple[int, dict[str, Any]]
# A refusal that is not this request's answer: its key belongs to another request. Retryable refusals
# ("nothing was written, try again", a request still running, a payment not yet final) are not kept either.
UNREMEMBERED = frozenset({"idempotency_key_reused"})


def _target_uri(request: Any) -> str:
    path = str(request.context.get("path") or request.path)
    origin = get_settings().public_origin
    if origin:
        return origin + path
    headers = request.headers
    scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip()
    host = headers.get("host", "localhost")
    return f"{scheme}://{host}{path}"


def check_content_type(request: Any) -> None:
    """A signed body is JSON, and says so: Chalice lets a missing ``Content-Type`` through as JSON.

    A request with no body needs none (RFC 9110 8.3: it describes content): the document makes the body of a
    route that takes the empty object optional, and an absent body is that object.
    """
    if not request.raw_body and request.headers.get("content-type") is None:
        return
    media_type = str(request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json", field="Content-Type")


def _headers(request: Any) -> dict[str, str]:
    """The request's headers, with repeated ``Signature``/``Signature-Input`` lines combined (RFC 9110 5.3).

    API Gateway keeps only one line of a repeated header in ``headers`` and all of
    them in ``multiValueHeaders``: combined, two signatures sent on two lines are
    refused like two in one line.
    """
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        lines = request.to_original_event().get("multiValueHeaders") or {}
    except (AttributeError, TypeError):
        lines = {}
    for name, values in lines.items():
        if str(name).lower() in ("signature", "signature-input") and isinstance(values, list) and len(values) > 1:
            headers[str(name).lower()] = ", ".join(str(v) for v in values)
    return headers


def body_model(name: str) -> type[BaseModel]:
    """A request body's pydantic model, by name in ``api/bodies.py``: imported with the first signed request, so
    pydantic and the models' schemas never weigh on a cold start that serves reads."""
    model: type[BaseModel] = getattr(importlib.import_module("chalicelib.api.bodies"), name)
    return model


def parse_body(model: type[BaseModel], text: str) -> BaseModel:
    from pydantic import ValidationError

    try:
        return model.model_validate_json(text or "{}")
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
                   for error in exc.errors()]
        first = details[0]
        raise ValidationFailed(f"{first['field']}: {first['message']}", field=first["field"],
                               details=details) from exc


def _registering_jwk(text: str) -> dict[str, Any] | None:
    try:
        jwk = json.loads(text).get("jwk")
    except (ValueError, AttributeError, RecursionError):
        return None
    return jwk if isinstance(jwk, dict) else None


# path -> the name of its body's model in api/bodies.py, for every signed route registered
BODY_MODELS: dict[str, str] = {}


def signed_route(bp: Blueprint, path: str, model: str, *, answer: str, status: int, errors: tuple[str, ...] = (),
                 tag: str = "ledger", registration: bool = False) -> Callable[[Callable[..., Answer]], Any]:
    """``view(signed, body, **path_params) -> (status, answer)``, reached only by a valid signed request.

    ``model`` names the body's pydantic model in ``api/bodies.py``, ``answer`` the answer's in
    ``api/answers.py``; ``status`` is the answer's (201 when the request made something, else 200), and
    ``errors`` the codes the route's own work can answer (those of every signed request are added).
    """
    BODY_MODELS[path] = model

    def register(view: Callable[..., Answer]) -> Callable[..., Answer]:
        register_spec(Spec(method="POST", path=path, view=view, kind="signed", answer=answer, statuses=(status,),
                           errors=errors, body=model, tag=tag))
        @functools.wraps(view)
        def handler(**params: Any) -> Response:
            request = bp.current_request
            signed: SignedRequest | None = None
            consumed = False
            try:
                params = check_path_params(params)
                check_content_type(request)
                if request.query_params:
                    raise InvalidParameter("mutating requests carry no query string", field="query")
                raw = request.raw_body or b""
                if isinstance(raw, str):
                    raw = raw.encode("utf-8")
                signed = authenticate(request.method, _target_uri(request), _headers(request), raw,
                                      registering=_registering_jwk(raw.decode("utf-8", "replace"))
                                      if registration else None)
                replay = signed.first_answer()
                if replay is not None:
                    return _answer(replay, replayed=True)
                signed.consume_nonce()
                consumed = True
                body = parse_body(body_model(model), signed.body)
                return _answer(view(signed, body, **params))
            except CovenantError as error:
                replay = _first_answer(signed) if isinstance(error, Conflict) else None
                if replay is not None:  # a concurrent duplicate committed first
                    return _answer(replay, replayed=True)
                logger.info("request refused", extra={"code": error.code, "field": error.field})
                if signed is not None and consumed and error.retryable:
                    _release(signed)  # nothing was written: the same request may come again as it is
                if signed is not None and 400 <= error.status < 500 and error.status != 401 \
                        and not error.retryable and error.code not in UNREMEMBERED:
                    # A refusal is the request's first answer too: a retry gets it back.
                    try:
                        return _answer(signed.remember_refusal(error.status, error.to_body()))
                    except CovenantError:
                        logger.warning("could not keep a refusal as the request's answer")
                return error_response(error)
            except Exception:
                logger.exception("unhandled error")
                if signed is not None and consumed:
                    _release(signed)
                return error_response(CovenantError("an internal error occurred"))

        bp.route(path, methods=["POST"], content_types=["application/json"])(handler)
        return view

    return register


def _release(signed: SignedRequest) -> None:
    try:
        signed.release_nonce()
    except CovenantError:
        logger.warning("could not release a nonce; the client retries with a new signature")


def _first_answer(signed: SignedRequest | None) -> Answer | None:
    if signed is None:
        return None
    try:
        return signed.first_answer()
    except CovenantError:
        return None


def _answer(answer: Answer, replayed: bool = False) -> Response:
    headers = dict(JSON)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    status, body = answer
    return Response(body=body, status_code=status, headers=headers)
