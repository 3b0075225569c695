"""`make chaos`: drive N orders through the local stack on a bad day, then check nothing was lost or doubled.

Faults while the orders flow: Acumatica delivers 20% of pushes twice, shuffles them, loses a few percent (the
reconciler must find those), answers some reads with 429 and allows only a tight licence (2 API sessions for the
connector, given back after each invocation); Magento fails 10% of calls (500, 503, 429, timeouts, and responses
dropped after the write committed); handlers crash now and then (before or after doing their work, 2% per
record). Four people enter and fulfil the orders at once, and Acumatica delivers pushes on four threads. Then the
faults stop, the reconciler runs, queues drain, DLQs are replayed, and the harness compares the simulators' state
with what must be true.

Pace on a 2-core machine (moto, both simulators and the functions all local): 1.2 s of wall time per order at
300 orders (6 minutes), 1.35 s at 1,000 (23 minutes), so `--orders 10000` takes about four hours. The table ends
with the wall and CPU time and the pace.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from amsync_local.walkthrough import AcumaticaUser, MagentoViewer, val
from amsync_local.world import LocalWorld, WorldOptions

CUSTOMERS = [("AACUSTOMER", 0.6), ("BIGBOX", 0.25), ("STAFF01", 0.15)]  # DEFAULT class needs payment; B2B; staff
ITEMS = ["WATER2809", "JUICE100", "MUG500"]
SHIP_VIAS = ["UPSGROUND", "FEDEXGROUND", "WILLCALL", "LOCAL"]
WAVE = 250  # orders entered (then fulfilled) at a time: the queues' depth stays that of a busy hour, whatever N
SQS_FUNCTIONS = ["OrderSyncFunction", "MagentoWriterFunction", "FulfilmentFunction", "InventoryFunction"]


@dataclass
class OrderPlan:
    nbr: str
    customer: str
    eligible: bool
    shipments: list[str] = field(default_factory=list)
    packages: dict[str, int] = field(default_factory=dict)
    invoices: list[str] = field(default_factory=list)
    total: Decimal = Decimal("0")


@dataclass
class ChaosReport:
    orders: int = 0
    eligible: int = 0
    pushes: int = 0
    duplicates: int = 0
    lost: int = 0
    faults: int = 0
    crashes: int = 0
    retries: int = 0
    dlqd: int = 0
    replayed: int = 0
    wrong: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    dlq_left: list[str] = field(default_factory=list)  # still in a DLQ after the replay, listed with its body
    dlq_reasons: list[str] = field(default_factory=list)  # each message DLQ'd under the faults: entity, last error
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU of this process and of moto's (the whole local world)

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.missing or self.doubled)

    def rows(self) -> list[tuple[str, object]]:
        return [("orders", self.orders), ("eligible", self.eligible), ("pushes", self.pushes),
                ("duplicates", self.duplicates), ("lost", self.lost), ("faults injected", self.faults),
                ("handler crashes", self.crashes), ("retries", self.retries), ("DLQ'd", self.dlqd),
                ("replayed", self.replayed), ("wrong", len(self.wrong)), ("missing", len(self.missing)),
                ("doubled", len(self.doubled)), ("left in DLQs", len(self.dlq_left)),
                ("wall time (s)", round(self.wall_s, 1)), ("CPU time (s)", round(self.cpu_s, 1)),
                ("wall s per order", round(self.wall_s / max(self.orders, 1), 2))]


class PatientTransport(httpx.HTTPTransport):
    """The person at the Acumatica screen: a read refused under the faults (429, 5xx) is simply tried again."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(30):
            response = super().handle_request(request)
            if request.method != "GET" or response.status_code not in (429, 500, 503):
                return response
            response.close()
            time.sleep(0.2)
        return response


def _crashy(handler: Any, rng: random.Random, rate: float, counter: Counter[str]) -> Any:
    """``rate`` is per record: a batch of n records dies with probability 1 - (1 - rate)^n."""
    def wrapped(event: Any, context: Any) -> Any:
        records = max(1, len(event.get("Records", [])) if isinstance(event, dict) else 1)
        p = 1 - (1 - rate) ** records
        roll = rng.random()
        if roll < p / 2:
            counter["crash"] += 1
            raise RuntimeError("chaos: the container died before doing anything")
        result = handler(event, context)
        if roll < p:
            counter["crash"] += 1
            raise RuntimeError("chaos: the container died after doing its work")
        return result
    return wrapped


def _inject(world: LocalWorld, rng: random.Random, counter: Counter[str], crash_rate: float) -> dict[str, Any]:
    world.acumatica.set_push_faults(duplicate_rate=0.2, drop_rate=0.03, shuffle_window=5, seed=rng.randrange(1 << 30))
    world.acumatica.faults.seed(rng.randrange(1 << 30))
    world.acumatica.faults.add({"path": r"/entity/Default/", "method": "GET", "error_rate": 0.05,
                                "error_status": 429, "retry_after": 1})
    world.magento.faults.seed(rng.randrange(1 << 30))
    world.magento.faults.add({"path": r"^/rest/", "error_rate": 0.04, "error_statuses": [500, 503, 429],
                              "retry_after": 1, "timeout_rate": 0.02, "drop_after_commit_rate": 0.03,
                              "commit_late_rate": 0.01})
    assert world.runtime is not None
    originals = {}
    for name in SQS_FUNCTIONS:
        fn = world.runtime.functions[name]
        originals[name] = fn.handler
        fn.handler = _crashy(fn.handler, random.Random(rng.randrange(1 << 30)), crash_rate, counter)
    return originals


def _calm(world: LocalWorld, originals: dict[str, Any]) -> None:
    world.acumatica.set_push_faults(duplicate_rate=0.0, drop_rate=0.0, shuffle_window=0)
    world.acumatica.faults.clear()
    world.magento.faults.clear()
    assert world.runtime is not None
    for name, handler in originals.items():
        world.runtime.functions[name].handler = handler


def _place(user: AcumaticaUser, rng: random.Random, n: int, workers: int = 4) -> list[OrderPlan]:
    """The orders (drawn in sequence from the seed), entered by several people at once."""
    drawn = []
    for _ in range(n):
        customer = rng.choices([c for c, _ in CUSTOMERS], [w for _, w in CUSTOMERS])[0]
        lines = [(sku, rng.randint(1, 4)) for sku in rng.sample(ITEMS, rng.randint(1, 3))]
        ship_via = rng.choice(SHIP_VIAS)
        pays = customer != "AACUSTOMER" or rng.random() < 0.85
        drawn.append((customer, lines, ship_via, pays))

    def enter(order: tuple[str, list[tuple[str, int]], str, bool]) -> OrderPlan:
        customer, lines, ship_via, pays = order
        nbr = user.create_order(customer=customer, lines=lines, ship_via=ship_via)
        if pays and customer == "AACUSTOMER":
            user.record_payment(nbr, customer=customer)
        return OrderPlan(nbr, customer, eligible=customer != "AACUSTOMER" or pays)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(enter, drawn))


def _fulfil(user: AcumaticaUser, rng: random.Random, plans: list[OrderPlan], workers: int = 4) -> None:
    """Ship, confirm, invoice and release every eligible order (packages drawn in sequence from the seed)."""
    todo = [(p, rng.randint(1, 2)) for p in plans if p.eligible]

    def ship(item: tuple[OrderPlan, int]) -> None:
        p, packages = item
        shp = user.create_shipment(p.nbr)
        for k in range(packages):
            user.add_package(shp, f"1Z{p.nbr}{k}", box="SMALL" if k == 0 else "LARGE")
        user.confirm_shipment(shp)
        inv = user.prepare_invoice(shp)
        user.release_invoice(inv)
        p.shipments.append(shp)
        p.packages[shp] = packages
        p.invoices.append(inv)
        p.total = Decimal(str(val(user.order(p.nbr, "Totals"), "OrderTotal")))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(ship, todo))


def _verify(world: LocalWorld, plans: list[OrderPlan], report: ChaosReport) -> None:
    from amsync.data.connector_log import ConnectorLog
    from amsync.models.log import Result

    assert world.runtime is not None
    log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
    mag = MagentoViewer.from_endpoints(world.endpoints())
    for p in plans:
        orders = mag.orders_for(p.nbr)
        if not p.eligible:
            if orders:
                report.wrong.append(f"{p.nbr}: not eligible but in Magento")
            if not any(e.result == Result.SKIPPED and "not eligible" in e.message for e in log.timeline(p.nbr)):
                report.wrong.append(f"{p.nbr}: not eligible, but no Skipped row with the reason")
            continue
        if not orders:
            report.missing.append(f"{p.nbr}: no Magento order")
            continue
        if len(orders) > 1:
            report.doubled.append(f"{p.nbr}: {len(orders)} Magento orders")
        order = orders[0]
        if Decimal(str(order["grand_total"])) != p.total:
            report.wrong.append(f"{p.nbr}: grand total {order['grand_total']} != {p.total}")
        shipments = mag.shipments_of(int(order["entity_id"]))
        invoices = mag.invoices_of(int(order["entity_id"]))
        _count(report, p.nbr, "shipment", len(shipments), len(p.shipments))
        _count(report, p.nbr, "invoice", len(invoices), len(p.invoices))
        tracks = sum(len(s.get("tracks", [])) for s in shipments)
        if shipments and tracks != sum(p.packages.values()):
            report.wrong.append(f"{p.nbr}: {tracks} tracking numbers, expected {sum(p.packages.values())}")
        if order.get("state") != "complete" and len(shipments) == len(p.shipments) and len(invoices) == len(p.invoices):
            report.wrong.append(f"{p.nbr}: state {order.get('state')}, expected complete")


def _count(report: ChaosReport, nbr: str, what: str, got: int, want: int) -> None:
    if got > want:
        report.doubled.append(f"{nbr}: {got} {what}s, expected {want}")
    elif got < want:
        report.missing.append(f"{nbr}: {got} {what}s, expected {want}")


def _reconcile(world: LocalWorld) -> None:
    """Fire the reconciler's schedule; a run refused by Acumatica's licence (429) is simply run again, as the
    next scheduled run would."""
    assert world.runtime is not None
    last = ""
    for _ in range(20):
        try:
            world.runtime.fire_schedule("ReconcilerFunction")
            return
        except Exception as exc:  # noqa: BLE001 - recorded as a failed invocation; the schedule goes on
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(1)
    raise RuntimeError(f"the reconciler failed 20 runs in a row; the last: {last}")


def _drain(world: LocalWorld, report: ChaosReport, timeout: float) -> None:
    """Faults are off: reconcile (lost pushes), settle, replay whatever sits in a DLQ, settle again."""
    from amsync.data import queues
    from amsync.services.operations import DLQ_SOURCES, message_group

    assert world.runtime is not None
    world.wait_settled(timeout)
    for _ in range(2):
        _reconcile(world)
        world.wait_settled(timeout)
    ids = world.runtime.stack.physical_ids  # type: ignore[union-attr]
    for dlq, source in DLQ_SOURCES.items():
        if dlq in ids:
            depth = queues.depth(ids[dlq])["visible"]
            report.dlqd += depth
            if depth:
                report.dlq_reasons += _dlq_reasons(world, dlq, queues.peek(ids[dlq], 50))
                report.replayed += queues.move_messages(ids[dlq], ids[source], group_of=message_group)
    world.wait_settled(timeout)
    _reconcile(world)
    world.wait_settled(timeout)
    for dlq in DLQ_SOURCES:
        if dlq in ids:
            for m in queues.peek(ids[dlq], 50):
                report.dlq_left.append(f"{dlq}: {m['body']!s:.200}")


def _dlq_reasons(world: LocalWorld, dlq: str, messages: list[dict[str, Any]]) -> list[str]:
    """What ``amsync dlq list`` would show of each message: its queue, its entity and its last Failure row."""
    from amsync.data.connector_log import ConnectorLog
    from amsync.services.operations import message_notes

    assert world.runtime is not None
    log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
    reasons = []
    for m in messages:
        notes = message_notes(str(m["body"]))
        last = next((e for e in log.timeline(notes, limit=20) if e.result and e.result.value == "Failure"),
                    None) if notes else None
        reasons.append(f"{dlq}: {notes or '?'}; last error: {last.message[:160] if last else '(none logged)'}")
    return reasons


def run(orders: int = 300, seed: int = 1, crash_rate: float = 0.02, quiet: bool = False) -> ChaosReport:
    rng = random.Random(seed)  # the faults' seeds
    workload = random.Random(seed * 7919 + 1)  # the orders: the same for a seed, whatever the handlers draw
    report = ChaosReport(orders=orders)
    started, cpu_before = time.monotonic(), _cpu_seconds()
    options = WorldOptions(start_schedules=False, stack_name=f"amsync-chaos-{uuid.uuid4().hex[:6]}",
                           acumatica_max_sessions=2, acumatica_session_policy="per_invocation",
                           visibility_scale=0.05, http_timeout_s=2.0, create_lease_s=3.0, magento_hang_s=2.5,
                           push_workers=4, extra_parameters={"AcumaticaSeatWaitSeconds": "5"})
    with LocalWorld(options) as world:
        world.acumatica.set_limits(max_sessions=3)  # the connector's 2 seats + the person at the screen
        for sku in ITEMS:
            for wh in ("RETAIL", "WHOLESALE"):
                world.acumatica.set_on_hand(sku, wh, 1_000_000)
        user = AcumaticaUser.from_endpoints(world.endpoints(), PatientTransport())
        counter: Counter[str] = Counter()
        originals = _inject(world, rng, counter, crash_rate)
        try:
            plans: list[OrderPlan] = []
            for start in range(0, orders, WAVE):  # a day's orders arrive in waves, not all before the first ships
                wave = _place(user, workload, min(WAVE, orders - start))
                _fulfil(user, workload, wave)
                plans += wave
            world.acumatica.wait_push_idle(timeout=max(120.0, orders * 1.0))
        finally:
            _calm(world, originals)
        _drain(world, report, timeout=max(120.0, orders * 1.0))
        _verify(world, plans, report)
        assert world.runtime is not None
        deliveries = world.acumatica.push.log_view()
        report.pushes = len(world.acumatica.push.sent)
        report.lost = sum(1 for d in deliveries if d["state"] == "dropped")
        report.duplicates = len(deliveries) - report.pushes + report.lost
        report.faults = sum(world.magento.faults.stats.values()) + sum(world.acumatica.faults.stats.values())
        report.crashes = counter["crash"]
        report.retries = sum(len(i.failed_ids) for i in world.runtime.invocations)
        report.eligible = sum(p.eligible for p in plans)
        user.close()
    report.wall_s = time.monotonic() - started
    report.cpu_s = _cpu_seconds() - cpu_before
    if not quiet:
        print_report(report)
    return report


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its ended children (moto's server ends with the world)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def print_report(report: ChaosReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="amsync chaos")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in report.rows():
        table.add_row(k, str(v))
    console = Console(file=sys.__stdout__)
    console.print(table)
    for label, items in (("wrong", report.wrong), ("missing", report.missing), ("doubled", report.doubled),
                         ("in a DLQ", report.dlq_left)):
        for item in items[:20]:
            console.print(f"[red]{label}[/red] {item}")
    for item in report.dlq_reasons[:20]:
        console.print(f"[yellow]DLQ'd, then replayed[/yellow] {item}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crash-rate", type=float, default=0.02)
    args = parser.parse_args()
    import contextlib
    from pathlib import Path

    log = Path(".local/logs/chaos.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink, contextlib.redirect_stdout(sink):
        report = run(args.orders, args.seed, args.crash_rate)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
