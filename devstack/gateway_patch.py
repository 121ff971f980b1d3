"""A local-only patch to Chalice's stand-in for API Gateway, applied where `chalice local` and the test client run.

On AWS, API Gateway answers a path or method the API does not have with its
MISSING_AUTHENTICATION_TOKEN response, which ``infra/render.py`` configures as
404 ``not_found`` in the project's error shape. Chalice's ``LocalGateway``
(used by ``chalice local`` and ``chalice.test.Client``) imitates the gateway
but not its configured responses: it answers 403 ``{"message": "Missing
Authentication Token"}``. This patch makes it answer what the deployed gateway
answers, from the same table, so the local stack and AWS agree.
"""

from __future__ import annotations

import json
from typing import Any

_applied = False


def _not_found_exception() -> Any:
    from chalice.local import LocalGatewayException

    from infra.render import GATEWAY_RESPONSES

    status, code, message = GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"]

    class NoSuchRoute(LocalGatewayException):
        CODE = int(status or 404)

    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()
    return NoSuchRoute, body


def apply() -> None:
    """Patch ``chalice.local.LocalGateway`` (idempotent)."""
    global _applied
    if _applied:
        return
    from chalice.local import ForbiddenError, LocalGateway

    no_such_route, answer = _not_found_exception()
    original = LocalGateway.handle_request

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return original(self, method=method, path=path, headers=headers, body=body)
        except ForbiddenError as exc:
            if b"Missing Authentication Token" not in (exc.body or b"") and b"requires" not in (exc.body or b""):
                raise
            # raised before the app runs: the path matches no route of the API
            raise no_such_route({"Content-Type": "application/json", **exc.headers}, answer) from exc

    LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
    # `chalice local`'s HTTP server knows only the methods Chalice routes; any other (TRACE, CONNECT, QUERY)
    # got http.server's HTML 501. Through the gateway like the rest, they answer 405 method_not_allowed.
    from chalice.local import ChaliceRequestHandler

    def any_method(handler: Any, name: str) -> Any:
        if name.startswith("do_"):
            return handler._generic_handle
        raise AttributeError(name)

    ChaliceRequestHandler.__getattr__ = any_method  # type: ignore[attr-defined]
    _applied = True
