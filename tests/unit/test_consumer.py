"""The queue consumer's partial batch response and the backoff it sets on each failed record."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from amsync import consumer
from amsync.adapters.errors import RateLimited


def _event(*ids: str) -> dict[str, Any]:
    return {"Records": [{"messageId": i, "receiptHandle": f"rh-{i}", "body": "{}", "attributes": {
        "ApproximateReceiveCount": "2"}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"} for i in ids]}


def _fail_b(record: Any) -> None:
    if record.message_id == "b":
        raise RateLimited("Magento", "create", "slow down", status=429, retry_after=30)


def test_a_failed_record_is_reported_and_hidden_for_at_least_its_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden: list[tuple[str, int]] = []
    monkeypatch.setattr(consumer, "change_visibility", lambda url, rh, s: hidden.append((rh, s)))
    # When one record of two fails with a 429 that asks for 30 s
    response = consumer.consume(_event("a", "b"), None, _fail_b, queue_url="q", fifo=False, retry_base_s=5)
    # Then only it is reported failed, and it stays hidden at least 30 s
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert hidden and hidden[0][0] == "rh-b" and hidden[0][1] >= 30


def test_a_record_not_ready_until_a_known_time_is_hidden_until_then(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden: list[tuple[str, int]] = []
    monkeypatch.setattr(consumer, "change_visibility", lambda url, rh, s: hidden.append((rh, s)))

    def held(record: Any) -> None:
        raise consumer.NotReady("an earlier create may still commit in Magento", retry_after=61)

    # When a record cannot be handled for another 61 s (a create lease held in doubt)
    response = consumer.consume(_event("a"), None, held, queue_url="q", fifo=True, retry_base_s=5)
    # Then it comes back no sooner: a receive spent early would only be refused again
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}]}
    assert hidden == [("rh-a", 61)]


@pytest.mark.parametrize(("code", "level"), [("ReceiptHandleIsInvalid", "WARNING"),
                                             ("AWS.SimpleQueueService.MessageNotInflight", "WARNING"),
                                             ("AccessDenied", "ERROR")])
def test_a_backoff_that_cannot_be_set_still_reports_the_failure(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: str, level: str) -> None:
    def refuse(url: str, rh: str, seconds: int) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "ChangeMessageVisibility")

    monkeypatch.setattr(consumer, "change_visibility", refuse)
    # When the visibility change is refused (an expired receipt: the record is back in the queue already)
    response = consumer.consume(_event("a", "b"), None, _fail_b, queue_url="q", fifo=False, retry_base_s=5)
    # Then the record is still reported failed, and the log says so at the level the cause deserves
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    rows = [r for r in caplog.records if "backoff" in r.getMessage()]
    assert [r.levelname for r in rows] == [level]
