"""Log lines under a flood: which of a stream of like events get one, and how many went without."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class FloodSampler:
    """The first ``burst`` events of each ``window_s`` get a line, then one in ``every``. ``admit`` returns None
    for an event that gets none, else how many got none since the last line (so the lines still account for the
    whole stream). One per container: a flood of junk posts costs a few lines a minute, not one each."""

    def __init__(self, burst: int = 20, every: int = 100, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.every, self.window_s, self._clock = burst, every, window_s, clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._in_window = 0
        self._suppressed = 0

    def admit(self) -> int | None:
        with self._lock:
            now = self._clock()
            if self._window_start is None or now - self._window_start >= self.window_s:
                self._window_start, self._in_window = now, 0
            self._in_window += 1
            beyond = self._in_window - self.burst
            if beyond > 0 and beyond % self.every:
                self._suppressed += 1
                return None
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed
