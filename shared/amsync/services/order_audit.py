"""Audit: is each Acumatica order and its Magento twin in step? (pure comparisons; `amsync audit` reads)

For one Acumatica order (with its shipments, invoices and credit memos) and the Magento orders that carry its
ext_order_id (with their shipments and invoices), ``compare_order`` lists what differs, in the kinds below. The
comparisons are the connector's own rules, so a difference is something the connector did not (or could not) do:

- ``missing``: eligible (by the stored preferences) but no Magento order; ``binding``: a Magento order nobody
  bound, or a binding whose Magento order is gone; ``double``: a second live (not canceled) Magento order;
  ``extra`` (from the caller): a Magento order whose ext_order_id names no Acumatica order;
- ``totals``: grand total, tax, shipping and subtotal as the mapper sends them, to the cent (not for a Canceled
  order: Magento keeps a canceled order's totals);
- ``status``: the Magento state the order status mapping leads to (cancel -> canceled, hold or the Hold flag ->
  holded, anything else -> neither); a Canceled Acumatica order and a canceled Magento order agree;
- ``shipments``: each confirmed Acumatica shipment of the order against the Magento shipment carrying its marker
  ("Acumatica shipment 005139"): present, quantity, tracking numbers; Magento shipments with no such shipment;
- ``invoices``: each released Acumatica invoice against the Magento invoice with its marker: present, amount (when
  the invoice bills this order alone); Magento invoices with no such invoice;
- ``credit memos``: released Acumatica credit memos of the order against Magento's ``total_refunded``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from amsync.models.acumatica import SalesOrder, to_decimal, unwrap
from amsync.models.settings import OrderStatusMapping
from amsync.services.exporting import Binding
from amsync.services.order_mapper import ZERO, money
from amsync.services.order_updates import status_mapping

SHIPPED = ("Confirmed", "Invoiced", "Completed")  # an Acumatica shipment the connector copies to Magento
RELEASED = ("Open", "Closed")  # an Acumatica invoice / credit memo that counts
KINDS = ("missing", "binding", "double", "extra", "totals", "status", "shipments", "invoices", "credit memos")


@dataclass(frozen=True)
class Difference:
    order: str  # the Acumatica order key, SO/SOT00024
    kind: str  # one of KINDS
    what: str
    acumatica: str
    magento: str

    def to_json(self) -> dict[str, str]:
        return {"order": self.order, "kind": self.kind, "what": self.what, "acumatica": self.acumatica,
                "magento": self.magento}


def _s(record: Mapping[str, Any], name: str) -> str:
    value = unwrap(record.get(name))
    return str(value).strip() if value is not None else ""


def _d(value: Any) -> Decimal:
    try:
        return to_decimal(unwrap(value)) or ZERO
    except ValueError:
        return ZERO


def _n(value: Decimal) -> str:
    """A quantity as people write it: 2, 2.5."""
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


# ---------------------------------------------------------------------------------------------- the two sides
@dataclass(frozen=True)
class AcuShipment:
    nbr: str
    status: str
    qty: Decimal  # shipped for this order
    tracking: tuple[str, ...]


@dataclass(frozen=True)
class AcuInvoice:
    doc_type: str  # Invoice, Credit Memo
    nbr: str
    status: str
    amount: Decimal
    orders: frozenset[str]  # the order keys it bills

    @property
    def key(self) -> str:
        return f"{self.doc_type}/{self.nbr}"


def shipments_by_order(records: Iterable[Mapping[str, Any]]) -> dict[str, list[AcuShipment]]:
    """Acumatica Shipment records (with Details and Packages) per order key they ship."""
    out: dict[str, list[AcuShipment]] = {}
    for rec in records:
        qty: dict[str, Decimal] = {}
        for line in rec.get("Details") or []:
            key = f"{_s(line, 'OrderType') or 'SO'}/{_s(line, 'OrderNbr')}"
            qty[key] = qty.get(key, ZERO) + _d(line.get("ShippedQty"))
        tracking = tuple(dict.fromkeys(t for p in rec.get("Packages") or [] if (t := _s(p, "TrackingNbr"))))
        for key, q in qty.items():
            out.setdefault(key, []).append(AcuShipment(_s(rec, "ShipmentNbr"), _s(rec, "Status"), q, tracking))
    return out


def invoices_by_order(records: Iterable[Mapping[str, Any]]) -> dict[str, list[AcuInvoice]]:
    """Acumatica SalesInvoice records (with Details) per order key they bill (invoices and credit memos)."""
    out: dict[str, list[AcuInvoice]] = {}
    for rec in records:
        keys = frozenset(f"{_s(ln, 'OrderType') or 'SO'}/{_s(ln, 'OrderNbr')}" for ln in rec.get("Details") or []
                         if _s(ln, "OrderNbr"))
        inv = AcuInvoice(_s(rec, "Type"), _s(rec, "ReferenceNbr"), _s(rec, "Status"), _d(rec.get("Amount")), keys)
        for key in keys:
            out.setdefault(key, []).append(inv)
    return out


@dataclass(frozen=True)
class MagDocument:
    """A Magento shipment or invoice: its Acumatica marker (the comment the connector writes on it)."""

    entity_id: int
    increment_id: str
    order_id: int
    marker: str | None  # "005139" / "Invoice/AR012116": the Acumatica document it was made from
    qty: Decimal
    amount: Decimal
    tracking: tuple[str, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any], kind: str) -> MagDocument:
        prefix = f"Acumatica {kind} "
        texts = [str(c.get("comment") or "").strip() for c in data.get("comments") or [] if isinstance(c, Mapping)]
        marker = next((t[len(prefix):].split(" ")[0] for t in texts if t.startswith(prefix)), None)
        return cls(int(data["entity_id"]), str(data.get("increment_id") or data["entity_id"]),
                   int(data.get("order_id") or 0), marker,
                   sum((_d(i.get("qty")) for i in data.get("items") or [] if isinstance(i, Mapping)), ZERO),
                   _d(data.get("grand_total")),
                   tuple(str(t.get("track_number")) for t in data.get("tracks") or [] if t.get("track_number")))


@dataclass(frozen=True)
class MagOrder:
    entity_id: int
    increment_id: str
    ext_order_id: str
    state: str
    status: str
    created_at: str
    grand_total: Decimal
    tax_amount: Decimal
    shipping_amount: Decimal
    subtotal: Decimal
    total_refunded: Decimal
    store_id: int | None = None  # its store view picks the order status mapping (services/stores.py)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MagOrder:
        store_id = data.get("store_id")
        return cls(int(data["entity_id"]), str(data.get("increment_id") or ""), str(data.get("ext_order_id") or ""),
                   str(data.get("state") or ""), str(data.get("status") or ""), str(data.get("created_at") or ""),
                   _d(data.get("grand_total")), _d(data.get("tax_amount")), _d(data.get("shipping_amount")),
                   _d(data.get("subtotal")), _d(data.get("total_refunded")),
                   None if store_id is None else int(store_id))

    @property
    def label(self) -> str:
        return f"#{self.increment_id} (entity {self.entity_id}, {self.state or 'no state'})"


# ---------------------------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class OrderFacts:
    """Everything known about one Acumatica order and its Magento side."""

    order: SalesOrder
    eligible: bool
    binding: Binding | None
    magento: Sequence[MagOrder]  # every Magento order carrying its ext_order_id
    shipments: Sequence[AcuShipment] = ()
    invoices: Sequence[AcuInvoice] = ()  # invoices and credit memos
    magento_shipments: Sequence[MagDocument] = ()  # of the order compared (the bound one)
    magento_invoices: Sequence[MagDocument] = ()


def target_order(facts: OrderFacts) -> MagOrder | None:
    """The Magento order the Acumatica order is compared with: the bound one, else the oldest live one."""
    bound = facts.binding.magento_entity_id if facts.binding and facts.binding.state == "bound" else None
    by_id = {o.entity_id: o for o in facts.magento}
    live = sorted((o for o in facts.magento if o.state != "canceled"), key=lambda o: o.entity_id)
    if bound in by_id:
        return by_id[bound]
    return live[0] if live else min(facts.magento, key=lambda o: o.entity_id, default=None)


def compare_order(facts: OrderFacts, mappings: Iterable[OrderStatusMapping],
                  store_view: str | Callable[[int | None], str]) -> list[Difference]:
    """What differs between the Acumatica order and its Magento order (empty: in step). ``store_view``: the view
    whose order status mapping applies, or how to name the view of the Magento order's store id."""
    key = facts.order.key
    target = target_order(facts)
    out = _binding(facts, target)
    if target is None:
        return out
    out.extend(Difference(key, "double", "second Magento order", "one order", o.label) for o in facts.magento
               if o.state != "canceled" and o.entity_id != target.entity_id)
    if facts.order.status != "Canceled":
        out.extend(_totals(facts.order, target))
    view = store_view(target.store_id) if callable(store_view) else store_view
    out.extend(_status(facts.order, target, status_mapping(facts.order.status or "", mappings, view)))
    out.extend(_shipments(facts, target))
    out.extend(_invoices(facts, target))
    out.extend(_credit_memos(facts, target))
    return out


def _binding(facts: OrderFacts, target: MagOrder | None) -> list[Difference]:
    key, b = facts.order.key, facts.binding
    bound = b.magento_entity_id if b is not None and b.state == "bound" else None
    if target is None:
        if bound is not None:
            return [Difference(key, "binding", "bound Magento order", f"bound to entity {bound}", "not found")]
        if facts.eligible:
            state = "a create is in flight" if b is not None and b.state == "creating" else "not bound"
            return [Difference(key, "missing", "Magento order", f"{facts.order.status}, eligible; {state}", "none")]
        return []
    if bound is None:
        return [Difference(key, "binding", "binding", "not bound" if b is None else f"binding {b.state}",
                           target.label)]
    if bound != target.entity_id:
        return [Difference(key, "binding", "bound Magento order", f"bound to entity {bound} (not found)",
                           target.label)]
    return []


def expected_totals(order: SalesOrder) -> dict[str, Decimal]:
    """The totals the mapper sends for ``order`` (``order_mapper._totals``)."""
    subtotal = sum((money(line.order_qty * line.unit_price) for line in order.lines), ZERO)
    return {"grand total": money(order.order_total or ZERO), "tax": money(order.tax_total),
            "shipping": money(order.freight), "subtotal": subtotal}


def _totals(order: SalesOrder, target: MagOrder) -> list[Difference]:
    actual = {"grand total": target.grand_total, "tax": target.tax_amount, "shipping": target.shipping_amount,
              "subtotal": target.subtotal}
    return [Difference(order.key, "totals", name, str(value), str(money(actual[name])))
            for name, value in expected_totals(order).items() if money(actual[name]) != value]


def expected_state(order: SalesOrder, mapping: OrderStatusMapping) -> str:
    """canceled, holded or open (any other Magento state) as the order status mapping leads the order."""
    if mapping.action == "cancel":
        return "canceled"
    if order.hold or mapping.action == "hold":
        return "holded"
    return "open"


def _status(order: SalesOrder, target: MagOrder, mapping: OrderStatusMapping) -> list[Difference]:
    expected = expected_state(order, mapping)
    actual = target.state if target.state in ("canceled", "holded") else "open"
    if expected == actual:
        return []
    shown = {"open": "not canceled or on hold", "holded": "holded", "canceled": "canceled"}[expected]
    return [Difference(order.key, "status", "state", f"{order.status}{' (Hold)' if order.hold else ''}: "
                       f"Magento should be {shown}", f"{target.state}/{target.status}")]


def _shipments(facts: OrderFacts, target: MagOrder) -> list[Difference]:
    key, out = facts.order.key, []
    mine = [d for d in facts.magento_shipments if d.order_id == target.entity_id]
    by_marker = {d.marker: d for d in mine if d.marker}
    shipped = [s for s in facts.shipments if s.status in SHIPPED]
    for s in shipped:
        acu = f"{s.status}, qty {_n(s.qty)}" + (f", tracking {', '.join(s.tracking)}" if s.tracking else "")
        m = by_marker.get(s.nbr)
        if m is None:
            out.append(Difference(key, "shipments", f"shipment {s.nbr}", acu, "not in Magento"))
            continue
        if m.qty != s.qty:
            out.append(Difference(key, "shipments", f"shipment {s.nbr} quantity", _n(s.qty), _n(m.qty)))
        if sorted(m.tracking) != sorted(s.tracking):
            out.append(Difference(key, "shipments", f"shipment {s.nbr} tracking", ", ".join(s.tracking) or "none",
                                  ", ".join(m.tracking) or "none"))
    known = {s.nbr for s in shipped}
    out.extend(Difference(key, "shipments", f"Magento shipment #{d.increment_id}", "no such confirmed shipment"
                          + (f" ({d.marker})" if d.marker else ""), f"qty {_n(d.qty)}")
               for d in mine if d.marker not in known)
    return out


def _invoices(facts: OrderFacts, target: MagOrder) -> list[Difference]:
    key, out = facts.order.key, []
    mine = [d for d in facts.magento_invoices if d.order_id == target.entity_id]
    by_marker = {d.marker: d for d in mine if d.marker}
    released = [i for i in facts.invoices if i.doc_type == "Invoice" and i.status in RELEASED]
    for inv in released:
        m = by_marker.get(inv.key)
        if m is None:
            out.append(Difference(key, "invoices", f"invoice {inv.key}", f"{inv.status}, {money(inv.amount)}",
                                  "not in Magento"))
        elif inv.orders == {key} and money(m.amount) != money(inv.amount):
            out.append(Difference(key, "invoices", f"invoice {inv.key} amount", str(money(inv.amount)),
                                  str(money(m.amount))))
    known = {i.key for i in released}
    out.extend(Difference(key, "invoices", f"Magento invoice #{d.increment_id}", "no such released invoice"
                          + (f" ({d.marker})" if d.marker else ""), str(money(d.amount)))
               for d in mine if d.marker not in known)
    return out


def _credit_memos(facts: OrderFacts, target: MagOrder) -> list[Difference]:
    memos = [i for i in facts.invoices if i.doc_type == "Credit Memo" and i.status in RELEASED]
    refunded = money(sum((m.amount for m in memos), ZERO))
    if refunded == money(target.total_refunded):
        return []
    names = ", ".join(m.nbr for m in memos) or "none"
    return [Difference(facts.order.key, "credit memos", "refunded", f"{refunded} ({names})",
                       str(money(target.total_refunded)))]
