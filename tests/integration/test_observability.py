"""Structured JSON logs with a correlation id in every handler, and the ledger's metrics."""

from __future__ import annotations

import json
import sys

import pytest
from chalice.test import Client

from app import app
from chalicelib.services.ledger import Draft, commit
from tests.conftest import deliver, drain_queue


def _log_to_captured_stdout() -> None:
    """Powertools' handler keeps the stdout it saw when created; point it at this test's capture."""
    from chalicelib.observability import get_metrics, logger

    logger.registered_handler.stream = sys.stdout
    logger.setLevel("INFO")
    get_metrics().clear_metrics()


@pytest.fixture(autouse=True)
def restore_logging():
    from chalicelib.observability import logger

    yield
    logger.registered_handler.stream = sys.__stdout__
    logger.setLevel("WARNING")


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_http_logs_carry_the_callers_correlation_id(chain, capsys):
    from chalicelib.observability import get_metrics

    get_metrics().clear_metrics()
    _log_to_captured_stdout()
    with Client(app, stage_name="test") as client:
        client.http.get("/blocks/99", headers={"X-Correlation-Id": "trace-123"})
    out = capsys.readouterr().out
    logs = [line for line in _json_lines(out) if line.get("message") == "request refused"]
    assert logs, out
    assert logs and logs[-1]["correlation_id"] == "trace-123" and logs[-1]["code"] == "not_found"


def test_sealing_emits_metrics_and_logs_with_the_event_id(chain, capsys):

    _log_to_captured_stdout()
    commit([Draft("test.note", "system", {"n": i}) for i in range(3)])
    with Client(app, stage_name="test") as client:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
        event["id"] = "schedule-event-1"
        result = client.lambda_.invoke("seal_blocks", event).payload
    assert result == {"blocks": [1], "entries": 3}
    lines = _json_lines(capsys.readouterr().out)
    metrics = [line for line in lines if "_aws" in line]
    names = {m["Name"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"BlocksSealed", "EntriesSealed"} <= names
    sealed = next(line for line in metrics if "EntriesSealed" in line)
    assert sealed["EntriesSealed"] == [3.0]
    assert any(line.get("message") == "sealing run" and line.get("correlation_id") == "schedule-event-1"
               for line in lines)


def test_replicas_emit_lag_and_quarantine_metrics(chain, aws, capsys):
    from chalicelib.services.sealing import seal_pending_entries

    commit([Draft("test.note", "system", {"n": 1})])
    seal_pending_entries(chain)
    _log_to_captured_stdout()
    records = sorted(drain_queue(aws.queue_urls[0]), key=lambda r: json.loads(json.loads(r["body"])["Message"])
                     ["header"]["height"])
    bad = json.loads(json.loads(records[1]["body"])["Message"])
    bad["entries"][0]["data"]["n"] = 2
    envelope = json.loads(records[1]["body"])
    envelope["Message"] = json.dumps(bad)
    capsys.readouterr()
    deliver({"Records": [records[0], {**records[1], "messageId": "m-bad", "body": json.dumps(envelope)}]})
    metrics = [line for line in _json_lines(capsys.readouterr().out) if "_aws" in line]
    merged: dict = {}
    for line in metrics:
        for name in ("QuarantinedBlocks", "ReplicaLag", "BlocksReplicated"):
            if name in line:
                merged.setdefault(name, []).extend(line[name] if isinstance(line[name], list) else [line[name]])
    assert merged["QuarantinedBlocks"] == [1.0]
    assert merged["BlocksReplicated"] == [1.0]
    assert max(merged["ReplicaLag"]) == 1.0
