"""REST output as Magento's serializer makes it: declared keys only, required getters' NULLs as null (issue 15)."""

from __future__ import annotations

from mag_support import ROOT, create_order, order_body

from amsync.models.magento import MagentoCustomer, MagentoOrderPage, MagentoOrderSummary


def test_payment_carries_its_required_getters_as_null(api):
    # Given an order whose payment has only its method, and a history entry without a comment
    body = order_body()
    body["entity"]["payment"] = {"method": "checkmo"}
    body["entity"]["status_histories"] = [{"comment": None, "status": "pending"}]
    created = api.put("/orders/create", body, check_request=False).json()  # input needs no getter's keys
    # When reading it back
    got = api.get(f"/orders/{created['entity_id']}").json()
    # Then the payment has the non-nullable getters of OrderPaymentInterface as null, the nullable ones absent
    pay = got["payment"]
    assert {k: pay[k] for k in ("account_status", "additional_information", "cc_last4")} == dict.fromkeys(
        ("account_status", "additional_information", "cc_last4"))
    assert pay["method"] == "checkmo" and "po_number" not in pay and "cc_type" not in pay
    assert got["status_histories"][0]["comment"] is None
    # and the connector's models read the richer records
    summary = MagentoOrderSummary.from_api(got)
    assert summary.entity_id == created["entity_id"] and summary.comments == ("",)
    page = MagentoOrderPage.from_api(api.get("/orders", {"searchCriteria[pageSize]": "5"}).json())
    assert [o.entity_id for o in page.items] == [created["entity_id"]] and page.total_count == 1


def test_undeclared_keys_are_not_emitted(sim, api):
    # Given an order sent with a key OrderInterface does not declare, and the shipping method copied on it
    order = create_order(api, some_private_column="x")
    stored = sim.order(order["entity_id"])
    # When reading it
    got = api.get(f"/orders/{order['entity_id']}").json()
    # Then the store keeps them, the REST view has no getter for them
    assert stored["some_private_column"] == "x" and stored["shipping_method"] == "flatrate_flatrate"
    assert "some_private_column" not in got and "shipping_method" not in got
    assert "some_private_column" not in order


def test_customer_with_null_region_parses(api):
    # Given a customer whose address region is sent with NULL parts (RegionInterface getters are non-nullable)
    resp = api.post("/customers", {"customer": {
        "email": "nulls@example.com", "firstname": "Nu", "lastname": "Ll", "addresses": [{
            "firstname": "Nu", "lastname": "Ll", "street": ["1 Main"], "city": "Austin", "country_id": "US",
            "postcode": "73301", "telephone": "1", "default_billing": True,
            "region": {"region_code": None, "region": "Texas", "region_id": None}}]}})
    # When the connector reads it
    got = api.get(f"/customers/{resp.json()['id']}").json()
    customer = MagentoCustomer.from_api(got)
    # Then the region's NULL getters come back as null and the model takes them as "no region code"
    assert got["addresses"][0]["region"] == {"region_code": None, "region": "Texas", "region_id": None}
    assert customer.billing_address is not None and customer.billing_address.region_code is None
    assert customer.billing_address.city == "Austin"


def test_schema_file_is_the_2_4_8_derivation():
    # Given the simulator's serializer schema
    import json
    data = json.loads((ROOT / "local" / "magento_sim" / "schema" / "output-2.4.8.json").read_text())
    # Then it names its source and holds the payment's required getters as the 2.4.8 swagger declares them
    assert data["origin"].startswith("magento-2.4.8-admin-schema")
    assert data["definitions"]["sales-data-order-payment-interface"]["required"] == [
        "account_status", "additional_information", "cc_last4", "method"]
    assert data["operations"]["GET /V1/orders/{}"] == {"ref": "sales-data-order-interface"}
