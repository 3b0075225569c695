"""The push-fed consumers' log buffer (amsync.log_buffer): one log write per invocation, the intake rows included."""

from __future__ import annotations

import pytest

from amsync.log_buffer import LogBuffer
from amsync.models.log import Action, LogEntry, Result, Side
from amsync.models.messages import Kind, SyncRequest


def _carrying(key: str, *log_ids: str) -> SyncRequest:
    rows = [LogEntry(side=Side.ACUMATICA if n == 0 and len(log_ids) > 1 else Side.MAGENTO, log_id=i,
                     action=None if n == 0 and len(log_ids) > 1 else Action.PUBLISHER) for n, i in enumerate(log_ids)]
    return SyncRequest(kind=Kind.ORDER, key=key, correlation_id=key, intake_log=rows)


class Writes:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[LogEntry]] = []
        self.fail = fail

    def __call__(self, entries: list[LogEntry]) -> None:
        if self.fail:
            raise RuntimeError("DynamoDB is throttling")
        self.calls.append(entries)


def test_an_invocation_writes_its_rows_and_the_carried_ones_once_at_its_end() -> None:
    writes = Writes()
    log = LogBuffer(writes)
    first = _carrying("SO/SOT1", "1742462544500000123", "1742462544500001456")
    again = first  # the same message delivered twice in one batch (a standard queue may)
    other = _carrying("SO/SOT2", "1742462544600001789")
    outcome = LogEntry(side=Side.MAGENTO, result=Result.SKIPPED, message="unpaid")

    def invocation() -> str:
        log.carry([first])
        log([outcome])
        log.carry([again, other])
        assert writes.calls == []  # nothing written during the invocation
        return "done"

    assert log.run(invocation) == "done"
    # Then one write, each row once (by side and log id), in the order first seen
    [written] = writes.calls
    assert [(e.side, e.log_id) for e in written] == [
        (Side.ACUMATICA, "1742462544500000123"), (Side.MAGENTO, "1742462544500001456"),
        (Side.MAGENTO, outcome.log_id), (Side.MAGENTO, "1742462544600001789")]
    # and the next invocation starts empty: one that logs nothing writes nothing
    assert log.run(lambda: None) is None and len(writes.calls) == 1


def test_a_failed_write_fails_the_invocation_so_its_records_come_back() -> None:
    log = LogBuffer(Writes(fail=True))
    with pytest.raises(RuntimeError, match="throttling"):
        log.run(lambda: log.carry([_carrying("SO/SOT1", "1742462544500000123")]))


def test_an_invocation_that_raises_still_writes_its_rows_and_raises_its_own_error() -> None:
    writes = Writes()
    log = LogBuffer(writes)

    def invocation() -> None:
        log.carry([_carrying("SO/SOT1", "1742462544500000123")])
        raise ValueError("handler bug")

    with pytest.raises(ValueError, match="handler bug"):
        log.run(invocation)
    assert [e.log_id for e in writes.calls[0]] == ["1742462544500000123"]


def test_outside_an_invocation_rows_are_written_at_once() -> None:
    writes = Writes()
    log = LogBuffer(writes)
    row = LogEntry(side=Side.MAGENTO, message="from the CLI")
    log([row])
    log([])
    assert writes.calls == [[row]]
