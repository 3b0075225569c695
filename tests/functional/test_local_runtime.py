"""The local runtime plays Lambda's event sources as Lambda does (issue: SQS semantics, URL, schedules)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from tests_support import wait_until as _wait

from amsync_local.runtime import LocalRuntime


class Recorder:
    """A stand-in handler: records what it saw and fails the records it is told to."""

    def __init__(self, fail_when: Any = None, raise_when: Any = None) -> None:
        self.seen: list[tuple[float, str]] = []
        self.batches: list[list[str]] = []
        self.fail_when = fail_when or (lambda body: False)
        self.raise_when = raise_when or (lambda bodies: False)
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        bodies = [r["body"] for r in event["Records"]]
        with self.lock:
            self.batches.append(bodies)
            self.seen.extend((time.monotonic(), b) for b in bodies)
        if self.raise_when(bodies):
            raise RuntimeError("handler crashed")
        # as a FIFO consumer must (and the connector's does): after a failure, the rest of that group fails too
        failed_groups: set[str] = set()
        failures = []
        for r in event["Records"]:
            group = r.get("attributes", {}).get("MessageGroupId")
            if self.fail_when(r["body"]) or (group is not None and group in failed_groups):
                failures.append({"itemIdentifier": r["messageId"]})
                if group is not None:
                    failed_groups.add(group)
        return {"batchItemFailures": failures}




def _dlq_bodies(rt: LocalRuntime, dlq: str) -> list[str]:
    sqs = rt.boto("sqs")
    out = []
    for _ in range(3):
        resp = sqs.receive_message(QueueUrl=rt.stack.physical_ids[dlq], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for m in resp.get("Messages", []):
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=rt.stack.physical_ids[dlq], ReceiptHandle=m["ReceiptHandle"])
    return out


def test_failed_record_returns_after_visibility_then_lands_in_dlq_and_successes_are_not_redelivered(
        bare_runtime: LocalRuntime) -> None:
    # Given the inventory consumer fails every record marked "fail"
    rec = Recorder(fail_when=lambda b: json.loads(b)["fail"])
    bare_runtime.functions["InventoryFunction"].handler = rec
    sqs = bare_runtime.boto("sqs")
    url = bare_runtime.stack.physical_ids["InventoryQueue"]
    # When one batch holds two good records and one bad
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": json.dumps({"n": i, "fail": i == 1})} for i in range(3)])
    # Then the bad one is received maxReceiveCount (5) times, then sits in the DLQ
    bad = json.dumps({"n": 1, "fail": True})
    _wait(lambda: sum(1 for _, b in rec.seen if b == bad) >= 5, timeout=30)
    _wait(lambda: bare_runtime.wait_idle(timeout=1), timeout=15)
    counts = Counter(b for _, b in rec.seen)
    assert counts[bad] == 5
    assert counts[json.dumps({"n": 0, "fail": False})] == 1
    assert counts[json.dumps({"n": 2, "fail": False})] == 1
    # and it came back only after the (scaled) visibility timeout each time
    times = [t for t, b in rec.seen if b == bad]
    assert all(b - a >= 0.8 for a, b in zip(times, times[1:], strict=False)), times
    assert _dlq_bodies(bare_runtime, "InventoryDLQ") == [bad]


def test_a_crashing_handler_fails_the_whole_batch(bare_runtime: LocalRuntime) -> None:
    # Given a consumer that crashes on the first delivery of any batch holding "boom"
    crashed = threading.Event()

    def raise_once(bodies: list[str]) -> bool:
        if any("boom" in b for b in bodies) and not crashed.is_set():
            crashed.set()
            return True
        return False

    rec = Recorder(raise_when=raise_once)
    bare_runtime.functions["InventoryFunction"].handler = rec
    sqs = bare_runtime.boto("sqs")
    url = bare_runtime.stack.physical_ids["InventoryQueue"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "ok-1"}, {"Id": "b", "MessageBody": "boom"}])
    # Then every record of the crashed batch is delivered again
    _wait(lambda: Counter(b for _, b in rec.seen)["boom"] >= 2)
    _wait(lambda: bare_runtime.wait_idle(timeout=1), timeout=15)
    counts = Counter(b for _, b in rec.seen)
    first_batch = rec.batches[0]
    if "ok-1" in first_batch:  # same batch as the crash: redelivered too
        assert counts["ok-1"] == 2
    assert counts["boom"] == 2


def test_fifo_group_order_holds_and_a_failure_blocks_only_its_group(bare_runtime: LocalRuntime) -> None:
    # Given the order consumer fails "A-1" on its first delivery only
    failed_once: set[str] = set()

    def fail_first(body: str) -> bool:
        if body == "A-1" and body not in failed_once:
            failed_once.add(body)
            return True
        return False

    rec = Recorder(fail_when=fail_first)
    bare_runtime.functions["OrderSyncFunction"].handler = rec
    sqs = bare_runtime.boto("sqs")
    url = bare_runtime.stack.physical_ids["OrderQueue"]
    for body, group in (("A-1", "A"), ("A-2", "A"), ("B-1", "B"), ("B-2", "B")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)
    _wait(lambda: {b for _, b in rec.seen} >= {"A-1", "A-2", "B-1", "B-2"} and len(failed_once) == 1)
    _wait(lambda: bare_runtime.wait_idle(timeout=1), timeout=15)
    order = [b for _, b in rec.seen]
    # Then within group A, A-2 is processed only after A-1 finally succeeded
    a_events = [b for b in order if b.startswith("A")]
    assert a_events[-1] == "A-2" and a_events.count("A-1") == 2
    assert order.index("B-1") < order.index("B-2")


def test_function_url_gets_a_payload_v2_event_and_its_answer_is_served(bare_runtime: LocalRuntime) -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 202, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}

    original = bare_runtime.functions["WebhookFunction"].handler
    bare_runtime.functions["WebhookFunction"].handler = handler
    try:
        resp = httpx.post(bare_runtime.webhook_url + "push?x=1", json={"a": 1}, headers={"X-AMSync-Key": "k"})
    finally:
        bare_runtime.functions["WebhookFunction"].handler = original
    assert resp.status_code == 202 and resp.json() == {"ok": True}
    ev = seen[0]
    assert ev["version"] == "2.0" and ev["rawPath"] == "/push" and ev["queryStringParameters"] == {"x": "1"}
    assert ev["headers"]["x-amsync-key"] == "k" and json.loads(ev["body"]) == {"a": 1}
    assert ev["requestContext"]["http"]["method"] == "POST"


def test_function_url_refuses_posts_beyond_the_reserved_concurrency_with_429(bare_runtime: LocalRuntime) -> None:
    # Given the webhook's reserved concurrency as deployed from the template (WebhookReservedConcurrency)
    fn = bare_runtime.functions["WebhookFunction"]
    reserved = bare_runtime.boto("lambda").get_function_concurrency(FunctionName=fn.name)[
        "ReservedConcurrentExecutions"]
    assert reserved >= 1
    inside, release = threading.Semaphore(0), threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        inside.release()
        release.wait(20)
        return {"statusCode": 202, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}

    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        resp = httpx.post(bare_runtime.webhook_url, json={"a": 1}, timeout=30)
        with lock:
            answers.append(resp)

    original = fn.handler
    fn.handler = handler
    held = [threading.Thread(target=post) for _ in range(reserved)]
    try:
        # When as many posts as the reservation are running and three more arrive at once
        for th in held:
            th.start()
        for _ in range(reserved):
            assert inside.acquire(timeout=20), "the reserved invocations did not all start"
        excess = [threading.Thread(target=post) for _ in range(3)]
        for th in excess:
            th.start()
        for th in excess:
            th.join(20)
        # Then the excess is refused as Lambda's Function URL refuses it, without running the handler
        assert [(r.status_code, r.json()) for r in answers] == [(429, {"Message": "Rate Exceeded."})] * 3
    finally:
        release.set()
        for th in held:
            th.join(20)
        fn.handler = original
    # and the reserved ones were served; once they are done, the next post runs again
    assert sorted(r.status_code for r in answers) == [202] * reserved + [429] * 3
    fn.handler = lambda e, c: {"statusCode": 202, "body": "{}"}
    try:
        assert httpx.post(bare_runtime.webhook_url, json={}, timeout=30).status_code == 202
    finally:
        fn.handler = original


def test_schedules_fire_on_their_scaled_rate() -> None:
    from tests_support import default_secrets_for_tests

    rt = LocalRuntime(secrets=default_secrets_for_tests(), schedule_scale=0.002, start_pollers=False,
                      stack_name="amsync-sched-test")
    fired: list[dict[str, Any]] = []
    rt.start()
    try:
        rt.functions["ReconcilerFunction"].handler = lambda e, c: fired.append(e)
        _wait(lambda: len(fired) >= 2, timeout=10)
    finally:
        rt.stop()
    assert fired[0]["detail-type"] == "Scheduled Event" and fired[0]["source"] == "aws.events"


@pytest.mark.parametrize("size", [6 * 1024 * 1024 + 1])
def test_function_url_refuses_payloads_over_lambdas_limit(bare_runtime: LocalRuntime, size: int) -> None:
    resp = httpx.post(bare_runtime.webhook_url, content=b"x" * size, timeout=30)
    assert resp.status_code == 413


def test_concurrent_invocations_run_in_containers_of_their_own_and_warm_ones_are_reused(
        bare_runtime: LocalRuntime) -> None:
    # Given the inventory function, started warm with a container per unit of its MaximumConcurrency (2)
    fn = bare_runtime.functions["InventoryFunction"]
    assert len(fn.modules) == 2
    both_in = threading.Barrier(2, timeout=10)
    ran_in: list[int] = []
    originals = {id(m): m.handler for m in fn.modules}

    def handler_of(module: Any) -> Any:
        def handler(event: Any, context: Any) -> dict[str, Any]:
            ran_in.append(id(module))
            if event.get("together"):
                both_in.wait()  # the two invocations overlap
            return {"batchItemFailures": []}
        return handler

    for m in fn.modules:
        m.handler = handler_of(m)
    try:
        # When two invocations run at once
        # (straight into the container pool: other tests of this module leave a stand-in as fn.handler)
        threads = [threading.Thread(target=fn.run_in_container, args=({"Records": [], "together": True}, None))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then each ran in its own container (its own module: its own clients and Acumatica session)
        assert len(set(ran_in)) == 2
        # and invocations one after the other reuse a warm container: no cold start
        for _ in range(3):
            fn.run_in_container({"Records": []}, None)
        assert len(fn.modules) == 2 and set(ran_in) == set(originals)
    finally:
        for m in fn.modules:
            m.handler = originals[id(m)]
