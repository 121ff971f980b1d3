"""`chalice local`'s HTTP server, as devstack/gateway_patch.py patches it: every method reaches the app.

Found by schemathesis (tests/fuzz/test_schemathesis.py): Python's http.server answered
TRACE, QUERY or any method Chalice does not route with a 501 HTML page.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer

from tests.e2e.test_local_stack import _free_port


@pytest.fixture
def local_server() -> Iterator[int]:
    from app import app

    port = _free_port()
    server = LocalDevServer(app, Config.create(chalice_app=app, lambda_timeout=30), "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.server.shutdown()
    server.server.server_close()
    thread.join(timeout=10)


def _send(port: int, method: str, path: str) -> tuple[int, dict[str, str], dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_no_route_takes_answers_405_in_the_error_shape(local_server, method):
    status, headers, body = _send(local_server, method, "/chain/head")

    assert status == 405
    assert headers["Content-Type"] == "application/json"
    assert headers["Allow"] == "GET"
    assert body == {"error": {"code": "method_not_allowed",
                              "message": "this path does not take this method; it takes GET"}}


def test_an_unknown_path_with_any_method_answers_the_gateways_404(local_server):
    status, _, body = _send(local_server, "TRACE", "/no/such/route")

    assert status == 404
    assert body["error"]["code"] == "not_found"
