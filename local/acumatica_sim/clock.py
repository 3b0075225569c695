"""Injectable clock: real UTC time plus an offset that tests advance instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """``now()`` = wall clock + offset; ``advance(seconds)`` moves it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start - datetime.now(UTC)
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            t = datetime.now(UTC) + self._offset
            if t <= self._last:  # strictly increasing, so commit timestamps order transactions
                t = self._last + timedelta(microseconds=1)
            self._last = t
            return t

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def monotonic(self) -> float:
        return self.now().timestamp()


DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def dotnet_ticks(t: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01) of ``t``."""
    delta = t - DOTNET_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
