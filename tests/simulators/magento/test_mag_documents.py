"""Ship / invoice: state machine (§9), exact Document Validation messages (§1), MSI side effects."""

from __future__ import annotations

import threading

from mag_support import create_order, sc

SHIP = "Shipment Document Validation Error(s):\n"
INV = "Invoice Document Validation Error(s):\n"


def _state(api, oid):
    o = api.get(f"/orders/{oid}").json()
    return o["state"], o["status"]


def test_ship_then_invoice_completes(api):
    # Given a new order
    oid = create_order(api)["entity_id"]
    # When shipping everything, then invoicing everything
    sid = api.post(f"/order/{oid}/ship", {"items": []})
    after_ship = _state(api, oid)
    iid = api.post(f"/order/{oid}/invoice", {"capture": True})
    # Then ids are bare ints (458 first), processing after the shipment, complete after the invoice
    assert sid.json() == 458 and isinstance(iid.json(), int)
    assert after_ship == ("processing", "processing")
    assert _state(api, oid) == ("complete", "complete")


def test_invoice_then_ship_completes_and_pays(api):
    # Given a new order of 45.00
    oid = create_order(api)["entity_id"]
    # When invoicing first
    inv_id = api.post(f"/order/{oid}/invoice", {"capture": True}).json()
    mid = api.get(f"/orders/{oid}").json()
    api.post(f"/order/{oid}/ship", {})
    # Then the invoice is paid and totals moved, processing until shipped, then complete
    inv = api.get(f"/invoices/{inv_id}").json()
    assert inv["state"] == 2 and inv["grand_total"] == 45.0
    assert api.get("/invoices", sc([("order_id", oid, "eq")])).json()["items"][0]["entity_id"] == inv_id
    assert (mid["state"], mid["total_paid"], mid["total_invoiced"], mid["total_due"]) == ("processing", 45, 45, 0)
    assert _state(api, oid) == ("complete", "complete")


def test_partial_shipment_stays_processing(api):
    # Given an order for 2 x WATER2809
    order = create_order(api)
    item_id = order["items"][0]["item_id"]
    # When shipping 1 and invoicing everything
    api.post(f"/order/{order['entity_id']}/ship", {"items": [{"order_item_id": item_id, "qty": 1}]})
    api.post(f"/order/{order['entity_id']}/invoice", {"capture": True})
    # Then still processing (1 left to ship), qty_shipped 1
    got = api.get(f"/orders/{order['entity_id']}").json()
    assert got["state"] == "processing" and got["items"][0]["qty_shipped"] == 1


def test_zero_paid_import_closes_instead_of_completing(api):
    # Given an imported order with zero totals
    oid = create_order(api, grand_total=0, base_grand_total=0, items=[("WATER2809", 1, 0.0)])["entity_id"]
    # When invoiced and shipped
    api.post(f"/order/{oid}/invoice", {})
    api.post(f"/order/{oid}/ship", {})
    # Then nothing is refundable: closed, not complete
    assert _state(api, oid) == ("closed", "closed")


def test_duplicate_shipment_refused_with_exact_message(api):
    # Given a fully shipped order
    oid = create_order(api)["entity_id"]
    api.post(f"/order/{oid}/ship", {})
    # When shipping again
    resp = api.post(f"/order/{oid}/ship", {})
    # Then the nothing-left message
    assert resp.status_code == 400
    assert resp.json() == {"message": SHIP + "The order does not allow a shipment to be created.\n"
                                             "You can't create a shipment without products."}


def test_over_ship_and_over_invoice_messages(api):
    # Given an order for 2
    order = create_order(api)
    oid, item_id = order["entity_id"], order["items"][0]["item_id"]
    # When shipping and invoicing 3
    ship = api.post(f"/order/{oid}/ship", {"items": [{"order_item_id": item_id, "qty": 3}]})
    inv = api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": item_id, "qty": 3}]})
    # Then the quantity lines name the SKU, and nothing changed
    assert ship.json()["message"] == (SHIP + "The quantity to ship must not be greater than the unshipped "
                                             'quantity for product SKU "WATER2809".')
    assert inv.json()["message"] == (INV + "The quantity to invoice must not be greater than the uninvoiced "
                                           'quantity for product SKU "WATER2809".')
    assert _state(api, oid) == ("new", "pending")


def test_item_not_on_order_messages(api):
    # Given an order
    oid = create_order(api)["entity_id"]
    # When shipping / invoicing an order_item_id that is not on it
    ship = api.post(f"/order/{oid}/ship", {"items": [{"order_item_id": 424242, "qty": 1}]})
    inv = api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": 424242, "qty": 1}]})
    # Then the not-part-of-the-order lines
    assert ship.status_code == 400 and "that is not part of the original order." in ship.json()["message"]
    not_part = "The invoice contains one or more items that are not part of the original order."
    assert inv.json()["message"] == INV + not_part


def test_nothing_left_to_invoice_message(api):
    # Given a fully invoiced (still processing) order
    oid = create_order(api)["entity_id"]
    api.post(f"/order/{oid}/invoice", {})
    # When invoicing again
    resp = api.post(f"/order/{oid}/invoice", {})
    # Then the not-allowed + without-products lines
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        INV + "The order does not allow an invoice to be created.\n"
        "The invoice can't be created without products. Add products and try again.")


def test_complete_order_invoice_names_status(api):
    # Given a complete order
    oid = create_order(api)["entity_id"]
    api.post(f"/order/{oid}/ship", {})
    api.post(f"/order/{oid}/invoice", {})
    # When invoicing again
    resp = api.post(f"/order/{oid}/invoice", {})
    # Then the status is substituted into the text
    status_line = "An invoice cannot be created when an order has a status of complete"
    assert resp.json()["message"].startswith(INV + status_line)


def test_unknown_order_404_for_ship_and_invoice(api):
    # Given no order 5555
    # When shipping / invoicing it
    # Then 404 entity message
    for path in ("/order/5555/ship", "/order/5555/invoice"):
        resp = api.post(path, {})
        assert resp.status_code == 404
        assert resp.json()["message"].startswith("The entity that was requested doesn't exist.")


def test_shipment_with_tracks_msi_deduction_and_reservation_drift(sim, api):
    # Given WATER2809 with 263 at source default and salable 263
    oid = create_order(api)["entity_id"]
    before = api.get("/inventory/get-product-salable-quantity/WATER2809/1").json()
    # When shipping 2 from source default with a UPS track
    sid = api.post(f"/order/{oid}/ship", {"tracks": [{"track_number": "1Z999", "title": "UPS Ground",
                                                      "carrier_code": "ups"}],
                                          "arguments": {"extension_attributes": {"source_code": "default"}}}).json()
    # Then the source qty drops by 2 but a +2 compensation reservation makes salable drift UP by... zero net
    shp = api.get(f"/shipment/{sid}").json()
    assert shp["increment_id"] == "000000423" and shp["tracks"][0]["track_number"] == "1Z999"
    assert shp["items"][0]["qty"] == 2 and shp["order_id"] == oid
    assert sim.source_qty("WATER2809") == 261
    after = api.get("/inventory/get-product-salable-quantity/WATER2809/1").json()
    assert before == 263 and after == 263  # physical -2, reservation +2: salable no longer drops
    assert api.get("/shipments", sc([("order_id", oid, "eq")])).json()["total_count"] == 1


def test_invalid_source_code_cannot_save_shipment(api):
    # Given an order
    oid = create_order(api)["entity_id"]
    # When shipping from the swagger sample source "string"
    resp = api.post(f"/order/{oid}/ship", {"arguments": {"extension_attributes": {"source_code": "string"}}})
    # Then 400 Could not save a shipment, and no shipment exists
    assert resp.status_code == 400
    assert resp.json() == {"message": "Could not save a shipment, see error log for details"}
    assert api.get(f"/orders/{oid}").json()["items"][0]["qty_shipped"] == 0


def test_concurrent_ship_is_serialised(api, sim):
    # Given an order
    oid = create_order(api)["entity_id"]
    results: list[int] = []

    def ship() -> None:
        from mag_support import Api
        results.append(Api(sim, sim.token).post(f"/order/{oid}/ship", {}).status_code)

    # When five clients ship it at once
    threads = [threading.Thread(target=ship) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one shipment was created
    assert sorted(results) == [200, 400, 400, 400, 400]
    assert api.get(f"/orders/{oid}").json()["items"][0]["qty_shipped"] == 2


def test_repository_shipment_save_skips_validation(api):
    # Given a fully shipped order
    order = create_order(api)
    oid, item_id = order["entity_id"], order["items"][0]["item_id"]
    api.post(f"/order/{oid}/ship", {})
    # When POST /V1/shipment/ saves another shipment for the same items
    resp = api.post("/shipment/", {"entity": {"order_id": oid, "items": [{"order_item_id": item_id, "qty": 2}],
                                              "tracks": [], "comments": []}}, check=False)
    # Then Magento accepts it: a duplicate shipment document
    assert resp.status_code == 200
    assert api.get("/shipments", sc([("order_id", oid, "eq")])).json()["total_count"] == 2


def test_add_track_to_existing_shipment(api):
    # Given a shipment
    oid = create_order(api)["entity_id"]
    sid = api.post(f"/order/{oid}/ship", {}).json()
    # When adding a track
    resp = api.post("/shipment/track", {"entity": {"order_id": oid, "parent_id": sid, "track_number": "T1",
                                                   "title": "Custom", "carrier_code": "custom", "weight": 1.0,
                                                   "qty": 2, "description": "box 1"}})
    # Then it is stored on the shipment
    assert resp.status_code == 200 and resp.json()["entity_id"]
    assert [t["track_number"] for t in api.get(f"/shipment/{sid}").json()["tracks"]] == ["T1"]
