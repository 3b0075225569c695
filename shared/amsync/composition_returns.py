"""Wiring of the two return functions (Magento credit memos -> Acumatica return orders), and only theirs.

As in amsync.composition, each builder imports what only it needs: the credit memo poller never loads the queue
consumer (and Powertools' batch utilities), which only the return sync's give-up step uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from amsync.composition import api_clients, log_writer, poller_ports
from amsync.config import Settings
from amsync.data.bindings import Binder
from amsync.data.settings_store import SettingsStore
from amsync.deadline import Deadline
from amsync.models.log import DIRECTION_M2A, Group, LogEntry, Result, Side
from amsync.services.returns import CreditmemoPollerPorts, ReturnPorts

if TYPE_CHECKING:
    from amsync.consumer import GiveUp


def credit_memo_poller_ports(settings: Settings) -> CreditmemoPollerPorts:
    return poller_ports(CreditmemoPollerPorts, settings, settings.return_queue_url)


def return_sync_ports(settings: Settings, deadline: Deadline | None = None) -> ReturnPorts:
    acumatica, magento = api_clients(settings, deadline)
    return ReturnPorts(magento=magento, acumatica=acumatica,
                       settings=SettingsStore(settings.settings_table), binder=Binder(settings.bindings_table),
                       log=log_writer(settings), lease_s=settings.create_lease_s,
                       doubt_hold_s=settings.create_lease_s)  # a create in doubt: held one lease, as the others


def give_up_returns(settings: Settings) -> GiveUp:
    """The last receive of a return request before ReturnDLQ: a Failure row naming the credit memo to replay."""
    from amsync.consumer import GiveUp

    write = log_writer(settings)

    def record(body: str, what: str) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        notes = str((data.get("hint") or {}).get("increment_id") or data.get("key") or "")
        write([LogEntry(side=Side.MAGENTO, group=Group.RETURN, result=Result.FAILURE, notes=notes,
                        entity_key=str(data.get("correlation_id") or notes), direction=DIRECTION_M2A,
                        correlation_id=str(data.get("correlation_id") or ""), complete_time=datetime.now(UTC),
                        message=f"{what}; once the cause is fixed: amsync dlq replay ReturnDLQ")])
    return GiveUp(max_receives=settings.max_receive_count, dlq="ReturnDLQ", record=record)
