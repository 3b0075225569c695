"""Eligibility and mapping: one sync request per Acumatica order (FIFO group = the order)."""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import give_up, invocation_deadline, log_writer, order_sync_ports, release_sessions
from amsync.config import Settings
from amsync.consumer import consume
from amsync.log_buffer import LogBuffer
from amsync.models.messages import SyncRequest
from amsync.observability import logger, metrics
from amsync.services.order_sync import sync_order

settings = Settings.from_env()
deadline = invocation_deadline(settings)  # this container's: its clients consult it, consume sets it
log = LogBuffer(log_writer(settings))  # one log write per invocation, the pushes' intake rows included
ports = order_sync_ports(settings, deadline, log=log)
end_invocation = release_sessions(ports)
to_dlq = give_up(settings, "OrderDLQ")


def _handle(record: SQSRecord) -> None:
    request = SyncRequest.model_validate_json(record.body)
    logger.append_keys(correlation_id=request.correlation_id)
    log.carry([request])
    outcome = sync_order(request, ports)
    metrics.add_metric(name=f"Order{outcome.title()}", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return log.run(lambda: consume(event, context, _handle, queue_url=settings.order_queue_url, fifo=True,
                                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s))
