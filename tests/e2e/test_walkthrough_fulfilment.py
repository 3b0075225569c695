"""The walkthrough's steps 9-13 through the whole local world: shipment, invoice, the log, Magento reads Complete."""

from __future__ import annotations

from decimal import Decimal

from e2e_support import E2E

from amsync.models.log import Group, Result


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
