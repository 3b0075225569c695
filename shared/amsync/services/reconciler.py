"""Reconciliation: find what changed in Acumatica since a watermark and hand on what a push did not bring.

Acumatica gives a push up after five failed attempts (and keeps it two days), and a push can be lost on the way.
On a schedule, for each stream (orders, shipments, invoices, payments, stock) the reconciler reads the records
modified after the stream's watermark (minus a small overlap, since clocks and commit order are not exact),
publishes a sync request for each one the connector has not synced yet, and advances the watermark only past
what it read and handed on: the newest change seen, or the read time less two minutes for late commits. The
advance is a conditional write, so two overlapping runs cannot move it backwards or skip a window.
Every consumer is idempotent, so a record handed on twice costs a re-read, never a double.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from amsync.models.acumatica import unwrap
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.services.intake import LOG_GROUP
from amsync.services.log_rows import now, sync_row

OVERLAP = timedelta(seconds=5)
# Everything modified up to the read time was read; commits that land late carry a time at most this old.
SETTLE = timedelta(minutes=2)
RELEASED_SHIPMENT = {"Confirmed", "Invoiced", "Completed"}
RELEASED_INVOICE = {"Open", "Closed"}
RELEASED_PAYMENT = {"Open", "Closed"}


class ChangeReader(Protocol):
    def changed(self, entity: str, stamp_field: str, since: str, select: str | None,
                expand: str | None) -> Iterable[dict[str, Any]]: ...
    def quantities_changed(self, since: str) -> list[dict[str, Any]]: ...


class ReconcileBinder(Protocol):
    def get(self, kind: str, acumatica_key: str) -> Any: ...
    def watermark(self, name: str) -> str | None: ...
    def set_watermark(self, name: str, value: str, previous: str | None) -> bool: ...


@dataclass
class ReconcilerPorts:
    acumatica: ChangeReader
    binder: ReconcileBinder
    publish: Callable[[list[SyncRequest]], None]
    log: Callable[[list[LogEntry]], None]
    warehouses: Callable[[], list[str]]  # Acumatica warehouses mapped to Magento sources
    lookback: timedelta = timedelta(days=2)  # first run: as far back as Acumatica keeps failed pushes


@dataclass
class StreamReport:
    read: int = 0
    published: int = 0
    watermark: str | None = None


@dataclass
class ReconcileReport:
    streams: dict[str, StreamReport] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def lag_seconds(self) -> float:
        """How far behind the oldest stream's watermark is (the ReconcilerBehind alarm reads it)."""
        marks = [_parse(s.watermark) for s in self.streams.values()]
        oldest = min((m for m in marks if m), default=None)
        return max(0.0, (self.at - oldest).total_seconds()) if oldest else 0.0

    @property
    def published(self) -> int:
        return sum(s.published for s in self.streams.values())


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _s(record: dict[str, Any], name: str) -> str:
    v = unwrap(record.get(name))
    return "" if v is None else str(v).strip()


def _order_requests(ports: ReconcilerPorts, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    key = f"{_s(rec, 'OrderType')}/{_s(rec, 'OrderNbr')}"
    binding = ports.binder.get("order", key)
    changed = _parse(unwrap(rec.get("LastModified")))
    if binding is not None and binding.state == "bound":
        known = _parse(binding.extra.get("x_acumatica_modified")) if binding.extra.get("x_acumatica_modified") else None
        if changed is None or changed <= (known or datetime.fromtimestamp(binding.updated_at, UTC)):
            return  # bound, and nothing newer than what the connector last saw
    yield SyncRequest(kind=Kind.ORDER, key=key, source="reconciler", correlation_id=key,
                      timestamp=int(changed.timestamp() * 1000) if changed else 0)


def _document_requests(ports: ReconcilerPorts, rec: dict[str, Any], kind: Kind, key: str,
                       lines: list[dict[str, Any]]) -> Iterator[SyncRequest]:
    """One request per order a released document touches whose Magento twin is not bound yet."""
    orders = {f"{_s(o, 'OrderType')}/{_s(o, 'OrderNbr')}" for o in lines}
    for order_key in sorted(orders):
        if ports.binder.get(kind.value, f"{key}#{order_key}") is None:
            yield SyncRequest(kind=kind, key=key, order_key=order_key, source="reconciler",
                              correlation_id=order_key, hint={"Status": _s(rec, "Status")})


def _shipment_requests(ports: ReconcilerPorts, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    if _s(rec, "Status") in RELEASED_SHIPMENT:
        yield from _document_requests(ports, rec, Kind.SHIPMENT, _s(rec, "ShipmentNbr"), rec.get("Orders", []) or [])


def _invoice_requests(ports: ReconcilerPorts, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    if _s(rec, "Status") in RELEASED_INVOICE:
        yield from _document_requests(ports, rec, Kind.INVOICE, f"{_s(rec, 'Type')}/{_s(rec, 'ReferenceNbr')}",
                                      [d for d in rec.get("Details", []) or [] if _s(d, "OrderNbr")])


def _payment_requests(ports: ReconcilerPorts, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    if _s(rec, "Status") not in RELEASED_PAYMENT:
        return
    for o in rec.get("OrdersToApply", []) or []:
        key = f"{_s(o, 'OrderType')}/{_s(o, 'OrderNbr')}"
        binding = ports.binder.get("order", key)
        if binding is None or binding.state != "bound":
            yield SyncRequest(kind=Kind.ORDER, key=key, source="reconciler", correlation_id=key,
                              hint={"via": "payment"})


@dataclass(frozen=True)
class Stream:
    name: str
    entity: str
    stamp: str
    select: str | None
    expand: str | None
    requests: Callable[[ReconcilerPorts, dict[str, Any]], Iterator[SyncRequest]]


STREAMS = (
    Stream("orders", "SalesOrder", "LastModified", "OrderType,OrderNbr,Status,LastModified", None, _order_requests),
    Stream("shipments", "Shipment", "LastModifiedDateTime", None, "Orders", _shipment_requests),
    Stream("invoices", "SalesInvoice", "LastModifiedDateTime", None, "Details", _invoice_requests),
    Stream("payments", "Payment", "LastModifiedDateTime", None, "OrdersToApply", _payment_requests),
)


def _run_stream(ports: ReconcilerPorts, stream: Stream, clock: datetime) -> StreamReport:
    previous = ports.binder.watermark(stream.name)
    since = _parse(previous) or clock - ports.lookback
    records = list(ports.acumatica.changed(stream.entity, stream.stamp, _iso(since - OVERLAP), stream.select,
                                           stream.expand))
    requests: dict[tuple[str, str, str | None], SyncRequest] = {}
    newest = since
    for rec in records:
        for req in stream.requests(ports, rec):
            requests[(req.kind, req.key, req.order_key)] = req
        stamp = _parse(unwrap(rec.get(stream.stamp)))
        newest = max(newest, stamp) if stamp else newest
    _hand_on(ports, list(requests.values()))
    watermark = _iso(max(newest, clock - SETTLE))
    ports.binder.set_watermark(stream.name, watermark, previous)
    return StreamReport(len(records), len(requests), watermark)


def _run_stock(ports: ReconcilerPorts, clock: datetime) -> StreamReport:
    previous = ports.binder.watermark("stock")
    since = _parse(previous) or clock - ports.lookback
    rows = ports.acumatica.quantities_changed(_iso(since - OVERLAP))
    warehouses = ports.warehouses()
    requests = [SyncRequest(kind=Kind.STOCK, key=f"{_s(r, 'InventoryID')}/{wh}", source="reconciler",
                            correlation_id=f"{_s(r, 'InventoryID')}/{wh}")
                for r in rows for wh in warehouses]
    newest = max([since, clock - SETTLE, *(d for r in rows if (d := _parse(unwrap(r.get("LastModifiedDateTime")))))])
    _hand_on(ports, requests)
    ports.binder.set_watermark("stock", _iso(newest), previous)
    return StreamReport(len(rows), len(requests), _iso(newest))


def _hand_on(ports: ReconcilerPorts, requests: list[SyncRequest]) -> None:
    if not requests:
        return
    ports.publish(requests)  # raises before the watermark moves if SQS refuses
    started = now()
    ports.log([sync_row(LOG_GROUP.get(r.kind, Group.ORDER), Action.PUBLISHER, Result.SUCCESS,
                        notes=r.notes,
                        started=started, message="found by the reconciler (no push brought it)",
                        correlation_id=r.correlation_id, details={"request": r.model_dump(mode="json")})
               for r in requests])


def reconcile(ports: ReconcilerPorts, clock: datetime | None = None) -> ReconcileReport:
    """One reconciliation run over every stream; returns what was read and handed on."""
    at = clock or datetime.now(UTC)
    report = ReconcileReport(at=at)
    for stream in STREAMS:
        report.streams[stream.name] = _run_stream(ports, stream, at)
    report.streams["stock"] = _run_stock(ports, at)
    return report
