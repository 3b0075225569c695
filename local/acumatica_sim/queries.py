"""Push-notification query definitions (generic-inquiry-like), kept as data.

Each query yields flat rows keyed by GI column names. ``key`` lists the columns that identify a row (used to pair
an update's Deleted/Inserted halves); ``padded`` gives fixed-width key columns that Acumatica returns with trailing
spaces (segmented keys: InventoryID and WarehouseID are 10-character segments, CustomerID too).
The connector is configured with the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acumatica_sim.config import B2B_CLASSES, STAFF_CLASSES
from acumatica_sim.model import ZERO, Store

Row = dict[str, Any]
PAD_WIDTH: dict[str, int] = {"InventoryID": 10, "WarehouseID": 10, "CustomerID": 10}


@dataclass(frozen=True)
class QueryDef:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    rows: Callable[[Store], list[Row]]
    padded: tuple[str, ...] = ()


def _orders(store: Store) -> list[Row]:
    out = []
    index = store.order_index()
    for o in store.orders.values():
        cust = store.customers.get(o["CustomerID"], {})
        cls = cust.get("CustomerClass")
        t = store.order_totals(o, index)
        out.append({"OrderType": o["OrderType"], "OrderID": o["OrderNbr"], "CustomerID": o["CustomerID"],
                    "Email": o["BillToContact"].get("Email") or cust.get("MainContact", {}).get("Email"),
                    "Status": o["Status"], "Branch": o["Branch"], "LastModifiedOn": o["LastModified"],
                    "isB2B": cls in B2B_CLASSES, "isStaffCustomer": cls in STAFF_CLASSES,
                    "UnpaidBalance": t["UnpaidBalance"], "OrderTotal": t["OrderTotal"]})
    return out


def _shipments(store: Store) -> list[Row]:
    out = []
    for s in store.shipments.values():
        for ot, on in dict.fromkeys((ln["OrderType"], ln["OrderNbr"]) for ln in s["lines"]):
            out.append({"ShipmentNbr": s["ShipmentNbr"], "ShipmentType": s["Type"], "Status": s["Status"],
                        "OrderType": ot, "OrderNbr": on, "LastModifiedOn": s["LastModifiedDateTime"]})
    return out


def _invoices(store: Store) -> list[Row]:
    out = []
    for inv in store.invoices.values():
        keys = list(dict.fromkeys((ln["OrderType"], ln["OrderNbr"], ln["ShipmentNbr"]) for ln in inv["lines"]))
        for ot, on, sn in keys or [(None, None, None)]:
            out.append({"Type": inv["Type"], "ReferenceNbr": inv["ReferenceNbr"], "Status": inv["Status"],
                        "OrderType": ot, "OrderNbr": on, "ShipmentNbr": sn,
                        "LastModifiedOn": inv["LastModifiedDateTime"]})
    return out


def _payments(store: Store) -> list[Row]:
    out = []
    for p in store.payments.values():
        apps = [(a["OrderType"], a["OrderNbr"], a["AppliedToOrder"]) for a in p["orders"]] or [(None, None, ZERO)]
        for ot, on, amt in apps:
            out.append({"Type": p["Type"], "ReferenceNbr": p["ReferenceNbr"], "Status": p["Status"], "OrderType": ot,
                        "OrderNbr": on, "AppliedToOrder": amt, "LastModifiedOn": p["LastModifiedDateTime"]})
    return out


def stock_base_rows(store: Store) -> list[Row]:
    """Availability rows without the LastModifiedOn column."""
    out = []
    for iid, it in store.items.items():
        for wh in it["warehouses"]:
            a = store.availability(iid, wh)
            out.append({"InventoryID": iid, "WarehouseID": wh, "QtyOnHand": a["QtyOnHand"],
                        "QtyAvailable": a["QtyAvailable"]})
    return out


def _stock(store: Store) -> list[Row]:
    return [{**r, "LastModifiedOn": store.site_modified.get((r["InventoryID"], r["WarehouseID"]))}
            for r in stock_base_rows(store)]


QUERIES: tuple[QueryDef, ...] = (
    QueryDef("AMSync-SalesOrders", ("OrderType", "OrderID", "CustomerID", "Email", "Status", "Branch", "LastModifiedOn",
                                    "isB2B", "isStaffCustomer", "UnpaidBalance", "OrderTotal"),
             ("OrderType", "OrderID"), _orders, ("CustomerID",)),
    QueryDef("AMSync-Shipments", ("ShipmentNbr", "ShipmentType", "Status", "OrderType", "OrderNbr", "LastModifiedOn"),
             ("ShipmentNbr", "OrderType", "OrderNbr"), _shipments),
    QueryDef("AMSync-SalesInvoices", ("Type", "ReferenceNbr", "Status", "OrderType", "OrderNbr", "ShipmentNbr",
                                      "LastModifiedOn"),
             ("Type", "ReferenceNbr", "OrderType", "OrderNbr", "ShipmentNbr"), _invoices),
    QueryDef("AMSync-Payments", ("Type", "ReferenceNbr", "Status", "OrderType", "OrderNbr", "AppliedToOrder",
                                 "LastModifiedOn"), ("Type", "ReferenceNbr", "OrderType", "OrderNbr"), _payments),
    QueryDef("AMSync-StockAvailability", ("InventoryID", "WarehouseID", "QtyOnHand", "QtyAvailable", "LastModifiedOn"),
             ("InventoryID", "WarehouseID"), _stock, ("InventoryID", "WarehouseID")),
)
QUERY_NAMES = tuple(q.name for q in QUERIES)


def snapshot(store: Store) -> dict[str, dict[tuple[Any, ...], Row]]:
    return {q.name: {tuple(r[k] for k in q.key): r for r in q.rows(store)} for q in QUERIES}


def touch_changed(store: Store, before: dict[str, dict[tuple[Any, ...], Row]], now: Any) -> None:
    """Records whose query rows changed get LastModified* = now (as Acumatica stamps a saved DAC)."""
    after = snapshot(store)
    stamp_fields = {"AMSync-SalesOrders": (store.orders, "LastModified", lambda k: (k[0], k[1])),
                    "AMSync-Shipments": (store.shipments, "LastModifiedDateTime", lambda k: k[0]),
                    "AMSync-SalesInvoices": (store.invoices, "LastModifiedDateTime", lambda k: (k[0], k[1])),
                    "AMSync-Payments": (store.payments, "LastModifiedDateTime", lambda k: (k[0], k[1]))}
    for name, (table, fld, keyf) in stamp_fields.items():
        for key in _changed_keys(before[name], after[name], "LastModifiedOn"):
            rec = table.get(keyf(key))
            if rec is not None:
                rec[fld] = now


def _changed_keys(a: dict[tuple[Any, ...], Row], b: dict[tuple[Any, ...], Row], ignore: str) -> set[tuple[Any, ...]]:
    def strip(r: Row | None) -> Row | None:
        return None if r is None else {k: v for k, v in r.items() if k != ignore}

    return {k for k in set(a) | set(b) if strip(a.get(k)) != strip(b.get(k))}


def stock_touch(store: Store, before: list[Row], now: Any) -> None:
    b = {(r["InventoryID"], r["WarehouseID"]): r for r in before}
    for r in stock_base_rows(store):
        key = (r["InventoryID"], r["WarehouseID"])
        if b.get(key) != r:
            store.site_modified[key] = now


def diff(before: dict[tuple[Any, ...], Row], after: dict[tuple[Any, ...], Row]) -> tuple[list[Row], list[Row]]:
    """(inserted, deleted): an update shows the old row in Deleted and the new one in Inserted."""
    inserted = [r for k, r in after.items() if before.get(k) != r]
    deleted = [r for k, r in before.items() if after.get(k) != r]
    return inserted, deleted
