"""A second sales order type (the custom ST) numbered by a sequence of its own in SO's format: orders are keyed by
(OrderType, OrderNbr), so an SO and an ST order can carry the same number and are two orders everywhere."""

from __future__ import annotations

import httpx
from acu_flow import run_action
from acu_sim_helpers import BASE, order_body, val
from acu_support import Receiver

from acumatica_sim import AcumaticaSimulator


def _put_order(c: httpx.Client, order_type: str, customer: str = "AACUSTOMER", qty: int = 2) -> dict:
    r = c.put(f"{BASE}/SalesOrder", json=order_body(qty, customer, OrderType={"value": order_type}))
    assert r.status_code == 200, r.text
    return r.json()


def _share_numbers(c: httpx.Client) -> None:
    r = c.put("/_sim/numbering", json={"ST": 24})
    assert r.status_code == 200 and (r.json()["SO"], r.json()["ST"]) == (24, 24)


def test_st_and_so_issue_the_same_number_as_two_orders(client: httpx.Client) -> None:
    # Given ST's sequence set to issue what SO's issues next
    _share_numbers(client)
    # When an SO order (AACUSTOMER) and an ST order (BIGBOX) are entered, then one more of each
    so, st = _put_order(client, "SO"), _put_order(client, "ST", "BIGBOX", qty=3)
    so2, st2 = _put_order(client, "SO"), _put_order(client, "ST", "BIGBOX")
    # Then both carry SOT00024 (then SOT00025), each its own record found by its own key
    assert [(val(o, "OrderType"), val(o, "OrderNbr")) for o in (so, st, so2, st2)] == [
        ("SO", "SOT00024"), ("ST", "SOT00024"), ("SO", "SOT00025"), ("ST", "SOT00025")]
    by_key = client.get(f"{BASE}/SalesOrder/ST/SOT00024").json()
    by_pipe = client.get(f"{BASE}/SalesOrder/ST|SOT00024").json()
    assert by_key["id"] == by_pipe["id"] == st["id"] != so["id"]
    assert (val(by_key, "CustomerID"), val(by_key, "OrderTotal")) == ("BIGBOX", 60.0)
    assert val(client.get(f"{BASE}/SalesOrder/SO/SOT00024").json(), "CustomerID") == "AACUSTOMER"
    # and $filter tells them apart by type, or finds both by number
    only_st = client.get(f"{BASE}/SalesOrder", params={"$filter": "OrderType eq 'ST'"}).json()
    both = client.get(f"{BASE}/SalesOrder", params={"$filter": "OrderNbr eq 'SOT00024'"}).json()
    assert sorted(val(o, "OrderNbr") for o in only_st) == ["SOT00024", "SOT00025"]
    assert sorted(val(o, "OrderType") for o in both) == ["SO", "ST"]


def test_st_numbers_start_from_their_own_sequence(client: httpx.Client) -> None:
    # Given the walkthrough's sequences (SO at SOT00024, ST never used)
    # When an ST order is entered without touching its sequence
    st = _put_order(client, "ST")
    # Then it takes ST's first number; SO's sequence did not move
    assert val(st, "OrderNbr") == "SOT00001"
    assert val(_put_order(client, "SO"), "OrderNbr") == "SOT00024"


def test_unknown_order_type_is_refused_on_the_field(client: httpx.Client) -> None:
    # Given / When an order of a type the tenant does not have
    r = client.put(f"{BASE}/SalesOrder", json=order_body(OrderType={"value": "XX"}))
    # Then 422 on OrderType, and no number was used
    assert r.status_code == 422 and r.json()["OrderType"]["error"] == "'Order Type' cannot be found in the system."
    assert val(_put_order(client, "SO"), "OrderNbr") == "SOT00024"


def test_push_rows_carry_the_order_type_of_orders_sharing_a_number(acu: AcumaticaSimulator, receiver: Receiver,
                                                                   client: httpx.Client) -> None:
    # Given ST and SO sharing numbers
    _share_numbers(client)
    # When one order of each is entered
    _put_order(client, "SO")
    _put_order(client, "ST", "BIGBOX")
    assert acu.wait_push_idle(5)
    # Then the order query sent one row per order, told apart by OrderType (CustomerID padded to 10, as sent)
    rows = [r for b in receiver.bodies("AMSync-SalesOrders") for r in b["Inserted"]]
    assert sorted((r["OrderType"], r["OrderID"], r["CustomerID"]) for r in rows) == [
        ("SO", "SOT00024", "AACUSTOMER"), ("ST", "SOT00024", "BIGBOX    ")]


def test_st_order_takes_payment_ships_and_invoices_as_so_does(acu: AcumaticaSimulator, receiver: Receiver,
                                                              client: httpx.Client) -> None:
    # Given an SO and an ST order both numbered SOT00024
    _share_numbers(client)
    _put_order(client, "SO")
    _put_order(client, "ST")
    keys = {"OrderType": "ST", "OrderNbr": "SOT00024"}
    # When the ST order is paid, shipped, confirmed, invoiced and the invoice released
    p = client.put(f"{BASE}/Payment", json={
        "Type": {"value": "Payment"}, "CustomerID": {"value": "AACUSTOMER"}, "PaymentMethod": {"value": "CHECK"},
        "PaymentAmount": {"value": 40.0}, "OrdersToApply": [
            {"OrderType": {"value": "ST"}, "OrderNbr": {"value": "SOT00024"}, "AppliedToOrder": {"value": 40.0}}]})
    assert p.status_code == 200, p.text
    assert run_action(client, "Payment", "ReleasePayment",
                      {"Type": "Payment", "ReferenceNbr": val(p.json(), "ReferenceNbr")}).status_code == 204
    assert run_action(client, "SalesOrder", "SalesOrderCreateShipment", keys,
                      {"ShipmentDate": "2023-10-27", "WarehouseID": "RETAIL"}).status_code == 204
    st = client.get(f"{BASE}/SalesOrder/ST/SOT00024", params={"$expand": "Shipments,Totals"}).json()
    shp = str(val(st["Shipments"][0], "ShipmentNbr"))
    assert run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": shp}).status_code == 204
    assert run_action(client, "SalesOrder", "PrepareSalesInvoice", keys).status_code == 204
    inv = str(val(client.get(f"{BASE}/Shipment/{shp}", params={"$expand": "Orders"}).json()["Orders"][0],
                  "InvoiceNbr"))
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Invoice", "ReferenceNbr": inv}).status_code == 204
    assert acu.wait_push_idle(5)
    # Then the ST order is paid and Completed, its shipment and invoice name it by type and number, the invoice is
    # Closed by the payment, and the SO order with the same number was not touched
    st = client.get(f"{BASE}/SalesOrder/ST/SOT00024", params={"$expand": "Totals"}).json()
    assert (val(st, "Status"), val(st["Totals"], "UnpaidBalance")) == ("Completed", 0.0)
    orders_of_shp = client.get(f"{BASE}/Shipment/{shp}", params={"$expand": "Orders"}).json()["Orders"]
    assert [(val(o, "OrderType"), val(o, "OrderNbr")) for o in orders_of_shp] == [("ST", "SOT00024")]
    invoice = client.get(f"{BASE}/SalesInvoice/Invoice/{inv}", params={"$expand": "Details"}).json()
    assert val(invoice, "Status") == "Closed"
    assert [(val(d, "OrderType"), val(d, "OrderNbr")) for d in invoice["Details"]] == [("ST", "SOT00024")]
    so = client.get(f"{BASE}/SalesOrder/SO/SOT00024", params={"$expand": "Shipments,Totals"}).json()
    assert (val(so, "Status"), so.get("Shipments", []), val(so["Totals"], "UnpaidBalance")) == ("Open", [], 40.0)
    # and the shipment, invoice and payment push rows carry ST
    for query in ("AMSync-Shipments", "AMSync-SalesInvoices", "AMSync-Payments"):
        rows = [r for b in receiver.bodies(query) for r in b["Inserted"]]
        assert rows and {(r["OrderType"], r["OrderNbr"]) for r in rows} == {("ST", "SOT00024")}, query


def test_numbering_control_refuses_unknown_types_and_numbers_already_used(acu: AcumaticaSimulator,
                                                                          client: httpx.Client) -> None:
    # Given the walkthrough (SO SOT00023 exists, SO next SOT00024, ST next SOT00001) and an ST order SOT00001
    _put_order(client, "ST")
    # When setting an unknown type, a sequence back onto a used number (both types), a number below 1, a text
    refused = [client.put("/_sim/numbering", json=body) for body in (
        {"XX": 5}, {"SO": 23}, {"ST": 1}, {"ST": 0}, {"ST": "24"})]
    # Then each is 400 saying why, and the sequences are as they were; a number past every used one is taken
    assert [r.status_code for r in refused] == [400] * 5
    assert refused[1].json()["error"] == "order type SO already has SOT00023: its sequence cannot issue SOT00023 again"
    assert "unknown order type 'XX'" in refused[0].json()["error"]
    now = client.get("/_sim/numbering").json()
    assert (now["SO"], now["ST"]) == (24, 2)
    assert acu.set_next_number("st", 30)["ST"] == 30
    assert val(_put_order(client, "ST"), "OrderNbr") == "SOT00030"
