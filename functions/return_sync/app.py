"""Return sync (Magento -> Acumatica): one request per Magento credit memo (standard queue).

Duplicates are harmless: the binding (credit memo -> return order), the create lease and the lookup by ExternalRef
make one Acumatica return order per credit memo, whatever the timing.
"""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import invocation_deadline, release_sessions
from amsync.composition_returns import give_up_returns, return_sync_ports
from amsync.config import Settings
from amsync.consumer import consume
from amsync.models.messages import SyncRequest
from amsync.observability import logger, metrics
from amsync.services.returns import export_return

settings = Settings.from_env()
deadline = invocation_deadline(settings)
ports = return_sync_ports(settings, deadline)
end_invocation = release_sessions(ports)
to_dlq = give_up_returns(settings)


def _handle(record: SQSRecord) -> None:
    request = SyncRequest.model_validate_json(record.body)
    logger.append_keys(correlation_id=request.correlation_id)
    outcome = export_return(ports, request)
    metrics.add_metric(name="Return" + outcome.title().replace(" ", ""), unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consume(event, context, _handle, queue_url=settings.return_queue_url, fifo=False,
                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s)
