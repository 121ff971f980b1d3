"""Shared fixtures. The environment is set before anything imports app.py (STYLE.md)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

for _name in list(os.environ):
    # mock_aws ignores clients with a custom endpoint (LOCAL-AWS.md trap 2).
    if _name.startswith("AWS_ENDPOINT_URL"):
        del os.environ[_name]
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "COVENANT_PREFIX": "covenant-test",
    "COVENANT_REPLICAS": "3",
    "POWERTOOLS_METRICS_NAMESPACE": "Covenant",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # covenant-verify keeps its pins per URL in the XDG config dir (and looks for older state in the XDG state
    # dir, to move it): never the developer's own
    "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="covenant-test-config-"),
    "XDG_STATE_HOME": tempfile.mkdtemp(prefix="covenant-test-state-"),
})
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], True)
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack import gateway_patch, moto_patch  # noqa: E402
from devstack.bootstrap import (  # noqa: E402
    Stack,
    create_resources,
    create_resources_directly,
    reset_process_state,
    write_new_key,
)

gateway_patch.apply()  # the test client's gateway answers unknown paths as the deployed one does

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def aws(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh in-process AWS with every resource of infra/ and a sealer key file.

    The program's state and the ledger live in the in-memory store unless the
    test is marked ``dynamodb`` (then in moto's DynamoDB); queues, topic,
    bucket and the replicas' tables are moto's either way.
    """
    moto_patch.apply()
    key = tmp_path / "sealer.pem"
    write_new_key(key)
    monkeypatch.setenv("COVENANT_SEALER_KEY", f"file:{key}")
    for i in range(3):  # each operator sub-chain's own key (registered by the operator_subchains fixture)
        write_new_key(tmp_path / f"subchain-{i}.pem")
    monkeypatch.setenv("COVENANT_SUBCHAIN_KEY", f"file:{tmp_path}/subchain-{{i}}.pem")
    if request.node.get_closest_marker("dynamodb") is None:
        monkeypatch.setenv("COVENANT_STORE", "memory")
    with mock_aws():
        reset_process_state()
        # CloudFormation for the tests that say so; the same template's resources made directly for the rest
        make = create_resources if request.node.get_closest_marker("cloudformation") else create_resources_directly
        stack = make("covenant-test", 3)
        monkeypatch.setenv("COVENANT_BLOCKS_TOPIC_ARN", stack.topic_arn)
        reset_process_state()
        yield stack
    reset_process_state()


@pytest.fixture
def signer(aws: Stack):
    from chalicelib.services.sealer_key import load_signer

    return load_signer()


@pytest.fixture
def chain(aws: Stack, signer):
    """A started chain: genesis sealed and completed."""
    from devstack.bootstrap import start_chain

    start_chain()
    return signer


def drain_queue(url: str) -> list[dict]:
    """Every message waiting on a queue, as the SQS records Lambda would receive."""
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return records
        for message in batch:
            records.append({"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                            "body": message["Body"], "attributes": {}, "messageAttributes": {},
                            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
                            "md5OfBody": message.get("MD5OfBody", "")})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def body_of(record: dict) -> dict:
    return json.loads(record["body"])


@pytest.fixture
def program_clock(monkeypatch: pytest.MonkeyPatch):
    """Moves the program's clock forward (deadlines); it never goes back within a test."""
    from types import SimpleNamespace

    from chalicelib.services import ledger

    def advance(ms: int) -> None:
        monkeypatch.setattr(ledger, "_offset_ms", ledger._offset_ms + ms)

    return SimpleNamespace(advance=advance)


@pytest.fixture(autouse=True)
def _answers_follow_the_document(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every answer a test gets through chalice.test's client is checked against GET /openapi.json."""
    from chalice.test import TestHTTPClient

    from tests.contract_check import checked

    seen: list[str] = []
    monkeypatch.setattr(TestHTTPClient, "request", checked(TestHTTPClient.request, seen))
    yield
    if os.environ.get("COVENANT_CONTRACT_CHECK") != "off":
        assert not seen, "answers that break the OpenAPI document:\n" + "\n".join(dict.fromkeys(seen))


@pytest.fixture
def http(chain):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test") as client:
        yield client.http


@pytest.fixture
def stamp(http, chain):
    from tests.actors import Actor

    return Actor(http, key=chain.key, node="stamp", wallet="w-stamp")


@pytest.fixture
def running(http, stamp):
    """A running program: three consumers (two authorised) and an approved merchant, all funded."""
    from types import SimpleNamespace

    from tests.actors import expect, register_consumer, register_merchant

    consumers = [register_consumer(http) for _ in range(3)]
    for consumer in consumers[:2]:
        expect(consumer.post("/program/authorisations"), 201)
    merchant = register_merchant(http, stamp)
    for actor in (*consumers, merchant):
        expect(stamp.post("/deposits", {"wallet": actor.wallet, "amount": 500_000}), 201)
    return SimpleNamespace(consumers=consumers, merchant=merchant, stamp=stamp, http=http)


def subchain_public_key(aws_tmp: Path, i: int) -> str:
    import base64

    from chalicelib.ledger.keys import private_key_from_pem, raw_public

    key = private_key_from_pem((aws_tmp / f"subchain-{i}.pem").read_bytes())
    return base64.b64encode(raw_public(key.public_key())).decode()


@pytest.fixture
def operator_subchains(stamp, chain, tmp_path):
    """The three operator sub-chains registered by the stamp node, and the registrations sealed."""
    from chalicelib.services.sealing import seal_pending_entries
    from tests.actors import expect

    ids = [expect(stamp.post("/subchains", {"public_key": subchain_public_key(tmp_path, i)}), 201)["subchain"]
           for i in range(3)]
    seal_pending_entries(chain)
    return ids


@pytest.fixture
def readers(running):
    """Two consumers with coins to spend, bought at the peg."""
    from tests.actors import expect

    for consumer in running.consumers[:2]:
        expect(consumer.post("/exchanges", {"wallet": consumer.wallet, "direction": "fiat_to_coin",
                                            "amount": 10_000}), 201)
    return running


def deliver(event: dict) -> dict:
    """Run the operator sub-chains' own function (app.subchain_handler) on SQS records, as Lambda would."""
    from app import subchain_handler

    return subchain_handler(event, None)
