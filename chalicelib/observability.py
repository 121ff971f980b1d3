"""Powertools Logger and Metrics, created once and shared by every handler."""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(service="covenant")

NAMESPACE_DEFAULT = "Covenant"


@functools.cache
def get_metrics() -> Metrics:
    # The namespace is explicit so importing app.py needs no environment.
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_DEFAULT), service="covenant")


def count(name: str, value: float = 1) -> None:
    # Powertools flushes every 100 metrics even when metrics are disabled; honour the switch here.
    if not is_metrics_disabled():
        get_metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    metrics = get_metrics()
    if metrics.metric_set:
        metrics.flush_metrics()


def correlation_id_of(event: Any) -> str:
    """A correlation id for any Chalice event: the caller's request id, or the platform's."""
    headers = getattr(event, "headers", None)
    if headers is not None:
        for name in ("x-correlation-id", "x-request-id"):
            value = headers.get(name)
            if value:
                return str(value)[:128]
        context = getattr(event, "context", None) or {}
        if context.get("requestId"):
            return str(context["requestId"])
    raw: Any = getattr(event, "to_dict", dict)()
    if isinstance(raw, dict):
        if raw.get("id"):
            return str(raw["id"])
        records = raw.get("Records") or []
        if records and isinstance(records[0], dict) and records[0].get("messageId"):
            return str(records[0]["messageId"])
    return str(uuid.uuid4())


def observe(event: Any, get_response: Any) -> Any:
    """Chalice middleware for every handler: correlation id in every log line, metrics flushed."""
    logger.set_correlation_id(correlation_id_of(event))
    try:
        return get_response(event)
    finally:
        flush_metrics()
