"""`amsync timeline`: one order's story: its connector log rows (and those of its payments, shipments, invoices and
credit memos) in time order with the latency of each hop, beside the order as Acumatica and Magento hold it now,
and where it is stuck (the last step reached and why the next has not happened)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amsync.adapters.errors import ApiError, NotFound
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog
from amsync.data.settings_store import SettingsStore
from amsync.models.acumatica import SalesOrder, to_decimal
from amsync.models.log import LogEntry, Result, Side, log_id_time
from amsync.services.order_audit import SHIPPED, MagDocument, expected_state
from amsync.services.order_identity import BARE_ORDER_TYPE, ext_order_id
from amsync.services.order_mapper import ZERO, money
from amsync.services.order_updates import status_mapping
from amsync.services.stores import store_view_of
from amsync_cli.context import StackContext

RELEASED = ("Open", "Closed")


def order_key(order: str) -> str:
    """"SOT00024" -> "SO/SOT00024"; "ST/SOT00024" stays (a Magento ext_order_id reads the same way)."""
    order_type, sep, nbr = order.strip().partition("/")
    if not sep:
        return f"{BARE_ORDER_TYPE}/{order_type.upper()}"
    if not order_type or not nbr:
        raise ValueError(f"{order!r}: give an order as SOT00024 or TYPE/SOT00024")
    return f"{order_type.upper()}/{nbr.upper()}"


# ---------------------------------------------------------------------------------------------- the log rows
@dataclass(frozen=True)
class Step:
    """One connector log row of the order, with the time since the row before it (a hop of the chain)."""

    log_id: str
    at: datetime  # when the row was written (its Log Id's time)
    log: str  # "Acumatica" (a raw push received) or "Magento" (a sync action)
    label: str  # what it means in the order's story: push received, queued, skipped, created in Magento...
    group: str
    action: str
    result: str
    entity_id: str
    notes: str
    message: str
    hop_ms: float | None  # since the previous step
    latency_ms: float | None = None  # push received -> done in Magento, when the row carries it

    def to_json(self) -> dict[str, Any]:
        return {"log_id": self.log_id, "at": self.at.isoformat(), "log": self.log, "label": self.label,
                "group": self.group, "action": self.action, "result": self.result, "entity_id": self.entity_id,
                "notes": self.notes, "message": self.message, "hop_ms": self.hop_ms, "latency_ms": self.latency_ms}


_LABELS = {("Order", "Skip"): "skipped", ("Order", "Create"): "created in Magento",
           ("Order", "Update"): "order change", ("Orderstatus", "Update"): "status followed",
           ("Shipment", "Create"): "shipment created", ("Invoice", "Create"): "invoice created",
           ("Shipment", "Skip"): "shipment skipped", ("Invoice", "Skip"): "invoice skipped"}
_FAILED = {"created in Magento": "create failed", "status followed": "status not followed",
           "shipment created": "shipment failed", "invoice created": "invoice failed", "order change": "order change"}


def _label(e: LogEntry) -> str:
    if e.side is Side.ACUMATICA:
        return f"push received ({e.action_type})" if e.action_type else "push received"
    group, action = e.group.value if e.group else "", e.action.value if e.action else ""
    if action == "Publisher":
        via = ((e.details.get("request") or {}).get("hint") or {}).get("via") if isinstance(e.details, dict) else None
        return f"{'payment' if via == 'payment' else group.lower()} queued"
    label = _LABELS.get((group, action)) or f"{group} {action}".strip().lower() or "row"
    if e.result == Result.FAILURE:
        return _FAILED.get(label, f"{label} failed")
    if e.result == Result.SKIPPED and label != "skipped":
        return f"{label} (skipped)"
    return label


def _other_type(e: LogEntry, key: str) -> bool:
    """A row about another order type's order with the same number (SO/SOT00024 vs ST/SOT00024): by the order key
    the row's correlation id carries, or (a raw push row, keyed by the number alone) by the push rows' OrderType."""
    order_type, _, nbr = key.partition("/")
    corr_type, sep, corr_nbr = e.correlation_id.partition("/")
    if sep:
        return corr_nbr == nbr and corr_type != order_type
    push = e.details.get("push") if isinstance(e.details, dict) else None
    if push is None:  # a post short enough to be whole in the message keeps no copy in the details
        try:
            push = json.loads(e.message)
        except ValueError:
            push = None
        push = push if isinstance(push, dict) else None
    rows = [r for part in ("Inserted", "Deleted") for r in ((push or {}).get(part) or []) if isinstance(r, dict)]
    types = {str(r.get("OrderType") or BARE_ORDER_TYPE).strip() for r in rows
             if str(r.get("OrderNbr") or r.get("OrderID") or "").strip() == nbr}
    return bool(types) and order_type not in types


def steps_of(entries: list[LogEntry], key: str) -> list[Step]:
    """The order's rows, oldest first, each with the hop since the one before."""
    rows = sorted({e.log_id: e for e in entries if not _other_type(e, key)}.values(), key=lambda e: e.log_id)
    out: list[Step] = []
    for e in rows:
        at = log_id_time(e.log_id)
        hop = (at - out[-1].at).total_seconds() * 1000 if out else None
        out.append(Step(e.log_id, at, "Acumatica" if e.side is Side.ACUMATICA else "Magento", _label(e),
                        e.group.value if e.group else "", e.action.value if e.action else e.action_type,
                        e.result.value if e.result else e.level, e.entity_id or "", e.notes, e.message,
                        round(hop, 1) if hop is not None else None, e.latency_ms))
    return out


# ---------------------------------------------------------------------------------------------- live state
@dataclass
class AcumaticaNow:
    found: bool = False
    status: str | None = None
    hold: bool = False
    order_total: str | None = None
    unpaid_balance: str | None = None
    external_ref: str | None = None
    shipments: list[dict[str, Any]] = field(default_factory=list)  # nbr, status, qty, tracking, invoice
    invoices: list[dict[str, Any]] = field(default_factory=list)  # type, nbr, status, amount
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"found": self.found, "status": self.status, "hold": self.hold, "order_total": self.order_total,
                "unpaid_balance": self.unpaid_balance, "external_ref": self.external_ref,
                "shipments": self.shipments, "invoices": self.invoices, "error": self.error}


@dataclass
class MagentoNow:
    found: bool = False
    found_by: str | None = None  # binding | ext_order_id
    binding: str | None = None  # the binding's state (bound, creating) or None
    entity_id: int | None = None
    increment_id: str | None = None
    state: str | None = None
    status: str | None = None
    grand_total: str | None = None
    store_id: int | None = None  # its store view picks the order status mapping
    shipments: list[dict[str, Any]] = field(default_factory=list)  # increment_id, qty, tracking, acumatica
    invoices: list[dict[str, Any]] = field(default_factory=list)  # increment_id, grand_total, acumatica
    others: list[str] = field(default_factory=list)  # other Magento orders with the same ext_order_id
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"found": self.found, "found_by": self.found_by, "binding": self.binding,
                "entity_id": self.entity_id, "increment_id": self.increment_id, "state": self.state,
                "status": self.status, "grand_total": self.grand_total, "shipments": self.shipments,
                "invoices": self.invoices, "others": self.others, "error": self.error}


def _v(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    return value.get("value") if isinstance(value, dict) else value


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def acumatica_now(acumatica: Any, key: str) -> tuple[AcumaticaNow, SalesOrder | None]:
    """The order with its shipments (tracking numbers) and their invoices, as Acumatica holds them now."""
    order_type, _, nbr = key.partition("/")
    now = AcumaticaNow()
    try:
        record = acumatica.get("SalesOrder", order_type, nbr, expand="Totals,Shipments")
    except ApiError as exc:
        if isinstance(exc, NotFound) or "no entity satisfies" in exc.remote_message.lower():
            return now, None
        now.error = f"{type(exc).__name__}: {exc.remote_message or exc}"
        return now, None
    order = SalesOrder.from_api(record)
    now.found, now.status, now.hold, now.external_ref = True, order.status, order.hold, order.external_ref
    now.order_total = str(money(order.order_total)) if order.order_total is not None else None
    now.unpaid_balance = str(money(order.unpaid_balance)) if order.unpaid_balance is not None else None
    invoices: dict[str, dict[str, Any]] = {}
    for s in record.get("Shipments") or []:
        shp_nbr = str(_text(_v(s, "ShipmentNbr")))
        shp = acumatica.get("Shipment", shp_nbr, expand="Details,Packages")
        qty = sum((to_decimal(_v(d, "ShippedQty")) or ZERO for d in shp.get("Details") or []
                   if _text(_v(d, "OrderNbr")) == nbr and (_text(_v(d, "OrderType")) or "SO") == order_type), ZERO)
        now.shipments.append({"nbr": shp_nbr, "status": _text(_v(shp, "Status")), "qty": format(qty.normalize(), "f"),
                              "tracking": [t for p in shp.get("Packages") or [] if (t := _text(_v(p, "TrackingNbr")))],
                              "invoice": f"{_text(_v(s, 'InvoiceType'))}/{_text(_v(s, 'InvoiceNbr'))}"
                              if _v(s, "InvoiceNbr") else None})
        inv_type, inv_nbr = _text(_v(s, "InvoiceType")), _text(_v(s, "InvoiceNbr"))
        if inv_nbr and f"{inv_type}/{inv_nbr}" not in invoices:
            inv = acumatica.get("SalesInvoice", inv_type or "Invoice", inv_nbr)
            invoices[f"{inv_type}/{inv_nbr}"] = {"type": inv_type, "nbr": inv_nbr, "status": _text(_v(inv, "Status")),
                                                 "amount": str(money(to_decimal(_v(inv, "Amount")) or ZERO))}
    now.invoices = list(invoices.values())
    return now, order


def magento_now(magento: Any, binder: Binder, key: str) -> MagentoNow:
    """The bound Magento order (else the one carrying the ext_order_id) with its shipments and invoices."""
    order_type, _, nbr = key.partition("/")
    now = MagentoNow()
    binding = binder.get("order", key)
    now.binding = binding.state if binding is not None else None
    try:
        same = magento.orders_by_ext_id(ext_order_id(order_type, nbr))
        bound_id = binding.magento_entity_id if binding is not None and binding.state == "bound" else None
        order = next((o for o in same if int(o["entity_id"]) == bound_id), None)
        if order is None and bound_id is not None:
            order = magento.order(bound_id)
        now.found_by = "binding" if order is not None else None
        if order is None:
            live = sorted((o for o in same if o.get("state") != "canceled"), key=lambda o: int(o["entity_id"]))
            order = live[0] if live else (same[0] if same else None)
            now.found_by = "ext_order_id" if order is not None else None
    except ApiError as exc:
        now.error = f"{type(exc).__name__}: {exc.remote_message or exc}"
        return now
    if order is None:
        return now
    oid = int(order["entity_id"])
    now.found, now.entity_id, now.increment_id = True, oid, str(order.get("increment_id"))
    now.state, now.status = order.get("state"), order.get("status")
    now.store_id = None if order.get("store_id") is None else int(order["store_id"])
    now.grand_total = str(money(to_decimal(order.get("grand_total")) or ZERO))
    now.others = [f"#{o.get('increment_id')} (entity {o['entity_id']}, {o.get('state')})" for o in same
                  if int(o["entity_id"]) != oid]
    for kind, docs, out in (("shipment", magento.shipments_of(oid), now.shipments),
                            ("invoice", magento.invoices_of(oid), now.invoices)):
        for raw in docs:
            d = MagDocument.from_api(raw, kind)
            out.append({"increment_id": d.increment_id, "qty": format(d.qty.normalize(), "f"),
                        "grand_total": str(money(d.amount)), "tracking": list(d.tracking), "acumatica": d.marker})
    return now


# ---------------------------------------------------------------------------------------------- the verdict
def _short(message: str) -> str:
    text = message.lower()
    for needle, word in (("unpaid balance", "unpaid"), ("order type", "order type"), ("status", "status"),
                         ("switched off", "conditions off")):
        if needle in text:
            return word
    return "not eligible"


def _last(steps: list[Step], test: Callable[[Step], bool]) -> Step | None:
    return next((s for s in reversed(steps) if test(s)), None)


def _before_magento(steps: list[Step], mag: MagentoNow, key: str) -> tuple[str, str]:
    nbr = key.partition("/")[2]
    last = _last(steps, lambda s: s.log == "Magento" and s.group in ("Order", ""))
    if mag.binding == "creating":
        return "creating", "the Magento writer holds the create lease: the create is in flight or its answer is " \
                           "awaited (it is looked up before any retry)"
    if last is None:
        return "received", "a push was received but no sync request was queued for the order"
    if last.result == "Skipped":
        return f"skipped: {_short(last.message)}", last.message
    if last.result == "Failure":
        return "failed", last.message
    if last.action == "Publisher":
        return "queued", (f"queued at {last.at:%H:%M:%S}; order sync has not handled it yet (amsync status: queue "
                          f"depths and DLQs; amsync resync order {nbr})")
    if last.label == "created in Magento":
        return "created, not found", f"the log says Magento order {last.entity_id} was created, but Magento has " \
                                     "no order with this ext_order_id now"
    return last.label, last.message


def _follow_ups(steps: list[Step], acu: AcumaticaNow, mag: MagentoNow) -> tuple[str, str] | None:
    made = {d["acumatica"] for d in mag.shipments} | {d["acumatica"] for d in mag.invoices}
    for s in acu.shipments:
        if s["status"] not in SHIPPED:
            continue
        if s["nbr"] not in made:
            failed = _last(steps, lambda x: x.group == "Shipment" and x.result == "Failure")
            return f"shipment {s['nbr']}", failed.message if failed else \
                "confirmed in Acumatica, not in Magento yet (amsync resync shipment " + s["nbr"] + ")"
    for inv in acu.invoices:
        if inv["status"] in RELEASED and f"{inv['type']}/{inv['nbr']}" not in made:
            failed = _last(steps, lambda x: x.group == "Invoice" and x.result == "Failure")
            return f"invoice {inv['nbr']}", failed.message if failed else \
                f"released in Acumatica, not in Magento yet (amsync resync invoice {inv['type']}/{inv['nbr']})"
    return None


def verdict(steps: list[Step], acu: AcumaticaNow, mag: MagentoNow, key: str, status_mappings: list[Any],
            store_view: str) -> tuple[str, str]:
    """(the step the order is stuck at, why the next one has not happened)."""
    nbr = key.partition("/")[2]
    if acu.error or mag.error:
        return "unknown", "; ".join(e for e in (acu.error, mag.error) if e)
    if not acu.found:
        return ("gone", "the order no longer exists in Acumatica") if steps else \
            ("not found", f"no order {key} in Acumatica and nothing about it in the connector log")
    if not steps:
        return "nothing received", (f"no push and no sync row about {nbr}: check the push notification in "
                                    f"Acumatica, or amsync resync order {nbr}")
    if not mag.found:
        return _before_magento(steps, mag, key)
    pending = _follow_ups(steps, acu, mag)
    if pending is not None:
        return pending
    order = SalesOrder(order_type=key.partition("/")[0], order_nbr=nbr, customer_id="-", status=acu.status,
                       hold=acu.hold)
    expected = expected_state(order, status_mapping(acu.status or "", status_mappings, store_view))
    actual = mag.state if mag.state in ("canceled", "holded") else "open"
    if expected != actual:
        failed = _last(steps, lambda x: x.group == "Orderstatus" and x.result == "Failure")
        return "status", (f"Acumatica {acu.status}{' (Hold)' if acu.hold else ''}, Magento {mag.state}: "
                          + (failed.message if failed else "the status change has not reached Magento yet"))
    if mag.state in ("complete", "closed", "canceled"):
        return mag.state or "", f"Magento order #{mag.increment_id} is {mag.state}: nothing pending"
    return "in step", (f"Magento order #{mag.increment_id} is {mag.state}/{mag.status} and nothing is pending in "
                       "the connector; the next step (a shipment, an invoice) starts in Acumatica")


# ---------------------------------------------------------------------------------------------- the timeline
@dataclass
class Timeline:
    order: str  # SO/SOT00024
    steps: list[Step]
    acumatica: AcumaticaNow
    magento: MagentoNow
    stuck_at: str
    why: str
    push_to_magento_ms: float | None = None  # the create's latency (push received -> Magento order created)

    def to_json(self) -> dict[str, Any]:
        return {"order": self.order, "stuck_at": self.stuck_at, "why": self.why,
                "push_to_magento_ms": self.push_to_magento_ms, "steps": [s.to_json() for s in self.steps],
                "acumatica": self.acumatica.to_json(), "magento": self.magento.to_json()}


def order_timeline(c: StackContext, order: str) -> Timeline:
    """The order's log rows merged in time order with each hop's latency, its live state in both systems, and where
    it is stuck. ``order``: SOT00024, SO/SOT00024 or ST/SOT00024."""
    from amsync.composition import acumatica_client, magento_client

    key = order_key(order)
    nbr = key.partition("/")[2]
    log = ConnectorLog(c.settings.connector_log_table)
    steps = steps_of(log.timeline(nbr, limit=500) + log.timeline(key, limit=100), key)
    store = SettingsStore(c.settings.settings_table)
    acumatica = acumatica_client(c.settings)
    try:
        acu, _ = acumatica_now(acumatica, key)
    finally:
        acumatica.logout()  # give the licence seat back at once
    mag = magento_now(magento_client(c.settings), Binder(c.settings.bindings_table), key)
    prefs = store.order_sync(fresh=True)
    stuck, why = verdict(steps, acu, mag, key, store.mappings("orderstatus", fresh=True),
                         store_view_of(mag.store_id, prefs, store.mappings("store", fresh=True)))
    created = _last(steps, lambda s: s.label == "created in Magento" and s.latency_ms is not None)
    return Timeline(key, steps, acu, mag, stuck, why, created.latency_ms if created else None)
