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
    rows = [r for r in caplog.records if "backoff" in r.getMessage() and "record failed" not in r.getMessage()]
    assert [r.levelname for r in rows] == [level]


def test_the_last_receive_before_the_dlq_logs_why_for_the_record_and_for_those_held_behind_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hidden: list[tuple[str, int]] = []
    monkeypatch.setattr(consumer, "change_visibility", lambda url, rh, s: hidden.append((rh, s)))
    rows: list[tuple[str, str]] = []
    give_up = consumer.GiveUp(max_receives=5, dlq="OrderDLQ", record=lambda body, what: rows.append((body, what)))
    event = _event("a", "b", "c")
    for rec, count in zip(event["Records"], ("4", "5", "5"), strict=True):
        rec["attributes"].update(ApproximateReceiveCount=count, MessageGroupId="SO/1")
        rec["body"] = f'{{"id": "{rec["messageId"]}"}}'

    def fail_all(record: Any) -> None:
        raise RateLimited("Acumatica", "get order", "API Login Limit", status=429)

    # When a FIFO batch of one order fails: the first record on its 4th receive, two more (never tried) on their 5th
    response = consumer.consume(event, None, fail_all, queue_url="q", fifo=True, retry_base_s=5, give_up=give_up)
    # Then all three are failed; the ones on their last receive write why, and go to the DLQ without a backoff
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["a", "b", "c"]
    assert [body for body, _ in rows] == ['{"id": "b"}', '{"id": "c"}']
    assert all(what.startswith("failed 5 times, goes to OrderDLQ; last error: ") for _, what in rows)
    assert all("not tried: held back behind a failed record" in what for _, what in rows)
    assert [s for rh, s in hidden if rh in ("rh-b", "rh-c")] == [0, 0] and dict(hidden)["rh-a"] >= 1


def test_a_record_that_fails_on_its_last_receive_logs_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "change_visibility", lambda url, rh, s: None)
    rows: list[str] = []
    give_up = consumer.GiveUp(max_receives=2, dlq="MagentoOrderDLQ", record=lambda body, what: rows.append(what))
    # When a record fails with Magento's words on its 2nd receive (the queue's last)
    consumer.consume(_event("b"), None, _fail_b, queue_url="q", fifo=False, retry_base_s=5, give_up=give_up)
    # Then the row carries that error
    assert rows == ["failed 2 times, goes to MagentoOrderDLQ; last error: RateLimited: Magento create: slow down "
                    "(HTTP 429)"]
