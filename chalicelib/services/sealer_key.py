"""The stamp node's Ed25519 sealing key.

On AWS it is a secret: ``COVENANT_SEALER_KEY=secret:<name>`` (Secrets Manager)
or ``ssm:<name>`` (a SecureString parameter), read through Powertools
Parameters with caching. Locally it is ``file:<path>`` in the git-ignored state
folder. The value is an unencrypted PKCS#8 PEM. It never enters the repository
or the deployment package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import SealerKeyError
from ..ledger.keys import KeyFormatError, jwk_of, private_key_from_pem, sign
from ..settings import get_settings

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey

    @property
    def jwk(self) -> dict[str, str]:
        return jwk_of(self.key.public_key())

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def sign(self, message: bytes) -> str:
        return sign(self.key, message)


def _read_source(source: str) -> Any:
    scheme, _, name = source.partition(":")
    if not name:
        raise SealerKeyError("COVENANT_SEALER_KEY must be file:<path>, ssm:<name> or secret:<name>")
    if scheme == "file":
        try:
            return Path(name).read_bytes()
        except OSError as exc:
            raise SealerKeyError(f"cannot read the sealer key file {name}") from exc
    from aws_lambda_powertools.utilities import parameters

    try:
        if scheme == "ssm":
            return parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
        if scheme == "secret":
            return parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise SealerKeyError(f"cannot read the sealer key from {scheme} {name}") from exc
    raise SealerKeyError(f"unknown sealer key source {scheme!r}")


def load_signer(source: str | None = None) -> Signer:
    raw = _read_source(source or get_settings().sealer_key)
    pem = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    try:
        return Signer(private_key_from_pem(pem))
    except KeyFormatError as exc:
        raise SealerKeyError(f"the sealer key is unusable: {exc}") from exc
