"""Record -> entity tree (the shape of the 24.200.001 contract; ``odata.shape`` wraps it in ``{"value": ...}``)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from acumatica_sim import pricing
from acumatica_sim.config import BASE_CURRENCY, TAX_CATEGORIES, TAXES
from acumatica_sim.model import ZERO, Rec, Store
from acumatica_sim.values import money

Tree = dict[str, Any]


def _scalars(rec: Rec, names: tuple[str, ...]) -> Tree:
    return {n: rec.get(n) for n in names}


def _sys(rec: Rec) -> Tree:
    return {"id": rec["id"], "note": rec.get("note"), "custom": rec.get("custom") or {}}


def customer_tree(store: Store, c: Rec) -> Tree:
    def contact(x: Rec) -> Tree:
        return {**{k: v for k, v in x.items() if k != "Address"}, "Address": dict(x["Address"])}

    return {**_sys(c), **_scalars(c, ("CustomerID", "CustomerName", "CustomerClass", "Status", "CurrencyID", "Terms",
                                      "ShipVia", "TaxZone", "PriceClassID", "LocationName", "CreatedDateTime",
                                      "LastModifiedDateTime", "BillingContactOverride", "ShippingContactOverride")),
            "Email": c["MainContact"].get("Email"), "MainContact": contact(c["MainContact"]),
            "BillingContact": contact(c["BillingContact"]), "ShippingContact": contact(c["ShippingContact"])}


def item_tree(store: Store, it: Rec) -> Tree:
    rows = [{"id": w["id"], "WarehouseID": wh, "QtyOnHand": w["QtyOnHand"], "IsDefault": wh == it["DefaultWarehouseID"],
             "Status": "Active", "DefaultReceiptLocationID": w.get("Location"),
             "DefaultIssueLocationID": w.get("Location")}
            for wh, w in it["warehouses"].items()]
    return {**_sys(it), **_scalars(it, ("InventoryID", "Description", "ItemStatus", "ItemClass", "ItemType", "BaseUOM",
                                        "SalesUOM", "PurchaseUOM", "DefaultPrice", "DefaultWarehouseID", "TaxCategory",
                                        "LastModified")),
            "LastModifiedDateTime": it["LastModified"], "WarehouseDetails": rows,
            "UOMConversions": [{"id": str(uuid.uuid5(uuid.UUID(it["id"]), c["FromUOM"])), "FromUOM": c["FromUOM"],
                                "ToUOM": c.get("ToUOM", it["BaseUOM"]), "ConversionFactor": c["ConversionFactor"],
                                "MultiplyDivide": c.get("MultiplyOrDivide", "Multiply")}
                               for c in it.get("UOMConversions") or []]}


def order_tree(store: Store, o: Rec) -> Tree:
    t = store.order_totals(o)
    details = []
    for ln in o["lines"]:
        ext, disc, amt = store.line_amounts(ln)
        details.append({
            "id": ln["id"], "note": ln.get("note"), "LineNbr": ln["LineNbr"],
            "LineType": ln.get("LineType", "Goods for IN"),
            "InventoryID": ln["InventoryID"], "LineDescription": ln["LineDescription"], "OrderQty": ln["OrderQty"],
            "OpenQty": max(ln["OrderQty"] - ln.get("ShippedQty", ZERO), ZERO),
            "QtyOnShipments": store.qty_on_shipments(o, ln["LineNbr"]), "UOM": ln["UOM"], "UnitPrice": ln["UnitPrice"],
            "ManualPrice": ln.get("ManualPrice", False), "DiscountPercent": ln.get("DiscountPercent") or ZERO,
            "DiscountAmount": disc, "ExtendedPrice": ext, "Amount": amt,
            "UnbilledAmount": money(max(amt - amt * ln.get("BilledQty", ZERO) / ln["OrderQty"], ZERO))
            if ln["OrderQty"] else ZERO,
            "WarehouseID": ln["WarehouseID"], "Location": (dict.get(store.items, ln["InventoryID"]) or {})
            .get("warehouses", {}).get(ln["WarehouseID"], {}).get("Location"), "Completed": ln.get("Completed", False),
            "TaxCategory": ln.get("TaxCategory"), "Branch": o["Branch"],
            "Operation": ln.get("Operation", "Issue"), "InvoiceType": ln.get("InvoiceType"),
            "InvoiceNbr": ln.get("InvoiceNbr"), "InvoiceLineNbr": ln.get("InvoiceLineNbr")})
    payments = []
    for p, a in store.order_applications(o):
        payments.append({"id": a["id"], "DocType": p["Type"], "ReferenceNbr": p["ReferenceNbr"], "Status": p["Status"],
                         "PaymentAmount": p["PaymentAmount"], "AppliedToOrder": a["AppliedToOrder"],
                         "TransferredtoInvoice": a.get("Transferred", ZERO),
                         "Balance": store.payment_totals(p)["AvailableBalance"],
                         "PaymentMethod": p["PaymentMethod"], "PaymentRef": p.get("PaymentRef"),
                         "ApplicationDate": p["ApplicationDate"], "Currency": p["CurrencyID"], "Hold": p["Hold"]})
    shipments = []
    for s in store.order_shipments(o):
        qty = sum((ln["ShippedQty"] for ln in s["lines"] if ln["OrderNbr"] == o["OrderNbr"]), ZERO)
        inv = s["invoice"] or (None, None)
        shipments.append({"id": s["id"], "ShipmentNbr": s["ShipmentNbr"], "ShipmentType": s["Type"],
                          "Status": s["Status"], "ShipmentDate": s["ShipmentDate"], "ShippedQty": qty,
                          "InvoiceType": inv[0], "InvoiceNbr": inv[1],
                          "LastModifiedDateTime": s["LastModifiedDateTime"]})
    ss = o["ShippingSettings"]
    return {**_sys(o), **_scalars(o, ("OrderType", "OrderNbr", "Status", "Hold", "CreditHold", "Approved", "Date",
                                      "RequestedOn", "CustomerID", "LocationID", "ContactID", "Description",
                                      "CustomerOrder", "ExternalRef", "CurrencyID", "ShipVia", "PaymentMethod",
                                      "PaymentRef", "Branch", "LastModified", "CreatedDate", "BillToAddressOverride",
                                      "ShipToAddressOverride", "BillToContactOverride", "ShipToContactOverride")),
            "OrderTotal": t["OrderTotal"], "TaxTotal": t["TaxTotal"], "OrderedQty": t["OrderedQty"],
            **_order_money(o, t),
            "BillToAddress": dict(o["BillToAddress"]), "ShipToAddress": dict(o["ShipToAddress"]),
            "BillToContact": dict(o["BillToContact"]), "ShipToContact": dict(o["ShipToContact"]),
            "ShippingSettings": {"PremiumFreight": ZERO, "FreightTaxCategory": None, **ss},
            "Totals": {"id": o["ShippingSettings"]["id"], "LineTotalAmount": t["LineTotalAmount"],
                       "DiscountTotal": t["DiscountTotal"], "TaxTotal": t["TaxTotal"], "Freight": t["Freight"],
                       "MiscTotalAmount": t["MiscTotalAmount"], "PremiumFreight": t["PremiumFreight"],
                       "FreightTaxCategory": ss.get("FreightTaxCategory"),
                       "UnbilledAmount": t["UnbilledAmount"], "UnbilledQty": t["UnbilledQty"],
                       "UnpaidBalance": t["UnpaidBalance"]},
            "Details": details, "Payments": payments, "Shipments": shipments}


def _order_money(o: Rec, t: dict[str, Any]) -> Tree:
    """Currency, tax calculation mode, the Taxes tab (TaxDetails) and the document discounts (DiscountDetails)."""
    rate = pricing.currency_rate(o.get("CurrencyID"))
    taxes = [{"id": str(uuid.uuid5(uuid.UUID(o["id"]), row["TaxID"])), "OrderType": o["OrderType"],
              "OrderNbr": o["OrderNbr"], "LineNbr": 32000, "RecordID": n, **row}
             for n, row in enumerate(t["TaxDetails"], start=1)]
    discounts = [{"id": d["id"], "SequenceID": d.get("DiscountCode"), "DiscountCode": d.get("DiscountCode"),
                  "Description": d.get("Description"), "Type": d.get("Type", "Document"),
                  "ManualDiscount": d.get("ManualDiscount", True), "DiscountPercent": d.get("DiscountPercent") or ZERO,
                  "DiscountAmount": d["DiscountAmount"] if d.get("DiscountAmount") is not None
                  else money((t["LineTotalAmount"] + t["MiscTotalAmount"]) * (d.get("DiscountPercent") or ZERO) / 100),
                  "DiscountableAmount": t["LineTotalAmount"] + t["MiscTotalAmount"]}
                 for d in o.get("discounts") or []]
    return {"BaseCurrencyID": BASE_CURRENCY, "CurrencyRate": rate,
            "ReciprocalRate": (1 / rate).quantize(Decimal("0.00000001")), "CurrencyRateTypeID": "SPOT",
            "TaxCalcMode": o.get("TaxCalcMode") or "TaxSetting", "TaxDetails": taxes, "DiscountDetails": discounts,
            "DisableAutomaticTaxCalculation": bool(o.get("DisableAutomaticTaxCalculation"))}


def shipment_tree(store: Store, s: Rec) -> Tree:
    orders: dict[tuple[str, str], Tree] = {}
    for ln in s["lines"]:
        key = (ln["OrderType"], ln["OrderNbr"])
        inv = s["invoice"] or (None, None)
        row = orders.setdefault(key, {"id": store.orders[key]["id"], "OrderType": key[0], "OrderNbr": key[1],
                                      "ShipmentNbr": s["ShipmentNbr"], "ShipmentType": s["Type"],
                                      "InvoiceType": inv[0], "InvoiceNbr": inv[1], "ShippedQty": ZERO})
        row["ShippedQty"] += ln["ShippedQty"]
    details = [{**dict(ln), "OpenQty": max(ln["OrderedQty"] - ln["ShippedQty"], ZERO)}
               for ln in s["lines"]]
    return {**_sys(s), **_scalars(s, ("ShipmentNbr", "Type", "Status", "Operation", "Hold", "ShipmentDate",
                                      "CustomerID", "LocationID", "WarehouseID", "ShipVia", "FreightPrice",
                                      "CreatedDateTime", "LastModifiedDateTime", "Description")),
            "ShippedQty": sum((ln["ShippedQty"] for ln in s["lines"]), ZERO), "PackageCount": len(s["packages"]),
            "PackageWeight": sum((p["Weight"] for p in s["packages"]), ZERO),
            "Details": details, "Packages": [dict(p) for p in s["packages"]], "Orders": list(orders.values())}


def invoice_tree(store: Store, inv: Rec) -> Tree:
    t = store.invoice_totals(inv)
    return {**_sys(inv), **_scalars(inv, ("Type", "ReferenceNbr", "Status", "Hold", "Date", "DueDate", "CustomerID",
                                          "CustomerOrder", "Description", "Currency", "FreightPrice", "CreatedDate",
                                          "LastModifiedDateTime", "ExternalRef")),
            "Amount": t["Amount"], "Balance": t["Balance"], "TaxTotal": t["TaxTotal"], "DetailTotal": t["DetailTotal"],
            "PaymentTotal": t["PaymentTotal"], "DiscountTotal": ZERO, "LastModifiedDate": inv["LastModifiedDateTime"],
            "Details": [dict(ln) for ln in inv["lines"]]}


def payment_tree(store: Store, p: Rec) -> Tree:
    t = store.payment_totals(p)
    return {**_sys(p), **_scalars(p, ("Type", "ReferenceNbr", "Status", "Hold", "ApplicationDate", "CustomerID",
                                      "PaymentMethod", "CashAccount", "PaymentRef", "PaymentAmount", "Description",
                                      "ExternalRef", "CurrencyID", "Branch", "LastModifiedDateTime")),
            **t, "OrdersToApply": [{"id": a["id"], "OrderType": a["OrderType"], "OrderNbr": a["OrderNbr"],
                                    "AppliedToOrder": a["AppliedToOrder"]} for a in p["orders"]],
            "DocumentsToApply": [dict(d) for d in p["docs"]]}


def shipvia_tree(store: Store, sv: Rec) -> Tree:
    return {**_sys(sv), **_scalars(sv, ("Description", "CalculationMethod", "CommonCarrier")),
            "CarrierID": sv["ShipVia"]}


def summary_rows(store: Store, item_id: str, wh: str | None) -> list[Tree]:
    it = store.items[item_id]
    rows = []
    for w, stock in it["warehouses"].items():
        if wh and w != wh:
            continue
        a = store.availability(item_id, w)
        rows.append({"id": stock["id"], "WarehouseID": w, "LocationID": stock.get("Location"),
                     "QtyOnHand": a["QtyOnHand"], "QtyAvailable": a["QtyAvailable"],
                     "QtyAvailableForShipment": a["QtyAvailableForShipment"], "QtyNotAvailable": a["QtyNotAvailable"],
                     "BaseUOM": it["BaseUOM"]})
    return rows


def tax_category_tree(store: Store, c: Rec) -> Tree:
    return {**_sys(c), **_scalars(c, ("TaxCategoryID", "Description", "Active", "ExcludeListedTaxes")),
            "Details": [{"id": str(uuid.uuid5(uuid.UUID(c["id"]), t)), "TaxCategory": c["TaxCategoryID"],
                         "TaxID": t, "Description": f"{t} {TAXES[t]}%", "TaxType": "Sales"}
                        for t in TAX_CATEGORIES.get(c["TaxCategoryID"], ())]}


def nonstock_tree(store: Store, it: Rec) -> Tree:
    return {**_sys(it), **_scalars(it, ("InventoryID", "Description", "ItemStatus", "ItemClass", "ItemType",
                                        "BaseUOM", "SalesUOM", "PurchaseUOM", "DefaultPrice", "TaxCategory",
                                        "RequireShipment", "LastModified"))}
