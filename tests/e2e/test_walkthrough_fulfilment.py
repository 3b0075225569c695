"""The walkthrough's steps 9-13 through the whole local world: shipment, invoice, the log, Magento reads Complete."""

from __future__ import annotations

import copy
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
from e2e_support import E2E

from amsync.data.settings_store import CACHE_S
from amsync.models.log import Group, Result
from amsync_local.world import WEBHOOK_HEADER


def test_walkthrough_steps_9_to_13_ship_invoice_and_the_magento_order_reads_complete(e2e: E2E) -> None:
    # Given steps 1-8: Alta Ace's order (2 x WATER2809, Ship Via LOCAL), paid, synced to Magento
    nbr = e2e.acu.create_order()
    e2e.acu.record_payment(nbr)
    e2e.settle()
    [order] = e2e.mag.orders_for(nbr)
    increment, entity_id = order["increment_id"], order["entity_id"]
    # When step 9: Create Shipment from the order (date 10/27/2023, warehouse RETAIL), with a package
    shipment_nbr = e2e.acu.create_shipment(nbr)
    e2e.acu.add_package(shipment_nbr, "LOCAL-0001")
    # and step 10: Confirm Shipment
    e2e.acu.confirm_shipment(shipment_nbr)
    e2e.settle()
    # Then step 11: the connector log shows Shipment Publisher and Shipment Create / Success, Entity Id = the
    # Magento shipment, Notes = the Magento order number; and Orderstatus Update rows for the order
    [shipment] = e2e.mag.shipments_of(entity_id)
    rows = e2e.rows(nbr)
    shipment_rows = [(r.action.value if r.action else "", r.result) for r in rows if r.group == Group.SHIPMENT]
    assert ("Publisher", Result.SUCCESS) in shipment_rows and ("Create", Result.SUCCESS) in shipment_rows
    create = next(r for r in rows if r.group == Group.SHIPMENT and r.action and r.action.value == "Create")
    assert (create.entity_id, create.notes) == (str(shipment["entity_id"]), increment)
    statuses = [r for r in rows if r.group == Group.ORDERSTATUS]
    assert statuses and all((r.entity_id, r.notes) == (str(entity_id), increment) for r in statuses)
    # and the Magento shipment carries the shipped quantity and the package's tracking number
    assert [(i["sku"], Decimal(str(i["qty"]))) for i in shipment["items"]] == [("WATER2809", Decimal("2"))]
    assert [(t["track_number"], t["title"]) for t in shipment["tracks"]] == [("LOCAL-0001", "Free Shipping - Free")]
    assert e2e.world.magento.order(entity_id)["state"] == "processing"  # shipped, not invoiced yet
    # When step 12: prepare and release the invoice
    invoice_nbr = e2e.acu.prepare_invoice(shipment_nbr)
    e2e.acu.release_invoice(invoice_nbr)
    e2e.settle()
    # Then step 13: one Magento invoice for the order's total, and the Magento order reads Complete
    [invoice] = e2e.mag.invoices_of(entity_id)
    assert Decimal(str(invoice["grand_total"])) == Decimal("40.00")
    final = e2e.world.magento.order(entity_id)
    assert (final["state"], final["status"]) == ("complete", "complete")
    invoice_rows = [r for r in e2e.rows(nbr) if r.group == Group.INVOICE and r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id, r.notes) for r in invoice_rows] == [
        (Result.SUCCESS, str(invoice["entity_id"]), increment)]
    # and the stock moves of the walkthrough reached Magento too: Inventory Update rows for WATER2809 (product 4861)
    stock = [r for r in e2e.rows("WATER2809") if r.group == Group.INVENTORY and r.action
             and r.action.value == "Update"]
    assert stock and stock[-1].result == Result.SUCCESS and stock[-1].entity_id == "4861"
    # and nothing was shipped or invoiced twice
    assert len(e2e.mag.shipments_of(entity_id)) == 1 and len(e2e.mag.invoices_of(entity_id)) == 1


def test_an_order_of_another_branch_lands_in_its_store_with_its_ship_via_customer_and_stock(e2e: E2E) -> None:
    """Several stores (issue 15): branch PRODRETAIL -> Magento website "retail" / store view retail_us."""
    from amsync.models.settings import ShipViaMapping, StoreMapping, WarehouseMapping

    # Given a second Magento website with its store view, orders of branch PRODRETAIL mapped to it, a LOCAL row
    # for that store view (UPS tracks) and RETAIL's stock feeding that website's source (retail_store) as well
    e2e.world.magento.seed_stores({
        "websites": [{"code": "retail", "name": "Retail Website"}],
        "groups": [{"code": "retail_group", "name": "Retail Store", "website_id": 2}],
        "stores": [{"code": "retail_us", "name": "Retail US", "website_id": 2, "store_group_id": 2}]})
    view = next(s for s in e2e.world.magento.seed_stores({})["stores"] if s["code"] == "retail_us")
    rows = [("store", StoreMapping(branch="PRODRETAIL", website_id=2, store_id=view["id"], store_view="retail_us")),
            ("shipvia", ShipViaMapping(ship_via="LOCAL", store_view="retail_us", carrier_code="flatrate",
                                       method_code="flatrate", title="Flat Rate - Retail",
                                       tracking_carrier_code="ups")),
            ("warehouse", WarehouseMapping(warehouse_id="RETAIL", source_code="retail_store", website_id=2))]
    for kind, row in rows:
        e2e.settings.put_mapping(kind, row)
    time.sleep(CACHE_S + 0.5)  # a push reads the settings cached in its container: a change applies within CACHE_S
    try:
        # When Alta Ace's order is entered in branch PRODRETAIL and paid
        nbr = e2e.acu.create_order(extra={"Branch": "PRODRETAIL"})
        e2e.acu.record_payment(nbr)
        e2e.settle()
        # Then it is in the retail_us store, with retail_us's shipping method
        [order] = e2e.mag.orders_for(nbr)
        assert order["store_id"] == view["id"] and all(i["store_id"] == view["id"] for i in order["items"])
        assert order["shipping_description"] == "Flat Rate - Retail"
        # and placed for Alta Ace's account on the retail website (per-website accounts: website 1's is not used)
        customer = e2e.mag.http.get(f"customers/{order['customer_id']}").json()
        assert (customer["email"], customer["website_id"]) == ("ap@altaace.com", 2)
        # and RETAIL's available quantity went to both of its sources (retail_store also gets WHOLESALE's)
        retail = _available(e2e, "RETAIL")
        assert Decimal(str(e2e.world.magento.source_qty("WATER2809", "default"))) == retail
        assert Decimal(str(e2e.world.magento.source_qty("WATER2809", "retail_store"))) == (
            retail + _available(e2e, "WHOLESALE"))
        # When it ships with a package
        shipment_nbr = e2e.acu.create_shipment(nbr)
        e2e.acu.add_package(shipment_nbr, "1ZRETAIL01")
        e2e.acu.confirm_shipment(shipment_nbr)
        e2e.settle()
        # Then the Magento shipment's track has retail_us's carrier and title
        [shipment] = e2e.mag.shipments_of(order["entity_id"])
        assert [(t["track_number"], t["carrier_code"], t["title"]) for t in shipment["tracks"]] == [
            ("1ZRETAIL01", "ups", "Flat Rate - Retail")]
    finally:
        for kind, row in rows:
            from amsync.data.settings_store import mapping_sort_key

            e2e.settings.delete_mapping(kind, mapping_sort_key(kind, row))


def _available(e2e: E2E, warehouse: str) -> Decimal:
    r = e2e.acu.http.put(f"{e2e.acu.base}/InventorySummaryInquiry", params={"$expand": "Results"},
                         json={"InventoryID": {"value": "WATER2809"}, "WarehouseID": {"value": warehouse}})
    r.raise_for_status()
    return sum((Decimal(str(row["QtyAvailable"]["value"])) for row in r.json()["Results"]), Decimal(0))


def _pushes_of(e2e: E2E, nbr: str) -> list[dict[str, Any]]:
    """Every post Acumatica made about order ``nbr`` (its order, payment, shipment and invoice rows)."""
    def about(row: dict[str, Any]) -> bool:
        return any(str(row.get(c) or "").strip() == nbr for c in ("OrderNbr", "OrderID"))
    return [copy.deepcopy(m) for m in list(e2e.world.acumatica.push.sent)
            if any(about(r) for r in [*m["Inserted"], *m["Deleted"]])]


def _repost(e2e: E2E, posts: list[dict[str, Any]]) -> int:
    """Post each again to the webhook as Acumatica's destination does; returns how many were handed on."""
    e2e.settle()
    before = len(e2e.runtime.invocations)
    published = 0
    with httpx.Client(timeout=30) as client:
        for p in posts:
            r = client.post(e2e.runtime.webhook_url, content=json.dumps(p).encode(),
                            headers={"Content-Type": "application/json", WEBHOOK_HEADER: e2e.world.webhook_secret})
            assert r.status_code == 202, r.text
            published += r.json()["published"]
    e2e.settle()
    ids = {p["Id"] for p in posts}
    delivered = [b for i in list(e2e.runtime.invocations)[before:] if i.source != "url" for b in i.bodies
                 if json.loads(b).get("push_id") in ids]
    assert published > 0
    return len(delivered)


def test_pushes_sent_again_inside_and_after_the_fifo_window_leave_one_order_shipment_and_invoice(e2e: E2E) -> None:
    # Given an order synced, shipped and invoiced: Magento reads Complete
    nbr = e2e.acu.create_order()
    e2e.acu.record_payment(nbr)
    e2e.settle()
    [order] = e2e.mag.orders_for(nbr)
    shipment_nbr = e2e.acu.create_shipment(nbr)
    e2e.acu.confirm_shipment(shipment_nbr)
    e2e.acu.release_invoice(e2e.acu.prepare_invoice(shipment_nbr))
    e2e.settle()
    posts = _pushes_of(e2e, nbr)
    assert {p["Query"] for p in posts} >= {"AMSync-SalesOrders", "AMSync-Shipments", "AMSync-SalesInvoices"}
    rows_before = len(e2e.rows(nbr))
    # When Acumatica sends every one of them again within SQS's five-minute window (answers lost)
    # Then the webhook accepts them and SQS drops every repeat: no consumer sees one, no log row is added
    assert _repost(e2e, posts) == 0
    assert len(e2e.rows(nbr)) == rows_before
    # When they come again after the window (to SQS a new message each: a fresh push Id gives fresh deduplication ids)
    for p in posts:
        p["Id"] = str(uuid.uuid4())
    # Then they reach the consumers, which find the work done: still one order, one shipment, one invoice, Complete,
    # each consumer invocation writing the carried rows in its one log write (a no-op adds no write of its own)
    writes: list[int] = []
    modules = [m for fn in ("OrderSyncFunction", "FulfilmentFunction") for m in e2e.runtime.functions[fn].modules]
    originals = [m.log._write for m in modules]

    def counted(write: Any) -> Any:
        return lambda rows: (writes.append(len(rows)), write(rows))[1]

    for m, write in zip(modules, originals, strict=True):
        m.log._write = counted(write)
    before = len(e2e.runtime.invocations)
    try:
        assert _repost(e2e, posts) > 0
    finally:
        for m, write in zip(modules, originals, strict=True):
            m.log._write = write
    runs = [i for i in list(e2e.runtime.invocations)[before:] if i.function in ("OrderSyncFunction",
                                                                                "FulfilmentFunction")]
    assert runs and len(writes) == len(runs) and all(n >= 1 for n in writes)
    assert [o["entity_id"] for o in e2e.mag.orders_for(nbr)] == [order["entity_id"]]
    assert len(e2e.mag.shipments_of(order["entity_id"])) == 1 and len(e2e.mag.invoices_of(order["entity_id"])) == 1
    assert e2e.world.magento.order(order["entity_id"])["state"] == "complete"
    # and the repeats' raw rows and Publisher rows were written by their consumers (the webhook writes none)
    assert len(e2e.rows(nbr)) > rows_before
