"""Create the stack's resources from the infra/ template, and the genesis block."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from chalicelib.ledger.keys import private_key_to_pem
from chalicelib.settings import get_settings
from infra.render import LEDGER_TABLES, TTL_TABLES, render, standalone


@dataclass(frozen=True)
class Stack:
    prefix: str
    topic_arn: str
    queue_urls: list[str]
    queue_arns: list[str]


def create_resources(prefix: str, replicas: int, client: Any = None) -> Stack:
    """Create every table, topic and queue of infra/ through CloudFormation."""
    cloudformation = client or boto3.client("cloudformation")
    template = standalone(render(replicas))
    cloudformation.create_stack(
        StackName=prefix,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Prefix", "ParameterValue": prefix}],
    )
    stack = cloudformation.describe_stacks(StackName=prefix)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {prefix} is {stack['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    topic_arn = outputs["BlocksTopicArn"]
    sqs = boto3.client("sqs")
    urls = [outputs[f"Replica{i}QueueUrl"] for i in range(replicas)]
    arns = [sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for u in urls]
    boto3.client("s3").head_bucket(Bucket=f"{prefix}-items")  # created by the template, like the rest
    dynamodb = boto3.client("dynamodb")
    for logical, attribute in TTL_TABLES.items():
        dynamodb.update_time_to_live(TableName=f"{prefix}-{LEDGER_TABLES[logical][0]}",
                                     TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    # moto's CloudFormation may skip subscriptions (LOCAL-AWS.md trap 3): make
    # sure every queue is subscribed, as the inline subscriptions do on AWS.
    sns = boto3.client("sns")
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]}
    for arn in arns:
        if arn not in subscribed:
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return Stack(prefix=prefix, topic_arn=topic_arn, queue_urls=urls, queue_arns=arns)


def reset_process_state() -> None:
    """Forget every per-process cache: settings, clients, tiles, blocks (tests and tools switch back ends)."""
    from chalicelib.services import items, ledger, reading
    from chalicelib.settings import reset_settings
    from chalicelib.store import backend, broadcast, ledger_store
    from chalicelib.store.models import reset_connections

    reset_settings()
    backend.use(None)
    reset_connections()
    ledger_store.tile_cache.clear()
    reading.block_cache.clear()
    broadcast.sns_client.cache_clear()
    items.s3_client.cache_clear()
    ledger._started = False


def write_new_key(path: Path) -> None:
    """A fresh stamp-node key, readable by the owner only."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(private_key_to_pem(Ed25519PrivateKey.generate()))
    path.chmod(0o600)


def start_chain() -> Any:
    """Create the genesis block with the configured sealer key (idempotent)."""
    from chalicelib.services.ledger import now_ms
    from chalicelib.services.program import genesis_changes
    from chalicelib.services.sealer_key import load_signer
    from chalicelib.services.sealing import create_genesis

    signer = load_signer(get_settings().sealer_key)
    return create_genesis(signer, changes=genesis_changes(signer, now_ms()))
