"""Powertools Logger and Metrics, set up once per container; connector log entries echoed to CloudWatch."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from amsync.models.log import LogEntry
from amsync.redact import mask_pii

logger = Logger()
metrics = Metrics()


def echo_log_entry(entry: LogEntry) -> None:
    """One structured JSON line per connector log entry, personal data masked (details stay in DynamoDB)."""
    fields = entry.model_dump(mode="json", exclude={"details"})
    logger.info("connector_log", extra={"connector_log": mask_pii(fields)})


def record_api_call(system: str, operation: str, status: int | None, seconds: float) -> None:
    """Every call to Acumatica or Magento: one debug line (the benchmark counts them from the clients)."""
    logger.debug("api call", extra={"system": system, "operation": operation, "status": status,
                                    "ms": round(seconds * 1000, 1)})
