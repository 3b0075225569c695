"""Customer returns: RC orders linked to the original invoice, receipts back into stock, over-returns refused."""

from __future__ import annotations

import httpx
from acu_flow import create_order, run_action, ship
from acu_sim_helpers import BASE, val


def _invoiced(c: httpx.Client) -> str:
    """The walkthrough's order for 2 x WATER2809 shipped from RETAIL and invoiced: the invoice number."""
    nbr = val(create_order(c), "OrderNbr")
    shipment = ship(c, nbr)
    assert run_action(c, "Shipment", "ConfirmShipment", {"ShipmentNbr": shipment}).status_code == 204
    assert run_action(c, "Shipment", "PrepareInvoice", {"ShipmentNbr": shipment}).status_code == 204
    s = c.get(f"{BASE}/Shipment/{shipment}", params={"$expand": "Orders"}).json()
    return str(val(s["Orders"][0], "InvoiceNbr"))


def _return(c: httpx.Client, inv_nbr: str, qty: int, ref: str) -> httpx.Response:
    return c.put(f"{BASE}/SalesOrder", params={"$expand": "Details"}, json={
        "OrderType": {"value": "RC"}, "CustomerID": {"value": "AACUSTOMER"}, "ExternalRef": {"value": ref},
        "Details": [{"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": qty}, "UnitPrice": {"value": 20},
                     "WarehouseID": {"value": "RETAIL"}, "InvoiceType": {"value": "Invoice"},
                     "InvoiceNbr": {"value": inv_nbr}, "InvoiceLineNbr": {"value": 1}}]})


def _on_hand(c: httpx.Client) -> float:
    item = c.get(f"{BASE}/StockItem/WATER2809", params={"$expand": "WarehouseDetails"}).json()
    return next(val(w, "QtyOnHand") for w in item["WarehouseDetails"] if val(w, "WarehouseID") == "RETAIL")


def test_return_receipt_puts_stock_back_and_completes(client: httpx.Client) -> None:
    # Given an invoiced order and the stock after its shipment
    inv_nbr = _invoiced(client)
    before = _on_hand(client)
    # When an RC order returns 1 unit against the invoice line, and its receipt is created and confirmed
    rc = _return(client, inv_nbr, 1, "CM000000001")
    assert rc.status_code == 200, rc.text
    nbr = val(rc.json(), "OrderNbr")
    line = rc.json()["Details"][0]
    receipt = run_action(client, "SalesOrder", "SalesOrderCreateReceipt", {"OrderType": "RC", "OrderNbr": nbr})
    o = client.get(f"{BASE}/SalesOrder/RC/{nbr}", params={"$expand": "Shipments"}).json()
    receipt_nbr = val(o["Shipments"][0], "ShipmentNbr")
    on_hand_open = _on_hand(client)
    assert run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": receipt_nbr}).status_code == 204
    # Then a Receipt line linked to the invoice, stock back only at confirmation, the RC order Completed
    assert receipt.status_code == 204, receipt.text
    assert (val(line, "Operation"), val(line, "InvoiceNbr"), val(line, "InvoiceLineNbr")) == ("Receipt", inv_nbr, 1)
    assert (val(rc.json(), "OrderNbr"), val(rc.json(), "OrderTotal")) == ("RC000001", 20.0)
    assert val(o["Shipments"][0], "ShipmentType") == "Receipt"
    assert on_hand_open == before and _on_hand(client) == before + 1
    assert val(client.get(f"{BASE}/SalesOrder/RC/{nbr}").json(), "Status") == "Completed"


def test_returning_more_than_invoiced_or_another_item_is_refused(client: httpx.Client) -> None:
    # Given an invoiced order of 2 units and a first return of 2
    inv_nbr = _invoiced(client)
    assert _return(client, inv_nbr, 2, "CM1").status_code == 200
    # When returning one more unit of that invoice line, and a return pointing at an unknown invoice
    over = _return(client, inv_nbr, 1, "CM2")
    unknown = _return(client, "AR999999", 1, "CM3")
    wrong_item = client.put(f"{BASE}/SalesOrder", json={
        "OrderType": {"value": "RC"}, "CustomerID": {"value": "AACUSTOMER"},
        "Details": [{"InventoryID": {"value": "JUICE100"}, "OrderQty": {"value": 1},
                     "InvoiceType": {"value": "Invoice"}, "InvoiceNbr": {"value": inv_nbr},
                     "InvoiceLineNbr": {"value": 1}}]})
    # Then each is refused with a message naming it, and nothing was created (the RC sequence did not move)
    assert over.status_code == 422 and "exceeds the quantity" in over.text
    assert unknown.status_code == 422 and "'Invoice Nbr.' cannot be found in the system." in unknown.text
    assert wrong_item.status_code == 422 and "is not on the line 1" in wrong_item.text
    found = client.get(f"{BASE}/SalesOrder", params={"$filter": "OrderType eq 'RC'"}).json()
    assert [val(o, "ExternalRef") for o in found] == ["CM1"]


def test_shipment_action_refused_on_a_return(client: httpx.Client) -> None:
    # Given an RC order
    nbr = val(_return(client, _invoiced(client), 1, "CM9").json(), "OrderNbr")
    # When asking a shipment instead of a receipt
    r = run_action(client, "SalesOrder", "SalesOrderCreateShipment", {"OrderType": "RC", "OrderNbr": nbr})
    # Then refused
    assert r.status_code in (400, 422, 500) and "Create Receipt" in r.text


def test_a_received_return_is_billed_by_a_credit_memo_and_its_misc_line_is_not_received(
        client: httpx.Client) -> None:
    # Given an RC order returning 1 unit against the invoice, plus a misc. line (INSTALL, a service)
    inv_nbr = _invoiced(client)
    rc = _return(client, inv_nbr, 1, "CM000000009")
    nbr = val(rc.json(), "OrderNbr")
    extra = {"OrderType": {"value": "RC"}, "OrderNbr": {"value": nbr},
             "Details": [{"InventoryID": {"value": "INSTALL"}, "OrderQty": {"value": 1}, "UnitPrice": {"value": 5}}]}
    assert client.put(f"{BASE}/SalesOrder", json=extra).status_code == 200
    # When its receipt is created and confirmed, and Prepare Invoice runs on the receipt
    assert run_action(client, "SalesOrder", "SalesOrderCreateReceipt",
                      {"OrderType": "RC", "OrderNbr": nbr}).status_code == 204
    o = client.get(f"{BASE}/SalesOrder/RC/{nbr}", params={"$expand": "Shipments"}).json()
    receipt_nbr = val(o["Shipments"][0], "ShipmentNbr")
    receipt = client.get(f"{BASE}/Shipment/{receipt_nbr}", params={"$expand": "Details"}).json()
    assert run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": receipt_nbr}).status_code == 204
    assert run_action(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": receipt_nbr}).status_code == 204
    # Then the receipt holds the stock line only, and the document billing it is a Credit Memo
    assert [val(d, "InventoryID") for d in receipt["Details"]] == ["WATER2809"]
    s = client.get(f"{BASE}/Shipment/{receipt_nbr}", params={"$expand": "Orders"}).json()
    assert val(s["Orders"][0], "InvoiceType") == "Credit Memo"
    memo = client.get(f"{BASE}/SalesInvoice/Credit Memo/{val(s['Orders'][0], 'InvoiceNbr')}",
                      params={"$expand": "Details"}).json()
    assert (val(memo, "Type"), [val(d, "OrderType") for d in memo["Details"]]) == ("Credit Memo", ["RC"])
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Credit Memo", "ReferenceNbr": val(memo, "ReferenceNbr")}).status_code == 204


def test_a_cr_order_is_billed_at_once_by_a_credit_memo_whose_release_puts_the_stock_back(
        client: httpx.Client) -> None:
    # Given an invoiced order and the stock after its shipment
    inv_nbr = _invoiced(client)
    before = _on_hand(client)
    # When a CR order (credit memo order type) takes 1 unit back from the invoice line and is invoiced
    cr = client.put(f"{BASE}/SalesOrder", params={"$expand": "Details"}, json={
        "OrderType": {"value": "CR"}, "CustomerID": {"value": "AACUSTOMER"},
        "Details": [{"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 1}, "UnitPrice": {"value": 20},
                     "WarehouseID": {"value": "RETAIL"}, "InvoiceType": {"value": "Invoice"},
                     "InvoiceNbr": {"value": inv_nbr}, "InvoiceLineNbr": {"value": 1}}]})
    assert cr.status_code == 200, cr.text
    nbr = val(cr.json(), "OrderNbr")
    receipt = run_action(client, "SalesOrder", "SalesOrderCreateReceipt", {"OrderType": "CR", "OrderNbr": nbr})
    assert run_action(client, "SalesOrder", "PrepareSalesInvoice", {"OrderType": "CR", "OrderNbr": nbr}).status_code \
        == 204
    memos = client.get(f"{BASE}/SalesInvoice", params={"$filter": "Type eq 'Credit Memo'", "$expand": "Details"}).json()
    [memo] = [m for m in memos if any(val(d, "OrderNbr") == nbr for d in m["Details"])]
    on_hand_balanced = _on_hand(client)
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Credit Memo", "ReferenceNbr": val(memo, "ReferenceNbr")}).status_code == 204
    # Then no receipt for a CR order; a credit memo of 20.00 linked to the CR line; stock back at release; Completed
    assert receipt.status_code == 422
    assert (nbr, val(memo, "Amount"), val(memo["Details"][0], "OrderType")) == ("CR000001", 20.0, "CR")
    assert on_hand_balanced == before and _on_hand(client) == before + 1
    assert val(client.get(f"{BASE}/SalesOrder/CR/{nbr}").json(), "Status") == "Completed"


def test_a_credit_memo_entered_on_its_own_is_checked_against_its_original_invoice_line(client: httpx.Client) -> None:
    # Given an invoiced order of 2 units
    inv_nbr = _invoiced(client)
    before = _on_hand(client)

    def memo(qty: int, line: int = 1) -> httpx.Response:
        return client.put(f"{BASE}/SalesInvoice", params={"$expand": "Details"}, json={
            "Type": {"value": "Credit Memo"}, "CustomerID": {"value": "AACUSTOMER"},
            "Details": [{"InventoryID": {"value": "WATER2809"}, "Qty": {"value": qty},
                         "OrigInvType": {"value": "Invoice"}, "OrigInvNbr": {"value": inv_nbr},
                         "OrigInvLineNbr": {"value": line}}]})

    # When a credit memo credits 1 unit of the invoice line, then 2 more, then a line the invoice does not have
    first, more, wrong = memo(1), memo(2), memo(1, line=9)
    # Then the first is saved with the original line's price and warehouse, the others refused
    assert first.status_code == 200, first.text
    line = first.json()["Details"][0]
    assert (val(line, "UnitPrice"), val(line, "WarehouseID"), val(line, "OrigInvNbr")) == (20.0, "RETAIL", inv_nbr)
    assert (more.status_code, wrong.status_code) == (422, 422)
    assert "exceeds the quantity of the item in the original document" in more.text
    # And its release puts the unit back on hand
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Credit Memo", "ReferenceNbr": val(first.json(), "ReferenceNbr")}).status_code == 204
    assert _on_hand(client) == before + 1


def test_taxes_entered_as_given_are_kept_on_the_return_and_its_credit_memo(client: httpx.Client) -> None:
    # Given an invoiced order, and RC bodies with automatic tax calculation off and their Taxes tab filled
    inv_nbr = _invoiced(client)

    def rc(ref: str, taxes: list[dict[str, object]]) -> httpx.Response:
        return client.put(f"{BASE}/SalesOrder", params={"$expand": "Details,TaxDetails"}, json={
            "OrderType": {"value": "RC"}, "CustomerID": {"value": "AACUSTOMER"}, "ExternalRef": {"value": ref},
            "DisableAutomaticTaxCalculation": {"value": True}, "TaxDetails": taxes,
            "Details": [{"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 1}, "UnitPrice": {"value": 20},
                         "WarehouseID": {"value": "RETAIL"}, "InvoiceType": {"value": "Invoice"},
                         "InvoiceNbr": {"value": inv_nbr}, "InvoiceLineNbr": {"value": 1}}]})

    def tax(tax_id: str, taxable: str, amount: str) -> dict[str, object]:
        return {"TaxID": {"value": tax_id}, "TaxableAmount": {"value": taxable}, "TaxAmount": {"value": amount}}

    unknown = rc("CM7", [tax("NOSUCHTAX", "20", "1")])
    negative = rc("CM8", [tax("CASALES", "20", "-1.65")])
    # When the taxes name known taxes with amounts of their own (not what the engine would compute: 1.65 + 0.30)
    ok = rc("CM9", [tax("CASALES", "20", "1.66"), tax("CITYLOCAL", "20", "0.29")])
    # Then an unknown tax and a negative amount are refused on their fields, nothing created
    assert unknown.status_code == 422 and "'Tax ID' cannot be found in the system." in unknown.text
    assert negative.status_code == 422 and "The value must be greater than or equal to 0." in negative.text
    # and the return keeps the taxes as given: TaxTotal their sum, OrderTotal lines + TaxTotal
    assert ok.status_code == 200, ok.text
    o = ok.json()
    assert val(o, "DisableAutomaticTaxCalculation") is True
    assert sorted((val(t, "TaxID"), val(t, "TaxAmount")) for t in o["TaxDetails"]) == [
        ("CASALES", 1.66), ("CITYLOCAL", 0.29)]
    assert (val(o, "TaxTotal"), val(o, "OrderTotal")) == (1.95, 21.95)
    # When received and billed: its credit memo carries the same tax
    nbr = val(o, "OrderNbr")
    assert run_action(client, "SalesOrder", "SalesOrderCreateReceipt",
                      {"OrderType": "RC", "OrderNbr": nbr}).status_code == 204
    got = client.get(f"{BASE}/SalesOrder/RC/{nbr}", params={"$expand": "Shipments"}).json()
    receipt_nbr = val(got["Shipments"][0], "ShipmentNbr")
    assert run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": receipt_nbr}).status_code == 204
    assert run_action(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": receipt_nbr}).status_code == 204
    s = client.get(f"{BASE}/Shipment/{receipt_nbr}", params={"$expand": "Orders"}).json()
    memo = client.get(f"{BASE}/SalesInvoice/Credit Memo/{val(s['Orders'][0], 'InvoiceNbr')}").json()
    assert (val(memo, "TaxTotal"), val(memo, "Amount")) == (1.95, 21.95)
    found = client.get(f"{BASE}/SalesOrder", params={"$filter": "OrderType eq 'RC'"}).json()
    assert [val(x, "ExternalRef") for x in found] == ["CM9"]


def test_an_ar_credit_memo_is_applied_to_a_released_invoice_and_moves_no_stock(client: httpx.Client) -> None:
    # Given an invoiced order, its invoice released, and the stock after the shipment
    inv_nbr = _invoiced(client)
    assert run_action(client, "SalesInvoice", "ReleaseSalesInvoice",
                      {"Type": "Invoice", "ReferenceNbr": inv_nbr}).status_code == 204
    before = _on_hand(client)

    def memo(apply_to: str, amount: float | None = None, customer: str = "AACUSTOMER") -> httpx.Response:
        app: dict[str, object] = {"DocType": {"value": "Invoice"}, "ReferenceNbr": {"value": apply_to}}
        if amount is not None:
            app["AmountPaid"] = {"value": amount}
        return client.put(f"{BASE}/Invoice", params={"$expand": "Details,ApplicationsCreditMemo"}, json={
            "Type": {"value": "Credit Memo"}, "Customer": {"value": customer},
            "Details": [{"InventoryID": {"value": "WATER2809"}, "Qty": {"value": 1}, "UnitPrice": {"value": 20}},
                        {"TransactionDescription": {"value": "Goodwill"}, "Amount": {"value": 2.5}}],
            "ApplicationsCreditMemo": [app]})

    # When applied to an unknown document, for more than the credit memo, and then as the merchant does
    unknown = memo("AR999999")
    too_much = memo(inv_nbr, 30)
    r = memo(inv_nbr)
    # Then the first two are refused on the application's fields; the third saves Balanced, applied 22.50
    assert unknown.status_code == 422 and "'Reference Nbr.' cannot be found in the system." in unknown.text
    assert too_much.status_code == 422 and "cannot exceed the balance" in too_much.text
    assert r.status_code == 200, r.text
    cm = r.json()
    assert (val(cm, "Type"), val(cm, "Status"), val(cm, "Amount"), val(cm, "Customer")) == (
        "Credit Memo", "Balanced", 22.5, "AACUSTOMER")
    assert [(val(a, "DocType"), val(a, "ReferenceNbr"), val(a, "AmountPaid")) for a in cm["ApplicationsCreditMemo"]] \
        == [("Invoice", inv_nbr, 22.5)]
    assert [val(d, "InventoryID") for d in cm["Details"]] == ["WATER2809", None]
    # When released (ReleaseInvoice; the SO form's release refuses an AR document)
    nbr = val(cm, "ReferenceNbr")
    so_release = run_action(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Credit Memo", "ReferenceNbr": nbr})
    assert so_release.status_code in (400, 422, 500) and "Accounts Receivable" in so_release.text
    assert run_action(client, "Invoice", "ReleaseInvoice", {"Type": "Credit Memo", "ReferenceNbr": nbr}).status_code \
        == 204
    # Then it is posted and fully applied (Closed); no goods moved
    got = client.get(f"{BASE}/Invoice/Credit Memo/{nbr}").json()
    assert (val(got, "Status"), val(got, "Balance")) == ("Closed", 0.0)
    assert _on_hand(client) == before
