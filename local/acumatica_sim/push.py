"""Push-notification emitter: per-transaction row diffs delivered to webhook destinations.

Delivery is asynchronous (worker threads, commit order with one worker), at least once: up to ``max_attempts``
POSTs per destination on a non-2xx answer, a timeout or a connection error, with ``backoff*attempt`` sleeps.
Exhausted notifications go to the failed store (kept ``failed_retention_seconds`` of simulated time).
Each destination lists the inquiries it is sent and, per inquiry, its tracked fields, as on SM302000's Generic
Inquiries tab: *Track All Fields* (``None``, also every inquiry when a destination lists none) or a field list, and
then an update fires only when a listed field changes (a row that appears or goes away always fires); the rows
still carry every column. ``sent`` keeps what was built for each destination (every change when none is set).
Chaos options (seeded): duplicate, drop (lost silently: neither delivered nor in the failed store), split an
update's Deleted/Inserted halves into two POSTs, and shuffle (a new message may overtake queued ones).
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from acumatica_sim.clock import Clock, dotnet_ticks
from acumatica_sim.config import TENANT, PushFaults, PushSettings
from acumatica_sim.queries import PAD_WIDTH, QUERIES, QueryDef, Row
from acumatica_sim.values import to_push_scalar


@dataclass
class Destination:
    name: str
    url: str
    header_name: str | None = None
    header_value: str | None = None
    active: bool = True
    # inquiry name -> tracked fields (None: Track All Fields); None: every inquiry, all fields tracked
    queries: dict[str, list[str] | None] | None = None

    def __post_init__(self) -> None:
        if self.queries is None:
            return
        known = {q.name: q for q in QUERIES}
        for name, fields in self.queries.items():
            if name not in known:
                raise ValueError(f"destination {self.name!r}: unknown inquiry {name!r} (known: {', '.join(known)})")
            unknown = [f for f in fields or [] if f not in known[name].columns]
            if unknown:
                raise ValueError(f"destination {self.name!r}: inquiry {name!r} has no column {', '.join(unknown)}")
            if fields is not None and not fields:
                raise ValueError(f"destination {self.name!r}: inquiry {name!r} tracks no field (None tracks all)")

    def rows_for(self, q: QueryDef, inserted: list[Row], deleted: list[Row]) -> tuple[list[Row], list[Row]]:
        """The diff this destination is sent for inquiry ``q``: nothing when it does not list it; with tracked
        fields, the update pairs whose tracked fields are unchanged left out."""
        if self.queries is None:
            return inserted, deleted
        if q.name not in self.queries:
            return [], []
        fields = self.queries[q.name]
        if fields is None:
            return inserted, deleted
        before, after = q.keyed(deleted), q.keyed(inserted)
        quiet = {k for k, row in after.items() if k in before and all(row.get(f) == before[k].get(f) for f in fields)}
        return ([r for k, r in after.items() if k not in quiet], [r for k, r in before.items() if k not in quiet])


@dataclass
class Delivery:
    """One message to one destination (the unit of retry)."""

    body: dict[str, Any]
    destination: Destination
    log: dict[str, Any] = field(default_factory=dict)


def render_row(row: Row, padded: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        val = to_push_scalar(v)
        if k in padded and isinstance(val, str):
            val = val.ljust(PAD_WIDTH.get(k, len(val)))
        out[k] = val
    return out


class PushEmitter:
    """Builds notifications from row diffs and delivers them on background threads."""

    def __init__(self, clock: Clock, settings: PushSettings, faults: PushFaults) -> None:
        self.clock = clock
        self.settings = settings
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._cond = threading.Condition()
        self._queue: deque[Delivery] = deque()
        self._in_flight = 0
        self._paused = False
        self._stop = False
        self.destinations: list[Destination] = []
        self.failed: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # every message built (before faults), for tests
        self._threads: list[threading.Thread] = []
        self._client = httpx.Client(timeout=settings.timeout_seconds)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop = False
        for i in range(max(1, self.settings.workers)):
            t = threading.Thread(target=self._work, name=f"acu-push-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        self._client.close()

    # -- configuration ---------------------------------------------------------------------------------------
    def set_destinations(self, dests: list[dict[str, Any]] | list[Destination]) -> None:
        with self._cond:
            self.destinations = [d if isinstance(d, Destination) else Destination(**d) for d in dests]

    def set_faults(self, **kw: Any) -> PushFaults:
        with self._cond:
            for k, v in kw.items():
                if not hasattr(self.faults, k):
                    raise ValueError(f"unknown push fault option {k!r}")
                setattr(self.faults, k, type(getattr(self.faults, k))(v))
            if "seed" in kw:
                self._rng = random.Random(self.faults.seed)
            return self.faults

    def set_settings(self, **kw: Any) -> None:
        with self._cond:
            for k, v in kw.items():
                if not hasattr(self.settings, k):
                    raise ValueError(f"unknown push setting {k!r}")
                setattr(self.settings, k, type(getattr(self.settings, k))(v))
            self._client.timeout = httpx.Timeout(self.settings.timeout_seconds)

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    # -- building ---------------------------------------------------------------------------------------------
    def publish(self, diffs: dict[str, tuple[list[Row], list[Row]]], commit_time: datetime) -> list[dict[str, Any]]:
        """Queue one notification per changed inquiry and destination (called at commit, in commit order); a
        notification's Id is the transaction's, per inquiry (the same for every destination)."""
        ticks = dotnet_ticks(commit_time)
        info = {"PXPerformanceInfoStartTime": commit_time.strftime("%m/%d/%Y %H:%M:%S")}
        ids = {q.name: str(uuid.uuid4()) for q in QUERIES}

        def message(q: QueryDef, inserted: list[Row], deleted: list[Row]) -> dict[str, Any]:
            return {"Inserted": [render_row(r, q.padded) for r in inserted],
                    "Deleted": [render_row(r, q.padded) for r in deleted],
                    "Query": q.name, "CompanyId": TENANT, "Id": ids[q.name], "TimeStamp": ticks,
                    "AdditionalInfo": dict(info)}

        built: list[dict[str, Any]] = []
        with self._cond:
            active = [d for d in self.destinations if d.active]
            for q in QUERIES:
                inserted, deleted = diffs.get(q.name, ([], []))
                if not inserted and not deleted:
                    continue
                if not active:
                    built.append(message(q, inserted, deleted))
                for d in active:
                    ins, dels = d.rows_for(q, inserted, deleted)
                    if ins or dels:
                        m = message(q, ins, dels)
                        built.append(m)
                        self._enqueue_with_faults(m, d)
            self.sent.extend(built)
            self._cond.notify_all()
        return built

    def _enqueue_with_faults(self, msg: dict[str, Any], dest: Destination) -> None:
        f = self.faults
        if f.drop_rate and self._rng.random() < f.drop_rate:
            self.log.append(self._log_entry(msg, dest, state="dropped"))
            return
        parts = [msg]
        if msg["Inserted"] and msg["Deleted"] and f.split_pairs_rate and self._rng.random() < f.split_pairs_rate:
            first = {**copy.deepcopy(msg), "Inserted": []}
            second = {**copy.deepcopy(msg), "Deleted": []}
            if not f.split_same_id:
                second["Id"] = str(uuid.uuid4())
            parts = [first, second]
        if f.duplicate_rate and self._rng.random() < f.duplicate_rate:
            parts = parts + [copy.deepcopy(p) for p in parts]
        for p in parts:
            entry = self._log_entry(p, dest, state="pending", split=len(parts) > 1 and p is not msg)
            self.log.append(entry)
            self._insert(Delivery(p, dest, entry))

    def _insert(self, d: Delivery) -> None:
        w = self.faults.shuffle_window
        if w > 1 and self._queue:
            lo = max(0, len(self._queue) - (w - 1))
            self._queue.insert(self._rng.randint(lo, len(self._queue)), d)
        else:
            self._queue.append(d)

    @staticmethod
    def _log_entry(msg: dict[str, Any], dest: Destination, state: str, split: bool = False) -> dict[str, Any]:
        return {"id": msg["Id"], "query": msg["Query"], "destination": dest.name, "attempts": 0, "last_status": None,
                "state": state, "split": split, "inserted": len(msg["Inserted"]), "deleted": len(msg["Deleted"])}

    # -- delivery ------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (self._paused or not self._queue):
                    self._cond.wait(0.2)
                if self._stop:
                    return
                d = self._queue.popleft()
                self._in_flight += 1
            try:
                self._deliver(d)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _deliver(self, d: Delivery) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if d.destination.header_name:
            headers[d.destination.header_name] = d.destination.header_value or ""
        for attempt in range(1, self.settings.max_attempts + 1):
            d.log["attempts"] = attempt
            try:
                r = self._client.post(d.destination.url, json=d.body, headers=headers)
                d.log["last_status"] = r.status_code
                if 200 <= r.status_code < 300:
                    d.log["state"] = "delivered"
                    return
            except httpx.HTTPError as e:
                d.log["last_status"] = type(e).__name__
            if attempt < self.settings.max_attempts and not self._stop:
                time.sleep(self.settings.backoff_seconds * attempt)
        d.log["state"] = "failed"
        with self._cond:
            self.failed.append({"id": d.body["Id"], "query": d.body["Query"], "destination": d.destination.name,
                                "failed_at": self.clock.now(), "attempts": d.log["attempts"],
                                "last_status": d.log["last_status"], "body": d.body, "_dest": d.destination})

    # -- failed store ----------------------------------------------------------------------------------------------
    def failed_list(self) -> list[dict[str, Any]]:
        with self._cond:
            cutoff = self.clock.now().timestamp() - self.settings.failed_retention_seconds
            self.failed = [f for f in self.failed if f["failed_at"].timestamp() >= cutoff]
            return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in f.items() if k != "_dest"}
                    for f in self.failed]

    def resend_failed(self) -> int:
        """"Send All" on SM502000: requeue every kept failed notification."""
        self.failed_list()
        with self._cond:
            items, self.failed = self.failed, []
            for f in items:
                entry = self._log_entry(f["body"], f["_dest"], state="pending")
                entry["resend"] = True
                self.log.append(entry)
                self._queue.append(Delivery(f["body"], f["_dest"], entry))
            self._cond.notify_all()
            return len(items)

    def delete_failed(self) -> int:
        with self._cond:
            n, self.failed = len(self.failed), []
            return n

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and nothing is in flight (False on timeout or while paused with work)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self.failed.clear()
            self.log.clear()
            self.sent.clear()

    def log_view(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(e) for e in self.log]
