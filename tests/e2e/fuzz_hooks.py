"""schemathesis hooks for tests/e2e/test_fuzz.py, loaded with ``SCHEMATHESIS_HOOKS=tests.e2e.fuzz_hooks``.

Just before schemathesis sends a request to a signed route, ``before_call``
signs it (RFC 9421) with a registered test node's key, over the exact body
bytes and target URI sent, with a fresh nonce and Idempotency-Key, so the
fuzzer reaches the handlers and not only the signature check. A case whose
generated signature headers are missing or empty is meant to be refused, and
is sent unsigned. Stamp-only routes are signed by the stamp node, a shipment by
the merchant, everything else by the consumer; a registration (``POST /nodes``)
by a fresh key whose public JWK replaces the body's, so that it can succeed.

Some generated identifiers are swapped for ones that exist (the consumer's and
merchant's wallets and nodes, an order, a proposal), chosen by a hash of the
generated value, so the same seed makes the same swaps; without them nearly
every request ends at ``not_found`` and no success answer is ever checked
against its schema. schemathesis revalidates a case the hook changed, so a
negative case made valid this way is judged as valid.

A failure listed in ``DOCUMENT_GAPS`` (a gap in the document, not a handler's
fault) is dropped by ``filter_failure`` and written to ``COVENANT_FUZZ_GAPS``.

``COVENANT_FUZZ_CONFIG`` names a JSON file written by the test: the API's base
URL, the PEM paths of the stamp, consumer and merchant keys, and the ids to
swap in. ``after_call`` writes a line for every answer to ``COVENANT_FUZZ_LOG``
(method, path template, status), so the test knows how many cases ran, over
which routes, and that signed requests got past the signature check.
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

from chalicelib.ledger import httpsig
from chalicelib.ledger.keys import jwk_of, private_key_from_pem

SIGNATURE_HEADERS = ("signature", "signature-input", "content-digest", "idempotency-key")
STAMP_ONLY = frozenset({"/deposits", "/withdrawals", "/sweeps", "/tallies", "/nodes/{node_id}/approval",
                        "/proposals/{proposal_id}/approval"})
MERCHANT_ONLY = frozenset({"/orders/{order_id}/shipment"})
# Which known id may stand in for a generated path parameter or body member of this name.
PATH_IDS = {"order_id": "order", "proposal_id": "proposal", "node_id": "merchant_node", "wallet_id": "wallet"}
BODY_IDS = {"wallet": "wallet", "seller": "merchant_node", "subject": "merchant_wallet"}
SWAP_ONE_IN = 2
# Failures that come from GET /openapi.json, not from the handlers: (check's failure code, operation, the
# answer's error code and field). Each is reported to the document's owner and dropped here, so that the test
# still fails on everything else; delete an entry once the document says what the handler does.
_INTEGER_PATH = "the path parameter is an integer; the document gives every path parameter one generic string"
_CROSS = "a rule across parameters, which OpenAPI cannot state"
_STATE = "depends on the stored state, which no schema can state"
DOCUMENT_GAPS: dict[tuple[str, str, str, str], str] = {
    ("ST202", "GET /blocks/{h}", "invalid_parameter", "h"): _INTEGER_PATH,
    ("ST202", "GET /blocks/{h}/checkpoint", "invalid_parameter", "h"): _INTEGER_PATH,
    ("ST202", "POST /checkpoints/{size}/cosignatures", "invalid_parameter", "size"): _INTEGER_PATH,
    ("ST202", "GET /blocks/{h}", "invalid_parameter", "cursor"): "a cursor past the block's entries; " + _STATE,
    ("ST202", "GET /proofs/consistency", "invalid_parameter", "first"): "first <= second: " + _CROSS,
    ("ST202", "GET /proofs/inclusion", "invalid_parameter", "index"): "index < size: " + _CROSS,
    ("ST202", "GET /rank", "invalid_parameter", "cursor"): "an opaque cursor: the document gives any string",
    ("ST202", "GET /wallets/{wallet_id}/history", "invalid_parameter", "cursor"):
        "an opaque cursor: the document gives any string",
    ("ST202", "GET /search", "invalid_parameter", "q"):
        "q holds a word: the document allows an empty or blank q (Query has no minimum length)",
    ("ST202", "POST /items", "invalid_body", "body"):
        "text, or sha256 and size, not both (PublishItem's model validator; the schema could say it with oneOf)",
    ("ST202", "POST /nodes", "invalid_body", "body"):
        "merchants with an identity, consumers without (RegisterNode's model validator; expressible with if/then)",
    ("ST202", "POST /nodes", "invalid_body", "identity.registered_ip"):
        "an IP address (a field validator; the schema could say format ipv4 or ipv6)",
    ("ST202", "POST /orders", "invalid_body", "body"): "unit_profit <= unit_price, and their product: " + _CROSS,
    ("ST202", "POST /proposals", "invalid_body", "body"):
        "params and subject follow the kind (OpenProposal's model validator; params is any object in the schema)",
}
# pydantic's strict integers refuse 163.0, which JSON Schema counts as the integer 163 (LEDGER.md: no floats
# anywhere, so the refusal is meant); a refusal of an integral float is dropped as well.
INTEGRAL_FLOAT = "Input should be a valid integer"
REQUEST_ARGUMENTS = ("method", "url", "headers", "params", "cookies", "data", "json", "files")


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

    The body is left as generated (a dict, say) rather than replaced by bytes, so that schemathesis still
    judges it valid or not against the schema; the bytes are the transport's own serialisation of it.
    """
    sent = case.as_transport_kwargs()
    prepared = requests.Request(**{name: sent[name] for name in REQUEST_ARGUMENTS if name in sent}).prepare()
    body = prepared.body or b""
    parts = urlsplit(str(prepared.url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}", body.encode("utf-8") if isinstance(body, str) else body


def _is_signed(operation: Any) -> bool:
    return any(p.get("in") == "header" and p.get("name") == "Signature"
               for p in operation.definition.raw.get("parameters", []))


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
    if case.operation.method.upper() != "POST" or not _is_signed(case.operation):
        return
    given = {name.lower(): value for name, value in (case.headers or {}).items()}
    if any(not given.get(name) for name in SIGNATURE_HEADERS):
        return  # a case missing a signature header is meant to be refused: sent as generated
    key = found["keys"][signer_of(case.operation.path)]
    if case.operation.path == "/nodes" and isinstance(case.body, dict) and isinstance(case.body.get("jwk"), dict):
        key = Ed25519PrivateKey.generate()  # a newcomer registering its own key
        case.body = {**case.body, "jwk": jwk_of(key.public_key())}
    url, raw = as_sent(case)
    headers = httpsig.sign_request(key, jwk_of(key.public_key())["kid"], "POST", url, raw, uuid.uuid4().hex,
                                   int(time.time()))
    kept = {name: value for name, value in (case.headers or {}).items() if name.lower() not in SIGNATURE_HEADERS}
    case.headers = {**kept, **headers}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    with open(os.environ["COVENANT_FUZZ_LOG"], "a", encoding="utf-8") as out:
        out.write(f"{case.method.upper()} {case.path} {response.status_code}\n")


def _answer_error(response: Any) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error.get("field", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", ""


def _integral_floats_refused(case: Any, response: Any) -> bool:
    """Whether every problem of an invalid_body answer is an integral float (163.0) given for an integer."""
    try:
        details = response.json()["error"]["details"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    for detail in details if isinstance(details, list) else [None]:
        value: Any = case.body
        for part in str((detail or {}).get("field", "")).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if (detail or {}).get("message") != INTEGRAL_FLOAT or not (isinstance(value, float) and value.is_integer()):
            return False
    return True


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    gap = (failure.code, f"{case.method.upper()} {case.path}", *_answer_error(response))
    if gap in DOCUMENT_GAPS:
        reason = DOCUMENT_GAPS[gap]
    elif failure.code == "ST202" and gap[2] == "invalid_body" and _integral_floats_refused(case, response):
        reason = "an integral float for an integer"
    else:
        return True
    with open(os.environ["COVENANT_FUZZ_GAPS"], "a", encoding="utf-8") as out:
        out.write(" ".join(gap) + f": {reason}\n")
    return False
