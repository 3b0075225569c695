"""What the benchmark counts with, all read in the run itself:

- :class:`ApiCalls`: every HTTP request a function sends to Acumatica or Magento (retries and logins included),
  seen at httpx's transport in this process and attributed to the function whose thread sent it (the local
  runtime marks each invocation's thread with the function's role: ``amsync_local.identity``). The harness's own
  calls (the person at the Acumatica screen, checks) come from threads acting as no function and are not counted.
- :class:`MotoMeter`: the moto server's meter (``amsync_local.metering``): AWS requests per principal, the local
  runtime's polling apart, SQS requests as billed, DynamoDB read and write units.
- :class:`ByteSink`: what the functions write to CloudWatch Logs (their log lines and the EMF metric lines both go
  to stdout on Lambda; here to this sink, teed to a file for reading).
- :class:`Snapshot`: all of the above (and the runtime's invocation list) at one moment; a phase is the difference
  of two snapshots taken with the world settled.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# The calls whose presence on the create path the floor checks, and how to read the order they are about.
ORDER_READ = ("Acumatica", "GET SalesOrder")
ORDER_CREATE = ("Magento", "PUT orders/create")
LOGIN_PATHS = ("/identity/connect/token", "/entity/auth/login")


def operation_of(system: str, method: str, path: str) -> str:
    """A call's operation, without keys: ``GET SalesOrder``, ``POST Shipment/ConfirmShipment``,
    ``PUT orders/create``, ``GET orders/{id}``, ``login``."""
    if system == "Acumatica":
        if path in LOGIN_PATHS:
            return "login"
        if path.startswith(("/identity/", "/entity/auth/")):
            return "logout"
        segs = [s for s in path.split("/") if s]
        if len(segs) >= 4 and segs[0] == "entity":  # /entity/<endpoint>/<version>/<Entity>[/<action or keys>]
            entity, rest = segs[3], segs[4:]
            if method == "POST" and rest:
                return f"POST {entity}/{rest[0]}"
            return f"{method} {entity}"
        return f"{method} {path}"
    tail = path.split("/V1/", 1)[1] if "/V1/" in path else path
    segs = [s for s in tail.split("/") if s]
    norm = []
    for i, s in enumerate(segs):
        if s.isdigit():
            norm.append("{id}")
        elif i > 0 and segs[i - 1] in ("products", "stockItems", "get-product-salable-quantity"):
            norm.append("{sku}")
        else:
            norm.append(s)
    return f"{method} {'/'.join(norm)}"


@dataclass
class CallEvent:
    """A call on the create path, with the order it concerns."""

    t: float
    function: str
    system: str
    operation: str
    ref: str


class ApiCalls:
    """Counts the functions' Acumatica and Magento calls: (function, system, operation) -> calls."""

    def __init__(self, systems: dict[str, str]) -> None:
        self.systems = systems  # "host:port" -> "Acumatica" | "Magento"
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.events: list[CallEvent] = []
        self._lock = threading.Lock()
        self._original: Any = None

    def install(self) -> None:
        from amsync_local.identity import current

        original = httpx.HTTPTransport.handle_request
        self._original = original
        meter = self

        def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            acting = current()
            if acting is not None:
                meter._record(acting.role.function, request)
            return original(transport, request)

        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            httpx.HTTPTransport.handle_request = self._original  # type: ignore[method-assign]
            self._original = None

    def _record(self, function: str, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        system = self.systems.get(url.netloc)
        if system is None:
            return
        op = operation_of(system, request.method, url.path)
        ref = ""
        if (system, op) == ORDER_READ:
            ref = url.path.rstrip("/").rsplit("/", 1)[-1]
        elif (system, op) == ORDER_CREATE:
            try:
                ref = str(json.loads(request.content or b"{}").get("entity", {}).get("ext_order_id") or "")
            except ValueError:
                ref = ""
        with self._lock:
            self.counts[(function, system, op)] += 1
            if ref:
                self.events.append(CallEvent(time.monotonic(), function, system, op, ref))


class MotoMeter:
    """The moto server's meter, through its control path."""

    def __init__(self, endpoint_url: str) -> None:
        self.url = endpoint_url.rstrip("/") + "/_amsync/meter"

    def start(self) -> None:
        r = httpx.post(self.url, json={"enabled": True, "reset": True}, timeout=10)
        r.raise_for_status()

    def read(self) -> Counter[str]:
        r = httpx.get(self.url, timeout=30)
        r.raise_for_status()
        body = r.json()
        if not body.get("enabled"):
            raise RuntimeError("the moto server's meter is off")
        return Counter({k: float(v) for k, v in body["counters"].items()})

    def errors(self) -> int:
        return int(httpx.get(self.url, timeout=10).json().get("errors", 0))


class ByteSink(io.TextIOBase):
    """A text stream that counts the UTF-8 bytes written to it (and tees them to a file, if given)."""

    def __init__(self, tee: Path | None = None) -> None:
        super().__init__()
        self.bytes = 0
        self.lines = 0
        self._lock = threading.Lock()
        self._tee = tee.open("a", encoding="utf-8") if tee is not None else None

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        data = s.encode("utf-8")
        with self._lock:
            self.bytes += len(data)
            self.lines += s.count("\n")
            if self._tee is not None:
                self._tee.write(s)
        return len(s)

    def flush(self) -> None:
        if self._tee is not None:
            self._tee.flush()

    def close(self) -> None:
        if self._tee is not None:
            self._tee.close()
            self._tee = None
        super().close()


@dataclass
class Snapshot:
    t: float
    api: Counter[tuple[str, str, str]]
    aws: Counter[str]
    invocations: int
    log_bytes: int
    events: int


@dataclass
class Phase:
    """The difference between two snapshots, and the invocations recorded between them."""

    name: str
    seconds: float
    api: Counter[tuple[str, str, str]]
    aws: Counter[str]
    invocations: list[Any]
    log_bytes: int
    events: list[CallEvent] = field(default_factory=list)


class Instruments:
    def __init__(self, world: Any, sink: ByteSink) -> None:
        systems = {urlsplit(world.acumatica.url).netloc: "Acumatica", urlsplit(world.magento.url).netloc: "Magento"}
        self.world = world
        self.api = ApiCalls(systems)
        self.meter = MotoMeter(world.runtime.endpoint_url)
        self.sink = sink

    def start(self) -> None:
        self.api.install()
        self.meter.start()

    def snapshot(self) -> Snapshot:
        with self.api._lock:
            api = Counter(self.api.counts)
            events = len(self.api.events)
        return Snapshot(time.monotonic(), api, self.meter.read(), len(self.world.runtime.invocations),
                        self.sink.bytes, events)

    def phase(self, name: str, a: Snapshot, b: Snapshot) -> Phase:
        return Phase(name, b.t - a.t, b.api - a.api, _minus(b.aws, a.aws),
                     list(self.world.runtime.invocations[a.invocations:b.invocations]), b.log_bytes - a.log_bytes,
                     list(self.api.events[a.events:b.events]))


def _minus(b: Counter[str], a: Counter[str]) -> Counter[str]:
    """b - a keeping fractional values (Counter subtraction drops zero and below, which is what we want too)."""
    return Counter({k: v - a.get(k, 0.0) for k, v in b.items() if v - a.get(k, 0.0) > 0})
