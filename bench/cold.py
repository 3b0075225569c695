"""Cold init per function against a bare handler that creates the same boto3 clients, both measured here.

A function's cold start, as Lambda bills it since 2025-08: its module's import (Settings, ports, API clients: the
INIT phase) plus the boto3 clients its first invocation creates on first use. The run records which those are
(:class:`ClientLog`: every call of ``amsync.data.aws.client`` / ``table`` by a function's thread, and Secrets
Manager reads through Powertools); each side is then timed in a fresh interpreter with the function's
environment, ``repeat`` times (median):

- function: import the handler module, then create those clients through the connector's own factories
  (``aws.client(service)``, ``aws.table(name)``; Powertools' ``SecretsProvider()`` for a secret);
- baseline: ``import boto3``, then ``boto3.client(service)`` / ``boto3.resource("dynamodb").Table(name)`` /
  ``boto3.client("secretsmanager")`` for the same list.

A function the run did not invoke (the credit memo poller and the return sync see no credit memo in the bench) is
measured with the clients recorded for the function whose ports are built the same way (``BUILT_LIKE``), on both
sides: otherwise its side would be its import alone against a bare ``import boto3``, a ratio of nothing it does.
The entry says so (``clients_of``).

Interpreter start-up is outside both; the first invocation's own work and network calls are outside both.

Both sides import as on Lambda: only the layer's distributions (shared/requirements.txt and what they require), the
runtime's boto3 and the standard library. The project's virtualenv also holds the CLI's and the tests' packages, and
a library may import one when it finds it (httpx imports its command line, and so rich, click and pygments, ~100 ms,
only when they are installed): on Lambda that import fails at once, so it does here too (``NOT_SHIPPED``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

AS_ON_LAMBDA = """
import sys
class _NotShipped:  # a module of a distribution Lambda does not have: not found, as there
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotShipped())
"""

FUNCTION_SIDE = AS_ON_LAMBDA + """
import json, time
t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("handler_under_test", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
from amsync.data import aws
for service in {clients!r}:
    aws.client(service)
for name in {tables!r}:
    aws.table(name)
if {secrets!r}:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    SecretsProvider()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "total_ms": (time.perf_counter() - t0) * 1000}}))
"""

BASELINE_SIDE = AS_ON_LAMBDA + """
import json, time
t0 = time.perf_counter()
import boto3
for service in {clients!r}:
    boto3.client(service)
for name in {tables!r}:
    boto3.resource("dynamodb").Table(name)
if {secrets!r}:
    boto3.client("secretsmanager")
print(json.dumps({{"total_ms": (time.perf_counter() - t0) * 1000}}))
"""


ROOT = Path(__file__).resolve().parents[1]
ON_LAMBDA = "boto3"  # the runtime's (the layer's own package, amsync, is shipped without its CLI's requirements)


def _name(text: str) -> str:
    return text.replace("_", "-").replace(".", "-").lower()


@cache
def not_shipped() -> frozenset[str]:
    """Top-level modules installed here by a distribution the function's environment on Lambda does not have."""
    from packaging.requirements import Requirement

    todo = [_name(Requirement(line).name) for line in
            (x.split("#")[0].strip() for x in (ROOT / "shared" / "requirements.txt").read_text().splitlines()) if line]
    todo.append(ON_LAMBDA)
    shipped: set[str] = set()
    while todo:
        name = todo.pop()
        if name in shipped:
            continue
        shipped.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    shipped.add("amsync")
    kept: set[str] = set()
    dropped: set[str] = set()
    for module, dists in metadata.packages_distributions().items():
        (kept if any(_name(d) in shipped for d in dists) else dropped).add(module)
    return frozenset(dropped - kept)


class ClientLog:
    """Which boto3 clients each function's code asks the connector's factories for (installed before the world
    loads the functions, so their modules import the recording factories)."""

    def __init__(self) -> None:
        self.clients: dict[str, set[str]] = {}
        self.tables: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def install(self) -> bool:
        try:
            from amsync.data import aws
        except ImportError:
            return False
        if getattr(aws.client, "_bench_recording", False):
            return True
        aws.client = self._recording(aws.client, self.clients)  # type: ignore[assignment]
        aws.table = self._recording(aws.table, self.tables)  # type: ignore[assignment]
        return True

    def _recording(self, factory: Callable[[str], Any], into: dict[str, set[str]]) -> Callable[[str], Any]:
        from amsync_local.identity import current

        lock = self._lock

        def recorded(name: str) -> Any:
            acting = current()
            if acting is not None:
                with lock:
                    into.setdefault(acting.role.function, set()).add(name)
            return factory(name)

        recorded.cache_clear = factory.cache_clear  # type: ignore[attr-defined]
        recorded._bench_recording = True  # type: ignore[attr-defined]
        return recorded


# A function -> the one whose first invocation creates the same boto3 clients: ports of the same stores and APIs
# (amsync.composition_returns): the credit memo poller's are composition.poller_ports, as the customer poller's
# (Magento's token, settings, binder, its queue, the connector log); the return sync's are the customer sync's
# (Magento, Acumatica and its seat pool, settings, binder, the connector log), behind the same queue consumer.
BUILT_LIKE = {"CreditMemoPollerFunction": "CustomerPollerFunction", "ReturnSyncFunction": "CustomerSyncFunction"}


def invoked(lid: str, log: ClientLog, secrets_by_function: dict[str, bool]) -> bool:
    return lid in log.clients or lid in log.tables or bool(secrets_by_function.get(lid))


def clients_for(lid: str, log: ClientLog,
                secrets_by_function: dict[str, bool]) -> tuple[str, list[str], list[str], bool]:
    """The function whose recorded clients ``lid`` is measured with (itself, or per ``BUILT_LIKE`` when the run did
    not invoke it), and those clients: services, tables, a Secrets Manager read."""
    like = BUILT_LIKE.get(lid)
    source = (like if like and not invoked(lid, log, secrets_by_function) and invoked(like, log, secrets_by_function)
              else lid)
    return (source, sorted(log.clients.get(source, set())), sorted(log.tables.get(source, set())),
            bool(secrets_by_function.get(source)))


def measure(world: Any, log: ClientLog, secrets_by_function: dict[str, bool], repeat: int) -> dict[str, Any]:
    """Per function: its side, the baseline's, the ratio, and the clients both created."""
    out: dict[str, Any] = {}
    for lid, fn in world.runtime.functions.items():
        source, clients, tables, secrets = clients_for(lid, log, secrets_by_function)
        env = {**os.environ, **fn.env}
        path = str(fn._path)
        blocked = sorted(not_shipped())
        own, bare = _medians(FUNCTION_SIDE.format(path=path, clients=clients, tables=tables, secrets=secrets,
                                                  blocked=blocked),
                             BASELINE_SIDE.format(clients=clients, tables=tables, secrets=secrets, blocked=blocked),
                             env, repeat)
        out[lid] = {"function_ms": round(own["total_ms"], 1), "of_which_import_ms": round(own["import_ms"], 1),
                    "baseline_ms": round(bare["total_ms"], 1), "ratio": round(own["total_ms"] / bare["total_ms"], 2),
                    "clients": clients, "tables": tables, "secrets_provider": secrets,
                    "invoked": invoked(lid, log, secrets_by_function),
                    **({"clients_of": source} if source != lid else {})}
    return out


def _medians(own: str, bare: str, env: dict[str, str], repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Each side ``repeat`` times, alternately (a machine's load drifting meanwhile weighs on both alike)."""
    runs: tuple[list[dict[str, float]], list[dict[str, float]]] = ([], [])
    for _ in range(repeat):
        for code, into in ((own, runs[0]), (bare, runs[1])):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,  # noqa: S603
                                  timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"cold init probe failed: {done.stderr[-2000:]}")
            into.append(json.loads(done.stdout.strip().splitlines()[-1]))
    own_m, bare_m = ({k: statistics.median(r[k] for r in side) for k in side[0]} for side in runs)
    return own_m, bare_m
