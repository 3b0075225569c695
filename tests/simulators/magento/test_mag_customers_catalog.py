"""Products, customers (create/search/update, updated_at polling), stores, guest-cart shipping estimates."""

from __future__ import annotations

from mag_support import sc


def test_product_by_sku_and_batch(api):
    # Given the walkthrough catalogue
    # When reading WATER2809, an unknown SKU, and a batch with sku in
    one = api.get("/products/WATER2809").json()
    missing = api.get("/products/NOPE")
    batch = api.get("/products", sc([("sku", "WATER2809,JUICE100,MUG500", "in")])).json()
    # Then id 4861 / name WATER2809_ / 20.00, 404 text, and all three
    assert (one["id"], one["name"], one["price"], one["type_id"]) == (4861, "WATER2809_", 20.0, "simple")
    assert missing.status_code == 404
    text = "The product that was requested doesn't exist. Verify the product and try again."
    assert missing.json() == {"message": text}
    assert batch["total_count"] == 3


def test_customer_search_by_email(api):
    # Given Alta Ace
    # When searching by email
    found = api.get("/customers/search", sc([("email", "ap@altaace.com", "eq")])).json()
    # Then one General-group customer with default addresses
    c = found["items"][0]
    assert (c["firstname"], c["lastname"], c["group_id"], c["website_id"]) == ("Alta", "Ace", 1, 1)
    assert c["default_billing"] == str(c["addresses"][0]["id"])


def test_customer_create_unique_email_per_website(api):
    # Given a new customer with an address
    body = {"customer": {"email": "new@example.com", "firstname": "Nia", "lastname": "New", "website_id": 1,
                         "addresses": [{"firstname": "Nia", "lastname": "New", "city": "X", "country_id": "US",
                                        "postcode": "1", "telephone": "1", "street": ["1 Road"],
                                        "default_billing": True, "default_shipping": True}]}}
    # When creating it twice
    first = api.post("/customers", body)
    dup = api.post("/customers", body)
    # Then ids and timestamps are set, and the duplicate is refused
    c = first.json()
    assert first.status_code == 200 and c["id"] and c["created_at"] and c["updated_at"]
    assert c["default_shipping"] == str(c["addresses"][0]["id"])
    assert dup.status_code == 400
    assert dup.json() == {"message": "A customer with the same email address already exists in an associated website."}


def test_customer_update_and_unknown(api):
    # Given Alta Ace (id 101)
    before = api.get("/customers/101").json()
    # When updating the last name
    resp = api.put("/customers/101", {"customer": dict(before, lastname="Ace-Ltd")})
    missing = api.get("/customers/999")
    # Then updated_at moves, addresses kept; unknown id is 404 No such entity
    after = resp.json()
    assert after["lastname"] == "Ace-Ltd" and after["updated_at"] > before["updated_at"]
    assert len(after["addresses"]) == 1
    assert missing.status_code == 404
    assert missing.json() == {"message": "No such entity with %fieldName = %fieldValue",
                              "parameters": {"fieldName": "customerId", "fieldValue": "999"}}


def test_storefront_registration_is_found_by_updated_at_poll(sim, api):
    # Given the connector polls customers changed since the seed time
    since = "2023-10-02 00:00:00"
    # When a shopper registers on the storefront
    import httpx
    reg = httpx.post(f"{sim.url}/_sim/customers/register", json={
        "email": "vinoddemo2@mailnator.com", "firstname": "Vinod", "lastname": "Demo"})
    # Then the poll finds exactly that customer
    found = api.get("/customers/search", sc([("updated_at", since, "gteq")])).json()
    assert reg.status_code == 200
    assert [c["email"] for c in found["items"]] == ["vinoddemo2@mailnator.com"]


def test_store_views_configs_websites(api):
    # Given the walkthrough store
    views = api.get("/store/storeViews").json()
    configs = api.get("/store/storeConfigs").json()
    sites = api.get("/store/websites").json()
    # Then default store view 1 on website base (1), USD
    assert {"id": 1, "code": "default", "name": "Default Store View", "website_id": 1, "store_group_id": 1,
            "is_active": 1} in views
    assert configs[0]["base_currency_code"] == "USD"
    assert {"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1} in sites


def test_guest_cart_estimate_lists_active_carriers(sim):
    # Given a guest cart with 2 x WATER2809 (anonymous routes)
    from mag_support import Api
    guest = Api(sim, None)
    cart = guest.post("/guest-carts").json()
    item = guest.post(f"/guest-carts/{cart}/items", {"cartItem": {"sku": "WATER2809", "qty": 2, "quote_id": cart}})
    # When estimating for a US address
    rates = guest.post(f"/guest-carts/{cart}/estimate-shipping-methods",
                       {"address": {"country_id": "US", "postcode": "98104", "region_id": 62, "region": "Washington",
                                    "region_code": "WA", "street": ["1 Pike St"], "telephone": "1",
                                    "city": "Seattle", "firstname": "G", "lastname": "Uest",
                                    "email": "guest@example.com"}}).json()
    # Then flatrate (5.00/item), tablerate bestway and freeshipping come back
    assert item.json()["price"] == 20.0
    by_code = {(r["carrier_code"], r["method_code"]): r for r in rates}
    assert set(by_code) == {("flatrate", "flatrate"), ("tablerate", "bestway"), ("freeshipping", "freeshipping")}
    assert by_code[("flatrate", "flatrate")]["amount"] == 10.0
    assert by_code[("flatrate", "flatrate")]["carrier_title"] == "Flat Rate"
    assert by_code[("freeshipping", "freeshipping")]["method_title"] == "Free"


def test_guest_cart_unknown_id_is_404(sim):
    from mag_support import Api
    # Given no such cart
    # When estimating
    resp = Api(sim, None).post("/guest-carts/doesnotexist/estimate-shipping-methods", {"address": {"country_id": "US"}},
                                check=False)
    # Then 404 No such entity with cartId
    assert resp.status_code == 404 and resp.json()["parameters"]["fieldName"] == "cartId"
