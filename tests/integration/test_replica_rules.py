"""Replicas apply LEDGER.md's rules with their own table, and quarantine every block that fails, whatever it holds."""

from __future__ import annotations

import copy
import json

import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import app
from chalicelib.ledger.keys import jwk_of
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.replication import receive_block
from chalicelib.services.sealer_key import Signer
from chalicelib.services.sealing import seal_pending_entries
from chalicelib.store.models import replica_model
from chalicelib.store.replica_store import ReplicaStore
from tests.chainmaker import ChainMaker, signed_auth
from tests.conftest import deliver, drain_queue


def _quarantined(replica: int) -> list:
    model = replica_model(replica)
    return list(model.scan(model.pk.startswith("q#")))


def _deliver_all(blocks: list[dict], replica: int = 0) -> list[str]:
    """Each block in turn, to a fresh ReplicaStore (so nothing is remembered but the table)."""
    by_height = {b["header"]["height"]: b for b in blocks}
    return [receive_block(replica, {**b, "kind": "block"}, lambda h: by_height.get(h)) for b in blocks]


def _status(replica: int) -> dict:
    record = ReplicaStore(replica).state_record()
    return {"status": record.status if record is not None else "empty",
            "height": int(record.height) if record is not None and record.height is not None else -1,
            "reason": record.reason if record is not None else None}


# --- the case, through the real SQS handler

@pytest.fixture
def lambda_client(chain):
    with Client(app, stage_name="test") as client:
        yield client


def _records(chain, aws) -> list[dict]:
    commit([Draft("test.note", "system", {"n": i}) for i in range(3)])
    seal_pending_entries(chain)
    return sorted(drain_queue(aws.queue_urls[0]),
                  key=lambda r: json.loads(json.loads(r["body"])["Message"])["header"]["height"])


def _edited(record: dict, change) -> dict:
    envelope = json.loads(record["body"])
    message = json.loads(envelope["Message"])
    change(message)
    envelope["Message"] = json.dumps(message)
    return {**record, "body": json.dumps(envelope), "messageId": record["messageId"] + "-edited"}


def test_a_claimed_hash_of_3000_characters_is_quarantined_not_dead_lettered(lambda_client, chain, aws):
    records = _records(chain, aws)
    invoke = lambda batch: deliver({"Records": batch})  # noqa: E731
    assert invoke(records) == {"batchItemFailures": []}
    # at a height the replica verified: a conflict
    conflict = _edited(records[1], lambda m: m.__setitem__("hash", "f" * 3000))
    assert invoke([conflict]) == {"batchItemFailures": []}
    status = _status(0)
    assert status["status"] == "quarantined" and "conflicts" in status["reason"]
    # at the next height: it fails verification, and the reason is kept
    _records(chain, aws)
    fresh = _records(chain, aws)
    ahead = _edited(fresh[-1], lambda m: m.__setitem__("hash", "a" * 3000))
    assert invoke([ahead]) == {"batchItemFailures": []}
    status = _status(0)
    assert status["status"] == "quarantined" and "block hash is not SHA-256" in status["reason"]
    assert len(_quarantined(0)) == 2
    assert all(len(item.pk) < 200 and len(item.hash) <= 200 for item in _quarantined(0))


# --- every hostile field

def _hostile(change):
    def make(block: dict) -> dict:
        block = copy.deepcopy(block)
        change(block)
        return block
    return make


def _deep(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "header not an object": _hostile(lambda b: b.__setitem__("header", ["not", "a", "header"])),
    "no header": _hostile(lambda b: b.pop("header")),
    "height a string": _hostile(lambda b: b["header"].__setitem__("height", "1")),
    "height negative": _hostile(lambda b: b["header"].__setitem__("height", -1)),
    "height beyond 2^53": _hostile(lambda b: b["header"].__setitem__("height", 2**60)),
    "height of 40 digits": _hostile(lambda b: b["header"].__setitem__("height", 10**40)),
    "huge header": _hostile(lambda b: b["header"].__setitem__("memo", "x" * 300_000)),
    "deeply nested header": _hostile(lambda b: b["header"].__setitem__("ts", _deep(5000))),
    "hash an object": _hostile(lambda b: b.__setitem__("hash", {"h": ["x" * 5000] * 10})),
    "hash of 3,000 characters": _hostile(lambda b: b.__setitem__("hash", "e" * 3000)),
    "sig huge": _hostile(lambda b: b.__setitem__("sig", "A" * 200_000)),
    "entries not a list": _hostile(lambda b: b.__setitem__("entries", {"0": 1})),
    "entries not objects": _hostile(lambda b: b.__setitem__("entries", [1, "two", None])),
    "entry id of 100,000 characters": _hostile(lambda b: b["entries"][0].__setitem__("id", "i" * 100_000)),
    "auth kid of 50,000 characters": _hostile(lambda b: b["entries"][1]["auth"].__setitem__("kid", "k" * 50_000)),
    "revoke_kid of 50,000 characters": _hostile(lambda b: b["entries"][0]["data"].__setitem__("revoke_kid",
                                                                                            "k" * 50_000)),
}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_hostile_block_is_quarantined_with_its_reason(aws, attack):
    blocks = ChainMaker().with_signed_entries(blocks=2, per_block=4).blocks
    assert _deliver_all(blocks[:3]) == ["applied"] * 3
    bad = HOSTILE[attack](blocks[3])
    by_height = {3: bad}
    assert receive_block(0, {**bad, "kind": "block"}, by_height.get) == "quarantined"
    [item] = _quarantined(0)
    assert item.reason and len(item.reason) <= 1_000 and len(item.header or "") <= 100_000
    status = ReplicaStore(0).state_record()
    assert status.status == "quarantined" and status.reason and ReplicaStore(0).state().height == 2
    # the genuine block still applies afterwards
    assert _deliver_all(blocks[3:]) == ["applied"]


# --- the rules, remembered in the replica's own table

def test_a_signed_request_replayed_in_a_later_block_is_quarantined(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=2)
    replayed = next(e for e in maker.blocks[-1]["entries"] if e["auth"] is not None)
    maker.seal([maker.entry({"n": 9}), maker.entry(replayed["data"], replayed["auth"], actor=maker.consumer_node,
                                                  entry_type=replayed["type"])])
    assert _deliver_all(maker.blocks) == ["applied"] * 3 + ["quarantined"]
    assert "replayed" in ReplicaStore(0).state_record().reason


def test_the_owner_of_a_key_is_kept_by_the_replica(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=2)
    data = {"n": 1}
    maker.seal([maker.entry(data, signed_auth(maker.consumer, data), actor="c2")])
    assert _deliver_all(maker.blocks) == ["applied"] * 3 + ["quarantined"]
    assert f"key of node {maker.consumer_node}, not of the entry's actor c2" in ReplicaStore(0).state_record().reason


def test_a_key_registered_again_is_quarantined(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=2)
    maker.seal([maker.entry({"node": "c7", "jwk": jwk_of(maker.consumer.public_key())})])
    assert _deliver_all(maker.blocks)[-1] == "quarantined"
    assert "registered again" in ReplicaStore(0).state_record().reason


def test_a_rotated_sealer_key_of_the_stamp_node_seals_at_the_replica(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=2)
    rotated = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "stamp", "jwk": rotated.jwk}, entry_type="key.rotated")])
    maker.signer = rotated
    maker.signed_block(3)
    impostor = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "impostor", "role": "stamp", "jwk": impostor.jwk})])
    maker.signer = impostor
    maker.signed_block(2)
    assert _deliver_all(maker.blocks) == ["applied"] * 6 + ["quarantined"]
    state = ReplicaStore(0).state()
    assert state.height == 5 and state.stamp_node == "stamp"
    assert "no sealer key" in ReplicaStore(0).state_record().reason


def test_a_replica_table_written_before_owners_were_kept_still_verifies(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=2)
    assert _deliver_all(maker.blocks) == ["applied"] * 3
    model = replica_model(0)
    for item in model.scan(model.pk.startswith("k#") | (model.pk == "state")):
        item.update(actions=[model.owner.remove()])
    assert ReplicaStore(0).state().stamp_node == "stamp"
    maker.signed_block(4)
    data = {"n": 1}
    maker.seal([maker.entry(data, signed_auth(maker.consumer, data), actor="c2")])
    assert _deliver_all(maker.blocks[3:]) == ["applied", "quarantined"]
    assert f"key of node {maker.consumer_node}, not of the entry's actor c2" in ReplicaStore(0).state_record().reason
