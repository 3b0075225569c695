"""Credit memo poller: on the EventBridge schedule, Magento credit memos changed since the watermark are queued."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition_returns import credit_memo_poller_ports
from amsync.config import Settings
from amsync.observability import logger, metrics
from amsync.services.returns import poll_creditmemos

settings = Settings.from_env()
ports = credit_memo_poller_ports(settings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = poll_creditmemos(ports)
    metrics.add_metric(name="CreditMemosPublished", unit="Count", value=len(result.published))
    logger.info("credit memos polled", extra={"outcome": result.outcome, "published": len(result.published),
                                              "watermark": result.watermark})
    return {"outcome": result.outcome, "published": len(result.published), "watermark": result.watermark}
