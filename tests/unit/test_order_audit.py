"""The audit's comparisons: an Acumatica order and its Magento twin, kind by kind (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from amsync.models.acumatica import SalesOrder
from amsync.models.settings import OrderStatusMapping
from amsync.services.exporting import Binding
from amsync.services.order_audit import (
    AcuInvoice,
    AcuShipment,
    MagDocument,
    MagOrder,
    OrderFacts,
    compare_order,
    invoices_by_order,
    shipments_by_order,
)

KEY = "SO/SOT00024"


def _order(status: str = "Completed", hold: bool = False, freight: str = "5.00", tax: str = "3.30") -> SalesOrder:
    total = Decimal("40.00") + Decimal(freight) + Decimal(tax)
    return SalesOrder.from_api({
        "OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}, "CustomerID": {"value": "AACUSTOMER"},
        "Status": {"value": status}, "Hold": {"value": hold}, "OrderTotal": {"value": total},
        "TaxTotal": {"value": Decimal(tax)}, "Totals": {"Freight": {"value": Decimal(freight)}},
        "Details": [{"LineNbr": {"value": 1}, "InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 2},
                     "UnitPrice": {"value": Decimal("20.00")}}]})


def _magento(entity_id: int = 1093, state: str = "complete", **amounts: str) -> MagOrder:
    values = {"grand_total": "48.30", "tax_amount": "3.30", "shipping_amount": "5.00", "subtotal": "40.00",
              "total_refunded": "0", **amounts}
    return MagOrder.from_api({"entity_id": entity_id, "increment_id": f"000000{entity_id - 98}",
                              "ext_order_id": "SOT00024", "state": state, "status": state,
                              **{k: float(v) for k, v in values.items()}})


BOUND = Binding("order", KEY, 1093, "000000995", "bound", 0.0, {})
SHIPMENT = AcuShipment("005139", "Completed", Decimal("2"), ("1Z999",))
INVOICE = AcuInvoice("Invoice", "AR012116", "Closed", Decimal("48.30"), frozenset({KEY}))


def _doc(kind: str, marker: str, qty: str = "2", amount: str = "48.30", tracking: tuple[str, ...] = ("1Z999",),
         entity_id: int = 458) -> MagDocument:
    return MagDocument.from_api({
        "entity_id": entity_id, "increment_id": str(entity_id), "order_id": 1093,
        "comments": [{"comment": f"Acumatica {kind} {marker}"}], "items": [{"qty": float(qty)}],
        "grand_total": float(amount), "tracks": [{"track_number": t} for t in tracking]}, kind)


def _facts(**changes: Any) -> OrderFacts:
    facts = OrderFacts(_order(), True, BOUND, [_magento()], [SHIPMENT], [INVOICE],
                       [_doc("shipment", "005139")], [_doc("invoice", "Invoice/AR012116", entity_id=301)])
    return replace(facts, **changes)


def _diffs(facts: OrderFacts, mappings: list[OrderStatusMapping] | None = None) -> set[tuple[str, str, str, str]]:
    return {(d.kind, d.what, d.acumatica, d.magento) for d in compare_order(facts, mappings or [], "default")}


def test_an_order_in_step_has_no_difference() -> None:
    assert _diffs(_facts()) == set()


def test_totals_are_compared_to_the_cent() -> None:
    facts = _facts(magento=[_magento(grand_total="48.31", shipping_amount="5.01")])
    assert _diffs(facts) == {("totals", "grand total", "48.30", "48.31"), ("totals", "shipping", "5.00", "5.01")}


@pytest.mark.parametrize(("status", "hold", "state", "differs"), [
    ("Canceled", False, "canceled", False),  # both canceled: in step
    ("Canceled", False, "processing", True),
    ("Open", True, "holded", False),  # the Hold flag holds the Magento order
    ("Open", True, "new", True),
    ("On Hold", False, "holded", False),
    ("Open", False, "holded", True),
    ("Completed", False, "complete", False),
])
def test_the_state_follows_the_status_mapping(status: str, hold: bool, state: str, differs: bool) -> None:
    facts = _facts(order=_order(status, hold), magento=[_magento(state=state)], shipments=[], invoices=[],
                   magento_shipments=[], magento_invoices=[])
    assert {d[0] for d in _diffs(facts)} == ({"status"} if differs else set())


def test_a_mapping_that_cancels_is_followed() -> None:
    facts = _facts(order=_order("Refused"), magento=[_magento(state="new")], shipments=[], invoices=[],
                   magento_shipments=[], magento_invoices=[])
    assert _diffs(facts) == set()
    cancel = OrderStatusMapping(acumatica_status="Refused", action="cancel")
    assert {d[0] for d in _diffs(facts, [cancel])} == {"status"}


def test_shipments_present_quantity_and_tracking() -> None:
    assert _diffs(_facts(magento_shipments=[])) == {
        ("shipments", "shipment 005139", "Completed, qty 2, tracking 1Z999", "not in Magento")}
    assert _diffs(_facts(magento_shipments=[_doc("shipment", "005139", qty="1", tracking=("1Z000",))])) == {
        ("shipments", "shipment 005139 quantity", "2", "1"),
        ("shipments", "shipment 005139 tracking", "1Z999", "1Z000")}
    extra = _doc("shipment", "009999", entity_id=459)
    assert _diffs(_facts(magento_shipments=[_doc("shipment", "005139"), extra])) == {
        ("shipments", "Magento shipment #459", "no such confirmed shipment (009999)", "qty 2")}
    # an unconfirmed Acumatica shipment is not expected in Magento yet
    assert _diffs(_facts(shipments=[replace(SHIPMENT, status="Open")], magento_shipments=[])) == set()


def test_invoices_and_credit_memos() -> None:
    assert _diffs(_facts(magento_invoices=[])) == {
        ("invoices", "invoice Invoice/AR012116", "Closed, 48.30", "not in Magento")}
    assert _diffs(_facts(magento_invoices=[_doc("invoice", "Invoice/AR012116", amount="40.00", entity_id=301)])) == {
        ("invoices", "invoice Invoice/AR012116 amount", "48.30", "40.00")}
    memo = AcuInvoice("Credit Memo", "AR012200", "Open", Decimal("20.00"), frozenset({KEY}))
    assert _diffs(_facts(invoices=[INVOICE, memo])) == {("credit memos", "refunded", "20.00 (AR012200)", "0.00")}
    assert _diffs(_facts(invoices=[INVOICE, memo], magento=[_magento(total_refunded="20")])) == set()


def test_existence_binding_and_doubles() -> None:
    assert _diffs(_facts(magento=[], magento_shipments=[], magento_invoices=[], binding=None)) == {
        ("missing", "Magento order", "Completed, eligible; not bound", "none")}
    assert _diffs(_facts(magento=[], binding=None, eligible=False)) == set()
    assert _diffs(_facts(binding=None)) == {("binding", "binding", "not bound", "#000000995 (entity 1093, complete)")}
    assert _diffs(_facts(magento=[], magento_shipments=[], magento_invoices=[])) == {
        ("binding", "bound Magento order", "bound to entity 1093", "not found")}
    double = _magento(1100, state="new")
    assert _diffs(_facts(magento=[_magento(), double])) == {
        ("double", "second Magento order", "one order", "#0000001002 (entity 1100, new)")}
    # a double the reconciler canceled is no difference
    assert _diffs(_facts(magento=[_magento(), _magento(1100, state="canceled")])) == set()


def test_acumatica_documents_are_split_per_order() -> None:
    shipment = {"ShipmentNbr": {"value": "005139"}, "Status": {"value": "Confirmed"},
                "Details": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"},
                             "ShippedQty": {"value": 2}},
                            {"OrderType": {"value": "ST"}, "OrderNbr": {"value": "SOT00024"},
                             "ShippedQty": {"value": 1}}],
                "Packages": [{"TrackingNbr": {"value": "1Z1"}}, {"TrackingNbr": {"value": "1Z1"}}]}
    assert shipments_by_order([shipment]) == {
        KEY: [AcuShipment("005139", "Confirmed", Decimal("2"), ("1Z1",))],
        "ST/SOT00024": [AcuShipment("005139", "Confirmed", Decimal("1"), ("1Z1",))]}
    invoice = {"Type": {"value": "Invoice"}, "ReferenceNbr": {"value": "AR1"}, "Status": {"value": "Open"},
               "Amount": {"value": 10}, "Details": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}}]}
    assert invoices_by_order([invoice]) == {KEY: [AcuInvoice("Invoice", "AR1", "Open", Decimal("10"),
                                                             frozenset({KEY}))]}
