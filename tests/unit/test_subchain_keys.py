"""infra.subchain_keys on moto: one key a sub-chain, put once, kept, replaced only when asked, never printed."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from moto import mock_aws

from chalicelib.ledger.keys import private_key_from_pem, raw_public
from infra.subchain_keys import main

PREFIX = "covenant-keys"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)  # mock_aws ignores clients with an endpoint (LOCAL-AWS.md 2)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def run(*argv: str) -> tuple[int, list[list[str]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--prefix", PREFIX, *argv], out=out, err=err)
    return code, [line.split("\t") for line in out.getvalue().splitlines()], err.getvalue()


def stored(client: Any, index: int) -> str:
    return str(client.get_secret_value(SecretId=f"{PREFIX}/subchain/{index}")["SecretString"])


def public_of(pem: str) -> str:
    return base64.b64encode(raw_public(private_key_from_pem(pem.encode()).public_key())).decode()


def private_texts(client: Any, count: int) -> list[str]:
    """Every form of the stored private keys that must never be printed."""
    texts = []
    for i in range(count):
        key = private_key_from_pem(stored(client, i).encode())
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        texts += [stored(client, i).splitlines()[1], base64.b64encode(raw).decode(), raw.hex(),
                  base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    return texts


def versions(client: Any, index: int) -> int:
    return len(client.list_secret_version_ids(SecretId=f"{PREFIX}/subchain/{index}")["Versions"])


def test_it_makes_one_key_a_subchain_prints_the_public_keys_and_never_the_private_ones(secrets):
    code, lines, err = run("--count", "3")
    assert code == 0
    assert [(line[0], line[2], line[3]) for line in lines] == [
        (str(i), "created", f"{PREFIX}/subchain/{i}") for i in range(3)]
    for i, line in enumerate(lines):
        pem = stored(secrets, i)
        assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
        assert line[1] == public_of(pem)
        assert len(base64.b64decode(line[1], validate=True)) == 32
    assert len({line[1] for line in lines}) == 3  # a key each
    assert "POST /subchains" in err
    printed = "\n".join("\t".join(line) for line in lines) + err
    assert "PRIVATE" not in printed
    assert not [t for t in private_texts(secrets, 3) if t in printed]


def test_it_is_idempotent_and_never_overwrites_a_key(secrets):
    _, first, _ = run("--count", "3")
    pems = [stored(secrets, i) for i in range(3)]
    code, again, err = run("--count", "3")
    assert code == 0 and err == ""
    assert [line[1] for line in again] == [line[1] for line in first]
    assert [line[2] for line in again] == ["kept"] * 3
    assert [stored(secrets, i) for i in range(3)] == pems
    assert [versions(secrets, i) for i in range(3)] == [1, 1, 1]
    # more sub-chains later: the first three are kept, the new ones made
    code, grown, _ = run("--count", "5")
    assert [line[2] for line in grown] == ["kept"] * 3 + ["created"] * 2
    assert [line[1] for line in grown[:3]] == [line[1] for line in first]


def test_it_fills_the_empty_secrets_the_stack_makes(secrets):
    for i in range(2):
        secrets.create_secret(Name=f"{PREFIX}/subchain/{i}", Description="made by CloudFormation, no value")
    code, lines, _ = run("--count", "3")
    assert code == 0
    assert [line[2] for line in lines] == ["put", "put", "created"]
    assert [line[1] for line in lines] == [public_of(stored(secrets, i)) for i in range(3)]


def test_rotation_replaces_only_the_named_key_and_says_to_retire_the_old_subchain(secrets):
    _, before, _ = run("--count", "3")
    code, after, err = run("--count", "3", "--rotate", "1")
    assert code == 0
    assert [line[2] for line in after] == ["kept", "rotated", "kept"]
    assert after[0][1] == before[0][1] and after[2][1] == before[2][1]
    assert after[1][1] != before[1][1] and after[1][1] == public_of(stored(secrets, 1))
    assert "retire" in err and before[1][1] in err and "register" in err
    assert "PRIVATE" not in err and not [t for t in private_texts(secrets, 3) if t in err]


def test_a_secret_that_holds_no_ed25519_key_is_refused_not_overwritten_unless_rotated(secrets):
    secrets.create_secret(Name=f"{PREFIX}/subchain/2", SecretString="not a key, and not to be printed")
    code, lines, err = run("--count", "3")
    assert code == 2 and lines == []
    assert f"{PREFIX}/subchain/2" in err and "not to be printed" not in err
    assert stored(secrets, 2) == "not a key, and not to be printed"
    code, lines, err = run("--count", "3", "--rotate", "2")
    assert code == 0 and lines[2][2] == "rotated" and lines[2][1] == public_of(stored(secrets, 2))
    assert "unreadable" in err


def test_subchains_1_and_10_to_11_are_different_secrets(secrets):
    code, lines, _ = run("--count", "12")
    assert code == 0
    assert len({line[1] for line in lines}) == 12
    names = {s["Name"] for s in secrets.list_secrets()["SecretList"]}
    assert {f"{PREFIX}/subchain/{i}" for i in (1, 10, 11)} <= names
    assert lines[1][1] == public_of(stored(secrets, 1)) != public_of(stored(secrets, 10))


def test_it_refuses_to_rotate_a_subchain_that_does_not_exist(secrets):
    code, lines, err = run("--count", "3", "--rotate", "3")
    assert code == 2 and lines == [] and "no sub-chain 3" in err
    assert secrets.list_secrets()["SecretList"] == []
