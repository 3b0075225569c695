"""In-memory ERP data and the derived quantities (totals, balances, availability).

Records are plain dicts in journaled tables (``tables.py``). Derived values are computed on read:
- order line: ExtendedPrice = round(qty*price); DiscountAmount = round(ExtendedPrice*pct/100) unless given;
  Amount = ExtendedPrice - DiscountAmount (half away from zero rounding, see values.py);
- order: LineTotalAmount = sum(Amount); TaxTotal = per tax category round(sum(Amount)*rate);
  OrderTotal = lines + freight + tax - header discount; UnpaidBalance = OrderTotal - applied amounts of
  *released* payments (not below 0);
- availability per item x warehouse: QtyAvailable = on hand - open quantities of active orders (Open, On Hold,
  Shipping, Back Order, Credit Hold); QtyAvailableForShipment = on hand - quantities on unconfirmed shipments.

So that a request costs O(records it touches) whatever the size of the store, the store keeps derived state
(``Derived``): link indexes (order -> its shipments, invoices, payments; invoice -> shipments; customer -> orders;
business key and GUID -> record), running totals of booked and unconfirmed quantities per item x warehouse, and the
push queries' current rows. ``commit.py`` keeps them in step after each transaction; records must therefore only be
changed inside ``AcumaticaSimulator.transact`` (or ``commit.rebuild`` must run after, as ``reset`` does).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim import pricing
from acumatica_sim.config import NUMBER_FORMATS, TAX_RATES
from acumatica_sim.tables import Journal, LinkIndex, Table
from acumatica_sim.tables import Rec as Rec  # re-exported: the record type of every module
from acumatica_sim.values import money

ZERO = Decimal("0")
ACTIVE_ORDER_STATUSES = frozenset({"Open", "On Hold", "Shipping", "Back Order", "Credit Hold"})
OrderKey = tuple[str, str]
Pair = tuple[str, str]  # (InventoryID, WarehouseID)

TABLES = ("customers", "items", "warehouses", "shipvias", "orders", "shipments", "invoices", "payments", "nonstock",
          "taxcategories")
# the fields an entity is looked up by (GET /SalesOrder/SO/SOT00024), per table; see registry.ENTITIES' keys
BUSINESS_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("CustomerID",), "items": ("InventoryID",), "shipvias": ("ShipVia",),
    "orders": ("OrderType", "OrderNbr"), "shipments": ("ShipmentNbr",), "invoices": ("Type", "ReferenceNbr"),
    "payments": ("Type", "ReferenceNbr"), "nonstock": ("InventoryID",), "taxcategories": ("TaxCategoryID",)}


def new_id() -> str:
    return str(uuid.uuid4())


def business_key(values: Iterable[Any]) -> tuple[str, ...]:
    """Keys compare as SQL Server does: case-insensitive, trailing (and here leading) blanks ignored."""
    return tuple(str(v or "").strip().casefold() for v in values)


def order_keys(rows: Iterable[Rec]) -> set[OrderKey]:
    """The orders that document rows (shipment/invoice lines, payment applications) refer to."""
    return {(r["OrderType"], r["OrderNbr"]) for r in rows if r.get("OrderNbr")}  # a standalone credit memo: none


def booked_of(o: Rec | None) -> dict[Pair, Decimal]:
    """What an order contributes to the booked (open) quantity of each item x warehouse."""
    out: dict[Pair, Decimal] = {}
    if o is None or o["Status"] not in ACTIVE_ORDER_STATUSES:
        return out
    for ln in o["lines"]:
        if not ln.get("Completed") and ln.get("Operation", "Issue") == "Issue" \
                and ln.get("LineType", pricing.GOODS) == pricing.GOODS:  # Receipt and non-stock lines book nothing
            pair = (ln["InventoryID"], ln["WarehouseID"])
            out[pair] = out.get(pair, ZERO) + max(ln["OrderQty"] - ln.get("ShippedQty", ZERO), ZERO)
    return out


def unconfirmed_of(s: Rec | None) -> dict[Pair, Decimal]:
    """What a shipment contributes to the quantity on unconfirmed shipments of each item x warehouse."""
    out: dict[Pair, Decimal] = {}
    if s is None or s["Status"] != "Open" or s.get("Operation") == "Receipt":
        return out
    for ln in s["lines"]:
        pair = (ln["InventoryID"], ln["WarehouseID"])
        out[pair] = out.get(pair, ZERO) + ln["ShippedQty"]
    return out


def _key_links(fields: tuple[str, ...]) -> LinkIndex[Any]:
    return LinkIndex(lambda r: (business_key(r.get(f) for f in fields),))


def link_indexes() -> dict[str, dict[str, LinkIndex[Any]]]:
    """Per table, the indexes kept on its records: ``key`` (business key), ``id`` (GUID, lower case), and links."""
    links: dict[str, dict[str, LinkIndex[Any]]] = {t: {} for t in TABLES}
    for t, fields in BUSINESS_KEYS.items():
        links[t]["key"] = _key_links(fields)
        links[t]["id"] = LinkIndex(lambda r: (r["id"].lower(),) if r.get("id") else ())
    links["orders"]["customer"] = LinkIndex(lambda o: (o["CustomerID"],))
    links["shipments"]["order"] = LinkIndex(lambda s: order_keys(s["lines"]))
    links["shipments"]["invoice"] = LinkIndex(lambda s: (s["invoice"],) if s.get("invoice") else ())
    links["invoices"]["order"] = LinkIndex(lambda inv: order_keys(inv["lines"]))
    links["payments"]["order"] = LinkIndex(lambda p: order_keys(p["orders"]))
    links["payments"]["doc"] = LinkIndex(lambda p: {(d["DocType"], d["ReferenceNbr"]) for d in p["docs"]})
    return links


@dataclass
class Derived:
    """What the store keeps besides its records (never part of a dump); see ``commit.py``."""

    links: dict[str, dict[str, LinkIndex[Any]]] = field(default_factory=link_indexes)
    booked: dict[Pair, Decimal] = field(default_factory=dict)
    unconfirmed: dict[Pair, Decimal] = field(default_factory=dict)
    rows: dict[str, dict[Any, dict[tuple[Any, ...], Rec]]] = field(default_factory=dict)  # query -> source -> rows
    stock_base: dict[Pair, Rec] = field(default_factory=dict)  # stock rows without LastModifiedOn
    # orders whose released invoices a deleted payment may have left unsettled (the next reconcile settles them)
    pending: set[OrderKey] = field(default_factory=set)


@dataclass
class OrderIndex:
    """What the totals of every order need from payments and invoices, keyed by (OrderType, OrderNbr)."""

    applications: dict[OrderKey, list[tuple[Rec, Rec]]] = field(default_factory=dict)
    invoiced: dict[OrderKey, list[Decimal]] = field(default_factory=dict)


@dataclass
class Store:
    """All records of one tenant."""

    customers: Table[str] = field(default_factory=Table)
    items: Table[str] = field(default_factory=Table)
    warehouses: Table[str] = field(default_factory=Table)
    shipvias: Table[str] = field(default_factory=Table)
    orders: Table[OrderKey] = field(default_factory=Table)
    shipments: Table[str] = field(default_factory=Table)
    invoices: Table[tuple[str, str]] = field(default_factory=Table)
    payments: Table[tuple[str, str]] = field(default_factory=Table)
    nonstock: Table[str] = field(default_factory=Table)  # non-stock items (NonStockItem)
    taxcategories: Table[str] = field(default_factory=Table)
    numbering: dict[str, int] = field(default_factory=dict)
    site_modified: dict[Pair, datetime] = field(default_factory=dict)
    derived: Derived = field(default_factory=Derived, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in TABLES:
            t = getattr(self, name)
            if not isinstance(t, Table):
                setattr(self, name, Table(name, dict(t).items()))
            elif not t.name:
                t.name = name

    def tables(self) -> list[Table[Any]]:
        return [getattr(self, name) for name in TABLES]

    def table(self, name: str) -> Table[Any]:
        t: Table[Any] = getattr(self, name)
        return t

    # -- transactions ----------------------------------------------------------------------------------------
    @property
    def journal(self) -> Journal | None:
        return self.orders.journal

    def begin(self) -> Journal:
        """Attach a journal to every table (see ``tables.py``)."""
        j = Journal(self.numbering, self.site_modified)
        for t in self.tables():
            j.next_seq[t.name] = t.next_seq
            t.journal = j
        return j

    def detach(self) -> None:
        for t in self.tables():
            t.journal = None

    def rollback(self, j: Journal) -> None:
        self.detach()
        for t in self.tables():
            t.restore(j.before.get(t.name, {}), j.next_seq[t.name])
        self.numbering.clear()
        self.numbering.update(j.numbering)
        self.site_modified.clear()
        self.site_modified.update(j.site_modified)

    # -- lookups ---------------------------------------------------------------------------------------------
    def linked(self, table: str, index: str, target: Hashable) -> list[Rec]:
        """Records of ``table`` linking to ``target`` through ``index``, in table order."""
        t = self.table(table)
        return [t[k] for k in self.derived.links[table][index].lookup(t, target)]

    def find_by_id(self, kind: str, rid: str) -> Rec | None:
        found = self.linked(kind, "id", rid.lower())
        return found[0] if found else None

    def find_by_key(self, kind: str, want: tuple[str, ...]) -> Rec | None:
        """The first record whose business key (see ``business_key``) is ``want``."""
        found = self.linked(kind, "key", want)
        return found[0] if found else None

    def key_of(self, kind: str, rec: Rec) -> Any:
        """The table key ``rec`` is stored under."""
        t = self.table(kind)
        return next(k for k in self.derived.links[kind]["id"].lookup(t, rec["id"].lower()) if dict.get(t, k) is rec)

    # -- numbering -------------------------------------------------------------------------------------------
    def next_number(self, kind: str) -> str:
        """The next number of ``kind`` (an order type, or shipment/invoice/payment/customer); a sequence never used
        starts at 1."""
        n = self.numbering.get(kind, 1)
        self.numbering[kind] = n + 1
        return NUMBER_FORMATS[kind].format(n)

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

    def order_totals(self, o: Rec, index: OrderIndex | None = None) -> dict[str, Any]:
        """An order's totals; ``index`` (the oracle's scan of every payment and invoice, see ``oracle.py``) replaces
        the link indexes."""
        amounts = pricing.totals(o, lambda ln: self.line_amounts(ln)[2])
        line_total, tax, freight = amounts["LineTotalAmount"], amounts["TaxTotal"], amounts["Freight"]
        disc, total = amounts["DiscountTotal"], amounts["OrderTotal"]
        key = (o["OrderType"], o["OrderNbr"])
        applications = index.applications.get(key, []) if index else self.order_applications(o)
        invoiced_amounts = index.invoiced.get(key, []) if index else [
            self.invoice_amount(inv) for inv in self.linked("invoices", "order", key)]
        paid = sum((a["AppliedToOrder"] for p, a in applications if p["released"]), ZERO)
        invoiced = sum(invoiced_amounts, ZERO)
        return {"LineTotalAmount": line_total, "TaxTotal": tax, "Freight": freight, "DiscountTotal": disc,
                "MiscTotalAmount": amounts["MiscTotalAmount"], "PremiumFreight": amounts["PremiumFreight"],
                "TaxDetails": amounts["TaxDetails"], "OrderTotal": total, "UnpaidBalance": max(total - paid, ZERO),
                "UnbilledAmount": max(total - invoiced, ZERO),
                "UnbilledQty": sum((ln["OrderQty"] - ln.get("BilledQty", ZERO) for ln in o["lines"]), ZERO),
                "OrderedQty": sum((ln["OrderQty"] for ln in o["lines"]), ZERO)}

    def order_applications(self, o: Rec) -> list[tuple[Rec, Rec]]:
        """(payment, application row) pairs applied to order ``o``, in payment entry order."""
        key = (o["OrderType"], o["OrderNbr"])
        return [(p, a) for p in self.linked("payments", "order", key) for a in p["orders"]
                if (a["OrderType"], a["OrderNbr"]) == key]

    def qty_on_shipments(self, o: Rec, line_nbr: int, confirmed_only: bool = False) -> Decimal:
        total = ZERO
        for s in self.order_shipments(o):
            if confirmed_only and s["Status"] == "Open":
                continue
            for ln in s["lines"]:
                if (ln["OrderType"], ln["OrderNbr"], ln["OrderLineNbr"]) == (o["OrderType"], o["OrderNbr"], line_nbr):
                    total += ln["ShippedQty"]
        return total

    def add_shipment(self, o: Rec, lines: list[tuple[Rec, Decimal]], *, kind: str, operation: str,
                     ship_date: datetime, warehouse: str | None, freight: Decimal, now: datetime) -> Rec:
        """A new Open shipment document of the order (``kind`` Shipment/Issue or Receipt/Receipt) with a line per
        (order line, quantity); the order goes to Shipping."""
        nbr = self.next_number("shipment")
        doc: Rec = {"id": new_id(), "ShipmentNbr": nbr, "Type": kind, "Operation": operation, "Status": "Open",
                    "Hold": False, "ShipmentDate": ship_date, "CustomerID": o["CustomerID"],
                    "LocationID": o["LocationID"], "WarehouseID": warehouse or lines[0][0]["WarehouseID"],
                    "ShipVia": o["ShipVia"], "FreightPrice": freight, "CreatedDateTime": now,
                    "LastModifiedDateTime": now, "note": None, "custom": {}, "invoice": None, "packages": [],
                    "lines": []}
        for i, (ln, q) in enumerate(lines, start=1):
            item = self.items[ln["InventoryID"]]
            doc["lines"].append({
                "id": new_id(), "LineNbr": i, "OrderType": o["OrderType"], "OrderNbr": o["OrderNbr"],
                "OrderLineNbr": ln["LineNbr"], "InventoryID": ln["InventoryID"], "Description": ln["LineDescription"],
                "ShippedQty": q, "OrderedQty": ln["OrderQty"], "UOM": ln["UOM"], "WarehouseID": ln["WarehouseID"],
                "LocationID": item["warehouses"].get(ln["WarehouseID"], {}).get("Location")})
        self.shipments[nbr] = doc
        o["Status"] = "Shipping"
        return doc

    def order_shipments(self, o: Rec) -> list[Rec]:
        return self.linked("shipments", "order", (o["OrderType"], o["OrderNbr"]))

    # -- invoices / payments -----------------------------------------------------------------------------------
    def invoice_tax(self, inv: Rec) -> Decimal:
        """The document's tax: the taxes it carries from orders whose taxes were entered as given
        (``manual_tax.py``), else computed on its lines."""
        if inv.get("taxes") is not None:
            return sum((t["TaxAmount"] for t in inv["taxes"]), ZERO)
        return self.tax_of([(ln.get("TaxCategory"), ln["Amount"]) for ln in inv["lines"]])

    def invoice_amount(self, inv: Rec) -> Decimal:
        return sum((ln["Amount"] for ln in inv["lines"]), ZERO) + inv.get("FreightPrice", ZERO) + self.invoice_tax(inv)

    def paid_to(self, doc: tuple[str, str]) -> Decimal:
        """What payments have applied to document ``doc`` = (DocType, ReferenceNbr)."""
        return sum((d["AmountPaid"] for p in self.linked("payments", "doc", doc) for d in p["docs"]
                    if (d["DocType"], d["ReferenceNbr"]) == doc), ZERO)

    def invoice_totals(self, inv: Rec) -> dict[str, Decimal]:
        detail = sum((ln["Amount"] for ln in inv["lines"]), ZERO)
        tax = self.invoice_tax(inv)
        amount = detail + inv.get("FreightPrice", ZERO) + tax
        paid = self.paid_to((inv["Type"], inv["ReferenceNbr"]))
        return {"DetailTotal": detail, "TaxTotal": tax, "Amount": amount, "PaymentTotal": paid,
                "Balance": amount - paid if inv["released"] else amount}

    def payment_totals(self, p: Rec) -> dict[str, Decimal]:
        to_docs = sum((d["AmountPaid"] for d in p["docs"]), ZERO)
        to_orders = sum((a["AppliedToOrder"] for a in p["orders"]), ZERO)
        transferred = sum((a.get("Transferred", ZERO) for a in p["orders"]), ZERO)
        return {"AppliedToDocuments": to_docs, "AppliedToOrders": to_orders,
                "AvailableBalance": p["PaymentAmount"] - to_docs - (to_orders - transferred)}

    def reconcile_scope(self, orders: Iterable[OrderKey]) -> set[OrderKey]:
        """``orders`` plus those a deleted payment left pending (documents.reconcile settles them all)."""
        if self.journal is not None:
            self.journal.reconciled = True  # the commit then forgets the pending orders
        else:
            self.derived.pending.clear()
        return set(orders) | self.derived.pending

    # -- availability ----------------------------------------------------------------------------------------
    def availability(self, item_id: str, wh: str) -> dict[str, Decimal]:
        item = self.items[item_id]
        on_hand = item["warehouses"].get(wh, {}).get("QtyOnHand", ZERO)
        pair = (item_id, wh)
        booked = self.derived.booked.get(pair, ZERO)
        unconfirmed = self.derived.unconfirmed.get(pair, ZERO)
        # inside a transaction the running totals are as of its start: correct them for the records it reached
        for okey, (before, _) in self.orders.journaled().items():
            booked += booked_of(dict.get(self.orders, okey)).get(pair, ZERO) - booked_of(before).get(pair, ZERO)
        for skey, (before, _) in self.shipments.journaled().items():
            unconfirmed += (unconfirmed_of(dict.get(self.shipments, skey)).get(pair, ZERO)
                            - unconfirmed_of(before).get(pair, ZERO))
        return {"QtyOnHand": on_hand, "QtyAvailable": on_hand - booked,
                "QtyAvailableForShipment": on_hand - unconfirmed, "QtyNotAvailable": ZERO}
