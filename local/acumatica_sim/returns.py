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
The CR order type (behaviour "Credit Memo", "Require Shipment" off) has the same Receipt lines and invoice links but
no receipt: ``PrepareSalesInvoice`` bills the order at once with a SO invoice of type Credit Memo (lines carry
``OrderType``/``OrderNbr``/``OrderLineNbr``), and releasing it receives the stock lines back on hand in their
warehouse and completes the order (``credit_memo_from_order``, ``release_credit_memo_order``).
Assumptions where the contract is silent: the RC numbering format (``RC000001``) and the wording of the two
refusals below (the quantity and the wrong-item one) are this simulator's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from acumatica_sim import manual_tax, pricing
from acumatica_sim.errors import ActionRefused
from acumatica_sim.model import ZERO, Rec, Store, new_id
from acumatica_sim.values import day, parse_datetime

RETURN_ORDER_TYPES = frozenset({"RC", "CR"})
RECEIPT_ORDER_TYPES = frozenset({"RC"})  # "Require Shipment": the goods come back through a receipt
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
    if str(o.get("OrderType")) not in RECEIPT_ORDER_TYPES:
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
    ship_date = parse_datetime(params["ShipmentDate"]) if params.get("ShipmentDate") else day(now)
    store.add_shipment(o, lines, kind="Receipt", operation="Receipt", ship_date=ship_date, warehouse=wh,
                       freight=ZERO, now=now)


def credit_memo_from_order(store: Store, o: Rec, now: datetime) -> Rec:
    """PrepareSalesInvoice on a CR order: a SO invoice of type Credit Memo for its lines (no receipt first)."""
    if o["Status"] not in ("Open",) or o.get("invoiced"):
        raise ActionRefused(f"The Prepare Invoice action cannot be performed because the order has the "
                            f"{o['Status']} status.")
    nbr = store.next_number("invoice")
    inv: Rec = {"id": new_id(), "Type": "Credit Memo", "ReferenceNbr": nbr, "Status": "Balanced", "Hold": False,
                "Date": day(now), "DueDate": day(now), "CustomerID": o["CustomerID"],
                "CustomerOrder": o.get("CustomerOrder"), "Description": o.get("Description"), "Currency": "USD",
                "CreatedDate": now, "LastModifiedDateTime": now, "note": None, "custom": {}, "released": False,
                "FreightPrice": o["ShippingSettings"]["FreightPrice"], "lines": [], "ExternalRef": None}
    for i, ln in enumerate(o["lines"], start=1):
        _, disc, amount = store.line_amounts(ln)
        inv["lines"].append({
            "id": new_id(), "LineNbr": i, "InventoryID": ln["InventoryID"], "TransactionDescr": ln["LineDescription"],
            "Qty": ln["OrderQty"], "UOM": ln["UOM"], "UnitPrice": ln["UnitPrice"], "DiscountAmount": disc,
            "Amount": amount, "OrderType": o["OrderType"], "OrderNbr": o["OrderNbr"], "OrderLineNbr": ln["LineNbr"],
            "ShipmentNbr": None, "WarehouseID": ln["WarehouseID"], "Location": None,
            "TaxCategory": ln["TaxCategory"], "BranchID": o["Branch"]})
    inv["taxes"] = manual_tax.invoice_taxes({(o["OrderType"], o["OrderNbr"]): o}, inv["lines"],
                                            lambda ln: store.line_amounts(ln)[2])
    store.invoices[("Credit Memo", nbr)] = inv
    o["invoiced"], o["Status"] = True, "Invoiced"
    return inv


def release_credit_memo_order(store: Store, inv: Rec) -> None:
    """Releasing a credit memo billed without a receipt (a CR order's, or one entered on its own): its stock lines
    back on hand in their warehouse (the IN receipt the release makes), the CR order Completed."""
    for ln in inv["lines"]:
        if ln.get("ShipmentNbr") or (ln.get("OrderNbr") and ln.get("OrderType") not in RETURN_ORDER_TYPES):
            continue
        item = store.items.get(ln["InventoryID"])
        if item is not None and ln.get("WarehouseID") in item["warehouses"]:
            item["warehouses"][ln["WarehouseID"]]["QtyOnHand"] += ln["Qty"]
        o = store.orders.get((ln["OrderType"], ln["OrderNbr"])) if ln.get("OrderNbr") else None
        if o is not None:
            o["Status"] = "Completed"


ORIG_FIELDS = ("OrigInvType", "OrigInvNbr", "OrigInvLineNbr")
MSG_ONLY_CREDIT_MEMOS = "Creating or updating SalesInvoice records other than a new Credit Memo is not supported by " \
                        "the simulator."


def _returned_against(store: Store, key: tuple[str, str], line_nbr: object) -> Decimal:
    """Units already returned against an invoice line: return orders' lines (canceled ones aside) and the lines of
    credit memos entered on their own."""
    by_orders: Decimal = sum((y["OrderQty"] for _, o in store.orders.raw_items()
                              if is_return(o) and o["Status"] != "Canceled" for y in o["lines"]
                              if (y.get("InvoiceType") or "Invoice", str(y.get("InvoiceNbr"))) == key
                              and y.get("InvoiceLineNbr") == line_nbr), ZERO)
    by_memos: Decimal = sum((y["Qty"] for _, inv in store.invoices.raw_items() if inv["Type"] == "Credit Memo"
                             for y in inv["lines"] if (y.get("OrigInvType") or "Invoice", str(y.get("OrigInvNbr")))
                             == key and y.get("OrigInvLineNbr") == line_nbr), ZERO)
    return by_orders + by_memos


def upsert_credit_memo(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    """PUT SalesInvoice of type Credit Memo (Invoices, SO303000, entered on its own): each line may name the
    original invoice line it credits (``OrigInvType``/``OrigInvNbr``/``OrigInvLineNbr``): the invoice line must
    exist with the same item, and no more units may be credited against it than it invoiced; the price and
    warehouse default to the original line's. Balanced until ``ReleaseSalesInvoice``."""
    from acumatica_sim.documents import NOT_FOUND, Errors
    from acumatica_sim.values import money, to_decimal

    if existing is not None or (body.get("Type") or "Invoice") != "Credit Memo":
        raise ActionRefused(MSG_ONLY_CREDIT_MEMOS)
    errs = Errors()
    customer = str(body.get("CustomerID") or "").strip().upper()
    if customer not in store.customers:
        errs.add("CustomerID", NOT_FOUND.format("Customer"))
    inv: Rec = {"id": new_id(), "Type": "Credit Memo", "ReferenceNbr": "", "Status": "Balanced", "Hold": False,
                "Date": day(now), "DueDate": day(now), "CustomerID": customer,
                "CustomerOrder": body.get("CustomerOrder"), "Description": body.get("Description"),
                "Currency": "USD", "CreatedDate": now, "LastModifiedDateTime": now, "note": None, "custom": {},
                "released": False, "FreightPrice": ZERO, "lines": [], "ExternalRef": body.get("ExternalRef")}
    for i, row in enumerate(body.get("Details") or [], start=1):
        path = f"Details/{i - 1}/"
        item_id = str(row.get("InventoryID") or "").strip().upper()
        if item_id not in store.items:
            errs.add(path + "InventoryID", NOT_FOUND.format("Inventory ID"))
            continue
        qty = to_decimal(row.get("Qty") or 0)
        if qty <= 0:
            errs.add(path + "Qty", "The quantity must be greater than 0.")
            continue
        src = None
        if any(f in row for f in ORIG_FIELDS):
            key = (str(row.get("OrigInvType") or "Invoice"), str(row.get("OrigInvNbr")))
            orig = store.invoices.get(key)
            if orig is None:
                errs.add(path + "OrigInvNbr", NOT_FOUND.format("Orig. Inv. Nbr."))
                continue
            src = next((x for x in orig["lines"] if x["LineNbr"] == row.get("OrigInvLineNbr")), None)
            if src is None or src["InventoryID"] != item_id:
                errs.add(path + "OrigInvLineNbr", MSG_NOT_ON_INVOICE.format(row.get("OrigInvLineNbr"), *key))
                continue
            returned = _returned_against(store, key, src["LineNbr"]) + qty
            if returned > src["Qty"]:
                errs.entity = MSG_RETURN_QTY.format(item_id, key[0], key[1], src["Qty"], returned)
            inv["CustomerOrder"] = inv["CustomerOrder"] or orig.get("CustomerOrder")
        price = to_decimal(row["UnitPrice"]) if row.get("UnitPrice") is not None else \
            (src["UnitPrice"] if src else ZERO)
        warehouse = row.get("WarehouseID") or (src.get("WarehouseID") if src else None)
        inv["lines"].append({
            "id": new_id(), "LineNbr": i, "InventoryID": item_id, "TransactionDescr": row.get("TransactionDescr"),
            "Qty": qty, "UOM": store.items[item_id].get("BaseUOM"), "UnitPrice": price, "DiscountAmount": ZERO,
            "Amount": money(qty * price), "OrderType": None, "OrderNbr": None, "OrderLineNbr": None,
            "ShipmentNbr": None, "WarehouseID": warehouse, "Location": None,
            "TaxCategory": src.get("TaxCategory") if src else None, "BranchID": src.get("BranchID") if src else None,
            **{f: (row.get(f) if f != "OrigInvType" else row.get(f) or "Invoice") for f in ORIG_FIELDS
               if src is not None}})
    if not inv["lines"] and not errs.fields:
        errs.entity = "The document cannot be saved because it has no lines."
    errs.raise_if_any()
    inv["ReferenceNbr"] = nbr = store.next_number("invoice")  # numbered once it saves
    store.invoices[("Credit Memo", nbr)] = inv
    return inv
