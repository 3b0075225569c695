"""The webhook behind its Function URL refuses hostile and malformed posts (issue: webhook security, bad input).

Every case of ``webhook_corpus.CASES`` goes through the real HTTP route of the local runtime: it gets its 4xx with
a clear reason, nothing reaches a pipeline queue, nothing crashes, and the refusal is in the Acumatica connector
log without the secret. Valid posts, by contrast, are accepted once and deduplicated after.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from boto3.dynamodb.conditions import Key
from webhook_corpus import CASES, CURRENT, GOOD, HEADER, PREVIOUS, SECRETS, Case, body, order_row, push

from amsync.data.connector_log import ConnectorLog
from amsync.models.log import LogEntry, Side, log_id_time
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


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    statuses = {c.status for c in CASES}
    assert {400, 401, 413, 422} <= statuses and all(400 <= s < 500 for s in statuses)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_post_gets_a_4xx_with_its_reason_is_logged_and_enqueues_nothing(env: Env, case: Case) -> None:
    # Given the log and the consumers as they are
    mark = log_mark()
    received_before = env.received()
    # When the post arrives through the Function URL
    resp = httpx.post(env.url, headers=case.headers, content=case.body, timeout=30)
    # Then its 4xx (never a 5xx) with a reason that says what is wrong
    assert resp.status_code == case.status, resp.text[:500]
    if case.reaches_lambda:
        assert resp.headers["content-type"] == "application/json"
        error = resp.json()["error"]
        assert isinstance(error, str) and case.reason in error, error
        assert not any(s in error for s in SECRETS)
    else:
        assert case.reason in resp.text
    # and nothing is enqueued, nor reached a consumer
    assert env.depths() == dict.fromkeys(PIPELINE, 0)
    assert env.received() == received_before
    # and the refusal is logged at ERROR, without the secret
    new = env.logged_since(mark)
    if not case.reaches_lambda:
        assert new == []  # the Function URL refused it before the Lambda ran
        return
    assert len(new) == 1, [e.message for e in new]
    entry = new[0]
    assert entry.level == "ERROR" and entry.action_type == "Rejected push"
    assert entry.message == f"HTTP {case.status}: {error}"
    assert entry.details["status"] == case.status and entry.details["body_bytes"] == len(case.body)
    _no_secret(new)


def test_after_the_corpus_no_consumer_saw_a_record_and_the_log_holds_every_refusal(env: Env) -> None:
    time.sleep(0.5)
    assert env.received() == dict.fromkeys(PIPELINE, 0)
    assert env.depths() == dict.fromkeys(PIPELINE, 0)
    # the Acumatica side of the connector log, as the console reads it: every refusal, at ERROR, no secret
    entries = env.newest(limit=500)
    reaching = [c for c in CASES if c.reaches_lambda]
    refused = [e for e in entries if e.action_type == "Rejected push"]
    assert len(refused) >= len(reaching)
    assert {e.level for e in refused} == {"ERROR"}
    assert {e.details["status"] for e in refused} == {c.status for c in reaching}
    _no_secret(entries)


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
def test_a_valid_post_is_accepted_once_and_its_repeat_is_a_duplicate(
        env: Env, doc: dict[str, Any], queue: str, keys: list[str]) -> None:
    env.settle({})
    before = env.received()
    raw = body(doc)
    mark = log_mark()
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
    # and the raw post is in the log with its JSON, without the secret
    logged = env.logged_since(mark)
    raw_entry = next(e for e in logged if e.side is Side.ACUMATICA)
    assert raw_entry.level == "INFO" and raw_entry.details["push"] == doc
    assert raw_entry.message == raw.decode()
    _no_secret(logged)
    mark = log_mark()
    # When the same post arrives again (Acumatica's resend)
    again = httpx.post(env.url, headers=GOOD, content=raw, timeout=30)
    # Then 202 "duplicate" and nothing more is enqueued
    assert again.status_code == 202 and again.json() == {"status": "duplicate", "published": 0}
    assert env.depths() == dict.fromkeys(PIPELINE, 0)
    assert env.received() == after
    [dup] = env.logged_since(mark)
    assert dup.level == "INFO" and "duplicate" in dup.message


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
