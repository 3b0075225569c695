"""The webhook behind its Function URL refuses hostile and malformed posts (issue: webhook security, bad input).

Every case of ``webhook_corpus.CASES`` goes through the real HTTP route of the local runtime: it gets its 4xx with
a clear reason, the webhook runs without crashing, and it writes nothing: no item in any table, no message in any
queue (the Function URL is public; junk must cost little). A flood of 1,000 of them changes no table or queue,
counts each in the ``WebhookRejected`` metric and logs only a sample. Valid posts, by contrast, are one publish each
(nothing written to DynamoDB: their log rows ride in the messages), and SQS FIFO drops their re-sends.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from boto3.dynamodb.conditions import Key
from webhook_corpus import (
    ACCEPTED_CONTENT_TYPES,
    CASES,
    CURRENT,
    GOOD,
    HEADER,
    PREVIOUS,
    SECRETS,
    Case,
    body,
    order_row,
    push,
)

from amsync import observability
from amsync.data.connector_log import ConnectorLog
from amsync.flood_sampler import FloodSampler
from amsync.models.log import LogEntry, Side, log_id_time
from amsync.models.messages import SyncRequest
from amsync_local.runtime import LocalRuntime

PIPELINE = {"OrderQueue": "OrderSyncFunction", "FulfilmentQueue": "FulfilmentFunction",
            "InventoryQueue": "InventoryFunction"}


class Recorder:
    """Stands in for a pipeline consumer: keeps every record (once per message id) and fails none."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}  # message id -> body; a standard queue may deliver a message twice
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            for r in event["Records"]:
                self.bodies.setdefault(r["messageId"], r["body"])
        return {"batchItemFailures": []}

    def seen(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(b) for b in self.bodies.values()]


class RecentLog(ConnectorLog):
    """The connector log, plus what a test needs per request: the entries written after a mark (one cheap query;
    ``newest`` reads whole day partitions, which grow with every case)."""

    def since(self, side: Side, mark: str, limit: int = 20) -> list[LogEntry]:
        days = sorted({log_id_time(mark).strftime("%Y-%m-%d"), datetime.now(UTC).strftime("%Y-%m-%d")})
        return [e for d in reversed(days)
                for e in self._query(Key("pk").eq(f"{side.value}#{d}") & Key("sk").gt(mark), None, limit)]


@dataclass
class Env:
    rt: LocalRuntime
    recorders: dict[str, Recorder]
    log: RecentLog
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = self.rt.webhook_url

    def depths(self) -> dict[str, int]:
        """Visible + in-flight messages of each pipeline queue (a message is there, or a recorder has it)."""
        sqs = self.rt.boto("sqs")
        assert self.rt.stack is not None
        out = {}
        for q in PIPELINE:
            a = sqs.get_queue_attributes(QueueUrl=self.rt.stack.physical_ids[q], AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[q] = int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
        return out

    def received(self) -> dict[str, int]:
        return {q: len(r.seen()) for q, r in self.recorders.items()}

    def item_counts(self) -> dict[str, int]:
        """Items in each of the stack's tables (Scan, Select=COUNT): what a post may have written."""
        ddb = self.rt.boto("dynamodb")
        assert self.rt.stack is not None
        out = {}
        for lid, res in self.rt.stack.transformed["Resources"].items():
            if res["Type"] != "AWS::DynamoDB::Table":
                continue
            kwargs: dict[str, Any] = {"TableName": self.rt.stack.physical_ids[lid], "Select": "COUNT"}
            out[lid] = 0
            while True:
                page = ddb.scan(**kwargs)
                out[lid] += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        assert set(out) >= {"SettingsTable", "BindingsTable", "ConnectorLogTable"}, out
        return out

    def all_queues(self) -> dict[str, int]:
        """Visible + in-flight messages of every queue of the stack, DLQs included."""
        return {q: d["visible"] + d["in_flight"] for q, d in self.rt.queue_depths(include_dlq=True).items()}

    def webhook_runs(self) -> list[Any]:
        """The webhook invocations the runtime recorded (one per post that reached the Lambda)."""
        return [i for i in list(self.rt.invocations) if i.function == "WebhookFunction" and i.source == "url"]

    def newest(self, limit: int = 20) -> list[LogEntry]:
        return self.log.newest(Side.ACUMATICA, limit=limit)

    def logged_since(self, mark: str) -> list[LogEntry]:
        return self.log.since(Side.ACUMATICA, mark)

    def settle(self, expected: dict[str, int], timeout: float = 20.0) -> None:
        """Wait until the recorders hold ``expected`` records and every pipeline queue is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.received()[q] >= n for q, n in expected.items()) and not any(self.depths().values()):
                return
            time.sleep(0.05)
        raise AssertionError(f"queues did not settle: {self.received()} {self.depths()}")


def log_mark() -> str:
    """A log id lower than that of any entry written from now on (log ids start with epoch microseconds)."""
    return f"{time.time_ns() // 1000 - 1:016d}999"


@pytest.fixture(scope="module")
def env(bare_runtime: LocalRuntime) -> Iterator[Env]:
    recorders = {q: Recorder() for q in PIPELINE}
    originals = {fn: bare_runtime.functions[fn].handler for fn in PIPELINE.values()}
    for q, fn in PIPELINE.items():
        bare_runtime.functions[fn].handler = recorders[q]
    table = bare_runtime.functions["WebhookFunction"].env["CONNECTOR_LOG_TABLE"]
    try:
        yield Env(bare_runtime, recorders, RecentLog(table))
    finally:
        for fn, handler in originals.items():
            bare_runtime.functions[fn].handler = handler


def _no_secret(entries: list[LogEntry]) -> None:
    for e in entries:
        text = e.model_dump_json()
        assert not any(s in text for s in SECRETS), text[:300]


def _answer_matches(case: Case, status: int, headers: httpx.Headers, text: str) -> bool:
    """The case's status, and its reason: in the JSON ``error`` when the Lambda answered, else in the raw answer."""
    if status != case.status:
        return False
    if not case.reaches_lambda:
        return case.reason in text
    error = json.loads(text).get("error") if headers.get("content-type") == "application/json" else None
    return isinstance(error, str) and case.reason in error and not any(s in error for s in SECRETS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_post_gets_its_4xx_with_its_reason_and_writes_nothing(env: Env, case: Case) -> None:
    # Given the tables, queues and consumers as they are
    items, runs, received = env.item_counts(), len(env.webhook_runs()), env.received()
    # When the post arrives through the Function URL
    resp = httpx.post(env.url, headers=case.headers, content=case.body, timeout=30)
    # Then its 4xx (never a 5xx) with a reason that says what is wrong
    assert _answer_matches(case, resp.status_code, resp.headers, resp.text), (resp.status_code, resp.text[:500])
    # and the webhook did run on it, to its end (the runtime recorded the invocation before the answer went out):
    # the absence below is "nothing written", not "nothing written yet"
    new_runs = env.webhook_runs()[runs:]
    assert [r.error for r in new_runs] == ([None] if case.reaches_lambda else [])
    # and nothing was written: no item in any table, nothing enqueued, nothing reached a consumer
    assert env.item_counts() == items
    assert env.depths() == dict.fromkeys(PIPELINE, 0)
    assert env.received() == received


# Eight invocations at once in one process share Powertools' one metric set (on Lambda each has a process of its own):
# an invocation may find its metric already flushed by another and say so. Every add is counted below regardless.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_flood_of_1000_bad_posts_changes_no_table_or_queue_and_logs_only_a_sample(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 1,000 posts drawn from the whole corpus (wrong, missing and misplaced secrets, wrong content types,
    # malformed JSON, oversize bodies, bad keys...), and 8 warm webhook containers with a sampler each that logs
    # the first 5 refusals of its minute (a minute that does not end during the test), then one in 50
    posts = [CASES[i % len(CASES)] for i in range(1000)]
    assert {c.status for c in posts} >= {400, 401, 413, 415, 422}
    webhook = env.rt.functions["WebhookFunction"]
    webhook.prewarm(8)
    containers = list(webhook.modules)
    for module in containers:
        monkeypatch.setattr(module.ports, "rejections", FloodSampler(burst=5, every=50, clock=lambda: 0.0))
    metric_names: list[str] = []
    warnings: list[dict[str, Any]] = []
    add_metric, warning = observability.metrics.add_metric, observability.logger.warning

    def count_metric(*args: Any, **kwargs: Any) -> Any:
        metric_names.append(kwargs["name"])
        return add_metric(*args, **kwargs)

    def keep_warning(msg: Any, *args: Any, **kwargs: Any) -> Any:
        warnings.append({"msg": msg, **kwargs.get("extra", {})})
        return warning(msg, *args, **kwargs)

    monkeypatch.setattr(observability.metrics, "add_metric", count_metric)
    monkeypatch.setattr(observability.logger, "warning", keep_warning)
    items, runs, received = env.item_counts(), len(env.webhook_runs()), env.received()
    assert not any(env.all_queues().values())

    # When they arrive, 8 at a time
    with httpx.Client(timeout=60) as client:
        def send(case: Case) -> tuple[int, httpx.Headers, str]:
            r = client.post(env.url, headers=case.headers, content=case.body)
            return r.status_code, r.headers, r.text

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, posts))

    # Then each got its own status and reason
    wrong = [(c.id, status, text[:120]) for c, (status, headers, text) in zip(posts, answers, strict=True)
             if not _answer_matches(c, status, headers, text)]
    assert wrong == []
    # and the webhook ran on every post that reached it, to its end, in the containers it had
    reaching = sum(c.reaches_lambda for c in posts)
    assert [r.error for r in env.webhook_runs()[runs:]] == [None] * reaching
    assert webhook.modules == containers
    # and not one item was written to any table, nor a message to any queue (DLQs included)
    assert env.item_counts() == items
    assert env.all_queues() == dict.fromkeys(env.all_queues(), 0)
    # and each refusal is counted once in the WebhookRejected metric (nothing else counted), while the log holds a
    # sample: at most 5 lines per container plus one per 50 refusals, each saying how many went unlogged before it
    assert metric_names == ["WebhookRejected"] * reaching
    lines = [w for w in warnings if w["msg"] == "push rejected"]
    assert 0 < len(lines) <= 5 * len(containers) + reaching // 50
    unlogged = sum(w["suppressed_before"] for w in lines)
    assert reaching - 49 * len(containers) <= len(lines) + unlogged <= reaching
    assert not any(s in json.dumps(lines) for s in SECRETS)

    # When a valid push follows the flood
    marker = push([order_row("SOT09999")], push_id=str(uuid.uuid4()))
    assert httpx.post(env.url, headers=GOOD, content=body(marker), timeout=30).status_code == 202
    # Then it reaches its consumer, and it alone: the consumers were listening all along, so no message of the
    # flood is still on its way
    env.settle({"OrderQueue": received["OrderQueue"] + 1})
    assert env.received() == {q: n + (q == "OrderQueue") for q, n in received.items()}
    assert env.recorders["OrderQueue"].seen()[-1]["key"] == "SO/SOT09999"


# ---------------------------------------------------------------------------------------------- valid posts

def _new_id() -> str:
    return str(uuid.uuid4())


VALID = [
    pytest.param(push([order_row("SOT00031  ", OrderType="SO "), order_row("SOT00032")], push_id=_new_id()),
                 "OrderQueue", ["SO/SOT00031", "SO/SOT00032"], id="orders"),
    pytest.param(push([{"ShipmentNbr": "000123 ", "OrderType": "SO", "OrderNbr": "SOT00031"}],
                      query="AMSync-Shipments", push_id=_new_id()),
                 "FulfilmentQueue", ["000123"], id="shipment"),
    pytest.param(push([{"InventoryID": "WATER2809 ", "WarehouseID": "RETAIL    ", "QtyOnHand": 12},
                       {"InventoryID": "WATER2809 ", "WarehouseID": "WHOLESALE ", "QtyOnHand": 1200}],
                      query="AMSync-StockAvailability", push_id=_new_id()),
                 "InventoryQueue", ["WATER2809/RETAIL", "WATER2809/WHOLESALE"], id="stock"),
    pytest.param({"orders": [{"OrderID": "SOT00024", "OrderType": "SO", "CustomerID": "AACUSTOMER",
                              "Status": "Open", "isB2B": False, "isStaffCustomer": False}],
                  "Query": "SALESORDER STATUS", "CompanyId": "Company", "ID": _new_id(),
                  "Time Stamp": "133428739107273074",
                  "AdditionalInfo": {"PPXPerformanceInfoStartTime": "10/27/2023 12:00:00 AM"}},
                 "OrderQueue", ["SO/SOT00024"], id="walkthrough-variant"),
]


@pytest.mark.parametrize(("doc", "queue", "keys"), VALID)
def test_a_valid_post_is_one_publish_and_its_repeat_is_dropped_by_sqs(
        env: Env, doc: dict[str, Any], queue: str, keys: list[str]) -> None:
    env.settle({})
    before, items = env.received(), env.item_counts()
    raw = body(doc)
    # When a valid post arrives
    resp = httpx.post(env.url, headers=GOOD, content=raw, timeout=30)
    # Then 202 and one message per record on the kind's queue, none elsewhere
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"status": "accepted", "published": len(keys)}
    env.settle({queue: before[queue] + len(keys)})
    after = env.received()
    assert {q: after[q] - before[q] for q in PIPELINE} == {q: len(keys) if q == queue else 0 for q in PIPELINE}
    got = env.recorders[queue].seen()[before[queue]:]
    assert sorted(m["key"] for m in got) == keys
    assert {m["source"] for m in got} == {"push"}
    # and the webhook wrote nothing to DynamoDB: the raw post's row rides in the first message, whole and without the
    # secret (its consumer writes it), each message its Publisher row
    assert env.item_counts() == items
    carried = [LogEntry.model_validate(e) for m in got for e in m["intake_log"]]
    [raw_entry] = [e for e in carried if e.side is Side.ACUMATICA]
    assert raw_entry.level == "INFO" and json.loads(raw_entry.message) == doc  # the whole post: no copy in details
    assert raw_entry.message == raw.decode() and raw_entry.details == {}
    assert [(e["action"], e["notes"]) for m in got for e in m["intake_log"] if e["side"] == Side.MAGENTO.value] == [
        ("Publisher", SyncRequest.model_validate(m).notes) for m in got]
    _no_secret(carried)
    # When the same post arrives again (Acumatica's resend: its answer was lost)
    again = httpx.post(env.url, headers=GOOD, content=raw, timeout=30)
    # Then 202 "accepted" (the webhook reads nothing to tell), and a FIFO queue drops every message as a repeat of
    # the first (same deduplication ids within five minutes); the standard InventoryQueue delivers it again, which
    # its consumer absorbs (it writes absolute quantities)
    assert again.status_code == 202 and again.json() == {"status": "accepted", "published": len(keys)}
    repeats = len(keys) if queue == "InventoryQueue" else 0
    env.settle({queue: after[queue] + repeats})
    time.sleep(0.3)  # a repeat SQS did not drop would be on its way by now
    assert env.depths() == dict.fromkeys(PIPELINE, 0)
    assert env.received() == {q: n + (repeats if q == queue else 0) for q, n in after.items()}
    assert env.item_counts() == items


def test_the_previous_secret_is_accepted_during_a_rotation(env: Env) -> None:
    doc = push([order_row("SOT00040")], push_id=_new_id())
    resp = httpx.post(env.url, headers=[("content-type", "application/json"), (HEADER.lower(), PREVIOUS)],
                      content=body(doc), timeout=30)
    assert resp.status_code == 202 and resp.json()["published"] == 1
    env.settle({})


def test_the_same_id_under_another_query_is_not_a_duplicate(env: Env) -> None:
    push_id = _new_id()
    first = httpx.post(env.url, headers=[*GOOD], timeout=30,
                       content=body(push([order_row("SOT00050")], push_id=push_id)))
    second = httpx.post(env.url, headers=[("Content-Type", "application/json"), (HEADER, CURRENT)], timeout=30,
                        content=body(push([{"ShipmentNbr": "000150", "OrderNbr": "SOT00050"}],
                                          query="AMSync-Shipments", push_id=push_id)))
    assert first.json()["status"] == second.json()["status"] == "accepted"
    env.settle({})


@pytest.mark.parametrize("content_type", ACCEPTED_CONTENT_TYPES)
def test_each_content_type_acumatica_may_send_is_accepted(env: Env, content_type: str) -> None:
    before = env.received()["OrderQueue"]
    doc = push([order_row("SOT00060")], push_id=_new_id())
    resp = httpx.post(env.url, headers=[("Content-Type", content_type), (HEADER, CURRENT)], content=body(doc),
                      timeout=30)
    assert resp.status_code == 202 and resp.json() == {"status": "accepted", "published": 1}
    env.settle({"OrderQueue": before + 1})
