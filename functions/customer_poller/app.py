"""Customer poller: on the EventBridge schedule, Magento customers changed since the watermark are queued."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import customer_poller_ports
from amsync.config import Settings
from amsync.observability import logger, metrics
from amsync.services.customer_poller import poll_customers

settings = Settings.from_env()
ports = customer_poller_ports(settings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = poll_customers(ports)
    metrics.add_metric(name="CustomersPublished", unit="Count", value=len(result.published))
    if result.lag_seconds is not None:  # a run that found the poll lease taken reports nothing
        metrics.add_metric(name="CustomerPollLagSeconds", unit="Seconds", value=result.lag_seconds)
    logger.info("customers polled", extra={"outcome": result.outcome, "published": len(result.published),
                                           "watermark": result.watermark})
    return {"outcome": result.outcome, "published": len(result.published), "watermark": result.watermark}
