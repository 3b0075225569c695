"""Returns, Magento -> Acumatica: a Magento credit memo becomes one Acumatica return order (docs/returns.md).

Two steps, as for customers:

- **poll** (``poll_creditmemos``, on a schedule): ``GET /V1/creditmemos`` with ``updated_at >= the watermark``,
  oldest first; the watermark ``"<updated_at>|<ids>"`` keeps the ids handed on at its very second, so overlapping
  polls (or a poll that reads a second twice) publish a credit memo again only if it changed, and the consumer's
  binding makes a second publication harmless anyway. A poll lease keeps two runs apart.
- **export** (``export_return``, one queued request per credit memo): already bound? -> done. Otherwise the
  Magento order must be one the connector created (its order binding), every credit memo line must match a line
  of the Acumatica order (same item, no more than ordered), and the credit memo's amounts must add up to its grand
  total to the cent; then, under the create lease, the return order is looked up by its ``ExternalRef`` (the
  credit memo's number: an earlier attempt may have committed and lost its answer) and created only if absent,
  bound at once, and, per preference, received into stock (``SalesOrderCreateReceipt`` + ``ConfirmShipment``).

The return order carries the tax the credit memo refunds, as given (``refund_taxes``: automatic tax calculation
off, its Taxes tab filled), so its total is the credit memo's to the cent. On Adobe Commerce an RC order left open
for its RMA's goods goes on the RMA watch; the poller re-queues it when the RMA receives units
(``rma_arrivals``) and the export receives it then, once (``_receive_after_rma``).

Refusals are Failure rows naming the problem; nothing is created for them. Adjustment refunds become a line of the
``adjustment_item`` preference (refused while it is unset), adjustment fees a document discount (docs/returns.md).
A credit memo the connector made from an Acumatica credit memo (services/refunds_a2m.py) is never sent back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, RetryableError
from amsync.models.acumatica import AcuTaxCategory
from amsync.models.log import DIRECTION_M2A, Action, Group, LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import ReturnSyncPreferences
from amsync.services.exporting import (
    AlreadyBound,
    Binding,
    CreateBinder,
    LeaseHeld,
    NotReady,
    give_back_lease,
    release_quietly,
)
from amsync.services.log_rows import now, sync_row
from amsync.services.order_mapper import allocate
from amsync.services.watermark_poll import (
    PollBinder,
    changed_since,
    epoch,
    next_watermark,
    parse_watermark,
    poll_lease,
)

WATERMARK = "magento-creditmemos"
LEASE_KIND, LEASE_KEY = "poll", "magento-creditmemos"
BIND_KIND = "return"
ORDER_KIND = "order"
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


def qty(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def return_ref(increment_id: str) -> str:
    """The ExternalRef the return order carries: the Magento credit memo's number."""
    return f"CM{increment_id}"


# ==================================================================================================== poll
class CreditmemoSource(Protocol):
    def creditmemos_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]: ...
    def returns_of_order(self, order_id: int) -> list[dict[str, Any]] | None: ...


class ReturnSettings(Protocol):
    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences: ...


@dataclass
class CreditmemoPollerPorts:
    magento: CreditmemoSource
    settings: ReturnSettings
    binder: PollBinder
    publish: Callable[[list[SyncRequest]], None]
    log: Callable[[list[LogEntry]], None]
    lease_s: float = 150.0


@dataclass
class CreditmemoPollResult:
    outcome: str  # "published" | "nothing" | "busy" | "moved"
    published: list[int] = field(default_factory=list)
    watermark: str | None = None


def changed_creditmemos(magento: CreditmemoSource, since: str, seen: set[int],
                        prefs: ReturnSyncPreferences) -> list[dict[str, Any]]:
    """Credit memos changed since the watermark, oldest first, each once; those handed on at ``since`` skipped."""
    return changed_since(magento.creditmemos_changed_since, since, seen, prefs.poll_page_size,
                         prefs.poll_max_creditmemos, "entity_id")


def poll_creditmemos(ports: CreditmemoPollerPorts) -> CreditmemoPollResult:
    """One scheduled run: publish the credit memos changed since the watermark, then move it past them."""
    with poll_lease(ports.binder, LEASE_KIND, LEASE_KEY, ports.lease_s) as held:
        return _poll_creditmemos(ports) if held else CreditmemoPollResult("busy")


def _poll_creditmemos(ports: CreditmemoPollerPorts) -> CreditmemoPollResult:
    prefs = ports.settings.return_sync(fresh=True)
    previous = ports.binder.watermark(WATERMARK)
    since, seen = parse_watermark(previous, prefs.initial_watermark)
    started = now()
    arrived = rma_arrivals(ports, started)  # RC orders waiting for their RMA's goods: re-queued if they came
    rows = changed_creditmemos(ports.magento, since, seen, prefs)
    if not rows:
        return CreditmemoPollResult("published" if arrived else "nothing", arrived, watermark=previous)
    requested = time.time()
    requests = [SyncRequest(kind=Kind.RETURN, key=str(r["entity_id"]), source="reconciler",
                            timestamp=epoch(str(r.get("updated_at") or "")), requested_at=requested,
                            hint={"increment_id": r.get("increment_id"), "order_id": r.get("order_id")},
                            correlation_id=f"creditmemo/{r['entity_id']}") for r in rows]
    ports.publish(requests)
    ports.log([sync_row(Group.RETURN, Action.PUBLISHER, Result.SUCCESS, notes=str(r.get("increment_id") or ""),
                        started=started, message=f"queued (Magento updated_at {r.get('updated_at')})",
                        entity_key=q.correlation_id, correlation_id=q.correlation_id, direction=DIRECTION_M2A)
               for r, q in zip(rows, requests, strict=True)])
    value = next_watermark(since, seen, rows, "entity_id")
    moved = not ports.binder.set_watermark(WATERMARK, value, previous)
    return CreditmemoPollResult("moved" if moved else "published", arrived + [int(r["entity_id"]) for r in rows],
                                value)


# ==================================================================================================== RMA arrivals
#: the credit memos whose RC order waits for the goods of an Adobe Commerce RMA (docs/returns.md): one item of the
#: bindings table (a watermark, so it changes only from the value read), JSON {credit memo id: [Magento order id,
#: units the order's RMAs had received when last looked at, credit memo number]}
RMA_WATCH = "magento-rma-awaiting"


class WatchBinder(Protocol):
    def watermark(self, name: str) -> str | None: ...
    def set_watermark(self, name: str, value: str, previous: str | None) -> bool: ...


def _watch(value: str | None) -> dict[str, list[Any]]:
    try:
        data = json.loads(value) if value else {}
    except ValueError:  # not written by this code: start the watch afresh rather than block every poll
        data = {}
    return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3} if isinstance(data, dict) else {}


def change_watch(binder: WatchBinder, cm_id: int, entry: list[Any] | None, tries: int = 8) -> None:
    """Add (``entry``) or remove (None) a credit memo on the RMA watch; a concurrent change is read again."""
    for _ in range(tries):
        previous = binder.watermark(RMA_WATCH)
        watch = _watch(previous)
        if entry is None and str(cm_id) not in watch:
            return
        if entry is None:
            watch.pop(str(cm_id))
        else:
            watch[str(cm_id)] = entry
        if binder.set_watermark(RMA_WATCH, json.dumps(watch, sort_keys=True, separators=(",", ":")), previous):
            return
    raise NotReady(f"the RMA watch kept changing under credit memo {cm_id}", 1.0)


def rma_returned(rmas: list[dict[str, Any]] | None) -> Decimal:
    """Units the RMAs of an order have received (``qty_returned`` over their items)."""
    return sum((qty(it.get("qty_returned")) for r in rmas or [] for it in r.get("items") or []), Decimal(0))


def rma_arrivals(ports: CreditmemoPollerPorts, started: Any) -> list[int]:
    """Credit memos on the RMA watch whose order's RMAs have received more units since last looked at: re-queued
    (the return sync receives their RC order when the units now cover what they credit). Magento's RMA has no
    ``updated_at`` to filter on (``rma-data-rma-interface``), so the orders on the watch are read, one
    ``GET /V1/returns`` each; an order whose received units did not grow costs nothing more."""
    previous = ports.binder.watermark(RMA_WATCH)
    watch = _watch(previous)
    received: dict[int, Decimal] = {}
    due: list[int] = []
    for cm_id, (order_id, seen, _) in sorted(watch.items()):
        if int(order_id) not in received:
            received[int(order_id)] = rma_returned(ports.magento.returns_of_order(int(order_id)))
        if received[int(order_id)] > Decimal(str(seen)):
            due.append(int(cm_id))
            watch[cm_id][1] = str(received[int(order_id)])
    if not due or not ports.binder.set_watermark(RMA_WATCH, json.dumps(watch, sort_keys=True, separators=(",", ":")),
                                                 previous):
        return []  # nothing new, or the watch changed meanwhile: the next poll looks again
    requests = [SyncRequest(kind=Kind.RETURN, key=str(c), source="reconciler", requested_at=time.time(),
                            hint={"increment_id": watch[str(c)][2], "order_id": watch[str(c)][0]},
                            correlation_id=f"creditmemo/{c}") for c in due]
    ports.publish(requests)
    ports.log([sync_row(Group.RETURN, Action.PUBLISHER, Result.SUCCESS, notes=str(watch[str(q.key)][2]),
                        started=started, message=f"queued: the RMA of Magento order {watch[str(q.key)][0]} received "
                        f"goods ({watch[str(q.key)][1]} units in all); its open return order is received if they "
                        "cover the credit memo", entity_key=q.correlation_id, correlation_id=q.correlation_id,
                        direction=DIRECTION_M2A) for q in requests])
    return due


# ==================================================================================================== export
class ReturnMagento(Protocol):
    def creditmemo(self, entity_id: int) -> dict[str, Any]: ...
    def returns_of_order(self, order_id: int) -> list[dict[str, Any]] | None: ...


class ReturnAcumatica(Protocol):
    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]: ...
    def order_invoices(self, order_type: str, order_nbr: str) -> list[dict[str, Any]]: ...
    def returns_for(self, order_type: str, customer_order: str) -> list[dict[str, Any]]: ...
    def returns_by_ref(self, order_type: str, external_ref: str) -> list[dict[str, Any]]: ...
    def create_return(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def receive_return(self, order_type: str, order_nbr: str) -> list[str]: ...
    def receive_return_units(self, order_type: str, order_nbr: str, units: Mapping[str, Decimal]) -> list[str]: ...
    def tax_category(self, category_id: str) -> dict[str, Any]: ...


class ReturnBinder(CreateBinder, WatchBinder, Protocol):
    def by_magento_id(self, kind: str, entity_id: int) -> Binding | None: ...
    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None: ...


@dataclass
class ReturnPorts:
    magento: ReturnMagento
    acumatica: ReturnAcumatica
    settings: ReturnSettings
    binder: ReturnBinder
    log: Callable[[list[LogEntry]], None]
    lease_s: float = 60.0
    doubt_hold_s: float = 30.0


class ReturnRefused(Exception):
    """The credit memo cannot become a return document as it is (bad data): a Failure row, nothing created."""


def _v(rec: dict[str, Any], name: str) -> Any:
    node = rec.get(name)
    return node.get("value") if isinstance(node, dict) else node


@dataclass
class InvoiceLine:
    """A line of an Acumatica invoice billing the original order, with what it has left to return."""

    doc_type: str
    ref: str
    line_nbr: int
    sku: str
    left: Decimal


def invoice_lines(order: dict[str, Any], invoices: list[dict[str, Any]],
                  returns: list[dict[str, Any]], external_ref: str) -> list[InvoiceLine]:
    """The invoice lines of ``order`` (in invoice order), each less what the other return orders took back."""
    key = (str(_v(order, "OrderType")), str(_v(order, "OrderNbr")))
    taken: dict[tuple[str, str, int], Decimal] = {}
    for rc in returns:
        if _v(rc, "Status") == "Canceled" or _v(rc, "ExternalRef") == external_ref:
            continue
        for ln in rc.get("Details") or []:
            if _v(ln, "InvoiceNbr") and _v(ln, "InvoiceLineNbr") is not None:
                k = (str(_v(ln, "InvoiceType") or "Invoice"), str(_v(ln, "InvoiceNbr")), int(_v(ln, "InvoiceLineNbr")))
                taken[k] = taken.get(k, Decimal(0)) + qty(_v(ln, "OrderQty"))
    out = []
    for inv in invoices:
        doc_type, ref = str(_v(inv, "Type")), str(_v(inv, "ReferenceNbr"))
        if doc_type != "Invoice":
            continue
        for ln in inv.get("Details") or []:
            if (str(_v(ln, "OrderType")), str(_v(ln, "OrderNbr"))) != key:
                continue
            nbr = int(_v(ln, "LineNbr"))
            out.append(InvoiceLine(doc_type, ref, nbr, str(_v(ln, "InventoryID")),
                                   qty(_v(ln, "Qty")) - taken.get((doc_type, ref, nbr), Decimal(0))))
    return out


def _linked(sku: str, units: Decimal, lines: list[InvoiceLine]) -> list[tuple[Decimal, InvoiceLine | None]]:
    """Split ``units`` of ``sku`` over its invoice lines with something left to return (none invoiced: unlinked);
    more units than left to return: ReturnRefused."""
    mine = [ln for ln in lines if ln.sku == sku]
    if not mine:
        return [(units, None)]
    parts: list[tuple[Decimal, InvoiceLine | None]] = []
    rest = units
    for ln in mine:
        take = min(rest, ln.left)
        if take > 0:
            parts.append((take, ln))
            ln.left -= take
            rest -= take
    if rest > 0:
        raise ReturnRefused(f"line {sku}: {units} returned but only {units - rest} invoiced and not yet returned "
                            "in Acumatica")
    return parts


def _item_lines(item: dict[str, Any], lines: dict[str, dict[str, Any]], order: dict[str, Any],
                prefs: ReturnSyncPreferences, invoiced: list[InvoiceLine]) -> tuple[list[dict[str, Any]], Decimal]:
    """The RC lines of one credit memo line (one per invoice line it returns) and the amount it refunds."""
    units = qty(item.get("qty"))
    if units <= 0:
        return [], Decimal(0)
    sku = str(item.get("sku") or "")
    src = lines.get(sku)
    if src is None:
        raise ReturnRefused(f"line {sku or item.get('order_item_id')} is not on order {_v(order, 'OrderNbr')}")
    if units > qty(_v(src, "OrderQty")):
        raise ReturnRefused(f"line {sku}: {units:f} returned but {qty(_v(src, 'OrderQty')).normalize():f} ordered")
    price = money(item.get("price"))
    row_total = money(item.get("row_total"))
    if money(price * units) != row_total:
        raise ReturnRefused(f"line {sku}: {units:f} x {price} is not its row total {row_total}")
    out = []
    for part, link in _linked(sku, units, invoiced):
        line: dict[str, Any] = {
            "InventoryID": {"value": sku}, "OrderQty": {"value": part}, "UnitPrice": {"value": price},
            "WarehouseID": {"value": prefs.receipt_warehouse or _v(src, "WarehouseID")}}
        if link is not None:
            line.update({"InvoiceType": {"value": link.doc_type}, "InvoiceNbr": {"value": link.ref},
                         "InvoiceLineNbr": {"value": link.line_nbr}})
        out.append(line)
    return out, row_total - money(item.get("discount_amount"))


def _freight_tax_category(order: dict[str, Any]) -> str | None:
    for section in ("ShippingSettings", "Totals"):
        node = order.get(section)
        if isinstance(node, dict) and _v(node, "FreightTaxCategory"):
            return str(_v(node, "FreightTaxCategory"))
    return None


def refund_taxes(cm: dict[str, Any], order: dict[str, Any],
                 categories: Mapping[str, AcuTaxCategory] | None = None) -> list[dict[str, Any]]:
    """The return order's Taxes tab (TaxDetails) carrying exactly the tax the Magento credit memo refunds.

    Magento refunds the tax its order items carry (the order's tax spread over them when the connector created
    the order, services/order_mapper.py) and a share of the shipping tax; Acumatica would compute the return's tax
    afresh on the returned lines, and the two roundings can differ by a cent. So, as Acumatica's own commerce
    connector carries an external system's tax, the return order is created with its automatic tax calculation
    off and these rows: per tax of the original order (TaxID), the taxable amount of the returned lines (and the
    refunded shipping) it covers, and the credit memo's ``tax_amount`` split over the taxes by largest remainder
    (weights: taxable amount x rate), so the rows add up to it to the cent. ``categories`` (tax category id, upper
    case -> its taxes) tell which tax covers which line; None: every tax covers every line, not the freight."""
    tax = money(cm.get("tax_amount"))
    src = {str(_v(ln, "InventoryID")): ln for ln in order.get("Details") or []}

    def covers(category: Any, tax_id: str, freight: bool = False) -> bool:
        if categories is None:
            return not freight
        found = categories.get(str(category or "").upper())
        return found is not None and found.covers(tax_id)

    rows = []
    for detail in order.get("TaxDetails") or []:
        tax_id = str(_v(detail, "TaxID") or "")
        if not tax_id:
            continue
        base = sum((money(it.get("row_total")) - money(it.get("discount_amount")) for it in cm.get("items") or []
                    if qty(it.get("qty")) > 0 and covers(_v(src.get(str(it.get("sku")), {}), "TaxCategory"), tax_id)),
                   Decimal(0))
        if covers(_freight_tax_category(order), tax_id, freight=True):
            base += money(cm.get("shipping_amount"))
        rows.append((tax_id, qty(_v(detail, "TaxRate")), base))
    rows = [r for r in rows if r[2] > 0]
    if tax and not rows:
        raise ReturnRefused(f"the credit memo refunds tax {tax} but no tax of order {_v(order, 'OrderNbr')} covers "
                            "its lines or shipping: check the order's taxes and tax categories in Acumatica")
    parts = allocate(tax, [base * (rate or Decimal(1)) for _, rate, base in rows])
    return [{"TaxID": {"value": tax_id}, "TaxableAmount": {"value": base}, "TaxAmount": {"value": part}}
            for (tax_id, _, base), part in zip(rows, parts, strict=True)]


def map_return(cm: dict[str, Any], order: dict[str, Any], prefs: ReturnSyncPreferences,
               invoiced: list[InvoiceLine] | None = None, magento_order: str | None = None,
               categories: Mapping[str, AcuTaxCategory] | None = None) -> dict[str, Any]:
    """The Acumatica return order (PUT SalesOrder body) for a Magento credit memo; ReturnRefused names what is wrong.

    Each credit memo line must be an item of the original order with no more units than it ordered (and, when the
    order is invoiced, than its invoice lines have left to return: each RC line carries the invoice line it
    returns, so Acumatica links the return to the original order); lines, tax and shipping must add up to the
    credit memo's grand total to the cent. The tax is the credit memo's, not recomputed (``refund_taxes``)."""
    problems: list[str] = []
    lines = {str(_v(ln, "InventoryID")): ln for ln in order.get("Details") or []}
    details: list[dict[str, Any]] = []
    total = Decimal("0")
    for item in cm.get("items") or []:
        try:
            rows, amount = _item_lines(item, lines, order, prefs, invoiced or [])
        except ReturnRefused as exc:
            problems.append(str(exc))
            continue
        details += rows
        total += amount
    tax = money(cm.get("tax_amount"))
    taxes: list[dict[str, Any]] = []
    try:
        taxes = refund_taxes(cm, order, categories)
    except ReturnRefused as exc:
        problems.append(str(exc))
    shipping = money(cm.get("shipping_amount"))
    plus, minus = money(cm.get("adjustment_positive")), money(cm.get("adjustment_negative"))
    if plus and not prefs.adjustment_item:
        problems.append(f"an adjustment refund of {plus} needs the return-sync preference adjustment_item (a "
                        "non-stock item for it): set it, or enter the adjustment in Acumatica by hand")
    elif plus:
        details.append({"InventoryID": {"value": prefs.adjustment_item}, "OrderQty": {"value": Decimal(1)},
                        "UnitPrice": {"value": plus},
                        **({"TaxCategory": {"value": prefs.adjustment_tax_category}}
                           if prefs.adjustment_tax_category else {})})
    if not details and not problems:
        problems.append("no returned line")
    grand = money(cm.get("grand_total"))
    if not problems and total + tax + shipping + plus - minus != grand:
        problems.append(f"amounts do not add up: lines {total} + tax {tax} + shipping {shipping} + adjustment refund "
                        f"{plus} - adjustment fee {minus} != grand total {grand}")
    if problems:
        raise ReturnRefused("; ".join(problems))
    body: dict[str, Any] = {
        "OrderType": {"value": prefs.return_order_type}, "CustomerID": {"value": _v(order, "CustomerID")},
        "ExternalRef": {"value": return_ref(str(cm.get("increment_id")))},
        "CustomerOrder": {"value": magento_order or _v(order, "CustomerOrder") or _v(order, "OrderNbr")},
        "Description": {"value": f"Magento credit memo #{cm.get('increment_id')} for order "
                                 f"{_v(order, 'OrderType')} {_v(order, 'OrderNbr')}"},
        "Details": details,
        # the credit memo's tax, as it refunds it: Acumatica does not recompute it (a cent apart otherwise)
        "DisableAutomaticTaxCalculation": {"value": True}, "TaxDetails": taxes}
    if shipping:
        body["ShippingSettings"] = {"FreightPrice": {"value": shipping}}
    if minus:
        body["DiscountDetails"] = [{"Type": {"value": "Document"}, "DiscountAmount": {"value": minus},
                                    "Description": {"value": f"Magento adjustment fee (credit memo "
                                                             f"#{cm.get('increment_id')})"}}]
    return body


@dataclass(frozen=True)
class RmaReceipt:
    """What Adobe Commerce returns (RMA) say about a credit memo's goods: receive them with the RC now or not."""

    receive: bool
    rmas: tuple[str, ...] = ()  # the order's RMA numbers
    note: str = ""
    returned: Decimal = Decimal(0)  # units the order's RMAs had received (the RMA watch's starting point)
    units: Mapping[str, Decimal] = field(default_factory=dict)  # item -> units to receive now (covered, not yet in)


def received_units(rc: dict[str, Any] | None) -> dict[str, Decimal]:
    """Units a return order has received, per item: all of them once Completed, else OrderQty - OpenQty."""
    out: dict[str, Decimal] = {}
    for ln in (rc or {}).get("Details") or []:
        ordered = qty(_v(ln, "OrderQty"))
        if _v(rc or {}, "Status") == "Completed":
            got = ordered
        else:
            got = ordered - qty(_v(ln, "OpenQty")) if _v(ln, "OpenQty") is not None else Decimal(0)
        sku = str(_v(ln, "InventoryID"))
        out[sku] = out.get(sku, Decimal(0)) + max(got, Decimal(0))
    return out


def _rma_left(rmas: list[dict[str, Any]], returns: Sequence[dict[str, Any]], external_ref: str,
              oid_of: dict[str, int]) -> tuple[dict[int, Decimal], dict[str, Decimal]]:
    """(per order item: units the RMAs received that the other return orders did not take back yet, per item: what
    the return order of ``external_ref`` received already)."""
    returned: dict[int, Decimal] = {}
    for rma in rmas:
        for it in rma.get("items") or []:
            oid = int(it.get("order_item_id") or 0)
            returned[oid] = returned.get(oid, Decimal(0)) + qty(it.get("qty_returned"))
    mine: dict[str, Any] | None = None
    for rc in returns:
        if _v(rc, "ExternalRef") == external_ref:
            mine = rc
        elif _v(rc, "Status") != "Canceled":
            for sku, got in received_units(rc).items():
                if sku in oid_of:
                    returned[oid_of[sku]] = returned.get(oid_of[sku], Decimal(0)) - got
    return returned, received_units(mine)


def rma_receipt(cm: dict[str, Any], rmas: list[dict[str, Any]] | None, returns: Sequence[dict[str, Any]] = (),
                external_ref: str = "") -> RmaReceipt:
    """The rule when the store has Adobe Commerce returns (docs/returns.md): the credit memo drives the RC and its
    amounts (one RC per credit memo, as on Open Source), the order's RMAs drive its receipt. Goods come back
    through the RMA: of the units the credit memo credits, the RC receives those the RMAs have received
    (``qty_returned``) beyond what the order's other return orders (``returns``, but the one of ``external_ref``)
    already received, less what it received itself already (``units``), so no unit is received twice; it is
    done (``receive``) when they cover every credited unit. A refund ahead of the goods (or without them) leaves
    the rest to receive when they arrive (the RMA watch). No RMA route (Open Source) or no RMA for the order: the
    credit memo alone decides, as before (``receive_into_stock``)."""
    if not rmas:
        return RmaReceipt(True)
    oid_of = {str(it.get("sku")): int(it.get("order_item_id") or 0) for it in cm.get("items") or []}
    returned, had = _rma_left(rmas, returns, external_ref, oid_of)
    units: dict[str, Decimal] = {}
    short = []
    for it in cm.get("items") or []:
        credited, sku = qty(it.get("qty")), str(it.get("sku"))
        if credited <= 0:
            continue
        avail = max(returned.get(oid_of[sku], Decimal(0)), Decimal(0))
        now_units = min(credited, avail) - had.get(sku, Decimal(0))
        if now_units > 0:
            units[sku] = units.get(sku, Decimal(0)) + now_units
        if avail < credited:
            short.append(f"{sku}: {credited.normalize()} credited, {avail.normalize()} received and not yet taken "
                         "back")
    names = tuple(f"#{r.get('increment_id')}" for r in rmas)
    if not short:
        return RmaReceipt(True, names, units=units)
    return RmaReceipt(False, names, f"not received: RMA {', '.join(names)} has not received the goods yet ("
                                    f"{'; '.join(short)}); the return order is received when the RMA receives them",
                      units=units)


def _row(action: Action, result: Result, cm_no: str, started: Any, key: str, message: str,
         entity_id: str | None = None, details: dict[str, Any] | None = None) -> LogEntry:
    return sync_row(Group.RETURN, action, result, notes=cm_no, started=started, entity_id=entity_id,
                    message=message, details=details, entity_key=key, correlation_id=key, direction=DIRECTION_M2A)


def export_return(ports: ReturnPorts, request: SyncRequest) -> str:
    """Create (once) the Acumatica return order of one Magento credit memo. Returns the outcome for the metrics."""
    started = now()
    cm_id = int(request.key)
    key = f"creditmemo/{cm_id}"
    bound = ports.binder.get(BIND_KIND, key)
    if bound is not None and bound.state == "bound":
        return _finish_receipt(ports, bound, started)
    cm = ports.magento.creditmemo(cm_id)
    cm_no = str(cm.get("increment_id") or cm_id)
    if _made_by_connector(ports, cm):
        ports.log([_row(Action.SKIP, Result.SKIPPED, cm_no, started, key,
                        f"credit memo #{cm_no} was made by the connector from an Acumatica credit memo; it is not "
                        "sent back to Acumatica")])
        return "ours"
    prefs = ports.settings.return_sync()
    order_binding = ports.binder.by_magento_id(ORDER_KIND, int(cm.get("order_id") or 0))
    if order_binding is None:
        ports.log([_row(Action.SKIP, Result.SKIPPED, cm_no, started, key,
                        f"Magento order {cm.get('order_id')} was not created by the connector: no Acumatica "
                        "order to return against; the credit memo is skipped")])
        return "unknown order"
    order_type, _, order_nbr = order_binding.acumatica_key.partition("/")
    order = ports.acumatica.sales_order(order_type, order_nbr)
    magento_order = order_binding.magento_increment_id or str(cm.get("order_id"))
    returns = ports.acumatica.returns_for(prefs.return_order_type, magento_order)
    invoiced = invoice_lines(order, ports.acumatica.order_invoices(order_type, order_nbr), returns, return_ref(cm_no))
    try:
        body = map_return(cm, order, prefs, invoiced, magento_order, _tax_categories(ports, order, cm))
    except ReturnRefused as exc:
        ports.log([_row(Action.CREATE, Result.FAILURE, cm_no, started, key,
                        f"credit memo #{cm_no} of {order_binding.acumatica_key} not carried: {exc}; nothing was "
                        "created in Acumatica. Fix the credit memo's data (or the order) and replay it.")])
        return "refused"
    rmas = ports.magento.returns_of_order(int(cm.get("order_id") or 0))
    rma = rma_receipt(cm, rmas, returns, return_ref(cm_no))
    if not rma.receive:  # waits for the RMA's goods: the poller watches the order's RMAs (rma_arrivals)
        rma = RmaReceipt(False, rma.rmas, rma.note, rma_returned(rmas), rma.units)
    if rma.rmas:  # the RMA numbers on the RC (Description), so the merchant finds them in Acumatica
        body["Description"] = {"value": f"{_v(body, 'Description')} (RMA {', '.join(rma.rmas)})"}
    try:
        lease = ports.binder.mark_creating(BIND_KIND, key, ports.lease_s)
    except AlreadyBound:
        return "already"
    except LeaseHeld as exc:
        raise NotReady(f"credit memo {cm_no}: {exc}", exc.retry_after) from exc
    return _create_once(ports, prefs, body, cm, key, cm_no, lease.lease, started, rma)


def _tax_categories(ports: ReturnPorts, order: dict[str, Any], cm: dict[str, Any]) -> dict[str, AcuTaxCategory]:
    """The tax categories of the returned lines (and of the freight when shipping is refunded), read from
    Acumatica only when the original order has taxes: which of its taxes the refunded tax belongs to."""
    if not order.get("TaxDetails"):
        return {}
    src = {str(_v(ln, "InventoryID")): ln for ln in order.get("Details") or []}
    wanted = {str(_v(src[str(it.get("sku"))], "TaxCategory") or "").upper() for it in cm.get("items") or []
              if str(it.get("sku")) in src}
    if money(cm.get("shipping_amount")):
        wanted.add(str(_freight_tax_category(order) or "").upper())
    return {c: AcuTaxCategory.from_api(ports.acumatica.tax_category(c)) for c in sorted(wanted - {""})}


def _made_by_connector(ports: ReturnPorts, cm: dict[str, Any]) -> bool:
    """A Magento credit memo the connector made (A->M, services/refunds_a2m.py): its marker comment or binding."""
    from amsync.services.refunds_a2m import KIND, MARKER

    texts = [str(c.get("comment") or "") for c in cm.get("comments") or [] if isinstance(c, dict)]
    if any(t.startswith(MARKER) for t in texts):
        return True
    return ports.binder.by_magento_id(KIND, int(cm["entity_id"])) is not None


def _create_once(ports: ReturnPorts, prefs: ReturnSyncPreferences, body: dict[str, Any], cm: dict[str, Any],
                 key: str, cm_no: str, lease: str | None, started: Any, rma: RmaReceipt) -> str:
    ref = _v(body, "ExternalRef")
    try:
        found = ports.acumatica.returns_by_ref(prefs.return_order_type, ref)
    except Exception:
        release_quietly(ports.binder, BIND_KIND, key, lease)
        raise
    if found:
        doc, action = found[0], Action.UPDATE
    else:
        try:
            doc, action = ports.acumatica.create_return(body), Action.CREATE
        except RetryableError as exc:
            what = give_back_lease(ports.binder, BIND_KIND, key, exc, ports.doubt_hold_s, lease=lease)
            ports.log([_row(Action.CREATE, Result.RETRY, cm_no, started, key, f"Acumatica: {exc}; {what}")])
            raise
        except ApiError as exc:
            release_quietly(ports.binder, BIND_KIND, key, lease)
            ports.log([_row(Action.CREATE, Result.FAILURE, cm_no, started, key,
                            f"Acumatica refused the return order: {exc}", details={"request": body})])
            return "refused"
    doc_key = f"{_v(doc, 'OrderType')}/{_v(doc, 'OrderNbr')}"
    open_rc = _v(doc, "Status") not in ("Completed", "Canceled")
    receive = prefs.receive_into_stock and rma.receive and open_rc
    awaiting = prefs.receive_into_stock and not rma.receive and open_rc
    # the stage tells a later attempt what is left: "receive" = bound, the receipt still to make (it failed here);
    # "await-rma" = the RC stays open until the RMA receives the goods (re-queued by the poller, rma_arrivals)
    if awaiting:  # on the watch before the bind: a crash between the two leaves a watch entry, never a lost RC
        change_watch(ports.binder, int(cm["entity_id"]), [int(cm.get("order_id") or 0), str(rma.returned), cm_no])
    ports.binder.bind(BIND_KIND, key, int(cm["entity_id"]), cm_no, lease=lease,
                      extra={"acumatica": doc_key, "stage": "receive" if receive else
                             "await-rma" if awaiting else "done"})
    received = ""
    if receive:
        receipts = ports.acumatica.receive_return(str(_v(doc, "OrderType")), str(_v(doc, "OrderNbr")))
        ports.binder.touch(BIND_KIND, key, stage="done")
        received = f"; received into stock ({', '.join(receipts)})" if receipts else ""
    elif awaiting and rma.units:  # the units the RMA has received already come in now, the rest when they arrive
        receipts = ports.acumatica.receive_return_units(str(_v(doc, "OrderType")), str(_v(doc, "OrderNbr")),
                                                        rma.units)
        received = f"; received into stock: {_units_text(rma.units)} ({', '.join(receipts)}); {rma.note}"
    elif prefs.receive_into_stock and rma.note:
        received = f"; {rma.note}"
    verb = "created" if action is Action.CREATE else "found (an earlier attempt created it) and bound"
    ports.log([_row(action, Result.SUCCESS, cm_no, started, key,
                    f"return order {doc_key} {verb} for credit memo #{cm_no} ({len(body['Details'])} line(s), "
                    f"{_v(cm, 'grand_total')}){received}", entity_id=doc_key, details={"request": body})])
    return "created" if action is Action.CREATE else "found"


def _finish_receipt(ports: ReturnPorts, bound: Binding, started: Any) -> str:
    """A bound credit memo whose receipt did not happen (the attempt failed after the bind): receive it now."""
    if bound.extra.get("x_stage") == "await-rma":
        return _receive_after_rma(ports, bound, started)
    if bound.extra.get("x_stage") != "receive":
        return "already"
    order_type, _, order_nbr = str(bound.extra.get("x_acumatica") or "").partition("/")
    receipts = ports.acumatica.receive_return(order_type, order_nbr)
    ports.binder.touch(BIND_KIND, bound.acumatica_key, stage="done")
    cm_no = bound.magento_increment_id or bound.acumatica_key
    ports.log([_row(Action.UPDATE, Result.SUCCESS, cm_no, started, bound.acumatica_key,
                    f"return order {order_type}/{order_nbr} received into stock ({', '.join(receipts)}): the "
                    "receipt an earlier attempt did not finish", entity_id=f"{order_type}/{order_nbr}")])
    return "received"


def _units_text(units: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{n.normalize():f} x {sku}" for sku, n in units.items())


def _receive_after_rma(ports: ReturnPorts, bound: Binding, started: Any) -> str:
    """An RC order left open for its RMA's goods (stage ``await-rma``): the units the order's RMAs have received
    since, for this credit memo (the rule of ``rma_receipt``), are received now, once; when they cover every
    credited unit the stage is ``done`` and the credit memo leaves the watch, else it keeps waiting there.
    Received (Completed) or canceled in Acumatica meanwhile: done."""
    cm_id = int(bound.magento_entity_id or 0)
    order_type, _, order_nbr = str(bound.extra.get("x_acumatica") or "").partition("/")
    cm = ports.magento.creditmemo(cm_id)
    cm_no = str(cm.get("increment_id") or cm_id)
    prefs = ports.settings.return_sync()
    order_binding = ports.binder.by_magento_id(ORDER_KIND, int(cm.get("order_id") or 0))
    magento_order = (order_binding.magento_increment_id if order_binding else None) or str(cm.get("order_id"))
    returns = ports.acumatica.returns_for(prefs.return_order_type, magento_order)
    mine = next((r for r in returns if _v(r, "ExternalRef") == return_ref(cm_no)), None)
    if mine is not None and _v(mine, "Status") in ("Completed", "Canceled"):
        ports.binder.touch(BIND_KIND, bound.acumatica_key, stage="done")
        change_watch(ports.binder, cm_id, None)
        return "already"
    rma = rma_receipt(cm, ports.magento.returns_of_order(int(cm.get("order_id") or 0)), returns, return_ref(cm_no))
    if not rma.units and not rma.receive:
        return "waiting"
    receipts = ports.acumatica.receive_return_units(order_type, order_nbr, rma.units) if rma.units else []
    if rma.receive:
        ports.binder.touch(BIND_KIND, bound.acumatica_key, stage="done")
        change_watch(ports.binder, cm_id, None)
    rest = "" if rma.receive else f"; {rma.note}"
    ports.log([_row(Action.UPDATE, Result.SUCCESS, cm_no, started, bound.acumatica_key,
                    f"return order {order_type}/{order_nbr} received into stock: {_units_text(rma.units)} "
                    f"({', '.join(receipts)}): RMA {', '.join(rma.rmas)} received the goods{rest}",
                    entity_id=f"{order_type}/{order_nbr}")])
    return "received" if rma.receive else "partly received"
