"""Connector log entries: the two grids of the walkthrough (Acumatica side and Magento side)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DIRECTION_A2M = "Acumatica to Magento"
DIRECTION_M2A = "Magento to Acumatica"


class Side(StrEnum):
    ACUMATICA = "A"  # raw pushes received (Level, Action Type, Message, View)
    MAGENTO = "M"  # sync actions (Log Id, Start/Complete Time, Group, Action, Direction, Result, Entity Id, Notes)


class Group(StrEnum):
    ORDER = "Order"
    ORDERSTATUS = "Orderstatus"
    SHIPMENT = "Shipment"
    INVOICE = "Invoice"
    INVENTORY = "Inventory"
    CUSTOMER = "Customer"
    PAYMENT = "Payment"
    RETURN = "Return"  # Magento credit memos carried to Acumatica return orders (docs/returns.md)


class Action(StrEnum):
    PUBLISHER = "Publisher"
    CREATE = "Create"
    UPDATE = "Update"
    SKIP = "Skip"


class Result(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    SKIPPED = "Skipped"
    RETRY = "Retry"


def new_log_id() -> str:
    """Sortable, unique: microseconds since the epoch and three random digits (19 digits)."""
    return f"{time.time_ns() // 1000:016d}{random.randrange(1000):03d}"  # noqa: S311 - not a secret


def log_id_time(log_id: str) -> datetime:
    return datetime.fromtimestamp(int(log_id[:16]) / 1_000_000, tz=UTC)


class LogEntry(BaseModel):
    side: Side
    log_id: str = Field(default_factory=new_log_id)
    start_time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    complete_time: datetime | None = None
    # Magento side
    group: Group | None = None
    action: Action | None = None
    direction: str = DIRECTION_A2M
    result: Result | None = None
    entity_id: str | None = None  # Magento's entity id (or Acumatica CustomerID for M->A)
    notes: str = ""  # the Acumatica order number / Magento increment id / SKU, as in the walkthrough
    message: str = ""  # what happened, in words an ops person can act on
    # Acumatica side
    level: str = "INFO"
    action_type: str = ""  # "Order Sync", "Shipment Sync", ...
    # both
    entity_key: str = ""  # the entity's timeline key (Acumatica order number, SKU, ...)
    correlation_id: str = ""
    latency_ms: float | None = None  # push received -> done in the target system (sync actions)
    details: dict[str, Any] = Field(default_factory=dict)  # request/response for "View", secrets removed


class LogView(BaseModel):
    """One entry as `amsync logs show` reads it: its View details while they are kept, then the row's masked
    summary (``details_expired_after_days`` says so)."""

    model_config = ConfigDict(defer_build=True)  # the CLI's: no function reads the log back (cold start)

    entry: LogEntry
    details_expired_after_days: int | None = None
