"""What every part of the people's client shares: its errors, the API over HTTP, a profile's folder, and the
checks of what a person types (ids and amounts) before anything is sent."""

from __future__ import annotations

import base64
import json
import re
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..ledger import httpsig
from ..ledger.canonical import MAX_SAFE_INTEGER
from ..ledger.keys import KeyFormatError, jwk_of, private_key_from_pem, private_key_to_pem

OK, REFUSED, FAILED, UNCONFIRMED = 0, 1, 2, 3
# The server's rule for a path segment (chalicelib/api/routing.py): an id that breaks it never reaches a view.
ID_RULE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ID_CHARACTERS = "A-Z a-z 0-9 . _ : -"
AMOUNT_RULE = re.compile(r"(?P<whole>[0-9]{1,16})(?:\.(?P<cents>[0-9]{1,2}))?")


class CliError(Exception):
    pass


class Unreachable(CliError):
    """The API could not be reached at all (as opposed to an answer the client cannot use)."""


class Unconfirmed(Exception):
    """The consumer's own sub-chain does not confirm what the log answered."""


def character(text: str) -> str:
    """``'…' (U+2026 HORIZONTAL ELLIPSIS)``: a character named so that it can be found, whatever the terminal."""
    name = unicodedata.name(text, "")
    shown_as = repr(text) if text.isprintable() else "a control character"
    return f"{shown_as} (U+{ord(text):04X}{' ' + name if name else ''})"


def _quoted(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def checked_id(what: str, text: str) -> str:
    """``text`` if it is an id the server's paths can carry; otherwise one line naming ``what`` and the fault."""
    if ID_RULE.fullmatch(text):
        return text
    if not text:
        raise CliError(f"{what} is empty: paste the whole id from the command's output")
    bad = next((c for c in text if not (c.isascii() and (c.isalnum() or c in "._:-"))), None)
    if bad is None:
        raise CliError(f"{what} {_quoted(text)} is {len(text)} characters long; an id has at most 128")
    hint = " (the README's … stands for the rest of an id)" if bad == "…" else ""
    raise CliError(f"{what} {_quoted(text)} contains {character(bad)}: paste the whole id from the command's "
                   f"output{hint}; an id has only the characters {ID_CHARACTERS}")


def segment(text: str) -> str:
    """One path segment, percent-encoded (ids are checked before, so this changes nothing for them)."""
    return urllib.parse.quote(text, safe=":")


def minor_units(text: str, allow_zero: bool = False, what: str = "the amount") -> int:
    """``12.5`` -> 1250, exactly: only ASCII digits, with at most two decimals after a dot."""
    match = AMOUNT_RULE.fullmatch(text)
    if match is None:
        odd = next((c for c in text if not c.isascii() or not c.isprintable()), None)
        why = f"contains {character(odd)}" if odd is not None else "is not an amount"
        raise CliError(f"{what} {_quoted(text)} {why}: write it with the digits 0-9 and at most two decimals after "
                       "a dot, as 12, 12.5 or 12.50 (no sign, exponent, spaces or separators)")
    units = int(match["whole"]) * 100 + int((match["cents"] or "").ljust(2, "0"))
    if units == 0 and not allow_zero:
        raise CliError(f"{what} {_quoted(text)} must be more than 0")
    if units > MAX_SAFE_INTEGER:
        raise CliError(f"{what} {_quoted(text)} is larger than the ledger's largest amount, "
                       f"{shown(MAX_SAFE_INTEGER)}")
    return units


def shown(units: int) -> str:
    sign = "-" if units < 0 else ""
    return f"{sign}{abs(units) // 100}.{abs(units) % 100:02d}"


class Profile:
    """A folder under --home: one key (``key.pem``) and what the client learned (``profile.json``)."""

    def __init__(self, home: Path, name: str):
        self.folder = home / name
        self.name = name

    @property
    def key_path(self) -> Path:
        return self.folder / "key.pem"

    @property
    def facts_path(self) -> Path:
        return self.folder / "profile.json"

    def key(self) -> Ed25519PrivateKey:
        try:
            return private_key_from_pem(self.key_path.read_bytes())
        except FileNotFoundError as exc:
            raise CliError(f"profile {self.name} has no key: run `covenant --profile {self.name} keys`") from exc
        except KeyFormatError as exc:
            raise CliError(f"{self.key_path}: {exc}") from exc

    def kid(self) -> str:
        return str(self.facts().get("kid") or jwk_of(self.key().public_key())["kid"])

    def save_key(self, key: Ed25519PrivateKey) -> None:
        if self.key_path.exists():
            raise CliError(f"profile {self.name} already has a key; it is never overwritten")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key_path.write_bytes(private_key_to_pem(key))
        self.key_path.chmod(0o600)

    def facts(self) -> dict[str, Any]:
        try:
            facts = json.loads(self.facts_path.read_text()) if self.facts_path.exists() else {}
        except ValueError as exc:
            raise CliError(f"{self.facts_path} is not JSON: {exc}") from exc
        if not isinstance(facts, dict):
            raise CliError(f"{self.facts_path} is not a JSON object")
        return facts

    def remember(self, **facts: Any) -> None:
        merged = {**self.facts(), **{k: v for k, v in facts.items() if v is not None}}
        self.facts_path.write_text(json.dumps(merged, indent=2) + "\n")

    def last(self, kind: str) -> str | None:
        last = self.facts().get("last")
        value = last.get(kind) if isinstance(last, dict) else None
        return value if isinstance(value, str) else None

    def remember_last(self, **ids: str) -> None:
        last = self.facts().get("last")
        self.remember(last={**(last if isinstance(last, dict) else {}), **ids})

    def wallet(self) -> str:
        wallet = self.facts().get("wallet")
        if not wallet:
            raise CliError(f"profile {self.name} has no wallet yet (register, or wait for approval)")
        return str(wallet)


class Api:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def _send(self, request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"cannot reach {self.base}: {getattr(exc, 'reason', exc)}") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if status >= 400:
                return status, {"error": {"code": "http_error", "message": f"HTTP {status} from {self.base}"}}
            raise CliError(f"{request.full_url} answered {status} with something that is not a JSON object: is "
                           f"{self.base} a Covenant API?")
        return status, answer

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._send(urllib.request.Request(self.base + path))

    def upload(self, asked: dict[str, Any], path: Path) -> None:
        """PUT a file to the presigned URL ``POST /uploads`` answered, with exactly the headers it signed."""
        with path.open("rb") as body:
            request = urllib.request.Request(asked["url"], data=body, headers=asked["headers"],
                                             method=asked["method"])
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                raise CliError(f"the upload was refused ({exc.code}): {exc.read()[:300]!r}") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise CliError(f"cannot upload to the bucket: {exc}") from exc

    def post(self, profile: Profile | None, path: str, body: dict[str, Any], key: Ed25519PrivateKey | None = None,
             idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        status, answer, _ = self.post_signed(profile, path, body, key, idempotency_key)
        return status, answer

    def post_signed(self, profile: Profile | None, path: str, body: dict[str, Any],
                    key: Ed25519PrivateKey | None = None, idempotency_key: str | None = None
                    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST a signed request; also returns what it signed, as the ledger keeps it in the entry's ``auth``."""
        if key is None:
            if profile is None:
                raise CliError("a signed request needs a key")
            key = profile.key()
        raw = json.dumps(body, separators=(",", ":")).encode()
        url = self.base + path
        kid = jwk_of(key.public_key())["kid"]
        headers = httpsig.sign_request(key, kid, "POST", url, raw, idempotency_key or uuid.uuid4().hex,
                                       int(time.time()))
        parsed = httpsig.parse(headers["Signature-Input"], headers["Signature"])
        base = httpsig.signature_base(parsed, httpsig.RequestFacts("POST", url, {
            name.lower(): value for name, value in headers.items()}, raw))
        sent = {"kid": kid, "base": base, "sig": base64.b64encode(parsed.signature).decode("ascii"),
                "body": raw.decode("utf-8")}
        headers["Content-Type"] = "application/json"
        status, answer = self._send(urllib.request.Request(url, data=raw, headers=headers, method="POST"))
        return status, answer, sent
