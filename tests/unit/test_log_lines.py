"""The connector's CloudWatch lines: one compact line per connector log entry, without what Lambda's own lines say."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amsync.models.log import DIRECTION_M2A, Action, Group, LogEntry, Result, Side
from amsync.observability import MESSAGE_MAX, RAW_HEAD, echo_log_entry, logger


@contextmanager
def connector_logger_to_stdout() -> Iterator[None]:
    """The connector's own logger writing to the stdout capsys captures now (as test_redact.py does)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    before, handler.stream = handler.stream, sys.stdout
    try:
        yield
    finally:
        handler.stream = before


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def fresh_logger_keys() -> Iterator[None]:
    """No key another test appended (a consumer's message_id) on these lines, none of ours left after."""
    logger.clear_state()
    yield
    logger.clear_state()


@pytest.fixture
def in_an_invocation() -> None:
    """The keys Powertools' inject_lambda_context appends, as in a function's invocation."""
    logger.append_keys(cold_start=False, function_name="amsync-OrderSyncFunction", function_memory_size=256,
                       function_arn="arn:aws:lambda:us-east-1:123456789012:function:amsync-OrderSyncFunction",
                       function_request_id="0dfdf127-7b3d-4778-a200-956deb3b4757", correlation_id="SO/SOTL1")


def test_a_raw_push_is_one_line_with_the_masked_head_of_its_post(capsys: pytest.CaptureFixture[str],
                                                                  in_an_invocation: Any) -> None:
    # Given a raw push of 2,000 characters whose e-mail straddles the head's end
    prefix = '{"Inserted":[{"OrderNbr":"SOTL1","Note":"' + "n" * (RAW_HEAD - 60) + '",'
    post = prefix + '"Email":"jane.doe@example.com","Phone1":"+1 555 010 2030",' + '"x":"' + "y" * 2000 + '"}]}'
    entry = LogEntry(side=Side.ACUMATICA, action_type="Order Sync", message=post[:2000], entity_key="SOTL1",
                     correlation_id="SO/SOTL1", details={"push": {"Inserted": []}})
    with connector_logger_to_stdout():
        echo_log_entry(entry)
    [line] = _lines(capsys)
    out = json.dumps(line)
    # Then the line keeps the head of the post, masked before it was cut, and the grid's columns that are set
    fields = line["connector_log"]
    assert len(fields["message"]) == RAW_HEAD + 3 and fields["message"].startswith(prefix[:40])
    assert "jane" not in out and "555 010" not in out and "yyyy" not in out
    assert fields == {"side": "A", "log_id": entry.log_id, "start_time": entry.start_time.isoformat(),
                      "action_type": "Order Sync", "entity_key": "SOTL1", "message": fields["message"]}
    # and nothing Lambda's own lines or the log group already say (the correlation id is the line's own key)
    assert set(line) == {"level", "message", "timestamp", "correlation_id", "connector_log"}
    assert len(out) < 600


def test_a_sync_action_keeps_its_message_to_a_bound_and_what_is_not_its_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Given a customer's failed sync to Acumatica with a long message, outside any correlation key
    message = "Acumatica refused the customer: " + "CustomerClass is not valid. " * 60
    started = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    entry = LogEntry(side=Side.MAGENTO, group=Group.CUSTOMER, action=Action.CREATE, result=Result.FAILURE,
                     direction=DIRECTION_M2A, notes="42", entity_key="42", message=message, correlation_id="c-42",
                     start_time=started, complete_time=started + timedelta(milliseconds=712.5), latency_ms=12.5,
                     details={"request": {"CustomerID": "C42"}})
    with connector_logger_to_stdout():
        echo_log_entry(entry)
    [line] = _lines(capsys)
    fields = line["connector_log"]
    assert fields["message"] == message[:MESSAGE_MAX] + "..." and fields["direction"] == DIRECTION_M2A
    assert fields["took_ms"] == 712.5 and fields["latency_ms"] == 12.5 and fields["result"] == "Failure"
    # and its correlation id is the line's own (what the saved query "one-order-timeline" filters on)
    assert line["correlation_id"] == "c-42"
    assert not {"details", "level", "action_type", "complete_time", "entity_id", "entity_key",
                "correlation_id"} & set(fields)


def test_warnings_keep_the_request_id_and_location_info_lines_do_not(capsys: pytest.CaptureFixture[str],
                                                                     in_an_invocation: Any) -> None:
    with connector_logger_to_stdout():
        logger.info("record handed back for time: it comes back at once")
        logger.warning("record failed; it comes back after its backoff", extra={"error": "timeout"})
    info, warning = _lines(capsys)
    assert set(info) == {"level", "message", "timestamp", "correlation_id"}
    assert warning["function_request_id"] == "0dfdf127-7b3d-4778-a200-956deb3b4757" and "location" in warning
    assert not {"function_arn", "function_name", "function_memory_size", "cold_start", "service"} & set(warning)
