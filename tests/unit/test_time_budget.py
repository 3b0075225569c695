"""Handlers keep inside their invocation's time (issue 12, Lambda's limits): the consumer starts a record only while
a record's budget is left and hands the rest back without spending their way to the DLQ; the API clients send no
call and sleep no retry that cannot finish in time; the seat wait leaves time for the login."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from amsync import consumer
from amsync.adapters.errors import OutOfTime, ServerError
from amsync.adapters.http import retrying, send
from amsync.data import seats
from amsync.data.seats import NoSeat, SeatPool
from amsync.deadline import Deadline


class Clock:
    """A Lambda context whose remaining time the test sets."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _event(*records: tuple[str, int, str]) -> dict[str, Any]:
    """(message id, receive count, FIFO group) per record."""
    return {"Records": [{"messageId": mid, "receiptHandle": f"rh-{mid}", "body": f'{{"id": "{mid}"}}',
                         "attributes": {"ApproximateReceiveCount": str(count), "MessageGroupId": group},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q.fifo", "awsRegion": "us-east-1"}
                        for mid, count, group in records]}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"hidden": [], "resent": [], "dlq_rows": []}
    monkeypatch.setattr(consumer, "change_visibility", lambda url, rh, s: seen["hidden"].append((rh, s)))

    def resend(url: str, recs: list[dict[str, Any]]) -> dict[str, str | None]:
        seen["resent"].append([r["messageId"] for r in recs])
        return {r["messageId"]: None for r in recs}

    monkeypatch.setattr(consumer, "resend", resend)
    return seen


def _give_up(seen: dict[str, list[Any]]) -> consumer.GiveUp:
    return consumer.GiveUp(max_receives=5, dlq="MagentoOrderDLQ", record=lambda body, what: seen["dlq_rows"].append(
        (body, what)))


def test_records_that_cannot_start_in_time_are_handed_back_at_once_with_the_reason(
        sqs: dict[str, list[Any]], caplog: pytest.LogCaptureFixture) -> None:
    # Given an invocation with 10 s left, a record budget of 2 s and 1 s kept for the invocation's end
    ctx = Clock(10_000)
    handled: list[str] = []

    def handle(record: Any) -> None:
        handled.append(record.message_id)
        ctx.remaining_ms = 2_500  # the first record took 7.5 s

    # When three records of different orders come in one batch
    response = consumer.consume(_event(("a", 1, "A"), ("b", 1, "B"), ("c", 2, "C")), ctx, handle, queue_url="q.fifo",
                                fifo=True, retry_base_s=5, give_up=_give_up(sqs), deadline=Deadline(reserve_s=1.0),
                                record_s=2.0)
    # Then only the first ran; the others are handed back, visible again at once, and nothing goes toward a DLQ row
    assert handled == ["a"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}
    assert sqs["hidden"] == [("rh-b", 0), ("rh-c", 0)] and sqs["resent"] == [] and sqs["dlq_rows"] == []
    # and the log line of each says why
    lines = [r for r in caplog.records if r.getMessage().startswith("record handed back for time")]
    assert [getattr(r, "reason", None) for r in lines] == [
        "not started: 2500 ms left of the invocation, a record needs up to 3000 ms"] * 2


def test_on_its_last_receive_a_record_handed_back_for_time_is_resent_with_its_group_not_sent_to_the_dlq(
        sqs: dict[str, list[Any]], caplog: pytest.LogCaptureFixture) -> None:
    # Given a FIFO batch where time runs out after the first record: b is on its 5th (last) receive, c is behind it
    # in the same order's group, d is another order on its 2nd receive
    ctx = Clock(10_000)

    def handle(record: Any) -> None:
        ctx.remaining_ms = 500

    response = consumer.consume(_event(("a", 1, "A"), ("b", 5, "B"), ("c", 3, "B"), ("d", 2, "D")), ctx, handle,
                                queue_url="q.fifo", fifo=True, retry_base_s=5, give_up=_give_up(sqs),
                                deadline=Deadline(reserve_s=1.0), record_s=2.0)
    # Then b and c are re-sent in their order, as new messages, and reported done (their originals are deleted);
    # d comes back at once; no Failure row for a DLQ is written
    assert sqs["resent"] == [["b", "c"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": "d"}]}
    assert sqs["hidden"] == [("rh-d", 0)] and sqs["dlq_rows"] == []
    resent = [r for r in caplog.records if "re-sent to its queue as a new message" in r.getMessage()]
    assert [getattr(r, "message_id", None) for r in resent] == ["b", "c"]


def test_a_call_that_cannot_be_sent_hands_its_record_back_but_the_first_record_of_an_invocation_fails(
        sqs: dict[str, list[Any]]) -> None:
    # Given two records whose calls cannot be sent for lack of time
    def handle(record: Any) -> None:
        raise OutOfTime("Magento", "create order", "not sent: 900 ms left of the invocation, a call needs up to "
                        "2000 ms")

    # When they are handled
    response = consumer.consume(_event(("a", 1, "A"), ("b", 1, "B")), Clock(30_000), handle, queue_url="q.fifo",
                                fifo=True, retry_base_s=5, give_up=_give_up(sqs), deadline=Deadline(reserve_s=1.0),
                                record_s=2.0)
    # Then both come back, but only b as handed back for time (at once); a had the whole invocation: a failure
    # with its backoff, so a record too big for any invocation ends in the DLQ with its reason, not in a loop
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    hidden = dict(sqs["hidden"])
    assert hidden["rh-b"] == 0 and hidden["rh-a"] >= 1


def test_a_record_whose_resend_fails_on_its_last_receive_goes_to_the_dlq_with_both_reasons(
        sqs: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "resend", lambda url, recs: {r["messageId"]: "AccessDenied: no" for r in recs})
    ctx = Clock(10_000)

    def handle(record: Any) -> None:
        ctx.remaining_ms = 500

    response = consumer.consume(_event(("a", 1, "A"), ("b", 5, "B")), ctx, handle, queue_url="q.fifo", fifo=True,
                                retry_base_s=5, give_up=_give_up(sqs), deadline=Deadline(reserve_s=1.0),
                                record_s=2.0)
    # Then it is failed (its DLQ takes it), and the row says it was handed back for time and why the re-send failed
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    [(body, what)] = sqs["dlq_rows"]
    assert body == '{"id": "b"}' and "handed back for time (not started: 500 ms left" in what
    assert "could not be re-sent as a new message: AccessDenied: no" in what


def _counting_client(timeout_s: float, answers: list[int]) -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(answers.pop(0) if answers else 200, json={})

    return httpx.Client(base_url="http://magento.test", transport=httpx.MockTransport(reply),
                        timeout=httpx.Timeout(timeout_s, connect=1.0)), sent


def test_a_call_whose_timeout_does_not_fit_in_the_time_left_is_not_sent() -> None:
    # Given a client whose calls may take 5 s, in an invocation with 4 s left (1 s of it kept for its end)
    client, sent = _counting_client(5.0, [])
    deadline = Deadline(reserve_s=1.0)
    with deadline.running(Clock(4_000)):
        # When a call is asked for, Then it is refused before anything leaves, saying why
        with pytest.raises(OutOfTime, match="not sent: 4000 ms left of the invocation, a call needs up to 6000 ms"):
            send(client, "Magento", "create order", "PUT", "/rest/V1/orders/create", deadline=deadline)
    assert sent == []
    # and with the time back (a new invocation) it is sent
    with deadline.running(Clock(30_000)):
        assert send(client, "Magento", "create order", "PUT", "/rest/V1/orders/create", deadline=deadline)
    assert len(sent) == 1


class _Reader:
    def __init__(self, deadline: Deadline, answers: list[int]) -> None:
        self.deadline = deadline
        self._http, self.sent = _counting_client(1.0, answers)
        self.call_timeout_s = 1.0

    @retrying(attempts=3)
    def read(self) -> int:
        resp = send(self._http, "Magento", "get order", "GET", "/rest/V1/orders/1", deadline=self.deadline)
        if resp.status_code >= 500:
            raise ServerError("Magento", "get order", "busy", status=503, retry_after=1.0)
        return resp.status_code


def test_a_retry_whose_wait_and_call_do_not_fit_in_the_time_left_is_not_made() -> None:
    # Given a read that Magento answers 503 (Retry-After: 1 s) and would answer next time, with 1.5 s left
    deadline = Deadline(reserve_s=0.0)
    reader = _Reader(deadline, [503, 200])
    with deadline.running(Clock(1_500)):
        # When it is read, Then the 503 is given up on at once (1 s wait + a 1 s call > 1.5 s): no sleep into the
        # deadline, one request only
        with pytest.raises(ServerError):
            reader.read()
    assert len(reader.sent) == 1
    # while with time enough the same read is retried and succeeds
    reader = _Reader(deadline, [503, 200])
    with deadline.running(Clock(30_000)):
        assert reader.read() == 200
    assert len(reader.sent) == 2


def test_the_seat_wait_leaves_the_invocation_time_for_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given every seat is held, a pool that may wait 10 s, and an invocation with 1.2 s left of which the login
    # after the wait needs 1 s
    tries: list[int] = []

    def no_seat(self: SeatPool) -> int:
        tries.append(1)
        raise NoSeat("all 2 Acumatica API seats are in use")

    monkeypatch.setattr(SeatPool, "_try_acquire", no_seat)
    monkeypatch.setattr(seats.time, "sleep", lambda s: None)
    deadline = Deadline(reserve_s=0.0)
    pool = SeatPool("bindings", 2, lease_s=300, wait_s=10.0, deadline=deadline, then_s=1.0)
    with deadline.running(Clock(1_200)), pytest.raises(NoSeat) as caught:
        pool.acquire()
    # Then it gives up within the 0.2 s it has, as a wait cut short by the deadline (not a licence failure)
    assert caught.value.cut_short and "the invocation had no more time" in str(caught.value)
