"""Every error answers {"error": {"code", "message", "field"?}}, also the ones Chalice and its gateways make.

In process with chalice.test.Client, over real HTTP with `chalice local`, and
the middleware alone for the answers our views never provoke. None of these
requests reaches storage: moto is on only so that a mistake fails fast.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chalice.app import Response
from moto import mock_aws

from chalicelib.api.routing import error_shape

ROOT = Path(__file__).resolve().parents[2]
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_PATHS = ["/explorer", "/explorer/a/b", "/nope", "/chain", "/chain/nope", "/orders/o-1/nope", "/blocks/1/2",
                 "/.env", "/wp-admin/setup-config.php", "/a/b/c/d/e/f/g/h", "/" + "/".join("x" * 40)]
NOT_JSON = [None, "text/plain", "application/x-www-form-urlencoded", "application/octet-stream",
            "multipart/form-data; boundary=x", "application/jsonx", "text/json", "image/png"]


def _shape(status: int, headers: dict, raw: bytes, expected_status: int, code: str, field: str | None = None) -> dict:
    body = json.loads(raw)
    assert status == expected_status, body
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
    assert content_type == "application/json", headers
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]) <= {"code", "message", "field",
                                                                                     "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"].get("field") == field, body
    assert "Traceback" not in raw.decode()
    return body


def _error(response, status: int, code: str, field: str | None = None) -> dict:
    return _shape(response.status_code, response.headers, response.body, status, code, field)


@pytest.fixture
def client():
    from chalice.test import Client

    from app import app

    with mock_aws(), Client(app, stage_name="test") as test_client:
        yield test_client.http


def _concrete(path: str) -> str:
    return "/".join("x1" if part.startswith("{") else part for part in path.split("/"))


def _api_routes() -> dict[str, list[str]]:
    from app import app

    return {path: list(methods) for path, methods in app.routes.items()}


# --- in process

@pytest.mark.parametrize("method", ANY_METHOD)
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_answers_404_whatever_the_method(client, path, method):
    response = client.request(method, path, headers={"Content-Type": "text/plain"}, body=b"x")
    _error(response, 404, "not_found")


def test_every_route_refuses_the_methods_it_lacks_with_405_and_allow(client):
    routes = _api_routes()
    assert len(routes) > 30
    for path, methods in routes.items():
        # OPTIONS is answered by the local gateway itself (a CORS preflight), not refused.
        for method in sorted(set(ANY_METHOD) - set(methods) - {"OPTIONS"}):
            response = client.request(method, _concrete(path))
            _error(response, 405, "method_not_allowed")
            assert response.headers["Allow"] == ", ".join(methods), (method, path)


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_a_signed_route_takes_json_only(client, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    _error(client.post("/deposits", headers=headers, body=b"{}"), 415, "unsupported_media_type", "Content-Type")


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_passes_to_the_signature_check(client, content_type):
    _error(client.post("/deposits", headers={"Content-Type": content_type}, body=b"{}"), 401, "signature_missing")


def test_a_read_with_a_body_type_that_is_not_json_is_refused_in_shape(client):
    _error(client.get("/chain/head", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type",
           "Content-Type")


def test_an_event_chalice_cannot_route_answers_500_in_shape():
    from chalice.local import LambdaContext

    from app import app

    event = {"requestContext": {"httpMethod": "GET"}, "headers": {}, "multiValueQueryStringParameters": None,
             "pathParameters": None, "stageVariables": None, "body": None}
    answer = app(event, LambdaContext("api_handler", 1024, 30_000))
    _shape(answer["statusCode"], answer["headers"], answer["body"].encode(), 500, "internal_error")


# --- the middleware alone: answers Chalice makes that our views never provoke

def _chalice(status: int, code: str, message: str = "m", headers: dict | None = None) -> Response:
    return Response(body={"Code": code, "Message": message}, status_code=status, headers=headers or {})


@pytest.mark.parametrize("answer,status,code,field", [
    (_chalice(400, "BadRequestError", "Error Parsing JSON"), 400, "invalid_body", "body"),
    (_chalice(400, "BadRequest", "Request did not specify an Accept header with image/png"), 400,
     "invalid_parameter", "Accept"),
    (_chalice(401, "UnauthorizedError"), 401, "unauthenticated", None),
    (_chalice(403, "ForbiddenError"), 403, "forbidden", None),
    (_chalice(404, "NotFoundError"), 404, "not_found", None),
    (_chalice(405, "MethodNotAllowedError", headers={"Allow": "GET"}), 405, "method_not_allowed", None),
    (_chalice(408, "RequestTimeoutError"), 408, "request_refused", None),
    (_chalice(409, "ConflictError"), 409, "conflict", None),
    (_chalice(415, "UnsupportedMediaType", "Unsupported media type: text/plain"), 415, "unsupported_media_type",
     "Content-Type"),
    (_chalice(422, "UnprocessableEntityError"), 422, "request_refused", None),
    (_chalice(429, "TooManyRequestsError"), 429, "too_many_requests", None),
    (_chalice(500, "InternalServerError", "An internal server error occurred."), 500, "internal_error", None),
    (Response(body="Traceback (most recent call last):\n  File ...", status_code=500,
              headers={"Content-Type": "text/plain"}), 500, "internal_error", None),  # Chalice's debug mode
    (Response(body=None, status_code=502), 502, "internal_error", None),
    (Response(body={"x": 1}, status_code=700), 500, "internal_error", None),
])
def test_the_middleware_reshapes_chalices_own_answers(answer, status, code, field):
    response = error_shape(None, lambda event: answer)
    body = _shape(response.status_code, response.headers, json.dumps(response.body).encode(), status, code, field)
    if status == 405:
        assert response.headers["Allow"] == "GET" and "GET" in body["error"]["message"]


def test_the_middleware_passes_answers_already_in_shape_and_successes():
    ours = Response(body={"error": {"code": "insufficient_funds", "message": "m", "field": "amount"}},
                    status_code=409, headers={"Content-Type": "application/json"})
    assert error_shape(None, lambda event: ours) is ours
    fine = Response(body={"ok": True}, status_code=201)
    assert error_shape(None, lambda event: fine) is fine


def test_the_middleware_answers_500_in_shape_when_anything_raises():
    def broken(event):
        raise RuntimeError("secret detail")

    response = error_shape(None, broken)
    raw = json.dumps(response.body).encode()
    _shape(response.status_code, response.headers, raw, 500, "internal_error")
    assert b"secret detail" not in raw


# --- over real HTTP, with `chalice local`

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("chalice-local") / "local.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "COVENANT_"))}
    # No storage behind it: any request that reached for it would fail fast on a closed port.
    env.update({"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "POWERTOOLS_METRICS_DISABLED": "true"})
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1", "--port", str(port),
             "--stage", "local", "--no-autoreload"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("chalice local did not start:\n" + log_path.read_text()[-3000:]) from None
                    time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def _request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.e2e
@pytest.mark.parametrize("method,path,headers,body,status,code,field", [
    ("GET", "/no/such/path", {}, None, 404, "not_found", None),
    ("POST", "/nope", {"Content-Type": "text/plain"}, b"x", 404, "not_found", None),
    ("GET", "/nope", {"Authorization": "Bearer x"}, None, 404, "not_found", None),  # chalice local's other 403
    ("DELETE", "/chain/head", {}, None, 405, "method_not_allowed", None),
    ("GET", "/deposits", {}, None, 405, "method_not_allowed", None),
    ("POST", "/deposits", {}, b"{}", 415, "unsupported_media_type", "Content-Type"),
    ("POST", "/deposits", {"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type", "Content-Type"),
    ("POST", "/deposits", {"Content-Type": "application/octet-stream"}, b"\x00\xff", 415, "unsupported_media_type",
     "Content-Type"),
    ("GET", "/chain/head", {"Content-Type": "text/plain"}, None, 415, "unsupported_media_type", "Content-Type"),
    ("POST", "/deposits", {"Content-Type": "application/json"}, b"{}", 401, "signature_missing", None),
    ("POST", "/deposits", {"Content-Type": "application/json", "Signature-Input": "sig1=();keyid=\"k\"",
                           "Signature": "sig1=:AA==:, sig2=:AA==:"}, b"{}", 401, "signature_malformed", None),
])
def test_chalice_local_answers_in_the_error_shape(local_api, method, path, headers, body, status, code, field):
    answer_status, answer_headers, raw = _request(local_api, method, path, headers, body)
    _shape(answer_status, answer_headers, raw, status, code, field)
    if status == 405:
        assert answer_headers["Allow"] in ("GET", "POST")
