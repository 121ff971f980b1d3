"""Appending and sealing under mock_aws: one chain, every entry in exactly one block."""

from __future__ import annotations

import json

import pytest

from chalicelib.errors import ChainNotStarted, DuplicateEntry
from chalicelib.ledger import merkle
from chalicelib.ledger.verify import ChainState, MemoryKeyBook, MemoryNonceBook, verify_block
from chalicelib.services import reading
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.sealing import seal_pending_entries

# The ledger's and the program's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb


def test_commit_before_genesis_is_refused(aws):
    with pytest.raises(ChainNotStarted):
        commit([Draft("test.note", "system", {"n": 1})])


def test_genesis_block_registers_the_stamp_key(chain):
    head = reading.head()
    assert head["header"]["height"] == 0 and head["header"]["count"] == 1
    assert head["header"]["sealer"] == chain.kid
    from chalicelib.ledger.keys import public_key_from_jwk
    from chalicelib.ledger.note import local_origin, vkey

    assert reading.keys() == {"keys": [{**chain.jwk, "vkey": vkey(local_origin(head["hash"]),
                                                                   public_key_from_jwk(chain.jwk))}]}
    block = reading.block(0)
    assert block["entries"][0]["data"]["jwk"] == chain.jwk


def test_sealing_assigns_contiguous_indices_and_verifies(chain):
    entries = [commit([Draft("test.note", "system", {"n": i})])[0] for i in range(25)]
    report = seal_pending_entries(chain)
    assert report.blocks == [1] and report.entries == 25
    state, keys, nonces = ChainState.empty(), MemoryKeyBook(), MemoryNonceBook()
    for height in (0, 1):
        outcome = verify_block(state, reading.full_block(height), keys, nonces)
        keys.update(outcome.keys)
        state = outcome.state
    indices = sorted(reading.entry(e["id"])["index"] for e in entries)
    assert indices == list(range(1, 26))


def test_no_empty_blocks(chain):
    assert seal_pending_entries(chain).blocks == []
    assert reading.head()["header"]["height"] == 0


def test_blocks_are_capped(chain, monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("COVENANT_MAX_BLOCK_ENTRIES", "10")
    reset_settings()
    commit([Draft("test.note", "system", {"n": i}) for i in range(23)])
    report = seal_pending_entries(chain)
    assert report.blocks == [1, 2, 3]
    assert [reading.block(h)["header"]["count"] for h in (1, 2, 3)] == [10, 10, 3]


def test_an_oversized_commit_is_refused_before_writing(chain):
    from chalicelib.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="at most 100"):
        commit([Draft("test.note", "system", {"n": i}) for i in range(51)])


def test_a_reused_entry_id_is_refused_and_nothing_is_written(chain):
    commit([Draft("test.note", "system", {"n": 1}, id="same-id")])
    with pytest.raises(DuplicateEntry):
        commit([Draft("test.note", "system", {"n": 2}, id="fresh-id"), Draft("test.note", "system", {}, id="same-id")])
    seal_pending_entries(chain)
    with pytest.raises(Exception):
        reading.entry("fresh-id")
    assert reading.entry("same-id")["entry"]["data"] == {"n": 1}


def test_proofs_from_storage_verify_against_block_roots(chain):
    for batch in range(4):
        for i in range(7 + batch * 90):
            commit([Draft("test.note", "system", {"b": batch, "n": i})])
        seal_pending_entries(chain)
    head = reading.head()["header"]
    root = bytes.fromhex(head["log_root"])
    size = head["log_size"]
    for index in (0, 1, 100, size - 1):
        found = reading.block(reading.entry(_id_at(index))["height"])
        entry = next(e for e in found["entries"] if reading.entry(e["id"])["index"] == index)
        from chalicelib.ledger.format import entry_leaf

        proof = reading.inclusion_proof(index, size)
        merkle.verify_inclusion(index, size, entry_leaf(entry), [bytes.fromhex(p) for p in proof["path"]], root)
    first = reading.block(2)["header"]
    proof = reading.consistency_proof(first["log_size"], size)
    merkle.verify_consistency(first["log_size"], size, bytes.fromhex(first["log_root"]), root,
                              [bytes.fromhex(p) for p in proof["path"]])


def _id_at(index: int) -> str:
    height = 0
    while True:
        block = reading.full_block(height)
        header = block["header"]
        first = header["log_size"] - header["count"]
        if index < header["log_size"]:
            return block["entries"][index - first]["id"]
        height += 1


def test_each_block_is_broadcast_to_every_replica_queue(chain, aws):
    from tests.conftest import body_of, drain_queue

    commit([Draft("test.note", "system", {"n": 1})])
    seal_pending_entries(chain)
    for url in aws.queue_urls:
        messages = [json.loads(body_of(r)["Message"]) for r in drain_queue(url)]
        assert [m["header"]["height"] for m in messages] == [0, 1]
        assert messages[1]["entries"][0]["data"] == {"n": 1}


@pytest.mark.parametrize("data", [{"amount": 1.5}, {"nested": [{"x": 2.0}]}, {"big": 2**53}])
def test_floats_and_unsafe_integers_never_enter_the_ledger(chain, data):
    from chalicelib.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        commit([Draft("test.note", "system", data)])
    assert seal_pending_entries(chain).entries == 0


def test_entries_committed_together_keep_their_order(chain):
    ids = [e["id"] for e in commit([Draft("test.step", "system", {"step": s}, id=f"zz-{9 - s}") for s in range(9)])]
    seal_pending_entries(chain)
    sealed = [e["id"] for e in reading.full_block(1)["entries"]]
    assert sealed == ids  # commit order, not the ids' (reversed) order
