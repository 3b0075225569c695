"""`amsync audit`: are Acumatica and Magento in step for the orders of a date range? (read-only)

Which orders: every Acumatica order whose order **Date** is in the range (the document date, what an operator
filters the Sales Orders screen by), and every Magento order the connector made (it carries an ext_order_id)
created from the first of those orders' creation (or the range's first day) to the day after the range ends.

Bulk reads only, a few paged list calls per system however many orders (10,000 orders: about 10 Acumatica pages
of 1,000, some 35 windows of 300 Magento entity ids with three searches each, 100 DynamoDB batch reads):
- Acumatica, one session (one licence seat, given back at the end), one call at a time as one session serves
  them: the orders (Details, Totals), then the shipments (Details, Packages) and invoices and credit memos
  (Details) changed since the first order was created, and the customers' classes when the preferences need them;
- DynamoDB: the orders' bindings, 100 a request (BatchGetItem);
- Magento, ``workers`` searches at once: the orders by windows of 300 entity ids (a range of the primary key: a
  page never shifts while orders are created), each window's shipments and invoices by the same order ids.
The comparisons are ``amsync.services.order_audit``'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from amsync.adapters.acumatica import AcumaticaClient, odata_text
from amsync.adapters.errors import ApiError, NotFound
from amsync.adapters.magento import MagentoClient
from amsync.data.bindings import Binder, Binding
from amsync.data.settings_store import SettingsStore
from amsync.models.acumatica import AcuCustomer, SalesOrder
from amsync.models.settings import OrderStatusMapping, OrderSyncPreferences, StoreMapping
from amsync.services.eligibility import evaluate, needs_customer_class
from amsync.services.order_audit import (
    KINDS,
    Difference,
    MagDocument,
    MagOrder,
    OrderFacts,
    compare_order,
    invoices_by_order,
    shipments_by_order,
    target_order,
)
from amsync.services.order_identity import order_key_of
from amsync.services.stores import store_view_of
from amsync_cli.context import StackContext

ACUMATICA_PAGE = 1000
MAGENTO_PAGE = 300  # Magento's largest pageSize with input limits on
WINDOW = MAGENTO_PAGE  # entity ids per Magento window: a window's orders fit one page
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass
class AuditSummary:
    acumatica_orders: int = 0  # in the range
    eligible: int = 0  # of them, by the stored preferences
    bound: int = 0  # of them, bound to a Magento order
    magento_orders: int = 0  # connector-made Magento orders compared (for those orders, and extras)
    outside_range: int = 0  # connector-made Magento orders of the window whose Acumatica order is outside the range
    differences: dict[str, int] = field(default_factory=dict)  # by kind
    orders_with_differences: int = 0
    acumatica_calls: int = 0
    magento_calls: int = 0
    binding_reads: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class AuditReport:
    start: date
    end: date
    differences: list[Difference]
    summary: AuditSummary
    by: str = "Acumatica order Date; Magento orders created from the first order's creation to the day after"
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "by": self.by,
                "differences": [d.to_json() for d in self.differences], "summary": self.summary.to_json(),
                "notes": self.notes}


# ---------------------------------------------------------------------------------------------- Acumatica
def _pages(acumatica: AcumaticaClient, entity: str, *, filter: str | None, expand: str | None = None,
           select: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = acumatica.list_records(entity, filter=filter, expand=expand, select=select, top=ACUMATICA_PAGE,
                                      skip=skip)
        out.extend(page)
        if len(page) < ACUMATICA_PAGE:
            return out
        skip += ACUMATICA_PAGE


def _day(d: date) -> str:
    return f"datetimeoffset'{d.isoformat()}T00:00:00+00:00'"


def _stamp(text: Any) -> datetime | None:
    value = text.get("value") if isinstance(text, dict) else text
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass
class _AcumaticaSide:
    orders: dict[str, SalesOrder]
    created_from: datetime  # the first order's creation (or the range's first day)
    classes: dict[str, str | None] = field(default_factory=dict)
    shipments: dict[str, Any] = field(default_factory=dict)
    invoices: dict[str, Any] = field(default_factory=dict)


def _acumatica_orders(acumatica: AcumaticaClient, start: date, end: date) -> _AcumaticaSide:
    records = _pages(acumatica, "SalesOrder", expand="Details,Totals",
                     filter=f"Date ge {_day(start)} and Date lt {_day(end + timedelta(days=1))}")
    first = datetime.combine(start, datetime.min.time(), UTC)
    created = [s for r in records if (s := _stamp(r.get("CreatedDate") or r.get("LastModified")))]
    orders = {o.key: o for o in (SalesOrder.from_api(r) for r in records)}
    return _AcumaticaSide(orders, min([first, *created]))


def _acumatica_documents(acumatica: AcumaticaClient, side: _AcumaticaSide, classes_needed: bool) -> None:
    """Shipments, invoices (and credit memos) changed since the first order was created; customers' classes."""
    since = f"datetimeoffset'{(side.created_from - timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%S')}+00:00'"
    side.shipments = shipments_by_order(_pages(acumatica, "Shipment", expand="Details,Packages",
                                               filter=f"LastModifiedDateTime ge {since}"))
    side.invoices = invoices_by_order(_pages(acumatica, "SalesInvoice", expand="Details",
                                             filter=f"LastModifiedDateTime ge {since}"))
    if classes_needed:
        ids = sorted({o.customer_id for o in side.orders.values()})
        for i in range(0, len(ids), 40):
            chunk = " or ".join(f"CustomerID eq '{odata_text(c)}'" for c in ids[i:i + 40])
            for rec in _pages(acumatica, "Customer", filter=chunk, select="CustomerID,CustomerClass"):
                customer = AcuCustomer.from_api(rec)
                side.classes[customer.customer_id] = customer.customer_class


def _exists(acumatica: AcumaticaClient, key: str) -> bool:
    order_type, _, nbr = key.partition("/")
    try:
        acumatica.get("SalesOrder", order_type, nbr, select="OrderType,OrderNbr,Date")
    except ApiError as exc:
        if isinstance(exc, NotFound) or "no entity satisfies" in exc.remote_message.lower():
            return False
        raise
    return True


# ---------------------------------------------------------------------------------------------- Magento
@dataclass
class _MagentoSide:
    orders: list[MagOrder] = field(default_factory=list)
    shipments: dict[int, list[MagDocument]] = field(default_factory=dict)  # by order id
    invoices: dict[int, list[MagDocument]] = field(default_factory=dict)


def _edge(magento: MagentoClient, window: tuple[str, str], direction: str) -> int | None:
    """The first (ASC) or last (DESC) connector order created in the time window."""
    res = magento.search("orders", [("created_at", window[0], "gteq"), ("created_at", window[1], "lt"),
                                    ("ext_order_id", "", "notnull")],
                         page_size=1, current_page=1, sort=("entity_id", direction))
    items = res.get("items") or []
    return int(items[0]["entity_id"]) if items else None


def _all(magento: MagentoClient, resource: str, filters: list[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        res = magento.search(resource, filters, page_size=MAGENTO_PAGE, current_page=page)
        batch = res.get("items") or []
        items.extend(batch)
        if not batch or len(items) >= int(res.get("total_count") or 0):
            return items
        page += 1


def _window(magento: MagentoClient, lo: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                     list[dict[str, Any]]]:
    ids: list[tuple[str, Any, str]] = [("entity_id", lo, "gteq"), ("entity_id", lo + WINDOW, "lt")]
    orders = _all(magento, "orders", [*ids, ("ext_order_id", "", "notnull")])
    if not orders:
        return [], [], []
    of_orders: list[tuple[str, Any, str]] = [("order_id", lo, "gteq"), ("order_id", lo + WINDOW, "lt")]
    return orders, _all(magento, "shipments", of_orders), _all(magento, "invoices", of_orders)


def _magento_side(magento: MagentoClient, pool: ThreadPoolExecutor, window: tuple[str, str],
                  bound_ids: Iterable[int]) -> _MagentoSide:
    """Connector orders from the first created in the time window (or bound, if earlier) to the last."""
    edges = [pool.submit(_edge, magento, window, d) for d in ("ASC", "DESC")]
    ids = [i for i in (*(e.result() for e in edges), *bound_ids) if i is not None]
    side = _MagentoSide()
    if not ids:
        return side
    for orders, shipments, invoices in pool.map(lambda lo: _window(magento, lo),
                                                range(min(ids), max(ids) + 1, WINDOW)):
        side.orders.extend(MagOrder.from_api(o) for o in orders if o.get("ext_order_id"))
        for raw in shipments:
            doc = MagDocument.from_api(raw, "shipment")
            side.shipments.setdefault(doc.order_id, []).append(doc)
        for raw in invoices:
            doc = MagDocument.from_api(raw, "invoice")
            side.invoices.setdefault(doc.order_id, []).append(doc)
    return side


# ---------------------------------------------------------------------------------------------- the audit
def _eligible(order: SalesOrder, prefs: OrderSyncPreferences, classes: dict[str, str | None]) -> bool:
    return evaluate(order, prefs, push_flags=None, customer_class=classes.get(order.customer_id)).eligible


def _compare(acu: _AcumaticaSide, mag: _MagentoSide, bindings: dict[str, Binding], prefs: OrderSyncPreferences,
             mappings: list[OrderStatusMapping], summary: AuditSummary,
             stores: Sequence[StoreMapping] = ()) -> list[Difference]:
    by_key: dict[str, list[MagOrder]] = {}
    for o in mag.orders:
        by_key.setdefault(order_key_of(o.ext_order_id) or "", []).append(o)
    out: list[Difference] = []
    for key, order in sorted(acu.orders.items()):
        eligible = _eligible(order, prefs, acu.classes)
        summary.eligible += eligible
        binding = bindings.get(key)
        summary.bound += binding is not None and binding.state == "bound"
        facts = OrderFacts(order, eligible, binding, by_key.get(key, []), acu.shipments.get(key, []),
                           acu.invoices.get(key, []))
        target = target_order(facts)
        if target is not None:
            facts = OrderFacts(order, eligible, binding, facts.magento, facts.shipments, facts.invoices,
                               mag.shipments.get(target.entity_id, []), mag.invoices.get(target.entity_id, []))
        summary.magento_orders += len(facts.magento)
        out.extend(compare_order(facts, mappings, lambda store_id: store_view_of(store_id, prefs, stores)))
    return out


def _extras(acumatica: AcumaticaClient, acu: _AcumaticaSide, mag: _MagentoSide, window: tuple[str, str],
            summary: AuditSummary) -> list[Difference]:
    """Connector orders created in the window whose Acumatica order is not in the range: outside it, or none."""
    out: list[Difference] = []
    others: dict[str, list[MagOrder]] = {}
    for o in mag.orders:
        key = order_key_of(o.ext_order_id) or ""
        if key not in acu.orders and window[0] <= o.created_at < window[1]:
            others.setdefault(key, []).append(o)
    for key, orders in sorted(others.items()):
        if _exists(acumatica, key):
            summary.outside_range += len(orders)
            continue
        summary.magento_orders += len(orders)
        out.extend(Difference(key, "extra", "Magento order without an Acumatica order", "no such order", o.label)
                   for o in orders)
    return out


def audit(c: StackContext, start: date, end: date, *, workers: int = 8) -> AuditReport:
    """Compare the Acumatica orders dated ``start``..``end`` (inclusive) that the preferences make eligible, and
    the Magento orders the connector made, in bulk; read-only (the licence seat aside, given back)."""
    from amsync.composition import acumatica_client, magento_client

    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    started = time.monotonic()
    store = SettingsStore(c.settings.settings_table)
    prefs, mappings = store.order_sync(fresh=True), store.mappings("orderstatus", fresh=True)
    binder = Binder(c.settings.bindings_table)
    acumatica, magento = acumatica_client(c.settings), magento_client(c.settings)
    summary = AuditSummary()
    try:
        acu = _acumatica_orders(acumatica, start, end)
        window = (acu.created_from.strftime(MAGENTO_TIME),
                  datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).strftime(MAGENTO_TIME))
        # no push rows here: B2B / staff come from the customer's class, as on the reconciler's path
        needs_classes = needs_customer_class(prefs, None)
        with ThreadPoolExecutor(max_workers=1) as lane, ThreadPoolExecutor(max_workers=workers) as pool:
            documents: Future[None] = lane.submit(_acumatica_documents, acumatica, acu, needs_classes)
            bindings = binder.get_many("order", acu.orders)
            bound_ids = [b.magento_entity_id for b in bindings.values() if b.magento_entity_id is not None]
            mag = _magento_side(magento, pool, window, bound_ids)
            documents.result()
        differences = _compare(acu, mag, bindings, prefs, mappings, summary, store.mappings("store", fresh=True))
        differences += _extras(acumatica, acu, mag, window, summary)
    finally:
        acumatica.logout()  # give the licence seat back at once
    summary.acumatica_orders = len(acu.orders)
    summary.differences = {k: n for k in KINDS if (n := sum(d.kind == k for d in differences))}
    summary.orders_with_differences = len({d.order for d in differences})
    summary.acumatica_calls, summary.magento_calls = acumatica.calls, magento.calls
    summary.binding_reads = -(-len(acu.orders) // 100)
    summary.seconds = round(time.monotonic() - started, 1)
    notes = []
    if prefs.customer_flags_source == "push_row" and (prefs.sync_if_b2b or prefs.sync_if_staff):
        notes.append("B2B and staff come from push rows (customer_flags_source): the audit has none, so it reads "
                     "them from the customer's class (b2b_classes / staff_classes), as the reconciler does")
    return AuditReport(start, end, differences, summary, notes=notes)
