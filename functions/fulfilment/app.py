"""Fulfilment: confirmed shipments and released invoices reach the bound Magento order (FIFO group = the order)."""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import (
    fulfilment_ports,
    give_up,
    invocation_deadline,
    log_writer,
    publish_requests,
    release_sessions,
)
from amsync.config import Settings
from amsync.consumer import NotReady, consume
from amsync.log_buffer import LogBuffer
from amsync.models.messages import SyncRequest
from amsync.observability import logger, metrics
from amsync.services.fulfilment import handle_fulfilment

settings = Settings.from_env()
deadline = invocation_deadline(settings)  # this container's: its clients consult it, consume sets it
log = LogBuffer(log_writer(settings))  # one log write per invocation, the pushes' intake rows included
ports = fulfilment_ports(settings, deadline, log=log)
end_invocation = release_sessions(ports)
to_dlq = give_up(settings, "FulfilmentDLQ")
# A record still "not ready" (its order not in Magento yet) after this many receives is put back as a new message
# (attempt + 1) instead of failing once more into the DLQ: a shipment that waits days for its order is never dropped.
REQUEUE_AFTER_RECEIVES = 4


def _handle(record: SQSRecord) -> None:
    request = SyncRequest.model_validate_json(record.body)
    logger.append_keys(correlation_id=request.correlation_id)
    log.carry([request])
    try:
        outcome = handle_fulfilment(request, ports)
    except NotReady:
        if int(record.attributes.approximate_receive_count) < REQUEUE_AFTER_RECEIVES:
            raise
        publish_requests(settings, [request.model_copy(update={"attempt": request.attempt + 1, "intake_log": []})])
        outcome = "requeued"
    metrics.add_metric(name=f"{request.kind.value.title()}{outcome.title().replace('-', '').replace(',', '')}",
                       unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return log.run(lambda: consume(event, context, _handle, queue_url=settings.fulfilment_queue_url, fifo=True,
                                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s))
