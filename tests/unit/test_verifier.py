"""The chain verifier: accepts a good chain and names the first bad height or entry of a changed one."""

from __future__ import annotations

import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.keys import jwk_of
from chalicelib.ledger.verify import VerificationError
from chalicelib.verifier.cli import main, verify_blocks
from tests.chainmaker import ChainMaker, signed_auth

CHAIN = ChainMaker().with_signed_entries(blocks=3, per_block=4).blocks


def test_a_good_chain_verifies():
    result = verify_blocks(copy.deepcopy(CHAIN))
    assert result.blocks == 5 and result.entries == 1 + 1 + 12
    assert result.sealer_keys == [CHAIN[0]["entries"][0]["data"]["jwk"]]


def _targets():
    for height, block in enumerate(CHAIN):
        yield ("header", height, None)
        for index in range(len(block["entries"])):
            yield ("entry", height, index)


TARGETS = list(_targets())


@given(st.sampled_from(TARGETS), st.data())
def test_flipping_any_byte_of_any_entry_or_header_is_detected(target, data):
    kind, height, index = target
    chain = copy.deepcopy(CHAIN)
    original = chain[height]["header"] if kind == "header" else chain[height]["entries"][index]
    raw = bytearray(canonical(original))
    position = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    raw[position] ^= 1 << bit
    try:
        changed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return  # the stored bytes no longer parse: no reader can take them for the original
    if kind == "header":
        chain[height]["header"] = changed
    else:
        chain[height]["entries"][index] = changed
    with pytest.raises(VerificationError) as caught:
        verify_blocks(chain)
    assert caught.value.height <= height


def test_a_changed_entry_is_named_by_height_and_index():
    chain = copy.deepcopy(CHAIN)
    chain[2]["entries"][0]["data"]["amount"] += 1  # an unsigned note: only the log_root can tell
    with pytest.raises(VerificationError) as caught:
        verify_blocks(chain)
    assert caught.value.height == 2 and "log_root" in caught.value.reason


def test_a_changed_signed_entry_is_named_by_what_its_request_says():
    chain = copy.deepcopy(CHAIN)
    chain[2]["entries"][1]["data"]["amount"] += 1
    with pytest.raises(VerificationError) as caught:
        verify_blocks(chain)
    assert (caught.value.height, caught.value.index) == (2, 3)
    assert caught.value.reason == "data.amount does not follow from the request body"


def test_an_entry_with_a_forged_auth_is_named():
    chain = copy.deepcopy(CHAIN)
    entry = chain[2]["entries"][1]
    entry["auth"]["body"] = entry["auth"]["body"].replace("100", "900")
    with pytest.raises(VerificationError) as caught:
        verify_blocks(chain)
    assert (caught.value.height, caught.value.index, caught.value.entry_id) == (2, 3, entry["id"])
    assert "content-digest" in caught.value.reason


def test_auth_by_an_unregistered_key_is_refused():
    maker = ChainMaker()
    stranger = Ed25519PrivateKey.generate()
    maker.seal([maker.entry({"n": 1}, signed_auth(stranger, {"n": 1}), actor="x")])
    with pytest.raises(VerificationError, match="no key registered"):
        verify_blocks(maker.blocks)


def test_auth_by_a_revoked_key_is_refused():
    maker = ChainMaker()
    key = Ed25519PrivateKey.generate()
    jwk = jwk_of(key.public_key())
    maker.seal([maker.entry({"node": "c", "jwk": jwk}), maker.entry({"revoke_kid": jwk["kid"]})])
    maker.seal([maker.entry({"n": 1}, signed_auth(key, {"n": 1}), actor="c")])
    with pytest.raises(VerificationError, match="revoked"):
        verify_blocks(maker.blocks)


def test_a_block_sealed_by_a_key_that_is_not_a_sealer_is_refused():
    maker = ChainMaker()
    from chalicelib.services.sealer_key import Signer

    maker.signer = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"n": 1})])
    with pytest.raises(VerificationError, match="no sealer key") as caught:
        verify_blocks(maker.blocks)
    assert caught.value.height == 1


def test_a_pinned_genesis_must_match():
    with pytest.raises(VerificationError, match=f"the genesis hash is {CHAIN[0]['hash']}, but --genesis is 0+"):
        verify_blocks(copy.deepcopy(CHAIN), genesis="0" * 64)
    assert verify_blocks(copy.deepcopy(CHAIN), genesis=CHAIN[0]["hash"]).blocks == 5


def test_floats_and_duplicate_ids_are_refused():
    maker = ChainMaker()
    entry = maker.entry({"n": 1})
    maker.seal([entry])
    chain = copy.deepcopy(maker.blocks)
    chain[1]["entries"][0]["data"]["n"] = 1.5
    with pytest.raises(VerificationError, match="floats"):
        verify_blocks(chain)
    maker.seal([dict(entry, ts=entry["ts"] + 1)])
    with pytest.raises(VerificationError, match="not unique"):
        verify_blocks(maker.blocks)


def test_the_cli_verifies_an_export_offline(tmp_path, capsys):
    dump = tmp_path / "chain.jsonl"
    dump.write_text("".join(json.dumps(b) + "\n" for b in CHAIN))
    assert main(["chain", "--file", str(dump), "--progress"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("OK: 5 blocks and 14 entries")
    assert "5 blocks, 14 entries" in captured.err


def test_the_cli_names_the_first_bad_height(tmp_path, capsys):
    chain = copy.deepcopy(CHAIN)
    chain[3]["header"]["ts"] += 1
    dump = tmp_path / "chain.jsonl"
    dump.write_text("".join(json.dumps(b) + "\n" for b in chain))
    assert main(["chain", "--file", str(dump)]) == 1
    assert capsys.readouterr().out.startswith("FAILED at height 3: block hash")


def test_the_cli_reports_an_unreadable_file(tmp_path, capsys):
    assert main(["chain", "--file", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_revoking_an_unknown_key_makes_it_unusable_for_good():
    maker = ChainMaker()
    key = Ed25519PrivateKey.generate()
    jwk = jwk_of(key.public_key())
    maker.seal([maker.entry({"revoke_kid": jwk["kid"]})])
    verify_blocks(copy.deepcopy(maker.blocks))  # a revocation of an unknown key is no fault
    maker.seal([maker.entry({"node": "c", "jwk": jwk}), maker.entry({"n": 1}, signed_auth(key, {"n": 1}), actor="c")])
    with pytest.raises(VerificationError, match="revoked"):
        verify_blocks(maker.blocks)
    from tests.independent.ledger_spec_verifier import SpecViolation, verify_chain

    with pytest.raises(SpecViolation):
        verify_chain(maker.blocks)


def test_the_state_directory_and_url_names(tmp_path, monkeypatch):
    from chalicelib.verifier.state import default_state_dir, legacy_state_dir, normalise_url, state_path

    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / ".config" / "covenant" / "verify"
    assert legacy_state_dir() == tmp_path / ".local" / "state" / "covenant-verify"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert default_state_dir() == tmp_path / "xdg" / "covenant" / "verify"
    assert legacy_state_dir() == tmp_path / "xdg-state" / "covenant-verify"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")  # the XDG spec: a relative path is ignored
    assert default_state_dir() == tmp_path / ".config" / "covenant" / "verify"
    assert normalise_url("HTTPS://Ledger.Example:443/api/") == "https://ledger.example/api"
    assert normalise_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert state_path(tmp_path, "http://a.example/") == state_path(tmp_path, "HTTP://A.EXAMPLE:80")
    assert state_path(tmp_path, "http://a.example") != state_path(tmp_path, "https://a.example")


def test_an_unreadable_export_line_is_unreadable_not_a_bad_ledger(tmp_path, capsys):
    dump = tmp_path / "chain.jsonl"
    dump.write_text(json.dumps(CHAIN[0]) + "\n{not json\n")
    assert main(["chain", "--file", str(dump)]) == 2
    assert "line 2" in capsys.readouterr().err


# --- signatures verified together by threads

def test_signatures_verified_by_threads_give_the_same_result(monkeypatch):
    from chalicelib.verifier import ahead

    monkeypatch.setattr(ahead, "MIN_SPLIT", 1)  # split even the small blocks of this chain
    inline = verify_blocks(copy.deepcopy(CHAIN))
    threads = verify_blocks(copy.deepcopy(CHAIN), threads=3)
    assert (threads.blocks, threads.entries, threads.head_hash) == (inline.blocks, inline.entries, inline.head_hash)


def test_a_forged_auth_is_named_the_same_with_threads(monkeypatch):
    from chalicelib.verifier import ahead

    monkeypatch.setattr(ahead, "MIN_SPLIT", 1)
    chain = copy.deepcopy(CHAIN)
    entry = chain[2]["entries"][1]
    entry["auth"]["sig"] = chain[2]["entries"][3]["auth"]["sig"]
    for threads in (1, 2):
        with pytest.raises(VerificationError) as caught:
            verify_blocks(copy.deepcopy(chain), threads=threads)
        assert (caught.value.height, caught.value.index) == (2, 3)
        assert caught.value.reason == "auth.sig does not verify over auth.base"


def test_the_threads_check_refuses_what_signature_valid_refuses():
    from chalicelib.verifier.ahead import check

    auth = CHAIN[2]["entries"][1]["auth"]
    x = CHAIN[1]["entries"][0]["data"]["jwk"]["x"]
    good = (x, auth["sig"], auth["base"])
    assert check([good, (x, auth["sig"], auth["base"] + " "), (x, "not base64!", auth["base"]),
                  (x, auth["sig"][:-4], auth["base"]), ("short", auth["sig"], auth["base"]),
                  (x, auth["sig"], "\ud800")]) == [True, False, False, False, False, False]


def test_a_signature_found_valid_under_another_key_is_not_taken():
    from chalicelib.ledger.auth import auth_problem

    auth = CHAIN[2]["entries"][1]["auth"]
    jwk = CHAIN[1]["entries"][0]["data"]["jwk"]
    stranger = jwk_of(Ed25519PrivateKey.generate().public_key())
    forged = dict(auth, kid=stranger["kid"])
    # a "verified" triple only spares the work for the very key, signature and base it names
    assert auth_problem(forged, stranger, {(jwk["x"], auth["sig"], auth["base"])}) == \
        "auth.sig does not verify over auth.base"
    assert auth_problem(auth, jwk, {(jwk["x"], auth["sig"], auth["base"])}) is None


def test_a_checkpoint_of_no_entries_is_refused():
    """Genesis holds at least one entry, so a signed empty tree is a lie (and could never be extended)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chalicelib.ledger.merkle import root_of
    from chalicelib.ledger.note import parse_vkey, sign_checkpoint, vkey
    from chalicelib.verifier.checkpoints import LedgerFault, open_served

    key = Ed25519PrivateKey.generate()
    text = sign_checkpoint("log.example/a", 0, root_of([]), key).encode()
    with pytest.raises(LedgerFault, match="0 entries"):
        open_served(text, parse_vkey(vkey("log.example/a", key.public_key())), "/checkpoint")
