"""Push-notification query definitions (generic-inquiry-like), kept as data.

Each query yields flat rows keyed by GI column names, computed per source record (``QueryDef.rows``: an order, a
shipment, ... gives its own rows); the store keeps every record's current rows (``commit.py`` recomputes those of
the records a transaction affected). ``key`` lists the columns that identify a row (used to pair an update's
Deleted/Inserted halves); ``padded`` gives fixed-width key columns that Acumatica returns with trailing spaces
(segmented keys: InventoryID and WarehouseID are 10-character segments, CustomerID too). ``stamp`` is the source
record's LastModified field, set when the record's rows change (as Acumatica stamps a saved DAC).
The connector is configured with the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from acumatica_sim.config import B2B_CLASSES, STAFF_CLASSES
from acumatica_sim.model import ZERO, Rec, Store

Row = dict[str, Any]
Rows = dict[tuple[Any, ...], Row]  # row key -> row, in query order
PAD_WIDTH: dict[str, int] = {"InventoryID": 10, "WarehouseID": 10, "CustomerID": 10}


@dataclass(frozen=True)
class QueryDef:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    table: str  # the store table the rows come from
    rows: Callable[[Store, Any, Rec], list[Row]]  # (store, table key, record) -> the record's rows
    padded: tuple[str, ...] = ()
    stamp: str | None = None

    def keyed(self, rows: list[Row]) -> Rows:
        return {tuple(r[k] for k in self.key): r for r in rows}


def order_row(store: Store, o: Rec, totals: dict[str, Decimal]) -> Row:
    cust = store.customers.get(o["CustomerID"], {})
    cls = cust.get("CustomerClass")
    return {"OrderType": o["OrderType"], "OrderID": o["OrderNbr"], "CustomerID": o["CustomerID"],
            "Email": o["BillToContact"].get("Email") or cust.get("MainContact", {}).get("Email"),
            "Status": o["Status"], "Branch": o["Branch"], "LastModifiedOn": o["LastModified"],
            "isB2B": cls in B2B_CLASSES, "isStaffCustomer": cls in STAFF_CLASSES,
            "UnpaidBalance": totals["UnpaidBalance"], "OrderTotal": totals["OrderTotal"]}


def _order_rows(store: Store, key: Any, o: Rec) -> list[Row]:
    return [order_row(store, o, store.order_totals(o))]


def shipment_rows(store: Store, key: Any, s: Rec) -> list[Row]:
    return [{"ShipmentNbr": s["ShipmentNbr"], "ShipmentType": s["Type"], "Status": s["Status"],
             "OrderType": ot, "OrderNbr": on, "LastModifiedOn": s["LastModifiedDateTime"]}
            for ot, on in dict.fromkeys((ln["OrderType"], ln["OrderNbr"]) for ln in s["lines"])]


def invoice_rows(store: Store, key: Any, inv: Rec) -> list[Row]:
    keys = list(dict.fromkeys((ln["OrderType"], ln["OrderNbr"], ln["ShipmentNbr"]) for ln in inv["lines"]))
    return [{"Type": inv["Type"], "ReferenceNbr": inv["ReferenceNbr"], "Status": inv["Status"],
             "OrderType": ot, "OrderNbr": on, "ShipmentNbr": sn, "LastModifiedOn": inv["LastModifiedDateTime"]}
            for ot, on, sn in keys or [(None, None, None)]]


def payment_rows(store: Store, key: Any, p: Rec) -> list[Row]:
    apps = [(a["OrderType"], a["OrderNbr"], a["AppliedToOrder"]) for a in p["orders"]] or [(None, None, ZERO)]
    return [{"Type": p["Type"], "ReferenceNbr": p["ReferenceNbr"], "Status": p["Status"], "OrderType": ot,
             "OrderNbr": on, "AppliedToOrder": amt, "LastModifiedOn": p["LastModifiedDateTime"]}
            for ot, on, amt in apps]


def stock_base_row(iid: str, wh: str, availability: dict[str, Decimal]) -> Row:
    """An availability row without the LastModifiedOn column."""
    return {"InventoryID": iid, "WarehouseID": wh, "QtyOnHand": availability["QtyOnHand"],
            "QtyAvailable": availability["QtyAvailable"]}


def _stock_rows(store: Store, iid: str, it: Rec) -> list[Row]:
    return [{**stock_base_row(iid, wh, store.availability(iid, wh)),
             "LastModifiedOn": store.site_modified.get((iid, wh))} for wh in it["warehouses"]]


QUERIES: tuple[QueryDef, ...] = (
    QueryDef("AMSync-SalesOrders", ("OrderType", "OrderID", "CustomerID", "Email", "Status", "Branch", "LastModifiedOn",
                                    "isB2B", "isStaffCustomer", "UnpaidBalance", "OrderTotal"),
             ("OrderType", "OrderID"), "orders", _order_rows, ("CustomerID",), "LastModified"),
    QueryDef("AMSync-Shipments", ("ShipmentNbr", "ShipmentType", "Status", "OrderType", "OrderNbr", "LastModifiedOn"),
             ("ShipmentNbr", "OrderType", "OrderNbr"), "shipments", shipment_rows, stamp="LastModifiedDateTime"),
    QueryDef("AMSync-SalesInvoices", ("Type", "ReferenceNbr", "Status", "OrderType", "OrderNbr", "ShipmentNbr",
                                      "LastModifiedOn"),
             ("Type", "ReferenceNbr", "OrderType", "OrderNbr", "ShipmentNbr"), "invoices", invoice_rows,
             stamp="LastModifiedDateTime"),
    QueryDef("AMSync-Payments", ("Type", "ReferenceNbr", "Status", "OrderType", "OrderNbr", "AppliedToOrder",
                                 "LastModifiedOn"), ("Type", "ReferenceNbr", "OrderType", "OrderNbr"), "payments",
             payment_rows, stamp="LastModifiedDateTime"),
    QueryDef("AMSync-StockAvailability", ("InventoryID", "WarehouseID", "QtyOnHand", "QtyAvailable", "LastModifiedOn"),
             ("InventoryID", "WarehouseID"), "items", _stock_rows, ("InventoryID", "WarehouseID")),
)
QUERY_NAMES = tuple(q.name for q in QUERIES)


def diff(before: Rows, after: Rows) -> tuple[list[Row], list[Row]]:
    """(inserted, deleted): an update shows the old row in Deleted and the new one in Inserted."""
    inserted = [r for k, r in after.items() if before.get(k) != r]
    deleted = [r for k, r in before.items() if after.get(k) != r]
    return inserted, deleted
