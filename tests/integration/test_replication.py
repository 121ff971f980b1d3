"""Replicas verify every broadcast block against their own copy, through the real SQS handler."""

from __future__ import annotations

import copy
import json

import pytest
from chalice.test import Client

from app import app
from chalicelib.ledger.note import cosigners_of, parse_note, parse_vkey
from chalicelib.services import reading
from chalicelib.services.cosigners import listing as reading_cosigners
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.sealing import seal_pending_entries
from chalicelib.store.replica_store import ReplicaStore
from tests.actors import expect
from tests.conftest import deliver, drain_queue, subchain_public_key

# The ledger's and the program's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb


@pytest.fixture
def lambda_client(chain):
    with Client(app, stage_name="test") as client:
        yield client


def _deliver(client, records: list[dict]) -> dict:
    return deliver({"Records": records})


def _status(replica: int) -> dict:
    record = ReplicaStore(replica).state_record()
    return {"status": record.status, "height": int(record.height), "reason": record.reason}


def _seal_blocks(signer, count: int) -> None:
    for b in range(count):
        commit([Draft("test.note", "system", {"block": b, "n": i}) for i in range(3)])
        seal_pending_entries(signer)


def _set_message(record: dict, message: dict) -> dict:
    envelope = json.loads(record["body"])
    envelope["Message"] = json.dumps(message)
    return {**record, "body": json.dumps(envelope), "messageId": record["messageId"] + "-edited"}


def _message(record: dict) -> dict:
    return json.loads(json.loads(record["body"])["Message"])


def test_every_replica_verifies_stores_and_cosigns_each_block(lambda_client, operator_subchains, chain, aws):
    _seal_blocks(chain, 3)
    for url in aws.queue_urls:
        assert _deliver(lambda_client, drain_queue(url)) == {"batchItemFailures": []}
    head = reading.head()
    for replica in range(3):
        state = ReplicaStore(replica).state()
        assert state.height == head["header"]["height"] and state.hash == head["hash"]
        assert len(ReplicaStore(replica).entries(0, state.log_size - 1)) == state.log_size
        witnessed = ReplicaStore(replica).witnessed()
        assert (witnessed.size, witnessed.root, witnessed.submitted) == (state.log_size, state.log_root, True)
    # the head's checkpoint carries the three cosignatures, each verifying with its registered vkey
    note = parse_note(reading.checkpoint())
    listed = {c["id"]: c for c in reading_cosigners()["cosigners"]}
    assert set(listed) == set(operator_subchains)
    cosigned = cosigners_of(note, [parse_vkey(c["vkey"]) for c in listed.values()])
    assert len(cosigned) == 3
    assert all(c["cosigned_size"] == head["header"]["log_size"] for c in listed.values())


def test_duplicates_change_nothing(lambda_client, chain, aws):
    _seal_blocks(chain, 2)
    records = drain_queue(aws.queue_urls[0])
    _deliver(lambda_client, records)
    again = [{**r, "messageId": r["messageId"] + "-again"} for r in records]
    assert _deliver(lambda_client, again) == {"batchItemFailures": []}
    assert ReplicaStore(0).state().height == 2
    assert ReplicaStore(0).state_record().status == "in_sync"


def test_out_of_order_delivery_fetches_the_missing_blocks(lambda_client, chain, aws):
    _seal_blocks(chain, 4)
    records = drain_queue(aws.queue_urls[1])
    newest_first = sorted(records, key=lambda r: -_message(r)["header"]["height"])
    _deliver(lambda_client, newest_first[:1])
    assert ReplicaStore(1).state().height == 4
    assert _deliver(lambda_client, newest_first[1:]) == {"batchItemFailures": []}
    assert ReplicaStore(1).state().height == 4


def test_a_tampered_block_is_quarantined_and_never_applied(lambda_client, chain, aws):
    _seal_blocks(chain, 2)
    records = sorted(drain_queue(aws.queue_urls[2]), key=lambda r: _message(r)["header"]["height"])
    _deliver(lambda_client, records[:2])  # genesis and block 1
    tampered = copy.deepcopy(_message(records[2]))
    tampered["entries"][1]["data"]["n"] = 999
    assert _deliver(lambda_client, [_set_message(records[2], tampered)]) == {"batchItemFailures": []}
    replica = ReplicaStore(2)
    assert replica.state().height == 1
    status = _status(2)
    assert status["status"] == "quarantined" and "log_root" in status["reason"]
    # The genuine block still applies afterwards
    _deliver(lambda_client, [records[2]])
    assert replica.state().height == 2
    assert _status(2)["status"] == "in_sync"


def test_a_forged_signature_is_quarantined(lambda_client, chain, aws):
    _seal_blocks(chain, 1)
    records = sorted(drain_queue(aws.queue_urls[0]), key=lambda r: _message(r)["header"]["height"])
    _deliver(lambda_client, records[:1])
    forged = _message(records[1])
    forged["sig"] = forged["sig"][:-4] + ("AAA=" if not forged["sig"].endswith("AAA=") else "BBB=")
    _deliver(lambda_client, [_set_message(records[1], forged)])
    assert ReplicaStore(0).state().height == 0
    assert "signature" in _status(0)["reason"]


def test_a_conflicting_block_at_a_verified_height_is_quarantined(lambda_client, chain, aws):
    _seal_blocks(chain, 1)
    records = drain_queue(aws.queue_urls[0])
    _deliver(lambda_client, records)
    other = _message(records[-1])
    other["hash"] = "f" * 64
    _deliver(lambda_client, [_set_message(records[-1], other)])
    state = ReplicaStore(0).state()
    assert state.height == 1 and state.hash != "f" * 64
    assert _status(0)["status"] == "quarantined"


def test_a_malformed_message_fails_alone_in_its_batch(lambda_client, chain, aws):
    _seal_blocks(chain, 1)
    records = drain_queue(aws.queue_urls[0])
    bad = {**records[0], "messageId": "not-json", "body": "{{{"}
    wrong_kind = {**records[0], "messageId": "not-a-block", "body": json.dumps({"kind": "gossip"})}
    answer = _deliver(lambda_client, [bad, *records, wrong_kind])
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["not-a-block", "not-json"]
    assert ReplicaStore(0).state().height == 1
    from chalicelib.errors import MalformedMessage
    from chalicelib.services.replication import parse_block_message

    with pytest.raises(MalformedMessage) as caught:
        parse_block_message("{{{")
    assert caught.value.code == "malformed_block_message"


def test_a_block_too_large_to_broadcast_is_fetched(lambda_client, chain, aws):
    for i in range(40):
        commit([Draft("test.note", "system", {"n": i, "padding": "x" * 7000})])
    seal_pending_entries(chain)
    records = sorted(drain_queue(aws.queue_urls[0]), key=lambda r: _message(r)["header"]["height"])
    assert _message(records[1])["entries"] is None
    assert _deliver(lambda_client, records) == {"batchItemFailures": []}
    assert ReplicaStore(0).state().log_size == 41


def test_a_replica_cannot_catch_up_past_unpublished_blocks(lambda_client, chain, aws):
    _seal_blocks(chain, 1)
    record = drain_queue(aws.queue_urls[0])[-1]
    future = _message(record)
    future["header"]["height"] = 9
    answer = _deliver(lambda_client, [_set_message(record, future), record])
    # blocks 0 and 1 are fetched and applied; 2..8 do not exist, so that message is retried later
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [record["messageId"] + "-edited"]
    assert ReplicaStore(0).state().height == 1
    from chalicelib.errors import BlockUnavailable
    from chalicelib.services.replication import receive_block

    with pytest.raises(BlockUnavailable) as caught:
        receive_block(0, future, lambda height: None)
    assert caught.value.code == "block_unavailable"


def test_a_batch_that_fails_entirely_fails_the_invocation(lambda_client, chain, aws):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    _seal_blocks(chain, 1)
    record = drain_queue(aws.queue_urls[0])[-1]
    with pytest.raises(BatchProcessingError):
        _deliver(lambda_client, [{**record, "body": "not json"}])
    assert ReplicaStore(0).state().height == -1


def test_an_unregistered_sub_chain_keeps_its_cosignature_and_sends_it_once_registered(lambda_client, chain, aws,
                                                                                       stamp, tmp_path):
    _seal_blocks(chain, 1)
    _deliver(lambda_client, drain_queue(aws.queue_urls[0]))
    kept = ReplicaStore(0).witnessed()
    assert kept.size == ReplicaStore(0).state().log_size and not kept.submitted  # the log said cosigner_unknown
    assert parse_note(reading.checkpoint()).signatures[1:] == ()
    expect(stamp.post("/subchains", {"public_key": subchain_public_key(tmp_path, 0)}), 201)
    _seal_blocks(chain, 1)
    _deliver(lambda_client, drain_queue(aws.queue_urls[0]))
    assert ReplicaStore(0).witnessed().submitted
    assert len(parse_note(reading.checkpoint()).signatures) == 2


def test_the_number_of_replicas_is_a_setting(tmp_path, monkeypatch):
    from moto import mock_aws

    from chalicelib.services.sealer_key import load_signer
    from chalicelib.services.sealing import create_genesis
    from devstack import moto_patch
    from devstack.bootstrap import create_resources, reset_process_state, write_new_key

    moto_patch.apply()
    key = tmp_path / "key.pem"
    write_new_key(key)
    monkeypatch.setenv("COVENANT_SEALER_KEY", f"file:{key}")
    monkeypatch.setenv("COVENANT_REPLICAS", "5")
    with mock_aws():
        reset_process_state()
        stack = create_resources("covenant-test", 5)
        monkeypatch.setenv("COVENANT_BLOCKS_TOPIC_ARN", stack.topic_arn)
        reset_process_state()
        signer = load_signer()
        create_genesis(signer)
        _seal_blocks(signer, 1)
        with Client(app, stage_name="test") as client:
            for url in stack.queue_urls:
                _deliver(client, drain_queue(url))
        assert len(stack.queue_urls) == 5
        assert [_status(i)["status"] for i in range(5)] == ["in_sync"] * 5
    reset_process_state()
