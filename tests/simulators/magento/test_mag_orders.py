"""PUT /orders/create and POST /orders: stored as sent, ids, uniqueness, reads."""

from __future__ import annotations

from mag_support import create_order, order_body, sc


def test_create_stores_as_sent_without_repricing(api):
    # Given an order with ERP prices that differ from the catalog (catalog price 20.00)
    body = order_body([("WATER2809", 2, 17.35)], grand_total=39.7, base_grand_total=39.7, subtotal=34.7,
                      tax_amount=0, shipping_amount=5.0)
    # When creating it
    resp = api.put("/orders/create", body)
    # Then ids are assigned and every total/price stays exactly as sent
    assert resp.status_code == 200
    order = resp.json()
    assert (order["entity_id"], order["increment_id"]) == (1093, "000000995")
    assert order["grand_total"] == 39.7 and order["subtotal"] == 34.7
    item = order["items"][0]
    assert item["price"] == 17.35 and item["order_id"] == 1093 and item["item_id"]
    assert (item["qty_ordered"], item["qty_invoiced"], item["qty_shipped"], item["qty_canceled"]) == (2, 0, 0, 0)
    assert order["state"] == "new" and order["status"] == "pending"


def test_first_shipping_assignment_copied_onto_order(api):
    # Given an order with a shipping assignment
    order = create_order(api)
    # When reading it back
    got = api.get(f"/orders/{order['entity_id']}").json()
    # Then the method and address come back in the rebuilt assignment, the description as sent
    shipping = got["extension_attributes"]["shipping_assignments"][0]["shipping"]
    assert shipping["method"] == "flatrate_flatrate"
    assert shipping["address"]["address_type"] == "shipping" and shipping["address"]["parent_id"] == 1093
    assert shipping["total"]["shipping_amount"] == 5.0
    assert "shipping_method" not in got  # stored on the order, but OrderInterface declares no getter for it
    assert got["shipping_description"] == "Flat Rate - Fixed"


def test_post_orders_same_as_put_create(api):
    # Given the POST variant
    # When creating
    resp = api.post("/orders", order_body())
    # Then it is saved the same way
    assert resp.status_code == 200 and resp.json()["entity_id"] == 1093


def test_increment_id_unique_per_store(api):
    # Given an order with a chosen increment_id
    create_order(api, increment_id="AC-SOT00024")
    # When a second order reuses it in the same store
    resp = api.put("/orders/create", order_body(increment_id="AC-SOT00024"))
    # Then 400 Unique constraint violation found, and nothing was stored
    assert resp.status_code == 400
    assert resp.json() == {"message": "Unique constraint violation found"}
    assert api.get("/orders").json()["total_count"] == 1


def test_increment_id_is_unique_per_store_and_against_magentos_own_numbers(api):
    # Given an order numbered by Magento (000000995) and one numbered by the ERP in store 1
    own = create_order(api)
    create_order(api, increment_id="ST-SOT00024", ext_order_id="ST/SOT00024")
    # When the ERP's number is used again in another store (0), then in store 1 again, and Magento's own number is
    # sent in store 1
    other_store = api.put("/orders/create", order_body(increment_id="ST-SOT00024", store_id=0))
    same_store = api.put("/orders/create", order_body(increment_id="ST-SOT00024", ext_order_id="ST/SOT00024"))
    taken = api.put("/orders/create", order_body(increment_id=own["increment_id"]))
    # Then only the other store's is stored: the key is (increment_id, store_id), and Magento's REST layer renders
    # the AlreadyExistsException of the duplicate key (AbstractDb::save) as 400 with its bare message
    assert other_store.status_code == 200
    for refused in (same_store, taken):
        assert refused.status_code == 400
        assert refused.json() == {"message": "Unique constraint violation found"}
    assert api.get("/orders").json()["total_count"] == 3
    assert api.get("/orders", sc([("ext_order_id", "ST/SOT00024", "eq")])).json()["total_count"] == 1


def test_ext_order_id_is_not_unique(api):
    # Given an order for SOT00024
    create_order(api)
    # When the same ext_order_id is created again (two concurrent Lambdas)
    second = create_order(api)
    # Then both exist and are found by ext_order_id
    found = api.get("/orders", sc([("ext_order_id", "SOT00024", "eq")])).json()
    assert second["increment_id"] == "000000996"
    assert found["total_count"] == 2


def test_missing_entity_and_minimal_body(api):
    # Given a body without "entity", and a minimal one Magento still accepts
    missing = api.put("/orders/create", {"order": {}}, check=False)
    minimal = api.put("/orders/create", {"entity": {"payment": {"method": "checkmo"}}}, check=False)
    # Then the first is the required-argument error, the second is saved (issue #39651)
    assert missing.status_code == 400
    assert missing.json() == {"message": '"%fieldName" is required. Enter and try again.',
                              "parameters": {"fieldName": "entity"}}
    assert minimal.status_code == 200 and minimal.json()["entity_id"] == 1093


def test_entity_id_overwrites_existing(api):
    # Given an order
    order = create_order(api)
    # When saving again with its entity_id and a new status
    resp = api.put("/orders/create", {"entity": {"entity_id": order["entity_id"], "status": "x_custom",
                                                 "customer_email": "ap@altaace.com", "grand_total": 45,
                                                 "base_grand_total": 45, "items": []}})
    # Then the same order was overwritten, not a new one created
    assert resp.status_code == 200 and resp.json()["entity_id"] == order["entity_id"]
    assert api.get("/orders").json()["total_count"] == 1
    assert api.get(f"/orders/{order['entity_id']}/statuses").json() == "x_custom"


def test_get_unknown_and_zero_ids(api):
    # Given no such order
    # When reading id 999999 and id 0
    unknown = api.get("/orders/999999")
    zero = api.get("/orders/0")
    # Then 404 entity message and 400 An ID is needed
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "The entity that was requested doesn't exist. Verify the entity and try again."
    assert zero.status_code == 400 and zero.json()["message"] == "An ID is needed. Set the ID and try again."


def test_orders_items_and_statuses(api):
    # Given an order with two lines
    order = create_order(api, items=[("WATER2809", 2, 20.0), ("JUICE100", 1, 49.99)])
    # When listing its items and its status
    items = api.get("/orders/items", sc([("order_id", order["entity_id"], "eq")])).json()
    status = api.get(f"/orders/{order['entity_id']}/statuses")
    # Then both lines are there and the status is a bare JSON string
    assert sorted(i["sku"] for i in items["items"]) == ["JUICE100", "WATER2809"]
    assert status.json() == "pending"


def test_search_by_updated_at(api):
    # Given an order
    order = create_order(api)
    # When searching updated_at >= its own updated_at, and >= a far-future date
    hit = api.get("/orders", sc([("updated_at", order["updated_at"], "gteq")])).json()
    miss = api.get("/orders", sc([("updated_at", "2999-01-01 00:00:00", "gteq")])).json()
    # Then it matches only the first
    assert hit["total_count"] == 1 and miss["total_count"] == 0
