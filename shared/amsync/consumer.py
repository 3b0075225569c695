"""SQS consumer glue for the queue-triggered functions: partial batch responses and backoff.

A record handler raises to fail its record (it comes back later, and goes to the DLQ after the queue's
maxReceiveCount); it returns normally when the record is done, including when the outcome was a logged business
failure that retrying cannot fix. Failed records are hidden for an exponential backoff with jitter (at least the
server's Retry-After), so a 429 or a not-yet-synced order is not hammered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from amsync.adapters.errors import ApiError
from amsync.data.queues import change_visibility
from amsync.observability import logger, metrics

MAX_BACKOFF_S = 900


class NotReady(Exception):
    """The record cannot be handled yet (e.g. a shipment whose order is not in Magento): try again later."""


def backoff_seconds(receive_count: int, base: int, retry_after: float | None = None) -> int:
    delay = min(MAX_BACKOFF_S, base * 2 ** max(0, receive_count - 1))
    delay = int(delay / 2 + random.uniform(0, delay / 2))  # noqa: S311 - jitter
    return max(delay, int(retry_after or 0), 1)


def consume(event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], None], *, queue_url: str,
            fifo: bool, retry_base_s: int, after: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run ``handle`` on every record; return Lambda's partial batch response. ``after`` runs at the end of the
    invocation whatever happened (e.g. giving an Acumatica licence seat back when seats are scarce)."""
    retry_after: dict[str, float] = {}

    def record_handler(record: SQSRecord) -> None:
        logger.append_keys(message_id=record.message_id)
        try:
            handle(record)
        except ApiError as exc:
            if exc.retry_after:
                retry_after[record.message_id] = exc.retry_after
            raise

    processor: BatchProcessor | SqsFifoPartialProcessor
    if fifo:
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    else:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    records = {r["messageId"]: r for r in event.get("Records", [])}
    try:
        response: dict[str, Any] = dict(process_partial_response(event=event, record_handler=record_handler,
                                                                 processor=processor, context=context))
    except BatchProcessingError:
        response = {"batchItemFailures": [{"itemIdentifier": mid} for mid in records]}
    finally:
        if after is not None:
            try:
                after()
            except Exception:
                logger.exception("end-of-invocation cleanup failed")
    failures = response.get("batchItemFailures", [])
    if failures:
        metrics.add_metric(name="Retried", unit="Count", value=len(failures))
    for failure in failures:
        rec = records.get(failure["itemIdentifier"])
        if rec is None:
            continue
        count = int(rec.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            change_visibility(queue_url, rec["receiptHandle"],
                              backoff_seconds(count, retry_base_s, retry_after.get(failure["itemIdentifier"])))
        except Exception:  # the record still fails; it just comes back after the queue's own timeout
            logger.exception("could not set the backoff of a failed record")
    return response
