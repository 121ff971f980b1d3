"""The ``auth`` member of an entry (LEDGER.md): a stored RFC 9421 signature.

Only what a verifier needs lives here: the RFC 9530 ``content-digest`` of the
body, finding that digest in a stored signature base, and the ``nonce``
signature parameter that binds a signed request to one entry. Building and
checking live HTTP requests is the HTTP layer's concern.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Container
from typing import Any

import http_sf

from .keys import public_key_from_jwk, signature_valid

# (JWK x, auth.sig, auth.base) of signatures already found valid, by whoever verified them ahead.
VerifiedSignatures = Container[tuple[str, str, str]]

AUTH_MEMBERS = frozenset({"kid", "base", "sig", "body"})
SIGNATURE_PARAMS_LINE = '"@signature-params": '


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


def auth_problem(auth: Any, jwk: dict[str, Any], verified: VerifiedSignatures = ()) -> str | None:
    """Why ``auth`` does not verify under ``jwk``, or None when it does.

    ``verified`` may hold signatures checked ahead (on other cores, say): a
    triple found there is not verified again. Only a valid signature is ever
    put there, so it can spare work but never accept anything.
    """
    if not isinstance(auth, dict) or set(auth) != AUTH_MEMBERS:
        return "auth must have exactly kid, base, sig and body"
    if not all(isinstance(auth[name], str) for name in AUTH_MEMBERS):
        return "auth members must be strings"
    if auth["kid"] != jwk.get("kid"):
        return "auth.kid does not name the key"
    if (jwk.get("x"), auth["sig"], auth["base"]) not in verified and \
            not signature_valid(public_key_from_jwk(jwk), auth["sig"], auth["base"].encode("utf-8")):
        return "auth.sig does not verify over auth.base"
    expected = content_digest(auth["body"].encode("utf-8"))
    if expected not in digests_in_base(auth["base"]):
        return "auth.base does not carry the content-digest of auth.body"
    return None


class NonceProblem(ValueError):
    """The signature base names no usable ``nonce`` signature parameter."""


def _refuse_duplicate(name: str, _kind: str) -> None:
    raise NonceProblem(f"the signature parameter {name} appears twice")


# RFC 8941 grammar for the common shape of @signature-params: an inner list of
# bare items without parameters, then parameters whose values are strings,
# tokens, integers, decimals or booleans. Whatever else parses with http_sf.
_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
_TOKEN = r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*"
_NUMBER = r"-?[0-9]{1,12}\.[0-9]{1,3}|-?[0-9]{1,15}"
_BARE = f"(?:{_STRING}|{_TOKEN}|{_NUMBER}|\\?[01])"
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_FAST = re.compile(f"\\( *(?:{_BARE}(?: +{_BARE})* *)?\\)(?P<params>(?:; *{_KEY}(?:={_BARE})?)*)")
_PARAM = re.compile(f"; *(?P<key>{_KEY})(?:=(?P<value>{_BARE}))?")
_ESCAPE = re.compile(r"\\(.)")


def _fast_nonce(value: str) -> str | None:
    """The nonce of a @signature-params value of the common shape; None to let http_sf decide."""
    match = _FAST.fullmatch(value)
    if match is None:
        return None
    params: dict[str, str | None] = {}
    for param in _PARAM.finditer(match.group("params")):
        if param.group("key") in params:
            _refuse_duplicate(param.group("key"), "parameter")
        params[param.group("key")] = param.group("value")
    nonce = params.get("nonce")
    if nonce is None or not nonce.startswith('"') or len(nonce) < 3:
        raise NonceProblem("auth.base carries no nonce signature parameter (a non-empty string)")
    return _ESCAPE.sub(r"\1", nonce[1:-1])


def signature_nonce(base: str) -> str:
    """The ``nonce`` signature parameter of an RFC 9421 signature base.

    RFC 9421 section 2.5: the base ends with the ``"@signature-params"`` line,
    whose value is the serialised inner list of covered components with its
    parameters (RFC 8941); ``nonce`` is an sf-string there. It is parsed as a
    structured field, never searched for as text, so a component value that
    merely contains ``nonce="..."`` cannot stand in for it.
    """
    lines = base.split("\n")
    last = lines[-1]
    if not last.startswith(SIGNATURE_PARAMS_LINE):
        raise NonceProblem("auth.base does not end with its @signature-params line")
    if any(line.startswith('"@signature-params"') for line in lines[:-1]):
        raise NonceProblem("auth.base has more than one @signature-params line")
    value = last[len(SIGNATURE_PARAMS_LINE):]
    fast = _fast_nonce(value)
    if fast is not None:
        return fast
    try:
        parsed: Any = http_sf.parse(value.encode("ascii"), tltype="list", on_duplicate_key=_refuse_duplicate)
    except NonceProblem:
        raise
    except (UnicodeEncodeError, ValueError, RecursionError) as exc:
        raise NonceProblem(f"the @signature-params of auth.base are not a structured field: {exc}") from exc
    if len(parsed) != 1 or not isinstance(parsed[0], tuple) or not isinstance(parsed[0][0], list):
        raise NonceProblem("the @signature-params of auth.base are not one inner list")
    nonce = parsed[0][1].get("nonce")
    if type(nonce) is not str or not nonce:
        raise NonceProblem("auth.base carries no nonce signature parameter (a non-empty string)")
    return nonce
