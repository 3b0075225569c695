"""`amsync timeline`, `audit` and `preview` against one local world, and every grid in an 80-column terminal.

The tests share this module's world and run in file order: the audit's clean run needs every order placed before
it to be in step (the preview test lets its held-back orders sync; the seeded standing order is put on hold)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import E2E
from typer.testing import CliRunner

from amsync.data import queues
from amsync.data.aws import client
from amsync.jsonio import loads
from amsync.models.log import Side
from amsync_cli.main import app
from amsync_local.walkthrough import val, wrap

runner = CliRunner()
TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture()
def cli(e2e: E2E, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`amsync --local ...` in a folder whose .local/endpoints.json points at this module's world."""
    e2e.world.write_endpoints(tmp_path / ".local" / "endpoints.json")
    monkeypatch.chdir(tmp_path)

    def run(*args: str, columns: int = 200) -> Any:
        from amsync_cli import main

        main._state.clear()
        return runner.invoke(app, ["--local", *args], catch_exceptions=False, env={"COLUMNS": str(columns)})
    return run


def _json(result: Any) -> Any:
    assert result.exception is None, result.output
    return json.loads(result.output)


def _ship(e2e: E2E, nbr: str, tracking: str) -> str:
    shipment = e2e.acu.create_shipment(nbr)
    e2e.acu.add_package(shipment, tracking)
    e2e.acu.confirm_shipment(shipment)
    return shipment


# ---------------------------------------------------------------------------------------------- timeline
def test_timeline_of_a_synced_order_merges_its_rows_with_both_systems_now(e2e: E2E, cli: Any) -> None:
    # Given the walkthrough: an order skipped as unpaid, paid and synced, shipped with a tracking number, invoiced
    nbr = e2e.acu.create_order()
    e2e.settle()
    e2e.acu.record_payment(nbr)
    e2e.settle()
    shipment = _ship(e2e, nbr, "1Z999AA10123456784")
    e2e.settle()
    invoice = e2e.acu.prepare_invoice(shipment)
    e2e.acu.release_invoice(invoice)
    e2e.settle()
    [magento] = e2e.mag.orders_for(nbr)
    # When the operator asks for its timeline (type and number, or the number alone)
    tl = _json(cli("--json", "timeline", "SO", nbr))
    assert _json(cli("--json", "timeline", nbr))["steps"] == tl["steps"]
    # Then every row of the order, its payment, shipment and invoice is there, oldest first, with each hop's latency
    steps = tl["steps"]
    assert [s["log_id"] for s in steps] == sorted(r.log_id for r in e2e.rows(nbr)) == sorted(
        s["log_id"] for s in steps)
    labels = [s["label"] for s in steps]
    # (the payment reaches the connector as the order's own post: its UnpaidBalance is tracked, payments are not)
    assert labels.count("order queued") >= 2
    for expected in ("push received (Order Sync)", "order queued", "skipped", "created in Magento",
                     "shipment queued", "shipment created", "invoice queued", "invoice created"):
        assert expected in labels, (expected, labels)
    assert labels.index("skipped") < labels.index("created in Magento") < labels.index("shipment created") \
        < labels.index("invoice created")
    at = [datetime.fromisoformat(s["at"]) for s in steps]
    assert steps[0]["hop_ms"] is None
    hops = [(b - a).total_seconds() * 1000 for a, b in zip(at[:-1], at[1:], strict=True)]
    assert all(abs(s["hop_ms"] - hop) < 0.2 for s, hop in zip(steps[1:], hops, strict=True))
    assert tl["push_to_magento_ms"] and tl["push_to_magento_ms"] > 0
    # and both systems as they are now
    acu, mag = tl["acumatica"], tl["magento"]
    assert acu["found"] and acu["unpaid_balance"] == "0.00" and acu["external_ref"] == magento["increment_id"]
    assert [(s["nbr"], s["tracking"]) for s in acu["shipments"]] == [(shipment, ["1Z999AA10123456784"])]
    assert [(i["nbr"], i["status"], i["amount"]) for i in acu["invoices"]] == [(invoice, "Closed", "40.00")]
    assert (mag["found_by"], mag["entity_id"], mag["state"]) == ("binding", magento["entity_id"], "complete")
    assert [(d["acumatica"], d["tracking"]) for d in mag["shipments"]] == [(shipment, ["1Z999AA10123456784"])]
    assert [d["acumatica"] for d in mag["invoices"]] == [f"Invoice/{invoice}"]
    # and nothing is pending
    assert tl["stuck_at"] == "complete"


def test_timeline_of_an_unpaid_order_is_stuck_at_skipped_unpaid(e2e: E2E, cli: Any) -> None:
    # Given an order nobody has paid
    nbr = e2e.acu.create_order()
    e2e.settle()
    # When
    tl = _json(cli("--json", "timeline", nbr))
    # Then it is stuck at the skip, with the log's reason, and Magento has nothing
    assert tl["stuck_at"] == "skipped: unpaid"
    assert "the unpaid balance is 40.00" in tl["why"]
    assert [s["label"] for s in tl["steps"]][-1] == "skipped"
    assert not tl["magento"]["found"] and tl["acumatica"]["status"] == "Open"
    # and the table says the same
    table = cli("timeline", "SO", nbr)
    assert table.exit_code == 0 and "stuck at skipped: unpaid" in table.output


def test_timeline_tells_two_order_types_with_one_number_apart(e2e: E2E, cli: Any) -> None:
    # Given an SO order and an ST order with the same number (Acumatica numbers each type on its own)
    nbr = e2e.acu.create_order()
    e2e.world.acumatica.set_next_number("ST", int(nbr[3:]))
    assert e2e.acu.create_order(order_type="ST") == nbr
    e2e.settle()
    # When each one's timeline is asked for
    so, st = _json(cli("--json", "timeline", "SO", nbr)), _json(cli("--json", "timeline", f"ST/{nbr}"))
    # Then each holds its own rows only (raw pushes too), and each is stuck where it is
    so_ids, st_ids = {s["log_id"] for s in so["steps"]}, {s["log_id"] for s in st["steps"]}
    assert so_ids and st_ids and not so_ids & st_ids
    assert so_ids | st_ids == {r.log_id for r in e2e.rows(nbr)}
    assert (so["stuck_at"], st["stuck_at"]) == ("skipped: unpaid", "skipped: order type")


# ---------------------------------------------------------------------------------------------- preview
def test_preview_shows_the_entity_the_writer_then_gets(e2e: E2E, cli: Any) -> None:
    # Given an unpaid order: the preview says why not, and what paying it changes
    nbr = e2e.acu.create_order()
    e2e.settle()
    before = _json(cli("--json", "preview", "SO", nbr))
    assert (before["outcome"], before["eligible"], before["payload"]) == ("skipped", False, None)
    paid = next(v for v in before["verdicts"] if v["condition"] == "paid")
    assert (paid["switched_on"], paid["holds"]) == (True, False) and "unpaid balance is 40.00" in paid["reason"]
    assert before["missing"] == []
    # When it is paid while the order sync stage's message to the writer is held back
    sent = e2e.captured_create(lambda: e2e.acu.record_payment(nbr))
    # Then the preview's entity is exactly the one the writer was sent
    preview = _json(cli("--json", "preview", nbr))
    assert (preview["outcome"], preview["eligible"]) == ("create", True)
    assert preview["payload"] == json.loads(json.dumps(loads(sent.payload_json), default=str))
    assert preview["payload"]["grand_total"] == "40.00" and preview["payload"]["ext_order_id"] == nbr
    # and once the writer gets it, Magento has that order
    e2e.runtime.functions["OrderSyncFunction"].modules[0].ports.forward(sent)
    e2e.settle()
    [order] = e2e.mag.orders_for(nbr)
    assert Decimal(str(order["grand_total"])) == Decimal(preview["payload"]["grand_total"])


def _world_counts(e2e: E2E) -> dict[str, Any]:
    ids = e2e.runtime.stack.physical_ids
    ddb = client("dynamodb")
    counts: dict[str, Any] = {}
    for name in ("BindingsTable", "ConnectorLogTable", "SettingsTable"):
        items = [i for page in ddb.get_paginator("scan").paginate(TableName=ids[name], ProjectionExpression="pk")
                 for i in page["Items"]]
        # the licence seat the preview holds for its reads is given back (its item deleted) before it ends
        counts[name] = len([i for i in items if not i["pk"]["S"].startswith("seat#")])
    counts["queues"] = {k: queues.depth(v) for k, v in e2e.world.endpoints()["aws"]["queues"].items()}
    counts["magento customers"] = e2e.mag.http.get("customers/search", params={
        "searchCriteria[pageSize]": "1"}).json()["total_count"]
    return counts


def test_preview_writes_nothing_even_when_the_sync_would_create_a_customer(e2e: E2E, cli: Any) -> None:
    # Given a B2B customer's order (eligible unpaid) whose customer is not in Magento, its pushes lost
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    try:
        nbr = e2e.acu.create_order(customer="BIGBOX", ship_via="UPSGROUND")
        e2e.world.acumatica.wait_push_idle(10)
    finally:
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    before = _world_counts(e2e)
    # When it is previewed, twice
    previews = [_json(cli("--json", "preview", "SO", nbr)) for _ in range(2)]
    # Then the plan says a customer would be created first, and the entity waits for its id
    p = previews[1]
    assert (p["outcome"], p["eligible"]) == ("create", True)
    assert p["effects"][0].startswith("create Magento customer orders@bigbox.example")
    assert p["payload"]["customer_id"] is None and p["payload"]["customer_is_guest"] == 0
    b2b = next(v for v in p["verdicts"] if v["condition"] == "B2B")
    assert b2b["holds"] and "class B2B" in b2b["reason"]
    # and nothing was written anywhere: no customer, binding, log row or message
    assert _world_counts(e2e) == before
    # When it is resynced, the sync acts on that plan: the customer is created, the order placed for it
    assert cli("resync", "order", nbr).exit_code == 0
    e2e.settle()
    [order] = e2e.mag.orders_for(nbr)
    customer = e2e.mag.http.get("customers/search", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "email",
        "searchCriteria[filter_groups][0][filters][0][value]": "orders@bigbox.example"}).json()["items"]
    assert [c["id"] for c in customer] == [order["customer_id"]] and order["customer_is_guest"] in (0, False)
    assert Decimal(str(order["grand_total"])) == Decimal(p["payload"]["grand_total"])
    assert [(i["sku"], Decimal(str(i["qty_ordered"]))) for i in order["items"]] == [
        (i["sku"], Decimal(i["qty_ordered"])) for i in p["payload"]["items"]]


def test_preview_lists_every_blocker(e2e: E2E, cli: Any) -> None:
    # Given an order with an unmapped Ship Via and a SKU Magento does not have
    assert e2e.settings.delete_mapping("shipvia", "WILLCALL#all")
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    try:
        e2e.acu.http.put(f"{e2e.acu.base}/StockItem", json=wrap({"InventoryID": "TEA42", "Description": "Tea",
                                                                   "DefaultPrice": 3.5})).raise_for_status()
        nbr = e2e.acu.create_order(customer="BIGBOX", ship_via="WILLCALL", lines=[("WATER2809", 1), ("TEA42", 1)])
        e2e.world.acumatica.wait_push_idle(10)
    finally:
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    # When
    p = _json(cli("--json", "preview", nbr))
    # Then both blockers are named, the Ship Via first (the Failure row a sync would write), and nothing else
    assert p["outcome"] == "failed" and p["payload"] is None and len(p["missing"]) == 2
    assert p["missing"][0].startswith("Ship Via 'WILLCALL' has no Magento shipping method")
    assert "SKU TEA42 is not in Magento" in p["missing"][1]
    assert p["effects"] == [f"log Failure: {p['missing'][0]}"]
    # cleanup: an order nobody will sync must not stand in the audit's range
    e2e.acu.http.put(f"{e2e.acu.base}/SalesOrder", json=wrap({"OrderType": "SO", "OrderNbr": nbr, "Hold": True}))
    e2e.settle()


# ---------------------------------------------------------------------------------------------- audit
def test_audit_of_a_day_in_step_finds_nothing(e2e: E2E, cli: Any) -> None:
    # Given every order of the day synced or not eligible (the seeded standing order of a customer with no Ship
    # Via is put on hold: it will not sync)
    e2e.acu.http.put(f"{e2e.acu.base}/SalesOrder", json=wrap({"OrderType": "SO", "OrderNbr": "SOT00023",
                                                              "Hold": True})).raise_for_status()
    e2e.paid_order()
    e2e.settle()
    # When the day is audited
    result = cli("--json", "audit", "--from", TODAY, "--to", TODAY)
    report = json.loads(result.output)
    # Then nothing differs, and the counts add up
    assert result.exit_code == 0, report["differences"]
    assert report["differences"] == []
    s = report["summary"]
    assert s["acumatica_orders"] >= 6 and s["eligible"] == s["bound"] == s["magento_orders"] >= 4
    assert s["differences"] == {} and s["acumatica_calls"] <= 10


def test_audit_finds_what_was_planted(e2e: E2E, cli: Any) -> None:
    # Given a synced order whose Magento total was changed
    changed, order = e2e.paid_order()
    with e2e.world.magento.state.lock:
        e2e.world.magento.state.orders[int(order["entity_id"])]["grand_total"] = 41.0
    # and a synced order whose confirmed shipment never reached Magento (its pushes were lost)
    unshipped, _ = e2e.paid_order()
    e2e.world.acumatica.set_push_faults(drop_rate=1.0)
    try:
        shipment = _ship(e2e, unshipped, "1ZLOST")
        e2e.world.acumatica.wait_push_idle(10)
    finally:
        e2e.world.acumatica.set_push_faults(drop_rate=0.0)
    # and a Magento order carrying a connector ext_order_id that names no Acumatica order
    entity = {k: v for k, v in order.items() if k not in ("entity_id", "increment_id", "items", "created_at",
                                                          "updated_at", "status_histories")}
    entity.update(ext_order_id="SOT99999", state="new", status="pending",
                  items=[{k: v for k, v in i.items() if k not in ("item_id", "order_id")} for i in order["items"]])
    planted = e2e.mag.http.put("orders/create", json={"entity": entity})
    planted.raise_for_status()
    # When the day is audited
    result = cli("--json", "audit", "--from", TODAY)
    report = json.loads(result.output)
    # Then exactly those three differ, and the exit code says so
    assert result.exit_code == 1
    found = {(d["order"], d["kind"], d["what"], d["acumatica"], d["magento"]) for d in report["differences"]}
    assert found == {
        (f"SO/{changed}", "totals", "grand total", "40.00", "41.00"),
        (f"SO/{unshipped}", "shipments", f"shipment {shipment}", "Confirmed, qty 2, tracking 1ZLOST",
         "not in Magento"),
        ("SO/SOT99999", "extra", "Magento order without an Acumatica order", "no such order",
         f"#{planted.json()['increment_id']} (entity {planted.json()['entity_id']}, new)")}
    assert report["summary"]["differences"] == {"extra": 1, "totals": 1, "shipments": 1}
    assert val(e2e.acu.order(unshipped, "Shipments"), "Status") != "Open"


# ---------------------------------------------------------------------------------------------- 80 columns
def test_every_grid_reads_in_80_columns_and_wide_shows_all(e2e: E2E, cli: Any) -> None:
    # Given a world with orders, rows and differences (the tests above)
    synced = next(r.notes for r in e2e.log.newest(Side.MAGENTO, limit=100) if r.action and r.action.value == "Create")
    commands = [("logs",), ("logs", "--side", "acumatica"), ("logs", "--entity", synced), ("dlq", "list"),
                ("mappings", "ship-via", "list"), ("mappings", "order-status", "list"), ("mappings", "payment",
                                                                                         "list"),
                ("status",), ("timeline", synced), ("audit", "--from", TODAY), ("preview", synced),
                ("mappings", "update-schema")]
    for args in commands:
        # When each runs in an 80-column terminal
        out = cli(*args, columns=80).output
        # Then no line is wider
        lines = out.splitlines()
        assert lines and max(len(line) for line in lines) <= 80, (args, out)
    # and the log grid keeps its key columns whole: headers on one line, every Log Id's 19 digits unbroken
    grid = cli("logs", "--entity", synced, columns=80).output
    header = next(line for line in grid.splitlines() if "Log Id" in line)
    assert all(name in header for name in ("Log Id", "Result", "Notes", "Message"))
    assert {r.log_id for r in e2e.rows(synced)} <= set(re.findall(r"\b\d{19}\b", grid))
    assert "Sync Direction" not in header and "Acumatica to Magento" not in grid and "--wide shows all" in grid
    # and the commands that print several tables print one JSON document with --json
    assert set(_json(cli("--json", "status"))) >= {"queues", "reconciliation", "failures_today"}
    schema = json.loads(cli("--json", "mappings", "update-schema").output)
    assert {r["Acumatica Ship Via"] for r in schema["ship_vias"]} >= {"LOCAL"} and schema["carriers"]
    # and --wide shows every column
    wide = cli("--wide", "logs", "--entity", synced, columns=80).output
    assert "Sync Direction" in wide and "Complete Time" in wide and "Acumatica to Magento" in wide
