"""infra/: the committed template is the rendering, and the IAM policy keeps the ledger append-only."""

from __future__ import annotations

import json
from pathlib import Path

from infra.render import policy, render, standalone

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_template_is_the_default_rendering():
    assert json.loads((ROOT / "infra" / "template.json").read_text()) == render(3)


def test_the_committed_dev_policy_is_the_rendering():
    assert json.loads((ROOT / ".chalice" / "policy-dev.json").read_text()) == policy(3, "covenant-dev")


def test_every_replica_has_a_queue_a_dead_letter_queue_a_table_a_subscription_and_a_function():
    for replicas in (1, 3, 5):
        resources = render(replicas)["Resources"]
        for i in range(replicas):
            queue = resources[f"Replica{i}Queue"]["Properties"]
            dead_letters = {"Fn::GetAtt": [f"Replica{i}DeadLetterQueue", "Arn"]}
            assert queue["RedrivePolicy"]["deadLetterTargetArn"] == dead_letters
            assert f"Replica{i}Table" in resources
        endpoints = [s["Endpoint"] for s in resources["BlocksTopic"]["Properties"]["Subscription"]]
        assert endpoints == [{"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]} for i in range(replicas)]
        # and a function of its own on its queue (tests/unit/test_infra_isolation.py: its role)
        events = [e for i in range(replicas)
                  for e in resources[f"Subchain{i}Function"]["Properties"]["Events"].values()]
        assert all(e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events)
        assert [e["Properties"]["Queue"] for e in events] == [{"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]}
                                                              for i in range(replicas)]


def test_the_policy_grants_no_update_or_delete_on_append_only_tables():
    document = policy(3, "covenant-dev")
    forbidden = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:*",
                 "dynamodb:DeleteTable", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
    for table in ("entries", "blocks"):
        arn = f"arn:aws:dynamodb:*:*:table/covenant-dev-{table}"
        granted = {action for statement in document["Statement"] if arn in statement["Resource"]
                   for action in statement["Action"]}
        assert "dynamodb:PutItem" in granted
        assert not granted & forbidden, (table, granted & forbidden)
    assert all(not str(s["Resource"]).endswith("*") or s["Sid"] != "AppendOnlyLedger" for s in document["Statement"])


def test_the_standalone_template_leaves_out_chalice_functions():
    resources = standalone(render(3))["Resources"]
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::Serverless::")]
    assert {"EntriesTable", "BlocksTable", "PendingTable", "IndexTable", "BlocksTopic"} <= set(resources)


def test_api_gateway_answers_its_own_errors_in_the_error_shape():
    import chalicelib.errors as errors

    known = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.CovenantError)}
    api = render(3)["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"  # merged into the API `chalice package` names RestAPI
    responses = api["Properties"]["GatewayResponses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"} <= set(responses)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    for response_type, response in responses.items():
        assert response["ResponseParameters"] == {"Headers": {"Content-Type": "'application/json'"}}
        template = response["ResponseTemplates"]["application/json"]
        assert "$" not in template and "#" not in template, response_type  # VTL: nothing from the request
        body = json.loads(template)
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]) <= {"code", "message", "field"}
        assert body["error"]["code"] in known, (response_type, body)
    codes = {t: json.loads(r["ResponseTemplates"]["application/json"])["error"]["code"] for t, r in responses.items()}
    assert codes["MISSING_AUTHENTICATION_TOKEN"] == "not_found" and codes["DEFAULT_5XX"] == "internal_error"
    assert (codes["REQUEST_TOO_LARGE"], codes["THROTTLED"], codes["INTEGRATION_TIMEOUT"]) == (
        "request_too_large", "too_many_requests", "timeout")


def test_chalices_merge_adds_the_gateway_responses_to_its_api():
    from chalice.package import TemplateDeepMerger

    swagger = {"swagger": "2.0", "paths": {"/chain/head": {"get": {}}}}
    chalice_template = {"Resources": {"RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {
        "EndpointConfiguration": "EDGE", "StageName": "api", "DefinitionBody": swagger}}}}
    merged = TemplateDeepMerger().merge(render(3), chalice_template)["Resources"]["RestAPI"]
    assert merged["Properties"]["DefinitionBody"] == swagger
    ours = render(3)["Resources"]["RestAPI"]["Properties"]
    assert merged["Properties"]["GatewayResponses"] == ours["GatewayResponses"]


def test_the_standalone_template_leaves_out_the_api():
    assert "RestAPI" not in standalone(render(3))["Resources"]


def test_every_signed_route_names_a_body_model_that_exists():
    from pydantic import BaseModel

    import app  # noqa: F401 - registers the routes
    from chalicelib.api import bodies
    from chalicelib.api.signed_routes import BODY_MODELS

    assert len(BODY_MODELS) >= 20
    for path, name in BODY_MODELS.items():
        assert issubclass(getattr(bodies, name), BaseModel), path


def test_importing_the_app_loads_no_storage_client_and_no_body_model():
    """The cold start: storage clients and pydantic load on first use (bench/ measures the time)."""
    import subprocess
    import sys

    heavy = ("botocore.session", "botocore.client", "boto3", "pynamodb", "pydantic",
             "aws_lambda_powertools.utilities.batch")
    code = f"import sys, app; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
    assert out.stdout.strip() == ""


def test_the_lambda_reads_the_items_bucket_and_writes_only_uploads_and_items_never_deleting():
    statements = [s for s in policy(3, "covenant-dev")["Statement"] if s["Sid"].startswith("Items")]
    granted = {(action, resource) for s in statements for action in s["Action"]
               for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    bucket = "arn:aws:s3:::covenant-dev-items"
    assert granted == {
        ("s3:GetObject", f"{bucket}/*"), ("s3:GetObjectVersion", f"{bucket}/*"),  # HEAD, GET, a version's copy
        ("s3:PutObject", f"{bucket}/uploads/*"),  # the presigned PUTs it signs
        ("s3:PutObject", f"{bucket}/items/*"),  # CopyObject and PutObject of verified content
        ("s3:ListBucket", bucket),  # a missing upload answers 404, not 403
    }


def test_the_items_bucket_keeps_versions_expires_uploads_and_refuses_weak_signatures():
    resources = render(3)["Resources"]
    bucket = resources["ItemsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "uploads/" and rule["ExpirationInDays"] == 1  # items/ is never expired
    [cors] = bucket["CorsConfiguration"]["CorsRules"]
    assert "PUT" in cors["AllowedMethods"] and "x-amz-checksum-sha256" in cors["AllowedHeaders"]
    denied = {s["Sid"]: s["Condition"] for s in resources["ItemsBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"] if s["Effect"] == "Deny"}
    assert denied["TlsOnly"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert denied["SigV4Only"] == {"StringNotEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}
    assert denied["ShortLivedSignatures"]["NumericGreaterThan"]["s3:signatureAge"] >= 300_000  # the URLs' 5 min
    assert "ItemsBucketPolicy" in standalone(render(3))["Resources"]


def test_the_log_bucket_is_public_read_for_tiles_and_checkpoint_only_and_items_stay_private():
    resources = render(3)["Resources"]
    statements = resources["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [(s["Effect"], s["Principal"], s["Action"]) for s in statements] == [("Allow", "*", "s3:GetObject")]
    assert statements[0]["Resource"] == [{"Fn::Sub": "arn:aws:s3:::${LogBucket}/tile/*"},
                                         {"Fn::Sub": "arn:aws:s3:::${LogBucket}/checkpoint"}]
    log_block = resources["LogBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert log_block["BlockPublicAcls"] and log_block["IgnorePublicAcls"]  # public by policy, never by ACL
    assert all(resources["ItemsBucket"]["Properties"]["PublicAccessBlockConfiguration"].values())
    # the items bucket's own policy only denies (plain HTTP, old or weak signatures): it allows nobody anything
    assert not any(r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": "ItemsBucket"}
                   and any(st["Effect"] == "Allow" for st in r["Properties"]["PolicyDocument"]["Statement"])
                   for r in resources.values())
    # the functions may write and read the log bucket's objects, and delete none
    log = [s for s in policy(3, "covenant-dev")["Statement"] if "covenant-dev-log" in str(s["Resource"])]
    assert [sorted(s["Action"]) for s in log] == [["s3:GetObject", "s3:PutObject"]]


def test_forks_and_split_views_raise_alarms_on_the_metrics_the_sub_chains_count():
    import re
    from pathlib import Path

    resources = render(3)["Resources"]
    alarmed = {r["Properties"]["MetricName"] for r in resources.values()
               if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "Covenant"}
    source = (Path(__file__).resolve().parents[2] / "chalicelib/services/replication.py").read_text()
    counted = set(re.findall(r'count\("(\w+)"\)', source))
    assert {"QuarantinedBlocks", "CheckpointsRefused"} <= alarmed
    assert {"QuarantinedBlocks", "CheckpointsRefused"} <= counted
