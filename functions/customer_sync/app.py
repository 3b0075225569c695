"""Customer sync (Magento -> Acumatica): one sync request per Magento customer (standard queue).

Duplicates and out-of-order deliveries are harmless: the customer is read again from Magento, the binding (Magento
id <-> CustomerID) and its Magento ``updated_at`` decide, and a create is a keyed PUT under the create lease.
"""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import customer_sync_ports, give_up, invocation_deadline, release_sessions
from amsync.config import Settings
from amsync.consumer import consume
from amsync.models.messages import SyncRequest
from amsync.observability import logger, metrics
from amsync.services.customer_sync import sync_customer

settings = Settings.from_env()
deadline = invocation_deadline(settings)  # this container's: its clients consult it, consume sets it
ports = customer_sync_ports(settings, deadline)
end_invocation = release_sessions(ports)
to_dlq = give_up(settings, "CustomerDLQ")


def _handle(record: SQSRecord) -> None:
    request = SyncRequest.model_validate_json(record.body)
    logger.append_keys(correlation_id=request.correlation_id)
    outcome = sync_customer(request, ports)
    metrics.add_metric(name=f"Customer{outcome.title()}", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consume(event, context, _handle, queue_url=settings.customer_queue_url, fifo=False,
                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s)
