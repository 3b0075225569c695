"""The connector log table serves the access patterns an ops person needs (against moto, table from the template)."""

from __future__ import annotations

import json
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from amsync.config import Settings
from amsync.data import connector_log
from amsync.data.aws import table
from amsync.data.connector_log import ConnectorLog
from amsync.models.log import Action, Group, LogEntry, Result, Side, log_id_time
from amsync_cli.context import StackContext


def _log(rt: Any) -> ConnectorLog:
    return ConnectorLog(rt.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"], ttl_days=1)


def test_newest_first_one_entitys_timeline_failures_of_a_day_and_one_entry_by_id(bare_runtime: Any) -> None:
    # Given rows for two orders, one of them failed
    log = _log(bare_runtime)
    rows = [LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=r, notes=n, entity_key=n,
                     message=f"{n} {r.value}") for n, r in (("SOTLOG1", Result.SUCCESS), ("SOTLOG2", Result.FAILURE),
                                                         ("SOTLOG1", Result.SUCCESS))]
    for r in rows:
        log.write(r)
    # Then newest first, per entity, failures by day, and by id all answer
    newest = [e.log_id for e in log.newest(Side.MAGENTO, limit=3)]
    assert newest == sorted(newest, reverse=True) and newest[0] == rows[-1].log_id
    assert [e.message for e in log.timeline("SOTLOG1")] == ["SOTLOG1 Success", "SOTLOG1 Success"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert [e.notes for e in log.failures(today) if e.notes.startswith("SOTLOG")] == ["SOTLOG2"]
    got = log.get(rows[1].log_id, Side.MAGENTO)
    assert got is not None and got.result == Result.FAILURE and got.message == "SOTLOG2 Failure"


def test_the_indexes_hold_the_grid_columns_not_the_details_which_timeline_and_failures_read_from_the_rows(
        bare_runtime: Any) -> None:
    # Given a failed create whose View details are a request and a response
    log = _log(bare_runtime)
    details = {"request": {"sku": "IDX-1", "qty": 2}, "response": {"message": "The quantity is not valid."}}
    entry = log.write(LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.FAILURE,
                               notes="SOTIDX", entity_key="SOTIDX", entity_id="SOTIDX", message="SOTIDX Failure",
                               correlation_id="corr-idx", details=details))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    name = bare_runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"]
    ddb = bare_runtime.boto("dynamodb")
    # Then neither index carries the details, each carries every grid column the row has
    for index, key, value in ((connector_log.ENTITY_INDEX, "entity_key", "SOTIDX"),
                              (connector_log.FAILURES_INDEX, "failure_day", today)):
        items = ddb.query(TableName=name, IndexName=index, KeyConditionExpression="#k = :v",
                          ExpressionAttributeNames={"#k": key},
                          ExpressionAttributeValues={":v": {"S": value}})["Items"]
        [item] = [i for i in items if i["sk"]["S"] == entry.log_id]
        assert "details" not in item, index
        assert set(item) == {"pk", "sk", "side", "start_time", "group", "action", "direction", "result",
                             "entity_id", "entity_key", "notes", "summary", "expires_at", key}, index
    # And the timeline and the day's failures still give the details (read from the rows by key)
    [row] = log.timeline("SOTIDX")
    assert row.details == details and row.correlation_id == "corr-idx" and row.message == "SOTIDX Failure"
    [failed] = [e for e in log.failures(today) if e.notes == "SOTIDX"]
    assert failed.details == details
    # while a grid page through the index is served from the index alone, without details
    page = log.page(connector_log.LogQuery(entity="SOTIDX"))
    assert [(e.log_id, e.details, e.message) for e in page.entries] == [(entry.log_id, {}, "SOTIDX Failure")]


def test_view_details_too_large_for_one_item_are_kept_beside_it_whole(bare_runtime: Any) -> None:
    # Given an entry whose request/response is far over DynamoDB's 400 KB item limit
    log = _log(bare_runtime)
    big = {"request": {"lines": [{"sku": f"SKU{i:05d}", "text": "x" * 100} for i in range(6000)]}}
    entry = log.write(LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.SUCCESS,
                               notes="SOTBIG", entity_key="SOTBIG", details=big))
    # Then reading it by Log Id gives the details back whole, and listings are not cluttered by the chunks
    got = log.get(entry.log_id, Side.MAGENTO)
    assert got is not None and got.details == big
    assert [e.notes for e in log.timeline("SOTBIG")] == ["SOTBIG"]


def test_secrets_are_removed_from_view_details(bare_runtime: Any) -> None:
    log = _log(bare_runtime)
    entry = log.write(LogEntry(side=Side.MAGENTO, notes="SOTSEC", entity_key="SOTSEC",
                               details={"request": {"headers": {"Authorization": "Bearer abc", "X-AMSync-Key": "k"},
                                                    "password": "p", "body": {"sku": "A"}}}))
    got = log.get(entry.log_id, Side.MAGENTO)
    assert got is not None
    headers = got.details["request"]["headers"]
    assert headers == {"Authorization": "***", "X-AMSync-Key": "***"} and got.details["request"]["password"] == "***"
    assert got.details["request"]["body"] == {"sku": "A"}


PERSONAL = {"request": {"entity": {"ext_order_id": "SOTPII", "customer_email": "jane.doe@example.com",
                                   "billing_address": {"firstname": "Jane", "lastname": "Doe",
                                                       "street": ["1 Main St"], "city": "Springfield",
                                                       "postcode": "62704", "telephone": "+1 555 010 2030"}}},
            "response": {"message": "Invalid email address 'jane@@example'"}}
LEAKS = ("jane.doe@", "jane@@", "Jane", "Doe", "1 Main St", "Springfield", "62704", "555 010 2030")


def _personal_entry(notes: str) -> LogEntry:
    return LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.FAILURE, notes=notes,
                    entity_key=notes, message="Magento refused the order: Invalid email address 'jane@@example'",
                    details=PERSONAL)


def _count_calls(name: str) -> list[str]:
    """The DynamoDB operations the connector's own client sends to table ``name`` from now on."""
    calls: list[str] = []
    events = table(name).meta.client.meta.events
    events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name), unique_id="count-calls")
    return calls


def _stop_counting(name: str) -> None:
    table(name).meta.client.meta.events.unregister("before-call.dynamodb", unique_id="count-calls")


def test_personal_details_are_kept_beside_the_row_for_less_time_written_in_the_same_request(
        bare_runtime: Any) -> None:
    # Given the row TTL of 30 days and the details' of 14
    name = bare_runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"]
    log = ConnectorLog(name, 30, 14)
    calls = _count_calls(name)
    try:
        # When an entry with personal data is written, and one without
        entry = log.write(_personal_entry("SOTPII"))
        personal_calls = list(calls)
        calls.clear()
        log.write(LogEntry(side=Side.MAGENTO, notes="SOTPLAIN", entity_key="SOTPLAIN", details={"sku": "A"}))
        plain_calls = list(calls)
    finally:
        _stop_counting(name)
    # Then each costs one request, as before (the row and its details go in one BatchWriteItem)
    assert personal_calls == ["BatchWriteItem"] and plain_calls == ["PutItem"]
    # and the listings show the row's summary: business fields kept, personal data masked, in details and message
    [row] = log.timeline("SOTPII")
    listed = row.model_dump_json()
    assert all(leak not in listed for leak in LEAKS), listed
    assert row.details["request"]["entity"]["ext_order_id"] == "SOTPII"
    # while `logs show` gives the whole details and message
    view = log.view(entry.log_id, Side.MAGENTO)
    assert view is not None and view.details_expired_after_days is None
    assert view.entry.details == PERSONAL and view.entry.message == entry.message
    # and the details item expires 14 days from now, the row 30
    dynamodb = bare_runtime.boto("dynamodb")
    [detail] = dynamodb.query(TableName=name, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": f"details#{entry.log_id}"}})["Items"]
    stored_row = dynamodb.get_item(TableName=name, Key={"pk": {"S": f"M#{log_id_time(entry.log_id):%Y-%m-%d}"},
                                                        "sk": {"S": entry.log_id}})["Item"]
    now = time.time()
    assert abs(int(detail["expires_at"]["N"]) - (now + 14 * 86400)) < 120
    assert abs(int(stored_row["expires_at"]["N"]) - (now + 30 * 86400)) < 120
    assert all(leak not in _text(stored_row) for leak in LEAKS) and "SOTPII" in _text(stored_row)
    assert all(leak in _text(detail) for leak in LEAKS)


def _text(item: dict[str, Any]) -> str:
    """A stored item (wire format) as text, its compressed attributes (``<name>_z``) decompressed."""
    return json.dumps({k: zlib.decompress(v["B"]).decode() if k.endswith("_z") else v for k, v in item.items()})


def test_once_the_details_expired_show_gives_the_masked_summary_even_before_ttl_deleted_them(
        bare_runtime: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given an entry written 20 days ago: its details expired 6 days ago, its row lives 10 more days, and TTL has
    # not deleted the details item yet (it deletes lazily, days late)
    env = bare_runtime.functions["OrderSyncFunction"].env
    log = ConnectorLog(env["CONNECTOR_LOG_TABLE"], 30, 14)
    written = time.time() - 20 * 86400
    monkeypatch.setattr(connector_log, "time", SimpleNamespace(time=lambda: written))
    entry = log.write(_personal_entry("SOTOLD"))
    monkeypatch.undo()
    dynamodb = bare_runtime.boto("dynamodb")
    still_there = dynamodb.query(TableName=env["CONNECTOR_LOG_TABLE"], KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": {"S": f"details#{entry.log_id}"}})["Items"]
    assert still_there
    # When it is read by Log Id
    view = log.view(entry.log_id, Side.MAGENTO)
    # Then the read filters the expired details out itself: the row's masked summary, and why
    assert view is not None and view.details_expired_after_days == 14
    shown = view.entry.model_dump_json()
    assert all(leak not in shown for leak in LEAKS), shown
    assert view.entry.details["request"]["entity"]["ext_order_id"] == "SOTPII" and view.entry.notes == "SOTOLD"
    # and `amsync logs show` says so
    from amsync_cli import main

    main._state.clear()
    main._state["ctx"] = StackContext("bare", "us-east-1", {}, Settings.from_env(env), None, None)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main.app, ["logs", "show", entry.log_id], catch_exceptions=False)
    main._state.clear()
    assert res.exit_code == 0, res.output
    assert "details expired after 14 days" in " ".join(res.stderr.split())
    assert all(leak not in res.stdout for leak in LEAKS) and '"ext_order_id": "SOTPII"' in res.stdout


def test_a_raw_push_with_personal_data_keeps_only_its_head_on_the_row_and_the_whole_post_beside(
        bare_runtime: Any) -> None:
    # Given a raw push whose post names a customer's e-mail, longer than a listing shows
    log = _log(bare_runtime)
    post = json.dumps({"Inserted": [{"OrderID": f"SOTRAW{n}", "Email": "ap@altaace.com", "Status": "Open"}
                                    for n in range(10)], "Query": "AMSync-SalesOrders", "Id": "raw-head"})
    entry = LogEntry(side=Side.ACUMATICA, level="INFO", action_type="Order Sync", message=post,
                     entity_key="SOTRAWHEAD")
    log.write(entry)
    # Then the row (what listings and the by-entity index hold) keeps a masked head only
    [row] = log.timeline("SOTRAWHEAD")
    assert len(row.message) == connector_log.RAW_ROW_HEAD + 3 and row.message.endswith("...")
    assert "ap@altaace.com" not in row.message and post.startswith(row.message[:20])
    # and the View gives the whole post back
    view = log.view(entry.log_id, Side.ACUMATICA)
    assert view is not None and view.entry.message == post


def _index_items(rt: Any, index: str, key: str, value: str) -> list[dict[str, Any]]:
    return rt.boto("dynamodb").query(
        TableName=rt.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"], IndexName=index,
        KeyConditionExpression="#k = :v", ExpressionAttributeNames={"#k": key},
        ExpressionAttributeValues={":v": {"S": value}})["Items"]


def test_rows_and_index_entries_stay_within_one_write_unit_the_message_whole_in_the_row(bare_runtime: Any) -> None:
    from amsync_local.metering import item_size

    # Given a raw push of 2,000 characters (nothing personal in it) and a failed create with a long message and
    # the request and response of a 10-line order as its details (about 6 KB of JSON)
    log = _log(bare_runtime)
    post = json.dumps({"Inserted": [{"OrderNbr": "SOTKB", "OrderType": "SO", "Status": "Open", "Line": n,
                                     "InventoryID": f"SKU{n:04d}", "Qty": n} for n in range(40)]})[:2000]
    raw = log.write(LogEntry(side=Side.ACUMATICA, action_type="Order Sync", message=post, entity_key="SOTKB",
                             correlation_id="SO/SOTKB"))
    lines = [{"sku": f"SKU{n:04d}", "name": f"Bottled water {n}", "qty_ordered": n + 1, "price": f"{n}.50",
              "row_total": f"{n * 2}.00", "tax_amount": "0.00", "product_type": "simple"} for n in range(10)]
    message = "Magento refused the order: " + "The requested qty is not available. " * 40
    failed = log.write(LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.FAILURE,
                                notes="SOTKB", entity_key="SOTKB", message=message, correlation_id="SO/SOTKB",
                                details={"request": {"entity": {"ext_order_id": "SO/SOTKB", "items": lines}},
                                         "response": {"message": message, "parameters": lines}}))
    assert len(json.dumps(failed.details)) > 4000
    # Then each row is one write unit (the long texts compressed), and so is each index entry (the summary only)
    ddb = bare_runtime.boto("dynamodb")
    name = bare_runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"]
    for e in (raw, failed):
        stored = ddb.get_item(TableName=name, Key={"pk": {"S": f"{e.side.value}#{log_id_time(e.log_id):%Y-%m-%d}"},
                                                   "sk": {"S": e.log_id}})["Item"]
        assert item_size(stored) <= 1024, (e.side, item_size(stored))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    entries = _index_items(bare_runtime, connector_log.ENTITY_INDEX, "entity_key", "SOTKB") + \
        [i for i in _index_items(bare_runtime, connector_log.FAILURES_INDEX, "failure_day", today)
         if i["sk"]["S"] == failed.log_id]
    assert len(entries) == 3 and all(item_size(i) <= 1024 for i in entries)
    assert {i["summary"]["S"] for i in entries} == {post[:connector_log.SUMMARY_CHARS],
                                                   message[:connector_log.SUMMARY_CHARS]}
    # And the readers give back what was written: whole in the timeline and by Log Id, the summary in a grid page
    assert {(e.log_id, e.message) for e in log.timeline("SOTKB")} == {(raw.log_id, post), (failed.log_id, message)}
    got = log.get(failed.log_id, Side.MAGENTO)
    assert got is not None and got.details == failed.details and got.message == message
    page = log.page(connector_log.LogQuery(side=Side.ACUMATICA, entity="SOTKB"))
    assert [(e.log_id, e.message) for e in page.entries] == [(raw.log_id, post[:connector_log.SUMMARY_CHARS])]
    grid = log.page(connector_log.LogQuery(side=Side.ACUMATICA))
    assert [e.message for e in grid.entries if e.log_id == raw.log_id] == [post[:connector_log.SUMMARY_CHARS]]
    # and what is not stored because it is the entry's default reads back as it was
    [raw_back] = [e for e in log.timeline("SOTKB") if e.side is Side.ACUMATICA]
    assert raw_back.model_dump() == raw.model_dump()


def test_rows_written_before_the_summary_are_still_read_whole(bare_runtime: Any) -> None:
    # Given a row and its details beside as the connector wrote them before (the whole message in ``message``,
    # details and chunks as text) and its entry in the index (DynamoDB backfills a new index from the table)
    name = bare_runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"]
    entry = LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.FAILURE,
                     notes="SOTOLDFMT", entity_key="SOTOLDFMT", message="Magento refused the order: " + "x" * 300)
    expires = int(time.time()) + 86400
    ddb = bare_runtime.boto("dynamodb")
    ddb.put_item(TableName=name, Item={
        "pk": {"S": f"M#{log_id_time(entry.log_id):%Y-%m-%d}"}, "sk": {"S": entry.log_id}, "side": {"S": "M"},
        "start_time": {"S": entry.start_time.isoformat()}, "direction": {"S": entry.direction},
        "notes": {"S": entry.notes}, "message": {"S": entry.message}, "level": {"S": "INFO"},
        "action_type": {"S": ""}, "correlation_id": {"S": ""}, "details": {"S": "{}"},
        "expires_at": {"N": str(expires)}, "group": {"S": "Order"}, "action": {"S": "Create"},
        "result": {"S": "Failure"}, "entity_key": {"S": entry.entity_key},
        "failure_day": {"S": f"{entry.start_time:%Y-%m-%d}"}, "details_beside": {"N": "1"},
        "details_expires_at": {"N": str(expires)}, "details_ttl_days": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": f"details#{entry.log_id}"}, "sk": {"S": "0000"},
                                       "chunk": {"S": json.dumps({"details": {"sku": "OLD"}})},
                                       "expires_at": {"N": str(expires)}})
    log = _log(bare_runtime)
    # Then the timeline, the View and a grid page through the index (which holds no message for it) all show it
    [row] = log.timeline("SOTOLDFMT")
    assert row.message == entry.message and row.level == "INFO"
    view = log.view(entry.log_id, Side.MAGENTO)
    assert view is not None and view.entry.details == {"sku": "OLD"} and view.entry.message == entry.message
    page = log.page(connector_log.LogQuery(entity="SOTOLDFMT"))
    assert [e.message for e in page.entries] == [entry.message[:connector_log.SUMMARY_CHARS]]
