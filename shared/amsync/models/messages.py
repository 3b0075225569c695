"""Messages that travel on the queues between the functions (one model per queue)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amsync.jsonio import dumps, loads
from amsync.models.log import LogEntry


def fifo_group(key: str) -> str:
    """A MessageGroupId SQS accepts: alphanumerics and punctuation, at most 128 characters."""
    return "".join(c if 33 <= ord(c) <= 126 else "_" for c in key)[:128] or "_"


class Kind(StrEnum):
    ORDER = "order"
    SHIPMENT = "shipment"
    INVOICE = "invoice"
    PAYMENT = "payment"
    STOCK = "stock"
    CUSTOMER = "customer"  # Magento -> Acumatica: key = the Magento customer id
    RETURN = "return"  # Magento -> Acumatica: key = the Magento credit memo entity id


class SyncRequest(BaseModel):
    """"Look at this Acumatica record again": published by the webhook, the reconciler, resync and replay.

    The push row is only a hint: consumers re-read the record from Acumatica before acting.
    """

    model_config = ConfigDict(frozen=True)

    kind: Kind
    key: str  # Acumatica key, slash-joined: "SO/SOT00024", "005139", "Invoice/AR012116", "WATER2809/RETAIL"
    order_key: str | None = None  # the sales order the record belongs to, when known (shipments, invoices, payments)
    source: Literal["push", "reconciler", "resync", "replay"] = "push"
    push_id: str | None = None
    query: str | None = None
    timestamp: int = 0  # the push TimeStamp (ticks) or the record's last-modified, for ordering
    deleted_only: bool = False  # a Deleted row with no Inserted partner: re-read, never treat as a deletion
    hint: dict[str, Any] = Field(default_factory=dict)
    correlation_id: str  # the Acumatica key the log lines of every function carry
    attempt: int = 0  # how many times a "not ready yet" consumer has put this back
    requested_at: float = 0.0  # epoch seconds the push (or schedule) asked for it: latency metrics
    # the push's intake rows, written by the consumer in its invocation's one log write (the webhook writes nothing
    # to DynamoDB): this record's Publisher row, and on the push's first forwarded record the raw post's row; their
    # log ids are fixed at intake, so a redelivered message rewrites the same rows (services/intake.py)
    intake_log: list[LogEntry] = Field(default_factory=list)

    @property
    def notes(self) -> str:
        """What the connector log's Notes column shows: the order number, or the SKU for stock."""
        if self.kind is Kind.STOCK:
            return self.key.split("/")[0]
        return (self.order_key or self.key).split("/")[-1]

    @property
    def group_id(self) -> str:
        """FIFO message group: everything about one sales order is handled in order (SQS allows no spaces)."""
        return fifo_group(self.order_key or self.key)


class MagentoOrderWrite(BaseModel):
    """Order sync -> Magento writer: a mapped order, ready to create (or update) in Magento."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # two functions of ten use it: built on first use

    order_key: str  # "SO/SOT00024"
    order_nbr: str
    action: Literal["create", "update"]
    payload_json: str = "{}"  # Magento `entity` for PUT /V1/orders/create; JSON text keeps every amount exact
    acumatica_status: str
    acumatica_last_modified: str | None = None
    correlation_id: str
    requested_at: float = 0.0  # epoch seconds the push arrived (latency metrics)
    write_back: bool = True  # put the Magento number on the Acumatica order (preference write_back_field)
    # order sync read the Acumatica order with an empty ExternalRef while write-back is on: no Magento order claims
    # it (not ours, not an earlier connector's), so the writer's first attempt need not look it up (False, the
    # default, and whenever write-back is off: it does)
    unclaimed: bool = False

    @classmethod
    def build(cls, payload: dict[str, Any], **fields: Any) -> MagentoOrderWrite:
        return cls(payload_json=dumps(payload).decode(), **fields)

    @property
    def payload(self) -> dict[str, Any]:
        """The entity with every amount a Decimal again."""
        result: dict[str, Any] = loads(self.payload_json) or {}
        return result
