"""Fault injection for the simulators, configurable per route at run time.

A rule matches requests by method and path regex and can add latency (the request is read whole first, as a
web server buffers it before the application runs, so a request that outlives its client's timeout is still
processed, and a write committed, after the client gave up), answer an error status instead of
processing, hang past the client's timeout without processing (``timeout``), process the request and then hang
so the client never sees the committed answer (``drop_after_commit``), or hang past the client's timeout and
then process it (``commit_late``: the write lands after the client gave up, as PHP goes on once nginx or Varnish
has answered 504/503). Rates are probabilities
drawn from a seeded RNG; ``remaining`` limits a rule to the next N matching requests, ``skip`` lets the first N
matching requests through to the next rules untouched.

How long a ``timeout``, ``drop_after_commit`` or ``commit_late`` request is held is the injector's
``hang_seconds`` unless its rule says ``hang_ms`` (with ``hang_max_ms``: drawn per request, uniformly in
``[hang_ms, hang_max_ms]``); any length works, minutes included. A ``commit_late`` write is not processed at all
until its hang ends, so nothing of it is visible before (as a database transaction's rows are invisible to others
until it commits), and then it runs as any request would, unique checks included. Each one is logged in
``late_commits`` (when it arrived and landed, how long it was held, the status its answer had) so a harness can
tell which landed after a given moment.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

ErrorBody = Callable[[int], Response]


@dataclass
class FaultRule:
    path: str = ".*"
    method: str | None = None
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    error_statuses: list[int] = field(default_factory=list)  # if set, one is drawn per injected error
    retry_after: int | None = None  # Retry-After header on injected 429/503
    timeout_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    commit_late_rate: float = 0.0
    hang_ms: int | None = None  # how long timeout / drop_after_commit / commit_late hold a request (None: injector's)
    hang_max_ms: int | None = None  # with hang_ms: each request's hang drawn uniformly in [hang_ms, hang_max_ms]
    remaining: int | None = None
    skip: int = 0  # the first N matching requests pass on to the next rules untouched
    id: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class FaultInjector:
    """Holds the rules and counters; :meth:`middleware` wraps an ASGI app with them."""

    def __init__(self, error_body: ErrorBody, hang_seconds: float = 30.0, seed: int | None = None) -> None:
        self._error_body = error_body
        self.hang_seconds = hang_seconds
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_id = 1
        self.stats: dict[str, int] = {"latency": 0, "error": 0, "timeout": 0, "drop_after_commit": 0,
                                      "commit_late": 0}
        # Requests a rule matched that are not finished yet (a slow write still to commit, an answer going nowhere):
        # 0 tells a test that the faults have done all they will, where a sleep could only guess.
        self.in_progress = 0
        # One entry per commit_late request: rule, method, path, hang_s, arrived and landed (time.monotonic(); landed
        # None while held), status (of the answer that went nowhere).
        self.late_commits: list[dict[str, Any]] = []

    # -- configuration -------------------------------------------------------------------------------------
    def add(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        r = rule if isinstance(rule, FaultRule) else FaultRule(**rule)
        re.compile(r.path)
        if r.hang_max_ms is not None and (r.hang_ms is None or r.hang_max_ms < r.hang_ms):
            raise ValueError("hang_max_ms needs a hang_ms no greater than it")
        if (r.hang_ms is not None and r.hang_ms < 0) or r.skip < 0:
            raise ValueError("hang_ms and skip cannot be negative")
        with self._lock:
            r.id = self._next_id
            self._next_id += 1
            self._rules.append(r)
        return r

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def reset_stats(self) -> None:
        with self._lock:
            for k in self.stats:
                self.stats[k] = 0
            self.late_commits = [e for e in self.late_commits if e["landed"] is None]  # those still held stay

    def late_commits_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.late_commits]

    # -- decision --------------------------------------------------------------------------------------------
    def _decide(self, method: str, path: str) -> tuple[int, str | None, FaultRule | None]:
        """Return (latency_ms, fault kind or None, rule)."""
        if path.startswith("/_sim"):
            return 0, None, None
        with self._lock:
            for r in self._rules:
                if not r.matches(method, path):
                    continue
                if r.skip > 0:
                    r.skip -= 1
                    continue
                if r.remaining is not None:
                    if r.remaining <= 0:
                        continue
                    r.remaining -= 1
                kind = self._draw_kind(r)
                if r.latency_ms:
                    self.stats["latency"] += 1
                if kind:
                    self.stats[kind] += 1
                return r.latency_ms, kind, r
            self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
        return 0, None, None

    def _hang_of(self, r: FaultRule) -> float:
        """Seconds a held request of rule ``r`` waits."""
        if r.hang_ms is None:
            return self.hang_seconds
        if r.hang_max_ms is None:
            return r.hang_ms / 1000
        with self._lock:
            return self._rng.uniform(r.hang_ms, r.hang_max_ms) / 1000

    def _draw_kind(self, r: FaultRule) -> str | None:
        x = self._rng.random()
        for kind, rate in (("error", r.error_rate), ("timeout", r.timeout_rate),
                           ("drop_after_commit", r.drop_after_commit_rate), ("commit_late", r.commit_late_rate)):
            if x < rate:
                return kind
            x -= rate
        return None

    def middleware(self, app: ASGIApp) -> ASGIApp:
        injector = self

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            latency, kind, rule = injector._decide(scope["method"], scope["path"])
            if rule is None:
                await app(scope, receive, send)
                return
            with injector._lock:
                injector.in_progress += 1
            try:
                await faulted(scope, receive, send, latency, kind, rule)
            finally:
                with injector._lock:
                    injector.in_progress -= 1

        async def faulted(scope: Scope, receive: Receive, send: Send, latency: int, kind: str | None,
                          rule: FaultRule) -> None:
            if latency:
                receive = await _buffered(receive)
                await asyncio.sleep(latency / 1000)
            if kind == "error":
                status = injector._rng.choice(rule.error_statuses) if rule.error_statuses else rule.error_status
                response = injector._error_body(status)
                if rule.retry_after is not None and status in (429, 503):
                    response.headers["Retry-After"] = str(rule.retry_after)
                await response(scope, receive, send)
                return
            if kind == "timeout":
                await asyncio.sleep(injector._hang_of(rule))
                await Response(status_code=504)(scope, receive, send)
                return
            if kind == "commit_late":
                receive = await _buffered(receive)
                hang = injector._hang_of(rule)
                entry: dict[str, Any] = {"rule": rule.id, "method": scope["method"], "path": scope["path"],
                                         "hang_s": hang, "arrived": time.monotonic(), "landed": None, "status": None}
                with injector._lock:
                    injector.late_commits.append(entry)
                await asyncio.sleep(hang)
                status: list[int] = []
                try:
                    await app(scope, receive, _status_into(status))  # the client is gone: the answer goes nowhere
                finally:
                    with injector._lock:
                        entry["landed"], entry["status"] = time.monotonic(), (status or [None])[0]
                return
            if kind == "drop_after_commit":
                # Let the app commit, swallow its answer, then hang: the client times out on a done write.
                await app(scope, receive, _nowhere)
                await asyncio.sleep(injector._hang_of(rule))
                await Response(status_code=504)(scope, receive, send)
                return
            await app(scope, receive, send)

        return wrapped


async def _nowhere(message: Any) -> None:
    """An ASGI ``send`` that drops the answer."""


def _status_into(status: list[int]) -> Send:
    """An ASGI ``send`` that drops the answer but notes its status."""
    async def send(message: Any) -> None:
        if message.get("type") == "http.response.start":
            status.append(int(message["status"]))
    return send


async def _buffered(receive: Receive) -> Receive:
    """Read the request body now; the returned ``receive`` replays it, then reports what the client did since."""
    messages: list[Any] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return replay
