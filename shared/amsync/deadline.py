"""The time an invocation has left, as the API clients and the licence seat pool see it.

One ``Deadline`` per container (one invocation runs at a time in a container), handed to the clients when they are
built and set by the queue consumer for the length of each invocation from what the Lambda context says is left.
Outside an invocation (the CLI, unit tests, a scheduled function that does not set it) it is unset: no limit.

``reserve_s`` is kept back from every invocation for its end (failed records' visibility, re-sends, giving the
Acumatica seat back): nothing started inside the invocation may eat into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Deadline:
    def __init__(self, reserve_s: float = 1.0) -> None:
        self.reserve_s = reserve_s
        self._remaining_ms: Callable[[], int] | None = None
        self._reserve_s = reserve_s

    @contextmanager
    def running(self, context: Any, *, reserve: bool = True) -> Iterator[None]:
        """For the duration: the time left is what ``context.get_remaining_time_in_millis()`` says, less the
        reserve (``reserve=False``: the reserve may be spent, for the invocation's own end). No effect for a
        context without a clock. Nests: the previous setting comes back on exit."""
        clock = getattr(context, "get_remaining_time_in_millis", None)
        saved = self._remaining_ms, self._reserve_s
        if callable(clock):
            self._remaining_ms, self._reserve_s = clock, (self.reserve_s if reserve else 0.0)
        try:
            yield
        finally:
            self._remaining_ms, self._reserve_s = saved

    def remaining_ms(self) -> int | None:
        """What the invocation has left in all (reserve included); None outside an invocation."""
        return None if self._remaining_ms is None else int(self._remaining_ms())

    def kept_ms(self) -> int:
        """The part of the remaining time that is kept back for the invocation's end."""
        return round(self._reserve_s * 1000)

    def left_s(self) -> float | None:
        """Seconds that may still be spent (the reserve deducted); None: no limit."""
        ms = self.remaining_ms()
        return None if ms is None else ms / 1000 - self._reserve_s

    def fits(self, seconds: float) -> bool:
        left = self.left_s()
        return left is None or seconds <= left

    def budget(self, wanted_s: float, then_s: float = 0.0) -> float:
        """How long something that would take ``wanted_s`` may take, leaving ``then_s`` for what must follow."""
        left = self.left_s()
        return wanted_s if left is None else max(0.0, min(wanted_s, left - then_s))

    def shortfall(self, need_s: float, what: str) -> str:
        """The words for "not enough time": ``N ms left of the invocation, <what> needs up to M ms`` (M counts the
        reserve too: what the invocation would need to have left to do it)."""
        return (f"{self.remaining_ms() or 0} ms left of the invocation, {what} needs up to "
                f"{round(need_s * 1000) + self.kept_ms()} ms")
