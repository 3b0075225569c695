"""The walkthrough's document flow: order -> payment -> shipment -> confirm -> invoice -> release."""

from __future__ import annotations

import httpx
from acu_flow import create_order, pay, run_action, ship
from acu_sim_helpers import BASE, val


def _order(c: httpx.Client, nbr: str = "SOT00024") -> dict:
    return c.get(f"{BASE}/SalesOrder/SO/{nbr}", params={"$expand": "Details,Totals,Payments,Shipments"}).json()


def test_walkthrough_document_flow(client: httpx.Client) -> None:
    # Given order SOT00024 for 2 x WATER2809 @ 20.00
    o = create_order(client)
    assert (val(o, "OrderNbr"), val(o, "Status"), val(o, "OrderTotal")) == ("SOT00024", "Open", 40.0)
    # When a 40.00 prepayment is applied and released
    p = pay(client, "SOT00024", 40.0)
    # Then the unpaid balance is 0 and the payment shows on the order
    o = _order(client)
    assert val(o, "Totals", "UnpaidBalance") == 0.0
    assert val(o["Payments"][0], "ReferenceNbr") == val(p, "ReferenceNbr") and val(o["Payments"][0], "Status") == "Open"
    # When a shipment is created from RETAIL
    nbr = ship(client, "SOT00024")
    # Then shipment 005139 is Open and the order is Shipping
    s = client.get(f"{BASE}/Shipment/{nbr}", params={"$expand": "Details,Orders"}).json()
    assert (nbr, val(s, "Status"), val(s["Details"][0], "ShippedQty")) == ("005139", "Open", 2.0)
    assert val(_order(client), "Status") == "Shipping"
    # When it gets a tracking number and is confirmed
    pkg = client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": nbr}, "Packages": [
        {"BoxID": {"value": "LARGE"}, "TrackingNbr": {"value": "1Z999AA10123456784"}, "Weight": {"value": 2.5}}]},
        params={"$expand": "Packages"})
    assert pkg.status_code == 200 and val(pkg.json()["Packages"][0], "TrackingNbr") == "1Z999AA10123456784"
    assert run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": nbr}).status_code == 204
    # Then the shipment is Confirmed, the order Completed, on hand 261
    o = _order(client)
    assert val(o, "Status") == "Completed" and val(o["Details"][0], "OpenQty") == 0.0
    assert client.get(f"{BASE}/StockItem/WATER2809", params={"$expand": "WarehouseDetails"}).json()[
        "WarehouseDetails"][0]["QtyOnHand"]["value"] == 261.0
    # When the invoice is prepared
    assert run_action(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": nbr}).status_code == 204
    s = client.get(f"{BASE}/Shipment/{nbr}", params={"$expand": "Orders"}).json()
    inv_nbr = val(s["Orders"][0], "InvoiceNbr")
    # Then AR012116 is Balanced and the shipment Invoiced
    inv = client.get(f"{BASE}/SalesInvoice/Invoice/{inv_nbr}", params={"$expand": "Details"}).json()
    assert (inv_nbr, val(inv, "Status"), val(inv, "Amount"), val(s, "Status")) == ("AR012116", "Balanced", 40.0,
                                                                                   "Invoiced")
    assert val(inv["Details"][0], "ShipmentNbr") == "005139" and val(inv["Details"][0], "OrderNbr") == "SOT00024"
    # When it is released
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Invoice", "ReferenceNbr": inv_nbr}).status_code == 204
    # Then the prepayment closes it, the shipment is Completed and the payment Closed
    inv = client.get(f"{BASE}/SalesInvoice/Invoice/{inv_nbr}").json()
    assert (val(inv, "Status"), val(inv, "Balance")) == ("Closed", 0.0)
    assert val(client.get(f"{BASE}/Shipment/{nbr}").json(), "Status") == "Completed"
    assert val(client.get(f"{BASE}/Payment/Prepayment/{val(p, 'ReferenceNbr')}").json(), "Status") == "Closed"


def test_partial_shipment_leaves_back_order(client: httpx.Client) -> None:
    # Given an order for 5 and a shipment reduced to 3
    create_order(client, qty=5)
    nbr = ship(client, "SOT00024")
    s = client.get(f"{BASE}/Shipment/{nbr}", params={"$expand": "Details"}).json()
    r = client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": nbr}, "Details": [
        {"id": s["Details"][0]["id"], "ShippedQty": {"value": 3}}]})
    assert r.status_code == 200
    # When confirmed
    run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": nbr})
    # Then the order is Back Order with 2 open
    o = _order(client)
    assert val(o, "Status") == "Back Order" and val(o["Details"][0], "OpenQty") == 2.0


def test_hold_cancel_reopen_and_refusals(client: httpx.Client) -> None:
    # Given an open order
    create_order(client)
    keys = {"OrderType": "SO", "OrderNbr": "SOT00024"}
    # When confirming a shipment that does not exist / creating a shipment while On Hold
    client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"}, "Hold": {"value": True}})
    refused = run_action(client, "SalesOrder", "SalesOrderCreateShipment", keys, {"WarehouseID": "RETAIL"})
    # Then 422 with the Acumatica message in the entity error
    assert refused.status_code == 422 and "On Hold" in refused.json()["error"]
    # When released from hold, canceled, then reopened
    client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"}, "Hold": {"value": False}})
    run_action(client, "SalesOrder", "CancelSalesOrder", keys)
    assert val(_order(client), "Status") == "Canceled"
    run_action(client, "SalesOrder", "ReopenSalesOrder", keys)
    # Then it is Open again
    assert val(_order(client), "Status") == "Open"


def test_tax_and_discount_rounding(client: httpx.Client) -> None:
    # Given a taxable mug line: 3 x 12.99 with 10 % discount
    r = client.put(f"{BASE}/SalesOrder", params={"$expand": "Details,Totals"}, json={
        "CustomerID": {"value": "AACUSTOMER"}, "ShippingSettings": {"FreightPrice": {"value": 5}},
        "Details": [{"InventoryID": {"value": "MUG500"}, "OrderQty": {"value": 3},
                     "DiscountPercent": {"value": 10}}]})
    o = r.json()
    # Then ext 38.97, discount 3.90, amount 35.07, tax 8.25 % = 2.89, total 35.07 + 5 + 2.89
    d = o["Details"][0]
    assert (val(d, "ExtendedPrice"), val(d, "DiscountAmount"), val(d, "Amount")) == (38.97, 3.9, 35.07)
    assert val(o, "TaxTotal") == 2.89 and val(o, "OrderTotal") == 42.96
