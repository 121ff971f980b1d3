"""A local-only patch to Chalice's stand-in for API Gateway, applied where `chalice local` and the test client run.

On AWS, API Gateway answers a path or method the API does not have with its
MISSING_AUTHENTICATION_TOKEN response, which ``infra/render.py`` configures as
404 ``not_found`` in the project's error shape. Chalice's ``LocalGateway``
(used by ``chalice local`` and ``chalice.test.Client``) imitates the gateway
but not its configured responses: it answers 403 ``{"message": "Missing
Authentication Token"}``. This patch makes it answer what the deployed gateway
answers, from the same table, so the local stack and AWS agree.

``chalice local``'s HTTP server also handles only the methods Chalice routes
(GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS): Python's ``http.server``
answered any other (``TRACE``, ``QUERY``, ...) with a 501 HTML page. Every
method now goes to the app, which answers one no route takes with 405
``method_not_allowed`` in the project's error shape.
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
    from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalGateway

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

    def any_method(self: Any, name: str) -> Any:
        # http.server looks up do_<METHOD> for each request; the ones Chalice defines are found before this
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    ChaliceRequestHandler.__getattr__ = any_method  # type: ignore[attr-defined]
    _applied = True
