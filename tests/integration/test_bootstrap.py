"""The stack's resources made through moto's CloudFormation and made directly (as most tests do) are the same."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from devstack.bootstrap import create_resources, create_resources_directly


def _shape(prefix: str, stack) -> dict:
    dynamodb, sqs, sns = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns")
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        if not name.startswith(prefix + "-"):
            continue
        table = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        tables[name[len(prefix) + 1:]] = (
            sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
            [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]],
            sorted((i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                   for i in table.get("GlobalSecondaryIndexes", [])),
            ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None)
    queues = {}
    for url in stack.queue_urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        dead_letters = redrive["deadLetterTargetArn"].rsplit(":", 1)[1][len(prefix) + 1:]
        queues[url.rsplit("/", 1)[1][len(prefix) + 1:]] = (attributes["VisibilityTimeout"],
                                                          redrive["maxReceiveCount"], dead_letters)
    endpoints = sorted(s["Endpoint"].rsplit(":", 1)[1][len(prefix) + 1:]
                       for s in sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"])
    s3, items = boto3.client("s3"), f"{prefix}-items"
    s3.head_bucket(Bucket=items)
    bucket = (s3.get_bucket_versioning(Bucket=items).get("Status"), s3.get_bucket_cors(Bucket=items)["CORSRules"],
              s3.get_bucket_lifecycle_configuration(Bucket=items)["Rules"])
    return {"tables": tables, "queues": queues, "subscriptions": endpoints, "bucket": bucket}


@pytest.mark.parametrize("replicas", [1, 3])
def test_directly_made_resources_are_the_templates(replicas, monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        by_template = _shape("covenant-cfn", create_resources("covenant-cfn", replicas))
        direct = _shape("covenant-direct", create_resources_directly("covenant-direct", replicas))
    assert by_template == direct
    assert by_template["tables"]["state"][2] == [("gsi1", json.dumps([
        {"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]), "ALL")]
    assert len(by_template["subscriptions"]) == replicas
    versioning, cors, lifecycle = by_template["bucket"]
    assert versioning == "Enabled"  # publishing copies the very upload version it hashed
    assert cors[0]["AllowedMethods"] == ["GET", "PUT"] and "x-amz-checksum-sha256" in cors[0]["AllowedHeaders"]
    assert lifecycle[0]["Filter"] == {"Prefix": "uploads/"} and lifecycle[0]["Expiration"] == {"Days": 1}
