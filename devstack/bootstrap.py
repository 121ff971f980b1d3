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
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::S3::Bucket":
            bucket = str(resource["Properties"]["BucketName"]["Fn::Sub"]).replace("${Prefix}", prefix)
            boto3.client("s3").head_bucket(Bucket=bucket)  # created by the template, like the rest
            # moto's CloudFormation skips a bucket's versioning, CORS and lifecycle: set them as the template says
            configure_bucket(bucket, resource["Properties"])
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


def create_resources_directly(prefix: str, replicas: int) -> Stack:
    """The same resources as ``create_resources``, made from the same template with plain API calls.

    moto's CloudFormation takes about half a second a stack; tests make a
    stack each, so they create its tables, queues, topic and bucket directly.
    The local stack, the end-to-end tests and one integration test still go
    through CloudFormation, which is what proves the template itself.
    """
    resources = standalone(render(replicas))["Resources"]

    def name(value: Any) -> str:
        return str(value["Fn::Sub"]).replace("${Prefix}", prefix) if isinstance(value, dict) else str(value)

    dynamodb, sqs, sns = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns")
    queues: dict[str, tuple[str, str]] = {}
    for logical, resource in resources.items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            table = {key: properties[key] for key in ("AttributeDefinitions", "KeySchema", "BillingMode",
                                                       "GlobalSecondaryIndexes") if key in properties}
            dynamodb.create_table(TableName=name(properties["TableName"]), **table)
        elif resource["Type"] == "AWS::SQS::Queue" and logical.endswith("DeadLetterQueue"):
            url = sqs.create_queue(QueueName=name(properties["QueueName"]))["QueueUrl"]
            queues[logical] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"])
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::SQS::Queue" and not logical.endswith("DeadLetterQueue"):
            properties = resource["Properties"]
            redrive = properties["RedrivePolicy"]
            dead = queues[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]][1]
            url = sqs.create_queue(QueueName=name(properties["QueueName"]), Attributes={
                "VisibilityTimeout": str(properties["VisibilityTimeout"]),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead,
                                             "maxReceiveCount": redrive["maxReceiveCount"]})})["QueueUrl"]
            queues[logical] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"])
    topic_arn = sns.create_topic(Name=name(resources["BlocksTopic"]["Properties"]["TopicName"]))["TopicArn"]
    live = [queues[f"Replica{i}Queue"] for i in range(replicas)]
    for _, arn in live:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    for resource in resources.values():
        if resource["Type"] == "AWS::S3::Bucket":
            boto3.client("s3").create_bucket(Bucket=name(resource["Properties"]["BucketName"]))
            configure_bucket(name(resource["Properties"]["BucketName"]), resource["Properties"])
    for logical, attribute in TTL_TABLES.items():
        dynamodb.update_time_to_live(TableName=f"{prefix}-{LEDGER_TABLES[logical][0]}",
                                     TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    return Stack(prefix=prefix, topic_arn=topic_arn, queue_urls=[u for u, _ in live], queue_arns=[a for _, a in live])


def configure_bucket(bucket: str, properties: dict[str, Any]) -> None:
    """A bucket's versioning, CORS and lifecycle rules, from its template properties, with plain API calls.

    The bucket policy is AWS's alone: moto's CloudFormation skips it, and its TLS rule would refuse the local
    stack's plain HTTP.
    """
    s3 = boto3.client("s3")
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=properties["VersioningConfiguration"])
    if "CorsConfiguration" in properties:
        rules = [{("MaxAgeSeconds" if key == "MaxAge" else key): value for key, value in rule.items()}
                 for rule in properties["CorsConfiguration"]["CorsRules"]]
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    if "LifecycleConfiguration" in properties:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
            "ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule["Prefix"]},
            "Expiration": {"Days": rule["ExpirationInDays"]},
            "NoncurrentVersionExpiration": rule["NoncurrentVersionExpiration"]}
            for rule in properties["LifecycleConfiguration"]["Rules"]]})


def reset_process_state() -> None:
    """Forget every per-process cache: settings, clients, tiles, blocks (tests and tools switch back ends)."""
    from chalicelib.services import ledger, reading, sealing
    from chalicelib.settings import reset_settings
    from chalicelib.store import backend, broadcast, ledger_store, s3
    from chalicelib.store.models import reset_connections

    reset_settings()
    backend.use(None)
    reset_connections()
    ledger_store.tile_cache.clear()
    reading.block_cache.clear()
    broadcast.sns_client.cache_clear()
    s3.s3_client.cache_clear()
    sealing.forget_origin()
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
