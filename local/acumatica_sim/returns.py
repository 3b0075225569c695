"""Customer returns: the RC order type (RMA order), its lines linked to the original invoice, and receipts.

Modelled on the Default 24.200.001 contract and Acumatica's RC order type (Order Types, SO201000: behaviour
"RMA Order", default line operation Receipt, "Require Shipment" on, so goods come back through a receipt):
- an RC line is a Receipt line; it may carry the original document (``InvoiceType``/``InvoiceNbr``/
  ``InvoiceLineNbr``, as "Add Invoice" fills them): the invoice must exist, the line must be on it with the same
  item, and the quantity returned against that invoice line by every RC order (canceled ones aside) must not exceed
  the invoiced quantity;
- Receipt lines do not book stock (they are expected receipts, not demand), so availability ignores them;
- ``SalesOrderCreateReceipt`` makes a shipment of type Receipt (operation Receipt) for what is still open;
  ``ConfirmShipment`` on it puts the quantities back on hand in the line's warehouse; the order is Completed when
  every line is received.
Assumptions where the contract is silent: the RC numbering format (``RC000001``) and the wording of the two
refusals below (the quantity and the wrong-item one) are this simulator's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from acumatica_sim import pricing
from acumatica_sim.errors import ActionRefused
from acumatica_sim.model import ZERO, Rec, Store, new_id
from acumatica_sim.values import day, parse_datetime

RETURN_ORDER_TYPES = frozenset({"RC"})
LINK_FIELDS = ("InvoiceType", "InvoiceNbr", "InvoiceLineNbr")
MSG_NOT_ON_INVOICE = "The item is not on the line {} of the {} {} document."
MSG_RETURN_QTY = ("The returned quantity of the {} item exceeds the quantity of the item in the original document "
                  "{} {} ({} invoiced, {} returned).")


def is_return(o: Rec) -> bool:
    return str(o.get("OrderType")) in RETURN_ORDER_TYPES


def default_operation(o: Rec) -> str:
    return "Receipt" if is_return(o) else "Issue"


def apply_link(store: Store, line: Rec, row: Rec, add: object) -> None:
    """Copy the original-document link of a line and check it (``add(path_field, message)`` records an error)."""
    if not any(f in row for f in LINK_FIELDS):
        return
    for f in LINK_FIELDS:
        if f in row:
            line[f] = row[f]
    kind, nbr = line.get("InvoiceType") or "Invoice", line.get("InvoiceNbr")
    inv = store.invoices.get((kind, str(nbr))) if nbr else None
    if inv is None:
        add("InvoiceNbr", "'Invoice Nbr.' cannot be found in the system.")  # type: ignore[operator]
        return
    src = next((x for x in inv["lines"] if x["LineNbr"] == line.get("InvoiceLineNbr")), None)
    if src is None or src["InventoryID"] != line["InventoryID"]:
        add("InvoiceLineNbr", MSG_NOT_ON_INVOICE.format(line.get("InvoiceLineNbr"), kind, nbr))  # type: ignore[operator]


def check_returned(store: Store, o: Rec) -> str | None:
    """The first invoice line returned beyond what it invoiced, as a message (None when all fit)."""
    for ln in o["lines"]:
        if not ln.get("InvoiceNbr"):
            continue
        key = (ln.get("InvoiceType") or "Invoice", str(ln["InvoiceNbr"]))
        inv = store.invoices.get(key)
        src = next((x for x in inv["lines"] if x["LineNbr"] == ln.get("InvoiceLineNbr")), None) if inv else None
        if src is None:
            continue
        returned: Decimal = sum((y["OrderQty"] for _, other in store.orders.raw_items()
                                 if is_return(other) and other["Status"] != "Canceled" for y in other["lines"]
                                 if (y.get("InvoiceType") or "Invoice", str(y.get("InvoiceNbr"))) == key
                                 and y.get("InvoiceLineNbr") == ln.get("InvoiceLineNbr")), ZERO)
        if returned > src["Qty"]:
            return MSG_RETURN_QTY.format(ln["InventoryID"], key[0], key[1], src["Qty"], returned)
    return None


def order_create_receipt(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    """SalesOrderCreateReceipt: a Receipt for the open quantities of an RC order."""
    if not is_return(o):
        raise ActionRefused(f"The Create Receipt action cannot be performed because the order type {o['OrderType']} "
                            "does not return goods.")
    if o["Status"] not in ("Open", "Back Order"):
        raise ActionRefused(f"The Create Receipt action cannot be performed because the order has the "
                            f"{o['Status']} status.")
    wh = params.get("WarehouseID")
    lines = [(ln, ln["OrderQty"] - store.qty_on_shipments(o, ln["LineNbr"])) for ln in o["lines"]
             if not ln.get("Completed") and (wh is None or ln["WarehouseID"] == wh)
             and ln.get("LineType", pricing.GOODS) == pricing.GOODS]  # non-stock lines are not received
    lines = [(ln, q) for ln, q in lines if q > 0]
    if not lines:
        raise ActionRefused("The receipt cannot be created because the order has no lines to receive.")
    nbr = store.next_number("shipment")
    receipt: Rec = {"id": new_id(), "ShipmentNbr": nbr, "Type": "Receipt", "Operation": "Receipt", "Status": "Open",
                    "Hold": False, "CustomerID": o["CustomerID"], "LocationID": o["LocationID"],
                    "ShipmentDate": parse_datetime(params["ShipmentDate"]) if params.get("ShipmentDate") else day(now),
                    "WarehouseID": wh or lines[0][0]["WarehouseID"], "ShipVia": o["ShipVia"], "FreightPrice": ZERO,
                    "CreatedDateTime": now, "LastModifiedDateTime": now, "note": None, "custom": {},
                    "invoice": None, "packages": [], "lines": []}
    for i, (ln, q) in enumerate(lines, start=1):
        item = store.items[ln["InventoryID"]]
        receipt["lines"].append({
            "id": new_id(), "LineNbr": i, "OrderType": o["OrderType"], "OrderNbr": o["OrderNbr"],
            "OrderLineNbr": ln["LineNbr"], "InventoryID": ln["InventoryID"], "Description": ln["LineDescription"],
            "ShippedQty": q, "OrderedQty": ln["OrderQty"], "UOM": ln["UOM"], "WarehouseID": ln["WarehouseID"],
            "LocationID": item["warehouses"].get(ln["WarehouseID"], {}).get("Location")})
    store.shipments[nbr] = receipt
    o["Status"] = "Shipping"
