"""Several websites/stores/views, store-code routing, currencies, configurable and bundle products (issue 15)."""

from __future__ import annotations

import httpx
from mag_support import Api, order_body

EU = {"websites": [{"code": "eu", "name": "EU Website", "base_currency_code": "EUR"}],
      "groups": [{"code": "eu_store", "name": "EU Store", "website_id": 2}],
      "stores": [{"code": "eu_de", "name": "EU German", "website_id": 2, "store_group_id": 2,
                  "default_display_currency_code": "EUR", "allowed_currencies": ["EUR", "GBP", "USD"],
                  "locale": "de_DE", "timezone": "Europe/Berlin"},
                 {"code": "eu_fr", "name": "EU French", "website_id": 2, "store_group_id": 2, "is_active": 0}]}

SHIRTS = [{"sku": "TEE-R", "name": "Tee red", "price": 15, "custom_attributes": {"color": "49"},
           "sources": {"default": 10}},
          {"sku": "TEE-B", "name": "Tee blue", "price": 15, "custom_attributes": {"color": "50"},
           "sources": {"default": 7}},
          {"sku": "TEE", "name": "Tee", "price": 15, "website_ids": [1, 2],
           "configurable": {"options": [{"attribute_code": "color", "label": "Color", "values": [49, 50]}],
                            "children": ["TEE-R", "TEE-B"]}},
          {"sku": "KIT", "name": "Kit", "price": 0,
           "bundle": {"price_type": "dynamic", "options": [
               {"title": "Drink", "type": "select", "links": [{"sku": "JUICE100", "qty": 2},
                                                             {"sku": "WATER2809", "qty": 1}]},
               {"title": "Mug", "type": "checkbox", "required": False, "links": [{"sku": "MUG500", "qty": 1}]}]}}]


def test_websites_groups_views_and_configs_with_currencies(sim, api):
    # Given a second website (EUR base) with a group and two store views, seeded over the control API
    seeded = httpx.post(f"{sim.url}/_sim/stores", json=EU).json()
    # When reading the store routes
    sites = api.get("/store/websites").json()
    groups = api.get("/store/storeGroups").json()
    views = api.get("/store/storeViews").json()
    configs = {c["code"]: c for c in api.get("/store/storeConfigs").json()}
    only = api.get("/store/storeConfigs", params={"storeCodes[]": "eu_de"}).json()
    # Then the website, its group and views are there with the ids handed out, admin rows included
    assert {"id": 2, "code": "eu", "name": "EU Website", "default_group_id": 2} in sites
    assert {"id": 2, "website_id": 2, "root_category_id": 2, "default_store_id": 2, "name": "EU Store",
            "code": "eu_store"} in groups
    assert {g["id"] for g in groups} == {0, 1, 2} and {s["id"] for s in sites} == {0, 1, 2}
    assert {"id": 3, "code": "eu_fr", "name": "EU French", "website_id": 2, "store_group_id": 2,
            "is_active": 0} in views
    # and storeConfigs (no admin) carry each store's base/display currency and locale
    assert set(configs) == {"default", "eu_de", "eu_fr"}
    assert (configs["eu_de"]["base_currency_code"], configs["eu_de"]["default_display_currency_code"],
            configs["eu_de"]["locale"]) == ("EUR", "EUR", "de_DE")
    assert configs["default"]["base_currency_code"] == "USD"
    assert [c["code"] for c in only] == ["eu_de"]
    assert [c["code"] for c in seeded["configs"]] == ["default", "eu_de", "eu_fr"]


def test_store_code_routes_pick_the_store(sim):
    # Given the EU store views and rates EUR->GBP, EUR->USD (none for the other way round)
    sim.seed_stores(EU)
    sim.set_currencies({"rates": {"EUR": {"GBP": 0.86, "USD": 1.08}}})
    # When reading the (anonymous) currency info through each store code form
    eu = Api(sim, None, "eu_de").get("/directory/currency").json()
    default = Api(sim, None, "default").get("/directory/currency").json()
    bare = httpx.get(f"{sim.url}/rest/V1/directory/currency").json()
    admin = httpx.get(f"{sim.url}/rest/admin/V1/directory/currency")
    # Then eu_de answers in EUR with the rates it has, the default view and /rest/V1 in USD
    assert (eu["base_currency_code"], eu["base_currency_symbol"], eu["default_display_currency_code"]) == \
        ("EUR", "€", "EUR")
    assert eu["available_currency_codes"] == ["EUR", "GBP", "USD"]
    assert eu["exchange_rates"] == [{"currency_to": "EUR", "rate": 1.0}, {"currency_to": "GBP", "rate": 0.86},
                                    {"currency_to": "USD", "rate": 1.08}]
    assert default == bare
    assert default["base_currency_code"] == "USD" and default["exchange_rates"] == [
        {"currency_to": "USD", "rate": 1.0}]
    # and the admin store's code is no REST store code (PathProcessor uses getStores(false))
    assert admin.status_code == 404 and admin.json()["message"] == "Request does not match any route."


def test_control_api_refuses_bad_store_seed(sim):
    # Given a store view naming a group of another website
    bad = {"stores": [{"code": "x", "website_id": 1, "store_group_id": 0}]}
    # When seeding it
    resp = httpx.post(f"{sim.url}/_sim/stores", json=bad)
    # Then the control API says why
    assert resp.status_code == 400 and "belongs to website 0" in resp.json()["error"]


def test_configurable_children_and_options(sim, api):
    # Given a configurable tee with red and blue children
    httpx.post(f"{sim.url}/_sim/products", json={"products": SHIRTS}).raise_for_status()
    # When reading it
    product = api.get("/products/TEE").json()
    children = api.get("/configurable-products/TEE/children").json()
    options = api.get("/configurable-products/TEE/options/all").json()
    simple_children = api.get("/configurable-products/MUG500/children").json()
    simple_options = api.get("/configurable-products/MUG500/options/all")
    unknown = api.get("/configurable-products/NOPE/children")
    # Then the product carries its options, child links and websites
    ext = product["extension_attributes"]
    assert product["type_id"] == "configurable" and ext["website_ids"] == [1, 2]
    assert ext["configurable_product_links"] == [c["id"] for c in children]
    assert [c["sku"] for c in children] == ["TEE-R", "TEE-B"]
    assert "extension_attributes" not in children[0]
    assert {"attribute_code": "color", "value": "49"} in children[0]["custom_attributes"]
    assert options == ext["configurable_product_options"]
    assert options[0]["attribute_id"] == "93" and options[0]["values"] == [{"value_index": 49}, {"value_index": 50}]
    # and a simple product has no children and no options, an unknown SKU is 404
    assert simple_children == []
    assert simple_options.status_code == 400 and simple_options.json() == {
        "message": 'This is implemented for the "%1" configurable product only.', "parameters": ["MUG500"]}
    assert unknown.status_code == 404


def test_bundle_options(sim, api):
    # Given a dynamic bundle of a drink (juice x2 default, or water) and an optional mug
    sim.seed_products(SHIRTS)
    # When reading its options
    options = api.get("/bundle-products/KIT/options/all").json()
    not_bundle = api.get("/bundle-products/TEE/options/all")
    # Then each option lists its selections with their qty, and a non-bundle is refused
    assert [(o["title"], o["type"], o["required"], o["sku"]) for o in options] == [
        ("Drink", "select", True, "KIT"), ("Mug", "checkbox", False, "KIT")]
    assert [(link["sku"], link["qty"], link["is_default"]) for link in options[0]["product_links"]] == [
        ("JUICE100", 2.0, True), ("WATER2809", 1.0, False)]
    assert api.get("/products/KIT").json()["extension_attributes"]["bundle_product_options"] == options
    assert not_bundle.status_code == 400
    assert not_bundle.json()["message"] == "This is implemented for bundle products only."


def _configurable_order(sim, api, qty=2):
    sim.seed_products(SHIRTS)
    body = order_body([("TEE-R", qty, 15.0)])
    parent = dict(body["entity"]["items"][0], product_type="configurable", name="Tee")
    child = {"sku": "TEE-R", "name": "Tee red", "product_type": "simple", "qty_ordered": qty, "price": 0,
             "base_price": 0, "row_total": 0, "base_row_total": 0, "store_id": 1}
    body["entity"]["items"] = [parent, child]
    created = api.put("/orders/create", body).json()
    parent_id, child_id = (i["item_id"] for i in created["items"])
    # a second save links the child to its saved parent (a sent parent_item only links by an existing item_id)
    api.put("/orders/create", {"entity": {"entity_id": created["entity_id"], "increment_id": created["increment_id"],
                                          "grand_total": created["grand_total"],
                                          "base_grand_total": created["base_grand_total"],
                                          "customer_email": created["customer_email"],
                                          "items": [{"item_id": child_id, "sku": "TEE-R",
                                                     "parent_item": {"item_id": parent_id, "sku": "TEE-R"}}]}})
    return created["entity_id"], parent_id, child_id


def test_configurable_order_item_pair_ships_once(sim, api):
    # Given an order with a configurable parent item and its simple child (parent_item_id set)
    oid, parent_id, child_id = _configurable_order(sim, api)
    order = api.get(f"/orders/{oid}").json()
    child = next(i for i in order["items"] if i["item_id"] == child_id)
    # Then the child carries parent_item_id and the whole parent_item, as the item collection loads it
    assert child["parent_item_id"] == parent_id and child["parent_item"]["item_id"] == parent_id
    assert "parent_item" not in next(i for i in order["items"] if i["item_id"] == parent_id)
    # When shipping the whole order (no items named)
    stock_before = sim.source_qty("TEE-R")
    ship = api.post(f"/order/{oid}/ship", {})
    # Then the parent line ships, the dummy child follows, and the red tee's stock moves once
    assert ship.status_code == 200, ship.text
    stored = {i["item_id"]: i for i in sim.order(oid)["items"]}
    assert stored[parent_id]["qty_shipped"] == 2 and stored[child_id]["qty_shipped"] == 2
    assert sim.source_qty("TEE-R") == stock_before - 2
    shipment = api.get(f"/shipment/{ship.json()}").json()
    assert [i["order_item_id"] for i in shipment["items"]] == [parent_id]


def test_configurable_child_alone_cannot_ship_or_invoice(sim, api):
    # Given the configurable pair
    oid, parent_id, child_id = _configurable_order(sim, api, qty=1)
    # When naming only the child
    ship = api.post(f"/order/{oid}/ship", {"items": [{"order_item_id": child_id, "qty": 1}]})
    inv = api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": child_id, "qty": 1}]})
    # Then both are refused (a dummy has nothing to ship or invoice), the parent invoices for both
    assert ship.status_code == 400 and "unshipped quantity" in ship.json()["message"]
    assert inv.status_code == 400 and "uninvoiced quantity" in inv.json()["message"]
    assert api.post(f"/order/{oid}/invoice", {}).status_code == 200
    stored = {i["item_id"]: i for i in sim.order(oid)["items"]}
    assert stored[parent_id]["qty_invoiced"] == 1 and stored[child_id]["qty_invoiced"] == 1


def test_order_with_unknown_store_id_is_an_internal_error(api):
    # Given an order for store 7, which does not exist
    body = order_body(store_id=7)
    # When creating it
    resp = api.put("/orders/create", body, check=False)
    # Then the store FK fails: Magento's opaque 500, and nothing is stored
    assert resp.status_code == 500 and resp.json()["message"].startswith("Internal Error.")
    assert api.get("/orders", {"searchCriteria[pageSize]": "50"}).json()["total_count"] == 0


def test_guest_cart_only_takes_products_of_its_website(sim):
    # Given a product sold on the EU website only
    sim.seed_stores(EU)
    sim.seed_products([{"sku": "EU-ONLY", "price": 9, "website_ids": [2], "sources": {"default": 5}}])
    us, eu = Api(sim, None, "default"), Api(sim, None, "eu_de")
    us_cart, eu_cart = us.post("/guest-carts").json(), eu.post("/guest-carts").json()
    # When adding it to a cart of each store view
    us_add = us.post(f"/guest-carts/{us_cart}/items", {"cartItem": {"sku": "EU-ONLY", "qty": 1, "quote_id": us_cart}})
    eu_add = eu.post(f"/guest-carts/{eu_cart}/items", {"cartItem": {"sku": "EU-ONLY", "qty": 1, "quote_id": eu_cart}})
    # Then only the EU view's cart takes it
    assert us_add.status_code == 400
    assert us_add.json() == {"message": "Product that you are trying to add is not available."}
    assert eu_add.status_code == 200 and eu_add.json()["sku"] == "EU-ONLY"
