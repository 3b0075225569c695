"""Operations an ops person runs: resync an Acumatica record, replay a DLQ. Both idempotent."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from amsync.models.acumatica import unwrap
from amsync.models.messages import Kind, SyncRequest, fifo_group

# Each queue's DLQ, and how to read a message's FIFO group / entity from its body.
DLQ_SOURCES = {"OrderDLQ": "OrderQueue", "MagentoOrderDLQ": "MagentoOrderQueue", "FulfilmentDLQ": "FulfilmentQueue",
               "InventoryDLQ": "InventoryQueue", "CustomerDLQ": "CustomerQueue", "ReturnDLQ": "ReturnQueue"}


def message_group(body: str) -> str:
    """The FIFO group a replayed message belongs to (the sales order), read from its body."""
    try:
        data = json.loads(body)
    except ValueError:
        return "replay"
    return fifo_group(str(data.get("order_key") or data.get("key") or "replay"))


def message_entities(body: str) -> set[str]:
    """Every key a message is about (order number, shipment, SKU...), for `dlq replay --entity`."""
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    keys = {str(data[k]) for k in ("key", "order_key", "order_nbr", "correlation_id") if data.get(k)}
    return keys | {k.split("/")[-1] for k in keys} | {k.split("/")[0] for k in keys}


def message_notes(body: str) -> str:
    """The entity a DLQ message is about, as the connector log's Notes column names it."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if data.get("order_nbr"):
        return str(data["order_nbr"])
    if data.get("kind") == Kind.STOCK.value:
        return str(data.get("key", "")).split("/")[0]
    if data.get("kind") == Kind.RETURN.value:  # a return's rows are keyed by its credit memo
        return str(data.get("correlation_id") or f"creditmemo/{data.get('key', '')}")
    return str(data.get("order_key") or data.get("key") or "").split("/")[-1]


class AcumaticaLookups(Protocol):
    def get(self, entity: str, *keys: str, expand: str | None = None, select: str | None = None) -> dict[str, Any]: ...


def resync_requests(kind: Kind, key: str, acumatica: AcumaticaLookups | None = None) -> list[SyncRequest]:
    """Sync requests that make the pipeline look at one Acumatica record again.

    ``key``: order "SO/SOT00024" (or "SOT00024"), shipment "005139", invoice "Invoice/AR012116" (or "AR012116"),
    stock "WATER2809/RETAIL". Shipments and invoices are read to find their orders.
    """
    stamp = time.time_ns()
    if kind is Kind.ORDER:
        key = key if "/" in key else f"SO/{key}"
        return [SyncRequest(kind=kind, key=key, source="resync", correlation_id=key, timestamp=stamp)]
    if kind is Kind.STOCK:
        return [SyncRequest(kind=kind, key=key, source="resync", correlation_id=key, timestamp=stamp)]
    if acumatica is None:
        raise ValueError(f"resync of a {kind} needs Acumatica to find its orders")
    if kind is Kind.SHIPMENT:
        rec = acumatica.get("Shipment", key, expand="Orders")
        orders = {f"{unwrap(o.get('OrderType'))}/{unwrap(o.get('OrderNbr'))}" for o in rec.get("Orders", [])}
    elif kind is Kind.INVOICE:
        key = key if "/" in key else f"Invoice/{key}"
        rec = acumatica.get("SalesInvoice", *key.split("/"), expand="Details")
        orders = {f"{unwrap(d.get('OrderType'))}/{unwrap(d.get('OrderNbr'))}" for d in rec.get("Details", [])
                  if unwrap(d.get("OrderNbr"))}
    else:
        raise ValueError(f"cannot resync a {kind}")
    return [SyncRequest(kind=kind, key=key, order_key=o, source="resync", correlation_id=o, timestamp=stamp,
                        hint={"Status": unwrap(rec.get("Status"))}) for o in sorted(orders)]


def resync(kind: Kind, key: str, publish: Callable[[list[SyncRequest]], None],
           acumatica: AcumaticaLookups | None = None) -> list[SyncRequest]:
    requests = resync_requests(kind, key, acumatica)
    publish(requests)
    return requests
