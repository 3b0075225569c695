"""Credit memos and returns: RefundOrder/RefundInvoice messages, totals, order state, stock, /V1/returns by edition."""

from __future__ import annotations

from mag_support import create_order, sc

CM = "Creditmemo Document Validation Error(s):\n"


def _complete(api, items=None):
    """An order shipped from the default source and invoiced (2 x WATER2809 at 20.00 + 5.00 shipping = 45.00)."""
    order = create_order(api, items)
    oid = order["entity_id"]
    assert api.post(f"/order/{oid}/ship", {"items": []}).status_code == 200
    inv = api.post(f"/order/{oid}/invoice", {"capture": True}).json()
    return oid, order["items"][0]["item_id"], inv


def test_partial_refund_with_return_to_stock_then_rest_closes_the_order(api, sim):
    # Given a complete order and the stock after shipping
    oid, item_id, _ = _complete(api)
    stock = sim.source_qty("WATER2809")
    # When refunding 1 unit with return to stock and no shipping
    cm_id = api.post(f"/order/{oid}/refund", {
        "items": [{"order_item_id": item_id, "qty": 1}], "notify": False,
        "arguments": {"shipping_amount": 0, "extension_attributes": {"return_to_stock_items": [item_id]}}})
    assert cm_id.status_code == 200, cm_id.text
    cm = api.get(f"/creditmemo/{cm_id.json()}").json()
    mid = api.get(f"/orders/{oid}").json()
    # Then one credit memo of 20.00, the unit back at the source, the order still complete
    assert (cm["grand_total"], cm["subtotal"], cm["shipping_amount"], cm["state"]) == (20.0, 20.0, 0.0, 2)
    assert cm["items"][0]["qty"] == 1 and cm["items"][0]["sku"] == "WATER2809" and cm["increment_id"] == "000000001"
    assert sim.source_qty("WATER2809") == stock + 1
    assert (mid["state"], mid["total_refunded"], mid["items"][0]["qty_refunded"]) == ("complete", 20.0, 1)
    # When refunding the rest (second unit and the shipping by default), without return to stock
    second = api.post(f"/order/{oid}/refund", {"items": [{"order_item_id": item_id, "qty": 1}]}).json()
    # Then 25.00 refunded, the order closed, the stock unchanged
    got = api.get(f"/orders/{oid}").json()
    assert api.get(f"/creditmemo/{second}").json()["grand_total"] == 25.0
    assert (got["state"], got["status"], got["total_refunded"], got["base_total_refunded"]) == (
        "closed", "closed", 45.0, 45.0)
    assert sim.source_qty("WATER2809") == stock + 1


def test_refusals_carry_magentos_messages_and_change_nothing(api):
    # Given a complete order of 45.00
    oid, item_id, _ = _complete(api)
    # When asking too many units, more money than paid, an unknown item only, a shipping amount above the rest
    too_many = api.post(f"/order/{oid}/refund", {"items": [{"order_item_id": item_id, "qty": 3}]})
    too_much = api.post(f"/order/{oid}/refund", {"arguments": {"adjustment_positive": 1}})
    unknown = api.post(f"/order/{oid}/refund", {"items": [{"order_item_id": 999999, "qty": 1}],
                                                "arguments": {"shipping_amount": 0}})
    shipping = api.post(f"/order/{oid}/refund", {"arguments": {"shipping_amount": 6}})
    # Then Magento's own messages, and the order untouched
    assert too_many.status_code == 400
    assert too_many.json()["message"] == (CM + 'The quantity to creditmemo must not be greater than the unrefunded '
                                          'quantity for product SKU "WATER2809".\nThe most money available to '
                                          'refund is 45.')
    assert too_much.json()["message"] == CM + "The most money available to refund is 45."
    assert unknown.json()["message"] == CM + "The credit memo's total must be positive."
    assert shipping.json() == {"message": "Maximum shipping amount allowed to refund is: %1", "parameters": ["$5.00"]}
    assert api.get(f"/orders/{oid}").json().get("total_refunded") in (None, 0, 0.0)
    assert api.get("/creditmemos", sc([("order_id", oid, "eq")])).json()["total_count"] == 0


def test_closed_and_uninvoiced_orders_refuse(api):
    # Given a fully refunded order and an order never invoiced
    oid, _, _ = _complete(api)
    assert api.post(f"/order/{oid}/refund", {}).status_code == 200
    fresh = create_order(api, ext_order_id="SOT00099")["entity_id"]
    # When refunding again / refunding the uninvoiced order
    again = api.post(f"/order/{oid}/refund", {})
    never = api.post(f"/order/{fresh}/refund", {})
    # Then both refused with CanRefund's messages
    assert again.json()["message"].startswith(CM + "A creditmemo can not be created when an order has a status of "
                                                   "closed")
    assert never.json()["message"].startswith(CM + "The order does not allow a creditmemo to be created.")


def test_invoice_refund_is_limited_to_the_invoice_and_adjustments_add_up(api):
    # Given an order invoiced in two invoices of 1 unit each
    order = create_order(api)
    oid, item_id = order["entity_id"], order["items"][0]["item_id"]
    api.post(f"/order/{oid}/ship", {})
    inv1 = api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": item_id, "qty": 1}]}).json()
    api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": item_id, "qty": 1}]})
    # When refunding invoice 1 with an adjustment refund of 2 and a fee of 3, then asking invoice 1 again
    cm_id = api.post(f"/invoice/{inv1}/refund", {"items": [{"order_item_id": item_id, "qty": 1}], "arguments": {
        "shipping_amount": 0, "adjustment_positive": 2, "adjustment_negative": 3}, "isOnline": False}).json()
    again = api.post(f"/invoice/{inv1}/refund", {"items": [{"order_item_id": item_id, "qty": 1}],
                                                  "arguments": {"shipping_amount": 0}})
    online = api.post(f"/invoice/{inv1}/refund", {"isOnline": True})
    # Then the memo is linked to the invoice, 20 + 2 - 3 = 19.00, and the invoice has no unit left to refund
    cm = api.get(f"/creditmemo/{cm_id}").json()
    assert (cm["invoice_id"], cm["grand_total"], cm["adjustment"]) == (inv1, 19.0, -1.0)
    assert again.json()["message"] == (CM + 'The quantity to creditmemo must not be greater than the unrefunded '
                                       'quantity for product SKU "WATER2809".')
    assert online.json()["message"] == CM + "We can't create creditmemo for the invoice."


def test_creditmemos_search_by_updated_at(api):
    # Given two credit memos on two orders
    first, item1, _ = _complete(api)
    api.post(f"/order/{first}/refund", {"items": [{"order_item_id": item1, "qty": 1}]})
    cm = api.get("/creditmemos", sc([("order_id", first, "eq")])).json()["items"][0]
    # When searching by updated_at from the memo's time, and after it
    found = api.get("/creditmemos", sc([("updated_at", cm["updated_at"], "gteq")])).json()
    none = api.get("/creditmemos", sc([("updated_at", "2999-01-01 00:00:00", "gteq")])).json()
    # Then the watermark filter works like any searchCriteria
    assert [c["entity_id"] for c in found["items"]] == [cm["entity_id"]] and none["total_count"] == 0


def test_returns_exist_only_on_adobe_commerce(api, sim):
    # Given an Open Source store
    oid, item_id, _ = _complete(api)
    # When listing returns
    missing = api.get("/returns", sc(), check=False)
    # Then the route does not exist, as on a real Open Source store
    assert missing.status_code == 404 and missing.json()["message"] == "Request does not match any route."
    # Given Adobe Commerce
    sim.configure(edition="adobe_commerce")
    rma = api.post("/returns", {"rmaDataObject": {
        "increment_id": "", "entity_id": 0, "order_id": oid, "order_increment_id": "", "store_id": 1,
        "customer_id": 101, "date_requested": "", "customer_custom_email": "", "status": "authorized",
        "comments": [], "tracks": [],
        "items": [{"entity_id": 0, "rma_entity_id": 0, "order_item_id": item_id, "qty_requested": 1,
                   "qty_authorized": 1, "qty_approved": 0, "qty_returned": 0, "reason": "damaged",
                   "condition": "opened", "resolution": "refund", "status": "authorized"}]}})
    # Then the return is stored and listed
    assert rma.status_code == 200, rma.text
    listed = api.get("/returns", sc([("order_id", oid, "eq")])).json()
    assert listed["items"][0]["status"] == "authorized" and listed["items"][0]["items"][0]["qty_authorized"] == 1
    assert api.get(f"/returns/{rma.json()['entity_id']}").json()["order_increment_id"] == rma.json()[
        "order_increment_id"]


def test_an_rma_moves_through_authorised_and_received_and_out_of_order_quantities_are_refused(api, sim):
    # Given an Adobe Commerce store and a pending RMA for 2 units
    oid, item_id, _ = _complete(api)
    sim.configure(edition="adobe_commerce")

    def rma(status: str, rid: int = 0, **quantities: int):
        """A whole rmaDataObject (the contract requires every field of rma-data-rma-interface)."""
        line = {"entity_id": 0, "rma_entity_id": rid, "order_item_id": item_id, "qty_requested": 2,
                "qty_authorized": 0, "qty_approved": 0, "qty_returned": 0, "reason": "", "condition": "",
                "resolution": "", "status": status, **quantities}
        return {"rmaDataObject": {
            "increment_id": "", "entity_id": rid, "order_id": oid, "order_increment_id": "", "store_id": 1,
            "customer_id": 101, "date_requested": "", "customer_custom_email": "", "status": status,
            "comments": [], "tracks": [], "items": [line]}}

    rid = api.post("/returns", rma("pending")).json()["entity_id"]

    def save(status: str, **quantities: int):
        return api.put(f"/returns/{rid}", rma(status, rid, **quantities), check=False)

    # When more is returned than authorised, or more authorised than requested
    refused = [save("received", qty_authorized=1, qty_returned=2), save("authorized", qty_authorized=3)]
    # Then refused and nothing changed
    assert [(r.status_code, r.json()["message"]) for r in refused] == [(400, "We can't save this RMA.")] * 2
    assert api.get(f"/returns/{rid}").json()["status"] == "pending"
    # When authorised, then received
    assert save("authorized", qty_authorized=2).status_code == 200
    received = save("received", qty_authorized=2, qty_returned=1).json()
    # Then the RMA and its item carry the workflow's quantities
    [line] = received["items"]
    assert received["status"] == "received"
    assert (line["qty_requested"], line["qty_authorized"], line["qty_returned"], line["status"]) == (
        2, 2, 1, "received")
    # And an Open Source store has no such route
    sim.configure(edition="open_source")
    assert save("received", qty_authorized=2, qty_returned=2).status_code == 404


def test_credit_memo_tax_is_the_items_tax_share_rounded_to_the_cent_and_the_last_takes_what_is_left(api):
    # Given a complete order of 3 x MUG500 at 12.99 whose item carries 3.22 tax, and 5.00 shipping with 0.41 tax
    from mag_support import order_body

    body = order_body([("MUG500", 3, 12.99)], shipping_tax_amount=0.41, base_shipping_tax_amount=0.41,
                      tax_amount=3.63, base_tax_amount=3.63, grand_total=47.60, base_grand_total=47.60)
    body["entity"]["items"][0].update(tax_amount=3.22, base_tax_amount=3.22, tax_percent=8.25)
    created = api.put("/orders/create", body)
    assert created.status_code == 200, created.text
    oid, item_id = created.json()["entity_id"], created.json()["items"][0]["item_id"]
    assert api.post(f"/order/{oid}/ship", {"items": []}).status_code == 200
    assert api.post(f"/order/{oid}/invoice", {"capture": True}).status_code == 200
    # When refunding 2 units with half the shipping (Creditmemo\Total\Tax: the share, rounded with the delta)
    first = api.post(f"/order/{oid}/refund", {"items": [{"order_item_id": item_id, "qty": 2}],
                                              "arguments": {"shipping_amount": 2.5}})
    assert first.status_code == 200, first.text
    cm = api.get(f"/creditmemo/{first.json()}").json()
    # Then 3.22 x 2/3 = 2.1467 -> 2.15 on the item, 0.41 x 1/2 = 0.205 (- the 0.0033 delta) -> 0.20 on shipping
    assert (cm["items"][0]["tax_amount"], cm["shipping_tax_amount"], cm["tax_amount"], cm["grand_total"]) == (
        2.15, 0.2, 2.35, 30.83)
    # When refunding the rest: the last unit takes the item's tax left, the shipping its tax left
    rest = api.get(f"/creditmemo/{api.post(f'/order/{oid}/refund', {}).json()}").json()
    assert (rest["items"][0]["tax_amount"], rest["shipping_tax_amount"], rest["tax_amount"], rest["grand_total"]) == (
        1.07, 0.21, 1.28, 16.77)
    got = api.get(f"/orders/{oid}").json()
    assert (got["state"], got["tax_refunded"], got["total_refunded"]) == ("closed", 3.63, 47.6)
