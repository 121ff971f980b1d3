"""Publishing sealed blocks to the SNS topic that fans out to the replicas' queues."""

from __future__ import annotations

import functools
import json
from typing import Any

from ..errors import StorageError
from ..observability import logger
from ..settings import get_settings

# SNS refuses messages above 256 KiB; leave room for the envelope and attributes.
MAX_INLINE_MESSAGE_BYTES = 240_000


@functools.cache
def sns_client() -> Any:
    import boto3

    return boto3.client("sns")


def block_message(block: dict[str, Any]) -> str:
    """The message for one block: entries inline when they fit, else replicas fetch them."""
    message = {"v": 1, "kind": "block", **block}
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) <= MAX_INLINE_MESSAGE_BYTES:
        return text
    return json.dumps({**message, "entries": None}, separators=(",", ":"), ensure_ascii=False)


def publish_block(block: dict[str, Any], client: Any = None) -> None:
    topic = get_settings().blocks_topic_arn
    if not topic:
        raise StorageError("COVENANT_BLOCKS_TOPIC_ARN is not set; blocks cannot be broadcast")
    from botocore.exceptions import BotoCoreError, ClientError

    height = block["header"]["height"]
    try:
        (client or sns_client()).publish(
            TopicArn=topic,
            Message=block_message(block),
            MessageAttributes={"height": {"DataType": "Number", "StringValue": str(height)}},
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("block broadcast failed", extra={"height": height})
        raise StorageError(f"could not broadcast block {height}") from exc
