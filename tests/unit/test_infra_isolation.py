"""Operator sub-chains are isolated on AWS: the rendered IAM policies, evaluated, not searched.

A small evaluator for the statement shapes infra/render.py writes (Allow and Deny, Action and Resource with
IAM's ``*`` and ``?`` wildcards, StringEquals and ArnEquals conditions) runs against concrete ARNs, resolved from
the template's ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``Fn::If`` for one account, region and prefix. Sub-chain
i's role may read its queue, write its table and read its key, and nothing of another sub-chain's, nor of the
ledger; Chalice's role has nothing of any sub-chain's.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.render import (
    API_STAGE,
    LEDGER_TABLES,
    METRICS_NAMESPACE,
    POWERTOOLS_SERVICE_NAME,
    REST_API,
    policy,
    render,
    standalone,
)

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, PREFIX = "123456789012", "eu-west-1", "covenant-dev"

# ---------------------------------------------------------------------------------------------------------------
# The evaluator


@functools.cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM's matching: ``*`` any run of characters (``/`` and ``:`` too), ``?`` one character, nothing else special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        if operator not in ("StringEquals", "ArnEquals"):
            raise AssertionError(f"the evaluator does not know the condition operator {operator}")
        for key, expected in tests.items():
            if context.get(key) not in _listed(expected):
                return False
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition", "Principal"}
    if unknown:
        raise AssertionError(f"the evaluator does not know {unknown} (NotAction or NotResource would need it)")
    return (any(_wildcard(a, ignore_case=True).match(action) for a in _listed(statement["Action"]))
            and any(_wildcard(r, ignore_case=False).match(resource) for r in _listed(statement["Resource"]))
            and _condition_holds(statement.get("Condition", {}), context))


def allowed(document: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """An identity policy's answer: some Allow applies and no Deny does."""
    statements = document["Statement"]
    for statement in statements:
        assert isinstance(statement["Resource"], str | list), "unresolved resource"
        assert statement["Effect"] in ("Allow", "Deny")
    applying = [s["Effect"] for s in statements if _applies(s, action, resource, context or {})]
    return "Allow" in applying and "Deny" not in applying


class Stack:
    """The template's intrinsic functions resolved to what CloudFormation would make of them."""

    def __init__(self, template: dict[str, Any], prefix: str = PREFIX, api_url: str = "", origin: str = ""):
        self.template, self.resources = template, template["Resources"]
        self.parameters = {"Prefix": prefix, "ApiUrl": api_url, "Origin": origin, "AWS::Region": REGION,
                           "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                return self.get_att(*argument)
            if key == "Fn::Sub":
                assert isinstance(argument, str), "only the one-argument Fn::Sub is rendered"
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), argument)
            if key == "Fn::If":
                condition, then, otherwise = argument
                return self.resolve(then if self.condition(condition) else otherwise)
            assert not key.startswith("Fn::"), f"the resolver does not know {key}"
        return {k: self.resolve(v) for k, v in value.items()}

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Not" in value:
            return not self._condition(value["Fn::Not"][0])
        if isinstance(value, dict) and "Fn::Equals" in value:
            left, right = (self.resolve(v) for v in value["Fn::Equals"])
            return left == right
        raise AssertionError(f"the resolver does not know the condition {value}")

    def _sub(self, name: str) -> str:
        return str(self.get_att(*name.split(".", 1)) if "." in name else self.ref(name))

    def _properties(self, logical: str) -> dict[str, Any]:
        return dict(self.resources[logical].get("Properties", {}))

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        kind, properties = self.resources[name]["Type"], self._properties(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.resolve(properties['QueueName'])}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.resolve(properties['TopicName'])}"
        if kind == "AWS::SecretsManager::Secret":
            return secret_arn(self.resolve(properties["Name"]))
        if kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket"):
            return str(self.resolve(properties["TableName" if "Table" in kind else "BucketName"]))
        if kind == "AWS::Serverless::Api":
            return "a1b2c3d4e5"
        raise AssertionError(f"the resolver does not know Ref of {kind}")

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        if (kind, attribute) == ("AWS::SQS::Queue", "Arn"):
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.ref(name).rsplit('/', 1)[1]}"
        if (kind, attribute) == ("AWS::SQS::Queue", "QueueName"):
            return self.ref(name).rsplit("/", 1)[1]
        if (kind, attribute) == ("AWS::DynamoDB::Table", "Arn"):
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.ref(name)}"
        if (kind, attribute) == ("AWS::S3::Bucket", "Arn"):
            return f"arn:aws:s3:::{self.ref(name)}"
        if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        raise AssertionError(f"the resolver does not know {name}.{attribute}")

    # concrete ARNs of the stack's resources
    def queue(self, i: int) -> str:
        return self.get_att(f"Replica{i}Queue", "Arn")

    def dead_letters(self, i: int) -> str:
        return self.get_att(f"Replica{i}DeadLetterQueue", "Arn")

    def table(self, logical: str) -> str:
        return self.get_att(logical, "Arn")

    def secret(self, i: int) -> str:
        return self.ref(f"Subchain{i}Secret")

    def log_group(self, i: int) -> str:
        name = self.resolve(self._properties(f"Subchain{i}Function")["FunctionName"])
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{name}"

    def role_policy(self, i: int) -> dict[str, Any]:
        role = self._properties(f"Subchain{i}Role")
        assert set(role) == {"AssumeRolePolicyDocument", "Policies"}  # no managed policies, no boundary to read
        [document] = role["Policies"]
        return dict(self.resolve(document["PolicyDocument"]))


def secret_arn(name: str, suffix: str | None = None) -> str:
    """A secret's ARN as Secrets Manager makes it: the name, "-", six random characters."""
    suffix = suffix or "".join(random.Random(name).choices(string.ascii_letters + string.digits, k=6))
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{suffix}"


def chalice_policy(replicas: int) -> dict[str, Any]:
    """policy-dev.json's document, with its region and account wildcards applying to any stack."""
    return policy(replicas, PREFIX)


# ---------------------------------------------------------------------------------------------------------------
# What a sub-chain's role may do, and what it may not

OWN_QUEUE = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")
TABLE_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem",
                "dynamodb:TransactWriteItems", "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate",
                "dynamodb:PartiQLDelete", "dynamodb:DeleteTable", "dynamodb:UpdateTable")
TABLE_READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
               "dynamodb:ConditionCheckItem", "dynamodb:PartiQLSelect", "dynamodb:GetRecords")
# Every action any of the rendered policies names, and more a compromised function would want.
EVERY_ACTION = sorted({*OWN_QUEUE, *TABLE_WRITES, *TABLE_READS, "dynamodb:DescribeTable", "sqs:SendMessage",
                       "sqs:PurgeQueue", "sqs:SetQueueAttributes", "secretsmanager:GetSecretValue",
                       "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret", "ssm:GetParameter",
                       "sns:Publish", "sns:Subscribe", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                       "s3:ListBucket", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                       "kms:Decrypt", "lambda:InvokeFunction", "iam:PassRole"})


def universe(stack: Stack, replicas: int) -> dict[str, str]:
    """Every resource ARN of the stack (and a few it may name), with who owns it: "i" for sub-chain i."""
    owners: dict[str, str] = {}
    for i in range(replicas):
        owners[stack.queue(i)] = owners[stack.table(f"Replica{i}Table")] = str(i)
        owners[stack.secret(i)] = owners[stack.log_group(i)] = owners[stack.log_group(i) + ":log-stream:x"] = str(i)
        owners[stack.dead_letters(i)] = "dead letters"
    for logical in LEDGER_TABLES:
        owners[stack.table(logical)] = owners[stack.table(logical) + "/index/gsi1"] = "ledger"
        owners[stack.table(logical) + "/stream/2026-01-01T00:00:00.000"] = "ledger"
    for bucket in ("ItemsBucket", "LogBucket"):
        arn = stack.get_att(bucket, "Arn")
        owners[arn] = owners[f"{arn}/items/x"] = owners[f"{arn}/tile/0/000"] = owners[f"{arn}/checkpoint"] = "bucket"
    owners[stack.ref("BlocksTopic")] = "topic"
    owners[secret_arn(f"{PREFIX}/sealer-key")] = "sealer"
    owners[f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PREFIX}/sealer-key"] = "sealer"
    owners[f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{PREFIX}-APIHandler-x:*"] = "chalice"
    owners[f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-subchain-0"] = "function"
    owners[f"arn:aws:iam::{ACCOUNT}:role/Subchain0Role"] = "role"
    return owners


@pytest.mark.parametrize("replicas", [3, 12])
def test_a_subchains_role_reaches_its_own_queue_table_key_and_logs_and_nothing_else(replicas):
    stack = Stack(render(replicas))
    owners = universe(stack, replicas)
    for i in range(replicas):
        role = stack.role_policy(i)
        reached = {(action, arn) for action in EVERY_ACTION for arn in owners if allowed(role, action, arn)}
        assert {owners[arn] for _, arn in reached} == {str(i)}, (i, sorted(reached))
        # and on its own, exactly what it needs
        assert {a for a, arn in reached if arn == stack.queue(i)} == set(OWN_QUEUE)
        assert {a for a, arn in reached if arn == stack.table(f"Replica{i}Table")} == {
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
            "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"}
        assert {a for a, arn in reached if arn == stack.secret(i)} == {"secretsmanager:GetSecretValue"}


@pytest.mark.parametrize("replicas", [3, 12])
def test_subchain_i_can_reach_neither_the_queue_nor_the_table_nor_the_key_of_subchain_j(replicas):
    stack = Stack(render(replicas))
    roles = [stack.role_policy(i) for i in range(replicas)]
    for i, j in itertools.product(range(replicas), repeat=2):
        own = i == j
        for action in OWN_QUEUE:
            assert allowed(roles[i], action, stack.queue(j)) is own, (i, j, action)
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem"):
            assert allowed(roles[i], action, stack.table(f"Replica{j}Table")) is own, (i, j, action)
        for action in ("dynamodb:DeleteItem", "dynamodb:TransactWriteItems", "dynamodb:Scan"):
            assert not allowed(roles[i], action, stack.table(f"Replica{j}Table")), (i, j, action)
        assert allowed(roles[i], "secretsmanager:GetSecretValue", stack.secret(j)) is own, (i, j)
        assert allowed(roles[i], "logs:PutLogEvents", stack.log_group(j) + ":log-stream:x") is own, (i, j)
        assert not allowed(roles[i], "sqs:SendMessage", stack.queue(j))  # no forged broadcasts
        assert not allowed(roles[i], "sqs:ReceiveMessage", stack.dead_letters(j))


def test_subchain_1s_key_pattern_matches_neither_subchain_10_to_19_nor_a_longer_name():
    stack = Stack(render(20))
    one = stack.role_policy(1)
    assert allowed(one, "secretsmanager:GetSecretValue", secret_arn(f"{PREFIX}/subchain/1", "AbC123"))
    for other in range(10, 20):
        for suffix in ("AbC123", "zzzzzz"):
            assert not allowed(one, "secretsmanager:GetSecretValue", secret_arn(f"{PREFIX}/subchain/{other}", suffix))
        assert not allowed(one, "secretsmanager:GetSecretValue", stack.secret(other))
    for name in (f"{PREFIX}/subchain/1-old", f"{PREFIX}/subchain/1/x", f"{PREFIX}/subchain/1x",
                 f"{PREFIX}-x/subchain/1", f"{PREFIX}/sealer-key", "other/subchain/1"):
        assert not allowed(one, "secretsmanager:GetSecretValue", secret_arn(name, "AbC123")), name
    # and the same for the queues and tables of sub-chains 10 to 19, by ARN
    for other in range(10, 20):
        assert not allowed(one, "sqs:ReceiveMessage", stack.queue(other))
        assert not allowed(one, "dynamodb:PutItem", stack.table(f"Replica{other}Table"))


@pytest.mark.parametrize("replicas", [3, 12])
def test_no_subchain_can_read_or_write_the_ledgers_tables_buckets_or_topic(replicas):
    stack = Stack(render(replicas))
    for i in range(replicas):
        role = stack.role_policy(i)
        for logical in LEDGER_TABLES:
            for arn in (stack.table(logical), stack.table(logical) + "/index/gsi1"):
                for action in (*TABLE_WRITES, *TABLE_READS, "dynamodb:DescribeTable"):
                    assert not allowed(role, action, arn), (i, logical, action)
        for bucket in ("LogBucket", "ItemsBucket"):
            arn = stack.get_att(bucket, "Arn")
            for key in ("checkpoint", "tile/0/000", "items/x", "uploads/x"):
                assert not allowed(role, "s3:PutObject", f"{arn}/{key}")
                assert not allowed(role, "s3:DeleteObject", f"{arn}/{key}")
        assert not allowed(role, "sns:Publish", stack.ref("BlocksTopic"))
        assert not allowed(role, "secretsmanager:GetSecretValue", secret_arn(f"{PREFIX}/sealer-key"))


def test_a_subchain_puts_metrics_in_the_programs_namespace_only():
    role = Stack(render(3)).role_policy(0)
    assert allowed(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": METRICS_NAMESPACE})
    assert not allowed(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/Lambda"})
    assert not allowed(role, "cloudwatch:PutMetricData", "*")


@pytest.mark.parametrize("replicas", [3, 12])
def test_chalices_role_has_nothing_of_any_subchain_and_keeps_the_ledger_and_the_sealer_key(replicas):
    stack = Stack(render(replicas))
    main = chalice_policy(replicas)
    for i in range(replicas):
        assert not allowed(main, "secretsmanager:GetSecretValue", stack.secret(i)), i
        for action in (*TABLE_WRITES, *TABLE_READS, "dynamodb:DescribeTable"):
            assert not allowed(main, action, stack.table(f"Replica{i}Table")), (i, action)
        for action in (*OWN_QUEUE, "sqs:SendMessage"):
            assert not allowed(main, action, stack.queue(i)), (i, action)
    # what it needs still
    assert allowed(main, "secretsmanager:GetSecretValue", secret_arn(f"{PREFIX}/sealer-key"))
    assert not allowed(main, "secretsmanager:GetSecretValue", secret_arn(f"{PREFIX}/sealer-key-old"))
    assert allowed(main, "sns:Publish", stack.ref("BlocksTopic"))
    assert allowed(main, "dynamodb:PutItem", stack.table("EntriesTable"))
    assert not allowed(main, "dynamodb:UpdateItem", stack.table("EntriesTable"))
    assert allowed(main, "s3:PutObject", stack.get_att("LogBucket", "Arn") + "/tile/0/000")


def test_the_committed_dev_policy_is_chalices_and_names_no_subchain():
    committed = json.loads((ROOT / ".chalice" / "policy-dev.json").read_text())
    assert committed == policy(3, PREFIX)
    assert "replica" not in json.dumps(committed) and "subchain" not in json.dumps(committed)


# ---------------------------------------------------------------------------------------------------------------
# The functions, their queues and their keys


@pytest.mark.parametrize("replicas", [1, 3, 12])
def test_each_subchain_runs_as_its_own_function_with_its_own_role_on_its_own_queue(replicas):
    template = render(replicas)
    stack = Stack(template)
    resources = template["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"
                 and "Handler" in v["Properties"]}
    assert set(functions) == {f"Subchain{i}Function" for i in range(replicas)}
    sources: list[str] = []
    for i in range(replicas):
        function = resources[f"Subchain{i}Function"]["Properties"]
        assert function["Handler"] == "app.subchain_handler"
        assert function["Role"] == {"Fn::GetAtt": [f"Subchain{i}Role", "Arn"]}
        assert function["Timeout"] * 6 <= resources[f"Replica{i}Queue"]["Properties"]["VisibilityTimeout"]
        [event] = function["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["BatchSize"] == 10
        sources.append(stack.resolve(event["Properties"]["Queue"]))
        assert sources[-1] == stack.queue(i)
        environment = stack.resolve(function["Environment"]["Variables"])
        assert environment["COVENANT_SUBCHAIN"] == str(i) and environment["COVENANT_PREFIX"] == PREFIX
        assert environment["COVENANT_REPLICAS"] == str(replicas)
        # the key it is told to read is the secret the template makes, and the one its role may read
        assert environment["COVENANT_SUBCHAIN_KEY"] == f"secret:{PREFIX}/subchain/{i}"
        assert environment["COVENANT_ORIGIN"] == ""  # the stack's Origin parameter: the origin it cosigns under
        secret = resources[f"Subchain{i}Secret"]["Properties"]
        assert stack.resolve(secret["Name"]) == f"{PREFIX}/subchain/{i}"
        assert "SecretString" not in secret and "GenerateSecretString" not in secret  # put by infra.subchain_keys
        assert allowed(stack.role_policy(i), "secretsmanager:GetSecretValue", stack.secret(i))
        assert not any(key.startswith("COVENANT_SEALER") or key.startswith("AWS_") for key in environment)
        # its log group is the one its role may write
        assert stack.log_group(i).endswith(f"/aws/lambda/{PREFIX}-subchain-{i}")
        # the queue keeps its dead-letter queue
        assert resources[f"Replica{i}Queue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
        assert resources[f"Subchain{i}Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert len(set(sources)) == replicas  # one function a queue, one queue a function
    assert "ReplicateBlock" not in resources  # no function serves every queue any more


def test_the_subchains_call_this_stacks_api_unless_the_operator_names_another():
    template = render(3)
    own = Stack(template).resolve(template["Resources"]["Subchain0Function"]["Properties"]["Environment"])
    assert own["Variables"]["COVENANT_API_URL"] == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/api"
    given = Stack(template, api_url="https://ledger.example.com/api").resolve(
        template["Resources"]["Subchain0Function"]["Properties"]["Environment"])
    assert given["Variables"]["COVENANT_API_URL"] == "https://ledger.example.com/api"
    assert REST_API in template["Resources"]  # the ${RestAPI} it names is Chalice's API, merged


def test_the_subchains_environment_matches_chalices_configuration():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["environment_variables"]["POWERTOOLS_SERVICE_NAME"] == POWERTOOLS_SERVICE_NAME
    assert config["environment_variables"]["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
    assert config["stages"]["dev"]["api_gateway_stage"] == API_STAGE
    assert "replicate_block" not in config.get("lambda_functions", {})


def test_sns_may_deliver_to_every_subchains_queue_and_nobody_else_is_let_in():
    stack = Stack(render(3))
    topic = stack.ref("BlocksTopic")
    properties = stack.resolve(stack.resources["ReplicaQueuesPolicy"]["Properties"])
    assert sorted(properties["Queues"]) == sorted(stack.ref(f"Replica{i}Queue") for i in range(3))
    document = properties["PolicyDocument"]
    assert [s["Principal"] for s in document["Statement"]] == [{"Service": "sns.amazonaws.com"}]
    for i in range(3):
        assert allowed(document, "sqs:SendMessage", stack.queue(i), {"aws:SourceArn": topic})
        assert not allowed(document, "sqs:SendMessage", stack.queue(i), {"aws:SourceArn": topic + "-other"})
        assert not allowed(document, "sqs:ReceiveMessage", stack.queue(i), {"aws:SourceArn": topic})
    subscribed = [stack.resolve(s["Endpoint"]) for s in stack.resources["BlocksTopic"]["Properties"]["Subscription"]]
    assert subscribed == [stack.queue(i) for i in range(3)]


def test_the_local_stack_leaves_out_functions_roles_and_secrets():
    template = standalone(render(3))
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not {k for k in kinds if k.startswith(("AWS::Serverless::", "AWS::IAM::", "AWS::SecretsManager::"))}
    assert "${Subchain" not in json.dumps(template) and '"Subchain' not in json.dumps(template)


def _chalice_like(template: dict[str, Any]) -> dict[str, Any]:
    """What `chalice package --merge-template` makes of the rendering: Chalice's SAM resources, ours merged in."""
    from chalice.package import TemplateDeepMerger

    def function(handler: str) -> dict[str, Any]:
        return {"Type": "AWS::Serverless::Function", "Properties": {
            "Runtime": "python3.11", "Handler": handler, "CodeUri": "./deployment.zip", "Timeout": 30,
            "Role": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}}}

    chalice = {
        "AWSTemplateFormatVersion": "2010-09-09", "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "ApiHandlerRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "ApiHandlerRolePolicy", "PolicyDocument": policy(3, PREFIX)}]}},
            "APIHandler": function("app.app"),
            "SealBlocks": function("chalicelib.handlers.events.seal_blocks"),
            REST_API: {"Type": "AWS::Serverless::Api", "Properties": {
                "EndpointConfiguration": "EDGE", "StageName": API_STAGE,
                "DefinitionBody": {"swagger": "2.0", "info": {"title": "covenant", "version": "1.0"},
                                   "paths": {"/chain/head": {"get": {}}}}}},
        },
        "Outputs": {"EndpointURL": {"Value": {
            "Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"}}},
    }
    return dict(TemplateDeepMerger().merge(template, chalice))


def test_the_merged_template_passes_cfn_lint(tmp_path):
    beside = Path(sys.executable).parent / "cfn-lint"  # the venv's, as `make package` runs it
    lint = str(beside) if beside.exists() else shutil.which("cfn-lint")
    if lint is None:
        pytest.skip("cfn-lint is not installed")
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(_chalice_like(render(3))))
    result = subprocess.run([lint, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
