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


def test_every_replica_has_a_queue_a_dead_letter_queue_a_table_and_a_subscription():
    for replicas in (1, 3, 5):
        resources = render(replicas)["Resources"]
        for i in range(replicas):
            queue = resources[f"Replica{i}Queue"]["Properties"]
            dead_letters = {"Fn::GetAtt": [f"Replica{i}DeadLetterQueue", "Arn"]}
            assert queue["RedrivePolicy"]["deadLetterTargetArn"] == dead_letters
            assert f"Replica{i}Table" in resources
        endpoints = [s["Endpoint"] for s in resources["BlocksTopic"]["Properties"]["Subscription"]]
        assert endpoints == [{"Fn::GetAtt": [f"Replica{i}Queue", "Arn"]} for i in range(replicas)]
        events = resources["ReplicateBlock"]["Properties"]["Events"]
        assert all(e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events.values())
        assert len(events) == replicas


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
