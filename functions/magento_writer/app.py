"""Magento writer: creates each Acumatica order in Magento exactly once (FIFO group = the order)."""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import give_up, invocation_deadline, order_update_hook, release_sessions, writer_ports
from amsync.config import Settings
from amsync.consumer import consume
from amsync.models.messages import MagentoOrderWrite
from amsync.observability import logger, metrics
from amsync.services.order_writer import write_order

settings = Settings.from_env()
deadline = invocation_deadline(settings)  # this container's: its clients consult it, consume sets it
ports = writer_ports(settings, deadline)
end_invocation = release_sessions(ports)
to_dlq = give_up(settings, "MagentoOrderDLQ")
ports.on_update = order_update_hook(settings, ports)


def _handle(record: SQSRecord) -> None:
    message = MagentoOrderWrite.model_validate_json(record.body)
    logger.append_keys(correlation_id=message.correlation_id)
    outcome = write_order(message, ports)
    metrics.add_metric(name=f"MagentoOrder{outcome.title().replace('-', '')}", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consume(event, context, _handle, queue_url=settings.magento_order_queue_url, fifo=True,
                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s)
