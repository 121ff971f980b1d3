"""A verifier written from LEDGER.md alone, by someone who had not read this code, accepts our chain.

tests/independent/ledger_spec_verifier.py was written blind to chalicelib/: it
is the "independent verifier" LEDGER.md promises. It must accept what we seal
and reject any change; the end-to-end test runs it on a real export too.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.keys import jwk_of
from chalicelib.services.sealer_key import Signer
from tests.chainmaker import ChainMaker, signed_auth
from tests.independent.ledger_spec_verifier import SpecViolation, verify_chain

MAKER = ChainMaker().with_signed_entries(blocks=3, per_block=6)
CHAIN = MAKER.blocks
SEALERS = [MAKER.signer.kid]


def test_it_accepts_our_chain():
    verify_chain(copy.deepcopy(CHAIN), CHAIN[0]["hash"], sealer_kids=SEALERS)


@given(st.data())
def test_it_rejects_any_flipped_byte_we_seal(data):
    chain = copy.deepcopy(CHAIN)
    height = data.draw(st.integers(0, len(chain) - 1))
    index = data.draw(st.integers(-1, len(chain[height]["entries"]) - 1))
    target = chain[height]["header"] if index < 0 else chain[height]["entries"][index]
    raw = bytearray(canonical(target))
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    try:
        changed = json.loads(raw.decode("utf-8"))
    except ValueError:
        return
    if index < 0:
        chain[height]["header"] = changed
    else:
        chain[height]["entries"][index] = changed
    with pytest.raises(SpecViolation):
        verify_chain(chain, sealer_kids=SEALERS)


# --------------------------------------------------------------------------
# The rules LEDGER.md added since the verifier was first written. Each chain
# below is sealed by the real block builder (ChainMaker), so only the rule
# under test is broken; the chain that keeps it is accepted.
# --------------------------------------------------------------------------


def _key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _kid(key: Ed25519PrivateKey) -> str:
    return jwk_of(key.public_key())["kid"]


def _auth_with_params(key: Ed25519PrivateKey, body: dict, params: str) -> dict:
    """A signed auth whose @signature-params line ends in ``params`` (KID stands for the key id)."""
    text = json.dumps(body, separators=(",", ":"))
    kid = _kid(key)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    base = ('"@method": POST\n"@target-uri": https://covenant.example/orders\n'
            f'"content-digest": sha-256=:{digest}:\n'
            '"@signature-params": ("@method" "@target-uri" "content-digest")' + params.replace("KID", kid))
    return {"kid": kid, "base": base, "sig": base64.b64encode(key.sign(base.encode())).decode(), "body": text}


def _with_node(node: str = "c1") -> tuple[ChainMaker, Ed25519PrivateKey]:
    """Genesis, then a block where ``node`` registers its own key with a signed request."""
    maker = ChainMaker()
    key = _key()
    registration = {"node": node, "role": "consumer", "jwk": jwk_of(key.public_key())}
    maker.seal([maker.entry(registration, signed_auth(key, registration, "/nodes"), actor=node,
                            entry_type="node.registered")])
    return maker, key


def _signed(maker: ChainMaker, key: Ed25519PrivateKey, actor: str, data: dict | None = None,
            auth: dict | None = None) -> dict:
    data = data if data is not None else {"n": maker.counter}
    return maker.entry(data, auth or signed_auth(key, data), actor=actor)


def _rejects(maker: ChainMaker, match: str, height: int, index: int | None = None, **kwargs) -> None:
    with pytest.raises(SpecViolation, match=match) as caught:
        verify_chain(copy.deepcopy(maker.blocks), **kwargs)
    assert (caught.value.height, caught.value.index) == (height, index), str(caught.value)


def test_the_genesis_hash_is_accepted_by_both_names():
    verify_chain(copy.deepcopy(CHAIN), genesis_hash=CHAIN[0]["hash"])
    verify_chain(copy.deepcopy(CHAIN), trusted_genesis_hash=CHAIN[0]["hash"])
    with pytest.raises(SpecViolation, match="trusted"):
        verify_chain(copy.deepcopy(CHAIN), genesis_hash="0" * 64)


# ---- "An auth binds its entry: the key named by auth.kid must belong to the entry's actor."


def test_an_auth_must_use_a_key_of_the_entrys_actor():
    good, key = _with_node("c1")
    good.seal([_signed(good, key, "c1")])
    verify_chain(copy.deepcopy(good.blocks))

    bad, key = _with_node("c1")
    bad.seal([_signed(bad, key, "c1"), _signed(bad, key, "c2")])  # c1's request lent to c2
    _rejects(bad, r"not bound to its entry: key \w+ belongs to 'c1'.*actor is 'c2'", 2, 3)


def test_a_key_belongs_to_data_node_else_to_the_registering_actor():
    maker = ChainMaker()
    for_c2, for_system = _key(), _key()
    maker.seal([maker.entry({"node": "c2", "jwk": jwk_of(for_c2.public_key())}),  # system registers c2's key
                maker.entry({"jwk": jwk_of(for_system.public_key())})])  # no data.node: the actor's (system's)
    good = copy.deepcopy(maker)
    good.seal([_signed(good, for_c2, "c2"), _signed(good, for_system, "system")])
    verify_chain(copy.deepcopy(good.blocks))

    wrong_owner = copy.deepcopy(maker)
    wrong_owner.seal([_signed(wrong_owner, for_c2, "system")])
    _rejects(wrong_owner, "not bound to its entry: key .* belongs to 'c2'", 2, 3)
    no_node = copy.deepcopy(maker)
    no_node.seal([_signed(no_node, for_system, "c2")])
    _rejects(no_node, "not bound to its entry: key .* belongs to 'system'", 2, 3)


# ---- "No two entries of the chain carry an auth with the same kid and signature nonce"


def test_a_signed_request_cannot_be_replayed_into_a_second_entry():
    good, key = _with_node("c1")
    data = {"order": "o1", "amount": 100}
    good.seal([_signed(good, key, "c1", data), _signed(good, key, "c1", data)])  # same body, two nonces
    verify_chain(copy.deepcopy(good.blocks))

    same_block, key = _with_node("c1")
    auth = signed_auth(key, data)
    same_block.seal([_signed(same_block, key, "c1", data, auth), _signed(same_block, key, "c1", data, auth)])
    _rejects(same_block, r"auth replayed: kid \w+ with nonce '[0-9a-f]+' already signed entry 2", 2, 3)

    later_block, key = _with_node("c1")
    later_block.seal([_signed(later_block, key, "c1", data, auth := signed_auth(key, data))])
    later_block.seal([later_block.entry({"n": 1}), _signed(later_block, key, "c1", data, auth)])
    _rejects(later_block, "auth replayed: .* already signed entry 2", 3, 4)


# ---- "every auth.base carries a nonce signature parameter"


@pytest.mark.parametrize(("params", "match"), [
    (';created=1700000000;keyid="KID";alg="ed25519"', "carries no nonce parameter"),
    (';created=1700000000;nonce=n0nce;keyid="KID"', "nonce Token.* not a non-empty RFC 8941 string"),
    (';created=1700000000;nonce=12345;keyid="KID"', "nonce 12345 is not a non-empty RFC 8941 string"),
    (';created=1700000000;nonce="";keyid="KID"', "nonce '' is not a non-empty RFC 8941 string"),
    (';nonce="a";nonce="b";keyid="KID"', "names 'nonce' twice"),
    (';nonce="abc;keyid="KID"', "not an RFC 8941 inner list with parameters"),
    (';nonce="abc" trailing', "not an RFC 8941 inner list with parameters"),
    (';nonce="abc", ("x")', "is not one RFC 8941 inner list"),
])
def test_every_auth_base_carries_a_nonce_parameter(params, match):
    good, key = _with_node("c1")
    data = {"n": 1}
    good.seal([_signed(good, key, "c1", data, _auth_with_params(key, data, ';created=1;nonce="x1";keyid="KID"'))])
    verify_chain(copy.deepcopy(good.blocks))

    bad, key = _with_node("c1")
    bad.seal([_signed(bad, key, "c1", data, _auth_with_params(key, data, params))])
    _rejects(bad, match, 2, 2)


def test_the_signature_params_components_must_match_the_base_lines():
    bad, key = _with_node("c1")
    data = {"n": 1}
    auth = _auth_with_params(key, data, ';nonce="x1"')
    auth["base"] = auth["base"].replace('("@method" "@target-uri"', '("@target-uri" "@method"')
    auth["sig"] = base64.b64encode(key.sign(auth["base"].encode())).decode()
    bad.seal([_signed(bad, key, "c1", data, auth)])
    _rejects(bad, "do not match the components listed", 2, 2)


# ---- "registering a key id again is invalid"


def test_a_key_id_is_registered_once():
    maker, key = _with_node("c1")
    again = {"node": "c1", "jwk": jwk_of(key.public_key())}
    maker.seal([maker.entry({"n": 1}), maker.entry(again)])
    _rejects(maker, r"key \w+ registered again: it entered the ledger at entry 1", 2, 3)

    genesis_key = ChainMaker()
    genesis_key.seal([genesis_key.entry({"node": "stamp", "jwk": genesis_key.signer.jwk})])
    _rejects(genesis_key, "registered again: it entered the ledger at entry 0", 1, 1)


# ---- "An entry with a non-null auth may register a key only for its own actor"


def test_a_signed_entry_registers_keys_only_for_its_own_actor():
    good, key = _with_node("c1")
    second = _key()
    good.seal([_signed(good, key, "c1", {"jwk": jwk_of(second.public_key())})])  # no data.node: c1's key
    good.seal([_signed(good, second, "c1")])
    verify_chain(copy.deepcopy(good.blocks))

    bad, key = _with_node("c1")
    bad.seal([_signed(bad, key, "c1", {"node": "c2", "jwk": jwk_of(_key().public_key())})])
    _rejects(bad, "may register a key only for its own actor: .* data.node 'c2', the actor is 'c1'", 2, 2)


# ---- "auth.kid must name a key that entered the ledger at or before that entry and was not revoked
#      before it; an entry whose data.revoke_kid names a key revokes it for every later entry"


def test_a_revoked_key_signs_nothing_after_its_revocation():
    good, key = _with_node("c1")
    # The revoking entry itself may still be signed by the key it revokes.
    good.seal([_signed(good, key, "c1", {"revoke_kid": _kid(key)})])
    verify_chain(copy.deepcopy(good.blocks))

    same_block, key = _with_node("c1")
    same_block.seal([same_block.entry({"revoke_kid": _kid(key)}), _signed(same_block, key, "c1")])
    _rejects(same_block, r"auth.kid: key \w+ was revoked by entry 2", 2, 3)

    later_block, key = _with_node("c1")
    later_block.seal([_signed(later_block, key, "c1", {"revoke_kid": _kid(key)})])
    later_block.seal([_signed(later_block, key, "c1")])
    _rejects(later_block, "was revoked by entry 2", 3, 3)


def test_a_key_signs_nothing_before_it_enters_the_ledger():
    maker = ChainMaker()
    key = _key()
    maker.seal([_signed(maker, key, "c1"), maker.entry({"node": "c1", "jwk": jwk_of(key.public_key())})])
    _rejects(maker, "auth.kid: key .* is not registered at that point", 1, 1)


# ---- Sealer keys: "the stamp node is the node that owns the key sealing block 0, which block 0
#      registers. A sealer key is a key of the stamp node registered by an entry whose actor is system;
#      it may seal block h > 0 only if it entered the ledger in a block before h and was not revoked
#      in a block before h."


def _rotating(revoke_old_in: int = 2) -> tuple[ChainMaker, Signer, Signer]:
    """Block 1 registers a new stamp key (sealed by the old one); ``revoke_old_in`` revokes the old."""
    maker = ChainMaker()
    old, new = maker.signer, Signer(_key())
    revoke = maker.entry({"revoke_kid": old.kid})
    maker.seal([maker.entry({"node": "stamp", "role": "stamp", "jwk": new.jwk})]
               + ([revoke] if revoke_old_in == 1 else []))
    return maker, old, new


def test_a_sealer_key_rotation_is_accepted():
    maker, old, new = _rotating()
    maker.signer = new
    maker.seal([maker.entry({"revoke_kid": old.kid})])
    maker.seal([maker.entry({"n": 1})])
    verify_chain(copy.deepcopy(maker.blocks), maker.blocks[0]["hash"], [old.kid, new.kid])
    verify_chain(copy.deepcopy(maker.blocks))
    with pytest.raises(SpecViolation, match="not among the given sealer keys"):
        verify_chain(copy.deepcopy(maker.blocks), sealer_kids=[old.kid])


def test_a_sealer_key_does_not_seal_the_block_that_registers_it():
    maker = ChainMaker()
    maker.signer = new = Signer(_key())
    maker.seal([maker.entry({"node": "stamp", "role": "stamp", "jwk": new.jwk})])
    _rejects(maker, "did not enter the ledger in a block before 1", 1)


def test_a_revoked_sealer_key_seals_its_last_block_and_no_later_one():
    maker, old, _new = _rotating(revoke_old_in=1)  # block 1 revokes the old key, which still seals it
    verify_chain(copy.deepcopy(maker.blocks))
    maker.seal([maker.entry({"n": 1})])  # the old key again
    _rejects(maker, f"sealer: key {old.kid} was revoked in block 1 \\(entry 2\\), before block 2", 2)


@pytest.mark.parametrize(("data", "actor", "owner"), [
    ({"node": "c9", "role": "consumer"}, "system", "c9"),  # another node's key
    ({"role": "stamp"}, "system", "system"),  # no data.node: the system's own key, not the stamp node's
])
def test_only_keys_of_the_stamp_node_seal(data, actor, owner):
    maker = ChainMaker()
    other = Signer(_key())
    maker.seal([maker.entry({**data, "jwk": other.jwk}, actor=actor)])
    maker.signer = other
    maker.seal([maker.entry({"n": 1})])
    _rejects(maker, f"not a sealer key .* belongs to '{owner}'", 2)


def test_a_stamp_key_the_stamp_node_registered_itself_does_not_seal():
    maker = ChainMaker()
    other = Signer(_key())
    # The stamp node's signed request registers a key for itself: its key, but not registered by system.
    maker.seal([_signed(maker, maker.signer.key, "stamp", {"role": "stamp", "jwk": other.jwk})])
    maker.signer = other
    maker.seal([maker.entry({"n": 1})])
    _rejects(maker, "not a sealer key .* belongs to 'stamp' and was registered by entry 1", 2)


def test_genesis_is_sealed_by_a_key_it_registers_by_a_system_entry():
    maker = ChainMaker()
    key = maker.signer.key
    maker.blocks, maker.head = [], None
    registration = {"node": "stamp", "role": "stamp", "jwk": maker.signer.jwk}
    maker.seal([maker.entry(registration, signed_auth(key, registration, "/nodes"), actor="stamp",
                            entry_type="node.registered")])
    _rejects(maker, "actor is not system: not a sealer key", 0)

    unregistered = ChainMaker()
    unregistered.blocks, unregistered.head = [], None
    unregistered.seal([unregistered.entry({"n": 0})])
    _rejects(unregistered, "is not registered in block 0", 0)


# ---- "An entry's JCS is at most 65,535 bytes"


@pytest.mark.parametrize(("size", "ok"), [(65_535, True), (65_536, False)])
def test_an_entry_is_at_most_65535_bytes_of_jcs(size, ok):
    maker = ChainMaker()
    entry = maker.entry({"blob": ""})
    entry["data"]["blob"] = "x" * (size - len(canonical(entry)))
    assert len(canonical(entry)) == size
    maker.seal([entry])
    if ok:
        verify_chain(copy.deepcopy(maker.blocks))
    else:
        _rejects(maker, "entry JCS is 65536 bytes, more than the 65535-byte entry size limit", 1, 1)
