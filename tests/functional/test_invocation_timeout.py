"""The local runtime ends an invocation at its function's Timeout, as Lambda does (issue 12, Lambda's limits)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tests_support import default_secrets
from tests_support import wait_until as _wait

from amsync.data.queues import resend
from amsync_local.lambda_events import sqs_record
from amsync_local.runtime import LocalRuntime


@pytest.fixture(scope="module")
def rt() -> Iterator[LocalRuntime]:
    """Functions of 30 s played in 1.5 s; visibility 180 s played in 9 s (well past the timeout, as Lambda wants)."""
    runtime = LocalRuntime(secrets=default_secrets(), timeout_scale=0.05, visibility_scale=0.05,
                           start_schedules=False, stack_name=f"amsync-timeout-{uuid.uuid4().hex[:6]}")
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()




def test_an_invocation_past_its_timeout_fails_keeps_its_records_and_its_container_is_never_used_again(
        rt: LocalRuntime) -> None:
    # Given the inventory function (Timeout 30 s, scaled to 1.5 s; two warm containers) whose handler, on a
    # record's first delivery, sleeps past the deadline and would then report the record done
    fn = rt.functions["InventoryFunction"]
    assert fn.timeout_s == pytest.approx(1.5)
    ran: list[tuple[str, int, int]] = []  # (container, receive count, ms left when the handler started)
    after_the_sleep = threading.Event()
    originals = {m.__name__: m.handler for m in fn.modules}

    def handler_of(container: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            count = int(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
            ran.append((container, count, context.get_remaining_time_in_millis()))
            if count == 1:
                time.sleep(fn.timeout_s + 0.5)
                after_the_sleep.set()  # never reached: the invocation ended at its deadline
            return {"batchItemFailures": []}
        return handler

    for m in fn.modules:
        m.handler = handler_of(m.__name__)
    try:
        # When one record arrives
        sqs = rt.boto("sqs")
        sqs.send_message(QueueUrl=rt.stack.physical_ids["InventoryQueue"], MessageBody="slow")  # type: ignore[union-attr]
        # Then it is delivered again after the visibility timeout: the timed-out invocation deleted nothing
        _wait(lambda: any(count == 2 for _, count, _ in ran), timeout=30)
        _wait(lambda: rt.wait_idle(timeout=1), timeout=15)
    finally:
        for m in fn.modules:
            m.handler = originals.get(m.__name__, m.handler)
    (first, count1, left1), (second, count2, _) = ran[:2]
    assert (count1, count2) == (1, 2)
    # and the invocation is recorded failed with Lambda's words
    failed = [i for i in rt.invocations if i.function == "InventoryFunction" and i.error]
    assert [i.error for i in failed] == ["amsync_local.timeouts.InvocationTimeout: Task timed out after 1.50 seconds"]
    assert failed[0].failed_ids == failed[0].message_ids
    # and the handler's code after the sleep never ran
    assert not after_the_sleep.is_set()
    # and the context counted down from the scaled timeout, not the template's 30 s
    assert 0 < left1 <= 1500
    # and the container it ran in was discarded: the redelivery ran in another, and it is never handed out again
    assert second != first
    assert [m.__name__ for m in fn.discarded] == [first]
    assert first not in {m.__name__ for m in fn._idle}


def test_a_record_resent_for_time_keeps_its_body_group_and_attributes_and_is_not_dropped_as_a_repeat(
        rt: LocalRuntime) -> None:
    # Given a FIFO message received as Lambda hands it over (a queue with no consumer: the DLQ)
    url = rt.stack.physical_ids["MagentoOrderDLQ"]  # type: ignore[union-attr]
    sqs = rt.boto("sqs")
    sqs.send_message(QueueUrl=url, MessageBody='{"order_key": "SO/T1"}', MessageGroupId="SO/T1",
                     MessageDeduplicationId="push-1",
                     MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": "SO/T1"}})
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"],
                              MessageAttributeNames=["All"])["Messages"][0]
    record = sqs_record(got, "arn:aws:sqs:us-east-1:123456789012:q.fifo", "us-east-1")
    # When it is re-sent as a new message (within SQS's five-minute deduplication window) and the original deleted
    assert resend(url, [record]) == {got["MessageId"]: None}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
    # Then the copy is there: same body, group and attributes, a new message that starts its receives afresh
    copy = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"],
                               MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=copy["ReceiptHandle"])
    assert copy["MessageId"] != got["MessageId"] and copy["Body"] == got["Body"]
    assert copy["Attributes"]["MessageGroupId"] == "SO/T1" and copy["Attributes"]["ApproximateReceiveCount"] == "1"
    assert copy["MessageAttributes"]["correlation_id"]["StringValue"] == "SO/T1"
