"""Ed25519 keys as LEDGER.md publishes them: RFC 8037 OKP JWKs with a key id."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyFormatError(ValueError):
    """A JWK, key id or signature is not in the form LEDGER.md requires."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(raw_public_key: bytes) -> str:
    """The key id: the first 32 hex characters of SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:32]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_of(key: Ed25519PublicKey) -> dict[str, str]:
    raw = raw_public(key)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kid_of(raw)}


def public_key_from_jwk(jwk: Any) -> Ed25519PublicKey:
    """Parse and check a JWK: exact members, 32-byte key, and a kid that matches it."""
    if not isinstance(jwk, dict):
        raise KeyFormatError("a JWK must be an object")
    if set(jwk) != {"kty", "crv", "x", "kid"}:
        raise KeyFormatError("a JWK has exactly the members kty, crv, x and kid")
    if jwk["kty"] != "OKP" or jwk["crv"] != "Ed25519":
        raise KeyFormatError("a JWK must be kty OKP, crv Ed25519")
    x = jwk["x"]
    if not isinstance(x, str) or "=" in x or not x.isascii():
        raise KeyFormatError("x must be base64url without padding")
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("x is not base64url") from exc
    if len(raw) != 32 or b64url(raw) != x:
        raise KeyFormatError("x must encode exactly 32 bytes")
    if jwk["kid"] != kid_of(raw):
        raise KeyFormatError("kid does not match the key")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """An Ed25519 signature as standard base64 with padding."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def signature_valid(key: Ed25519PublicKey, signature_b64: Any, message: bytes) -> bool:
    if not isinstance(signature_b64, str):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("the sealer key must be Ed25519")
    return key
