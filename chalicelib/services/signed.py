"""Signed requests: who is asking (RFC 9421, Ed25519), once only (nonces), and the first answer again.

Order of checks for every mutating request: the signature (coverage, clock,
expiry, body digest, key, Ed25519); then the ``Idempotency-Key``, whose first
answer a retry gets back unchanged even with the same, used nonce; then the
nonce, refused if seen before. The accepted request becomes the ``auth`` of
the entries it causes (LEDGER.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.records import Idempotency, KeyBinding, Node
from ..errors import Conflict, Forbidden, InvalidParameter, Unauthenticated
from ..ledger import httpsig
from ..ledger.keys import KeyFormatError, public_key_from_jwk, signature_valid
from ..store import backend
from ..store.port import Put

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
REMEMBER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SignedRequest:
    kid: str
    node: Node | None  # None only while a new key registers itself
    jwk: dict[str, str]
    auth: dict[str, str]
    idempotency_key: str
    request_hash: str
    nonce: str
    expires: int

    @property
    def node_id(self) -> str:
        if self.node is None:
            raise Forbidden("this key is not registered", code="unknown_key")
        return str(self.node.node_id)

    @property
    def body(self) -> str:
        return self.auth["body"]

    def _answer(self, status: int, answer: dict[str, Any]) -> Idempotency:
        return Idempotency(kid=self.kid, idempotency_key=self.idempotency_key, request_hash=self.request_hash,
                           status=status, body=json.dumps(answer, separators=(",", ":")),
                           expires_at=int(time.time()) + REMEMBER_SECONDS)

    def remember(self, status: int, answer: dict[str, Any]) -> Put:
        """The change that stores this request's answer with the change it made."""
        return Put(self._answer(status, answer))

    def first_answer(self) -> tuple[int, dict[str, Any]] | None:
        """The stored answer to this Idempotency-Key, if any; 409 when it was used for another request."""
        record = backend.state().get(Idempotency, Idempotency.key_of(self.kid, self.idempotency_key))
        if record is None:
            return None
        if record.request_hash != self.request_hash:
            raise Conflict("this Idempotency-Key was used for a different request", field="Idempotency-Key",
                           code="idempotency_key_reused")
        return int(record.status), dict(json.loads(record.body))

    def consume_nonce(self) -> None:
        """Refuse a nonce seen before; the same signed request sent twice at once waits for its first answer."""
        seen = backend.state().claim_nonce(self.kid, self.nonce, self.idempotency_key,
                                           self.expires + httpsig.MAX_SKEW_SECONDS + 60)
        if seen is None:
            return
        if seen == self.idempotency_key:
            # The signature covers the Idempotency-Key: this is the very same request.
            raise Conflict("this request is being processed; retry to get its answer", code="request_in_progress",
                           retryable=True)
        raise Unauthenticated("this signature's nonce was already used", code="nonce_reused")

    def release_nonce(self) -> None:
        """After a retryable failure that wrote nothing: the very same signed request may be sent again."""
        backend.state().release_nonce(self.kid, self.nonce, self.idempotency_key)

    def remember_refusal(self, status: int, answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Keep a refusal as this request's first answer; returns whichever answer was kept first."""
        try:
            backend.state().apply([self.remember(status, answer)])
        except Conflict:
            try:
                first = self.first_answer()
            except Conflict:
                first = None
            if first is not None:
                return first
        return status, answer


def _problem(exc: httpsig.SignatureProblem) -> Unauthenticated:
    return Unauthenticated(exc.message, code=exc.code)


def key_owner(kid: str) -> Node | None:
    store = backend.state()
    binding = store.get(KeyBinding, KeyBinding.key_of(kid))
    return None if binding is None else store.get(Node, Node.key_of(binding.node_id))


def authenticate(method: str, target_uri: str, headers: Mapping[str, str], body: bytes,
                 registering: dict[str, Any] | None = None, now: int | None = None) -> SignedRequest:
    """Verify a request's signature; ``registering`` is the JWK a new key presents for itself."""
    facts = httpsig.RequestFacts(method, target_uri, {k.lower(): v for k, v in headers.items()}, body)
    now = int(time.time()) if now is None else now
    try:
        parsed = httpsig.parse(facts.headers.get("signature-input"), facts.headers.get("signature"))
        httpsig.check_coverage(parsed)
        httpsig.check_time(parsed, now)
        httpsig.check_digest(facts)
        base = httpsig.signature_base(parsed, facts)
    except httpsig.SignatureProblem as exc:
        raise _problem(exc) from exc
    idempotency_key = facts.headers.get("idempotency-key", "")
    if not IDEMPOTENCY_KEY.match(idempotency_key):
        raise InvalidParameter("Idempotency-Key must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
                               field="Idempotency-Key")
    node = key_owner(parsed.kid)
    if node is not None:
        jwk = dict(json.loads(node.jwk))
        if node.status == "revoked":
            raise Forbidden("this key's node is revoked", code="key_revoked")
    elif registering is not None and isinstance(registering, dict) and registering.get("kid") == parsed.kid:
        jwk = registering
    else:
        raise Unauthenticated("no node holds this keyid", code="unknown_key")
    try:
        valid = signature_valid(public_key_from_jwk(jwk), base64.b64encode(parsed.signature).decode(),
                                base.encode("ascii"))
    except KeyFormatError as exc:
        raise InvalidParameter(f"jwk: {exc}", field="jwk") from exc
    if not valid:
        raise Unauthenticated("the signature does not verify", code="bad_signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameter("the body must be UTF-8 JSON", field="body") from exc
    path = facts.url.path
    request_hash = hashlib.sha256(f"{method.upper()} {path}\n".encode() + body).hexdigest()
    auth = {"kid": parsed.kid, "base": base, "sig": base64.b64encode(parsed.signature).decode("ascii"),
            "body": text}
    return SignedRequest(kid=parsed.kid, node=node, jwk=jwk, auth=auth, idempotency_key=idempotency_key,
                         request_hash=request_hash, nonce=str(parsed.params["nonce"]),
                         expires=int(parsed.params["expires"]))
