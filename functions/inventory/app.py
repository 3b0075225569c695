"""Inventory: Acumatica availability per warehouse becomes Magento MSI source quantities (standard queue).

The whole batch is synced together (source items saved in chunks of 20); then each record is reported done or
failed through the shared partial-batch consumer, so a failed record comes back with backoff on its own.
"""

from __future__ import annotations

from typing import Any

# The batch utilities before pydantic (amsync.config): imported once pydantic is, Powertools builds its parser's
# record models (~30 ms of cold start), which the consumer never uses.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amsync.composition import give_up, inventory_ports, invocation_deadline, log_writer, release_sessions
from amsync.config import Settings
from amsync.consumer import consume
from amsync.log_buffer import LogBuffer
from amsync.models.messages import SyncRequest
from amsync.observability import logger, metrics
from amsync.services.inventory import sync_stock_batch

settings = Settings.from_env()
deadline = invocation_deadline(settings)  # this container's: its clients consult it, consume sets it
log = LogBuffer(log_writer(settings))  # one log write per invocation, the pushes' intake rows included
ports = inventory_ports(settings, deadline, log=log)
end_invocation = release_sessions(ports)
to_dlq = give_up(settings, "InventoryDLQ")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return log.run(lambda: _batch(event, context))


def _batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    requests: dict[str, SyncRequest] = {}
    invalid: dict[str, BaseException | None] = {}
    for r in event.get("Records", []):
        try:
            requests[r["messageId"]] = SyncRequest.model_validate_json(r["body"])
        except ValueError as exc:  # not ours to fix here: it fails until the DLQ keeps it
            invalid[r["messageId"]] = exc
    log.carry(requests.values())
    with deadline.running(context):  # the batch's calls are bounded by the invocation's time left too
        outcomes = sync_stock_batch(requests, ports) | invalid

    def _handle(record: SQSRecord) -> None:
        error = outcomes.get(record.message_id)
        if error is not None:
            raise error
        metrics.add_metric(name="StockSynced", unit="Count", value=1)

    return consume(event, context, _handle, queue_url=settings.inventory_queue_url, fifo=False,
                   retry_base_s=settings.retry_base_delay_s, after=end_invocation,
                   give_up=to_dlq, deadline=deadline, record_s=settings.record_budget_s)
