"""In-memory ERP data and the derived quantities (totals, balances, availability).

Records are plain dicts (deep-copyable for transaction rollback). Derived values are computed on read:
- order line: ExtendedPrice = round(qty*price); DiscountAmount = round(ExtendedPrice*pct/100) unless given;
  Amount = ExtendedPrice - DiscountAmount (half away from zero rounding, see values.py);
- order: LineTotalAmount = sum(Amount); TaxTotal = per tax category round(sum(Amount)*rate);
  OrderTotal = lines + freight + tax - header discount; UnpaidBalance = OrderTotal - applied amounts of
  *released* payments (not below 0);
- availability per item x warehouse: QtyAvailable = on hand - open quantities of active orders (Open, On Hold,
  Shipping, Back Order, Credit Hold); QtyAvailableForShipment = on hand - quantities on unconfirmed shipments.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim.config import TAX_RATES
from acumatica_sim.values import money

ZERO = Decimal("0")
ACTIVE_ORDER_STATUSES = frozenset({"Open", "On Hold", "Shipping", "Back Order", "Credit Hold"})
Rec = dict[str, Any]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class OrderIndex:
    """What the totals of every order need from payments and invoices, keyed by (OrderType, OrderNbr)."""

    applications: dict[tuple[str, str], list[tuple[Rec, Rec]]] = field(default_factory=dict)
    invoiced: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict)


@dataclass
class Store:
    """All records of one tenant."""

    customers: dict[str, Rec] = field(default_factory=dict)
    items: dict[str, Rec] = field(default_factory=dict)
    warehouses: dict[str, Rec] = field(default_factory=dict)
    shipvias: dict[str, Rec] = field(default_factory=dict)
    orders: dict[tuple[str, str], Rec] = field(default_factory=dict)
    shipments: dict[str, Rec] = field(default_factory=dict)
    invoices: dict[tuple[str, str], Rec] = field(default_factory=dict)
    payments: dict[tuple[str, str], Rec] = field(default_factory=dict)
    numbering: dict[str, int] = field(default_factory=dict)
    site_modified: dict[tuple[str, str], datetime] = field(default_factory=dict)

    # -- numbering -------------------------------------------------------------------------------------------
    def next_number(self, kind: str) -> str:
        n = self.numbering[kind]
        self.numbering[kind] = n + 1
        fmt = {"SO": "SOT{:05d}", "shipment": "{:06d}", "invoice": "AR{:06d}", "payment": "{:06d}",
               "customer": "C{:09d}"}[kind]
        return fmt.format(n)

    # -- order maths -----------------------------------------------------------------------------------------
    def line_amounts(self, line: Rec) -> tuple[Decimal, Decimal, Decimal]:
        """(ExtendedPrice, DiscountAmount, Amount) of an order line."""
        ext = money(line["OrderQty"] * line["UnitPrice"])
        disc = line.get("DiscountAmount")
        if disc is None:
            disc = money(ext * (line.get("DiscountPercent") or ZERO) / 100)
        return ext, disc, ext - disc

    def tax_of(self, amounts: list[tuple[str | None, Decimal]]) -> Decimal:
        by_cat: dict[str, Decimal] = {}
        for cat, amt in amounts:
            c = cat or "EXEMPT"
            by_cat[c] = by_cat.get(c, ZERO) + amt
        return sum((money(a * TAX_RATES.get(c, ZERO) / 100) for c, a in by_cat.items()), ZERO)

    def order_totals(self, o: Rec, index: OrderIndex | None = None) -> dict[str, Decimal]:
        """An order's totals; ``index`` (from :meth:`order_index`) spares a scan of every payment and invoice
        when the totals of all orders are wanted at once (the push queries' snapshot)."""
        lines = [(ln.get("TaxCategory"), self.line_amounts(ln)[2]) for ln in o["lines"]]
        line_total = sum((a for _, a in lines), ZERO)
        tax = self.tax_of(lines)
        freight = o["ShippingSettings"].get("FreightPrice") or ZERO
        disc = o.get("HeaderDiscount") or ZERO
        total = line_total + freight + tax - disc
        key = (o["OrderType"], o["OrderNbr"])
        applications = index.applications.get(key, []) if index else self.order_applications(o)
        invoiced_amounts = index.invoiced.get(key, []) if index else self._invoiced_amounts(o)
        paid = sum((a["AppliedToOrder"] for p, a in applications if p["released"]), ZERO)
        invoiced = sum(invoiced_amounts, ZERO)
        return {"LineTotalAmount": line_total, "TaxTotal": tax, "Freight": freight, "DiscountTotal": disc,
                "OrderTotal": total, "UnpaidBalance": max(total - paid, ZERO),
                "UnbilledAmount": max(total - invoiced, ZERO),
                "UnbilledQty": sum((ln["OrderQty"] - ln.get("BilledQty", ZERO) for ln in o["lines"]), ZERO),
                "OrderedQty": sum((ln["OrderQty"] for ln in o["lines"]), ZERO)}

    def order_index(self) -> OrderIndex:
        """Payment applications and invoiced amounts of every order, in one pass over payments and invoices."""
        index = OrderIndex()
        for p in self.payments.values():
            for a in p["orders"]:
                index.applications.setdefault((a["OrderType"], a["OrderNbr"]), []).append((p, a))
        for inv in self.invoices.values():
            keys = dict.fromkeys((ln["OrderType"], ln["OrderNbr"]) for ln in inv["lines"])
            if keys:
                amount = self.invoice_amount(inv)
                for key in keys:
                    index.invoiced.setdefault(key, []).append(amount)
        return index

    def _invoiced_amounts(self, o: Rec) -> list[Decimal]:
        out = []
        for inv in self.invoices.values():
            if any((ln["OrderType"], ln["OrderNbr"]) == (o["OrderType"], o["OrderNbr"]) for ln in inv["lines"]):
                out.append(self.invoice_amount(inv))
        return out

    def order_applications(self, o: Rec) -> list[tuple[Rec, Rec]]:
        """(payment, application row) pairs applied to order ``o``."""
        key = (o["OrderType"], o["OrderNbr"])
        return [(p, a) for p in self.payments.values() for a in p["orders"] if (a["OrderType"], a["OrderNbr"]) == key]

    def qty_on_shipments(self, o: Rec, line_nbr: int, confirmed_only: bool = False) -> Decimal:
        total = ZERO
        for s in self.shipments.values():
            if confirmed_only and s["Status"] == "Open":
                continue
            for ln in s["lines"]:
                if (ln["OrderType"], ln["OrderNbr"], ln["OrderLineNbr"]) == (o["OrderType"], o["OrderNbr"], line_nbr):
                    total += ln["ShippedQty"]
        return total

    def order_shipments(self, o: Rec) -> list[Rec]:
        key = (o["OrderType"], o["OrderNbr"])
        return [s for s in self.shipments.values()
                if any((ln["OrderType"], ln["OrderNbr"]) == key for ln in s["lines"])]

    # -- invoices / payments -----------------------------------------------------------------------------------
    def invoice_amount(self, inv: Rec) -> Decimal:
        lines = [(ln.get("TaxCategory"), ln["Amount"]) for ln in inv["lines"]]
        return sum((a for _, a in lines), ZERO) + inv.get("FreightPrice", ZERO) + self.tax_of(lines)

    def invoice_totals(self, inv: Rec) -> dict[str, Decimal]:
        lines = [(ln.get("TaxCategory"), ln["Amount"]) for ln in inv["lines"]]
        detail = sum((a for _, a in lines), ZERO)
        tax = self.tax_of(lines)
        amount = detail + inv.get("FreightPrice", ZERO) + tax
        paid = sum((d["AmountPaid"] for p in self.payments.values() for d in p["docs"]
                    if (d["DocType"], d["ReferenceNbr"]) == (inv["Type"], inv["ReferenceNbr"])), ZERO)
        return {"DetailTotal": detail, "TaxTotal": tax, "Amount": amount, "PaymentTotal": paid,
                "Balance": amount - paid if inv["released"] else amount}

    def payment_totals(self, p: Rec) -> dict[str, Decimal]:
        to_docs = sum((d["AmountPaid"] for d in p["docs"]), ZERO)
        to_orders = sum((a["AppliedToOrder"] for a in p["orders"]), ZERO)
        transferred = sum((a.get("Transferred", ZERO) for a in p["orders"]), ZERO)
        return {"AppliedToDocuments": to_docs, "AppliedToOrders": to_orders,
                "AvailableBalance": p["PaymentAmount"] - to_docs - (to_orders - transferred)}

    # -- availability ----------------------------------------------------------------------------------------
    def availability(self, item_id: str, wh: str) -> dict[str, Decimal]:
        item = self.items[item_id]
        on_hand = item["warehouses"].get(wh, {}).get("QtyOnHand", ZERO)
        booked = ZERO
        for o in self.orders.values():
            if o["Status"] not in ACTIVE_ORDER_STATUSES:
                continue
            for ln in o["lines"]:
                if ln["InventoryID"] == item_id and ln["WarehouseID"] == wh and not ln.get("Completed"):
                    booked += max(ln["OrderQty"] - ln.get("ShippedQty", ZERO), ZERO)
        unconfirmed = sum((ln["ShippedQty"] for s in self.shipments.values() if s["Status"] == "Open"
                           for ln in s["lines"] if ln["InventoryID"] == item_id and ln["WarehouseID"] == wh), ZERO)
        return {"QtyOnHand": on_hand, "QtyAvailable": on_hand - booked,
                "QtyAvailableForShipment": on_hand - unconfirmed, "QtyNotAvailable": ZERO}

    def find_by_id(self, kind: str, rid: str) -> Rec | None:
        table: dict[Any, Rec] = getattr(self, kind)
        return next((r for r in table.values() if r["id"].lower() == rid.lower()), None)
