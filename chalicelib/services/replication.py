"""A replica ("sub-chain"): verify each broadcast block against its own copy, then store and endorse it.

Deliveries may repeat, arrive out of order or be lost: a block at or below
the replica's head is a duplicate (or, with another hash, a conflict to
quarantine); a block beyond the next height makes the replica fetch the
missing blocks from the ledger's read side first. A block that fails
verification is quarantined with its reason and never applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import BlockUnavailable, MalformedMessage
from ..ledger.verify import VerificationError, verify_block
from ..observability import count, logger
from ..store.replica_store import ReplicaStore
from .ledger import Clock, now_ms

BlockSource = Callable[[int], "dict[str, Any] | None"]
MAX_CATCH_UP_BLOCKS = 50
_QUEUE = re.compile(r"-replica-(\d+)$")


def replica_of_queue(queue_arn: str) -> int:
    match = _QUEUE.search(queue_arn or "")
    if not match:
        raise MalformedMessage(f"{queue_arn!r} is not a replica queue")
    return int(match.group(1))


def parse_block_message(body: str) -> dict[str, Any]:
    """The block in an SQS body, raw or wrapped in an SNS envelope."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("Type") == "Notification":
            message = json.loads(message["Message"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedMessage("the message is not JSON") from exc
    if not isinstance(message, dict) or message.get("kind") != "block" or not isinstance(message.get("header"), dict):
        raise MalformedMessage("the message is not a block")
    height = message["header"].get("height")
    if type(height) is not int or height < 0:
        raise MalformedMessage("the block has no valid height")
    return message


def _verify_and_apply(replica: ReplicaStore, block: dict[str, Any], now: int) -> bool:
    """True when the block is now in the replica's chain; False when it was quarantined."""
    previous = replica.state()
    try:
        outcome = verify_block(previous, block, replica)
    except VerificationError as exc:
        first = replica.quarantine(exc.height, str(block.get("hash")), str(exc), block, now)
        if first:
            count("QuarantinedBlocks")
        logger.warning("block quarantined", extra={"replica": replica.replica, "height": exc.height,
                                                   "reason": str(exc)})
        return False
    if replica.apply(previous, outcome, block, now):
        replica.endorse(outcome.state.height, outcome.state.hash, now)
        count("BlocksReplicated")
        logger.info("block replicated", extra={"replica": replica.replica, "height": outcome.state.height})
    return True


def receive_block(replica_id: int, message: dict[str, Any], source: BlockSource, clock: Clock = now_ms) -> str:
    """Handle one delivery; returns what happened: applied, duplicate or quarantined."""
    replica = ReplicaStore(replica_id)
    height = message["header"]["height"]
    now = clock()
    state = replica.state()
    if height <= state.height:
        if replica.block_hash(height) == message.get("hash"):
            outcome = "duplicate"
        else:
            reason = "conflicts with the block this replica verified at that height"
            if replica.quarantine(height, str(message.get("hash")), reason, message, now):
                count("QuarantinedBlocks")
            outcome = "quarantined"
    else:
        outcome = "applied"
        fetched = 0
        while state.height + 1 < height:
            if fetched == MAX_CATCH_UP_BLOCKS:
                raise BlockUnavailable(f"replica {replica_id} is still catching up to {height}")
            missing = source(state.height + 1)
            if missing is None:
                raise BlockUnavailable(f"block {state.height + 1} is not published yet")
            fetched += 1
            if not _verify_and_apply(replica, missing, now):
                outcome = "quarantined"
                break
            state = replica.state()
        if outcome == "applied":
            block = message if message.get("entries") is not None else source(height)
            if block is None:
                raise BlockUnavailable(f"block {height} is not published yet")
            if not _verify_and_apply(replica, block, now):
                outcome = "quarantined"
    count("ReplicaLag", max(0, height - replica.state().height))
    return outcome
