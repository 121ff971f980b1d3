"""Give each operator sub-chain its Ed25519 key, in its own secret, and print the public keys to register.

    python -m infra.subchain_keys --prefix covenant-dev --count 3
    python -m infra.subchain_keys --prefix covenant-dev --count 3 --rotate 1

Sub-chain i's key is the Secrets Manager secret ``<prefix>/subchain/<i>``, an
unencrypted PKCS#8 PEM, used for nothing but sub-chain i's cosignatures; only
sub-chain i's role may read it (infra/render.py). The stack makes the secrets
without a value (CloudFormation cannot make an Ed25519 PEM): this command puts
a new key in each secret that has none, creating the secret if it is absent,
and keeps every key already there. It never overwrites a key unless told to
with ``--rotate i``: a cosigner's key is its identity, so a new key is a new
sub-chain, to be registered, and the old one retired.

It prints one line per sub-chain, ``<i> <public key> <what it did> <secret>``,
the public key as the standard base64 of its 32 raw bytes, for the stamp
node's ``POST /subchains``. The private key is never printed nor logged.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.keys import KeyFormatError, private_key_from_pem, private_key_to_pem, raw_public


class SubchainKeyError(Exception):
    """A secret holds something that is not a sub-chain key, or the command was asked something it cannot do."""


@dataclass(frozen=True)
class SubchainKey:
    index: int
    secret: str
    public_key: str  # standard base64 of the raw 32-byte Ed25519 public key
    action: str  # "created" (a new secret), "put" (into a secret without a value), "kept" or "rotated"
    previous_public_key: str | None = None  # the key a rotation replaced


def secret_name(prefix: str, index: int) -> str:
    return f"{prefix}/subchain/{index}"


def public_key_of(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(raw_public(key.public_key())).decode("ascii")


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _stored(client: Any, name: str) -> tuple[bool, bytes | None]:
    """(whether the secret exists, its current value or None)."""
    try:
        found = client.get_secret_value(SecretId=name)
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    else:
        value = found.get("SecretString")
        return True, value.encode("utf-8") if value is not None else bytes(found["SecretBinary"])
    try:
        client.describe_secret(SecretId=name)  # made by the stack, no value yet
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        return False, None
    return True, None


def _key_in(name: str, pem: bytes) -> Ed25519PrivateKey:
    try:
        return private_key_from_pem(pem)
    except KeyFormatError:
        # the message names the secret, never its value
        raise SubchainKeyError(f"the secret {name} holds no unencrypted PKCS#8 Ed25519 key; it is left as it is "
                               "(replace it with --rotate)") from None


def ensure_keys(prefix: str, count: int, rotate: Iterable[int] = (), client: Any = None) -> list[SubchainKey]:
    """Make sure sub-chains 0 to ``count - 1`` each have a key; replace the keys of ``rotate``."""
    rotate = set(rotate)
    if not prefix:
        raise SubchainKeyError("a prefix is needed")
    if count < 1:
        raise SubchainKeyError("at least one sub-chain")
    if outside := sorted(i for i in rotate if not 0 <= i < count):
        raise SubchainKeyError(f"no sub-chain {outside[0]} among 0 to {count - 1}")
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    keys = []
    for index in range(count):
        name = secret_name(prefix, index)
        exists, pem = _stored(client, name)
        if pem is not None and index not in rotate:
            keys.append(SubchainKey(index, name, public_key_of(_key_in(name, pem)), "kept"))
            continue
        previous = None
        if pem is not None:  # a rotation: the old value need not be a key to be replaced
            try:
                previous = public_key_of(private_key_from_pem(pem))
            except KeyFormatError:
                previous = None
        new = private_key_to_pem(Ed25519PrivateKey.generate()).decode("ascii")
        if exists:
            client.put_secret_value(SecretId=name, SecretString=new)
        else:
            client.create_secret(Name=name, SecretString=new,
                                 Description=f"Operator sub-chain {index}'s Ed25519 cosigning key (PKCS#8 PEM)")
        # What is stored now, read back: what the sub-chain will sign with, whoever wrote it last.
        _, stored = _stored(client, name)
        if stored is None:
            raise SubchainKeyError(f"the secret {name} has no value after it was put")
        action = "rotated" if index in rotate and pem is not None else "put" if exists else "created"
        keys.append(SubchainKey(index, name, public_key_of(_key_in(name, stored)), action, previous))
    return keys


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="covenant-dev", help="the stack's prefix (covenant-<stage>)")
    parser.add_argument("--count", type=int, required=True, help="how many operator sub-chains (COVENANT_REPLICAS)")
    parser.add_argument("--rotate", type=int, action="append", default=[], metavar="I",
                        help="replace sub-chain I's key (repeatable); the old sub-chain must then be retired")
    parser.add_argument("--region", help="the AWS region (else the environment's)")
    args = parser.parse_args(argv)
    client = None
    if args.region:
        import boto3

        client = boto3.client("secretsmanager", region_name=args.region)
    try:
        keys = ensure_keys(args.prefix, args.count, args.rotate, client)
    except SubchainKeyError as exc:
        err.write(f"error: {exc}\n")
        return 2
    for key in keys:
        out.write(f"{key.index}\t{key.public_key}\t{key.action}\t{key.secret}\n")
    for key in keys:
        if key.action == "rotated":
            err.write(f"sub-chain {key.index} has a new key: retire the sub-chain registered with the old key "
                      f"({key.previous_public_key or 'unreadable'}) and register the new one; until then it "
                      "cosigns under a key the log does not know.\n")
    if any(key.action != "kept" for key in keys):
        err.write("register each new public key with POST /subchains, signed by the stamp node's key.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
