"""`amsync console` against the local AWS (moto, tables and queues from template.yaml): the grid pages by index and
never scans, View details show nothing secret or personal, every change needs the CSRF token and read-only refuses
it, forms re-render with the error and save nothing, DLQ replay and resync wait for a confirmation, the status page.
(The browser drives the whole local world in tests/e2e/test_console_browser.py.)"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from amsync.config import Settings
from amsync.data import connector_log, queues
from amsync.data.aws import table
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog, LogQuery
from amsync.data.settings_store import MAPPINGS, SettingsStore, mapping_sort_key
from amsync.models.log import DIRECTION_A2M, DIRECTION_M2A, Action, Group, LogEntry, Result, Side
from amsync.models.messages import Kind, SyncRequest
from amsync_cli.console.app import create_app
from amsync_cli.context import StackContext
from amsync_local.seed import seed_connector_settings

BASE = "http://127.0.0.1:8400"


@pytest.fixture(scope="module")
def stack(bare_runtime: Any) -> StackContext:
    env = bare_runtime.functions["OrderSyncFunction"].env
    assert bare_runtime.stack is not None
    seed_connector_settings(env["SETTINGS_TABLE"])  # the walkthrough's mappings (LOCAL -> Free Shipping ...)
    return StackContext(bare_runtime.stack_name, "us-east-1", dict(bare_runtime.stack.physical_ids),
                        Settings.from_env(env), bare_runtime.endpoint_url,
                        boto3.session.Session(region_name="us-east-1"))


def _client(stack: StackContext, read_only: bool = False) -> tuple[TestClient, str]:
    app = create_app(stack, read_only=read_only)
    return TestClient(app, base_url=BASE, follow_redirects=False), app.state.console.csrf_token


@pytest.fixture(scope="module")
def web(stack: StackContext) -> Iterator[tuple[TestClient, str]]:
    client, token = _client(stack)
    with client:
        yield client, token


def _count_calls(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(operation, request as sent) of every DynamoDB request the connector's client sends from now on."""
    calls: list[tuple[str, dict[str, Any]]] = []
    events = table(name).meta.client.meta.events
    events.register("before-call.dynamodb", lambda model, params, **_: calls.append(
        (model.name, json.loads(params["body"]))), unique_id="console-calls")
    return calls


def _stop_counting(name: str) -> None:
    table(name).meta.client.meta.events.unregister("before-call.dynamodb", unique_id="console-calls")


def _log_ids(html: str) -> list[str]:
    return re.findall(r'href="/logs/[AM]/(\d{19})"', html)


def _older(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" id="older">', html)
    return m.group(1).replace("&amp;", "&") if m else None


# ------------------------------------------------------------------ the grid

WINDOW_END = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _history(log: ConnectorLog) -> list[LogEntry]:
    """175 Magento-side rows and 5 Acumatica-side ones over the 30 hours before WINDOW_END (two day partitions at
    least): orders, inventory, a customer M->A, failures, skips."""
    rows: list[LogEntry] = []
    for n in range(180):
        at = WINDOW_END - timedelta(minutes=10 * n)
        log_id = f"{int(at.timestamp() * 1_000_000):016d}{n % 1000:03d}"
        if n % 36 == 5:
            rows.append(LogEntry(side=Side.ACUMATICA, log_id=log_id, start_time=at, action_type="Order Sync",
                                 message=f"push {n}", entity_key=f"SOTG{n:03d}"))
            continue
        # customers only among the oldest rows: a rare filter, whatever the time of day the day partitions split at
        group = Group.INVENTORY if n % 7 == 0 else (Group.CUSTOMER if n % 11 == 0 and n >= 140 else Group.ORDER)
        result = Result.FAILURE if n % 10 == 3 else (Result.SKIPPED if n % 10 == 6 else Result.SUCCESS)
        action = Action.SKIP if result is Result.SKIPPED else (Action.PUBLISHER if n % 2 else Action.CREATE)
        key = "WATERG" if group is Group.INVENTORY else f"SOTG{n % 9:03d}"
        rows.append(LogEntry(side=Side.MAGENTO, log_id=log_id, start_time=at, complete_time=at, group=group,
                             action=action, result=result, notes=key, entity_key=key, entity_id=str(1000 + n),
                             direction=DIRECTION_M2A if group is Group.CUSTOMER else DIRECTION_A2M,
                             message=f"row {n}"))
    log.write_many(rows)
    return rows


@pytest.fixture(scope="module")
def history(stack: StackContext) -> list[LogEntry]:
    return _history(ConnectorLog(stack.settings.connector_log_table))


def _walk(client: TestClient, first: str) -> tuple[list[str], int]:
    """Every Log Id the grid lists from ``first`` on, following Older; and how many pages that took."""
    seen: list[str] = []
    url: str | None = first
    pages = 0
    while url:
        res = client.get(url)
        assert res.status_code == 200, res.text[-500:]
        seen += _log_ids(res.text)
        url = _older(res.text)
        pages += 1
        assert pages < 50
    return seen, pages


def _window(**filters: str) -> str:
    since = (WINDOW_END - timedelta(hours=40)).strftime("%Y-%m-%dT%H:%M:%S")
    until = WINDOW_END.strftime("%Y-%m-%dT%H:%M:%S")
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return f"/logs?since={since}&until={until}" + (f"&{query}" if query else "")


def test_the_grid_pages_newest_first_by_index_never_scanning(web: tuple[TestClient, str], stack: StackContext,
                                                            history: list[LogEntry]) -> None:
    client, _ = web
    name = stack.settings.connector_log_table
    magento = sorted((e.log_id for e in history if e.side is Side.MAGENTO), reverse=True)
    calls = _count_calls(name)
    try:
        # When the whole time range is paged through (50 a page)
        listed, pages = _walk(client, _window())
        by_page = list(calls)
        calls.clear()
        # and a filter per grid column, and the entity filter, are applied
        failures, _ = _walk(client, _window(result="Failure"))
        failure_calls = list(calls)
        calls.clear()
        entity, _ = _walk(client, _window(entity="SOTG004"))
        entity_calls = list(calls)
        calls.clear()
        inventory, _ = _walk(client, _window(group="Inventory", action="Create"))
        customers, _ = _walk(client, _window(direction="Magento to Acumatica"))
        skipped, _ = _walk(client, _window(result="Skipped", group="Order"))
        pushes, _ = _walk(client, _window(side="acumatica"))
        other_calls = list(calls)
    finally:
        _stop_counting(name)
    # Then every row shows once, newest first, in pages of 50
    assert listed == magento and pages == 4
    # and each filter gives exactly its rows
    def want(keep: Any, side: Side = Side.MAGENTO) -> list[str]:
        return sorted((e.log_id for e in history if e.side is side and keep(e)), reverse=True)
    assert failures == want(lambda e: e.result is Result.FAILURE) and failures
    assert entity == want(lambda e: e.entity_key == "SOTG004") and entity
    assert inventory == want(lambda e: e.group is Group.INVENTORY and e.action is Action.CREATE) and inventory
    assert customers == want(lambda e: e.direction == DIRECTION_M2A) and customers
    assert skipped == want(lambda e: e.result is Result.SKIPPED and e.group is Group.ORDER) and skipped
    assert pushes == want(lambda e: True, Side.ACUMATICA) and len(pushes) == 5
    # and not one request scanned the table: day partitions, the failures index, the entity index, bounded reads
    every = by_page + failure_calls + entity_calls + other_calls
    assert {op for op, _ in every} == {"Query"}
    assert all(p["Limit"] <= 1000 and "details" not in p["ExpressionAttributeNames"].values() for _, p in every)
    assert all("IndexName" not in p for _, p in by_page)
    assert {p.get("IndexName") for _, p in failure_calls} == {"failures-by-day-v3"}
    assert {p.get("IndexName") for _, p in entity_calls} == {"by-entity-v3"}


def test_a_rare_filter_stops_at_its_read_budget_and_goes_on_from_its_cursor(stack: StackContext,
                                                                           history: list[LogEntry]) -> None:
    # Given a filter that matches only the oldest rows, and a budget of two small reads a page
    log = ConnectorLog(stack.settings.connector_log_table)
    q = LogQuery(side=Side.MAGENTO, group="Customer", start=WINDOW_END - timedelta(hours=40), end=WINDOW_END)
    expected = sorted((e.log_id for e in history if e.group is Group.CUSTOMER), reverse=True)
    # When it is paged through
    got: list[str] = []
    cursor: str | None = None
    short_pages = 0
    for _ in range(200):
        page = log.page(q, size=3, cursor=cursor, max_reads=2)
        assert page.reads <= 2
        got += [e.log_id for e in page.entries]
        short_pages += page.stopped_at is not None
        cursor = page.cursor
        if cursor is None:
            break
    # Then pages stopped short for their budget, and the cursors still gave every row once, in order
    assert short_pages > 0 and got == expected


def test_the_grid_says_what_is_wrong_with_a_filter_and_reads_nothing(web: tuple[TestClient, str]) -> None:
    client, _ = web
    for query, message in (("result=Maybe", "result: &#39;Maybe&#39; is not one of"),
                           ("since=yesterday", "since: &#39;yesterday&#39; is neither a time"),
                           ("cursor=AAAA", "cursor: not a cursor"), ("side=both", "side: magento or acumatica")):
        res = client.get(f"/logs?{query}")
        assert res.status_code == 400 and message in res.text, (query, res.text[-800:])


# ------------------------------------------------------------------ View details

LEAKS = ("jane.doe@", "Jane", "Doe", "1 Main St", "Springfield", "62704", "555 010 2030", "Bearer abc", "s3cr3t")
DETAILS = {"request": {"headers": {"Authorization": "Bearer abc"}, "password": "s3cr3t",
                       "entity": {"ext_order_id": "SOTVIEW", "customer_email": "jane.doe@example.com",
                                  "billing_address": {"firstname": "Jane", "lastname": "Doe", "street": ["1 Main St"],
                                                      "city": "Springfield", "postcode": "62704",
                                                      "telephone": "+1 555 010 2030"}}},
           "response": {"entity_id": 1093, "increment_id": "000000995"}}


def _entry(notes: str) -> LogEntry:
    return LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.SUCCESS, notes=notes,
                    entity_key=notes, entity_id="1093", message="created for jane.doe@example.com", details=DETAILS)


def test_view_details_show_request_and_response_with_secrets_and_personal_data_masked(
        web: tuple[TestClient, str], stack: StackContext) -> None:
    client, _ = web
    # Given an entry whose details hold an authorization header, a password and a customer's personal data
    entry = ConnectorLog(stack.settings.connector_log_table).write(_entry("SOTVIEW"))
    # When its View details are opened
    res = client.get(f"/logs/M/{entry.log_id}")
    shown = html.unescape(res.text)
    # Then request and response show, nothing secret or personal does
    assert res.status_code == 200
    assert '"ext_order_id": "SOTVIEW"' in shown and '"increment_id": "000000995"' in shown
    assert 'data-part="request"' in shown and 'data-part="response"' in shown
    assert all(leak not in shown for leak in LEAKS), [leak for leak in LEAKS if leak in shown]
    assert "j***@example.com" in shown and "Details expired" not in shown
    # and an id that is not there is a 404, a malformed one too
    assert client.get("/logs/M/1234567890123456789").status_code == 404
    assert client.get("/logs/X/abc").status_code == 404


def test_view_details_say_when_they_expired_and_show_the_masked_summary(
        web: tuple[TestClient, str], stack: StackContext, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = web
    # Given an entry written 20 days ago with details kept 14 days (not yet deleted by TTL)
    log = ConnectorLog(stack.settings.connector_log_table, 30, 14)
    written = time.time() - 20 * 86400
    monkeypatch.setattr(connector_log, "time", SimpleNamespace(time=lambda: written))
    entry = log.write(_entry("SOTOLDVIEW"))
    monkeypatch.undo()
    # When it is opened
    res = client.get(f"/logs/M/{entry.log_id}")
    shown = html.unescape(res.text)
    # Then the page says the details expired, and shows the row's summary, masked
    assert res.status_code == 200 and "Details expired after 14 days" in shown
    assert '"ext_order_id": "SOTVIEW"' in shown
    assert all(leak not in shown for leak in LEAKS)


# ------------------------------------------------------------------ changes: CSRF, read-only, validation


def _ship_via_form(**extra: str) -> dict[str, str]:
    return {"ship_via": "CSRFTEST", "store_view": "", "carrier_code": "flatrate", "method_code": "flatrate",
            "title": "Flat Rate - Fixed", "tracking_carrier_code": "", **extra}


def _post_routes(stack: StackContext) -> list[str]:
    app = create_app(stack)
    paths = [r.path for r in app.routes if isinstance(r, Route) and r.methods and "POST" in r.methods]
    fill = {"{kind}": "shipvia", "{name}": "order-sync"}
    return [re.sub(r"\{\w+\}", lambda m: fill[m.group(0)], p) for p in paths]


def test_every_change_without_the_csrf_token_is_refused_with_403_and_changes_nothing(
        web: tuple[TestClient, str], stack: StackContext) -> None:
    client, token = web
    store = SettingsStore(stack.settings.settings_table)
    posts = _post_routes(stack)
    assert {"/mappings/shipvia", "/mappings/shipvia/delete", "/preferences/order-sync", "/dlq/replay",
            "/resync"} <= set(posts)
    form = {**_ship_via_form(), "key": "LOCAL#all", "queue": "OrderDLQ", "kind": "order",
            "confirmed": "yes", "sync_if_paid": "false"}
    # When each state-changing request comes without the token, or with another one
    for path in posts:
        for sent in ({}, {"csrf_token": "forged"}):
            res = client.post(path, data={**form, **sent})
            # Then it is refused
            assert res.status_code == 403 and "CSRF token" in res.text, (path, sent, res.status_code)
    assert client.post("/mappings/shipvia", data=form, headers={"X-CSRF-Token": "forged"}).status_code == 403
    # and nothing changed
    assert store.ship_via("CSRFTEST", "all", fresh=True) is None
    assert store.ship_via("LOCAL", "all", fresh=True) is not None
    assert store.order_sync(fresh=True).sync_if_paid is True
    # while the same request with the token (form field or htmx's header) is done
    assert client.post("/mappings/shipvia", data={**_ship_via_form(), "csrf_token": token}).status_code == 303
    assert store.ship_via("CSRFTEST", "all", fresh=True) is not None
    done = client.post("/mappings/shipvia/delete", data={"key": "CSRFTEST#all", "confirmed": "yes"},
                       headers={"X-CSRF-Token": token})
    assert done.status_code == 303 and store.ship_via("CSRFTEST", "all", fresh=True) is None


def test_read_only_refuses_every_change_and_offers_none(stack: StackContext) -> None:
    client, token = _client(stack, read_only=True)
    store = SettingsStore(stack.settings.settings_table)
    with client:
        for path in _post_routes(stack):
            res = client.post(path, data={**_ship_via_form(), "key": "LOCAL#all", "queue": "OrderDLQ", "kind": "order",
                                          "confirmed": "yes", "csrf_token": token})
            assert res.status_code == 403 and "--read-only" in res.text, path
        page = client.get("/mappings")
        assert page.status_code == 200 and 'id="read-only"' in page.text and "LOCAL#all" in page.text
        assert "<form" not in page.text and "Remove" not in page.text
        for path in ("/preferences", "/dlq"):
            assert 'method="post"' not in client.get(path).text, path
    assert store.ship_via("CSRFTEST", "all", fresh=True) is None
    assert store.ship_via("LOCAL", "all", fresh=True) is not None


VALID = {"shipvia": {"ship_via": "FORMTEST", "store_view": "default", "carrier_code": "flatrate",
                     "method_code": "flatrate", "title": "Flat Rate - Fixed", "tracking_carrier_code": "ups"},
         "payment": {"acumatica_method": "FORMTEST", "magento_method": "purchaseorder"},
         "orderstatus": {"acumatica_status": "FORMTEST", "store_view": "", "magento_status": "",
                         "action": "hold", "comment": "on hold in Acumatica"},
         "warehouse": {"warehouse_id": "FORMTEST", "source_code": "formtest_source"},
         "customerclass": {"magento_group_id": "4", "magento_website_id": "", "customer_class": "FORMTEST"},
         "product": {"inventory_id": "FORMTEST", "uom": "CASE", "magento_sku": "", "qty_factor": "12",
                     "kind": "simple", "parent_sku": "", "components": ""},
         "store": {"branch": "FORMTEST", "order_type": "", "customer_class": "", "website_id": "2", "store_id": "2",
                   "store_view": "formtest", "base_currency": "", "allowed_currencies": ""}}
INVALID = {"shipvia": ("title", {**VALID["shipvia"], "title": ""}, "Field required"),
           "payment": ("magento_method", {"acumatica_method": "FORMTEST"}, "Field required"),
           "orderstatus": ("action", {**VALID["orderstatus"], "action": "explode"}, "Input should be"),
           "warehouse": ("source_code", {"warehouse_id": "FORMTEST", "source_code": " "}, "Field required"),
           "customerclass": ("magento_group_id", {**VALID["customerclass"], "magento_group_id": "four"},
                             "valid integer"),
           "product": ("qty_factor", {**VALID["product"], "qty_factor": "0"}, "greater than 0"),
           "store": ("store_view", {**VALID["store"], "store_view": "9 views"}, "String should match pattern")}


@pytest.mark.parametrize("kind", sorted(MAPPINGS))
def test_each_mapping_kind_is_edited_with_validation_a_bad_value_saves_nothing(
        web: tuple[TestClient, str], stack: StackContext, kind: str) -> None:
    client, token = web
    store = SettingsStore(stack.settings.settings_table)
    before = [m.model_dump() for m in store.mappings(kind, fresh=True)]
    # When a row with a bad value is submitted
    field, bad, message = INVALID[kind]
    res = client.post(f"/mappings/{kind}", data={**bad, "csrf_token": token})
    # Then the form comes back with the error at that field and what was typed, and nothing is saved
    assert res.status_code == 422 and f'data-field="{field}"' in res.text and message in res.text, res.text[-1500:]
    assert 'value="FORMTEST"' in res.text
    assert [m.model_dump() for m in store.mappings(kind, fresh=True)] == before
    # When a valid row is submitted
    saved = client.post(f"/mappings/{kind}", data={**VALID[kind], "csrf_token": token})
    assert saved.status_code == 303
    # Then it is in the store and on the page
    [added] = [m for m in store.mappings(kind, fresh=True) if m.model_dump() not in before]
    key = mapping_sort_key(kind, added)
    assert f'data-key="{key}"' in client.get("/mappings").text
    # and removing it asks first, then removes it
    ask = client.post(f"/mappings/{kind}/delete", data={"key": key, "csrf_token": token})
    assert ask.status_code == 200 and 'id="confirm"' in ask.text
    assert [m.model_dump() for m in store.mappings(kind, fresh=True) if m.model_dump() not in before] != []
    gone = client.post(f"/mappings/{kind}/delete", data={"key": key, "confirmed": "yes", "csrf_token": token})
    assert gone.status_code == 303 and [m.model_dump() for m in store.mappings(kind, fresh=True)] == before


def test_the_ship_via_grid_reads_like_the_walkthrough(web: tuple[TestClient, str]) -> None:
    client, _ = web
    page = client.get("/mappings").text
    section = page[page.index('id="shipvia"'):page.index('id="payment"')]
    headers = re.findall(r"<th>([^<]+)</th>", section)
    assert headers[:5] == ["Acumatica Ship Via", "Store View", "Magento carrier", "Magento method",
                           "Magento shipping title"]
    assert re.search(r"<td>LOCAL</td><td>All Store Views</td><td>freeshipping</td><td>freeshipping</td>"
                     r"<td>Free Shipping - Free</td>", section.replace("\n", "").replace("      ", ""))


def test_preferences_are_edited_with_validation(web: tuple[TestClient, str], stack: StackContext) -> None:
    client, token = web
    store = SettingsStore(stack.settings.settings_table)
    page = client.get("/preferences").text
    form = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', page[page.index('id="form-order-sync"'):
                                                                           page.index('id="customer-sync"')]))
    form |= {"sync_if_b2b": "true", "sync_if_staff": "true", "sync_if_paid": "true",
             "customer_flags_source": "push_row", "missing_customer": "create", "write_back_field": "ExternalRef",
             "magento_numbering": "magento", "double_action": "cancel", "account_share_scope": "website"}
    before = store.order_sync(fresh=True)
    assert form["statuses"].startswith("Open, Back Order")
    # When a bad value is submitted (a website id that is no number, a prefix without =)
    for field, value, message in (("website_id", "abc", "valid integer"),
                                  ("increment_id_prefixes", "ST", "write KEY=VALUE"),
                                  ("missing_customer", "ask", "Input should be")):
        res = client.post("/preferences/order-sync", data={**form, field: value, "csrf_token": token})
        # Then the form comes back with the error, and nothing is saved
        assert res.status_code == 422 and f'data-field="{field}"' in res.text and message in res.text, field
        assert store.order_sync(fresh=True) == before
    # When valid values are submitted, Then they are saved
    res = client.post("/preferences/order-sync", data={**form, "sync_if_paid": "false", "increment_id_prefixes":
                                                       "ST=ST-, QT=Q-", "csrf_token": token})
    assert res.status_code == 303
    saved = store.order_sync(fresh=True)
    assert saved.sync_if_paid is False and saved.increment_id_prefixes == {"ST": "ST-", "QT": "Q-"}
    assert saved.model_dump(exclude={"sync_if_paid", "increment_id_prefixes"}) == before.model_dump(
        exclude={"sync_if_paid", "increment_id_prefixes"})
    store.put_preferences("order-sync", before)


# ------------------------------------------------------------------ DLQs, resync, status


@pytest.fixture()
def own_queues(stack: StackContext) -> Iterator[StackContext]:
    """The stack, with InventoryDLQ -> InventoryQueue and the order queue swapped for queues no poller reads."""
    sqs = boto3.client("sqs")
    tag = uuid.uuid4().hex[:6]
    dlq = sqs.create_queue(QueueName=f"console-{tag}-dlq")["QueueUrl"]
    target = sqs.create_queue(QueueName=f"console-{tag}-target")["QueueUrl"]
    orders = sqs.create_queue(QueueName=f"console-{tag}-orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    ids = {**stack.physical_ids, "InventoryDLQ": dlq, "InventoryQueue": target}
    yield StackContext(stack.name, stack.region, ids, stack.settings.model_copy(update={"order_queue_url": orders}),
                       stack.endpoint_url, stack.session)
    for url in (dlq, target, orders):
        sqs.delete_queue(QueueUrl=url)


def _stock(sku: str) -> SyncRequest:
    return SyncRequest(kind=Kind.STOCK, key=f"{sku}/RETAIL", source="push", correlation_id=sku, timestamp=1)


def _bodies(url: str) -> list[dict[str, Any]]:
    return [json.loads(str(m["body"])) for m in queues.peek(url, 50)]


def test_dlq_replay_and_resync_wait_for_a_confirmation_then_do_it(own_queues: StackContext) -> None:
    client, token = _client(own_queues)
    dlq, target = own_queues.physical_ids["InventoryDLQ"], own_queues.physical_ids["InventoryQueue"]
    for sku in ("SKUA", "SKUB"):
        queues.send(dlq, _stock(sku))
    with client:
        # Given two records in InventoryDLQ, listed with their entity
        page = client.get("/dlq").text
        section = page[page.index('id="dlq-InventoryDLQ"'):page.index('id="dlq-MagentoOrderDLQ"')]
        assert 'data-entity="SKUA"' in section and 'data-entity="SKUB"' in section and "2 waiting" in section
        # When one entity's replay is asked for
        ask = client.post("/dlq/replay", data={"queue": "InventoryDLQ", "entity": "SKUA", "csrf_token": token})
        # Then a confirmation is asked, and nothing has moved yet
        assert ask.status_code == 200 and "Move the messages about SKUA in InventoryDLQ back to InventoryQueue" \
            in ask.text
        assert len(_bodies(dlq)) == 2 and _bodies(target) == []
        # When it is confirmed, Then that message alone goes back to its queue
        done = client.post("/dlq/replay", data={"queue": "InventoryDLQ", "entity": "SKUA", "confirmed": "yes",
                                                "csrf_token": token})
        assert done.status_code == 200 and "replayed 1 message(s) from InventoryDLQ to InventoryQueue" in done.text
        assert [b["key"] for b in _bodies(target)] == ["SKUA/RETAIL"]
        assert [b["key"] for b in _bodies(dlq)] == ["SKUB/RETAIL"]
        # and a DLQ the stack does not have is refused
        assert client.post("/dlq/replay", data={"queue": "NoDLQ", "confirmed": "yes",
                                                "csrf_token": token}).status_code == 400
        # When an order's resync is asked for, Then it is confirmed first, then queued once
        orders = own_queues.settings.order_queue_url
        ask = client.post("/resync", data={"kind": "order", "key": "SOTRESYNC", "csrf_token": token})
        assert ask.status_code == 200 and 'id="confirm"' in ask.text and _bodies(orders) == []
        done = client.post("/resync", data={"kind": "order", "key": "SOTRESYNC", "confirmed": "yes",
                                            "csrf_token": token})
        assert done.status_code == 200 and "queued 1 sync request(s) for 1 order(s)" in done.text
        assert [(b["kind"], b["key"], b["source"]) for b in _bodies(orders)] == [("order", "SO/SOTRESYNC", "resync")]
        assert client.post("/resync", data={"kind": "customer", "key": "1", "confirmed": "yes",
                                            "csrf_token": token}).status_code == 400


def test_status_shows_depths_ages_watermarks_failures_today_and_alarms(own_queues: StackContext) -> None:
    # Given a record 0 s old in a DLQ, a reconciler watermark, failures written today
    queues.send(own_queues.physical_ids["InventoryDLQ"], _stock("SKUS"))
    binder = Binder(own_queues.settings.bindings_table)
    assert binder.set_watermark("shipments", "2026-11-29T10:00:00+00:00", binder.watermark("shipments"))
    log = ConnectorLog(own_queues.settings.connector_log_table)
    log.write_many([LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.FAILURE,
                             notes="SOTFAIL", entity_key="SOTFAIL", message="refused") for _ in range(3)])
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    failures = len(log.failures(today, limit=100_000))
    client, _ = _client(own_queues)
    with client:
        page = client.get("/status").text
    # Then the page shows them
    row = re.search(r'data-queue="InventoryDLQ">(.*?)</tr>', page, re.S)
    assert row and re.findall(r"<td>(\d+)</td>", row.group(1)) == ["1", "0"] and re.search(r"<td>\d+ s", row.group(1))
    assert re.search(r'data-queue="OrderQueue"', page) and "2026-11-29T10:00:00+00:00" in page
    assert "customer poll" in page and "(never ran)" in page
    assert re.search(rf'id="failures-today"><span class="n">{failures}</span>', page) and failures >= 3
    # and, with no alarm in the stack (moto skips them), "none reported" rather than a failure
    assert "none reported: this stack has no CloudWatch alarms" in page


def test_status_lists_the_stacks_alarms_in_alarm(stack: StackContext) -> None:
    # Given a stack with two alarms, one of them in ALARM
    cloudwatch = boto3.client("cloudwatch")
    names = [f"console-{uuid.uuid4().hex[:6]}-{n}" for n in ("OrderDLQNotEmpty", "SyncFailureRate")]
    for name in names:
        cloudwatch.put_metric_alarm(AlarmName=name, Namespace="AWS/SQS",
                                    MetricName="ApproximateNumberOfMessagesVisible", Statistic="Maximum", Period=60,
                                    EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=names[0], StateValue="ALARM", StateReason="1 message in OrderDLQ")
    with_alarms = StackContext(stack.name, stack.region, {**stack.physical_ids, "OrderDLQNotEmptyAlarm": names[0],
                                                          "SyncFailureRateAlarm": names[1]},
                               stack.settings, stack.endpoint_url, stack.session)
    client, _ = _client(with_alarms)
    with client:
        page = client.get("/status").text
    # Then the one in ALARM is listed with its reason; the other is not
    assert f"<td>{names[0]}</td>" in page and "1 message in OrderDLQ" in page and names[1] not in page
    assert re.search(r'id="alarms"><span class="n">1</span>', page)


# ------------------------------------------------------------------ the server itself


def test_only_loopback_host_names_are_served_and_pages_carry_a_strict_csp(stack: StackContext) -> None:
    app = create_app(stack)
    # A page asked for under another host name (DNS rebinding: a site resolving its name to 127.0.0.1) is refused
    assert TestClient(app, base_url="http://attacker.example:8400").get("/mappings").status_code == 400
    for host in ("127.0.0.1", "localhost"):
        page = TestClient(app, base_url=f"http://{host}:8400").get("/mappings")
        assert page.status_code == 200, host
    # and pages run the console's own script only, in no frame, and are not cached
    headers = page.headers
    assert "script-src 'self'" in headers["content-security-policy"] and "unsafe" not in headers[
        "content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


def test_newer_goes_back_to_the_page_before(web: tuple[TestClient, str], history: list[LogEntry]) -> None:
    client, _ = web
    first = client.get(_window()).text
    second = client.get(_older(first) or "").text
    third = client.get(_older(second) or "").text
    newer = re.search(r'<a href="([^"]+)" id="newer">', third)
    assert newer and _log_ids(client.get(html.unescape(newer.group(1))).text) == _log_ids(second)
    back = re.search(r'<a href="([^"]+)" id="newer">', second)
    assert back and _log_ids(client.get(html.unescape(back.group(1))).text) == _log_ids(first)
    assert _log_ids(first) != _log_ids(second) and 'id="newer"' not in first


@pytest.mark.parametrize(("path", "message"), [
    ("/audit?start=2026-11-30&end=2026-11-01", "end: before start"),
    ("/audit?start=yesterday&end=today", "dates as 2026-11-29"),
    ("/audit?start=2026-01-01&end=2026-12-01", "at most 92 days"),
    ("/preview?order_type=SALES&order_nbr=SOT00024", "an order type is two letters"),
    ("/preview?order_type=SO&order_nbr=SOT%2F..%2F1", "an order type is two letters"),
    ("/timeline?order=SOT00024%3Cscript%3E", "an order is SOT00024"),
])
def test_audit_preview_and_timeline_refuse_bad_input_before_calling_anything(
        web: tuple[TestClient, str], path: str, message: str) -> None:
    client, _ = web
    res = client.get(path)
    assert res.status_code == 400 and message in res.text, res.text[-800:]
