"""Webhook intake: Acumatica push notifications arrive here through the Function URL."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import AwsIntakePorts
from amsync.config import Settings
from amsync.observability import logger, metrics
from amsync.services.intake import Rejection, handle_push

settings = Settings.from_env()
ports = AwsIntakePorts(settings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if event.get("requestContext", {}).get("http", {}).get("method", "POST") != "POST":
        ports.rejected(Rejection(405, "push notifications are POSTed", "method", len(raw), ()))
        return _reply(405, {"error": "push notifications are POSTed"})
    result = handle_push(headers, raw, ports, max_bytes=settings.max_push_bytes, now=time.time)
    if result.status == 202:  # a refused post was counted and (sampled) logged by ports.rejected
        metrics.add_metric(name="PushAccepted", unit="Count", value=1)
        logger.info("push answered", extra={"status": result.status, "published": len(result.requests)})
    return _reply(result.status, result.body)


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
