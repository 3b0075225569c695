"""Returns through the whole local world (issue 16): Magento credit memos -> Acumatica return orders (RC).

The walkthrough's order, shipped, invoiced and Complete in Magento, is refunded there one unit at a time: each
credit memo becomes one linked RC order in Acumatica, received back into the warehouse; the Magento order closes.
Faults (duplicates, an answer lost after Acumatica committed, 429 / login limit, overlapping polls) still leave one
document per credit memo; bad data leaves a Failure row and nothing created.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from e2e_support import E2E

from amsync.models.log import Group, Result, Side
from amsync_local.walkthrough import val


def complete_order(e2e: E2E, lines: list[tuple[str, int]] | None = None) -> tuple[str, dict[str, Any], str]:
    """The walkthrough's steps 1-13: an order paid, shipped and invoiced in Acumatica, Complete in Magento.
    Returns (Acumatica order number, Magento order, Acumatica invoice number)."""
    nbr, order = e2e.paid_order(lines)
    shipment = e2e.acu.create_shipment(nbr)
    e2e.acu.confirm_shipment(shipment)
    invoice = e2e.acu.prepare_invoice(shipment)
    e2e.acu.release_invoice(invoice)
    e2e.settle()
    order = dict(e2e.world.magento.order(int(order["entity_id"])))
    assert order["state"] == "complete"
    return nbr, order, invoice


def refund(e2e: E2E, order: dict[str, Any], units: dict[str, int], back_to_stock: bool = True,
           **arguments: Any) -> dict[str, Any]:
    """The merchant's Credit Memo (offline, from the order) in the Magento admin: the credit memo it made."""
    items = [{"order_item_id": i["item_id"], "qty": units[i["sku"]]} for i in order["items"] if i["sku"] in units]
    if back_to_stock:
        arguments["extension_attributes"] = {"return_to_stock_items": [i["order_item_id"] for i in items]}
    r = e2e.mag.http.post(f"order/{order['entity_id']}/refund", json={"items": items, "arguments": arguments})
    assert r.status_code == 200, r.text
    cm = e2e.mag.http.get(f"creditmemo/{r.json()}")
    cm.raise_for_status()
    result: dict[str, Any] = cm.json()
    return result


def poll(e2e: E2E) -> None:
    e2e.runtime.fire_schedule("CreditMemoPollerFunction")
    e2e.settle()


def returns_of(e2e: E2E, cm: dict[str, Any]) -> list[dict[str, Any]]:
    r = e2e.acu.http.get(f"{e2e.acu.base}/SalesOrder", params={
        "$filter": f"OrderType eq 'RC' and ExternalRef eq 'CM{cm['increment_id']}'", "$expand": "Details"})
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()
    return found


def on_hand(e2e: E2E, warehouse: str = "RETAIL", sku: str = "WATER2809") -> Decimal:
    r = e2e.acu.http.put(f"{e2e.acu.base}/InventorySummaryInquiry", params={"$expand": "Results"},
                         json={"InventoryID": {"value": sku}, "WarehouseID": {"value": warehouse}})
    r.raise_for_status()
    return sum((Decimal(str(val(row, "QtyOnHand"))) for row in r.json()["Results"]), Decimal(0))


def return_rows(e2e: E2E, cm: dict[str, Any]) -> list[Any]:
    return [r for r in e2e.rows(f"creditmemo/{cm['entity_id']}") if r.group == Group.RETURN]


def all_returns(e2e: E2E) -> list[dict[str, Any]]:
    r = e2e.acu.http.get(f"{e2e.acu.base}/SalesOrder", params={"$filter": "OrderType eq 'RC'"})
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()
    return found


def publish_again(e2e: E2E, cm: dict[str, Any], times: int) -> None:
    """The same return request on the queue ``times`` more (SQS's at-least-once delivery)."""
    from amsync.data import queues
    from amsync.models.messages import Kind, SyncRequest

    url = e2e.runtime.functions["ReturnSyncFunction"].env["RETURN_QUEUE_URL"]
    req = SyncRequest(kind=Kind.RETURN, key=str(cm["entity_id"]), source="reconciler",
                      correlation_id=f"creditmemo/{cm['entity_id']}")
    queues.send_many(url, [(req, None, None)] * times)


def test_a_walkthrough_order_refunded_in_two_credit_memos_becomes_two_linked_returns_and_closes(e2e: E2E) -> None:
    # Given the walkthrough's order (2 x WATER2809 at 20.00), Complete in Magento
    nbr, order, invoice = complete_order(e2e)
    stock = on_hand(e2e)
    # When the merchant refunds 1 x WATER2809 with "return to stock" (no shipping refunded) and the poll runs
    first = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0)
    poll(e2e)
    # Then one RC order in Acumatica: 1 x WATER2809 at 20.00, linked to the original invoice line, received
    [rc] = returns_of(e2e, first)
    [line] = rc["Details"]
    assert (val(line, "InventoryID"), Decimal(str(val(line, "OrderQty")))) == ("WATER2809", Decimal(1))
    assert Decimal(str(val(line, "UnitPrice"))) == Decimal("20.00")
    assert (val(line, "InvoiceType"), val(line, "InvoiceNbr"), val(line, "InvoiceLineNbr")) == (
        "Invoice", invoice, 1)
    assert val(rc, "CustomerOrder") == order["increment_id"] and val(rc, "Status") == "Completed"
    assert on_hand(e2e) == stock + 1
    rows = return_rows(e2e, first)
    create = [r for r in rows if r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id) for r in create] == [(Result.SUCCESS, f"RC/{val(rc, 'OrderNbr')}")]
    assert dict(e2e.world.magento.order(int(order["entity_id"])))["state"] != "closed"
    # When the second unit is refunded (and the rest of the order: shipping) and the poll runs
    second = refund(e2e, order, {"WATER2809": 1})
    poll(e2e)
    # Then a second RC order; the Magento order is Closed; nothing doubled by a poll that runs again
    [rc2] = returns_of(e2e, second)
    assert val(rc2, "OrderNbr") != val(rc, "OrderNbr") and on_hand(e2e) == stock + 2
    final = dict(e2e.world.magento.order(int(order["entity_id"])))
    assert (final["state"], final["status"]) == ("closed", "closed")
    poll(e2e)
    assert len(returns_of(e2e, first)) == 1 and len(returns_of(e2e, second)) == 1
    assert nbr


def test_duplicates_and_a_credit_memo_seen_twice_by_overlapping_polls_make_one_document(e2e: E2E) -> None:
    # Given a refunded unit of a Complete order, its request on the queue three more times (duplicates)
    _, order, _ = complete_order(e2e)
    cm = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0)
    publish_again(e2e, cm, 3)
    poll(e2e)
    # and a second poller that read the same second before the watermark moved (overlapping polls)
    from amsync.data.bindings import Binder

    binder = Binder(e2e.runtime.functions["ReturnSyncFunction"].env["BINDINGS_TABLE"])
    value = binder.watermark("magento-creditmemos")
    assert value and str(cm["entity_id"]) in value.partition("|")[2]
    binder.set_watermark("magento-creditmemos", "1970-01-01 00:00:00|", value)
    poll(e2e)
    # Then one RC order for the credit memo, one Create row
    assert len(returns_of(e2e, cm)) == 1
    creates = [r for r in return_rows(e2e, cm) if r.action and r.action.value == "Create"]
    assert [r.result for r in creates] == [Result.SUCCESS]


def test_an_answer_lost_after_acumatica_committed_the_return_is_found_not_created_again(e2e: E2E) -> None:
    # Given Acumatica commits the next return order but its answer never reaches the connector
    _, order, _ = complete_order(e2e)
    cm = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0)
    e2e.world.acumatica.faults.add({"path": r"/SalesOrder$", "method": "PUT", "drop_after_commit_rate": 1.0,
                                    "remaining": 1})
    # When the poll runs (the create times out; the record comes back after the hold and looks the order up)
    poll(e2e)
    e2e.settle(timeout=120)
    # Then one RC order, found by its ExternalRef and bound; received into stock once
    [rc] = returns_of(e2e, cm)
    assert val(rc, "Status") == "Completed"
    rows = return_rows(e2e, cm)
    assert any(r.result == Result.SUCCESS and "found (an earlier attempt created it)" in r.message for r in rows)


def test_acumatica_throttling_and_the_api_login_limit_delay_the_return_but_make_one(e2e: E2E) -> None:
    import threading

    # Given Acumatica answers 429 to the next two return creates
    _, order, _ = complete_order(e2e)
    cm = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0)
    e2e.world.acumatica.faults.add({"path": r"/SalesOrder$", "method": "PUT", "error_rate": 1.0,
                                    "error_status": 429, "retry_after": 1, "remaining": 2})
    # and the connector's pooled sessions ended by Acumatica (an administrator signed them out), every licence
    # seat taken by others for a few seconds: the return function's next call must open its session again (a
    # refresh of an ended session is a login: API Login Limit)
    for module in e2e.runtime.functions["ReturnSyncFunction"].modules:
        module.ports.acumatica.logout()
    sessions = e2e.world.acumatica.sessions
    for ended in [x for x in list(sessions.sessions.values()) if x.kind == "oauth"]:
        sessions.sessions.pop(ended.sid)
    limits = sessions.limits
    seats = limits.max_sessions
    limits.max_sessions = sessions.active()
    rejected = e2e.world.acumatica.sessions.counters.login_limit_rejections
    timer = threading.Timer(6.0, lambda: setattr(limits, "max_sessions", seats))
    timer.start()
    try:
        poll(e2e)
        e2e.settle(timeout=120)
    finally:
        timer.cancel()
        limits.max_sessions = seats
    # Then one RC order once both pass; the login limit did bite
    assert e2e.world.acumatica.sessions.counters.login_limit_rejections > rejected
    assert len(returns_of(e2e, cm)) == 1


def test_bad_data_is_a_failure_row_naming_the_problem_and_nothing_is_created(e2e: E2E) -> None:
    from amsync.services.returns import ReturnRefused, map_return

    # Given a refund of an order the connector did not create (placed in Magento directly)
    before = len(all_returns(e2e))
    _, order, _ = complete_order(e2e)
    foreign = _magento_only_order(e2e, order)
    cm = refund(e2e, foreign, {"WATER2809": 1}, back_to_stock=False, shipping_amount=0)
    poll(e2e)
    [row] = [r for r in return_rows(e2e, cm) if r.result in (Result.SKIPPED, Result.FAILURE)]
    assert row.result == Result.SKIPPED and "was not created by the connector" in row.message
    # Given credit memos whose lines do not match the order or whose amounts do not add up (Magento itself cannot
    # make them, so the mapper is handed them as an API answer would carry them): a refusal naming the problem
    acu_order = e2e.acu.order(order["ext_order_id"], "Details")
    from amsync.models.settings import ReturnSyncPreferences

    prefs = ReturnSyncPreferences()
    good = {"increment_id": "X1", "items": [{"sku": "WATER2809", "qty": 1, "price": "20", "row_total": "20"}],
            "shipping_amount": 0, "grand_total": "20"}
    for bad, reason in (({"items": [{"sku": "NOPE", "qty": 1, "price": "20", "row_total": "20"}]}, "is not on order"),
                        ({"items": [{"sku": "WATER2809", "qty": 3, "price": "20", "row_total": "60"}],
                          "grand_total": "60"}, "3 returned but 2 ordered"),
                        ({"grand_total": "25"}, "amounts do not add up")):
        try:
            map_return({**good, **bad}, acu_order, prefs)
        except ReturnRefused as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"not refused: {bad}")
    assert len(all_returns(e2e)) == before + 0


def _magento_only_order(e2e: E2E, like: dict[str, Any]) -> dict[str, Any]:
    """An order placed in Magento by someone else, invoiced there (no Acumatica order behind it)."""
    state = e2e.world.magento.state
    o = dict(e2e.world.magento.order(int(like["entity_id"])))
    with state.lock:
        eid = state.next("order")
        o.update({"entity_id": eid, "increment_id": f"M{eid:08d}", "ext_order_id": None, "total_refunded": 0,
                  "base_total_refunded": 0, "state": "complete", "status": "complete"})
        for i in o["items"]:
            i["qty_refunded"] = 0
        state.orders[eid] = o
    return o


def test_a_return_that_keeps_failing_lands_in_return_dlq_and_amsync_dlq_replay_makes_it_once(
        e2e: E2E, tmp_path: Any, monkeypatch: Any) -> None:
    import time

    from typer.testing import CliRunner

    from amsync.data import queues
    from amsync_cli import main

    # Given Acumatica fails every lookup of return orders (500): the request cannot go on
    _, order, _ = complete_order(e2e)
    cm = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0)
    dlq = e2e.runtime.stack.physical_ids["ReturnDLQ"]
    e2e.world.acumatica.faults.add({"path": r"/SalesOrder$", "method": "GET", "error_rate": 1.0,
                                    "error_status": 500})
    try:
        e2e.runtime.fire_schedule("CreditMemoPollerFunction")
        deadline = time.monotonic() + 120
        while queues.depth(dlq)["visible"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        e2e.world.acumatica.faults.clear()
    # Then it waits in ReturnDLQ, a Failure row says how to replay it, nothing was created
    assert queues.depth(dlq)["visible"] == 1 and returns_of(e2e, cm) == []
    last = [r for r in return_rows(e2e, cm) if r.result == Result.FAILURE][-1]
    assert "goes to ReturnDLQ" in last.message and "amsync dlq replay ReturnDLQ" in last.message
    # When `amsync dlq replay ReturnDLQ` runs once Acumatica is healthy (twice: the second finds nothing)
    e2e.world.write_endpoints(tmp_path / ".local" / "endpoints.json")
    monkeypatch.chdir(tmp_path)
    main._state.clear()
    replayed = CliRunner().invoke(main.app, ["--local", "dlq", "replay", "ReturnDLQ"], catch_exceptions=False)
    assert replayed.exit_code == 0 and "replayed 1 message" in replayed.output
    e2e.settle()
    main._state.clear()
    again = CliRunner().invoke(main.app, ["--local", "dlq", "replay", "ReturnDLQ"], catch_exceptions=False)
    assert "replayed 0 message" in again.output
    # Then the return order exists, once
    assert len(returns_of(e2e, cm)) == 1


def return_prefs(e2e: E2E, **changes: Any) -> None:
    """Set return-sync preferences and make every warm container see them now."""
    from amsync.models.settings import ReturnSyncPreferences

    e2e.store.put_preferences("return-sync", ReturnSyncPreferences(**changes))
    for module in e2e.runtime.functions["ReturnSyncFunction"].modules:
        settings = getattr(module.ports, "settings", None)
        if hasattr(settings, "invalidate"):
            settings.invalidate()


def test_an_adjustment_refund_and_fee_reach_the_return_order_to_the_cent(e2e: E2E) -> None:
    # Given the adjustment item preference (INSTALL: a service item) and a Complete order
    return_prefs(e2e, adjustment_item="INSTALL")
    try:
        _, order, _ = complete_order(e2e)
        # When 1 unit is refunded with a 5.00 adjustment refund and a 3.00 adjustment fee (22.00 in all)
        cm = refund(e2e, order, {"WATER2809": 1}, shipping_amount=0, adjustment_positive=5, adjustment_negative=3)
        assert Decimal(str(cm["grand_total"])) == Decimal("22")
        poll(e2e)
    finally:
        return_prefs(e2e)
    # Then the RC order: the goods line, an INSTALL line of 5.00, a 3.00 document discount; its total 22.00
    [rc] = returns_of(e2e, cm)
    assert [(val(d, "InventoryID"), Decimal(str(val(d, "UnitPrice")))) for d in rc["Details"]] == [
        ("WATER2809", Decimal("20")), ("INSTALL", Decimal("5"))]
    full = e2e.acu.order(str(val(rc, "OrderNbr")), "Totals,DiscountDetails", order_type="RC")
    assert Decimal(str(val(full, "OrderTotal"))) == Decimal("22.00")


def test_the_return_carries_the_tax_the_credit_memo_refunds_not_a_cent_recomputed(e2e: E2E) -> None:
    # Given an order of 3 x MUG500 at 12.99 (TAXABLE: CASALES 8.25%): Acumatica's tax 38.97 x 8.25% = 3.22, which
    # the connector put on the Magento item; the order Complete
    _, order, _ = complete_order(e2e, [("MUG500", 3)])
    [item] = [i for i in order["items"] if i["sku"] == "MUG500"]
    assert Decimal(str(item["tax_amount"])) == Decimal("3.22")
    # When 2 units are refunded in Magento: it refunds 3.22 x 2/3 = 2.1467 -> 2.15 of tax, 28.13 in all, while
    # Acumatica would compute the returned lines' tax afresh: 25.98 x 8.25% = 2.1434 -> 2.14, 28.12
    cm = refund(e2e, order, {"MUG500": 2}, shipping_amount=0)
    assert (Decimal(str(cm["tax_amount"])), Decimal(str(cm["grand_total"]))) == (Decimal("2.15"), Decimal("28.13"))
    poll(e2e)
    # Then the RC order carries the refunded tax as given (CASALES 25.98 / 2.15): its total is the credit memo's
    [rc] = returns_of(e2e, cm)
    full = e2e.acu.order(str(val(rc, "OrderNbr")), "Totals,TaxDetails,Shipments", order_type="RC")
    assert Decimal(str(val(full, "OrderTotal"))) == Decimal("28.13") and val(full, "Status") == "Completed"
    assert [(val(t, "TaxID"), Decimal(str(val(t, "TaxableAmount"))), Decimal(str(val(t, "TaxAmount"))))
            for t in full["TaxDetails"]] == [("CASALES", Decimal("25.98"), Decimal("2.15"))]
    assert val(full, "DisableAutomaticTaxCalculation") is True
    # and the credit memo Acumatica bills the received return with carries the same tax: 28.13
    [receipt] = [s for s in full["Shipments"] if val(s, "ShipmentType") == "Receipt"]
    memo = e2e.acu.prepare_invoice(str(val(receipt, "ShipmentNbr")))
    acu_memo = e2e.acu.get("SalesInvoice", "Credit Memo", memo)
    assert (Decimal(str(val(acu_memo, "TaxTotal"))), Decimal(str(val(acu_memo, "Amount")))) == (
        Decimal("2.15"), Decimal("28.13"))


# ============================================================================ Acumatica -> Magento
def acumatica_return(e2e: E2E, invoice: str, units: int, price: str | None = None) -> str:
    """An Acumatica merchant's return (RC order from the invoice, received, credit memo released): its number."""
    return e2e.acu.take_return(invoice, units, price=price)


def creditmemos_of(e2e: E2E, order: dict[str, Any]) -> list[dict[str, Any]]:
    r = e2e.mag.http.get("creditmemos", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": str(order["entity_id"])})
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_an_acumatica_return_becomes_one_magento_credit_memo_and_is_never_sent_back(e2e: E2E) -> None:
    # Given the walkthrough's order, Complete in Magento, and no RC order made for it by the connector
    nbr, order, invoice = complete_order(e2e)
    rcs_before = len(all_returns(e2e))
    # When the merchant takes both units back in Acumatica (RC order from the invoice, receipt, credit memo released)
    memo = acumatica_return(e2e, invoice, 2)
    e2e.settle()
    # Then one offline Magento credit memo: 2 x WATER2809, its total Acumatica's to the cent; the order Closed
    acu_memo = e2e.acu.get("SalesInvoice", "Credit Memo", memo, expand="Details")
    [cm] = creditmemos_of(e2e, order)
    assert [(i["sku"], Decimal(str(i["qty"]))) for i in cm["items"]] == [("WATER2809", Decimal(2))]
    assert Decimal(str(cm["grand_total"])).quantize(Decimal("0.01")) == Decimal(str(val(acu_memo, "Amount"))) \
        == Decimal("40.00")
    final = dict(e2e.world.magento.order(int(order["entity_id"])))
    assert (final["state"], final["status"]) == ("closed", "closed")
    rows = [r for r in e2e.rows(nbr) if r.group == Group.RETURN and r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id) for r in rows] == [(Result.SUCCESS, str(cm["entity_id"]))]
    # When the credit memo poll runs and the push comes again: nothing goes back, nothing doubles
    poll(e2e)
    assert len(all_returns(e2e)) == rcs_before + 1  # the merchant's RC only
    skipped = [r for r in return_rows(e2e, cm) if r.result == Result.SKIPPED]
    assert skipped and "made by the connector from an Acumatica credit memo" in skipped[0].message
    # and the credit memo's request delivered again (SQS at least once): still one Magento credit memo
    from amsync.data import queues
    from amsync.models.messages import Kind, SyncRequest

    url = e2e.runtime.functions["FulfilmentFunction"].env["FULFILMENT_QUEUE_URL"]
    again = SyncRequest(kind=Kind.INVOICE, key=f"Credit Memo/{memo}", order_key=None, source="reconciler",
                        correlation_id=f"Credit Memo/{memo}")
    queues.send(url, again, group_id="RC", dedup_key=f"again-{memo}")
    e2e.settle()
    assert len(creditmemos_of(e2e, order)) == 1


def test_a_return_of_more_than_was_paid_is_refused_by_magento_with_its_message(e2e: E2E) -> None:
    # Given a Complete order of 40.00, and an Acumatica return of 1 unit at 50.00
    nbr, order, invoice = complete_order(e2e)
    acumatica_return(e2e, invoice, 1, price="50.00")
    e2e.settle()
    # Then no Magento credit memo; the Failure row carries Magento's refusal
    assert creditmemos_of(e2e, order) == []
    failures = [r for r in e2e.rows(nbr) if r.group == Group.RETURN and r.result == Result.FAILURE]
    assert failures and "The most money available to refund is 40." in failures[-1].message


def test_a_return_on_the_credit_memo_order_type_becomes_one_magento_credit_memo(e2e: E2E) -> None:
    # Given the walkthrough's order, Complete in Magento, and its stock in RETAIL
    nbr, order, invoice = complete_order(e2e)
    stock = on_hand(e2e)
    # When the merchant credits one unit with a CR order from the invoice (billed at once, credit memo released)
    memo = e2e.acu.take_credit_memo_order(invoice, 1)
    e2e.settle()
    # Then one offline Magento credit memo of 1 x WATER2809 at Acumatica's total; the unit back on hand
    [cm] = creditmemos_of(e2e, order)
    assert [(i["sku"], Decimal(str(i["qty"]))) for i in cm["items"]] == [("WATER2809", Decimal(1))]
    acu_memo = e2e.acu.get("SalesInvoice", "Credit Memo", memo)
    assert Decimal(str(cm["grand_total"])).quantize(Decimal("0.01")) == Decimal(str(val(acu_memo, "Amount"))) \
        == Decimal("20.00")
    assert on_hand(e2e) == stock + 1
    # and the CR order's own push made no Skipped "order type CR is not synced" row
    assert not [r for r in e2e.log.newest(Side.MAGENTO, limit=200) if "order type CR" in (r.message or "")]
    rows = [r for r in e2e.rows(nbr) if r.group == Group.RETURN and r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id) for r in rows] == [(Result.SUCCESS, str(cm["entity_id"]))]


def test_a_credit_memo_entered_on_its_own_reaches_magento_through_its_original_invoice_line(e2e: E2E) -> None:
    # Given the walkthrough's order, Complete in Magento
    nbr, order, invoice = complete_order(e2e)
    stock = on_hand(e2e)
    # When the merchant enters a credit memo for 1 unit, its line naming the original invoice line, and releases it
    memo = e2e.acu.enter_credit_memo(invoice, 1)
    e2e.settle()
    # Then one offline Magento credit memo of 1 x WATER2809 at 20.00, the unit back on hand
    [cm] = creditmemos_of(e2e, order)
    assert [(i["sku"], Decimal(str(i["qty"]))) for i in cm["items"]] == [("WATER2809", Decimal(1))]
    assert Decimal(str(cm["grand_total"])).quantize(Decimal("0.01")) == Decimal("20.00")
    assert on_hand(e2e) == stock + 1 and f"Credit Memo/{memo}" in str(cm["comments"])
    # When a second one names no invoice line: a Failure row says what to add, nothing more in Magento
    body = {"Type": {"value": "Credit Memo"}, "CustomerID": {"value": "AACUSTOMER"},
            "Details": [{"InventoryID": {"value": "WATER2809"}, "Qty": {"value": 1}, "WarehouseID": {"value": "RETAIL"},
                         "UnitPrice": {"value": 20}}]}
    r = e2e.acu.http.put(f"{e2e.acu.base}/SalesInvoice", json=body)
    assert r.status_code == 200, r.text
    loose = str(val(r.json(), "ReferenceNbr"))
    e2e.acu.release_invoice(loose, doc_type="Credit Memo")
    e2e.settle()
    assert len(creditmemos_of(e2e, order)) == 1
    failures = [r for r in e2e.rows(f"Credit Memo/{loose}") if r.result == Result.FAILURE]
    assert failures and "names no original invoice line" in failures[-1].message
    assert nbr


def enter_ar_credit_memo(e2e: E2E, lines: list[dict[str, Any]], invoice: str | None) -> str:
    """A credit memo entered in Accounts Receivable (AR301000, the Invoice entity), applied to ``invoice``, released."""
    body: dict[str, Any] = {"Type": {"value": "Credit Memo"}, "Customer": {"value": "AACUSTOMER"},
                            "Details": [{k: {"value": v} for k, v in ln.items()} for ln in lines]}
    if invoice:
        body["ApplicationsCreditMemo"] = [{"DocType": {"value": "Invoice"}, "ReferenceNbr": {"value": invoice}}]
    r = e2e.acu.http.put(f"{e2e.acu.base}/Invoice", json=body)
    assert r.status_code == 200, r.text
    nbr = str(val(r.json(), "ReferenceNbr"))
    e2e.acu.action("Invoice", "ReleaseInvoice", {"Type": "Credit Memo", "ReferenceNbr": nbr})
    return nbr


def test_an_ar_credit_memo_applied_to_the_invoice_becomes_one_magento_credit_memo_and_moves_no_stock(
        e2e: E2E) -> None:
    # Given the walkthrough's order, Complete in Magento, and its stock in RETAIL
    nbr, order, invoice = complete_order(e2e)
    stock = on_hand(e2e)
    rcs_before = len(all_returns(e2e))
    # When the merchant enters in AR a credit memo of 1 x WATER2809 and 2.50 goodwill (a line with no item),
    # applied to the order's invoice, and releases it
    memo = enter_ar_credit_memo(e2e, [{"InventoryID": "WATER2809", "Qty": 1, "UnitPrice": 20},
                                      {"TransactionDescription": "Goodwill", "Amount": 2.5}], invoice)
    e2e.settle()
    # Then one offline Magento credit memo: the item refunded by quantity, the goodwill as an adjustment refund,
    # its total Acumatica's to the cent; no stock moved on either side (AR moves no goods)
    acu_memo = e2e.acu.get("Invoice", "Credit Memo", memo)
    [cm] = creditmemos_of(e2e, order)
    assert [(i["sku"], Decimal(str(i["qty"]))) for i in cm["items"]] == [("WATER2809", Decimal(1))]
    assert Decimal(str(cm["adjustment_positive"])).quantize(Decimal("0.01")) == Decimal("2.50")
    assert Decimal(str(cm["grand_total"])).quantize(Decimal("0.01")) == Decimal(str(val(acu_memo, "Amount"))) \
        == Decimal("22.50")
    assert on_hand(e2e) == stock and f"Credit Memo/{memo}" in str(cm["comments"])
    rows = [r for r in e2e.rows(nbr) if r.group == Group.RETURN and r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id) for r in rows] == [(Result.SUCCESS, str(cm["entity_id"]))]
    # When the credit memo poll runs: the connector's own credit memo is not sent back (no RC order)
    poll(e2e)
    assert len(all_returns(e2e)) == rcs_before
    # When an AR credit memo applied to no invoice is released: a Failure row says what to do, nothing in Magento
    loose = enter_ar_credit_memo(e2e, [{"InventoryID": "WATER2809", "Qty": 1, "UnitPrice": 20}], None)
    e2e.settle()
    assert len(creditmemos_of(e2e, order)) == 1
    failures = [r for r in e2e.rows(f"Credit Memo/{loose}") if r.result == Result.FAILURE]
    assert failures and "apply it to the original invoice" in failures[-1].message


def _sim_edition(e2e: E2E, edition: str) -> None:
    """Switch the Magento simulator's edition through its control API (``/_sim/config``)."""
    import httpx

    r = httpx.post(f"{e2e.world.magento.url.rstrip('/')}/_sim/config", json={"edition": edition}, timeout=10)
    r.raise_for_status()


def _rma(e2e: E2E, order: dict[str, Any], requested: int) -> dict[str, Any]:
    """The customer's return request for WATER2809 (Adobe Commerce RMA), as Magento_Rma's API saves it."""
    [item] = [i for i in order["items"] if i["sku"] == "WATER2809"]
    line = {"entity_id": 0, "rma_entity_id": 0, "order_item_id": item["item_id"], "qty_requested": requested,
            "qty_authorized": 0, "qty_approved": 0, "qty_returned": 0, "reason": "damaged", "condition": "opened",
            "resolution": "refund", "status": "pending"}
    body = {"increment_id": "", "entity_id": 0, "order_id": order["entity_id"], "order_increment_id": "",
            "store_id": 1, "customer_id": 0, "date_requested": "", "customer_custom_email": "", "status": "pending",
            "comments": [], "tracks": [], "items": [line]}
    r = e2e.mag.http.post("returns", json={"rmaDataObject": body})
    assert r.status_code == 200, r.text
    rma: dict[str, Any] = r.json()
    return rma


def _rma_save(e2e: E2E, rma: dict[str, Any], status: str, authorized: int, returned: int) -> None:
    body = {**rma, "status": status,
            "items": [{**rma["items"][0], "qty_authorized": authorized, "qty_returned": returned, "status": status}]}
    r = e2e.mag.http.put(f"returns/{rma['entity_id']}", json={"rmaDataObject": body})
    assert r.status_code == 200, r.text


@contextmanager
def _walkthrough_order_on_adobe_commerce(e2e: E2E) -> Iterator[tuple[dict[str, Any], Decimal]]:
    """The walkthrough's order Complete, on an Adobe Commerce store (detected: /V1/returns answers): (the Magento
    order, the warehouse's stock then); the store is Open Source again afterwards."""
    _nbr, order, _invoice = complete_order(e2e)
    _sim_edition(e2e, "adobe_commerce")
    try:
        yield order, on_hand(e2e)
    finally:
        _sim_edition(e2e, "open_source")


def test_on_adobe_commerce_the_rma_drives_the_receipt_and_its_credit_memo_makes_one_return(e2e: E2E) -> None:
    # Given the walkthrough's order Complete, on an Adobe Commerce store (detected: /V1/returns answers),
    with _walkthrough_order_on_adobe_commerce(e2e) as (order, stock):
        # and the customer's return of both units authorised, one unit received so far
        rma = _rma(e2e, order, 2)
        _rma_save(e2e, rma, "authorized", 2, 0)
        _rma_save(e2e, rma, "received_on_item", 2, 1)
        # When the merchant refunds the received unit (credit memo) and the poll runs
        first = refund(e2e, order, {"WATER2809": 1}, back_to_stock=False, shipping_amount=0)
        poll(e2e)
        # Then one RC order (not one for the RMA and one for its credit memo), naming the RMA, received: +1
        [rc] = returns_of(e2e, first)
        assert f"RMA #{rma['increment_id']}" in str(val(rc, "Description")) and val(rc, "Status") == "Completed"
        assert len([r for r in all_returns(e2e) if val(r, "CustomerOrder") == order["increment_id"]]) == 1
        assert on_hand(e2e) == stock + 1
        # When the second unit is refunded before the RMA received it
        second = refund(e2e, order, {"WATER2809": 1}, back_to_stock=False)
        poll(e2e)
        # Then its RC order is made but not received (no unit received twice), and the row says why
        [rc2] = returns_of(e2e, second)
        assert val(rc2, "Status") != "Completed" and on_hand(e2e) == stock + 1
        [row] = [r for r in return_rows(e2e, second) if r.action and r.action.value == "Create"]
        assert row.result == Result.SUCCESS and "not received: RMA #" in row.message
        # When the RMA receives the second unit later and the poll runs (twice)
        _rma_save(e2e, rma, "received", 2, 2)
        poll(e2e)
        poll(e2e)
        # Then the open RC order is received by the connector, once: +1, one Update row naming the RMA
        [rc2] = returns_of(e2e, second)
        assert val(rc2, "Status") == "Completed" and on_hand(e2e) == stock + 2
        updates = [r for r in return_rows(e2e, second) if r.action and r.action.value == "Update"]
        assert [r.result for r in updates] == [Result.SUCCESS] and "received the goods" in updates[0].message


def test_on_adobe_commerce_units_the_rma_receives_one_by_one_are_received_as_they_come(e2e: E2E) -> None:
    # Given the walkthrough's order Complete on an Adobe Commerce store, its RMA for both units authorised, and
    # both units refunded ahead of the goods: one RC order, open
    with _walkthrough_order_on_adobe_commerce(e2e) as (order, stock):
        rma = _rma(e2e, order, 2)
        _rma_save(e2e, rma, "authorized", 2, 0)
        cm = refund(e2e, order, {"WATER2809": 2}, back_to_stock=False)
        poll(e2e)
        [rc] = returns_of(e2e, cm)
        assert val(rc, "Status") == "Open" and on_hand(e2e) == stock
        # When the RMA receives one unit and the poll runs: that unit is received, the RC order still open
        _rma_save(e2e, rma, "received_on_item", 2, 1)
        poll(e2e)
        [rc] = returns_of(e2e, cm)
        assert on_hand(e2e) == stock + 1 and val(rc, "Status") not in ("Completed", "Open")
        # When the second unit arrives and the poll runs twice: received once, the RC order Completed
        _rma_save(e2e, rma, "received", 2, 2)
        poll(e2e)
        poll(e2e)
        [rc] = returns_of(e2e, cm)
        assert on_hand(e2e) == stock + 2 and val(rc, "Status") == "Completed"
        updates = [r for r in return_rows(e2e, cm) if r.action and r.action.value == "Update"]
        assert [r.result for r in updates] == [Result.SUCCESS, Result.SUCCESS]
