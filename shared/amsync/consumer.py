"""SQS consumer glue for the queue-triggered functions: partial batch responses and backoff.

A record handler raises to fail its record (it comes back later, and goes to the DLQ after the queue's
maxReceiveCount); it returns normally when the record is done, including when the outcome was a logged business
failure that retrying cannot fix. Failed records are hidden for an exponential backoff with jitter (at least the
server's Retry-After), so a 429 or a not-yet-synced order is not hammered.

Every failed record is logged with its error. The last receive before the DLQ (``GiveUp.max_receives``, the
queue's maxReceiveCount) also writes a Failure row to the connector log, with the error, so what waits in a DLQ
always has its reason where ops look (``amsync dlq list``, the log grid), whatever stage failed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from amsync.adapters.errors import ApiError
from amsync.data.queues import change_visibility
from amsync.observability import logger, metrics

MAX_BACKOFF_S = 900
# SQS's answers to a visibility change on a receipt whose visibility already ran out (the message is back in the
# queue, and may already be in another receiver's hands)
EXPIRED_RECEIPT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight",
                             "AWS.SimpleQueueService.MessageNotInflight"})


class NotReady(Exception):
    """The record cannot be handled yet (e.g. a shipment whose order is not in Magento): try again later, not
    before ``retry_after`` seconds when that is known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def backoff_seconds(receive_count: int, base: int, retry_after: float | None = None) -> int:
    delay = min(MAX_BACKOFF_S, base * 2 ** max(0, receive_count - 1))
    delay = int(delay / 2 + random.uniform(0, delay / 2))  # noqa: S311 - jitter
    return max(delay, int(retry_after or 0), 1)


@dataclass(frozen=True)
class GiveUp:
    """What a consumer does on a record's last receive before its DLQ."""

    max_receives: int  # the queue's RedrivePolicy maxReceiveCount
    dlq: str  # the DLQ's logical name, for the replay command in the row
    record: Callable[[str, str], None]  # (message body, what happened) -> a Failure row in the connector log


def consume(event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], None], *, queue_url: str,
            fifo: bool, retry_base_s: int, after: Callable[[], None] | None = None,
            give_up: GiveUp | None = None) -> dict[str, Any]:
    """Run ``handle`` on every record; return Lambda's partial batch response. ``after`` runs at the end of the
    invocation whatever happened (e.g. giving an Acumatica licence seat back when seats are scarce)."""
    retry_after: dict[str, float] = {}
    errors: dict[str, str] = {}

    def record_handler(record: SQSRecord) -> None:
        logger.append_keys(message_id=record.message_id)
        try:
            handle(record)
        except (ApiError, NotReady) as exc:
            if exc.retry_after:
                retry_after[record.message_id] = exc.retry_after
            errors[record.message_id] = f"{type(exc).__name__}: {exc}"
            logger.warning("record failed; it comes back after its backoff",
                           extra={"error": errors[record.message_id]})
            raise
        except Exception as exc:
            errors[record.message_id] = f"{type(exc).__name__}: {exc}"
            logger.exception("record failed unexpectedly; it comes back after its backoff")
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
    failures = [records[f["itemIdentifier"]] for f in response.get("batchItemFailures", [])
                if f["itemIdentifier"] in records]
    if failures:
        metrics.add_metric(name="Retried", unit="Count", value=len(failures))
    for rec in failures:
        count = int(rec.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if give_up is not None and count >= give_up.max_receives:
            _give_up(give_up, rec, count, errors.get(rec["messageId"]))
            _back_off(queue_url, rec, 0)  # its DLQ takes it at its next receive: no backoff to wait out
            continue
        _back_off(queue_url, rec, backoff_seconds(count, retry_base_s, retry_after.get(rec["messageId"])))
    return response


def _give_up(give_up: GiveUp, rec: dict[str, Any], count: int, error: str | None) -> None:
    what = error or "not tried: held back behind a failed record of its FIFO group"
    message = f"failed {count} times, goes to {give_up.dlq}; last error: {what}"
    logger.error("record goes to its DLQ", extra={"message_id": rec.get("messageId"), "error": what,
                                                  "dlq": give_up.dlq, "receives": count})
    try:
        give_up.record(str(rec.get("body", "")), message)
    except Exception:
        logger.exception("could not log a record going to its DLQ")


def _back_off(queue_url: str, rec: dict[str, Any], seconds: int) -> None:
    """Hide a failed record for its backoff; if that fails it still fails, and comes back after the queue's own
    visibility timeout."""
    try:
        change_visibility(queue_url, rec["receiptHandle"], seconds)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in EXPIRED_RECEIPT:
            logger.exception("could not set the backoff of a failed record")
            return
        # its visibility ran out while it was handled: it is back in the queue already (expected, not an error)
        logger.warning("failed record was visible again before its backoff was set",
                       extra={"message_id": rec.get("messageId"), "error_code": code})
    except Exception:
        logger.exception("could not set the backoff of a failed record")
