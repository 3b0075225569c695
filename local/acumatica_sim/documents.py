"""Business logic: create/update records from unwrapped PUT bodies and run the endpoint actions.

Every function runs inside a transaction (see ``app.py``), mutates the store, and raises
``ValidationFailed`` (422 with field errors) or ``ActionRefused`` (422 with a message); the caller rolls back.

Assumptions (the contract is silent, behaviour modelled on Acumatica):
- Detail rows sent without ``id`` are *inserted* (Acumatica does not match lines by LineNbr on PUT);
  ``{"id": ..., "delete": true}`` removes a line.
- Completed/Canceled orders accept changes only to Description, ExternalRef, CustomerOrder, note and custom fields.
- Creating an order with an OrderNbr that does not exist assigns the next auto number of its type (SO and the
  custom type ST, each from a numbering sequence of its own in the same format: they can issue the same number).
- ConfirmShipment: order lines get ShippedQty; the order becomes Completed when every line is fully shipped,
  otherwise Back Order. On hand decreases at confirmation (Acumatica's "Update IN" runs with it here).
- Payments reduce the order's UnpaidBalance only once released; on invoice release, released payments applied
  to the invoiced orders are transferred to the invoice (invoice Closed when its balance reaches 0; payment
  Closed when fully applied to documents).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim import manual_tax, pricing, returns
from acumatica_sim.config import (
    BRANCH,
    BRANCHES,
    COUNTRIES,
    CURRENCY_RATES,
    CUSTOMER_CLASSES,
    ORDER_TYPES,
    PAYMENT_METHODS,
    TAX_RATES,
)
from acumatica_sim.errors import ActionRefused, ValidationFailed
from acumatica_sim.model import ZERO, OrderKey, Rec, Store, new_id, order_keys
from acumatica_sim.values import day, money, parse_datetime, to_decimal

NOT_FOUND = "'{}' cannot be found in the system."
ADDRESS_FIELDS = ("AddressLine1", "AddressLine2", "City", "State", "PostalCode", "Country")
DOC_CONTACT_FIELDS = ("Attention", "BusinessName", "Email", "Phone1")
CONTACT_FIELDS = ("FirstName", "LastName", "DisplayName", "CompanyName", "Attention", "Email", "Phone1")
TEXT_ONLY_FIELDS = frozenset({"Description", "ExternalRef", "CustomerOrder", "note", "custom", "OrderType", "OrderNbr",
                              "id"})


class Errors:
    """Collects field errors; ``raise_if_any`` raises ValidationFailed."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.entity: str | None = None

    def add(self, path: str, msg: str) -> None:
        self.fields.setdefault(path, msg)

    def raise_if_any(self) -> None:
        if self.fields or self.entity:
            raise ValidationFailed(self.fields, self.entity)


def _dec(body: Rec, key: str, errs: Errors, path: str) -> Decimal | None:
    if body.get(key) is None:
        return None
    try:
        return to_decimal(body[key])
    except ValueError as e:
        errs.add(path + key, str(e))
        return None


def _date(body: Rec, key: str, errs: Errors, path: str = "") -> datetime | None:
    if body.get(key) is None:
        return None
    try:
        return parse_datetime(body[key])
    except ValueError as e:
        errs.add(path + key, str(e))
        return None


def _merge_custom(rec: Rec, body: Rec) -> None:
    for view, fields in (body.get("custom") or {}).items():
        if isinstance(fields, dict):
            rec.setdefault("custom", {}).setdefault(view, {}).update(copy.deepcopy(fields))


def _merge_address(target: Rec, patch: Any, errs: Errors, path: str) -> None:
    if not isinstance(patch, dict):
        return
    for f in ADDRESS_FIELDS:
        if f in patch:
            target[f] = patch[f]
    country = target.get("Country")
    if "Country" in patch and country is not None and str(country).upper() not in COUNTRIES:
        errs.add(path + "Country", NOT_FOUND.format("Country"))


# ======================================================================================== customers
def upsert_customer(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    errs = Errors()
    if existing is None:
        cid = (body.get("CustomerID") or "").strip() or store.next_number("customer")
        rec: Rec = {"id": new_id(), "CustomerID": cid.upper(), "CustomerName": None, "CustomerClass": "DEFAULT",
                    "Status": "Active", "CurrencyID": "USD", "Terms": "30D", "ShipVia": None, "TaxZone": None,
                    "PriceClassID": None, "LocationName": "Primary Location", "DefaultLocationID": "MAIN",
                    "CreatedDateTime": now, "LastModifiedDateTime": now, "note": None, "custom": {},
                    "MainContact": _empty_contact(), "BillingContact": _empty_contact(),
                    "ShippingContact": _empty_contact(), "BillingContactOverride": False,
                    "ShippingContactOverride": False}
        store.customers[rec["CustomerID"]] = rec
    else:
        rec = existing
    for f in ("CustomerName", "CustomerClass", "Status", "CurrencyID", "Terms", "ShipVia", "TaxZone", "PriceClassID"):
        if f in body:
            rec[f] = body[f]
    if "note" in body:
        rec["note"] = body["note"]
    _merge_custom(rec, body)
    _customer_contacts(rec, body, errs)
    _validate_customer(store, rec, body, errs)
    errs.raise_if_any()
    return rec


def _empty_contact() -> Rec:
    return {"id": new_id(), **dict.fromkeys(CONTACT_FIELDS),
            "Address": {"id": new_id(), **dict.fromkeys(ADDRESS_FIELDS)}}


def _customer_contacts(rec: Rec, body: Rec, errs: Errors) -> None:
    if body.get("Email") is not None:
        rec["MainContact"]["Email"] = body["Email"]
    for flag in ("BillingContactOverride", "ShippingContactOverride"):
        if flag in body:
            rec[flag] = bool(body[flag])
    for name in ("MainContact", "BillingContact", "ShippingContact"):
        patch = body.get(name)
        if not isinstance(patch, dict):
            continue
        if name != "MainContact":
            rec[name.replace("Contact", "ContactOverride")] = True
        for f in CONTACT_FIELDS:
            if f in patch:
                rec[name][f] = patch[f]
        _merge_address(rec[name]["Address"], patch.get("Address"), errs, f"{name}/Address/")
    main = rec["MainContact"]
    if not main.get("DisplayName"):
        main["DisplayName"] = " ".join(x for x in (main.get("FirstName"), main.get("LastName")) if x) or None
    for name in ("BillingContact", "ShippingContact"):
        if not rec[name.replace("Contact", "ContactOverride")]:
            rec[name] = {**{k: v for k, v in main.items() if k != "Address"}, "id": rec[name]["id"],
                         "Address": {**main["Address"], "id": rec[name]["Address"]["id"]}}


def _validate_customer(store: Store, rec: Rec, body: Rec, errs: Errors) -> None:
    if not (rec.get("CustomerName") or "").strip():
        errs.add("CustomerName", "'Customer Name' cannot be empty.")
    if rec.get("CustomerClass") not in CUSTOMER_CLASSES:
        errs.add("CustomerClass", NOT_FOUND.format("Customer Class"))
    if rec.get("Status") not in ("Active", "On Hold", "Credit Hold", "Inactive", "One-Time"):
        errs.add("Status", f"'{rec.get('Status')}' is not a valid value for the 'Status' field.")
    if rec.get("ShipVia") is not None and rec["ShipVia"] not in store.shipvias:
        errs.add("ShipVia", NOT_FOUND.format("Ship Via"))
    email = rec["MainContact"].get("Email")
    if email and "@" not in str(email):
        errs.add("MainContact/Email" if "MainContact" in body else "Email", "The email address is not valid.")


# ======================================================================================== stock items
def upsert_item(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    errs = Errors()
    if existing is None:
        iid = (body.get("InventoryID") or "").strip().upper()
        if not iid:
            errs.add("InventoryID", "'Inventory ID' cannot be empty.")
            errs.raise_if_any()
        rec: Rec = {"id": new_id(), "InventoryID": iid, "Description": None, "ItemStatus": "Active",
                    "ItemClass": "STOCKITEM", "ItemType": "Finished Good", "BaseUOM": "EA", "SalesUOM": "EA",
                    "PurchaseUOM": "EA", "DefaultPrice": ZERO, "DefaultWarehouseID": "RETAIL", "TaxCategory": "EXEMPT",
                    "LastModified": now, "CreatedDate": now, "note": None, "custom": {}, "warehouses": {}}
        store.items[iid] = rec
    else:
        rec = existing
    for f in ("Description", "ItemStatus", "ItemClass", "BaseUOM", "SalesUOM", "PurchaseUOM", "DefaultWarehouseID",
              "TaxCategory"):
        if f in body:
            rec[f] = body[f]
    price = _dec(body, "DefaultPrice", errs, "")
    if price is not None:
        rec["DefaultPrice"] = price
    if "note" in body:
        rec["note"] = body["note"]
    _merge_custom(rec, body)
    for i, row in enumerate(body.get("WarehouseDetails") or []):
        wh = row.get("WarehouseID")
        if wh not in store.warehouses:
            errs.add(f"WarehouseDetails/{i}/WarehouseID", NOT_FOUND.format("Warehouse"))
        elif wh not in rec["warehouses"]:  # QtyOnHand is read-only (comes from inventory documents)
            rec["warehouses"][wh] = {"id": new_id(), "QtyOnHand": ZERO,
                                     "Location": store.warehouses[wh]["Locations"][0]}
    if rec["DefaultWarehouseID"] not in store.warehouses:
        errs.add("DefaultWarehouseID", NOT_FOUND.format("Default Warehouse"))
    if rec.get("TaxCategory") not in TAX_RATES:
        errs.add("TaxCategory", NOT_FOUND.format("Tax Category"))
    errs.raise_if_any()
    rec["warehouses"].setdefault(rec["DefaultWarehouseID"], {
        "id": new_id(), "QtyOnHand": ZERO, "Location": store.warehouses[rec["DefaultWarehouseID"]]["Locations"][0]})
    return rec


# ======================================================================================== sales orders
def upsert_order(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    errs = Errors()
    if existing is None:
        rec = _new_order(store, body, now, errs)
    else:
        rec = existing
        if rec["Status"] in ("Completed", "Canceled") and set(body) - TEXT_ONLY_FIELDS:
            raise ActionRefused(f"The document cannot be modified because it has the {rec['Status']} status.")
        if body.get("CustomerID") not in (None, rec["CustomerID"]):
            _set_customer(store, rec, body["CustomerID"], errs)
    _order_header(store, rec, body, errs)
    _order_lines(store, rec, body.get("Details"), errs)
    _order_hold(rec, body)
    if returns.is_return(rec) and (over := returns.check_returned(store, rec)):
        errs.entity = over
    errs.raise_if_any()
    return rec


def _new_order(store: Store, body: Rec, now: datetime, errs: Errors) -> Rec:
    otype = (body.get("OrderType") or "SO").strip().upper()
    if otype not in ORDER_TYPES:
        errs.add("OrderType", NOT_FOUND.format("Order Type"))
        errs.raise_if_any()
    rec: Rec = {"id": new_id(), "OrderType": otype, "OrderNbr": store.next_number(otype), "Status": "Open",
                "Hold": False, "Approved": True, "CreditHold": False, "Date": day(now), "RequestedOn": day(now),
                "CustomerID": None, "LocationID": None, "ContactID": None, "Description": None, "CustomerOrder": None,
                "ExternalRef": None, "CurrencyID": "USD", "ShipVia": None, "PaymentMethod": None, "PaymentRef": None,
                "Branch": BRANCH, "LastModified": now, "CreatedDate": now, "note": None, "custom": {},
                "HeaderDiscount": ZERO, "BillToAddressOverride": False, "ShipToAddressOverride": False,
                "BillToContactOverride": False, "ShipToContactOverride": False,
                "BillToAddress": {"id": new_id()}, "ShipToAddress": {"id": new_id()},
                "BillToContact": {"id": new_id()}, "ShipToContact": {"id": new_id()},
                "ShippingSettings": {"id": new_id(), "ShipVia": None, "FreightPrice": ZERO, "ShippingTerms": None,
                                     "ShippingZone": None, "ShippingRule": "Back Order Allowed",
                                     "ScheduledShipmentDate": day(now), "ShipSeparately": False, "Canceled": False},
                "lines": []}
    if not body.get("CustomerID"):
        errs.add("CustomerID", "'Customer' cannot be empty.")
        errs.raise_if_any()
    _set_customer(store, rec, body["CustomerID"], errs)
    store.orders[(otype, rec["OrderNbr"])] = rec
    return rec


def _set_customer(store: Store, rec: Rec, cid: str, errs: Errors) -> None:
    cust = store.customers.get(str(cid).strip().upper())
    if cust is None:
        errs.add("CustomerID", NOT_FOUND.format("Customer"))
        errs.raise_if_any()
        return
    rec["CustomerID"] = cust["CustomerID"]
    rec["LocationID"] = cust.get("DefaultLocationID", "MAIN")
    rec["ContactID"] = None
    if cust.get("ShipVia"):
        rec["ShipVia"] = rec["ShippingSettings"]["ShipVia"] = cust["ShipVia"]
    for side, src in (("Bill", cust["BillingContact"]), ("Ship", cust["ShippingContact"])):
        rec[f"{side}ToAddress"] = {"id": rec[f"{side}ToAddress"]["id"],
                                   **{f: src["Address"].get(f) for f in ADDRESS_FIELDS}}
        rec[f"{side}ToContact"] = {"id": rec[f"{side}ToContact"]["id"], "Attention": src.get("Attention"),
                                   "BusinessName": cust["CustomerName"], "Email": src.get("Email"),
                                   "Phone1": src.get("Phone1")}


def _order_branch(rec: Rec, value: Any, errs: Errors) -> None:
    """Branch is a selector over the tenant's branches (any case); an unknown one is refused on the field."""
    branch = str(value or "").strip().upper()
    if not branch:
        errs.add("Branch", "'Branch' cannot be empty.")
    elif branch not in BRANCHES:
        errs.add("Branch", NOT_FOUND.format("Branch"))
    else:
        rec["Branch"] = branch


def _order_header(store: Store, rec: Rec, body: Rec, errs: Errors) -> None:
    for f in ("LocationID", "ContactID", "Description", "CustomerOrder", "ExternalRef", "PaymentMethod", "PaymentRef",
              "Branch", "note"):
        if f in body:
            rec[f] = body[f]
    if "Branch" in body:
        _order_branch(rec, body["Branch"], errs)
    for f in ("Date", "RequestedOn"):
        d = _date(body, f, errs)
        if d is not None:
            rec[f] = d
    _order_amounts(rec, body, errs)
    if body.get("PaymentMethod") is not None and body["PaymentMethod"] not in PAYMENT_METHODS:
        errs.add("PaymentMethod", NOT_FOUND.format("Payment Method"))
    if "ShipVia" in body:
        rec["ShipVia"] = rec["ShippingSettings"]["ShipVia"] = body["ShipVia"]
    _merge_custom(rec, body)
    _order_shipping(rec, body.get("ShippingSettings"), errs)
    if rec["ShipVia"] is not None and rec["ShipVia"] not in store.shipvias:
        errs.add("ShipVia", NOT_FOUND.format("Ship Via"))
    for side in ("Bill", "Ship"):
        addr = body.get(f"{side}ToAddress")
        if isinstance(addr, dict):
            rec[f"{side}ToAddressOverride"] = True
            _merge_address(rec[f"{side}ToAddress"], addr, errs, f"{side}ToAddress/")
        contact = body.get(f"{side}ToContact")
        if isinstance(contact, dict):
            rec[f"{side}ToContactOverride"] = True
            rec[f"{side}ToContact"].update({f: contact[f] for f in DOC_CONTACT_FIELDS if f in contact})


def _order_amounts(rec: Rec, body: Rec, errs: Errors) -> None:
    """Currency, tax calculation mode and document discounts (pricing.py)."""
    if body.get("CurrencyID") is not None:
        if body["CurrencyID"] not in CURRENCY_RATES:
            errs.add("CurrencyID", NOT_FOUND.format("Currency"))
        else:
            rec["CurrencyID"] = body["CurrencyID"]
    if body.get("TaxCalcMode") is not None:
        if body["TaxCalcMode"] not in pricing.TAX_CALC_MODES:
            errs.add("TaxCalcMode", f"'{body['TaxCalcMode']}' is not a valid value for the 'Tax Calc. Mode' field.")
        else:
            rec["TaxCalcMode"] = body["TaxCalcMode"]
    manual_tax.apply(rec, body, errs.add)  # DisableAutomaticTaxCalculation: the TaxDetails as given
    _order_discounts(rec, body.get("DiscountDetails"), errs)


def _order_discounts(rec: Rec, rows: Any, errs: Errors) -> None:
    """Document discounts entered by hand (Discounts tab): an amount, or a percent of the lines + misc. charges."""
    discounts = rec.setdefault("discounts", [])
    for i, row in enumerate(rows or []):
        path = f"DiscountDetails/{i}/"
        found = next((d for d in discounts if row.get("id") and d["id"].lower() == str(row["id"]).lower()), None)
        if row.get("delete"):
            if found is not None:
                discounts.remove(found)
            continue
        if (row.get("Type") or "Document") != "Document":
            errs.add(path + "Type", "Only document discounts can be entered manually.")
            continue
        if found is None:
            found = {"id": new_id(), "DiscountCode": None, "Description": None, "Type": "Document",
                     "ManualDiscount": True, "DiscountAmount": None, "DiscountPercent": None}
            discounts.append(found)
        for f in ("DiscountCode", "Description"):
            if f in row:
                found[f] = row[f]
        pct, amt = _dec(row, "DiscountPercent", errs, path), _dec(row, "DiscountAmount", errs, path)
        if amt is not None:
            found["DiscountAmount"], found["DiscountPercent"] = money(amt), None
        elif pct is not None:
            found["DiscountPercent"], found["DiscountAmount"] = pct, None
        if (amt is not None and amt < 0) or (pct is not None and not 0 <= pct <= 100):
            errs.add(path + ("DiscountAmount" if amt is not None else "DiscountPercent"),
                     "The value must be greater than or equal to 0.")


def _order_shipping(rec: Rec, patch: Any, errs: Errors) -> None:
    if not isinstance(patch, dict):
        return
    ss = rec["ShippingSettings"]
    for f in ("ShipVia", "ShippingTerms", "ShippingZone", "ShippingRule", "ShipSeparately"):
        if f in patch:
            ss[f] = patch[f]
    if "ShipVia" in patch:
        rec["ShipVia"] = patch["ShipVia"]
    freight = _dec(patch, "FreightPrice", errs, "ShippingSettings/")
    if freight is not None:
        ss["FreightPrice"] = money(freight)
    premium = _dec(patch, "PremiumFreight", errs, "ShippingSettings/")
    if premium is not None:
        ss["PremiumFreight"] = money(premium)
    if "FreightTaxCategory" in patch:
        if patch["FreightTaxCategory"] is not None and patch["FreightTaxCategory"] not in TAX_RATES:
            errs.add("ShippingSettings/FreightTaxCategory", NOT_FOUND.format("Tax Category"))
        else:
            ss["FreightTaxCategory"] = patch["FreightTaxCategory"]
    d = _date(patch, "ScheduledShipmentDate", errs, "ShippingSettings/")
    if d is not None:
        ss["ScheduledShipmentDate"] = d


def _order_hold(rec: Rec, body: Rec) -> None:
    if "Hold" not in body or body["Hold"] is None:
        return
    hold = bool(body["Hold"])
    if hold and rec["Status"] in ("Open", "Back Order"):
        rec["Hold"], rec["Status"] = True, "On Hold"
    elif not hold and rec["Status"] == "On Hold":
        rec["Hold"], rec["Status"] = False, "Open"
    elif rec["Status"] == "Open" and not rec["lines"]:
        rec["Hold"] = hold


def _order_lines(store: Store, rec: Rec, rows: Any, errs: Errors) -> None:
    if not isinstance(rows, list):
        return
    for i, row in enumerate(rows):
        path = f"Details/{i}/"
        line = next((ln for ln in rec["lines"] if row.get("id") and ln["id"].lower() == str(row["id"]).lower()), None)
        if row.get("delete"):
            if line is not None:
                if store.qty_on_shipments(rec, line["LineNbr"]) > 0:
                    errs.add(path + "InventoryID", "The line cannot be deleted because it has shipments.")
                else:
                    rec["lines"].remove(line)
            continue
        if line is None and row.get("id"):
            errs.add(path + "InventoryID", "The detail row with the specified id was not found.")
            continue
        _apply_line(store, rec, line, row, errs, path)


def _apply_line(store: Store, rec: Rec, line: Rec | None, row: Rec, errs: Errors, path: str) -> None:
    item = None
    inv = row.get("InventoryID", line["InventoryID"] if line else None)
    if inv is not None:
        item = store.items.get(str(inv).strip().upper()) or store.nonstock.get(str(inv).strip().upper())
    if item is None:
        errs.add(path + "InventoryID", NOT_FOUND.format("Inventory ID") if inv else "'Inventory ID' cannot be empty.")
        return
    if line is None:
        line = {"id": new_id(), "LineNbr": max((ln["LineNbr"] for ln in rec["lines"]), default=0) + 1,
                "InventoryID": item["InventoryID"], "LineDescription": item["Description"], "OrderQty": ZERO,
                "ShippedQty": ZERO, "BilledQty": ZERO, "UOM": item["SalesUOM"], "LineType": pricing.line_type(item),
                "UnitPrice": pricing.default_price(item, item["SalesUOM"], pricing.currency_rate(rec["CurrencyID"])),
                "ManualPrice": False, "DiscountPercent": ZERO, "DiscountAmount": None,
                "WarehouseID": item["DefaultWarehouseID"], "TaxCategory": item["TaxCategory"], "Completed": False,
                "note": None, "Operation": returns.default_operation(rec)}
        rec["lines"].append(line)
    elif line["InventoryID"] != item["InventoryID"]:
        line.update({"InventoryID": item["InventoryID"], "LineDescription": item["Description"],
                     "UnitPrice": item["DefaultPrice"], "UOM": item["SalesUOM"], "TaxCategory": item["TaxCategory"],
                     "LineType": pricing.line_type(item)})
    _line_values(store, item, line, row, errs, path, pricing.currency_rate(rec["CurrencyID"]))


def _line_values(store: Store, item: Rec, line: Rec, row: Rec, errs: Errors, path: str,
                 rate: Decimal = Decimal(1)) -> None:
    for f in ("LineDescription", "note", "TaxCategory"):
        if f in row:
            line[f] = row[f]
    q = _dec(row, "OrderQty", errs, path)
    if q is not None:
        if q < 0:
            errs.add(path + "OrderQty", "The value must be greater than or equal to 0.")
        line["OrderQty"] = q
    price = _dec(row, "UnitPrice", errs, path)
    if price is not None:
        line["UnitPrice"], line["ManualPrice"] = price, True
    pct = _dec(row, "DiscountPercent", errs, path)
    if pct is not None:
        line["DiscountPercent"], line["DiscountAmount"] = pct, None
    amt = _dec(row, "DiscountAmount", errs, path)
    if amt is not None:
        line["DiscountAmount"] = money(amt)
    _line_refs(store, item, line, row, errs, path, rate)


def _line_refs(store: Store, item: Rec, line: Rec, row: Rec, errs: Errors, path: str,
               rate: Decimal = Decimal(1)) -> None:
    if row.get("UOM") is not None:
        if pricing.uom_factor(item, row["UOM"]) is None:
            errs.add(path + "UOM", NOT_FOUND.format("UOM"))
        elif row["UOM"] != line["UOM"] and not line.get("ManualPrice"):
            line["UnitPrice"] = pricing.default_price(item, row["UOM"], rate)
        line["UOM"] = row["UOM"]
    if row.get("WarehouseID") is not None:
        if row["WarehouseID"] not in store.warehouses:
            errs.add(path + "WarehouseID", NOT_FOUND.format("Warehouse"))
        line["WarehouseID"] = row["WarehouseID"]
    if row.get("Completed") is not None:
        line["Completed"] = bool(row["Completed"])
    returns.apply_link(store, line, row, lambda f, msg: errs.add(path + f, msg))


def order_cancel(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    if o["Status"] not in ("Open", "On Hold", "Back Order", "Credit Hold"):
        raise ActionRefused(f"The Cancel Order action cannot be performed because the order has the "
                            f"{o['Status']} status.")
    if any(s["Status"] == "Open" for s in store.order_shipments(o)):
        raise ActionRefused("The sales order cannot be canceled because it has unconfirmed shipments.")
    o["Status"], o["ShippingSettings"]["Canceled"] = "Canceled", True


def order_reopen(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    if o["Status"] not in ("Canceled", "Completed"):
        raise ActionRefused(f"The Reopen action cannot be performed because the order has the {o['Status']} status.")
    o["Status"], o["Hold"], o["ShippingSettings"]["Canceled"] = "Open", False, False
    for ln in o["lines"]:
        ln["Completed"] = ln.get("ShippedQty", ZERO) >= ln["OrderQty"]


def order_open(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    if o["Status"] != "On Hold":
        raise ActionRefused(f"The Remove Hold action cannot be performed because the order has the "
                            f"{o['Status']} status.")
    o["Status"], o["Hold"] = "Open", False


def order_create_shipment(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    if returns.is_return(o):
        raise ActionRefused("The Create Shipment action cannot be performed for a return order; use Create Receipt.")
    if o["Status"] not in ("Open", "Back Order"):
        raise ActionRefused(f"The Create Shipment action cannot be performed because the order has the "
                            f"{o['Status']} status.")
    wh = params.get("WarehouseID")
    if wh is not None and wh not in store.warehouses:
        raise ActionRefused(NOT_FOUND.format("Warehouse ID"))
    ship_date = parse_datetime(params["ShipmentDate"]) if params.get("ShipmentDate") else day(now)
    lines = []
    for ln in o["lines"]:
        if ln.get("Completed") or (wh is not None and ln["WarehouseID"] != wh) \
                or ln.get("LineType", pricing.GOODS) != pricing.GOODS:  # non-stock lines are not shipped here
            continue
        remaining = ln["OrderQty"] - store.qty_on_shipments(o, ln["LineNbr"])
        if remaining > 0:
            lines.append((ln, remaining))
    if not lines:
        raise ActionRefused("The shipment cannot be created because the sales order has no lines to ship from the "
                            "specified warehouse.")
    store.add_shipment(o, lines, kind="Shipment", operation="Issue", ship_date=ship_date, warehouse=wh,
                       freight=o["ShippingSettings"]["FreightPrice"], now=now)


def order_prepare_invoice(store: Store, o: Rec, params: Rec, now: datetime) -> None:
    if o["OrderType"] in returns.RETURN_ORDER_TYPES - returns.RECEIPT_ORDER_TYPES:  # CR: billed with no receipt
        returns.credit_memo_from_order(store, o, now)
        return
    pending = [s for s in store.order_shipments(o) if s["Status"] == "Confirmed" and s["invoice"] is None]
    if not pending:
        raise ActionRefused("The invoice cannot be prepared because the sales order has no confirmed shipments "
                            "that are not invoiced.")
    for s in pending:
        shipment_prepare_invoice(store, s, params, now)


# ======================================================================================== shipments
def update_shipment(store: Store, body: Rec, s: Rec | None, now: datetime) -> Rec:
    if s is None:
        raise ActionRefused("Shipments are created from sales orders with the SalesOrderCreateShipment action.")
    errs = Errors()
    if s["Status"] != "Open" and set(body) - {"note", "custom", "ShipmentNbr", "id", "Type"}:
        raise ActionRefused(f"The shipment cannot be modified because it has the {s['Status']} status.")
    for f in ("ShipVia", "note", "Description"):
        if f in body:
            s[f] = body[f]
    if s.get("ShipVia") is not None and s["ShipVia"] not in store.shipvias:
        errs.add("ShipVia", NOT_FOUND.format("Ship Via"))
    d = _date(body, "ShipmentDate", errs)
    if d is not None:
        s["ShipmentDate"] = d
    _merge_custom(s, body)
    _shipment_packages(s, body.get("Packages"), errs)
    _shipment_lines(store, s, body.get("Details"), errs)
    errs.raise_if_any()
    return s


def _shipment_packages(s: Rec, rows: Any, errs: Errors) -> None:
    for i, row in enumerate(rows or []):
        pkg = next((p for p in s["packages"] if row.get("id") and p["id"].lower() == str(row["id"]).lower()), None)
        if row.get("delete"):
            if pkg is not None:
                s["packages"].remove(pkg)
            continue
        if pkg is None:
            pkg = {"id": new_id(), "LineNbr": len(s["packages"]) + 1, "BoxID": None, "Type": "Manual",
                   "TrackingNbr": None, "Weight": ZERO, "Confirmed": False, "Description": None, "DeclaredValue": ZERO}
            s["packages"].append(pkg)
        for f in ("BoxID", "Type", "TrackingNbr", "Description", "Confirmed"):
            if f in row:
                pkg[f] = row[f]
        for f in ("Weight", "DeclaredValue"):
            v = _dec(row, f, errs, f"Packages/{i}/")
            if v is not None:
                pkg[f] = v
        if not pkg.get("BoxID"):
            errs.add(f"Packages/{i}/BoxID", "'Box ID' cannot be empty.")


def _shipment_lines(store: Store, s: Rec, rows: Any, errs: Errors) -> None:
    for i, row in enumerate(rows or []):
        line = next((ln for ln in s["lines"] if row.get("id") and ln["id"].lower() == str(row["id"]).lower()), None)
        if line is None:
            errs.add(f"Details/{i}/InventoryID", "Shipment lines can only be updated (send the line id).")
            continue
        if row.get("delete"):
            s["lines"].remove(line)
            continue
        q = _dec(row, "ShippedQty", errs, f"Details/{i}/")
        if q is None:
            continue
        order = store.orders[(line["OrderType"], line["OrderNbr"])]
        oline = next(ln for ln in order["lines"] if ln["LineNbr"] == line["OrderLineNbr"])
        others = store.qty_on_shipments(order, oline["LineNbr"]) - line["ShippedQty"]
        if q < 0 or q > oline["OrderQty"] - others:
            errs.add(f"Details/{i}/ShippedQty",
                     "The shipped quantity cannot exceed the open quantity of the order line.")
        line["ShippedQty"] = q
    if rows and not s["lines"]:
        errs.entity = "The shipment must have at least one line."


def shipment_confirm(store: Store, s: Rec, params: Rec, now: datetime) -> None:
    if s["Status"] != "Open":
        raise ActionRefused(f"The Confirm Shipment action cannot be performed because the shipment has the "
                            f"{s['Status']} status.")
    if not any(ln["ShippedQty"] > 0 for ln in s["lines"]):
        raise ActionRefused("The shipment cannot be confirmed because the shipped quantity of all lines is zero.")
    sign = 1 if s.get("Operation") == "Receipt" else -1  # a receipt puts the goods back on hand
    for ln in s["lines"]:
        stock = store.items[ln["InventoryID"]]["warehouses"].setdefault(
            ln["WarehouseID"], {"id": new_id(), "QtyOnHand": ZERO, "Location": None})
        if sign < 0 and stock["QtyOnHand"] - ln["ShippedQty"] < 0:
            raise ActionRefused(f"The quantity on hand of item {ln['InventoryID']} in warehouse {ln['WarehouseID']} "
                                "will become negative.")
        stock["QtyOnHand"] += sign * ln["ShippedQty"]
    s["Status"] = "Confirmed"
    for pkg in s["packages"]:
        pkg["Confirmed"] = True
    _post_shipped(store, s, +1)


def _post_shipped(store: Store, s: Rec, sign: int) -> None:
    orders = {(ln["OrderType"], ln["OrderNbr"]) for ln in s["lines"]}
    for ln in s["lines"]:
        o = store.orders[(ln["OrderType"], ln["OrderNbr"])]
        oline = next(x for x in o["lines"] if x["LineNbr"] == ln["OrderLineNbr"])
        oline["ShippedQty"] = oline.get("ShippedQty", ZERO) + sign * ln["ShippedQty"]
        oline["Completed"] = oline["ShippedQty"] >= oline["OrderQty"]
    for key in orders:
        o = store.orders[key]
        if all(x.get("Completed") for x in o["lines"]):
            o["Status"] = "Completed"
        elif any(x["Status"] == "Open" for x in store.order_shipments(o)):
            o["Status"] = "Shipping"
        else:
            o["Status"] = "Back Order" if any(x.get("ShippedQty", ZERO) > 0 for x in o["lines"]) else "Open"


def shipment_correct(store: Store, s: Rec, params: Rec, now: datetime) -> None:
    if s["Status"] != "Confirmed":
        raise ActionRefused(f"The Correct Shipment action cannot be performed because the shipment has the "
                            f"{s['Status']} status.")
    for ln in s["lines"]:
        store.items[ln["InventoryID"]]["warehouses"][ln["WarehouseID"]]["QtyOnHand"] += ln["ShippedQty"]
    s["Status"] = "Open"
    _post_shipped(store, s, -1)
    for key in {(ln["OrderType"], ln["OrderNbr"]) for ln in s["lines"]}:
        store.orders[key]["Status"] = "Shipping"


def shipment_prepare_invoice(store: Store, s: Rec, params: Rec, now: datetime) -> None:
    if s["Status"] != "Confirmed" or s["invoice"] is not None:
        raise ActionRefused(f"The Prepare Invoice action cannot be performed because the shipment has the "
                            f"{s['Status']} status.")
    nbr = store.next_number("invoice")
    # a return's receipt (RC order, returns.py) is billed by a credit memo: SO Invoices, type Credit Memo
    doc_type = "Credit Memo" if s.get("Type") == "Receipt" else "Invoice"
    inv: Rec = {"id": new_id(), "Type": doc_type, "ReferenceNbr": nbr, "Status": "Balanced", "Hold": False,
                "Date": day(now), "DueDate": day(now), "CustomerID": s["CustomerID"], "CustomerOrder": None,
                "Description": None, "Currency": "USD", "CreatedDate": now, "LastModifiedDateTime": now,
                "note": None, "custom": {}, "released": False, "FreightPrice": ZERO, "lines": [], "ExternalRef": None}
    for i, ln in enumerate(s["lines"], start=1):
        o = store.orders[(ln["OrderType"], ln["OrderNbr"])]
        oline = next(x for x in o["lines"] if x["LineNbr"] == ln["OrderLineNbr"])
        _, disc, _ = store.line_amounts(oline)
        part_disc = money(disc * ln["ShippedQty"] / oline["OrderQty"]) if oline["OrderQty"] else ZERO
        inv["lines"].append({
            "id": new_id(), "LineNbr": i, "InventoryID": ln["InventoryID"],
            "TransactionDescr": oline["LineDescription"],
            "Qty": ln["ShippedQty"], "UOM": ln["UOM"], "UnitPrice": oline["UnitPrice"], "DiscountAmount": part_disc,
            "Amount": money(ln["ShippedQty"] * oline["UnitPrice"]) - part_disc, "OrderType": ln["OrderType"],
            "OrderNbr": ln["OrderNbr"], "OrderLineNbr": ln["OrderLineNbr"], "ShipmentNbr": s["ShipmentNbr"],
            "WarehouseID": ln["WarehouseID"], "Location": ln["LocationID"], "TaxCategory": oline["TaxCategory"],
            "BranchID": o["Branch"]})
        oline["BilledQty"] = oline.get("BilledQty", ZERO) + ln["ShippedQty"]
        if not o.get("FreightBilled"):
            inv["FreightPrice"] += o["ShippingSettings"]["FreightPrice"]
            o["FreightBilled"] = True
        inv["CustomerOrder"] = inv["CustomerOrder"] or o.get("CustomerOrder")
    orders = {(ln["OrderType"], ln["OrderNbr"]): store.orders[(ln["OrderType"], ln["OrderNbr"])] for ln in s["lines"]}
    inv["taxes"] = manual_tax.invoice_taxes(orders, inv["lines"], lambda ln: store.line_amounts(ln)[2])
    store.invoices[(doc_type, nbr)] = inv
    s["invoice"], s["Status"] = (doc_type, nbr), "Invoiced"


# ======================================================================================== invoices & payments
def invoice_release(store: Store, inv: Rec, params: Rec, now: datetime) -> None:
    if inv["Status"] != "Balanced":
        raise ActionRefused(f"The document cannot be released because it has the {inv['Status']} status.")
    if inv.get("module") == "AR":  # an AR document (ar_documents.py) is released in AR301000 (ReleaseInvoice)
        raise ActionRefused("The document was created in Accounts Receivable; release it on the Invoices and Memos "
                            "form.")
    inv["released"], inv["Status"] = True, "Open"
    if inv["Type"] == "Credit Memo":
        returns.release_credit_memo_order(store, inv)
    for s in store.linked("shipments", "invoice", (inv["Type"], inv["ReferenceNbr"])):
        s["Status"] = "Completed"
    reconcile(store, now, order_keys(inv["lines"]), invoices=[inv])


def reconcile(store: Store, now: datetime, orders: Iterable[OrderKey], payments: Iterable[Rec] = (),
              invoices: Iterable[Rec] = ()) -> None:
    """Transfer released order payments to released invoices of those orders; update Closed statuses.

    Payments are applied in the order they were entered (then their applications' order), invoices taken in the
    order they were created. Only the invoices of ``orders`` (plus ``invoices``) are looked at, with the payments
    applied to their orders, and payment statuses are restated for those payments (plus ``payments``): after each
    reconcile every released invoice is settled (paid, or nothing left to transfer from its orders' released
    payments), and what unsettles one is a payment or an invoice being released, which the caller passes (a
    deleted payment un-pays its invoices: their orders wait in ``Store.reconcile_scope`` for the next reconcile).
    So this costs O(documents of the orders involved) and ends as the pass over every payment and invoice would
    (``oracle.full_reconcile``; the oracle checks that the store is always settled)."""
    keys = {(inv["Type"], inv["ReferenceNbr"]): inv for inv in invoices}
    for key in store.reconcile_scope(orders):
        keys.update({(inv["Type"], inv["ReferenceNbr"]): inv for inv in store.linked("invoices", "order", key)})
    touched = {id(p): p for p in payments}
    for inv in sorted(keys.values(), key=lambda inv: store.invoices.seq[(inv["Type"], inv["ReferenceNbr"])]):
        if inv["released"]:
            touched.update(_settle_invoice(store, inv))
    for p in touched.values():
        restate_payment(store, p)


def _settle_invoice(store: Store, inv: Rec) -> dict[int, Rec]:
    """Transfer free released applications of the invoice's orders to it; the payments looked at."""
    doc = (inv["Type"], inv["ReferenceNbr"])
    amount = store.invoice_amount(inv)
    paid = store.paid_to(doc)
    candidates: list[tuple[int, int, Rec, Rec]] = []
    for key in order_keys(inv["lines"]):
        for p in store.linked("payments", "order", key):
            if p["released"]:
                seq = store.payments.seq[(p["Type"], p["ReferenceNbr"])]
                candidates += [(seq, ai, p, a) for ai, a in enumerate(p["orders"])
                               if (a["OrderType"], a["OrderNbr"]) == key]
    for _, _, p, a in sorted(candidates, key=lambda c: c[:2]):
        paid += transfer(p, a, inv, amount - paid)
    if amount - paid <= 0:
        inv["Status"] = "Closed"
    return {id(p): p for _, _, p, _ in candidates}


def transfer(p: Rec, a: Rec, inv: Rec, balance: Decimal) -> Decimal:
    """Move what payment ``p``'s order application ``a`` still holds, up to the invoice's open ``balance``, to the
    invoice (a DocumentsToApply row); the amount moved (zero when either side has nothing left)."""
    free = a["AppliedToOrder"] - a.get("Transferred", ZERO)
    if balance <= 0 or free <= 0:
        return ZERO
    amt = min(free, balance)
    a["Transferred"] = a.get("Transferred", ZERO) + amt
    p["docs"].append({"id": new_id(), "DocType": inv["Type"], "ReferenceNbr": inv["ReferenceNbr"],
                      "AmountPaid": amt, "CustomerOrder": inv.get("CustomerOrder")})
    return amt


def restate_payment(store: Store, p: Rec) -> None:
    """A released payment is Closed once applied to documents in full, Open before."""
    if p["released"]:
        p["Status"] = "Closed" if store.payment_totals(p)["AppliedToDocuments"] >= p["PaymentAmount"] else "Open"


def upsert_payment(store: Store, body: Rec, existing: Rec | None, now: datetime) -> Rec:
    errs = Errors()
    if existing is None:
        ptype = body.get("Type") or "Payment"
        if ptype not in ("Payment", "Prepayment"):
            errs.add("Type", f"'{ptype}' is not a valid value for the 'Type' field.")
            errs.raise_if_any()
        rec: Rec = {"id": new_id(), "Type": ptype, "ReferenceNbr": store.next_number("payment"), "Status": "Balanced",
                    "Hold": False, "ApplicationDate": day(now), "CustomerID": None, "PaymentMethod": None,
                    "CashAccount": "10250ST", "PaymentRef": None, "PaymentAmount": ZERO, "Description": None,
                    "ExternalRef": None, "CurrencyID": "USD", "Branch": BRANCH, "CreatedDateTime": now,
                    "LastModifiedDateTime": now, "note": None, "custom": {}, "released": False, "orders": [],
                    "docs": []}
        store.payments[(ptype, rec["ReferenceNbr"])] = rec
    else:
        rec = existing
        if rec["released"] and set(body) - {"note", "custom", "Type", "ReferenceNbr", "id", "Description"}:
            raise ActionRefused("The document has been released and cannot be modified.")
    _payment_header(store, rec, body, errs)
    _payment_orders(store, rec, body.get("OrdersToApply"), errs)
    errs.raise_if_any()
    return rec


def _payment_header(store: Store, rec: Rec, body: Rec, errs: Errors) -> None:
    for f in ("PaymentMethod", "PaymentRef", "Description", "ExternalRef", "CashAccount", "note"):
        if f in body:
            rec[f] = body[f]
    if body.get("CustomerID") is not None:
        cust = store.customers.get(str(body["CustomerID"]).strip().upper())
        if cust is None:
            errs.add("CustomerID", NOT_FOUND.format("Customer"))
        else:
            rec["CustomerID"] = cust["CustomerID"]
    if rec["CustomerID"] is None and "CustomerID" not in errs.fields:
        errs.add("CustomerID", "'Customer' cannot be empty.")
    if rec.get("PaymentMethod") not in PAYMENT_METHODS:
        errs.add("PaymentMethod", NOT_FOUND.format("Payment Method") if rec.get("PaymentMethod")
                 else "'Payment Method' cannot be empty.")
    amt = _dec(body, "PaymentAmount", errs, "")
    if amt is not None:
        if amt <= 0:
            errs.add("PaymentAmount", "The value must be greater than 0.")
        rec["PaymentAmount"] = money(amt)
    d = _date(body, "ApplicationDate", errs)
    if d is not None:
        rec["ApplicationDate"] = d
    if body.get("Hold") is not None:
        rec["Hold"] = bool(body["Hold"])
        rec["Status"] = "On Hold" if rec["Hold"] else "Balanced"
    _merge_custom(rec, body)


def _payment_orders(store: Store, rec: Rec, rows: Any, errs: Errors) -> None:
    for i, row in enumerate(rows or []):
        path = f"OrdersToApply/{i}/"
        key = ((row.get("OrderType") or "SO"), str(row.get("OrderNbr") or "").strip())
        order = store.orders.get(key)
        existing = next((a for a in rec["orders"] if (a["OrderType"], a["OrderNbr"]) == key), None)
        if row.get("delete"):
            if existing is not None:
                rec["orders"].remove(existing)
            continue
        if order is None or order["CustomerID"] != rec["CustomerID"]:
            errs.add(path + "OrderNbr", NOT_FOUND.format("Order Nbr."))
            continue
        if order["Status"] in ("Canceled",):
            errs.add(path + "OrderNbr", "A payment cannot be applied to a canceled order.")
            continue
        others = sum((a["AppliedToOrder"] for p, a in store.order_applications(order) if p is not rec), ZERO)
        room = max(store.order_totals(order)["OrderTotal"] - others, ZERO)
        applied = _dec(row, "AppliedToOrder", errs, path)
        if applied is None:
            used = sum((a["AppliedToOrder"] for a in rec["orders"] if a is not existing), ZERO)
            unapplied = rec["PaymentAmount"] - used
            applied = min(room, max(unapplied, ZERO))
        if applied > room:
            errs.add(path + "AppliedToOrder", "The applied amount cannot exceed the unpaid balance of the order.")
        if existing is None:
            existing = {"id": new_id(), "OrderType": key[0], "OrderNbr": key[1], "AppliedToOrder": ZERO}
            rec["orders"].append(existing)
        existing["AppliedToOrder"] = money(applied)
    if sum((a["AppliedToOrder"] for a in rec["orders"]), ZERO) > rec["PaymentAmount"]:
        errs.entity = "The total amount applied to orders exceeds the payment amount."


def payment_release(store: Store, p: Rec, params: Rec, now: datetime) -> None:
    if p["Status"] != "Balanced":
        raise ActionRefused(f"The document cannot be released because it has the {p['Status']} status.")
    p["released"], p["Status"] = True, "Open"
    reconcile(store, now, order_keys(p["orders"]), payments=[p])


def build_order(store: Store, body: Rec, now: datetime) -> Rec:
    """Helper for seeds and tests: create an order from a plain (unwrapped) body."""
    return upsert_order(store, body, None, now)
