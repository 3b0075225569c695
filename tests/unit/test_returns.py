"""Returns M->A: the mapper's checks, create-once under faults, the poller's overlap (no I/O: fakes for the ports)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests_support import FakeWatermarks

from amsync.adapters.errors import RateLimited, RetryableError, TransportError
from amsync.models.log import Action, Group, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import ReturnSyncPreferences
from amsync.services import returns as R
from amsync.services.exporting import AlreadyBound, Binding, LeaseHeld, NotReady

D = Decimal
ORDER = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}, "CustomerID": {"value": "AACUSTOMER"},
         "CustomerOrder": {"value": "000000995"},
         "Details": [{"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": D(2)},
                      "WarehouseID": {"value": "RETAIL"}}]}


def creditmemo(cm_id: int = 401, units: int = 1, **over: Any) -> dict[str, Any]:
    cm = {"entity_id": cm_id, "increment_id": f"{cm_id - 400:09d}", "order_id": 1093,
          "updated_at": "2026-12-07 01:00:00",
          "items": [{"order_item_id": 2001, "sku": "WATER2809", "qty": D(units), "price": D("20.0000"),
                     "row_total": D(20 * units), "tax_amount": D(0), "discount_amount": D(0)}],
          "shipping_amount": D(0), "adjustment_positive": D(0), "adjustment_negative": D(0),
          "grand_total": D(20 * units)}
    cm.update(over)
    return cm


class FakeBinder(FakeWatermarks):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], Binding] = {}
        self.orders = {1093: "SO/SOT00024"}
        self.n = 0

    def get(self, kind: str, key: str) -> Binding | None:
        return self.rows.get((kind, key))

    def by_magento_id(self, kind: str, entity_id: int) -> Binding | None:
        key = self.orders.get(entity_id)
        return Binding(kind, key, entity_id, "000000995", "bound", 0.0, {}) if key else None

    def mark_creating(self, kind: str, key: str, lease_s: float = 60.0) -> Binding:
        row = self.rows.get((kind, key))
        if row and row.state == "bound":
            raise AlreadyBound(row)
        if row:
            raise LeaseHeld("held")
        self.n += 1
        row = Binding(kind, key, None, None, "creating", 0.0, {}, lease=f"t{self.n}")
        self.rows[(kind, key)] = row
        return row

    def release_creating(self, kind: str, key: str, hold_s: float = 0.0, lease: str | None = None) -> None:
        if hold_s <= 0:
            self.rows.pop((kind, key), None)

    def bind(self, kind: str, key: str, entity_id: int, increment_id: str | None, extra: Any = None,
             lease: str | None = None) -> Binding:
        row = Binding(kind, key, entity_id, increment_id, "bound", 0.0,
                      {f"x_{k}": v for k, v in (extra or {}).items()})
        self.rows[(kind, key)] = row
        return row

    def touch(self, kind: str, key: str, **attrs: Any) -> None:
        self.rows[(kind, key)].extra.update({f"x_{k}": v for k, v in attrs.items()})



TAX_CATEGORIES = {"TAXABLE": ("CASALES",), "CITYTAX": ("CASALES", "CITYLOCAL"), "REDUCED": ("REDUCED",)}


class FakeAcumatica:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.fail_create: list[Exception] = []
        self.commit_then_fail = False
        self.received: list[str] = []
        self.invoices: list[dict[str, Any]] = []
        self.fail_receive: list[Exception] = []
        self.units: list[dict[str, Any]] = []

    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]:
        return ORDER

    def order_invoices(self, order_type: str, order_nbr: str) -> list[dict[str, Any]]:
        return self.invoices

    def returns_for(self, order_type: str, customer_order: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["CustomerOrder"]["value"] == customer_order]

    def returns_by_ref(self, order_type: str, ref: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["ExternalRef"]["value"] == ref]

    def create_return(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_create and not self.commit_then_fail:
            raise self.fail_create.pop(0)
        doc = {**body, "OrderNbr": {"value": f"RC{len(self.docs) + 1:06d}"}, "Status": {"value": "Open"}}
        self.docs.append(doc)
        if self.fail_create:  # committed, answer lost
            raise self.fail_create.pop(0)
        return doc

    def receive_return_units(self, order_type: str, order_nbr: str, units: Any) -> list[str]:
        """A receipt of some units: each line's OpenQty drops by what it takes; all in: Completed."""
        if self.fail_receive:
            raise self.fail_receive.pop(0)
        self.received.append(order_nbr)
        self.units.append(dict(units))
        for d in self.docs:
            if d["OrderNbr"]["value"] == order_nbr:
                left = dict(units)
                for ln in d["Details"]:
                    sku, ordered = ln["InventoryID"]["value"], ln["OrderQty"]["value"]
                    open_qty = ln.get("OpenQty", {"value": ordered})["value"]
                    take = min(left.get(sku, D(0)), open_qty)
                    left[sku] = left.get(sku, D(0)) - take
                    ln["OpenQty"] = {"value": open_qty - take}
                if all(ln["OpenQty"]["value"] == 0 for ln in d["Details"]):
                    d["Status"] = {"value": "Completed"}
        return [f"{len(self.received):06d}"]

    def tax_category(self, category_id: str) -> dict[str, Any]:
        return {"TaxCategoryID": {"value": category_id},
                "Details": [{"TaxID": {"value": t}} for t in TAX_CATEGORIES.get(category_id, ())]}

    def receive_return(self, order_type: str, order_nbr: str) -> list[str]:
        if self.fail_receive:
            raise self.fail_receive.pop(0)
        self.received.append(order_nbr)
        for d in self.docs:  # received: the RC order reads Completed, as in Acumatica
            if d["OrderNbr"]["value"] == order_nbr:
                d["Status"] = {"value": "Completed"}
        return ["000100"]


class FakeMagento:
    def __init__(self, cms: list[dict[str, Any]]) -> None:
        self.cms = {c["entity_id"]: c for c in cms}
        self.rmas: list[dict[str, Any]] | None = None  # None: Open Source (no /V1/returns route)

    def creditmemo(self, entity_id: int) -> dict[str, Any]:
        return self.cms[entity_id]

    def returns_of_order(self, order_id: int) -> list[dict[str, Any]] | None:
        return None if self.rmas is None else [r for r in self.rmas if r["order_id"] == order_id]

    def creditmemos_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]:
        rows = sorted((c for c in self.cms.values() if c["updated_at"] >= since),
                      key=lambda c: (c["updated_at"], c["entity_id"]))
        return rows[(current_page - 1) * page_size: current_page * page_size]


class Prefs:
    def __init__(self, **kw: Any) -> None:
        self.value = ReturnSyncPreferences(**kw)

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return self.value


def ports(cms: list[dict[str, Any]], acu: FakeAcumatica | None = None,
          binder: FakeBinder | None = None) -> tuple[R.ReturnPorts, list[Any]]:
    rows: list[Any] = []
    p = R.ReturnPorts(FakeMagento(cms), acu or FakeAcumatica(), Prefs(), binder or FakeBinder(), rows.extend,
                      doubt_hold_s=0.0)
    return p, rows


def req(cm_id: int = 401) -> SyncRequest:
    return SyncRequest(kind=Kind.RETURN, key=str(cm_id), correlation_id=f"creditmemo/{cm_id}")


def test_credit_memo_becomes_one_linked_return_received_into_stock() -> None:
    # Given a credit memo for 1 x WATER2809 of the walkthrough's order
    p, rows = ports([creditmemo()])
    # When exported twice (a duplicate message)
    first, second = R.export_return(p, req()), R.export_return(p, req())
    # Then one RC order with 1 x WATER2809 at 20.00, from RETAIL, received; a Create row naming it; the 2nd is a no-op
    acu = p.acumatica
    assert isinstance(acu, FakeAcumatica)
    assert (first, second, len(acu.docs), acu.received) == ("created", "already", 1, ["RC000001"])
    doc = acu.docs[0]
    assert doc["OrderType"]["value"] == "RC" and doc["ExternalRef"]["value"] == "CM000000001"
    assert doc["Details"] == [{"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": D(1)},
                               "UnitPrice": {"value": D("20.00")}, "WarehouseID": {"value": "RETAIL"}}]
    row = rows[-1]
    assert (row.group, row.action, row.result, row.entity_id, row.notes) == (
        Group.RETURN, Action.CREATE, Result.SUCCESS, "RC/RC000001", "000000001")
    assert row.direction == "Magento to Acumatica"


def test_lost_answer_after_commit_is_found_not_created_again() -> None:
    # Given Acumatica commits the return but the answer is lost (a timeout)
    acu = FakeAcumatica()
    acu.commit_then_fail = True
    acu.fail_create = [TransportError("Acumatica", "PUT SalesOrder", "read timed out", sent=True)]
    p, rows = ports([creditmemo()], acu)
    # When the first attempt fails and the message comes back
    with pytest.raises(RetryableError):
        R.export_return(p, req())
    again = R.export_return(p, req())
    # Then the lookup by ExternalRef finds it: one document, bound, an Update row
    assert again == "found" and len(acu.docs) == 1
    assert rows[-1].action == Action.UPDATE and rows[-1].entity_id == "RC/RC000001"


def test_throttled_create_is_retried_and_makes_one_document() -> None:
    # Given Acumatica answers 429 once (nothing committed)
    acu = FakeAcumatica()
    acu.fail_create = [RateLimited("Acumatica", "PUT SalesOrder", "429 Too Many Requests", status=429)]
    p, rows = ports([creditmemo()], acu)
    # When retried
    with pytest.raises(RetryableError):
        R.export_return(p, req())
    assert rows[-1].result == Result.RETRY
    # Then the second attempt creates exactly one
    assert R.export_return(p, req()) == "created" and len(acu.docs) == 1


def test_a_held_lease_waits() -> None:
    # Given another worker holds the create lease of this credit memo
    p, _ = ports([creditmemo()])
    p.binder.mark_creating(R.BIND_KIND, "creditmemo/401")
    # When exporting
    # Then not ready (the message comes back), nothing created
    with pytest.raises(NotReady):
        R.export_return(p, req())
    assert not p.acumatica.docs  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cm", "reason"), [
    (creditmemo(units=3, grand_total=D(60)), "3 returned but 2 ordered"),
    (creditmemo(items=[{"sku": "JUICE100", "qty": D(1), "price": D(4.5), "row_total": D(4.5)}], grand_total=D(4.5)),
     "line JUICE100 is not on order SOT00024"),
    (creditmemo(grand_total=D("21.00")),
     "amounts do not add up: lines 20.00 + tax 0.00 + shipping 0.00 + adjustment refund 0.00 - adjustment fee 0.00 != "
     "grand total 21.00"),
    (creditmemo(adjustment_positive=D(2), grand_total=D(22)), "needs the return-sync preference adjustment_item"),
])
def test_bad_data_is_a_failure_row_and_nothing_is_created(cm: dict[str, Any], reason: str) -> None:
    # Given a credit memo that does not match its order
    p, rows = ports([cm])
    # When exported
    outcome = R.export_return(p, req())
    # Then a Failure row naming the problem, no document, no binding
    assert outcome == "refused" and not p.acumatica.docs  # type: ignore[attr-defined]
    assert rows[-1].result == Result.FAILURE and reason in rows[-1].message
    assert p.binder.get(R.BIND_KIND, "creditmemo/401") is None


def test_unknown_order_is_skipped_with_the_reason() -> None:
    # Given a credit memo of an order the connector did not create
    p, rows = ports([creditmemo(order_id=555)])
    # When exported
    # Then skipped, saying why
    assert R.export_return(p, req()) == "unknown order"
    assert rows[-1].result == Result.SKIPPED and "was not created by the connector" in rows[-1].message


def test_shipping_refund_goes_to_freight_and_must_add_up() -> None:
    # Given the second unit refunded with the 5.00 shipping
    p, _ = ports([creditmemo(shipping_amount=D(5), grand_total=D(25))])
    # When exported
    R.export_return(p, req())
    # Then the freight carries the shipping refund
    assert p.acumatica.docs[0]["ShippingSettings"] == {"FreightPrice": {"value": D("5.00")}}  # type: ignore[attr-defined]


def test_overlapping_polls_publish_each_credit_memo_once() -> None:
    # Given two credit memos in the same second and a third later
    cms = [creditmemo(401), creditmemo(402), creditmemo(403, updated_at="2026-12-07 01:00:05")]
    binder, published = FakeBinder(), []
    poller = R.CreditmemoPollerPorts(FakeMagento(cms[:2]), Prefs(), binder, published.extend, lambda rows: None)
    # When one poll reads the first two, then the third appears and the next poll reads from the watermark (gteq)
    first = R.poll_creditmemos(poller)
    poller.magento = FakeMagento(cms)
    second = R.poll_creditmemos(poller)
    third = R.poll_creditmemos(poller)
    # Then each credit memo is published once, and the watermark holds the last second's ids
    assert [r.key for r in published] == ["401", "402", "403"]
    assert (first.outcome, second.outcome, third.outcome) == ("published", "published", "nothing")
    assert binder.marks[R.WATERMARK] == "2026-12-07 01:00:05|403"


def test_a_poll_that_finds_the_lease_taken_does_nothing() -> None:
    # Given another poll running
    binder = FakeBinder()
    binder.mark_creating(R.LEASE_KIND, R.LEASE_KEY)
    poller = R.CreditmemoPollerPorts(FakeMagento([creditmemo()]), Prefs(), binder, lambda r: None, lambda r: None)
    # When / Then busy
    assert R.poll_creditmemos(poller).outcome == "busy"


def invoice(ref: str, line_nbr: int, units: int) -> dict[str, Any]:
    return {"Type": {"value": "Invoice"}, "ReferenceNbr": {"value": ref},
            "Details": [{"LineNbr": {"value": line_nbr}, "InventoryID": {"value": "WATER2809"},
                         "Qty": {"value": D(units)}, "OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}}]}


def test_return_lines_carry_the_invoice_line_they_return_split_over_invoices_never_beyond() -> None:
    # Given the order billed by two invoices of 1 x WATER2809 each, and a first credit memo for 1 unit exported
    acu = FakeAcumatica()
    acu.invoices = [invoice("AR000001", 1, 1), invoice("AR000002", 1, 1)]
    binder = FakeBinder()
    p, rows = ports([creditmemo(401, 1), creditmemo(402, 1), creditmemo(403, 1)], acu, binder)
    assert R.export_return(p, req(401)) == "created"
    link = [(d["InvoiceNbr"]["value"], d["InvoiceLineNbr"]["value"], d["OrderQty"]["value"])
            for d in acu.docs[0]["Details"]]
    assert link == [("AR000001", 1, D(1))] and acu.docs[0]["CustomerOrder"]["value"] == "000000995"
    # When the second unit is refunded: it links to the invoice line with something left (the second invoice)
    assert R.export_return(p, req(402)) == "created"
    assert [(d["InvoiceNbr"]["value"], d["OrderQty"]["value"]) for d in acu.docs[1]["Details"]] == [
        ("AR000002", D(1))]
    # When a third credit memo returns one more unit than was invoiced: refused, nothing created
    assert R.export_return(p, req(403)) == "refused" and len(acu.docs) == 2
    assert "1 returned but only 0 invoiced and not yet returned" in rows[-1].message


def test_a_receipt_that_failed_after_the_bind_is_made_by_the_next_attempt() -> None:
    # Given the return order is created and bound, then its receipt fails (Acumatica throttles)
    acu = FakeAcumatica()
    acu.fail_receive = [RateLimited("acumatica", "receive", "429")]
    p, rows = ports([creditmemo()], acu)
    with pytest.raises(RetryableError):
        R.export_return(p, req())
    assert len(acu.docs) == 1 and acu.received == []
    # When the message comes back: the binding says the receipt is still to make; it is made, nothing created
    assert R.export_return(p, req()) == "received"
    assert (len(acu.docs), acu.received) == (1, ["RC000001"])
    assert rows[-1].action == Action.UPDATE and "received into stock" in rows[-1].message
    # and once received, a later duplicate is a no-op
    assert R.export_return(p, req()) == "already" and acu.received == ["RC000001"]


def test_adjustments_are_carried_a_refund_as_a_line_of_the_adjustment_item_a_fee_as_a_document_discount() -> None:
    # Given the adjustment item preference and a credit memo of 1 unit + 5.00 adjustment refund - 3.00 fee
    cm = creditmemo(adjustment_positive=D("5.00"), adjustment_negative=D("3.00"), grand_total=D("22.00"))
    body = R.map_return(cm, ORDER, ReturnSyncPreferences(adjustment_item="REFUNDADJ"))
    # Then the return order has the goods line, a REFUNDADJ line of 5.00 and a document discount of 3.00
    assert [(d["InventoryID"]["value"], d["OrderQty"]["value"], d["UnitPrice"]["value"]) for d in body["Details"]] == [
        ("WATER2809", D(1), D("20.00")), ("REFUNDADJ", D(1), D("5.00"))]
    assert [d["DiscountAmount"]["value"] for d in body["DiscountDetails"]] == [D("3.00")]
    # and amounts that do not add up with the adjustments are still refused
    with pytest.raises(R.ReturnRefused, match="adjustment fee 3.00 != grand total 25.00"):
        R.map_return({**cm, "grand_total": D("25.00")}, ORDER, ReturnSyncPreferences(adjustment_item="REFUNDADJ"))


def test_a2m_refund_body_makes_magento_total_equal_acumatica_credit_memo_to_the_cent() -> None:
    from amsync.services.refunds_a2m import MARKER, refund_body

    order = {"items": [{"item_id": 7, "price": 20.0, "qty_ordered": 2, "tax_amount": 3.3, "discount_amount": 0}]}
    items = [{"order_item_id": 7, "qty": D(1)}]

    def memo(amount: str, freight: str = "0") -> dict[str, Any]:
        return {"Amount": {"value": D(amount)}, "FreightPrice": {"value": D(freight)}}

    # a return priced as sold (20.00 + half the tax 1.65): no adjustment
    same = refund_body(MARKER + " Credit Memo/AR1", items, memo("21.65"), order)["arguments"]
    assert (same["adjustment_positive"], same["adjustment_negative"], same["shipping_amount"]) == (0, 0, 0)
    # more credited in Acumatica (goodwill) and freight refunded: an adjustment refund, the freight as shipping
    more = refund_body(MARKER, items, memo("31.65", "5.00"), order)["arguments"]
    assert (more["adjustment_positive"], more["adjustment_negative"], more["shipping_amount"]) == (
        D("5.00"), 0, D("5.00"))
    # less (a restocking fee): an adjustment fee; no return to stock (Acumatica's receipt moved the stock)
    less = refund_body(MARKER, items, memo("18.65"), order)
    assert less["arguments"]["adjustment_negative"] == D("3.00") and less["comment"]["comment"] == MARKER
    assert less["arguments"]["extension_attributes"] == {"return_to_stock_items": []}


def rma(returned: int, status: str = "received") -> dict[str, Any]:
    """An Adobe Commerce return (GET /V1/returns item) of the walkthrough's order, 2 x WATER2809 authorised."""
    return {"entity_id": 1, "increment_id": "000000001", "order_id": 1093, "status": status,
            "items": [{"entity_id": 1, "rma_entity_id": 1, "order_item_id": 2001, "qty_requested": 2,
                       "qty_authorized": 2, "qty_approved": returned, "qty_returned": returned,
                       "status": status}]}


@pytest.mark.parametrize(("rmas", "received", "note"), [
    (None, ["RC000001"], "received into stock"),  # Open Source: the credit memo alone
    ([], ["RC000001"], "received into stock"),  # Adobe Commerce, no RMA for the order (a refund only)
    ([rma(1)], ["RC000001"], "received into stock"),  # the RMA received the unit: the RC receives it, once
    ([rma(0, "authorized")], [], "not received: RMA #000000001 has not received the goods yet (WATER2809: 1 "
                                 "credited, 0 received and not yet taken back)"),  # refunded ahead of the goods
])
def test_with_adobe_commerce_returns_the_credit_memo_drives_the_rc_and_the_rma_its_receipt(
        rmas: list[dict[str, Any]] | None, received: list[str], note: str) -> None:
    # Given a credit memo for 1 x WATER2809, on a store with or without RMA
    p, rows = ports([creditmemo()])
    assert isinstance(p.magento, FakeMagento) and isinstance(p.acumatica, FakeAcumatica)
    p.magento.rmas = rmas
    # When exported twice (a duplicate of an RC left open for its RMA looks at the RMA again: still waiting)
    assert R.export_return(p, req()) == "created"
    assert R.export_return(p, req()) == ("already" if received else "waiting")
    # Then one RC order (the RMA and its credit memo never make two), received only as far as the RMA received
    assert len(p.acumatica.docs) == 1 and p.acumatica.received == received
    assert note in rows[-1].message
    description = p.acumatica.docs[0]["Description"]["value"]
    assert ("(RMA #000000001)" in description) is bool(rmas)


def test_units_an_rma_received_are_received_once_over_the_order_s_credit_memos() -> None:
    # Given an RMA that received 1 x WATER2809, and a first credit memo whose RC already took that unit back
    acu = FakeAcumatica()
    p, rows = ports([creditmemo(), creditmemo(402)], acu)
    assert isinstance(p.magento, FakeMagento)
    p.magento.rmas = [rma(1)]
    assert R.export_return(p, req()) == "created" and acu.received == ["RC000001"]
    # When a second credit memo refunds the other unit (not received by any RMA)
    assert R.export_return(p, req(402)) == "created"
    # Then its RC is made but not received: the RMA's one unit is not received a second time
    assert len(acu.docs) == 2 and acu.received == ["RC000001"]
    assert "not received: RMA #000000001" in rows[-1].message


TAXED_ORDER = {
    **ORDER, "ShippingSettings": {"FreightTaxCategory": {"value": "TAXABLE"}},
    "Details": [{"InventoryID": {"value": "MUG500"}, "OrderQty": {"value": D(3)}, "TaxCategory": {"value": "CITYTAX"},
                 "WarehouseID": {"value": "RETAIL"}},
                {"InventoryID": {"value": "BOOK1"}, "OrderQty": {"value": D(1)}, "TaxCategory": {"value": "REDUCED"},
                 "WarehouseID": {"value": "RETAIL"}}],
    "TaxDetails": [{"TaxID": {"value": "CASALES"}, "TaxRate": {"value": D("8.25")}},
                   {"TaxID": {"value": "CITYLOCAL"}, "TaxRate": {"value": D("1.5")}},
                   {"TaxID": {"value": "REDUCED"}, "TaxRate": {"value": D("5")}}]}


def taxed_memo(tax: str, shipping: str = "0", books: int = 0) -> dict[str, Any]:
    items = [{"sku": "MUG500", "qty": D(2), "price": D("12.99"), "row_total": D("25.98"), "discount_amount": D(0)}]
    if books:
        items.append({"sku": "BOOK1", "qty": D(books), "price": D("10"), "row_total": D(10 * books)})
    lines = sum((i["row_total"] for i in items), D(0))
    return creditmemo(items=items, tax_amount=D(tax), shipping_amount=D(shipping),
                      grand_total=lines + D(tax) + D(shipping))


def categories() -> dict[str, Any]:
    from amsync.models.acumatica import AcuTaxCategory

    return {c: AcuTaxCategory.from_api(FakeAcumatica().tax_category(c)) for c in TAX_CATEGORIES}


def test_the_refunded_tax_is_split_over_the_order_s_taxes_to_the_cent_by_what_each_covers() -> None:
    # Given 2 x MUG500 (CITYTAX: CASALES 8.25% + CITYLOCAL 1.5%) and 1 x BOOK1 (REDUCED 5%) refunded with 5.00
    # shipping (freight TAXABLE: CASALES), Magento refunding 3.55 of tax (its items' and shipping's shares)
    cm = taxed_memo("3.55", shipping="5", books=1)
    # When split
    rows = R.refund_taxes(cm, TAXED_ORDER, categories())
    got = [(r["TaxID"]["value"], r["TaxableAmount"]["value"], r["TaxAmount"]["value"]) for r in rows]
    # Then each tax has the lines (and freight) it covers as taxable amount; the parts add up to 3.55 exactly,
    # split by taxable x rate (30.98 x 8.25 : 25.98 x 1.5 : 10 x 5 = 255.585 : 38.97 : 50 -> 2.63, 0.40, 0.52)
    assert got == [("CASALES", D("30.98"), D("2.63")), ("CITYLOCAL", D("25.98"), D("0.40")),
                   ("REDUCED", D("10.00"), D("0.52"))]
    assert sum((g[2] for g in got), D(0)) == D("3.55")
    # and a refund of the mugs alone carries no REDUCED row, nor freight in CASALES (2.53 x 8.25/9.75 = 2.1408)
    alone = R.refund_taxes(taxed_memo("2.53"), TAXED_ORDER, categories())
    assert [(r["TaxID"]["value"], r["TaxableAmount"]["value"], r["TaxAmount"]["value"]) for r in alone] == [
        ("CASALES", D("25.98"), D("2.14")), ("CITYLOCAL", D("25.98"), D("0.39"))]


def test_the_return_order_is_made_with_the_credit_memo_s_tax_as_given() -> None:
    # Given a credit memo refunding 2 x MUG500 with 2.15 tax (the item's share; Acumatica would compute 2.14)
    acu = FakeAcumatica()
    order = {**TAXED_ORDER, "Details": [{**TAXED_ORDER["Details"][0], "TaxCategory": {"value": "TAXABLE"}}],
             "TaxDetails": TAXED_ORDER["TaxDetails"][:1]}
    acu.sales_order = lambda order_type, order_nbr: order  # type: ignore[method-assign]
    p, rows = ports([taxed_memo("2.15")], acu)
    # When exported
    assert R.export_return(p, req()) == "created"
    # Then automatic tax calculation is off and the Taxes tab holds the refunded tax: the RC totals 28.13
    doc = acu.docs[0]
    assert doc["DisableAutomaticTaxCalculation"] == {"value": True}
    assert doc["TaxDetails"] == [{"TaxID": {"value": "CASALES"}, "TaxableAmount": {"value": D("25.98")},
                                  "TaxAmount": {"value": D("2.15")}}]


def test_tax_refunded_that_no_tax_of_the_order_covers_is_refused() -> None:
    # Given an order without taxes and a credit memo that refunds tax
    # When mapped / Then refused naming the problem
    with pytest.raises(R.ReturnRefused, match="refunds tax 1.00 but no tax of order SOT00024 covers"):
        R.map_return(creditmemo(tax_amount=D(1), grand_total=D(21)), ORDER, ReturnSyncPreferences())


def test_an_rc_left_open_for_its_rma_is_received_once_when_the_rma_receives_the_goods() -> None:
    # Given a credit memo refunded ahead of the goods: its RC order made, left open, on the RMA watch
    acu, binder = FakeAcumatica(), FakeBinder()
    p, rows = ports([creditmemo()], acu, binder)
    assert isinstance(p.magento, FakeMagento)
    p.magento.rmas = [rma(0, "authorized")]
    assert R.export_return(p, req()) == "created" and acu.received == []
    assert binder.get(R.BIND_KIND, "creditmemo/401").extra["x_stage"] == "await-rma"  # type: ignore[union-attr]
    published: list[SyncRequest] = []
    poller = R.CreditmemoPollerPorts(p.magento, Prefs(), binder, published.extend, rows.extend)
    binder.marks[R.WATERMARK] = "2026-12-07 01:00:00|401"  # the credit memo itself was handed on already
    # When the poll runs while the RMA has received nothing more: nothing is queued
    assert R.poll_creditmemos(poller).outcome == "nothing" and published == []
    # When the RMA receives the unit and the poll runs: the credit memo is queued again, once
    p.magento.rmas = [rma(1)]
    assert R.poll_creditmemos(poller).published == [401] and [q.key for q in published] == ["401"]
    assert R.poll_creditmemos(poller).outcome == "nothing"
    # Then the return sync receives the RC order, once: an Update row names the RMA; the watch is empty
    assert R.export_return(p, published[0]) == "received" and acu.received == ["RC000001"]
    assert rows[-1].action == Action.UPDATE and "RMA #000000001 received the goods" in rows[-1].message
    assert R.export_return(p, published[0]) == "already" and acu.received == ["RC000001"]
    assert binder.marks[R.RMA_WATCH] == "{}"


def test_a_unit_the_rma_received_that_another_return_took_back_keeps_the_rc_waiting() -> None:
    # Given two credit memos of one unit each, both refunded ahead of the goods (both RC orders open, watched)
    acu, binder = FakeAcumatica(), FakeBinder()
    p, _ = ports([creditmemo(), creditmemo(402)], acu, binder)
    assert isinstance(p.magento, FakeMagento)
    p.magento.rmas = [rma(0, "authorized")]
    assert R.export_return(p, req(401)) == "created" and R.export_return(p, req(402)) == "created"
    # When the RMA receives one unit: the first RC takes it; the second finds it taken and keeps waiting
    p.magento.rmas = [rma(1)]
    assert R.export_return(p, req(401)) == "received" and R.export_return(p, req(402)) == "waiting"
    assert acu.received == ["RC000001"] and list(R._watch(binder.marks[R.RMA_WATCH])) == ["402"]
    # When the second unit arrives: the second RC is received
    p.magento.rmas = [rma(2)]
    assert R.export_return(p, req(402)) == "received" and acu.received == ["RC000001", "RC000002"]


def test_units_an_rma_receives_little_by_little_are_received_as_they_come_each_once() -> None:
    # Given a credit memo for both units refunded ahead of the goods: its RC order open, on the RMA watch
    acu, binder = FakeAcumatica(), FakeBinder()
    p, rows = ports([creditmemo(units=2)], acu, binder)
    assert isinstance(p.magento, FakeMagento)
    p.magento.rmas = [rma(0, "authorized")]
    assert R.export_return(p, req()) == "created" and acu.received == []
    # When the RMA receives one unit: that unit is received, the RC stays open and watched
    p.magento.rmas = [rma(1, "received_on_item")]
    assert R.export_return(p, req()) == "partly received" and acu.units == [{"WATER2809": D(1)}]
    assert "received into stock: 1 x WATER2809" in rows[-1].message and "not received: RMA" in rows[-1].message
    assert list(R._watch(binder.marks[R.RMA_WATCH])) == ["401"]
    # and a duplicate receives nothing twice
    assert R.export_return(p, req()) == "waiting" and len(acu.units) == 1
    # When the second unit arrives: it is received, the RC Completed, off the watch; nothing more afterwards
    p.magento.rmas = [rma(2)]
    assert R.export_return(p, req()) == "received" and acu.units == [{"WATER2809": D(1)}, {"WATER2809": D(1)}]
    assert acu.docs[0]["Status"] == {"value": "Completed"} and binder.marks[R.RMA_WATCH] == "{}"
    assert R.export_return(p, req()) == "already" and len(acu.units) == 2


def test_a_credit_memo_ahead_of_part_of_the_goods_receives_what_the_rma_has_and_waits_for_the_rest() -> None:
    # Given the RMA has received 1 of the 2 units a credit memo refunds
    acu, binder = FakeAcumatica(), FakeBinder()
    p, rows = ports([creditmemo(units=2)], acu, binder)
    assert isinstance(p.magento, FakeMagento)
    p.magento.rmas = [rma(1, "received_on_item")]
    # When exported
    assert R.export_return(p, req()) == "created"
    # Then the RC order is made, the received unit received at once, the rest waits on the RMA watch
    assert acu.units == [{"WATER2809": D(1)}] and acu.docs[0]["Status"] == {"value": "Open"}
    assert binder.get(R.BIND_KIND, "creditmemo/401").extra["x_stage"] == "await-rma"  # type: ignore[union-attr]
    assert "received into stock: 1 x WATER2809" in rows[-1].message and list(R._watch(binder.marks[R.RMA_WATCH])) \
        == ["401"]
