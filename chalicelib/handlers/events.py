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
from ..settings import current_prefix

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


def replicate_record(record: SQSRecord) -> str:
    from ..services.replication import parse_block_message, receive_block, replica_of_queue

    logger.append_keys(message_id=record.message_id)
    return receive_block(replica_of_queue(record.event_source_arn), parse_block_message(record.body),
                         reading.full_block)


# The first replica's queue is wired here; infra/ adds the others to the same
# function, which tells replicas apart by each record's queue.
@events.on_sqs_message(queue=f"{current_prefix()}-replica-0", batch_size=10, name="replicate_block")
def replicate_block(event: Any) -> dict[str, Any]:
    # imported here: the HTTP functions' cold start never needs the batch processor
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event.to_dict(), record_handler=replicate_record,
                                         processor=processor, context=getattr(event, "context", None)))
