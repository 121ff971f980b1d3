"""Scheduled sealing and the replicas' queue consumer. Each calls one service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Rate

from ..observability import logger
from ..services import reading
from ..services.governance import load_signer_for_reports, tally
from ..services.legality import sweep
from ..services.sealer_key import load_signer
from ..services.sealing import seal_pending_entries
from ..settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

events = Blueprint(__name__)


@events.schedule(Rate(1, unit=Rate.MINUTES), name="seal_blocks")
def seal_blocks(event: Any) -> dict[str, Any]:
    report = seal_pending_entries(load_signer())
    logger.info("sealing run", extra={"blocks": report.blocks, "entries": report.entries,
                                      "lost_races": report.lost_races, "completed": report.completed})
    return {"blocks": report.blocks, "entries": report.entries}


@events.schedule(Rate(5, unit=Rate.MINUTES), name="legality_sweep")
def legality_sweep(event: Any) -> dict[str, Any]:
    report = sweep()
    logger.info("legality sweep", extra=report)
    return report


@events.schedule(Rate(1, unit=Rate.MINUTES), name="tally_votes")
def tally_votes(event: Any) -> dict[str, Any]:
    result = tally(load_signer_for_reports())
    logger.info("tally", extra=result)
    return result


def _witness(subchain: int) -> Any:
    """Sub-chain ``subchain``'s own key (COVENANT_SUBCHAIN_KEY with {i}), or None when none is configured."""
    from ..errors import SealerKeyError
    from ..services.replication import Witness

    pattern = get_settings().subchain_key
    if not pattern:
        return None
    try:
        return Witness(load_signer(pattern.replace("{i}", str(subchain))).key)
    except SealerKeyError as exc:
        # a secret made by the stack but not yet filled (python -m infra.subchain_keys): verify and keep the
        # blocks now, cosign once the key is there (the next block cosigns the whole tree)
        logger.warning("sub-chain key unavailable: verifying without cosigning", extra={"subchain": subchain,
                                                                                       "reason": str(exc)[:300]})
        return None


def _log_source() -> Any:
    """The public API (COVENANT_API_URL) on AWS; the program in this process when unset (local tests)."""
    from ..services.replication import FunctionSource

    url = get_settings().api_url
    if url:
        from ..verifier.log_source import HttpLog

        return HttpLog(url)
    from ..services.cosigners import submit

    def checkpoint(height: int) -> str | None:
        return reading.block_checkpoint(height)

    def take(size: int, line: str) -> None:
        from ..errors import CosignatureRefused, CovenantError

        try:
            submit(size, line)
        except CovenantError as exc:
            if exc.status < 500:
                raise CosignatureRefused(str(exc), code=exc.code) from exc
            raise

    return FunctionSource(reading.full_block, checkpoint, take)


def replicate_record(record: SQSRecord, subchain: int | None = None) -> str:
    from ..errors import MalformedMessage
    from ..services.replication import parse_block_message, receive_block, replica_of_queue

    logger.append_keys(message_id=record.message_id)
    queue = replica_of_queue(record.event_source_arn)
    if subchain is not None and queue != subchain:
        raise MalformedMessage(f"sub-chain {subchain} does not read the queue of sub-chain {queue}")
    # the origin the operator configured (COVENANT_ORIGIN); unset, the one the genesis checkpoint names
    return receive_block(queue, parse_block_message(record.body), _log_source(), _witness(queue),
                         origin=get_settings().origin or None)


def subchain_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Operator sub-chain ``COVENANT_SUBCHAIN``'s function (one function and one role each, from infra/): the
    records of its own queue, each block verified, kept and cosigned; failures are retried one by one."""
    import os

    # imported here: the HTTP functions' cold start never needs the batch processor
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from ..observability import flush_metrics

    raw = os.environ.get("COVENANT_SUBCHAIN", "")
    subchain = int(raw) if raw.isdigit() else None
    records = event.get("Records") if isinstance(event, dict) else None
    first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
    logger.set_correlation_id(str(first.get("messageId") or getattr(context, "aws_request_id", "") or "batch"))
    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        return dict(process_partial_response(event=event, processor=processor, context=context,
                                             record_handler=lambda record: replicate_record(record, subchain)))
    finally:
        flush_metrics()
