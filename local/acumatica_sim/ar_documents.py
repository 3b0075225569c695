"""Accounts receivable credit memos (Invoices and Memos, AR301000; the Default 24.200.001 ``Invoice`` entity).

An AR credit memo is an ARInvoice like the SO documents (one table: ``store.invoices``, so the invoice push query,
over AR documents, shows it as it shows a SO credit memo entered on its own: one row without order columns), but
entered in Accounts Receivable:
- ``Invoice`` fields, not ``SalesInvoice``'s: ``Customer`` (not CustomerID), ``Details`` of ``InvoiceDetail``
  (``InventoryID`` optional: a line may be an amount only, ``TransactionDescription``, ``Qty``, ``UnitPrice``,
  ``Amount``, ``TaxCategory``; no link to an original document line in the contract), ``ApplicationsCreditMemo``
  (the documents the credit memo is applied to: ``DocType``, ``ReferenceNbr``, ``AmountPaid``);
- it moves no goods: releasing it (``ReleaseInvoice``) touches no stock, unlike a SO credit memo's release;
- an application must name an existing released document of the same customer; AmountPaid defaults to the
  smaller of the credit memo's amount and the document's balance and may not exceed either.
Assumptions where the contract is silent (written down in docs/local.md): the wording of the application
refusals, and that applying a credit memo does not lower the SO invoice's ``Balance`` shown by ``SalesInvoice``
(the simulator's balances come from payments only).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim.errors import ActionRefused
from acumatica_sim.model import ZERO, Rec, Store, new_id
from acumatica_sim.values import day, money, to_decimal

MODULE = "AR"
MSG_ONLY_NEW_CREDIT_MEMOS = ("Creating or updating Invoice records other than a new Credit Memo is not supported by "
                             "the simulator.")
MSG_APPLIED_TOO_MUCH = "The amount paid cannot exceed the balance of the document {} {} ({})."
MSG_APPLICATION_CUSTOMER = "The document {} {} belongs to another customer."
MSG_NOT_RELEASED = "The document {} {} is not released."


def is_ar(inv: Rec) -> bool:
    return inv.get("module") == MODULE


def upsert_credit_memo(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    """PUT Invoice: a new AR credit memo with its lines and its applications; Balanced until ReleaseInvoice."""
    from acumatica_sim.documents import NOT_FOUND, Errors

    if existing is not None or (body.get("Type") or "Invoice") != "Credit Memo":
        raise ActionRefused(MSG_ONLY_NEW_CREDIT_MEMOS)
    errs = Errors()
    customer = str(body.get("Customer") or "").strip().upper()
    if not customer:
        errs.add("Customer", "'Customer' cannot be empty.")
    elif customer not in store.customers:
        errs.add("Customer", NOT_FOUND.format("Customer"))
    inv: Rec = {"id": new_id(), "Type": "Credit Memo", "ReferenceNbr": "", "Status": "Balanced", "Hold": False,
                "Date": day(now), "DueDate": day(now), "CustomerID": customer, "module": MODULE,
                "CustomerOrder": body.get("CustomerOrder"), "Description": body.get("Description"),
                "Currency": "USD", "CreatedDate": now, "LastModifiedDateTime": now, "note": None, "custom": {},
                "released": False, "FreightPrice": ZERO, "lines": [], "ExternalRef": None, "applications": []}
    _lines(store, inv, body.get("Details") or [], errs)
    if not inv["lines"] and not errs.fields:
        errs.entity = "The document cannot be saved because it has no lines."
    _applications(store, inv, body.get("ApplicationsCreditMemo") or [], errs)
    errs.raise_if_any()
    inv["ReferenceNbr"] = nbr = store.next_number("invoice")  # numbered once it saves
    store.invoices[("Credit Memo", nbr)] = inv
    return inv


def _lines(store: Store, inv: Rec, rows: list[Rec], errs: Any) -> None:
    """The credit memo's lines: an item (stock or non-stock) with its quantity and price, or an amount only."""
    from acumatica_sim.documents import NOT_FOUND

    for i, row in enumerate(rows, start=1):
        path = f"Details/{i - 1}/"
        item_id = str(row.get("InventoryID") or "").strip().upper() or None
        item = (store.items.get(item_id) or store.nonstock.get(item_id)) if item_id else None
        if item_id and item is None:
            errs.add(path + "InventoryID", NOT_FOUND.format("Inventory ID"))
            continue
        try:
            qty = to_decimal(row.get("Qty") if row.get("Qty") is not None else 1)
            price = to_decimal(row["UnitPrice"]) if row.get("UnitPrice") is not None else \
                (item["DefaultPrice"] if item else ZERO)
            amount = money(to_decimal(row["Amount"])) if row.get("Amount") is not None else money(qty * price)
        except ValueError as e:
            errs.add(path + "Qty", str(e))
            continue
        if qty < 0 or amount < 0:
            errs.add(path + ("Qty" if qty < 0 else "Amount"), "The value must be greater than or equal to 0.")
            continue
        inv["lines"].append({
            "id": new_id(), "LineNbr": i, "InventoryID": item["InventoryID"] if item else None,
            "TransactionDescr": row.get("TransactionDescription") or (item or {}).get("Description"),
            "Qty": qty, "UOM": (item or {}).get("BaseUOM"), "UnitPrice": price, "DiscountAmount": ZERO,
            "Amount": amount, "OrderType": None, "OrderNbr": None, "OrderLineNbr": None, "ShipmentNbr": None,
            "WarehouseID": None, "Location": None, "BranchID": None,
            "TaxCategory": row.get("TaxCategory") or (item or {}).get("TaxCategory")})


def _applications(store: Store, inv: Rec, rows: list[Rec], errs: Any) -> None:
    """The Applications tab: released documents of the customer, each paid no more than its balance, all of them
    no more than the credit memo's amount."""
    from acumatica_sim.documents import NOT_FOUND

    left = store.invoice_amount(inv)
    for i, row in enumerate(rows):
        path = f"ApplicationsCreditMemo/{i}/"
        key = (str(row.get("DocType") or "Invoice"), str(row.get("ReferenceNbr") or ""))
        doc = store.invoices.get(key)
        if doc is None or doc is inv:
            errs.add(path + "ReferenceNbr", NOT_FOUND.format("Reference Nbr."))
            continue
        if doc["CustomerID"] != inv["CustomerID"]:
            errs.add(path + "ReferenceNbr", MSG_APPLICATION_CUSTOMER.format(*key))
            continue
        if not doc["released"]:
            errs.add(path + "ReferenceNbr", MSG_NOT_RELEASED.format(*key))
            continue
        balance = store.invoice_totals(doc)["Balance"] - applied_to(store, key)
        paid = money(to_decimal(row["AmountPaid"])) if row.get("AmountPaid") is not None else min(left, balance)
        if paid < 0 or paid > balance or paid > left:
            errs.add(path + "AmountPaid", MSG_APPLIED_TOO_MUCH.format(key[0], key[1], min(balance, left)))
            continue
        left -= paid
        inv["applications"].append({"id": new_id(), "DocType": key[0], "ReferenceNbr": key[1], "AmountPaid": paid})
        inv["CustomerOrder"] = inv["CustomerOrder"] or doc.get("CustomerOrder")


def applied_to(store: Store, key: tuple[str, str]) -> Decimal:
    """What AR credit memos have applied to document ``key``."""
    return sum((a["AmountPaid"] for _, inv in store.invoices.raw_items() if is_ar(inv)
                for a in inv.get("applications") or [] if (a["DocType"], a["ReferenceNbr"]) == key), ZERO)


def release(store: Store, inv: Rec, params: Rec, now: datetime) -> None:
    """ReleaseInvoice: the AR credit memo posts (Open, or Closed when fully applied); no stock moves."""
    if inv["Status"] != "Balanced":
        raise ActionRefused(f"The document cannot be released because it has the {inv['Status']} status.")
    inv["released"] = True
    applied = sum((a["AmountPaid"] for a in inv.get("applications") or []), ZERO)
    inv["Status"] = "Closed" if applied >= store.invoice_amount(inv) else "Open"
    inv["LastModifiedDateTime"] = now


def invoice_tree(store: Store, inv: Rec) -> dict[str, Any]:
    """The ``Invoice`` entity's view of an AR document (AR301000)."""
    t = store.invoice_totals(inv)
    applied = sum((a["AmountPaid"] for a in inv.get("applications") or []), ZERO)
    apps = []
    for a in inv.get("applications") or []:
        doc = store.invoices.get((a["DocType"], a["ReferenceNbr"])) or {}
        apps.append({"id": a["id"], "DocType": a["DocType"], "ReferenceNbr": a["ReferenceNbr"],
                     "AmountPaid": a["AmountPaid"], "Status": doc.get("Status"), "Customer": doc.get("CustomerID"),
                     "CustomerOrder": doc.get("CustomerOrder"), "Description": doc.get("Description"),
                     "Balance": (store.invoice_totals(doc)["Balance"] - applied_to(store, (a["DocType"],
                                                                                           a["ReferenceNbr"])))
                     if doc else ZERO})
    details = [{"id": ln["id"], "LineNbr": ln["LineNbr"], "InventoryID": ln["InventoryID"],
                "TransactionDescription": ln.get("TransactionDescr"), "Qty": ln["Qty"], "UOM": ln.get("UOM"),
                "UnitPrice": ln["UnitPrice"], "ExtendedPrice": money(ln["Qty"] * ln["UnitPrice"]),
                "DiscountAmount": ln.get("DiscountAmount") or ZERO, "Amount": ln["Amount"],
                "TaxCategory": ln.get("TaxCategory"), "LastModifiedDateTime": inv["LastModifiedDateTime"]}
               for ln in inv["lines"]]
    return {"id": inv["id"], "note": inv.get("note"), "custom": inv.get("custom") or {},
            "Type": inv["Type"], "ReferenceNbr": inv["ReferenceNbr"], "Status": inv["Status"], "Hold": inv["Hold"],
            "Date": inv["Date"], "DueDate": inv["DueDate"], "Customer": inv["CustomerID"],
            "CustomerOrder": inv.get("CustomerOrder"), "Description": inv.get("Description"),
            "Amount": t["Amount"], "Balance": t["Amount"] - applied if is_ar(inv) else t["Balance"],
            "TaxTotal": t["TaxTotal"], "CreatedDateTime": inv["CreatedDate"],
            "LastModifiedDateTime": inv["LastModifiedDateTime"], "Details": details,
            "ApplicationsCreditMemo": apps if inv["Type"] == "Credit Memo" else []}
