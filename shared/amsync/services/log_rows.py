"""Building the Magento-side connector log rows the services write (the walkthrough's grid)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from amsync.models.log import DIRECTION_A2M, Action, Group, LogEntry, Result, Side


def sync_row(group: Group, action: Action, result: Result, *, notes: str, started: datetime,
             entity_id: int | str | None = None, message: str = "", details: dict[str, Any] | None = None,
             entity_key: str | None = None, correlation_id: str = "", direction: str = DIRECTION_A2M) -> LogEntry:
    return LogEntry(side=Side.MAGENTO, group=group, action=action, result=result, direction=direction,
                    start_time=started, complete_time=datetime.now(UTC), notes=notes,
                    entity_id=str(entity_id) if entity_id is not None else None, message=message,
                    details=details or {}, entity_key=entity_key or notes, correlation_id=correlation_id)


def now() -> datetime:
    return datetime.now(UTC)


def customer_entity_key(magento_id: int) -> str:
    """The connector log timeline of one Magento customer (its e-mail may change, its id does not): the customer
    sync's and the customer poller's rows (here, so the poller does not load the customer sync)."""
    return f"magento-customer-{magento_id}"
