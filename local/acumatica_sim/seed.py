"""Seed data sets. ``walkthrough`` mirrors the mission walkthrough (SO SOT00024 for AACUSTOMER / WATER2809)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D
from typing import Any

from acumatica_sim.config import TAX_CATEGORIES
from acumatica_sim.model import Rec, Store, new_id


def _address(line1: str, city: str, state: str, zip_: str, country: str = "US", line2: str | None = None) -> Rec:
    return {"id": new_id(), "AddressLine1": line1, "AddressLine2": line2, "City": city, "State": state,
            "PostalCode": zip_, "Country": country}


def _contact(first: str, last: str, email: str, phone: str, company: str, addr: Rec) -> Rec:
    return {"id": new_id(), "FirstName": first, "LastName": last, "DisplayName": f"{first} {last}".strip(),
            "CompanyName": company, "Attention": f"{first} {last}".strip(), "Email": email, "Phone1": phone,
            "Address": addr}


def make_customer(cid: str, name: str, cls: str, first: str, last: str, email: str, phone: str, addr: Rec,
                  now: datetime) -> Rec:
    main = _contact(first, last, email, phone, name, addr)
    return {"id": new_id(), "CustomerID": cid, "CustomerName": name, "CustomerClass": cls, "Status": "Active",
            "CurrencyID": "USD", "Terms": "30D", "ShipVia": "UPSGROUND", "TaxZone": None, "PriceClassID": None,
            "LocationName": "Primary Location", "DefaultLocationID": "MAIN", "BillingContactOverride": False,
            "ShippingContactOverride": False,
            "CreatedDateTime": now, "LastModifiedDateTime": now, "note": None, "custom": {},
            "MainContact": main, "BillingContact": {**_copy(main)}, "ShippingContact": {**_copy(main)}}


def _copy(c: Rec) -> Rec:
    out = {k: v for k, v in c.items() if k != "Address"}
    out["id"] = new_id()
    out["Address"] = {**c["Address"], "id": new_id()}
    return out


def make_item(iid: str, desc: str, price: str, uom: str, stock: dict[str, tuple[str, str]], now: datetime,
              tax: str = "EXEMPT", default_wh: str = "RETAIL") -> Rec:
    return {"id": new_id(), "InventoryID": iid, "Description": desc, "ItemStatus": "Active", "ItemClass": "STOCKITEM",
            "ItemType": "Finished Good", "BaseUOM": uom, "SalesUOM": uom, "PurchaseUOM": uom,
            "DefaultPrice": D(price), "DefaultWarehouseID": default_wh, "TaxCategory": tax, "LastModified": now,
            "CreatedDate": now, "note": None, "custom": {},
            "warehouses": {wh: {"id": new_id(), "QtyOnHand": D(q), "Location": loc} for wh, (q, loc) in stock.items()}}


def walkthrough(store: Store, now: datetime) -> None:
    """AACUSTOMER Alta Ace, WATER2809 @ 20.00/BOTTLE with 263 on hand at RETAIL, numbering from SOT00024 (type SO;
    the custom type ST, its own sequence in the same format, from SOT00001)."""
    store.numbering.update({"SO": 24, "ST": 1, "shipment": 5139, "invoice": 12116, "payment": 456, "customer": 1})
    store.warehouses.update({
        "RETAIL": {"WarehouseID": "RETAIL", "Description": "Retail Warehouse", "Locations": ["STORAGE"]},
        "WHOLESALE": {"WarehouseID": "WHOLESALE", "Description": "Wholesale Warehouse", "Locations": ["BULK"]},
    })
    for sv, desc in (("UPSGROUND", "UPS Ground"), ("FEDEXGROUND", "FedEx Ground"), ("WILLCALL", "Will Call"),
                     ("LOCAL", "Local Delivery Service")):
        store.shipvias[sv] = {"id": new_id(), "ShipVia": sv, "Description": desc, "CarrierID": sv,
                              "CalculationMethod": "Manual", "CommonCarrier": sv not in ("WILLCALL", "LOCAL"),
                              "note": None, "custom": {}}
    customers = [
        make_customer("AACUSTOMER", "Alta Ace", "DEFAULT", "Amelia", "Armstrong", "ap@altaace.com", "+1 (206) 555-0134",
                      _address("4030 Cedar Ridge Blvd", "Seattle", "WA", "98109"), now),
        make_customer("BIGBOX", "Big Box Wholesale Ltd", "B2B", "Brian", "Boxer", "orders@bigbox.example",
                      "+1 (312) 555-0188", _address("77 Dock Street", "Chicago", "IL", "60607"), now),
        make_customer("STAFF01", "Sam Staffer", "STAFF", "Sam", "Staffer", "sam.staffer@company.example",
                      "+1 (503) 555-0101", _address("12 Elm Avenue", "Portland", "OR", "97205"), now),
    ]
    for c in customers:
        store.customers[c["CustomerID"]] = c
    items = [
        make_item("WATER2809", "WATER2809_", "20.00", "BOTTLE",
                  {"RETAIL": ("263", "STORAGE"), "WHOLESALE": ("1200", "BULK")}, now),
        make_item("JUICE100", "Orange juice 1 l", "4.50", "BOTTLE",
                  {"RETAIL": ("80", "STORAGE"), "WHOLESALE": ("500", "BULK")}, now),
        make_item("MUG500", "Ceramic mug 500 ml", "12.99", "EA",
                  {"RETAIL": ("40", "STORAGE"), "WHOLESALE": ("0", "BULK")}, now, tax="TAXABLE"),
    ]
    # JUICE100 is also sold by the CASE of 12 bottles (a UOM conversion: CASE -> BOTTLE x 12)
    items[1]["UOMConversions"] = [{"FromUOM": "CASE", "ToUOM": "BOTTLE", "ConversionFactor": D(12),
                                   "MultiplyOrDivide": "Multiply"}]
    for it in items:
        store.items[it["InventoryID"]] = it
        for wh in it["warehouses"]:
            store.site_modified[(it["InventoryID"], wh)] = now
    tax_categories_and_non_stock(store, now)


def tax_categories_and_non_stock(store: Store, now: datetime) -> None:
    """The tax categories of config.TAX_CATEGORIES, and two non-stock items: INSTALL, a service that is not shipped
    (its lines are Misc. Charges), and GIFTWRAP, a non-stock item that ships (Non-Inventory Goods)."""
    for cat in TAX_CATEGORIES:
        store.taxcategories[cat] = {"id": new_id(), "TaxCategoryID": cat, "Description": cat.title(), "Active": True,
                                    "ExcludeListedTaxes": False, "note": None, "custom": {}}
    for iid, desc, price, tax, ships in (("INSTALL", "Installation service", "45.00", "TAXABLE", False),
                                         ("GIFTWRAP", "Gift wrapping", "3.50", "EXEMPT", True)):
        store.nonstock[iid] = {"id": new_id(), "InventoryID": iid, "Description": desc, "ItemStatus": "Active",
                               "ItemClass": "NONSTOCK", "ItemType": "Service" if not ships else "Non-Stock Item",
                               "IsStock": False, "RequireShipment": ships, "BaseUOM": "EA", "SalesUOM": "EA",
                               "PurchaseUOM": "EA", "DefaultPrice": D(price), "DefaultWarehouseID": "RETAIL",
                               "TaxCategory": tax, "LastModified": now, "CreatedDate": now, "note": None,
                               "custom": {}}


def seed_historic_order(store: Store, build_order: Any, now: datetime) -> None:
    """An open order (SOT00023, BIGBOX, 126 x WATER2809 @ RETAIL) so availability shows 263 on hand / 137 available."""
    store.numbering["SO"] = 23
    build_order(store, {"OrderType": "SO", "CustomerID": "BIGBOX", "Description": "Standing order",
                        "Details": [{"InventoryID": "WATER2809", "OrderQty": 126, "WarehouseID": "RETAIL"}]}, now)


SEEDS = ("walkthrough", "empty")
