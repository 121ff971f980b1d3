"""schemathesis hooks for tests/fuzz/test_schemathesis.py, loaded with ``SCHEMATHESIS_HOOKS=tests.fuzz.hooks``.

Just before schemathesis sends a request to a signed route, ``before_call``
signs it (RFC 9421) with a registered test node's key, over the exact bytes
and target URI schemathesis's transport will send, with a fresh nonce and
Idempotency-Key, so the fuzzer reaches the handlers and not only the signature
check. A case whose signature headers were made invalid on purpose (or are
missing or empty) is sent as it was made, to be refused. Stamp-only routes are
signed by the stamp node, a shipment by the merchant, everything else by the
consumer; a registration (``POST /nodes``) by a fresh key whose public JWK
replaces the body's, so that it can succeed.

Some generated identifiers are swapped for ones that exist (the consumer's and
merchant's wallets and nodes, an order), chosen by a hash of the generated
value, so the same seed makes the same swaps: without them nearly every
request ends at ``not_found`` and few success answers are checked against
their schemas. schemathesis revalidates a case a hook changed, so a negative
case made valid this way is judged as valid.

``after_call`` writes a line for every answer to ``COVENANT_FUZZ_LOG`` (method,
path template, status): the test counts the cases from it, checks that every
operation ran and that every signed route answered past the signature check.
``filter_failure`` drops the failures listed in ``DOCUMENT_GAPS`` (rules a
schema cannot state, or that the document does not state yet), writing each to
``COVENANT_FUZZ_GAPS``; any other failure fails the run.

``COVENANT_FUZZ_CONFIG`` names a JSON file written by the test: the API's base
URL, the PEM paths of the stamp, consumer and merchant keys, and the ids to swap in.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters

from chalicelib.ledger import httpsig
from chalicelib.ledger.keys import jwk_of, private_key_from_pem
from chalicelib.services.signed import IDEMPOTENCY_KEY

SIGNED_HEADERS = ("signature", "signature-input", "content-digest", "idempotency-key")
STAMP_ONLY = frozenset({"/deposits", "/withdrawals", "/sweeps", "/tallies", "/nodes/{node_id}/approval",
                        "/proposals/{proposal_id}/approval"})
MERCHANT_ONLY = frozenset({"/orders/{order_id}/shipment"})
# Which known id may stand in for a generated path parameter or body member of this name.
PATH_IDS = {"order_id": "order", "node_id": "merchant_node", "wallet_id": "wallet"}
BODY_IDS = {"wallet": "wallet", "seller": "merchant_node", "subject": "merchant_wallet"}
SWAP_ONE_IN = 2
REQUEST_ARGUMENTS = ("method", "url", "headers", "params", "cookies", "data", "json", "files")

# Failures that come from GET /openapi.json, not from the handlers: (failure code, operation, the answer's error
# code and field) and why. tests/fuzz/schemathesis.toml takes 400 for whole operations whose parameters have
# rules OpenAPI cannot state; these are narrower, one refusal each. Delete an entry once the document says it.
DOCUMENT_GAPS: dict[tuple[str, str, str, str], str] = {
    ("ST202", "POST /items", "invalid_body", "body"):
        "text, or sha256 and size, not both (PublishItem's model validator; the schema could say it with oneOf)",
    ("ST202", "POST /nodes", "invalid_body", "body"):
        "merchants with an identity, consumers without (RegisterNode's model validator; expressible with if/then)",
    ("ST202", "POST /nodes", "invalid_body", "identity.registered_ip"):
        "an IP address (a field validator; the schema could say format ipv4 or ipv6)",
    ("ST202", "POST /uploads", "invalid_body", "size"):
        "an upload's largest size is a setting (COVENANT_MAX_UPLOAD_BYTES); the schema could give it as maximum",
    ("ST202", "POST /items", "invalid_body", "size"):
        "an upload's largest size is a setting (COVENANT_MAX_UPLOAD_BYTES); the schema could give it as maximum",
    ("ST202", "POST /orders", "invalid_body", "body"):
        "unit_profit <= unit_price, and quantity x unit_price <= 2^53 - 1: a rule across members, which a schema "
        "cannot state",
}
# pydantic's strict integers refuse 163.0, which JSON Schema counts as the integer 163: meant (LEDGER.md: no
# floats anywhere, and a signed body is kept as sent), so such a refusal is dropped too.
INTEGRAL_FLOAT = "Input should be a valid integer"


@functools.cache
def config() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(Path(os.environ["COVENANT_FUZZ_CONFIG"]).read_text())
    found["keys"] = {name: private_key_from_pem(Path(path).read_bytes()) for name, path in found["pems"].items()}
    return found


def signer_of(path: str) -> str:
    if path in STAMP_ONLY:
        return "stamp"
    return "merchant" if path in MERCHANT_ONLY else "consumer"


def swapped(value: Any, known: str | None) -> Any:
    """The known id instead of a generated string, for about one generated string in SWAP_ONE_IN."""
    if known is None or not isinstance(value, str) or zlib.crc32(value.encode("utf-8", "replace")) % SWAP_ONE_IN:
        return value
    return known


def as_sent(case: Any) -> tuple[str, bytes]:
    """The target URI (without its query) and the body bytes schemathesis's transport will send for this case.

    The body stays as generated (a dict, say), not replaced by bytes, so that schemathesis still judges it valid
    or not against the schema; the bytes are the transport's own serialisation of it.
    """
    sent = case.as_transport_kwargs()
    prepared = requests.Request(**{name: sent[name] for name in REQUEST_ARGUMENTS if name in sent}).prepare()
    body = prepared.body or b""
    parts = urlsplit(str(prepared.url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}", body.encode("utf-8") if isinstance(body, str) else body


def _is_signed(operation: Any) -> bool:
    return any(p.get("in") == "header" and p.get("name") == "Signature"
               for p in operation.definition.raw.get("parameters", []))


def _left_unsigned(case: Any) -> bool:
    """Whether the case's signature headers were made invalid, or left out, on purpose: it is sent as made."""
    negated = {name.lower() for name, _ in negated_parameters(case._meta)}
    if case._meta is not None and case._meta.is_negative_at(ParameterLocation.HEADER):
        negated.add("idempotency-key")  # the headers as a whole were made invalid
    given = {name.lower(): value for name, value in (case.headers or {}).items()}
    return bool(negated & {*SIGNED_HEADERS, "content-type"}) or any(not given.get(name) for name in SIGNED_HEADERS)


def _swap_ids(case: Any, ids: dict[str, str]) -> None:
    if case.path_parameters:
        case.path_parameters = {name: swapped(value, ids.get(PATH_IDS.get(name, ""))) for name, value
                                in case.path_parameters.items()}
    if isinstance(case.body, dict):
        case.body = {name: swapped(value, ids.get(BODY_IDS.get(name, ""))) for name, value in case.body.items()}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    found = config()
    _swap_ids(case, found["ids"])
    if case.operation.method.upper() != "POST" or not _is_signed(case.operation) or _left_unsigned(case):
        return
    key = found["keys"][signer_of(case.operation.path)]
    if case.operation.path == "/nodes" and isinstance(case.body, dict) and isinstance(case.body.get("jwk"), dict):
        key = Ed25519PrivateKey.generate()  # a newcomer registering its own key
        case.body = {**case.body, "jwk": jwk_of(key.public_key())}
    # A valid Idempotency-Key is replaced by a fresh one (so cases do not collide); an invalid one is kept, and
    # signed as it is, for the server to refuse.
    given = {name.lower(): value for name, value in case.headers.items()}
    idempotency_key = str(given["idempotency-key"])
    if IDEMPOTENCY_KEY.match(idempotency_key):
        idempotency_key = uuid.uuid4().hex
    case.headers = {name: value for name, value in case.headers.items() if name.lower() not in SIGNED_HEADERS}
    url, raw = as_sent(case)
    case.headers = {**case.headers, **httpsig.sign_request(key, jwk_of(key.public_key())["kid"], "POST", url, raw,
                                                           idempotency_key, int(time.time()))}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    with open(os.environ["COVENANT_FUZZ_LOG"], "a", encoding="utf-8") as out:
        out.write(f"{case.method.upper()} {case.path} {response.status_code}\n")


def _error_of(response: Any) -> dict[str, Any]:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def integral_floats_refused(body: Any, error: dict[str, Any]) -> bool:
    """Whether every problem of an invalid_body answer is an integral float (163.0) given for an integer."""
    details = error.get("details")
    if error.get("code") != "invalid_body" or not isinstance(details, list) or not details:
        return False
    for detail in details:
        value = body
        for part in str(detail.get("field", "") if isinstance(detail, dict) else "").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if detail.get("message") != INTEGRAL_FLOAT or not (isinstance(value, float) and value.is_integer()):
            return False
    return True


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    error = _error_of(response)
    gap = (failure.code, f"{case.method.upper()} {case.path}", str(error.get("code", "")),
           str(error.get("field", "")))
    if gap in DOCUMENT_GAPS:
        reason = DOCUMENT_GAPS[gap]
    elif failure.code == "ST202" and integral_floats_refused(case.body, error):
        reason = "an integral float for an integer"
    else:
        return True
    with open(os.environ["COVENANT_FUZZ_GAPS"], "a", encoding="utf-8") as out:
        out.write(" ".join(gap) + f": {reason}\n")
    return False
