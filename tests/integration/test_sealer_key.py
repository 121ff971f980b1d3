"""The sealer key comes from Secrets Manager or SSM on AWS (through Powertools Parameters), a file locally."""

from __future__ import annotations

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.errors import SealerKeyError
from chalicelib.ledger.keys import jwk_of, private_key_to_pem
from chalicelib.services.sealer_key import load_signer


@pytest.fixture
def pem() -> tuple[bytes, str]:
    key = Ed25519PrivateKey.generate()
    return private_key_to_pem(key), jwk_of(key.public_key())["kid"]


def test_from_secrets_manager(aws, pem):
    boto3.client("secretsmanager").create_secret(Name="covenant-test/sealer-key", SecretString=pem[0].decode())
    assert load_signer("secret:covenant-test/sealer-key").kid == pem[1]


def test_from_an_ssm_secure_string(aws, pem):
    boto3.client("ssm").put_parameter(Name="/covenant-test/sealer-key", Value=pem[0].decode(), Type="SecureString")
    assert load_signer("ssm:/covenant-test/sealer-key").kid == pem[1]


def test_from_a_file(tmp_path, pem):
    path = tmp_path / "key.pem"
    path.write_bytes(pem[0])
    assert load_signer(f"file:{path}").kid == pem[1]


@pytest.mark.parametrize("source", ["file:", "vault:x", "secret:missing", "ssm:/missing", "file:/no/such/key"])
def test_a_missing_or_unknown_source_is_a_clear_error(aws, source):
    with pytest.raises(SealerKeyError):
        load_signer(source)


def test_an_unset_source_is_a_clear_error(aws, monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("COVENANT_SEALER_KEY", "")
    reset_settings()
    with pytest.raises(SealerKeyError, match="COVENANT_SEALER_KEY") as caught:
        load_signer()
    assert caught.value.code == "sealer_key_unavailable" and caught.value.status == 500


def test_a_key_that_is_not_ed25519_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "key.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(SealerKeyError, match="Ed25519"):
        load_signer(f"file:{path}")


def test_no_key_material_is_in_the_repository():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        try:
            with open(name, encoding="utf-8") as handle:
                assert "PRIVATE KEY-----" not in handle.read() or name.startswith("tests/"), name
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue


def test_each_operator_sub_chain_reads_its_own_secret(aws, monkeypatch):
    """COVENANT_SUBCHAIN_KEY names one secret per sub-chain with {i}; a secret not yet filled means no cosigning."""
    from chalicelib.handlers.events import _witness
    from chalicelib.ledger.keys import raw_public
    from chalicelib.settings import reset_settings

    secrets = boto3.client("secretsmanager")
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    for i, key in enumerate(keys):
        secrets.create_secret(Name=f"covenant-test/subchain/{i}", SecretString=private_key_to_pem(key).decode())
    secrets.create_secret(Name="covenant-test/subchain/2")  # made by the stack, no key put yet
    monkeypatch.setenv("COVENANT_SUBCHAIN_KEY", "secret:covenant-test/subchain/{i}")
    reset_settings()
    for i, key in enumerate(keys):
        assert _witness(i).public == raw_public(key.public_key())
    assert _witness(2) is None
    monkeypatch.setenv("COVENANT_SUBCHAIN_KEY", "")
    reset_settings()
    assert _witness(0) is None
