"""schemathesis hooks (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.hooks): each generated request to a signed route
is signed, just before it is sent, by a registered test node's key, over the exact bytes sent.

``COVENANT_FUZZ_KEYS`` names a JSON file: the API's base URL and the PEM paths of the stamp, a consumer and a
merchant. Every case the fuzzer sends is counted, one line in ``COVENANT_FUZZ_COUNT`` per call, so the test knows
how many ran.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters

from chalicelib.ledger import httpsig
from chalicelib.ledger.keys import jwk_of, private_key_from_pem
from chalicelib.services.signed import IDEMPOTENCY_KEY

STAMP_ONLY = ("/deposits", "/withdrawals", "/sweeps", "/tallies", "/nodes/{node_id}/approval",
              "/proposals/{proposal_id}/approval")
MERCHANT = ("/orders/{order_id}/shipment",)
SIGNED_HEADERS = ("signature", "signature-input", "content-digest", "idempotency-key", "content-type")


@functools.cache
def _config() -> dict[str, Any]:
    with open(os.environ["COVENANT_FUZZ_KEYS"], encoding="utf-8") as config:
        found: dict[str, Any] = json.load(config)
    found["keys"] = {name: private_key_from_pem(Path(path).read_bytes()) for name, path in found["pems"].items()}
    return found


def _signer(path: str) -> str:
    if path in STAMP_ONLY:
        return "stamp"
    return "merchant" if path in MERCHANT else "consumer"


def _count() -> None:
    with open(os.environ["COVENANT_FUZZ_COUNT"], "a", encoding="utf-8") as out:
        out.write("1\n")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _count()
    operation = case.operation
    if operation.method.upper() != "POST" or not any(
            p.get("name") == "Signature" for p in operation.definition.raw.get("parameters", [])):
        return
    negated = {name.lower() for name, _ in negated_parameters(case._meta)}
    if case._meta is not None and case._meta.is_negative_at(ParameterLocation.HEADER):
        negated.add("idempotency-key")  # the headers as a whole were made invalid: not signed
    if negated & set(SIGNED_HEADERS):
        return  # a case whose signature headers were made invalid on purpose is sent as it was made
    given = {name.lower(): value for name, value in (case.headers or {}).items()}
    if any(not given.get(name) for name in ("signature", "signature-input", "content-digest")) \
            or "idempotency-key" not in given:
        return  # a case without (or with an empty) signature header is meant to be refused: left unsigned
    # A valid Idempotency-Key is replaced by a fresh one (so cases do not collide); an invalid one is kept, and
    # signed as it is, for the server to refuse.
    idempotency_key = given["idempotency-key"]
    if IDEMPOTENCY_KEY.match(str(idempotency_key)):
        idempotency_key = uuid.uuid4().hex
    # The bytes requests will send, signed as they are: schemathesis hands a JSON body to requests' json=,
    # which writes json.dumps(body) with its default separators (the body itself is left as generated, so
    # schemathesis still knows which cases are valid).
    body = case.body
    if isinstance(body, bytes):
        raw = body
    elif body is None:
        raw = b"null"
    elif type(body).__name__ == "NotSet":
        raw = b""
    else:
        raw = json.dumps(body, allow_nan=False).encode("utf-8")
    config = _config()
    key = config["keys"][_signer(operation.path)]
    url = config["api"] + case.formatted_path
    headers = httpsig.sign_request(key, jwk_of(key.public_key())["kid"], "POST", url, raw, str(idempotency_key),
                                   int(time.time()))
    kept = {name: value for name, value in (case.headers or {}).items() if name.lower() not in SIGNED_HEADERS}
    case.headers = {**kept, **headers, "Content-Type": "application/json"}
