"""RFC 9421 signed requests: every refusal has its own status and code; an independent client works."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.actors import Actor, answer, expect, register_consumer

PATH = "/program/authorisations"


@pytest.fixture
def consumer(http):
    return register_consumer(http)


def _post(http, path, raw, headers):
    return http.post(path, body=raw, headers=headers)


def test_a_well_signed_request_is_accepted_and_its_auth_is_stored(consumer):
    body = expect(consumer.post(PATH), 201)
    from chalicelib.store.ledger import get_entry

    entry = json.loads(get_entry(body["entry"], consistent=True).body)
    assert entry["auth"]["kid"] == consumer.kid and entry["actor"] == consumer.node
    from chalicelib.ledger.auth import auth_problem

    assert auth_problem(entry["auth"], consumer.jwk) is None


def test_a_route_taking_the_empty_object_takes_no_body_and_no_content_type(consumer, http):
    # Found by schemathesis: the document makes such a body optional, and the route answered 415 without one
    headers = {name: value for name, value in consumer.signed_headers(PATH, b"").items() if name != "Content-Type"}
    body = expect(_post(http, PATH, b"", headers), 201)
    assert body["entry"]


def test_a_body_without_content_type_is_still_refused(consumer, http):
    headers = {name: value for name, value in consumer.signed_headers(PATH, b"{}").items() if name != "Content-Type"}
    expect(_post(http, PATH, b"{}", headers), 415, "unsupported_media_type")


def test_missing_signature_headers(http):
    raw = b"{}"
    response = _post(http, PATH, raw, {"Content-Type": "application/json", "Host": "localhost"})
    expect(response, 401, "signature_missing")


def test_malformed_signature_headers(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Signature-Input"] = "sig1=not a list ((("
    expect(_post(http, PATH, raw, headers), 401, "signature_malformed")


def test_a_signature_must_cover_the_body_digest(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Signature-Input"] = headers["Signature-Input"].replace(' "content-digest"', "")
    expect(_post(http, PATH, raw, headers), 401, "signature_incomplete")


def test_unknown_key(http):
    stranger = Actor(http)
    expect(stranger.post(PATH), 401, "unknown_key")


def test_a_body_that_does_not_match_its_digest(consumer, http):
    headers = consumer.signed_headers(PATH, b"{}")
    expect(_post(http, PATH, b'{"x":1}', headers), 401, "digest_mismatch")


def test_a_bad_signature(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Idempotency-Key"] = "changed-after-signing"
    expect(_post(http, PATH, raw, headers), 401, "bad_signature")


def test_a_signature_from_another_key_with_this_keyid(consumer, http):
    impostor = Actor(http, key=Ed25519PrivateKey.generate())
    raw = b"{}"
    headers = impostor.signed_headers(PATH, raw)
    headers["Signature-Input"] = headers["Signature-Input"].replace(impostor.kid, consumer.kid)
    expect(_post(http, PATH, raw, headers), 401, "bad_signature")


def test_clock_skew_beyond_five_minutes(consumer):
    expect(consumer.post(PATH, now=int(time.time()) - 400, lifetime=600), 401, "clock_skew")
    expect(consumer.post(PATH, now=int(time.time()) + 400), 401, "clock_skew")


def test_an_expired_signature(consumer):
    expect(consumer.post(PATH, now=int(time.time()) - 100, lifetime=60), 401, "signature_expired")


def test_a_reused_nonce(consumer):
    expect(consumer.post("/program/authorisations", nonce="same-nonce-123"), 201)
    expect(consumer.post("/program/authorisations", nonce="same-nonce-123"), 401, "nonce_reused")


def test_an_unsupported_algorithm(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="ed25519"', 'alg="rsa-pss-sha512"')
    expect(_post(http, PATH, raw, headers), 401, "unsupported_algorithm")


def test_a_key_cannot_act_for_another_nodes_wallet(running):
    buyer, other = running.consumers[0], running.consumers[1]
    response = buyer.post("/orders", {"wallet": other.wallet, "seller": running.merchant.node, "quantity": 1,
                                      "unit_price": 1000, "unit_profit": 100})
    expect(response, 403, "not_your_wallet")


def test_refusal_codes_are_distinct():
    codes = ["signature_missing", "signature_malformed", "signature_incomplete", "unknown_key", "digest_mismatch",
             "bad_signature", "clock_skew", "signature_expired", "nonce_reused", "unsupported_algorithm",
             "not_your_wallet"]
    assert len(set(codes)) == len(codes)


def test_a_retry_returns_the_first_answer_and_changes_nothing(running):
    stamp, wallet = running.stamp, running.consumers[0].wallet
    raw = json.dumps({"wallet": wallet, "amount": 700}).encode()
    headers = stamp.signed_headers("/deposits", raw, idempotency_key="deposit-1")
    first = _post(running.http, "/deposits", raw, headers)
    again = _post(running.http, "/deposits", raw, headers)  # the very same request, nonce and all
    assert first.status_code == again.status_code == 201
    assert answer(first) == answer(again) and again.headers.get("Idempotent-Replayed") == "true"
    resigned = stamp.post("/deposits", {"wallet": wallet, "amount": 700}, idempotency_key="deposit-1")
    assert answer(resigned) == answer(first)
    balance = answer(running.http.get(f"/wallets/{wallet}"))["balances"]["fiat"]
    assert balance == 500_000 + 700


def test_the_same_idempotency_key_for_another_request_is_refused(running):
    wallet = running.consumers[0].wallet
    expect(running.stamp.post("/deposits", {"wallet": wallet, "amount": 1}, idempotency_key="k-1"), 201)
    expect(running.stamp.post("/deposits", {"wallet": wallet, "amount": 2}, idempotency_key="k-1"), 409,
           "idempotency_key_reused")


def test_the_independent_requests_http_signature_client_is_accepted(consumer, http):
    from requests_http_signature import HTTPSignatureAuth, algorithms

    request = requests.Request("POST", f"http://localhost{PATH}", data=b"{}",
                               headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
    prepared = request.prepare()
    auth = HTTPSignatureAuth(signature_algorithm=algorithms.ED25519, key=consumer.key, key_id=consumer.kid,
                             covered_component_ids=("@method", "@target-uri", "content-digest", "idempotency-key"),
                             use_nonce=True, expires_in=__import__("datetime").timedelta(minutes=5))
    signed = auth(prepared)
    headers = {k: v for k, v in signed.headers.items()}
    headers["Host"] = "localhost"
    expect(_post(http, PATH, signed.body, headers), 201)


IDENTITY = {"legal_name": "Acme", "licence_number": "L-1", "registered_ip": "198.51.100.4", "contact": "a@b.example"}


@pytest.mark.parametrize("change,field", [
    ({"role": "admin"}, "role"),
    ({"role": "merchant"}, "body"),  # a merchant needs its identity
    ({"identity": IDENTITY}, "body"),  # a consumer has none
    ({"role": "merchant", "identity": {**IDENTITY, "registered_ip": "not-an-ip"}}, "identity.registered_ip"),
    ({"role": "merchant", "identity": {**IDENTITY, "legal_name": ""}}, "identity.legal_name"),
    ({"extra": 1}, "extra"),
])
def test_registration_bodies_are_validated_field_by_field(http, change, field):
    actor = Actor(http)
    error = expect(actor.post("/nodes", {"role": "consumer", "jwk": actor.jwk, **change}), 400, "invalid_body")
    assert error["error"]["field"] == field and error["error"]["details"]


def test_registering_someone_elses_key_is_refused(http):
    actor, other = Actor(http), Actor(http)
    expect(actor.post("/nodes", {"role": "consumer", "jwk": other.jwk}), 401, "unknown_key")


def test_a_key_registers_once(http):
    consumer = register_consumer(http)
    expect(consumer.post("/nodes", {"role": "consumer", "jwk": consumer.jwk}), 409, "key_already_registered")


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"wallet": "w", "amount": 1.5}',
                                  b'{"wallet": "w", "amount": "100"}', b'{"wallet": "w", "amount": -5}'])
def test_malformed_bodies_answer_400(running, body):
    headers = running.stamp.signed_headers("/deposits", body)
    response = running.http.post("/deposits", body=body, headers=headers)
    expect(response, 400, "invalid_body")


def test_a_refusal_is_the_first_answer_too(running):
    buyer = running.consumers[0]
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": running.merchant.node, "quantity": 1,
                                          "unit_price": 600_000, "unit_profit": 0}), 201)
    path = f"/orders/{order['order']}/payment"
    expect(buyer.post(path, {"wallet": buyer.wallet}, idempotency_key="pay-1"), 409, "insufficient_funds")
    expect(running.stamp.post("/deposits", {"wallet": buyer.wallet, "amount": 200_000}), 201)
    retry = buyer.post(path, {"wallet": buyer.wallet}, idempotency_key="pay-1")  # re-signed, same key
    expect(retry, 409, "insufficient_funds")
    assert retry.headers.get("Idempotent-Replayed") == "true"
    expect(buyer.post(path, {"wallet": buyer.wallet}, idempotency_key="pay-2"), 200)  # a new attempt


def test_the_same_request_twice_at_once_is_told_to_retry_not_refused(consumer, http):
    from chalicelib.store import backend

    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw, idempotency_key="once", nonce="nonce-in-flight")
    assert backend.state().claim_nonce(consumer.kid, "nonce-in-flight", "once", 2**31) is None
    expect(_post(http, PATH, raw, headers), 409, "request_in_progress")


def test_deeply_nested_json_is_refused_cleanly(http):
    actor = Actor(http)
    raw = b"[" * 50_000
    response = _post(http, "/nodes", raw, actor.signed_headers("/nodes", raw))
    assert response.status_code in (400, 401), response.body


def test_a_malformed_keyid_is_refused(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Signature-Input"] = headers["Signature-Input"].replace(consumer.kid, "x" * 3000)
    expect(_post(http, PATH, raw, headers), 401, "signature_malformed")


def test_malformed_path_parameters_answer_400(running):
    expect(running.consumers[0].post("/orders/" + "o" * 200 + "/payment", {"wallet": "w"}), 400, "invalid_parameter")
    expect(running.http.get("/orders/" + "x" * 200), 400, "invalid_parameter")


def test_a_configured_origin_binds_signatures_to_this_deployment(consumer, http, monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("COVENANT_PUBLIC_ORIGIN", "https://api.covenant.example")
    reset_settings()
    try:
        expect(consumer.post(PATH), 401, "bad_signature")  # signed for http://localhost
        raw = b"{}"
        from chalicelib.ledger import httpsig

        headers = httpsig.sign_request(consumer.key, consumer.kid, "POST", f"https://api.covenant.example{PATH}",
                                       raw, uuid.uuid4().hex, int(time.time()))
        expect(_post(http, PATH, raw, {**headers, "Content-Type": "application/json", "Host": "evil.example"}), 201)
    finally:
        monkeypatch.delenv("COVENANT_PUBLIC_ORIGIN")
        reset_settings()


# --- one signature per request, bound to this deployment whichever components it covers

PRODUCTION = "https://api.covenant.example"
STAGING = "https://staging.example"
COMPONENT_FORM = ("@method", "@authority", "@path", "@query", "content-digest", "idempotency-key")


@pytest.fixture
def production_origin(monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("COVENANT_PUBLIC_ORIGIN", PRODUCTION)
    reset_settings()
    yield PRODUCTION
    monkeypatch.delenv("COVENANT_PUBLIC_ORIGIN")
    reset_settings()


def _signed_for(actor, origin, components, raw=b"{}"):
    from chalicelib.ledger import httpsig

    headers = httpsig.sign_request(actor.key, actor.kid, "POST", origin + PATH, raw, uuid.uuid4().hex,
                                   int(time.time()), components=components)
    return {**headers, "Content-Type": "application/json", "Host": "localhost"}


@pytest.mark.parametrize("extra", ["{sig}, sig2=:{other}:", "sig2=:{other}:, {sig}", "{sig}, sig1b={value}"])
def test_two_signature_labels_are_refused(consumer, http, extra):
    import base64

    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    value = headers["Signature"].partition("=")[2]
    other = base64.b64encode(bytes(64)).decode()
    headers["Signature"] = extra.format(sig=headers["Signature"], other=other, value=value)
    expect(_post(http, PATH, raw, headers), 401, "signature_malformed")


def test_a_signature_labelled_otherwise_than_its_input_is_refused(consumer, http):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    headers["Signature"] = headers["Signature"].replace("sig1=", "sig2=", 1)
    expect(_post(http, PATH, raw, headers), 401, "signature_malformed")


def test_a_staging_signature_over_path_and_query_is_refused(consumer, http, production_origin):
    components = ("@method", "@path", "@query", "content-digest", "idempotency-key")
    error = expect(_post(http, PATH, b"{}", _signed_for(consumer, STAGING, components)), 401, "signature_incomplete")
    assert "@authority" in error["error"]["message"]


def test_path_and_query_without_authority_are_incomplete_without_an_origin_too(consumer, http):
    components = ("@method", "@path", "@query", "content-digest", "idempotency-key")
    raw = b"{}"
    expect(_post(http, PATH, raw, _signed_for(consumer, "http://localhost", components)), 401, "signature_incomplete")


def test_a_staging_signature_over_authority_path_and_query_is_refused(consumer, http, production_origin):
    expect(_post(http, PATH, b"{}", _signed_for(consumer, STAGING, COMPONENT_FORM)), 401, "bad_signature")


def test_a_signature_over_authority_path_and_query_is_accepted(consumer, http, production_origin):
    headers = _signed_for(consumer, PRODUCTION, COMPONENT_FORM)
    expect(_post(http, PATH, b"{}", {**headers, "Host": "staging.example"}), 201)


def test_a_default_port_in_the_host_does_not_change_the_authority(http):
    actor = Actor(http)
    raw = json.dumps({"role": "consumer", "jwk": actor.jwk}).encode()
    from chalicelib.ledger import httpsig

    headers = httpsig.sign_request(actor.key, actor.kid, "POST", "https://covenant.example/nodes", raw,
                                   uuid.uuid4().hex, int(time.time()), components=COMPONENT_FORM)
    headers.update({"Content-Type": "application/json", "Host": "covenant.example:443", "X-Forwarded-Proto": "https"})
    expect(_post(http, "/nodes", raw, headers), 201)


def _independent_signer(actor):
    from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

    keys = MappingKeyResolver(private_keys={actor.kid: actor.key}, public_keys={})
    return HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=keys)


def _independent_signature(consumer, url, raw, components):
    """Sign with pyauth's http-message-signatures, unmodified: it computes the components itself."""
    import datetime

    request = requests.Request("POST", url, data=raw, headers={"Content-Type": "application/json",
                                                               "Idempotency-Key": uuid.uuid4().hex}).prepare()
    created = datetime.datetime.now(datetime.UTC)
    _independent_signer(consumer).sign(request, key_id=consumer.kid, created=created, nonce=uuid.uuid4().hex,
                                       expires=created + datetime.timedelta(minutes=5),
                                       covered_component_ids=components, body=raw)
    return {k: v for k, v in request.headers.items()}


@pytest.mark.parametrize("components", [("@method", "@authority", "@target-uri", "idempotency-key"),
                                        ("@method", "@authority", "@path", "@query", "idempotency-key")])
def test_the_independent_http_message_signatures_client_is_accepted(consumer, http, production_origin, components):
    raw = b"{}"
    headers = _independent_signature(consumer, f"{PRODUCTION}{PATH}", raw, components)
    assert "content-digest" in headers["Signature-Input"]  # the library adds it itself when given the body
    expect(_post(http, PATH, raw, headers), 201)


def test_the_independent_client_signing_for_staging_is_refused(consumer, http, production_origin):
    raw = b"{}"
    headers = _independent_signature(consumer, f"{STAGING}{PATH}", raw,
                                     ("@method", "@authority", "@path", "@query", "idempotency-key"))
    expect(_post(http, PATH, raw, headers), 401, "bad_signature")
    headers = _independent_signature(consumer, f"{STAGING}{PATH}", raw,
                                     ("@method", "@path", "@query", "idempotency-key"))
    expect(_post(http, PATH, raw, headers), 401, "signature_incomplete")


def test_the_independent_client_appending_a_second_signature_is_refused(consumer, http, production_origin):
    raw = b"{}"
    headers = _independent_signature(consumer, f"{PRODUCTION}{PATH}", raw,
                                     ("@method", "@authority", "@target-uri", "idempotency-key"))
    assert len(headers["Signature"].split(",")) == 1
    request = requests.Request("POST", f"{PRODUCTION}{PATH}", data=raw, headers=headers).prepare()
    _independent_signer(consumer).sign(request, key_id=consumer.kid, label="second", append_if_signature_exists=True,
                                       use_existing_digest=True, covered_component_ids=("@method",))
    headers = {k: v for k, v in request.headers.items()}
    expect(_post(http, PATH, raw, headers), 401, "signature_malformed")


def _api_gateway_event(headers: dict, lines: dict, raw: bytes) -> dict:
    """A REST API proxy event as API Gateway sends it: one value per header, and every line apart."""
    return {"resource": PATH, "path": PATH, "httpMethod": "POST", "headers": headers, "multiValueHeaders": lines,
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None, "body": raw.decode(), "isBase64Encoded": False,
            "requestContext": {"resourcePath": PATH, "httpMethod": "POST", "path": PATH, "stage": "api",
                               "requestId": uuid.uuid4().hex, "identity": {"sourceIp": "198.51.100.1"}}}


def _invoke(event: dict) -> tuple[int, dict]:
    from chalice.local import LambdaContext

    from app import app

    answer = app(event, LambdaContext("api_handler", 1024, 30_000))
    return answer["statusCode"], json.loads(answer["body"])


def test_a_signature_sent_on_one_line_each_through_api_gateway_is_accepted(consumer):
    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    status, body = _invoke(_api_gateway_event(headers, {k: [v] for k, v in headers.items()}, raw))
    assert status == 201, body


def test_two_signature_lines_through_api_gateway_are_refused(consumer):
    import base64

    raw = b"{}"
    headers = consumer.signed_headers(PATH, raw)
    lines = {k: [v] for k, v in headers.items()}
    # API Gateway's `headers` keeps the last line only: without combining them, this would verify.
    lines["Signature"] = ["sig2=:" + base64.b64encode(bytes(64)).decode() + ":", headers["Signature"]]
    status, body = _invoke(_api_gateway_event(headers, lines, raw))
    assert (status, body["error"]["code"]) == (401, "signature_malformed"), body
