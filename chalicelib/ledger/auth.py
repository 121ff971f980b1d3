"""The ``auth`` member of an entry (LEDGER.md): a stored RFC 9421 signature.

Only what a verifier needs lives here: the RFC 9530 ``content-digest`` of the
body, and finding that digest in a stored signature base. Building and checking
live HTTP requests is the HTTP layer's concern.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .keys import public_key_from_jwk, signature_valid

AUTH_MEMBERS = frozenset({"kid", "base", "sig", "body"})


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest value with SHA-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def digests_in_base(base: str) -> list[str]:
    """The sha-256 members of every ``"content-digest"`` line of a signature base."""
    found = []
    for line in base.split("\n"):
        if not line.startswith('"content-digest"'):
            continue
        _, sep, value = line.partition(": ")
        if not sep:
            continue
        for member in value.split(","):
            member = member.strip()
            if member.startswith("sha-256="):
                found.append(member)
    return found


def auth_problem(auth: Any, jwk: dict[str, Any]) -> str | None:
    """Why ``auth`` does not verify under ``jwk``, or None when it does."""
    if not isinstance(auth, dict) or set(auth) != AUTH_MEMBERS:
        return "auth must have exactly kid, base, sig and body"
    if not all(isinstance(auth[name], str) for name in AUTH_MEMBERS):
        return "auth members must be strings"
    if auth["kid"] != jwk.get("kid"):
        return "auth.kid does not name the key"
    base_bytes = auth["base"].encode("utf-8")
    if not signature_valid(public_key_from_jwk(jwk), auth["sig"], base_bytes):
        return "auth.sig does not verify over auth.base"
    expected = content_digest(auth["body"].encode("utf-8"))
    if expected not in digests_in_base(auth["base"]):
        return "auth.base does not carry the content-digest of auth.body"
    return None
