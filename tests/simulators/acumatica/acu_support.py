"""Fixtures: one Acumatica simulator per test module on a free port (reset before each test), a logged-in client,
and a webhook receiver that records push notifications."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
for extra in (ROOT / "local", ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from acu_sim_helpers import login  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from acumatica_sim import AcumaticaSimulator, SimConfig  # noqa: E402
from sim_common import ServerThread  # noqa: E402


class Receiver:
    """A webhook endpoint: records every POST (body + headers) and answers ``statuses`` in turn (then 200)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self._lock = threading.Lock()

        async def hook(request: Request) -> JSONResponse:
            body = await request.json()
            with self._lock:
                self.calls.append({"body": body, "headers": dict(request.headers)})
                status = self.statuses.pop(0) if self.statuses else self.default_status
            return JSONResponse({"ok": status < 300}, status_code=status)

        self.server = ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), name="receiver")
        self.url = ""

    def bodies(self, query: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [c["body"] for c in self.calls if query is None or c["body"]["Query"] == query]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.statuses.clear()
            self.default_status = 200


@pytest.fixture(scope="module")
def sim() -> Iterator[AcumaticaSimulator]:
    cfg = SimConfig()
    cfg.push.backoff_seconds = 0.01
    cfg.push.timeout_seconds = 2.0
    cfg.hang_seconds = 1.5
    cfg.verify_transactions = True  # every transaction is also checked against the whole-store algorithm
    s = AcumaticaSimulator(cfg)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    r = Receiver()
    r.url = r.server.start() + "/hook"
    yield r
    r.server.stop()


@pytest.fixture()
def acu(sim: AcumaticaSimulator) -> AcumaticaSimulator:
    sim.faults.clear()
    sim.set_limits(max_sessions=2, max_requests_per_minute=None, max_queue=20, delay_scale=1.0)
    sim.set_push_faults(duplicate_rate=0.0, drop_rate=0.0, split_pairs_rate=0.0, shuffle_window=0, seed=7)
    sim.push.resume()
    sim.set_push_destinations([])
    sim.reset()
    return sim


@pytest.fixture()
def receiver(acu: AcumaticaSimulator, receiver_server: Receiver) -> Receiver:
    receiver_server.clear()
    acu.set_push_destinations([{"name": "amsync", "url": receiver_server.url, "header_name": "X-AMSync-Key",
                                "header_value": "s3cret", "active": True}])
    return receiver_server


@pytest.fixture()
def client(acu: AcumaticaSimulator) -> Iterator[httpx.Client]:
    c = login(acu.url)
    yield c
    c.close()
