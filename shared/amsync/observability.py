"""Powertools Logger and Metrics, set up once per container; connector log entries echoed to CloudWatch."""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.metrics import MetricUnit

from amsync.models.log import Action, LogEntry, Result, Side
from amsync.redact import mask_pii


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


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with personal data masked in every field: the message, the extra keys, the
    exception text and the stack trace (an API error quoting "Invalid email address 'jane@@example'" included)."""

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(log=cast(LogRecord, mask_pii(_plain(log))))


# Every line the connector writes to CloudWatch goes through this formatter (no other Logger is created).
logger = Logger(logger_formatter=MaskingFormatter())
# One metric series per name for the whole connector (the alarms and the dashboard read these; Lambda's own
# metrics already break down per function). Never an order id as a dimension: each dimension set is billed.
metrics = Metrics(service="connector")


def echo_log_entry(entry: LogEntry) -> None:
    """One structured JSON line per connector log entry, personal data masked by the formatter (details stay in
    DynamoDB); the Synced / SyncFailed / Skipped metrics are counted from the same entries."""
    fields = entry.model_dump(mode="json", exclude={"details"})
    logger.info("connector_log", extra={"connector_log": fields})
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
