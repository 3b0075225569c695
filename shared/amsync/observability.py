"""Powertools Logger and Metrics, set up once per container; connector log entries echoed to CloudWatch."""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.metrics import MetricUnit

from amsync.models.log import Action, LogEntry, Result, Side
from amsync.redact import mask_pii, mask_text


def _plain(value: Any) -> Any:
    """JSON-ready: what the formatter would turn into text (an exception object in ``stack_trace``) becomes
    text first, so masking sees it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# What Lambda's own lines (START, END, REPORT with its Init Duration) and the log group already say: the function,
# its memory, the request, a cold start; the trace id (no X-Ray here) and the service (one log group per function).
# The request id and the code location stay on warnings and errors, where one goes looking for them.
_REDUNDANT = frozenset({"function_name", "function_arn", "function_memory_size", "cold_start", "xray_trace_id",
                        "service", "sampling_rate"})
_ON_PROBLEMS_ONLY = frozenset({"function_request_id", "location"})
RAW_HEAD = 160  # characters of a raw push's message its CloudWatch line keeps, as the grid shows it
MESSAGE_MAX = 1000  # characters of a sync action's message its CloudWatch line keeps


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with personal data masked in every field: the message, the extra keys, the
    exception text and the stack trace (an API error quoting "Invalid email address 'jane@@example'" included);
    without the keys Lambda's own lines already carry (``_REDUNDANT``; the request id and location on INFO and
    DEBUG lines)."""

    def serialize(self, log: LogRecord) -> str:
        problem = log.get("level") in ("WARNING", "ERROR", "CRITICAL")
        kept = {k: v for k, v in log.items()
                if k not in _REDUNDANT and (problem or k not in _ON_PROBLEMS_ONLY)}
        return super().serialize(log=cast(LogRecord, mask_pii(_plain(kept))))


# Every line the connector writes to CloudWatch goes through this formatter (no other Logger is created).
logger = Logger(logger_formatter=MaskingFormatter())
# One metric series per name for the whole connector (the alarms and the dashboard read these; Lambda's own
# metrics already break down per function). Never an order id as a dimension: each dimension set is billed.
metrics = Metrics(service="connector")


def log_line(entry: LogEntry) -> dict[str, Any]:
    """The ``connector_log`` fields of an entry's CloudWatch line: what the row's grid shows, without the defaults
    and empty values, and without the details (they stay in DynamoDB). A raw push's message is its head (the post
    masked first, then cut: no personal value is cut in half and left unmasked), a sync action's at most
    ``MESSAGE_MAX`` characters; ``took_ms`` stands for the complete time, ``entity_key`` is left out when it is
    the notes, and the correlation id is the line's own key (``echo_log_entry``)."""
    fields = entry.model_dump(mode="json", exclude={"details", "message", "complete_time", "correlation_id"},
                              exclude_none=True, exclude_defaults=True)
    fields["side"], fields["log_id"], fields["start_time"] = entry.side.value, entry.log_id, \
        entry.start_time.isoformat()
    if entry.complete_time is not None:
        fields["took_ms"] = round((entry.complete_time - entry.start_time).total_seconds() * 1000, 1)
    if entry.entity_key and entry.entity_key == entry.notes:
        del fields["entity_key"]
    limit = RAW_HEAD if entry.side is Side.ACUMATICA else MESSAGE_MAX
    message = entry.message if len(entry.message) <= limit else mask_text(entry.message)[:limit] + "..."
    if message:
        fields["message"] = message
    return fields


def echo_log_entry(entry: LogEntry) -> None:
    """One compact JSON line per connector log entry (``log_line``; the entry's correlation id as the line's
    ``correlation_id``, which the saved query "one-order-timeline" filters on), personal data masked by the
    formatter; the Synced / SyncFailed / Skipped metrics are counted from the same entries."""
    extra: dict[str, Any] = {"connector_log": log_line(entry)}
    if entry.correlation_id:
        extra["correlation_id"] = entry.correlation_id
    logger.info("connector_log", extra=extra)
    if entry.side is not Side.MAGENTO or entry.action is Action.PUBLISHER:
        return
    name = {Result.SUCCESS: "Synced", Result.FAILURE: "SyncFailed", Result.SKIPPED: "Skipped"}.get(
        entry.result) if entry.result else None
    if name:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if entry.latency_ms is not None:
        metrics.add_metric(name="SyncLatency", unit=MetricUnit.Milliseconds, value=entry.latency_ms)


def record_api_call(system: str, operation: str, status: int | None, seconds: float) -> None:
    """Every call to Acumatica or Magento: one debug line (the benchmark counts them from the clients)."""
    logger.debug("api call", extra={"system": system, "operation": operation, "status": status,
                                    "ms": round(seconds * 1000, 1)})
