"""LEDGER.md's tightened entry rules, as the one verify_block (replicas and CLI alike) applies them."""

from __future__ import annotations

import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.ledger import entry_types
from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.format import MAX_ENTRY_BYTES, block_hash, make_entry
from chalicelib.ledger.keys import jwk_of
from chalicelib.ledger.verify import (
    ChainState,
    MemoryKeyBook,
    MemoryNonceBook,
    VerificationError,
    verify_block,
)
from chalicelib.services.sealer_key import Signer
from chalicelib.verifier.cli import verify_blocks
from tests.chainmaker import ChainMaker, signed_auth


@pytest.fixture(autouse=True)
def _rules_of_every_entry(monkeypatch):
    """These are LEDGER.md's rules for every entry, whatever its type: the table of types (which route makes
    each, how its data follows) has its own tests in test_entry_types.py, and stays out of the way here."""
    monkeypatch.setattr(entry_types, "entry_type_problem", lambda entry, index, keys: None)


def _with_consumer(node: str = "c1") -> tuple[ChainMaker, Ed25519PrivateKey]:
    maker = ChainMaker()
    key = Ed25519PrivateKey.generate()
    registration = {"node": node, "role": "consumer", "jwk": jwk_of(key.public_key())}
    maker.seal([maker.entry(registration, signed_auth(key, registration, "/nodes"), actor=node,
                            entry_type="node.registered")])
    return maker, key


def _refused(blocks, match: str) -> VerificationError:
    with pytest.raises(VerificationError, match=match) as caught:
        verify_blocks(copy.deepcopy(blocks))
    return caught.value


# --- an auth is bound to its entry

def test_an_auth_by_another_nodes_key_is_refused():
    maker, key = _with_consumer("c1")
    data = {"n": 1}
    maker.seal([maker.entry(data, signed_auth(key, data), actor="c2")])
    error = _refused(maker.blocks, "key of node c1, not of the entry's actor c2")
    assert (error.height, error.index) == (2, 2)


def test_every_auth_base_carries_a_nonce():
    maker, key = _with_consumer()
    data = {"n": 1}
    auth = signed_auth(key, data, params='created=1700000000;expires=1700000300;keyid="x";alg="ed25519"')
    maker.seal([maker.entry(data, auth, actor="c1")])
    _refused(maker.blocks, "no nonce")


def test_a_nonce_only_in_a_component_value_is_not_a_nonce():
    maker, key = _with_consumer()
    data = {"n": 1}
    auth = signed_auth(key, data, path='/orders?nonce="abc";x', params="created=1700000000")
    maker.seal([maker.entry(data, auth, actor="c1")])
    _refused(maker.blocks, "no nonce")


def test_a_nonce_that_is_a_token_not_a_string_is_refused():
    maker, key = _with_consumer()
    data = {"n": 1}
    maker.seal([maker.entry(data, signed_auth(key, data, params="created=1700000000;nonce=abc"), actor="c1")])
    _refused(maker.blocks, "no nonce")


def test_a_signed_request_replayed_in_the_same_block_is_refused():
    maker, key = _with_consumer()
    data = {"n": 1}
    auth = signed_auth(key, data)
    maker.seal([maker.entry(data, auth, actor="c1"), maker.entry(data, auth, actor="c1")])
    error = _refused(maker.blocks, "replayed")
    assert (error.height, error.index) == (2, 3)


def test_a_signed_request_replayed_in_a_later_block_is_refused():
    maker, key = _with_consumer()
    data = {"n": 1}
    auth = signed_auth(key, data)
    maker.seal([maker.entry(data, auth, actor="c1")])
    verify_blocks(copy.deepcopy(maker.blocks))
    maker.seal([maker.entry({"other": True}), maker.entry(data, auth, actor="c1")])
    error = _refused(maker.blocks, "replayed")
    assert (error.height, error.index) == (3, 4)


def test_the_same_nonce_under_another_key_is_no_replay():
    maker, key = _with_consumer("c1")
    other = Ed25519PrivateKey.generate()
    registration = {"node": "c2", "role": "consumer", "jwk": jwk_of(other.public_key())}
    maker.seal([maker.entry(registration, signed_auth(other, registration, "/nodes"), actor="c2")])
    data = {"n": 1}
    maker.seal([maker.entry(data, signed_auth(key, data, nonce="same-nonce"), actor="c1"),
                maker.entry(data, signed_auth(other, data, nonce="same-nonce"), actor="c2")])
    verify_blocks(copy.deepcopy(maker.blocks))


def test_verify_block_hands_back_the_pairs_to_remember_and_asks_the_book():
    maker, key = _with_consumer()
    data = {"n": 1}
    auth = signed_auth(key, data, nonce="n-0001")
    maker.seal([maker.entry(data, auth, actor="c1")])
    state, keys, nonces = ChainState.empty(), MemoryKeyBook(), MemoryNonceBook()
    outcomes = []
    for block in maker.blocks:
        outcome = verify_block(state, block, keys, nonces)
        keys.update(outcome.keys)
        nonces.remember(outcome.nonces)
        state = outcome.state
        outcomes.append(outcome)
    kid = jwk_of(key.public_key())["kid"]
    assert outcomes[2].nonces == [(kid, "n-0001")]
    assert nonces.used([(kid, "n-0001"), (kid, "other")]) == {(kid, "n-0001")}


# --- keys: registered once, only for the registering node itself, with an owner

def test_registering_a_key_id_again_is_refused():
    maker, key = _with_consumer("c1")
    jwk = jwk_of(key.public_key())
    maker.seal([maker.entry({"node": "c9", "jwk": jwk})])
    _refused(maker.blocks, "registered again")


def test_a_signed_entry_registers_a_key_only_for_its_own_actor():
    maker, key = _with_consumer("c1")
    stranger = jwk_of(Ed25519PrivateKey.generate().public_key())
    data = {"node": "c2", "jwk": stranger}
    maker.seal([maker.entry(data, signed_auth(key, data), actor="c1")])
    _refused(maker.blocks, "only for its own actor")


def test_a_key_belongs_to_the_registering_entrys_actor_without_data_node():
    maker = ChainMaker()
    key = Ed25519PrivateKey.generate()
    jwk = jwk_of(key.public_key())
    maker.seal([maker.entry({"jwk": jwk}, signed_auth(key, {"jwk": jwk}), actor="c5")])
    maker.seal([maker.entry({"n": 1}, signed_auth(key, {"n": 1}), actor="c5")])
    verify_blocks(copy.deepcopy(maker.blocks))
    maker.seal([maker.entry({"n": 2}, signed_auth(key, {"n": 2}), actor="c6")])
    _refused(maker.blocks, "key of node c5")


def test_a_revoke_kid_that_is_not_a_key_id_is_refused():
    maker = ChainMaker()
    maker.seal([maker.entry({"revoke_kid": "x" * 5000})])
    _refused(maker.blocks, "revoke_kid must be a key id")


# --- sealer keys, exactly as LEDGER.md defines them

def test_a_key_of_the_stamp_node_registered_by_the_system_seals_without_any_role():
    maker = ChainMaker()
    rotated = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "stamp", "jwk": rotated.jwk}, entry_type="key.rotated")])
    maker.signer = rotated
    maker.seal([maker.entry({"n": 1})])
    result = verify_blocks(copy.deepcopy(maker.blocks))
    assert result.sealer_keys == [maker.blocks[0]["entries"][0]["data"]["jwk"], rotated.jwk]


def test_a_key_with_role_stamp_for_another_node_is_no_sealer_key():
    maker = ChainMaker()
    impostor = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "impostor", "role": "stamp", "jwk": impostor.jwk}, entry_type="node.registered")])
    maker.signer = impostor
    maker.seal([maker.entry({"n": 1})])
    error = _refused(maker.blocks, "no sealer key")
    assert error.height == 2


def test_a_stamp_key_registered_by_a_signed_request_is_no_sealer_key():
    genesis_key = Ed25519PrivateKey.generate()
    maker = ChainMaker(Signer(genesis_key))
    second = Signer(Ed25519PrivateKey.generate())
    data = {"node": "stamp", "jwk": second.jwk}
    maker.seal([maker.entry(data, signed_auth(genesis_key, data), actor="stamp")])
    verify_blocks(copy.deepcopy(maker.blocks))
    maker.signer = second
    maker.seal([maker.entry({"n": 1})])
    _refused(maker.blocks, "no sealer key")


def test_the_stamp_node_is_the_owner_of_the_key_sealing_block_0():
    signer = Signer(Ed25519PrivateKey.generate())
    maker = ChainMaker(signer, genesis_data={"node": "platform", "jwk": signer.jwk})
    rotated = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "platform", "jwk": rotated.jwk})])
    maker.signer = rotated
    maker.seal([maker.entry({"n": 1})])
    verify_blocks(copy.deepcopy(maker.blocks))


def test_block_0_must_be_sealed_by_a_key_the_system_registers_in_it():
    signer = Signer(Ed25519PrivateKey.generate())
    by_a_node = ChainMaker(signer, genesis_actor="stamp")
    _refused(by_a_node.blocks, "not registered by the system")
    elsewhere = ChainMaker(genesis_data={"node": "stamp", "jwk": jwk_of(Ed25519PrivateKey.generate().public_key())})
    _refused(elsewhere.blocks, "does not register the key that seals it")


# --- the size of an entry

def _padded(maker: ChainMaker, size: int) -> dict:
    entry = {"v": 1, "id": "padded", "type": "test.note", "ts": maker.ts, "actor": "system", "data": {"pad": ""},
             "auth": None}
    entry["data"]["pad"] = "x" * (size - len(canonical(entry)))
    assert len(canonical(entry)) == size
    return entry


def test_an_entry_of_65535_bytes_is_accepted_and_one_more_is_refused():
    maker = ChainMaker()
    maker.seal([_padded(maker, MAX_ENTRY_BYTES)])
    verify_blocks(copy.deepcopy(maker.blocks))
    maker = ChainMaker()
    maker.seal([_padded(maker, MAX_ENTRY_BYTES + 1)])
    error = _refused(maker.blocks, "at most 65,535 bytes")
    assert error.index == 1


def test_the_program_cannot_make_an_entry_over_the_limit():
    with pytest.raises(ValueError, match="65,535"):
        make_entry("e1", "test.note", 1, "system", {"pad": "x" * MAX_ENTRY_BYTES})


# --- order of the checks, and the hook

def test_a_header_whose_signature_fails_is_blamed_before_its_log_root():
    chain = copy.deepcopy(ChainMaker().with_signed_entries(blocks=3, per_block=4).blocks)
    header = chain[3]["header"]
    header["log_root"] = "ab" * 32
    chain[3]["hash"] = block_hash(header)
    chain[3]["entries"][1]["data"]["amount"] += 1
    error = _refused(chain, "signature does not verify")
    assert error.height == 3 and error.index is None


def test_the_per_type_hook_is_called_for_every_entry(monkeypatch):
    seen = []

    def hook(entry, index, keys):
        seen.append(index)
        return "the data does not follow from the body" if entry["data"].get("n") == 3 else None

    monkeypatch.setattr(entry_types, "entry_type_problem", hook)
    chain = ChainMaker().with_signed_entries(blocks=1, per_block=4).blocks
    error = _refused(chain, "does not follow from the body")
    assert error.index == 5 and seen == [0, 1, 2, 3, 4, 5]


def test_a_hostile_entry_id_is_not_repeated_in_the_reason():
    maker = ChainMaker()
    maker.seal([maker.entry({"n": 1})])
    chain = copy.deepcopy(maker.blocks)
    chain[1]["entries"][0]["id"] = "x" * 3000
    error = _refused(chain, "entry id must be")
    assert error.index == 1 and error.entry_id is None and len(str(error)) < 300


# --- hostile blocks: verify_block refuses them, it never crashes on them

CHAIN = ChainMaker().with_signed_entries(blocks=2, per_block=4).blocks
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


def _states():
    state, keys, nonces = ChainState.empty(), MemoryKeyBook(), MemoryNonceBook()
    found = []
    for block in CHAIN:
        found.append((state, MemoryKeyBook(keys.records), copy.deepcopy(nonces)))
        outcome = verify_block(state, block, keys, nonces)
        keys.update(outcome.keys)
        nonces.remember(outcome.nonces)
        state = outcome.state
    return found


STATES = _states()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            yield from _paths(child, (*prefix, position))


@settings(max_examples=150)
@given(st.integers(0, len(CHAIN) - 1), st.data())
def test_any_value_anywhere_in_a_block_is_refused_or_accepted_never_a_crash(height, data):
    block = copy.deepcopy(CHAIN[height])
    paths = list(_paths(block))
    path = data.draw(st.sampled_from(paths[1:]))
    target = block
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = data.draw(JSON)
    state, keys, nonces = STATES[height]
    try:
        verify_block(state, json.loads(json.dumps(block)), keys, nonces, set())
    except VerificationError as exc:
        assert exc.height == height


@given(JSON)
def test_any_json_value_as_a_block_is_refused(value):
    state, keys, nonces = STATES[1]
    with pytest.raises(VerificationError):
        verify_block(state, value, keys, nonces)


# --- the nonce is parsed as RFC 8941 says: the fast path agrees with http_sf

def _nonce_outcome(value: str, fast: bool):
    from chalicelib.ledger import auth

    original = auth._fast_nonce
    try:
        if not fast:
            auth._fast_nonce = lambda _value: None
        return ("ok", auth.signature_nonce('"@method": POST\n"@signature-params": ' + value))
    except auth.NonceProblem:
        return ("refused", None)
    finally:
        auth._fast_nonce = original


_KEYS = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True)
_BARE_VALUES = st.one_of(
    st.integers(-10**15 + 1, 10**15 - 1), st.booleans(),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=12),
    st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,8}", fullmatch=True).map(
        lambda t: __import__("http_sf").types.Token(t)),
    st.binary(max_size=6),
)


_NONCES = st.one_of(st.text(st.sampled_from(list('ab9"\\ -~;=()')), max_size=10), st.none(), _BARE_VALUES)


@settings(max_examples=300)
@given(st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=10), max_size=4),
       st.dictionaries(_KEYS, _BARE_VALUES, max_size=5), _NONCES)
def test_the_fast_nonce_parser_agrees_with_http_sf_on_serialised_params(components, params, nonce):
    import http_sf

    if nonce is not None:
        params = {**params, "nonce": nonce}
    value = http_sf.ser({"x": ([(c, {}) for c in components], params)})[2:]
    assert _nonce_outcome(value, fast=True) == _nonce_outcome(value, fast=False)


@settings(max_examples=300)
@given(st.one_of(st.sampled_from([
    ';A=1', ';nonce="x";nonce="y"', ' ', '\t', ';a=1.2345', ';a=1234567890123.5', ';a=-', ';a="\\x"', ';a=?2',
    ';a=:AAA=:', ';a=:A:', ';a=@12', ';a=%"x"', ', ("b")', ';a=1;', '; a=1', ';a =1', ';a=10000000000000000',
    ';nonce=""', ';nonce', ';nonce=tok', ';nonce="a\\"b"', ';a="é"', ';_a=1', ';a=1 ',
]), st.text(st.sampled_from(list('()";=?: -.*1az\\Ao,\t')), max_size=40)))
def test_the_fast_nonce_parser_never_accepts_what_http_sf_refuses(tail):
    value = '("@method" "a");nonce="n1"' + tail
    assert _nonce_outcome(value, fast=True) == _nonce_outcome(value, fast=False)
    value = "(" + tail
    assert _nonce_outcome(value, fast=True) == _nonce_outcome(value, fast=False)
