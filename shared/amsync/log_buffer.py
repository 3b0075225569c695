"""A push-fed consumer's connector-log rows of one invocation, written together at its end.

The queue consumers fed by pushes (order sync, fulfilment, inventory) log through a ``LogBuffer``: during an
invocation (``run``) the rows are kept, with the intake rows the records carry (``carry``: the raw post and its
Publisher rows, which the webhook no longer writes), and written at its end in one request (a BatchWriteItem per 25
items; a single item is one PutItem). Rows are keyed by side and log id: a row carried twice in one invocation (a
message delivered twice) is written once, and a redelivered message rewrites the same rows (their ids were fixed
at intake). If the write fails the invocation fails: SQS delivers its records again and the consumers, idempotent,
log them again. Outside an invocation (a CLI or a test calling a service directly) rows are written at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TypeVar

from amsync.models.log import LogEntry
from amsync.models.messages import SyncRequest

T = TypeVar("T")


class LogBuffer:
    def __init__(self, write: Callable[[list[LogEntry]], None]) -> None:
        self._write = write
        self._rows: dict[tuple[str, str], LogEntry] | None = None  # None: no invocation running

    def __call__(self, entries: list[LogEntry]) -> None:
        """The ``log`` port: kept until the invocation ends (written at once outside one)."""
        if self._rows is None:
            if entries:
                self._write(list(entries))
            return
        for e in entries:
            self._rows[(e.side.value, e.log_id)] = e

    def carry(self, requests: Iterable[SyncRequest]) -> None:
        """The intake rows the requests carry, written with this invocation's rows."""
        self([e for r in requests for e in r.intake_log])

    def run(self, invocation: Callable[[], T]) -> T:
        """Run one invocation, keeping its rows, then write them in one request. A failed write raises (the
        invocation fails; its records come back). If the invocation itself raised, its rows are still written
        (best effort) and its own error is the one raised."""
        self._rows = {}
        try:
            result = invocation()
        except BaseException:
            with contextlib.suppress(Exception):
                self._flush()
            raise
        self._flush()
        return result

    def _flush(self) -> None:
        rows, self._rows = list((self._rows or {}).values()), None
        if rows:
            self._write(rows)
