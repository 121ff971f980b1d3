"""RFC 9421 HTTP Message Signatures with Ed25519, for requests (server checks and client signing).

Pure: the caller supplies the request's facts and the key; storage of keys and
nonces is elsewhere. Structured fields (RFC 8941) are parsed and serialised by
``http_sf``. What a signature must cover is Covenant's policy:
``@method``, ``@target-uri`` (or all of ``@authority``, ``@path`` and
``@query``), ``content-digest`` and ``idempotency-key``, with the parameters
``created``, ``expires``, ``nonce`` and ``keyid`` (and ``alg``, if present,
must be ``ed25519``). A request carries exactly one signature: one label in
``Signature-Input`` and the same one, alone, in ``Signature``.

``@authority`` is required with the ``@path``/``@query`` form, always, so that
both forms name the deployment: the server computes it (and ``@target-uri``)
from ``COVENANT_PUBLIC_ORIGIN`` when set, else from the request's ``Host``. A
signature made for staging never verifies on production, whichever form it uses.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .auth import content_digest

REQUIRED_PARAMS = ("created", "expires", "nonce", "keyid")
REQUIRED_HEADERS = ("content-digest", "idempotency-key")
MAX_SKEW_SECONDS = 300
MAX_LIFETIME_SECONDS = 600
CLIENT_COMPONENTS = ("@method", "@target-uri", "content-digest", "idempotency-key")
_KID = re.compile(r"^[0-9a-f]{32}$")


class SignatureProblem(Exception):
    """Why a request's signature is refused, with a stable code and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class RequestFacts:
    method: str
    target_uri: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @property
    def url(self) -> Any:
        return urlsplit(self.target_uri)


@dataclass(frozen=True)
class ParsedSignature:
    label: str
    components: tuple[str, ...]
    params: dict[str, Any]
    params_text: str
    signature: bytes

    @property
    def kid(self) -> str:
        return str(self.params["keyid"])


def _authority(scheme: str, netloc: str) -> str:
    """RFC 9421 2.2.3: the host, lower-case, with the port only when it is not the scheme's default."""
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default is not None and netloc.endswith(default):
        return netloc[: -len(default)]
    return netloc


def _component_value(name: str, facts: RequestFacts) -> str:
    url = facts.url
    if name == "@method":
        return facts.method.upper()
    if name == "@target-uri":
        return facts.target_uri
    if name == "@authority":
        return _authority(str(url.scheme).lower(), str(url.netloc).lower())
    if name == "@scheme":
        return str(url.scheme).lower()
    if name == "@path":
        return str(url.path) or "/"
    if name == "@query":
        return "?" + str(url.query)
    if name == "@request-target":
        return (str(url.path) or "/") + ("?" + str(url.query) if url.query else "")
    if name not in facts.headers:
        raise SignatureProblem("signature_incomplete", f"the signature covers {name}, which the request lacks")
    return " ".join(str(facts.headers[name]).strip().split("\n"))


def parse(signature_input: str | None, signature: str | None) -> ParsedSignature:
    """The request's one signature; several labels are refused (one signer per request)."""
    if not signature_input or not signature:
        raise SignatureProblem("signature_missing", "Signature-Input and Signature headers are required")
    inputs: Any
    values: Any
    try:
        inputs = http_sf.parse(signature_input.encode("ascii"), tltype="dictionary")
        values = http_sf.parse(signature.encode("ascii"), tltype="dictionary")
    except (UnicodeEncodeError, http_sf.StructuredFieldError, ValueError) as exc:
        raise SignatureProblem("signature_malformed",
                               f"Signature-Input or Signature is not a structured field: {exc}") from exc
    if len(inputs) != 1 or len(values) != 1:
        raise SignatureProblem("signature_malformed", "exactly one signature per request: one label in "
                                                      "Signature-Input and the same one alone in Signature")
    label, member = next(iter(inputs.items()))
    value = values.get(label)
    if value is None or not isinstance(value[0], bytes):
        raise SignatureProblem("signature_malformed", f"Signature has no byte sequence for label {label}")
    items, params = member
    if not isinstance(items, list):
        raise SignatureProblem("signature_malformed", "Signature-Input must be an inner list")
    components = []
    for item, item_params in items:
        if not isinstance(item, str) or item_params or item != item.lower():
            raise SignatureProblem("signature_malformed", "components must be lower-case strings without parameters")
        if item in components:
            raise SignatureProblem("signature_malformed", f"component {item} is covered twice")
        components.append(item)
    params_text = http_sf.ser({"x": member})[2:]
    return ParsedSignature(label, tuple(components), dict(params), params_text, value[0])


def check_coverage(parsed: ParsedSignature) -> None:
    covered = set(parsed.components)
    missing = [p for p in REQUIRED_PARAMS if p not in parsed.params]
    if "@method" not in covered:
        missing.append("@method")
    if "@target-uri" not in covered:
        # Without @target-uri, @authority names the deployment (else a staging signature would do here).
        lacking = [c for c in ("@authority", "@path", "@query") if c not in covered]
        if lacking:
            missing.append("@target-uri (or @authority, @path and @query: " + ", ".join(lacking) + " missing)")
    missing += [h for h in REQUIRED_HEADERS if h not in covered]
    if missing:
        raise SignatureProblem("signature_incomplete", "the signature must cover " + ", ".join(missing))
    for name in ("created", "expires"):
        if type(parsed.params[name]) is not int:
            raise SignatureProblem("signature_malformed", f"{name} must be an integer")
    if not isinstance(parsed.params["nonce"], str) or not 8 <= len(parsed.params["nonce"]) <= 128:
        raise SignatureProblem("signature_malformed", "nonce must be a string of 8 to 128 characters")
    if not isinstance(parsed.params["keyid"], str) or not _KID.match(parsed.params["keyid"]):
        raise SignatureProblem("signature_malformed", "keyid must be a key id: 32 lower-case hex characters")
    if "alg" in parsed.params and parsed.params["alg"] != "ed25519":
        raise SignatureProblem("unsupported_algorithm", "alg must be ed25519")


def check_time(parsed: ParsedSignature, now_seconds: int) -> None:
    created, expires = parsed.params["created"], parsed.params["expires"]
    if abs(now_seconds - created) > MAX_SKEW_SECONDS:
        raise SignatureProblem("clock_skew", "created is more than 5 minutes from the server's clock")
    if expires <= created or expires - created > MAX_LIFETIME_SECONDS:
        raise SignatureProblem("signature_malformed", f"expires must be after created, by at most "
                                                      f"{MAX_LIFETIME_SECONDS} s")
    if now_seconds > expires:
        raise SignatureProblem("signature_expired", "the signature has expired")


def signature_base(parsed: ParsedSignature, facts: RequestFacts) -> str:
    lines = [f'"{name}": {_component_value(name, facts)}' for name in parsed.components]
    lines.append(f'"@signature-params": {parsed.params_text}')
    base = "\n".join(lines)
    if not base.isascii() or "\r" in base:
        raise SignatureProblem("signature_malformed", "the signature base must be ASCII")
    return base


def check_digest(facts: RequestFacts) -> None:
    header = facts.headers.get("content-digest", "")
    if content_digest(facts.body) not in [m.strip() for m in header.split(",")]:
        raise SignatureProblem("digest_mismatch", "the body does not match its Content-Digest")


# --- the client side (the CLI and tests)

def sign_request(key: Ed25519PrivateKey, kid: str, method: str, url: str, body: bytes, idempotency_key: str,
                 now_seconds: int, lifetime: int = 300, nonce: str | None = None,
                 components: tuple[str, ...] = CLIENT_COMPONENTS) -> dict[str, str]:
    """Headers that sign a request: Content-Digest, Idempotency-Key, Signature-Input and Signature."""
    headers = {"content-digest": content_digest(body), "idempotency-key": idempotency_key}
    params = {"created": now_seconds, "expires": now_seconds + lifetime, "nonce": nonce or secrets.token_hex(16),
              "keyid": kid, "alg": "ed25519"}
    member: Any = ([(name, {}) for name in components], params)
    parsed = ParsedSignature("sig1", components, params, http_sf.ser({"x": member})[2:], b"")
    base = signature_base(parsed, RequestFacts(method, url, headers, body))
    signature = key.sign(base.encode("ascii"))
    return {
        "Content-Digest": headers["content-digest"],
        "Idempotency-Key": idempotency_key,
        "Signature-Input": "sig1=" + parsed.params_text,
        "Signature": "sig1=:" + base64.b64encode(signature).decode("ascii") + ":",
    }
