"""Reconciliation: find what changed in Acumatica since a watermark and hand on what a push did not bring; and
sweep Magento for second orders of one Acumatica order.

Acumatica gives a push up after five failed attempts (and keeps it two days), and a push can be lost on the way.
On a schedule, for each stream (orders, shipments, invoices, payments, stock) the reconciler reads the records
modified after the stream's watermark less the overlap (``ReconcileOverlapSeconds``, 15 minutes by default):
Acumatica stamps a record when the row is written, inside its transaction, and other sessions see it at the
commit, so a long transaction commits records stamped older than a watermark that has already passed them. It
publishes a sync request for each record the connector has not synced yet, and advances the watermark only past
what it read and handed on: the newest change seen, or the read time less two minutes. The advance is a
conditional write, so two overlapping runs cannot move it backwards or skip a window.

Records read again inside the overlap cost no duplicate work: a bound record not changed since is skipped (as any
run skips it), and a record version the reconciler handed on before (a marker per stream, record and stamp in the
binder, written after the hand-on) is not handed on again. Only versions at or below the previous watermark can
have been handed on, so only those are looked up.

The double sweep: with Magento's own numbering, a create Magento commits after the connector's lease hold ended is
a second Magento order that nobody binds. Each run reads the Magento orders carrying an ext_order_id created since
the sweep's own watermark less the overlap, and one whose Acumatica order is bound to another Magento order is
cancelled (or held: the ``double_action`` preference, or when Magento will not cancel it), with an order comment
saying what it is, a Failure row and the ``OrderDoublesFound`` metric. The comment marks it handled. An order whose
Acumatica order is not bound, or still ``creating``, is left alone (a writer may bind it next); while one is
``creating`` the sweep's watermark stays where the next run reads it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from amsync.adapters.errors import FatalError
from amsync.models.acumatica import unwrap
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.magento import MagentoOrderPage, MagentoOrderSummary
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import OrderSyncPreferences
from amsync.services.exporting import Binding
from amsync.services.intake import LOG_GROUP
from amsync.services.log_rows import now, sync_row
from amsync.services.order_identity import order_key_of

# The watermark moves at least to the read time less this, so a quiet stream does not look behind.
SETTLE = timedelta(minutes=2)
SWEEP = "doubles"  # the double sweep's watermark
SWEEP_PAGE = 100
RELEASED_SHIPMENT = {"Confirmed", "Invoiced", "Completed"}
RELEASED_INVOICE = {"Open", "Closed"}
RELEASED_PAYMENT = {"Open", "Closed"}


class ChangeReader(Protocol):
    def changed(self, entity: str, stamp_field: str, since: str, select: str | None,
                expand: str | None) -> Iterable[dict[str, Any]]: ...
    def quantities_changed(self, since: str) -> list[dict[str, Any]]: ...


class ReconcileBinder(Protocol):
    # many bindings a request (a run reads a whole window of records: one request per record would be thousands)
    def get_many(self, kind: str, acumatica_keys: Iterable[str]) -> dict[str, Binding]: ...
    def watermark(self, name: str) -> str | None: ...
    def set_watermark(self, name: str, value: str, previous: str | None) -> bool: ...
    # markers of the record versions the reconciler handed on (items of its own in the bindings table)
    def seen_many(self, query: str, push_ids: Iterable[str]) -> set[str]: ...
    def mark_seen_many(self, query: str, push_ids: Iterable[str]) -> None: ...


class MagentoOrderSweep(Protocol):
    def orders_with_ext_id_since(self, since: str, page_size: int, current_page: int = 1) -> MagentoOrderPage: ...
    def order_action(self, order_id: int, action: str) -> bool: ...
    def comment(self, order_id: int, comment: str, status: str, visible: bool = False) -> bool: ...


@dataclass
class ReconcilerPorts:
    acumatica: ChangeReader
    binder: ReconcileBinder
    publish: Callable[[list[SyncRequest]], None]
    log: Callable[[list[LogEntry]], None]
    warehouses: Callable[[], list[str]]  # Acumatica warehouses mapped to Magento sources
    magento: MagentoOrderSweep
    preferences: Callable[[], OrderSyncPreferences]
    overlap: timedelta = timedelta(seconds=900)  # every run reads again from its watermark less this
    lookback: timedelta = timedelta(days=2)  # first run: as far back as Acumatica keeps failed pushes


@dataclass
class StreamReport:
    read: int = 0
    published: int = 0
    watermark: str | None = None


@dataclass(frozen=True)
class Double:
    """A second Magento order of one Acumatica order, and what the sweep did with it."""

    order_key: str
    entity_id: int
    increment_id: str | None
    bound_entity_id: int | None
    message: str


@dataclass
class ReconcileReport:
    streams: dict[str, StreamReport] = field(default_factory=dict)
    doubles: list[Double] = field(default_factory=list)
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


class _Known:
    """The bindings a run's records name, read a hundred a request (BatchGetItem) before the records are weighed.
    Eventually consistent: a binding written a moment ago may be missed, and its record is then handed on once
    more, which its consumer skips (it is idempotent); the reconciler never binds, so it never needs more."""

    def __init__(self, binder: ReconcileBinder) -> None:
        self.binder = binder
        self.found: dict[tuple[str, str], Binding | None] = {}

    def load(self, wanted: Iterable[tuple[str, str]]) -> None:
        by_kind: dict[str, set[str]] = {}
        for kind, key in wanted:
            if (kind, key) not in self.found:
                by_kind.setdefault(kind, set()).add(key)
        for kind, keys in by_kind.items():
            got = self.binder.get_many(kind, sorted(keys))
            self.found.update({(kind, k): got.get(k) for k in keys})

    def get(self, kind: str, key: str) -> Binding | None:
        if (kind, key) not in self.found:
            self.load([(kind, key)])
        return self.found[(kind, key)]


def _order_key(rec: dict[str, Any]) -> str:
    return f"{_s(rec, 'OrderType')}/{_s(rec, 'OrderNbr')}"


def _order_requests(known: _Known, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    key = _order_key(rec)
    binding = known.get("order", key)
    changed = _parse(unwrap(rec.get("LastModified")))
    if binding is not None and binding.state == "bound":
        seen = _parse(binding.extra.get("x_acumatica_modified")) if binding.extra.get("x_acumatica_modified") else None
        if changed is None or changed <= (seen or datetime.fromtimestamp(binding.updated_at, UTC)):
            return  # bound, and nothing newer than what the connector last saw
    yield SyncRequest(kind=Kind.ORDER, key=key, source="reconciler", correlation_id=key,
                      timestamp=int(changed.timestamp() * 1000) if changed else 0)


def _order_keys(rec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield "order", _order_key(rec)


def _shipment_doc(rec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    if _s(rec, "Status") not in RELEASED_SHIPMENT:
        return None
    return _s(rec, "ShipmentNbr"), rec.get("Orders", []) or []


def _invoice_doc(rec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    if _s(rec, "Status") not in RELEASED_INVOICE:
        return None
    lines = [d for d in rec.get("Details", []) or [] if _s(d, "OrderNbr")]
    return f"{_s(rec, 'Type')}/{_s(rec, 'ReferenceNbr')}", lines


Document = Callable[[dict[str, Any]], tuple[str, list[dict[str, Any]]] | None]  # released: (its key, its lines)


def _document_orders(doc: Document, rec: dict[str, Any]) -> tuple[str, list[str]] | None:
    """A released document's key and the orders its lines touch (None: not released)."""
    found = doc(rec)
    return None if found is None else (found[0], sorted({_order_key(o) for o in found[1]}))


def _document_keys(kind: Kind, doc: Document) -> Callable[[dict[str, Any]], Iterator[tuple[str, str]]]:
    def keys(rec: dict[str, Any]) -> Iterator[tuple[str, str]]:
        found = _document_orders(doc, rec)
        if found is not None:
            yield from ((kind.value, f"{found[0]}#{order_key}") for order_key in found[1])
    return keys


def _document_requests(kind: Kind, doc: Document) -> Callable[[_Known, dict[str, Any]], Iterator[SyncRequest]]:
    """One request per order a released document touches whose Magento twin is not bound yet."""
    def requests(known: _Known, rec: dict[str, Any]) -> Iterator[SyncRequest]:
        found = _document_orders(doc, rec)
        if found is None:
            return
        key, orders = found
        for order_key in orders:
            if known.get(kind.value, f"{key}#{order_key}") is None:
                yield SyncRequest(kind=kind, key=key, order_key=order_key, source="reconciler",
                                  correlation_id=order_key, hint={"Status": _s(rec, "Status")})
    return requests


def _payment_keys(rec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if _s(rec, "Status") in RELEASED_PAYMENT:
        yield from (("order", _order_key(o)) for o in rec.get("OrdersToApply", []) or [])


def _payment_requests(known: _Known, rec: dict[str, Any]) -> Iterator[SyncRequest]:
    if _s(rec, "Status") not in RELEASED_PAYMENT:
        return
    for o in rec.get("OrdersToApply", []) or []:
        key = _order_key(o)
        binding = known.get("order", key)
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
    keys: Callable[[dict[str, Any]], Iterator[tuple[str, str]]]  # the bindings (kind, key) a record's weighing reads
    requests: Callable[[_Known, dict[str, Any]], Iterator[SyncRequest]]


STREAMS = (
    Stream("orders", "SalesOrder", "LastModified", "OrderType,OrderNbr,Status,LastModified", None, _order_keys,
           _order_requests),
    Stream("shipments", "Shipment", "LastModifiedDateTime", None, "Orders",
           _document_keys(Kind.SHIPMENT, _shipment_doc), _document_requests(Kind.SHIPMENT, _shipment_doc)),
    Stream("invoices", "SalesInvoice", "LastModifiedDateTime", None, "Details",
           _document_keys(Kind.INVOICE, _invoice_doc), _document_requests(Kind.INVOICE, _invoice_doc)),
    Stream("payments", "Payment", "LastModifiedDateTime", None, "OrdersToApply", _payment_keys, _payment_requests),
)


def _run_stream(ports: ReconcilerPorts, stream: Stream, clock: datetime) -> StreamReport:
    previous = ports.binder.watermark(stream.name)
    since = _parse(previous) or clock - ports.lookback
    records = list(ports.acumatica.changed(stream.entity, stream.stamp, _iso(since - ports.overlap), stream.select,
                                           stream.expand))
    found: list[tuple[SyncRequest, datetime | None]] = []
    newest = since
    known = _Known(ports.binder)
    known.load(k for rec in records for k in stream.keys(rec))
    for rec in records:
        stamp = _parse(unwrap(rec.get(stream.stamp)))
        found += [(req, stamp) for req in stream.requests(known, rec)]
        newest = max(newest, stamp) if stamp else newest
    published = _hand_on_new(ports, stream.name, _parse(previous), found)
    watermark = _iso(max(newest, clock - SETTLE))
    ports.binder.set_watermark(stream.name, watermark, previous)
    return StreamReport(len(records), published, watermark)


def _run_stock(ports: ReconcilerPorts, clock: datetime) -> StreamReport:
    previous = ports.binder.watermark("stock")
    since = _parse(previous) or clock - ports.lookback
    rows = ports.acumatica.quantities_changed(_iso(since - ports.overlap))
    warehouses = ports.warehouses()
    found = [(SyncRequest(kind=Kind.STOCK, key=f"{_s(r, 'InventoryID')}/{wh}", source="reconciler",
                          correlation_id=f"{_s(r, 'InventoryID')}/{wh}"), _parse(unwrap(r.get("LastModifiedDateTime"))))
             for r in rows for wh in warehouses]
    newest = max([since, clock - SETTLE, *(d for _, d in found if d)])
    published = _hand_on_new(ports, "stock", _parse(previous), found)
    ports.binder.set_watermark("stock", _iso(newest), previous)
    return StreamReport(len(rows), published, _iso(newest))


def _hand_on_new(ports: ReconcilerPorts, stream: str, previous: datetime | None,
                 found: list[tuple[SyncRequest, datetime | None]]) -> int:
    """Hand on each request once per version of its record: a version stamped at or before the previous
    watermark was read by an earlier run, and is handed on again only if no marker says that run handed it on."""
    versions: dict[tuple[str, str, str | None], tuple[SyncRequest, set[str], bool]] = {}
    for req, stamp in found:
        ident = (req.kind.value, req.key, req.order_key)
        _, seen, reread = versions.get(ident, (req, set(), True))
        if stamp is not None:
            seen.add(f"{req.kind.value}|{req.key}|{req.order_key or ''}@{_iso(stamp)}")
        versions[ident] = (req, seen, reread and stamp is not None and previous is not None and stamp <= previous)
    query = f"reconciler-{stream}"
    marked = ports.binder.seen_many(query, sorted({v for _, seen, reread in versions.values() if reread for v in seen}))
    fresh = [(req, seen) for req, seen, reread in versions.values() if not (reread and seen <= marked)]
    _hand_on(ports, [req for req, _ in fresh])
    ports.binder.mark_seen_many(query, sorted({v for _, seen in fresh for v in seen}))
    return len(fresh)


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


# ---------------------------------------------------------------------- the double sweep (Magento)

def _magento_time(value: str) -> datetime | None:
    """Magento's "YYYY-MM-DD HH:MM:SS" (UTC)."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def _magento_orders_since(magento: MagentoOrderSweep, since: datetime,
                          known: _Known) -> Iterator[MagentoOrderSummary]:
    """The Magento orders carrying an ext_order_id created since ``since``, a page at a time; the bindings of a
    page's Acumatica orders are loaded into ``known`` before its orders are yielded."""
    at, page, seen = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), 1, 0
    while True:
        result = magento.orders_with_ext_id_since(at, SWEEP_PAGE, page)
        known.load(("order", k) for o in result.items if (k := order_key_of(o.ext_order_id)) is not None)
        yield from result.items
        seen += len(result.items)
        if not result.items or seen >= result.total_count:
            return
        page += 1


def double_note(order_key: str) -> str:
    """The start of the comment the sweep writes on a double (also how it knows one it has handled)."""
    order_type, _, nbr = order_key.partition("/")
    return f"a second Magento order for Acumatica {order_type} {nbr}"


def _sweep_doubles(ports: ReconcilerPorts, clock: datetime) -> tuple[StreamReport, list[Double]]:
    previous = ports.binder.watermark(SWEEP)
    since = _parse(previous) or clock - ports.lookback
    newest, read, doubles = since, 0, []
    pending: datetime | None = None  # the oldest order left alone while its Acumatica order is being created
    action: str | None = None
    known = _Known(ports.binder)
    for order in _magento_orders_since(ports.magento, since - ports.overlap, known):
        read += 1
        created = _magento_time(order.created_at)
        newest = max(newest, created) if created else newest
        key = order_key_of(order.ext_order_id)
        if key is None or any(c.startswith(f"{double_note(key)}, ") for c in order.comments):
            continue  # not the connector's, or handled already
        binding = known.get("order", key)
        if binding is None or binding.magento_entity_id == order.entity_id:
            continue
        if binding.state != "bound" or binding.magento_entity_id is None:
            pending = min(pending or created or clock, created or clock)
            continue
        action = action or ports.preferences().double_action
        doubles.append(_handle_double(ports, order, key, binding, action))
    mark = max(newest, clock - SETTLE)
    if pending is not None:  # read it again next run: the binding may then name another order
        mark = max(since, min(mark, pending + ports.overlap))
    ports.binder.set_watermark(SWEEP, _iso(mark), previous)
    return StreamReport(read, 0, _iso(mark)), doubles


def _handle_double(ports: ReconcilerPorts, order: MagentoOrderSummary, key: str, binding: Binding,
                   action: str) -> Double:
    started = now()
    bound = f"#{binding.magento_increment_id}" if binding.magento_increment_id else \
        f"entity id {binding.magento_entity_id}"
    message = f"{double_note(key)}, which is Magento order {bound}; {_neutralise(ports.magento, order, action)}"
    ports.magento.comment(order.entity_id, message, "")  # no status: the order keeps the one it has
    nbr = key.partition("/")[2]
    ports.log([sync_row(Group.ORDER, Action.CREATE, Result.FAILURE, notes=nbr, started=started,
                        entity_id=order.entity_id, message=message, correlation_id=key,
                        details={"double": order.model_dump(mode="json"),
                                 "bound": {"entity_id": binding.magento_entity_id,
                                           "increment_id": binding.magento_increment_id}})])
    return Double(key, order.entity_id, order.increment_id, binding.magento_entity_id, message)


def _neutralise(magento: MagentoOrderSweep, order: MagentoOrderSummary, action: str) -> str:
    """Cancel the double (or hold it), and say what was done."""
    if order.state == "canceled":
        return "already cancelled"
    if order.state == "holded":
        return "already on hold"
    refused = ""
    if action == "cancel":
        try:
            if magento.order_action(order.entity_id, "cancel"):
                return "cancelled by amsync"
            refused = " (Magento would not cancel it)"
        except FatalError as exc:
            refused = f" (Magento would not cancel it: {exc.remote_message})"
    try:
        magento.order_action(order.entity_id, "hold")
    except FatalError as exc:
        return f"neither cancelled nor held: Magento refused ({exc.remote_message}); handle it by hand"
    return f"held by amsync{refused}"


def reconcile(ports: ReconcilerPorts, clock: datetime | None = None) -> ReconcileReport:
    """One reconciliation run over every stream, then the double sweep; returns what was read, handed on and
    found."""
    at = clock or datetime.now(UTC)
    report = ReconcileReport(at=at)
    for stream in STREAMS:
        report.streams[stream.name] = _run_stream(ports, stream, at)
    report.streams["stock"] = _run_stock(ports, at)
    report.streams[SWEEP], report.doubles = _sweep_doubles(ports, at)
    return report
