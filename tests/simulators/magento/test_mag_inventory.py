"""MSI source items, salable quantity with reservations, legacy stock items."""

from __future__ import annotations

from mag_support import create_order, sc


def test_source_items_upsert_is_absolute(sim, api):
    # Given WATER2809 at 263 in default
    # When pushing absolute quantities for two sources
    resp = api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "WATER2809", "source_code": "default", "quantity": 137, "status": 1},
        {"sku": "WATER2809", "source_code": "retail_store", "quantity": 10, "status": 1}]})
    # Then 200 [] and quantities replaced, readable by searchCriteria
    assert resp.status_code == 200 and resp.json() == []
    rows = api.get("/inventory/source-items", sc([("sku", "WATER2809", "eq")])).json()
    assert {r["source_code"]: r["quantity"] for r in rows["items"]} == {"default": 137, "retail_store": 10}
    assert api.get("/inventory/get-product-salable-quantity/WATER2809/1").json() == 147


def test_source_item_validation_failed(api):
    # Given an item with an empty sku and a source code with whitespace
    body = {"sourceItems": [{"sku": "", "source_code": "de fault", "quantity": 1, "status": 1}]}
    # When saving
    resp = api.post("/inventory/source-items", body)
    # Then 400 Validation Failed with the errors list
    assert resp.status_code == 400
    assert resp.json() == {"message": "Validation Failed", "errors": [
        {"message": '"%field" can not be empty.', "parameters": {"field": "sku"}},
        {"message": '"%field" can not contain whitespaces.', "parameters": {"field": "source_code"}}]}


def test_unknown_source_and_unknown_sku(sim, api):
    # Given an unknown source code and an unknown SKU
    # When saving each
    bad_source = api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "WATER2809", "source_code": "nowhere", "quantity": 1, "status": 1}]})
    bad_sku = api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "NOPE-1", "source_code": "default", "quantity": 1, "status": 1}]})
    # Then both fail to save (2.4.6-p3); with the orphan option the unknown SKU is stored (200 [])
    assert bad_source.json() == {"message": "Could not save Source Item"}
    assert bad_sku.status_code == 400 and bad_sku.json() == {"message": "Could not save Source Item"}
    sim.configure(orphan_source_items=True)
    orphan = api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "NOPE-1", "source_code": "default", "quantity": 1, "status": 1}]})
    assert orphan.status_code == 200 and orphan.json() == []
    assert api.get("/inventory/source-items", sc([("sku", "NOPE-1", "eq")])).json()["total_count"] == 1


def test_input_limit_caps_source_items(sim, api):
    # Given Web API input limits on
    sim.configure(input_limits=True)
    items = [{"sku": "WATER2809", "source_code": "default", "quantity": i, "status": 1} for i in range(21)]
    # When saving 21 items, then 20
    too_many = api.post("/inventory/source-items", {"sourceItems": items})
    ok = api.post("/inventory/source-items", {"sourceItems": items[:20]})
    # Then 21 is refused with the type and the max, 20 passes
    assert too_many.status_code == 400
    assert too_many.json() == {"message": 'Maximum items of type "%type" is %max', "parameters": {
        "type": "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface", "max": 20}}
    assert ok.status_code == 200


def test_delete_source_item_and_sources_list(api):
    # Given JUICE100 in two sources
    # When deleting the retail_store assignment
    resp = api.post("/inventory/source-items-delete", {"sourceItems": [
        {"sku": "JUICE100", "source_code": "retail_store"}]})
    # Then only default remains; both sources are listed
    assert resp.json() == []
    rows = api.get("/inventory/source-items", sc([("sku", "JUICE100", "eq")])).json()["items"]
    assert [r["source_code"] for r in rows] == ["default"]
    codes = [s["source_code"] for s in api.get("/inventory/sources").json()["items"]]
    assert codes == ["default", "retail_store"]


def test_salable_qty_drifts_up_after_shipping_direct_order(api):
    # Given Acumatica pushes the physical qty after shipping (absolute 261)
    oid = create_order(api)["entity_id"]
    api.post(f"/order/{oid}/ship", {})
    api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "WATER2809", "source_code": "default", "quantity": 261, "status": 1}]})
    # When reading salable qty
    salable = api.get("/inventory/get-product-salable-quantity/WATER2809/1").json()
    # Then it is 263: the +2 compensation reservation of a never-reserved order inflates it
    assert salable == 263


def test_legacy_stock_items(api):
    # Given WATER2809's stock item
    item = api.get("/stockItems/WATER2809").json()
    # When updating its qty through the legacy route
    # (a partial stockItem is what Magento merges at run time; the schema lists ~23 required fields)
    resp = api.put(f"/products/WATER2809/stockItems/{item['item_id']}",
                   {"stockItem": {"qty": 50, "is_in_stock": True}}, check_request=False)
    missing = api.get("/stockItems/NOPE")
    # Then the bare item id comes back and the default source follows; unknown SKU is 404 with %1
    assert resp.json() == item["item_id"] == 4861
    assert api.get("/stockItems/WATER2809").json()["qty"] == 50
    assert missing.status_code == 404
    assert missing.json() == {"message": 'The Product with the "%1" SKU doesn\'t exist.', "parameters": ["NOPE"]}
