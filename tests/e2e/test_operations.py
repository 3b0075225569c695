"""Reconciliation, DLQ and replay, resync, and the `amsync` CLI against the local world."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import E2E
from typer.testing import CliRunner

from amsync.data import queues
from amsync.data.bindings import Binder
from amsync.models.log import Group, Result
from amsync_cli.main import app

runner = CliRunner()


@pytest.fixture()
def cli(e2e: E2E, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `amsync --local ...` in a folder whose .local/endpoints.json points at this module's world."""
    e2e.world.write_endpoints(tmp_path / ".local" / "endpoints.json")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Any:
        from amsync_cli import main

        main._state.clear()
        return runner.invoke(app, ["--local", *args], catch_exceptions=False)
    return run


def _paid_order(e2e: E2E) -> str:
    nbr = e2e.acu.create_order()
    e2e.acu.record_payment(nbr)
    return nbr


def test_reconciler_finds_an_order_whose_pushes_were_lost(e2e: E2E) -> None:
    # Given Acumatica loses every push for a paid order
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    try:
        nbr = _paid_order(e2e)
        e2e.settle()
    finally:
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    assert e2e.mag.orders_for(nbr) == []
    # When the reconciler's schedule fires
    result = e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    # Then it handed the order on and the order synced, once
    assert result["streams"]["orders"]["published"] >= 1
    assert len(e2e.mag.orders_for(nbr)) == 1
    assert any("reconciler" in r.message for r in e2e.rows(nbr))
    # and a second run hands nothing more on for it
    again = e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    assert again["streams"]["orders"]["published"] == 0
    assert len(e2e.mag.orders_for(nbr)) == 1


def test_the_reconcilers_requests_have_no_push_row_so_b2b_and_staff_come_from_the_customer_class(e2e: E2E) -> None:
    # Given every push lost for two unpaid orders: BIGBOX's (class B2B) and Alta Ace's (class DEFAULT); the default
    # preferences read B2B / staff from the push row (customer_flags_source = push_row)
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    try:
        b2b, default = e2e.acu.create_order(customer="BIGBOX"), e2e.acu.create_order()
        e2e.settle()
    finally:
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    # When the reconciler hands them on (no push row: no isB2B / isStaffCustomer columns)
    e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    # Then the class decides: BIGBOX's order syncs unpaid, Alta Ace's waits, saying where B2B was read from
    assert len(e2e.mag.orders_for(b2b)) == 1
    assert e2e.mag.orders_for(default) == []
    skipped = [r for r in e2e.rows(default) if r.result == Result.SKIPPED]
    assert skipped and "not B2B (class DEFAULT; no push row column to read it from)" in skipped[-1].message


def test_a_pushed_order_is_b2b_by_its_push_row_whatever_the_class_lists_say(e2e: E2E) -> None:
    from amsync.models.settings import OrderSyncPreferences

    # Given class lists that name no class of BIGBOX's (B2B), so only the push row's isB2B can make it B2B
    e2e.settings.put_preferences("order-sync", OrderSyncPreferences(b2b_classes=["DEALER"]))
    try:
        # When BIGBOX's unpaid order is pushed (the AMSync-SalesOrders row carries isB2B = true)
        nbr = e2e.acu.create_order(customer="BIGBOX")
        e2e.settle()
    finally:
        e2e.settings.put_preferences("order-sync", OrderSyncPreferences())
    # Then it synced on the push row's word
    assert len(e2e.mag.orders_for(nbr)) == 1


def test_reconciler_finds_an_order_a_long_transaction_committed_with_a_stamp_older_than_its_watermark(
        e2e: E2E) -> None:
    # Given the reconciler has just run: its orders watermark is within two minutes of now
    e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    watermark = datetime.fromisoformat(str(Binder(_bindings_table(e2e)).watermark("orders")))
    # When a long Acumatica transaction places and pays an order stamped ten minutes before it commits (past the
    # watermark already), and every push of it is lost
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    e2e.world.acumatica.set_stamp_lag(600)
    try:
        nbr = _paid_order(e2e)
    finally:
        e2e.world.acumatica.set_stamp_lag(0)
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    e2e.settle()
    stamp = datetime.fromisoformat(e2e.world.acumatica.record("SalesOrder", "SO", nbr)["LastModified"]["value"])
    assert stamp.astimezone(UTC) < watermark - timedelta(minutes=5) and e2e.mag.orders_for(nbr) == []
    # Then the next run reads it (from its watermark less ReconcileOverlapSeconds) and it syncs, once
    result = e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    assert result["streams"]["orders"]["published"] >= 1
    assert len(e2e.mag.orders_for(nbr)) == 1


def _bindings_table(e2e: E2E) -> str:
    return str(e2e.runtime.functions["ReconcilerFunction"].env["BINDINGS_TABLE"])


def _second_create_of(order: dict[str, Any]) -> dict[str, Any]:
    """The order as a second create of it stores it (what Magento commits after the connector gave up): the same
    ext_order_id, lines and totals; ids, numbers and times of its own."""
    own = {"entity_id", "increment_id", "item_id", "order_id", "parent_id", "quote_id", "quote_item_id",
           "created_at", "updated_at", "status_histories", "customer_address_id", "billing_address_id"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in own}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return {**strip(order), "state": "new", "status": "pending"}


def test_the_reconciler_cancels_a_second_magento_order_of_a_synced_order(e2e: E2E) -> None:
    # Given an order synced normally
    nbr, bound = e2e.paid_order()
    # and a second Magento order for it, as a create Magento committed after the connector gave up would leave
    planted = e2e.mag.http.put("orders/create", json={"entity": _second_create_of(bound)})
    planted.raise_for_status()
    double_id = int(planted.json()["entity_id"])
    assert sorted(int(o["entity_id"]) for o in e2e.mag.orders_for(nbr)) == sorted([int(bound["entity_id"]), double_id])
    bound_before = e2e.mag.http.get(f"orders/{bound['entity_id']}").json()
    # When the reconciler's schedule fires
    result = e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    # Then the double is cancelled, with a comment saying what it is
    message = (f"a second Magento order for Acumatica SO {nbr}, which is Magento order #{bound['increment_id']}; "
               "cancelled by amsync")
    double = e2e.mag.http.get(f"orders/{double_id}").json()
    assert double["state"] == "canceled"
    assert [h["comment"] for h in double["status_histories"]] == [message]
    assert result["doubles"] == [{"order": f"SO/{nbr}", "entity_id": double_id, "message": message}]
    # the bound order is untouched
    assert e2e.mag.http.get(f"orders/{bound['entity_id']}").json() == bound_before
    # and one Failure row says so: Group Order, Notes the order number, Entity Id the double's
    [failure] = [r for r in e2e.rows(nbr) if r.result == Result.FAILURE]
    assert (failure.group, failure.entity_id, failure.message) == (Group.ORDER, str(double_id), message)
    # When it fires again, nothing more is done
    again = e2e.runtime.fire_schedule("ReconcilerFunction")
    e2e.settle()
    assert again["doubles"] == []
    assert len(e2e.mag.http.get(f"orders/{double_id}").json()["status_histories"]) == 1
    assert len([r for r in e2e.rows(nbr) if r.result == Result.FAILURE]) == 1
    assert e2e.mag.http.get(f"orders/{bound['entity_id']}").json() == bound_before


def test_a_record_that_keeps_failing_lands_in_its_dlq_with_its_last_error_then_replays(e2e: E2E, cli: Any) -> None:
    # Given Magento fails every create with a 500
    e2e.world.magento.faults.add({"path": r"/orders/create$", "method": "PUT", "error_rate": 1.0,
                                  "error_status": 500})
    try:
        nbr = _paid_order(e2e)
        dlq = e2e.runtime.stack.physical_ids["MagentoOrderDLQ"]
        deadline = time.monotonic() + 90
        while queues.depth(dlq)["visible"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        e2e.world.magento.faults.clear()
    # Then after maxReceiveCount attempts the write waits in the DLQ, and the log says why
    assert queues.depth(dlq)["visible"] == 1
    failures = sorted((r for r in e2e.rows(nbr) if r.result == Result.FAILURE), key=lambda r: r.log_id)
    assert len(failures) == 6 and all("Internal Error" in r.message for r in failures)
    # (five attempts, then the row of the last receive: where it went, why, and how to replay it)
    assert failures[-1].message.startswith("failed 5 times, goes to MagentoOrderDLQ; last error: ServerError: ")
    assert failures[-1].message.endswith(f"amsync dlq replay MagentoOrderDLQ --entity {nbr}")
    # (the chaos run lists each DLQ'd message the same way before it replays them)
    from amsync_local.chaos import _dlq_reasons

    [reason] = _dlq_reasons(e2e.world, "MagentoOrderDLQ", queues.peek(dlq, 10))
    assert reason.startswith(f"MagentoOrderDLQ: {nbr}; last error: failed 5 times, goes to MagentoOrderDLQ")
    listed = cli("--json", "dlq", "list", "MagentoOrderDLQ")
    rows = json.loads(listed.output)
    assert listed.exit_code == 0 and [r["Entity"] for r in rows] == [nbr] and "Internal Error" in rows[0]["Last error"]
    # When it is replayed (by entity) once Magento is healthy
    replayed = cli("dlq", "replay", "MagentoOrderDLQ", "--entity", nbr)
    assert replayed.exit_code == 0 and "replayed 1 message" in replayed.output
    e2e.settle()
    # Then the order exists once; replaying the (now empty) DLQ again changes nothing
    assert len(e2e.mag.orders_for(nbr)) == 1
    assert "replayed 0 message" in cli("dlq", "replay", "MagentoOrderDLQ").output
    assert len(e2e.mag.orders_for(nbr)) == 1


def test_cli_resync_logs_and_show(e2e: E2E, cli: Any) -> None:
    # Given a synced order
    nbr = _paid_order(e2e)
    e2e.settle()
    # When it is resynced twice from the command line
    for _ in range(2):
        res = cli("resync", "order", nbr)
        assert res.exit_code == 0 and "queued 1 sync request" in res.output
    e2e.settle()
    # Then nothing is created twice
    assert len(e2e.mag.orders_for(nbr)) == 1
    # and the log can be filtered like the walkthrough's grid, and one entry shown with its details
    out = cli("--json", "logs", "--entity", nbr, "--group", "Order", "--action", "Create", "--result", "Success")
    rows = json.loads(out.output)
    assert out.exit_code == 0 and len(rows) == 1 and rows[0]["Notes"] == nbr and rows[0]["Entity Id"]
    shown = cli("logs", "show", rows[0]["Log Id"])
    assert shown.exit_code == 0 and '"ext_order_id": "' + nbr in shown.output.replace("\n", "")
    recent = json.loads(cli("--json", "logs", "--since", "1h", "--action", "Publisher").output)
    assert recent and all(r["Action"] == "Publisher" for r in recent)
    raw = json.loads(cli("--json", "logs", "--side", "acumatica", "--limit", "5").output)
    assert raw and all("Action Type" in r for r in raw)


def test_cli_mappings_preferences_and_status(e2e: E2E, cli: Any) -> None:
    listed = json.loads(cli("--json", "mappings", "ship-via", "list").output)
    assert {m["ship_via"] for m in listed} >= {"UPSGROUND", "FEDEXGROUND", "WILLCALL", "LOCAL"}
    assert cli("mappings", "ship-via", "set", "ship_via=DHL", "carrier_code=flatrate", "method_code=flatrate",
               "title=Flat Rate - Fixed").exit_code == 0
    assert cli("mappings", "ship-via", "rm", "DHL#all").exit_code == 0
    assert cli("mappings", "ship-via", "rm", "DHL#all").exit_code == 1  # gone already: scripts can tell
    assert cli("mappings", "ship-via", "set", "nonsense").exit_code == 2  # wrong input
    schema = cli("mappings", "update-schema")
    assert "LOCAL" in schema.output and "freeshipping_freeshipping" in schema.output
    assert cli("preferences", "set", "sync_if_paid=false").exit_code == 0
    assert json.loads(cli("preferences", "show").output)["sync_if_paid"] is False
    assert cli("preferences", "set", "sync_if_paid=true").exit_code == 0
    assert cli("preferences", "set", "no_such=1").exit_code == 2
    # the return and amounts preferences: set, shown, refused when the model refuses (nothing stored then)
    assert cli("preferences", "returns-set", "adjustment_item=REFUNDADJ", "receive_into_stock=false").exit_code == 0
    shown = json.loads(cli("preferences", "returns-show").output)
    assert shown["adjustment_item"] == "REFUNDADJ" and shown["receive_into_stock"] is False
    assert cli("preferences", "returns-set", "return_order_type=return").exit_code == 2
    assert json.loads(cli("preferences", "returns-show").output)["return_order_type"] == "RC"
    assert cli("preferences", "returns-set", "adjustment_item=", "receive_into_stock=true").exit_code == 0
    assert json.loads(cli("preferences", "returns-show").output)["adjustment_item"] is None
    assert cli("preferences", "amounts-set", "allowed_currencies=usd,eur").exit_code == 0
    assert json.loads(cli("preferences", "amounts-show").output)["allowed_currencies"] == ["USD", "EUR"]
    assert cli("preferences", "amounts-set", "allowed_currencies=USD").exit_code == 0
    status = cli("status")
    assert status.exit_code == 0 and "MagentoOrderDLQ" in status.output and "failures today" in status.output
    assert cli("logs", "show", "123").exit_code == 2
