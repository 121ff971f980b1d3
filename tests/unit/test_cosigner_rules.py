"""The pure sub-chain rules: ids and names from keys, the registration entry's check, and the witness rule."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.cosigners import (
    WitnessMemory,
    cosign_refusal,
    cosigner_of,
    public_key_bytes,
    registration_problem,
    subchain_id,
)
from chalicelib.ledger.keys import raw_public
from chalicelib.ledger.note import (
    Checkpoint,
    NoteError,
    checkpoint_body,
    cosignature_line,
    parse_signature_line,
    parse_vkey,
    verify_cosignature,
)

ORIGIN = "example.com/log"


def _raw() -> bytes:
    return raw_public(Ed25519PrivateKey.generate().public_key())


def test_a_sub_chain_is_named_by_its_key():
    raw = _raw()
    cosigner = cosigner_of(ORIGIN, raw)
    assert cosigner["id"] == subchain_id(raw) and cosigner["id"].startswith("sc-") and len(cosigner["id"]) == 19
    assert cosigner["name"] == f"{ORIGIN}/subchain/{cosigner['id']}"
    verifier = parse_vkey(cosigner["vkey"])
    assert (verifier.name, verifier.key_type, verifier.public) == (cosigner["name"], 0x04, raw)


def test_public_keys_in_base64_and_base64url():
    raw = _raw()
    assert public_key_bytes(base64.b64encode(raw).decode()) == raw
    assert public_key_bytes(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    for bad in (None, 5, "", "A" * 43 + "==", base64.b64encode(raw[:31]).decode(), "!" * 44):
        with pytest.raises(NoteError):
            public_key_bytes(bad)


def test_the_registration_entry_must_follow_from_the_key():
    raw = _raw()
    body = {"public_key": base64.b64encode(raw).decode()}
    good = {"cosigner": cosigner_of(ORIGIN, raw), "node": "stamp"}
    assert registration_problem(good, body) is None
    other = cosigner_of(ORIGIN, _raw())
    assert "id" in registration_problem({"cosigner": {**good["cosigner"], "id": other["id"]}}, body)
    assert "vkey" in registration_problem({"cosigner": {**good["cosigner"], "vkey": other["vkey"]}}, body)
    assert registration_problem({"cosigner": {**good["cosigner"], "extra": 1}}, body)
    assert registration_problem({"cosigner": "x"}, body)
    renamed = cosigner_of("example.com/other", raw)
    assert registration_problem({"cosigner": {**renamed, "name": ORIGIN + "/x"}}, body)


def _cp(size: int, root: bytes = b"\x01" * 32, origin: str = ORIGIN) -> Checkpoint:
    return Checkpoint(origin, size, root)


def test_the_witness_rule():
    root, other = b"\x01" * 32, b"\x02" * 32
    fresh = WitnessMemory()
    assert cosign_refusal(fresh, _cp(5), 5, root) is None
    assert "not the tree this sub-chain verified" in cosign_refusal(fresh, _cp(5, other), 5, root)
    assert "not the tree" in cosign_refusal(fresh, _cp(6), 5, root)
    memory = WitnessMemory(ORIGIN, 5, root)
    assert cosign_refusal(memory, _cp(5), 5, root) is None  # the same tree again
    assert "another root" in cosign_refusal(memory, _cp(5, other), 5, other)
    assert "larger tree" in cosign_refusal(memory, _cp(4), 4, root)
    assert "origin" in cosign_refusal(memory, _cp(6, origin="evil.example/log"), 6, root)
    assert cosign_refusal(memory, _cp(9, other), 9, other) is None


@given(st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32), st.integers(1, 2**40))
def test_a_cosignature_verifies_only_on_its_own_body(timestamp, root, size):
    key = Ed25519PrivateKey.generate()
    name = f"{ORIGIN}/subchain/{subchain_id(raw_public(key.public_key()))}"
    verifier = parse_vkey(cosigner_of(ORIGIN, raw_public(key.public_key()))["vkey"])
    body = checkpoint_body(ORIGIN, size, root)
    line = parse_signature_line(cosignature_line(name, body, key, timestamp))
    assert verify_cosignature(body, line, verifier) == timestamp
    with pytest.raises(NoteError):
        verify_cosignature(checkpoint_body(ORIGIN, size + 1, root), line, verifier)


def test_cosignature_times_are_64_bit_and_lines_are_one_line():
    key = Ed25519PrivateKey.generate()
    body = checkpoint_body(ORIGIN, 1, b"\x00" * 32)
    for bad in (-1, 2**63, 1.5):
        with pytest.raises(NoteError):
            cosignature_line("x", body, key, bad)
    with pytest.raises(NoteError):
        parse_signature_line("— a AAAA\n— b AAAA\n")
