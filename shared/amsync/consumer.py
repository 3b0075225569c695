"""SQS consumer glue for the queue-triggered functions: partial batch responses and backoff.

A record handler raises to fail its record (it comes back later, and goes to the DLQ after the queue's
maxReceiveCount); it returns normally when the record is done, including when the outcome was a logged business
failure that retrying cannot fix. Failed records are hidden for an exponential backoff with jitter (at least the
server's Retry-After), so a 429 or a not-yet-synced order is not hammered.

Every failed record is logged with its error. The last receive before the DLQ (``GiveUp.max_receives``, the
queue's maxReceiveCount) also writes a Failure row to the connector log, with the error, so what waits in a DLQ
always has its reason where ops look (``amsync dlq list``, the log grid), whatever stage failed.

Time: the consumer sets the container's ``Deadline`` (which its API clients and seat pool consult) from the Lambda
context for the invocation. A record is started only while the invocation has a record's worth of time left
(``record_s``, beyond the deadline's reserve for the invocation's end); the rest are handed back, as are records
whose calls could not be sent for lack of time (``OutOfTime``), with a log line saying why. A record handed back
for time alone has failed at nothing: it is made visible again at once, and on its last receive before the DLQ it
is re-sent to its own queue as a new message (same body, attributes and FIFO group; in FIFO, with the rest of its
group from the batch, in order) so that it never spends its way into the DLQ. Only the first record of an
invocation is never handed back for time: it had the whole invocation, so running out is its own failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
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

from amsync.adapters.errors import ApiError, OutOfTime
from amsync.data.queues import change_visibility, resend
from amsync.deadline import Deadline
from amsync.observability import logger, metrics
from amsync.services.exporting import NotReady

__all__ = ["GiveUp", "NotReady", "NotStarted", "backoff_seconds", "consume"]

MAX_BACKOFF_S = 900
# SQS's answers to a visibility change on a receipt whose visibility already ran out (the message is back in the
# queue, and may already be in another receiver's hands)
EXPIRED_RECEIPT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight",
                             "AWS.SimpleQueueService.MessageNotInflight"})


class NotStarted(Exception):
    """A record the invocation had no time left to start (handed back, not failed)."""


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


@dataclass
class _Outcomes:
    """What became of each record of one invocation, as the record handler saw it."""

    deadline: Deadline
    record_s: float
    retry_after: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # message id -> the error it failed with
    out_of_time: dict[str, str] = field(default_factory=dict)  # message id -> why it was handed back for time
    started: list[str] = field(default_factory=list)

    def wrap(self, handle: Callable[[SQSRecord], None]) -> Callable[[SQSRecord], None]:
        def record_handler(record: SQSRecord) -> None:
            mid = record.message_id
            logger.append_keys(message_id=mid)
            if self.started and not self.deadline.fits(self.record_s):
                self.out_of_time[mid] = "not started: " + self.deadline.shortfall(self.record_s, "a record")
                raise NotStarted(self.out_of_time[mid])
            self.started.append(mid)
            try:
                handle(record)
            except OutOfTime as exc:
                if len(self.started) > 1:
                    self.out_of_time[mid] = f"cut short: {exc}"
                    raise
                self._failed(mid, exc, " (the invocation's first record: it had the whole invocation)")
                raise
            except (ApiError, NotReady) as exc:
                self._failed(mid, exc)
                raise
            except Exception as exc:
                self.errors[mid] = f"{type(exc).__name__}: {exc}"
                logger.exception("record failed unexpectedly; it comes back after its backoff")
                raise
        return record_handler

    def _failed(self, mid: str, exc: ApiError | NotReady, note: str = "") -> None:
        if exc.retry_after:
            self.retry_after[mid] = exc.retry_after
        self.errors[mid] = f"{type(exc).__name__}: {exc}{note}"
        logger.warning("record failed; it comes back after its backoff", extra={"error": self.errors[mid]})


def consume(event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], None], *, queue_url: str,
            fifo: bool, retry_base_s: int, after: Callable[[], None] | None = None,
            give_up: GiveUp | None = None, deadline: Deadline | None = None,
            record_s: float = 0.0) -> dict[str, Any]:
    """Run ``handle`` on every record; return Lambda's partial batch response. ``after`` runs at the end of the
    invocation whatever happened (e.g. giving an Acumatica licence seat back when seats are scarce), and may spend
    the deadline's reserve. ``deadline``: the container's, set from ``context`` for the invocation; ``record_s``:
    the time one record may need (a record is started only while that much is left)."""
    deadline = deadline if deadline is not None else Deadline(reserve_s=0.0)
    seen = _Outcomes(deadline, record_s)
    processor: BatchProcessor | SqsFifoPartialProcessor
    if fifo:
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    else:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    records = {r["messageId"]: r for r in event.get("Records", [])}
    try:
        with deadline.running(context):
            response: dict[str, Any] = dict(process_partial_response(
                event=event, record_handler=seen.wrap(handle), processor=processor, context=context))
    except BatchProcessingError:
        response = {"batchItemFailures": [{"itemIdentifier": mid} for mid in records]}
    finally:
        if after is not None:
            try:
                with deadline.running(context, reserve=False):
                    after()
            except Exception:
                logger.exception("end-of-invocation cleanup failed")
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    failures = [rec for mid, rec in records.items() if mid in failed]
    if fifo:
        _held_back_for_time(failures, seen.errors, seen.out_of_time)
    timed = [rec for rec in failures if rec["messageId"] in seen.out_of_time]
    if timed:
        metrics.add_metric(name="HandedBackForTime", unit="Count", value=len(timed))
        resent = _hand_back(queue_url, timed, seen.out_of_time, give_up, fifo)
        response["batchItemFailures"] = [f for f in response.get("batchItemFailures", [])
                                         if f["itemIdentifier"] not in resent]
    _fail(queue_url, [rec for rec in failures if rec["messageId"] not in seen.out_of_time], seen, give_up,
          retry_base_s)
    return response


def _fail(queue_url: str, failures: list[dict[str, Any]], seen: _Outcomes, give_up: GiveUp | None,
          retry_base_s: int) -> None:
    """Records that failed: hidden for their backoff; on their last receive, the reason written for the DLQ."""
    if failures:
        metrics.add_metric(name="Retried", unit="Count", value=len(failures))
    for rec in failures:
        count = _receives(rec)
        if give_up is not None and count >= give_up.max_receives:
            _give_up(give_up, rec, count, seen.errors.get(rec["messageId"]))
            _back_off(queue_url, rec, 0)  # its DLQ takes it at its next receive: no backoff to wait out
            continue
        _back_off(queue_url, rec, backoff_seconds(count, retry_base_s, seen.retry_after.get(rec["messageId"])))


def _receives(rec: dict[str, Any]) -> int:
    return int(rec.get("attributes", {}).get("ApproximateReceiveCount", "1"))


def _held_back_for_time(failures: list[dict[str, Any]], errors: dict[str, str], out_of_time: dict[str, str]) -> None:
    """FIFO: a record never tried because an earlier record of its group was handed back for time is handed back
    for time too (behind a record that failed it is a failure, as before)."""
    cause: dict[str, str] = {}  # group -> the first failed record of it in the batch
    for rec in failures:
        mid, group = rec["messageId"], rec.get("attributes", {}).get("MessageGroupId", "")
        if mid in out_of_time or mid in errors:
            cause.setdefault(group, mid)
        elif cause.get(group) in out_of_time:
            out_of_time[mid] = f"not started: held back behind {cause[group]} of its FIFO group, handed back for time"


def _hand_back(queue_url: str, timed: list[dict[str, Any]], out_of_time: dict[str, str], give_up: GiveUp | None,
               fifo: bool) -> set[str]:
    """Records handed back for time: visible again at once; on their last receive before the DLQ re-sent as new
    messages instead (in FIFO with the rest of their group from the batch, so the group keeps its order). Returns
    the message ids re-sent (reported done: Lambda deletes the originals)."""
    to_resend: list[dict[str, Any]] = []
    resend_groups: set[str] = set()
    for rec in timed:
        group = rec.get("attributes", {}).get("MessageGroupId", "")
        last = give_up is not None and _receives(rec) >= give_up.max_receives
        if last or (fifo and group in resend_groups):
            to_resend.append(rec)
            resend_groups.add(group)
    outcome = resend(queue_url, to_resend) if to_resend else {}
    resent = {mid for mid, err in outcome.items() if err is None}
    for rec in timed:
        mid, count, why = rec["messageId"], _receives(rec), out_of_time[rec["messageId"]]
        if mid in resent:
            logger.info("record handed back for time: re-sent to its queue as a new message (its receives would "
                        "otherwise take it to the DLQ)", extra={"message_id": mid, "reason": why, "receives": count})
            continue
        if mid in outcome:  # its re-send failed
            why = f"{why}; could not be re-sent as a new message: {outcome[mid]}"
            if give_up is not None and count >= give_up.max_receives:  # the DLQ keeps it, with both reasons
                _give_up(give_up, rec, count, f"handed back for time ({why})")
                _back_off(queue_url, rec, 0)
                continue
        logger.info("record handed back for time: it comes back at once",
                    extra={"message_id": mid, "reason": why, "receives": count})
        _back_off(queue_url, rec, 0)
    return resent


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
