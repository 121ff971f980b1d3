"""A replica ("sub-chain"): verify each broadcast block against its own copy, then store and endorse it.

Deliveries may repeat, arrive out of order or be lost: a block at or below
the replica's head is a duplicate (or, with another hash, a conflict to
quarantine); a block beyond the next height makes the replica fetch the
missing blocks from the ledger's read side first. A block that fails
verification is quarantined with its reason and never applied, whatever its
fields hold: a message that says it is a block is never dead-lettered for
its content (only a message that is not JSON, or not a block, is).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import BlockUnavailable, MalformedMessage, StorageError
from ..ledger.verify import VerificationError, verify_block
from ..observability import count, logger
from ..store.replica_store import ReplicaStore, is_height
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
    """The block in an SQS body, raw or wrapped in an SNS envelope.

    Only a body that is not JSON, or not an object of kind ``block``, is
    malformed; a block with odd fields is the verifier's to refuse (and the
    replica's to quarantine).
    """
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("Type") == "Notification":
            message = json.loads(message["Message"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise MalformedMessage("the message is not JSON") from exc
    if not isinstance(message, dict) or message.get("kind") != "block":
        raise MalformedMessage("the message is not a block")
    return message


def _quarantine(replica: ReplicaStore, height: Any, block: Any, reason: str, now: int) -> None:
    claimed = block.get("hash") if isinstance(block, dict) else None
    if replica.quarantine(height, claimed, reason, block, now):
        count("QuarantinedBlocks")
    logger.warning("block quarantined", extra={"replica": replica.replica,
                                               "height": height if is_height(height) else None,
                                               "reason": reason[:1000]})


def _verify_and_apply(replica: ReplicaStore, block: Any, now: int) -> bool:
    """True when the block is now in the replica's chain; False when it was quarantined."""
    previous = replica.state()
    try:
        outcome = verify_block(previous, block, replica, replica)
    except VerificationError as exc:
        _quarantine(replica, exc.height, block, str(exc), now)
        return False
    except StorageError:
        raise  # the replica's own table failed: retry the message, do not blame the block
    except Exception as exc:  # a block no check foresaw: keep it and why, never lose it to the DLQ
        logger.exception("block could not be checked", extra={"replica": replica.replica})
        _quarantine(replica, previous.height + 1, block, f"the block could not be checked: "
                    f"{type(exc).__name__}: {str(exc)[:300]}", now)
        return False
    if replica.apply(previous, outcome, block, now):
        replica.endorse(outcome.state.height, outcome.state.hash, now)
        count("BlocksReplicated")
        logger.info("block replicated", extra={"replica": replica.replica, "height": outcome.state.height})
    return True


def receive_block(replica_id: int, message: dict[str, Any], source: BlockSource, clock: Clock = now_ms) -> str:
    """Handle one delivery; returns what happened: applied, duplicate or quarantined."""
    replica = ReplicaStore(replica_id)
    header = message.get("header")
    height = header.get("height") if isinstance(header, dict) else None
    now = clock()
    state = replica.state()
    if not is_height(height):
        _quarantine(replica, height, message, "the block has no valid header height (a non-negative integer "
                    "within 2^53 - 1)", now)
        return "quarantined"
    assert isinstance(height, int)
    if height <= state.height:
        if replica.block_hash(height) == message.get("hash"):
            outcome = "duplicate"
        else:
            _quarantine(replica, height, message, "conflicts with the block this replica verified at that height",
                        now)
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
