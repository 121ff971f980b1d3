"""Render the CloudFormation resources Chalice does not create, for N replicas.

CloudFormation has no loops, and the number of replicas is a setting, so the
template is rendered. ``infra/template.json`` is the committed rendering for the
default three replicas (a test keeps it equal to ``render(3)``); ``make
package`` and the local stack render for ``COVENANT_REPLICAS``.

    python -m infra.render --replicas 3 > infra/template.json
    python -m infra.render --replicas 3 --prefix covenant-dev --policy > .chalice/policy-dev.json

Each operator sub-chain (replica) i runs isolated from the program and from the
other sub-chains: its own function ``Subchain{i}Function`` (the handler
``app.subchain_handler`` from the package Chalice builds) with its own role
``Subchain{i}Role``, which may read its queue, write its table and read its
key (the secret ``<prefix>/subchain/<i>``) and nothing else: no ledger table,
no other sub-chain's queue, table or key, no bucket, no topic. It reads missing
blocks through the public API (``COVENANT_API_URL``). Chalice's own role
(``--policy``) has nothing on the sub-chains' tables, queues or keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DEFAULT_REPLICAS = 3
SUBCHAIN_HANDLER = "app.subchain_handler"  # a plain function in app.py, from the package Chalice builds
SUBCHAIN_TIMEOUT_SECONDS = 60
SUBCHAIN_MEMORY_MB = 1024
SUBCHAIN_BATCH_SIZE = 10
RUNTIME = "python3.11"  # as `chalice package` gives its functions
CODE_URI = "./deployment.zip"  # `chalice package` writes it next to sam.json
API_STAGE = "api"  # .chalice/config.json's api_gateway_stage (a test keeps the two equal)
# Chalice's environment for every function (.chalice/config.json; a test keeps the two equal).
POWERTOOLS_SERVICE_NAME = "covenant"
METRICS_NAMESPACE = "Covenant"
QUEUE_VISIBILITY_SECONDS = 360  # six times the sub-chain function's timeout
MAX_RECEIVES = 5
UPLOADS_PREFIX = "uploads/"  # where presigned PUTs write (chalicelib/store/content.py); items/ is the program's
UPLOAD_DAYS = 1
MAX_SIGNATURE_AGE_MS = 600_000

# table logical id -> (suffix, key schema, append-only)
LEDGER_TABLES: dict[str, tuple[str, list[tuple[str, str, str]], bool]] = {
    "EntriesTable": ("entries", [("id", "S", "HASH")], True),
    "BlocksTable": ("blocks", [("height", "N", "HASH")], True),
    "PendingTable": ("pending", [("shard", "N", "HASH"), ("seq", "S", "RANGE")], False),
    "IndexTable": ("index", [("pk", "S", "HASH")], False),
    "StateTable": ("state", [("pk", "S", "HASH"), ("sk", "S", "RANGE")], False),
    "NoncesTable": ("nonces", [("pk", "S", "HASH")], False),
}
# Secondary indexes: table logical id -> (index name, hash key, range key), projecting every attribute.
# The state table's one index lets the program read lists by key (active consumers, open proposals,
# goods by votes, a seller's open orders, a node's wallets) instead of scanning the table.
INDEXES: dict[str, list[tuple[str, str, str]]] = {"StateTable": [("gsi1", "gsi1pk", "gsi1sk")]}
# Items expire through DynamoDB TTL on this attribute (moto's CloudFormation
# skips TTL settings, so the local bootstrap sets them too).
TTL_TABLES = {"StateTable": "expires_at", "NoncesTable": "expires_at"}


# API Gateway's own answers (no Lambda behind them), in the API's error shape:
# response type -> (status to answer, or None to keep the gateway's, code, message).
# MISSING_AUTHENTICATION_TOKEN is how API Gateway refuses a path or method the
# API does not have: answered 404. DEFAULT_4XX and DEFAULT_5XX catch the rest.
# Messages are fixed: the gateway's own messages can echo request headers.
GATEWAY_RESPONSES: dict[str, tuple[str | None, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "no such route"),
    "REQUEST_TOO_LARGE": ("413", "request_too_large", "the request is too large"),
    "THROTTLED": ("429", "too_many_requests", "too many requests; retry later"),
    "QUOTA_EXCEEDED": ("429", "too_many_requests", "too many requests; retry later"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type", "Content-Type must be application/json"),
    "INTEGRATION_TIMEOUT": ("504", "timeout", "no answer in time; retry a signed request with the same "
                                              "Idempotency-Key to learn whether it acted"),
    "DEFAULT_4XX": (None, "request_refused", "the request was refused"),
    "DEFAULT_5XX": (None, "internal_error", "an internal error occurred; retry a signed request with the same "
                                            "Idempotency-Key to learn whether it acted"),
}
GATEWAY_FIELDS = {"UNSUPPORTED_MEDIA_TYPE": "Content-Type"}
REST_API = "RestAPI"  # the logical id `chalice package` gives the API (an AWS::Serverless::Api)


def gateway_responses() -> dict[str, Any]:
    """SAM ``GatewayResponses`` for Chalice's API, merged into its ``RestAPI`` by ``--merge-template``.

    Not separate ``AWS::ApiGateway::GatewayResponse`` resources: SAM imports the
    API from its definition on every change, which resets gateway responses kept
    outside it, and a new one takes effect only with a new deployment. SAM writes
    these into the definition (``x-amazon-apigateway-gateway-responses``), so
    they are deployed with it, every time.
    """
    responses: dict[str, Any] = {}
    for response_type, (status, code, message) in GATEWAY_RESPONSES.items():
        error = {"code": code, "message": message}
        if response_type in GATEWAY_FIELDS:
            error["field"] = GATEWAY_FIELDS[response_type]
        response: dict[str, Any] = {
            "ResponseParameters": {"Headers": {"Content-Type": "'application/json'"}},
            "ResponseTemplates": {"application/json": json.dumps({"error": error}, separators=(",", ":"))},
        }
        if status is not None:
            response["StatusCode"] = status
        responses[response_type] = response
    return responses


def _name(suffix: str) -> dict[str, str]:
    return {"Fn::Sub": "${Prefix}-" + suffix}


def _table(suffix: str, keys: list[tuple[str, str, str]],
           indexes: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    attributes = [(n, t) for n, t, _ in keys]
    for _, hash_key, range_key in indexes or []:
        attributes += [(hash_key, "S"), (range_key, "S")]
    table: dict[str, Any] = {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": _name(suffix),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in dict(attributes).items()],
            "KeySchema": [{"AttributeName": n, "KeyType": k} for n, _, k in keys],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    }
    if indexes:
        table["Properties"]["GlobalSecondaryIndexes"] = [
            {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                           {"AttributeName": range_key, "KeyType": "RANGE"}]}
            for name, hash_key, range_key in indexes]
    return table


def replica_tables(replicas: int) -> dict[str, tuple[str, list[tuple[str, str, str]], bool]]:
    return {f"Replica{i}Table": (f"replica-{i}", [("pk", "S", "HASH")], False) for i in range(replicas)}


def render(replicas: int = DEFAULT_REPLICAS) -> dict[str, Any]:
    if replicas < 1:
        raise ValueError("at least one replica")
    resources: dict[str, Any] = {}
    for logical, (suffix, keys, _) in {**LEDGER_TABLES, **replica_tables(replicas)}.items():
        resources[logical] = _table(suffix, keys, INDEXES.get(logical))
        if logical in TTL_TABLES:
            resources[logical]["Properties"]["TimeToLiveSpecification"] = {
                "AttributeName": TTL_TABLES[logical], "Enabled": True}
    subscriptions = []
    for i in range(replicas):
        dlq, queue = f"Replica{i}DeadLetterQueue", f"Replica{i}Queue"
        resources[dlq] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": _name(f"replica-{i}-dlq"), "MessageRetentionPeriod": 1209600},
        }
        resources[queue] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": _name(f"replica-{i}"),
                "VisibilityTimeout": QUEUE_VISIBILITY_SECONDS,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": MAX_RECEIVES},
            },
        }
        resources[f"Replica{i}DeadLetterAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Replica {i} could not process a block message",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        }
        # Inline subscriptions: moto's CloudFormation skips AWS::SNS::Subscription.
        subscriptions.append({"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": [queue, "Arn"]}})
    resources["ItemsBucket"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": _name("items"),
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            # Versions: publishing copies exactly the upload version it hashed (chalicelib/store/content.py).
            "VersioningConfiguration": {"Status": "Enabled"},
            # Browsers PUT to presigned URLs and GET downloads: the URL is the credential, CORS only lets a page
            # use it. Content-Length is set by the browser, not a header a preflight asks for.
            "CorsConfiguration": {"CorsRules": [{
                "AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"],
                "AllowedHeaders": ["content-type", "x-amz-checksum-sha256"], "MaxAge": 3600}]},
            # An upload is read once, when its item is published, then served from items/: keep it a day.
            "LifecycleConfiguration": {"Rules": [{
                "Id": "ExpireUploads", "Status": "Enabled", "Prefix": UPLOADS_PREFIX,
                "ExpirationInDays": UPLOAD_DAYS, "NoncurrentVersionExpiration": {"NoncurrentDays": UPLOAD_DAYS}}]},
        },
    }
    objects = {"Fn::Sub": "${ItemsBucket.Arn}/*"}
    resources["ItemsBucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "ItemsBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [{"Fn::GetAtt": ["ItemsBucket", "Arn"]}, objects],
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                    # Only SigV4 signs a presigned PUT's checksum and length headers.
                    {"Sid": "SigV4Only", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": objects,
                     "Condition": {"StringNotEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}},
                    # A presigned URL lives 5 minutes (services/uploads.py, items.py); the bucket refuses any
                    # signature older than 10, whatever a future version of the code signs.
                    {"Sid": "ShortLivedSignatures", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": objects,
                     "Condition": {"NumericGreaterThan": {"s3:signatureAge": MAX_SIGNATURE_AGE_MS}}},
                ],
            },
        },
    }
    # The log as C2SP tlog-tiles: tiles, entry bundles and the checkpoint, readable by anyone
    # (README "Checkpoints and tiles"). Objects are written once (If-None-Match), never replaced.
    resources["LogBucket"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": _name("log"),
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": False,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": False},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["*"],
                                                 "AllowedHeaders": ["*"], "MaxAge": 3600}]},
        },
    }
    resources["LogBucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "LogBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PublicReadOfTheLog", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": [{"Fn::Sub": "arn:aws:s3:::${LogBucket}/tile/*"},
                                 {"Fn::Sub": "arn:aws:s3:::${LogBucket}/checkpoint"}],
                }],
            },
        },
    }
    resources["BlocksTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": _name("blocks"), "Subscription": subscriptions},
    }
    resources["ReplicaQueuesPolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": f"Replica{i}Queue"} for i in range(replicas)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": [{"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]} for i in range(replicas)],
                    "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "BlocksTopic"}}},
                }],
            },
        },
    }
    for logical, metric, what in (
            ("QuarantinedBlocksAlarm", "QuarantinedBlocks",
             "A sub-chain refused a block that failed verification or forked its chain (quarantined, not cosigned)"),
            ("CheckpointsRefusedAlarm", "CheckpointsRefused",
             "A sub-chain refused to cosign a checkpoint that is not the tree it verified (a split view)")):
        resources[logical] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": what,
                "Namespace": "Covenant",
                "MetricName": metric,
                "Dimensions": [{"Name": "service", "Value": "covenant"}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        }
    for i in range(replicas):
        resources.update(subchain_resources(i, replicas))
    resources[REST_API] = {"Type": "AWS::Serverless::Api", "Properties": {"GatewayResponses": gateway_responses()}}
    resources["SealBlocks"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Environment": {"Variables": {"COVENANT_BLOCKS_TOPIC_ARN": {"Ref": "BlocksTopic"}}}},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Covenant ledger resources not created by Chalice ({replicas} replicas)",
        "Parameters": {
            "Prefix": {"Type": "String", "Default": "covenant-dev"},
            "Origin": {"Type": "String", "Default": "",
                       "Description": "The log's origin (COVENANT_ORIGIN of the API's stage), which the sub-chains "
                                      "cosign under; empty: derived from the genesis block, as the API does"},
            "ApiUrl": {"Type": "String", "Default": "",
                       "Description": "The public API the sub-chains read blocks from and send cosignatures to "
                                      "(https://host/path, no trailing slash); empty: this stack's own API"},
        },
        "Conditions": {API_URL_GIVEN: {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiUrl"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "BlocksTopicArn": {"Value": {"Ref": "BlocksTopic"}},
            **{f"Replica{i}QueueUrl": {"Value": {"Ref": f"Replica{i}Queue"}} for i in range(replicas)},
        },
    }


def standalone(template: dict[str, Any]) -> dict[str, Any]:
    """The resources that exist without Lambda functions and the API (what the local stack creates).

    Functions, their roles and the sub-chains' secrets are AWS's alone: the local
    runner calls the handlers in its own process, with keys from the state
    folder (moto's CloudFormation skips secrets and has no use for roles).
    """
    resources = {k: v for k, v in template["Resources"].items()
                 if not v["Type"].startswith(("AWS::Serverless::", "AWS::IAM::", "AWS::SecretsManager::"))}
    return {**template, "Resources": resources}


API_URL_GIVEN = "ApiUrlGiven"


def _arn(service: str, resource: str) -> dict[str, str]:
    """An ARN in this stack's partition, region and account (``resource`` may name ``${Prefix}``)."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def subchain_secret_name(i: int) -> str:
    """The Secrets Manager name of operator sub-chain ``i``'s key, with ``${Prefix}`` to substitute."""
    return f"${{Prefix}}/subchain/{i}"


def subchain_function_name(i: int) -> str:
    return f"${{Prefix}}-subchain-{i}"


def subchain_policy(i: int) -> dict[str, Any]:
    """What sub-chain ``i``'s role may do: its queue, its table, its key, its logs, metrics. Nothing else."""
    log_group = f"log-group:/aws/lambda/{subchain_function_name(i)}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            # What the SQS event source polls with (the function's role), and a visibility change for a retry.
            {"Sid": "OwnQueue", "Effect": "Allow",
             "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                        "sqs:ChangeMessageVisibility"],
             "Resource": {"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]}},
            {"Sid": "OwnTable", "Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                        "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"],
             "Resource": {"Fn::GetAtt": [f"Replica{i}Table", "Arn"]}},
            # Secrets Manager ends a secret's ARN with "-" and six random characters: "-??????" matches
            # .../subchain/1-AbCdEf and neither .../subchain/10-AbCdEf nor .../subchain/1-x-AbCdEf.
            {"Sid": "OwnKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
             "Resource": _arn("secretsmanager", f"secret:{subchain_secret_name(i)}-??????")},
            {"Sid": "OwnLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [_arn("logs", log_group), _arn("logs", f"{log_group}:*")]},
            # Powertools Metrics writes embedded metric format to the logs; this allows the API call too,
            # in the program's namespace only.
            {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}},
        ],
    }


def subchain_resources(i: int, replicas: int) -> dict[str, Any]:
    """Operator sub-chain ``i``: its key's secret, its role and its function on its queue."""
    api_url = {"Fn::If": [API_URL_GIVEN, {"Ref": "ApiUrl"}, {
        "Fn::Sub": f"https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{API_STAGE}"}]}
    return {
        # No value: CloudFormation cannot make an Ed25519 PEM. `python -m infra.subchain_keys` puts one.
        f"Subchain{i}Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Name": {"Fn::Sub": subchain_secret_name(i)},
                "Description": f"Operator sub-chain {i}'s Ed25519 cosigning key (PKCS#8 PEM), used for nothing "
                               "else; put by python -m infra.subchain_keys",
            },
        },
        f"Subchain{i}Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}],
                },
                "Policies": [{"PolicyName": f"Subchain{i}", "PolicyDocument": subchain_policy(i)}],
            },
        },
        f"Subchain{i}Function": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "FunctionName": {"Fn::Sub": subchain_function_name(i)},  # its log group is in its policy
                "Handler": SUBCHAIN_HANDLER,
                "Runtime": RUNTIME,
                "CodeUri": CODE_URI,
                "Timeout": SUBCHAIN_TIMEOUT_SECONDS,
                "MemorySize": SUBCHAIN_MEMORY_MB,
                "Architectures": ["x86_64"],
                "Role": {"Fn::GetAtt": [f"Subchain{i}Role", "Arn"]},
                "Environment": {"Variables": {
                    "COVENANT_PREFIX": {"Ref": "Prefix"},
                    "COVENANT_SUBCHAIN": str(i),
                    "COVENANT_REPLICAS": str(replicas),
                    "COVENANT_SUBCHAIN_KEY": {"Fn::Sub": f"secret:{subchain_secret_name(i)}"},
                    "COVENANT_API_URL": api_url,
                    "COVENANT_ORIGIN": {"Ref": "Origin"},
                    "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                }},
                "Events": {"Queue": {"Type": "SQS", "Properties": {
                    "Queue": {"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]},
                    "BatchSize": SUBCHAIN_BATCH_SIZE,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                }}},
            },
        },
    }


def policy(replicas: int = DEFAULT_REPLICAS, prefix: str = "covenant-dev") -> dict[str, Any]:
    """Chalice's role's policy (the API and the scheduled functions). Append-only tables get no update, delete
    or batch write. Nothing on the sub-chains' tables, queues or keys, whatever ``replicas`` is: they are
    the sub-chains' own (``subchain_policy``).
    """
    def arn(suffix: str) -> str:
        return f"arn:aws:dynamodb:*:*:table/{prefix}-{suffix}"

    tables = LEDGER_TABLES
    append_only = [arn(s) for s, _, only in tables.values() if only]
    mutable = [arn(s) for s, _, only in tables.values() if not only]
    # reading an index is a Query on the index's own ARN
    mutable += [f"{arn(tables[logical][0])}/index/{name}" for logical, found in INDEXES.items() for name, _, _ in found]
    read = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AppendOnlyLedger", "Effect": "Allow", "Action": [*read, "dynamodb:PutItem"],
             "Resource": append_only},
            {"Sid": "MutableState", "Effect": "Allow",
             "Action": [*read, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem"],
             "Resource": mutable},
            # Read uploads and items (HeadObject and GetObject, of a version too); write uploads (the
            # presigned PUTs this role signs) and items (CopyObject, PutObject). No delete.
            {"Sid": "Items", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": f"arn:aws:s3:::{prefix}-items/*"},
            {"Sid": "ItemsWrite", "Effect": "Allow", "Action": ["s3:PutObject"],
             "Resource": [f"arn:aws:s3:::{prefix}-items/{UPLOADS_PREFIX}*", f"arn:aws:s3:::{prefix}-items/items/*"]},
            # Without it S3 answers a missing upload 403, not 404, and it could not be told from a refusal.
            {"Sid": "ItemsList", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": f"arn:aws:s3:::{prefix}-items"},
            {"Sid": "LogTiles", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
             "Resource": f"arn:aws:s3:::{prefix}-log/*"},
            {"Sid": "Broadcast", "Effect": "Allow", "Action": ["sns:Publish"],
             "Resource": f"arn:aws:sns:*:*:{prefix}-blocks"},
            # "-??????": the six characters Secrets Manager appends, and no other secret's name.
            {"Sid": "SealerKey", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter"],
             "Resource": [f"arn:aws:secretsmanager:*:*:secret:{prefix}/sealer-key-??????",
                          f"arn:aws:ssm:*:*:parameter/{prefix}/sealer-key"]},
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": "arn:*:logs:*:*:*"},
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=DEFAULT_REPLICAS)
    parser.add_argument("--prefix", default="covenant-dev")
    parser.add_argument("--policy", action="store_true", help="print the Lambda IAM policy instead")
    args = parser.parse_args(argv)
    document = policy(args.replicas, args.prefix) if args.policy else render(args.replicas)
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
