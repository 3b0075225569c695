"""Reconciler: on the EventBridge schedule, hands on what changed in Acumatica and no push brought."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import reconciler_ports, release_sessions
from amsync.config import Settings
from amsync.observability import logger, metrics
from amsync.services.reconciler import reconcile

settings = Settings.from_env()
ports = reconciler_ports(settings)
end_invocation = release_sessions(ports)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        report = reconcile(ports)
    finally:
        end_invocation()
    metrics.add_metric(name="ReconcilerPublished", unit="Count", value=report.published)
    metrics.add_metric(name="ReconcilerLagSeconds", unit="Seconds", value=report.lag_seconds)
    metrics.add_metric(name="OrderDoublesFound", unit="Count", value=len(report.doubles))
    summary = {name: {"read": s.read, "published": s.published, "watermark": s.watermark}
               for name, s in report.streams.items()}
    doubles = [{"order": d.order_key, "entity_id": d.entity_id, "message": d.message} for d in report.doubles]
    logger.info("reconciled", extra={"streams": summary, "doubles": doubles})
    return {"published": report.published, "streams": summary, "doubles": doubles}
