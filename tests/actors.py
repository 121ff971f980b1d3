"""Nodes as clients: each holds its own key (made here, never sent) and signs its requests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger import httpsig
from chalicelib.ledger.keys import jwk_of

HOST = "localhost"


class Actor:
    def __init__(self, http: Any, key: Ed25519PrivateKey | None = None, node: str | None = None,
                 wallet: str | None = None):
        self.http = http
        self.key = key or Ed25519PrivateKey.generate()
        self.node = node
        self.wallet = wallet

    @property
    def jwk(self) -> dict[str, str]:
        return jwk_of(self.key.public_key())

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def signed_headers(self, path: str, raw: bytes, idempotency_key: str | None = None, now: int | None = None,
                       lifetime: int = 300, nonce: str | None = None) -> dict[str, str]:
        headers = httpsig.sign_request(self.key, self.kid, "POST", f"http://{HOST}{path}", raw,
                                       idempotency_key or uuid.uuid4().hex, int(time.time()) if now is None else now,
                                       lifetime=lifetime, nonce=nonce)
        return {**headers, "Content-Type": "application/json", "Host": HOST}

    def post(self, path: str, body: dict[str, Any] | None = None, **options: Any) -> Any:
        raw = json.dumps(body or {}).encode()
        return self.http.post(path, body=raw, headers=self.signed_headers(path, raw, **options))

    def get(self, path: str) -> Any:
        return self.http.get(path)


def answer(response: Any) -> dict[str, Any]:
    return json.loads(response.body)


def expect(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    body = answer(response)
    assert response.status_code == status, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


def register_consumer(http: Any) -> Actor:
    actor = Actor(http)
    body = expect(actor.post("/nodes", {"role": "consumer", "jwk": actor.jwk}), 201)
    actor.node, actor.wallet = body["node"], body["wallet"]
    return actor


def register_merchant(http: Any, stamp: Actor, name: str = "Acme Trading Ltd", licence: str = "LIC-001") -> Actor:
    actor = Actor(http)
    identity = {"legal_name": name, "licence_number": licence, "registered_ip": "203.0.113.7",
                "contact": "ops@acme.example"}
    body = expect(actor.post("/nodes", {"role": "merchant", "jwk": actor.jwk, "identity": identity}), 201)
    actor.node = body["node"]
    approved = expect(stamp.post(f"/nodes/{actor.node}/approval"), 200)
    actor.wallet = approved["wallet"]
    return actor
