"""`make chaos`: drive N orders through the local stack on a bad day, then check nothing was lost or doubled.

Faults while the orders flow: Acumatica delivers 20% of pushes twice, shuffles them, loses a few percent (the
reconciler must find those), answers some reads with 429 and allows only a tight licence (2 API sessions for the
connector, given back after each invocation); Magento fails 10% of calls (500, 503, 429, timeouts, and responses
dropped after the write committed) and commits some writes after the connector gave up on them: 1% of order
creates (and at least one in 200 orders, spread over the run) are held from past the connector's HTTP timeout up to
three times its create lease (``CreateLeaseSeconds``), most of them landing after the lease hold ended, when a
retry has found nothing and created the order again; handlers crash now and then (before or after doing their
work, 2% per record). About one order in seven is of the second synced order type ST, whose numbers are SO's
(each type has its own sequence, both issue SOT00024, ...): two Acumatica orders, two Magento orders (ext_order_id
``ST/<nbr>`` and ``<nbr>``). Four people enter and fulfil the orders at once, and Acumatica delivers pushes on four
threads. Then the faults stop, the held writes land, the reconciler runs (its sweep cancels the second Magento
orders the late commits made), queues drain (each 2 minutes they stay busy, the DLQs are replayed, as the operator
would: a shipment that waits for an order in a DLQ is put back, never dropped), DLQs are replayed once more, and the
harness compares the simulators' state with what must be true: exactly one live Magento order per eligible
Acumatica order (type + number), the others cancelled or held by the sweep with its comment.

Pace on a 2-core machine (moto, both simulators and the functions all local, refunds included): 0.49 s of wall
time per order at 1,000 orders (75f0cba, 8 minutes), 0.48 s at 3,000 (4b48d3d, 24 minutes), 0.41 s at 10,000
(787ba0f, 68 minutes): it no longer grows with N (docs/chaos.md). The table ends with each stage's wall time, the
wall and CPU time and the pace, then where the functions' time went.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
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
CONNECTOR_SEATS = 2  # the connector's Acumatica sessions (AcumaticaMaxSessions), pooled and lent per spell of calls
LICENCE_SESSIONS = CONNECTOR_SEATS + 1  # Acumatica's API sessions: the connector's + the person at the screen
WAVE = 250  # orders entered (then fulfilled) at a time: the queues' depth stays that of a busy hour, whatever N
SQS_FUNCTIONS = ["OrderSyncFunction", "MagentoWriterFunction", "FulfilmentFunction", "InventoryFunction"]
ORDER_TYPES = ["SO", "ST"]  # both synced; ST's sequence is set to issue SO's numbers
ST_SHARE = 0.15  # of the orders entered
BARE_TYPE = "SO"  # the type whose ext_order_id is the bare number (amsync.services.order_identity)
DOUBLE_NOTE = "a second Magento order for Acumatica"  # how the reconciler's sweep marks a double it neutralised
MAGENTO_FAULTS: dict[str, Any] = {"error_rate": 0.04, "error_statuses": [500, 503, 429], "retry_after": 1,
                                  "timeout_rate": 0.02, "drop_after_commit_rate": 0.03}
LATE_CREATE_RATE = 0.01  # of order creates: held past the HTTP timeout, up to 3x the create lease, then committed
LATE_CREATES_FLOOR = 0.005  # at least this share of the orders get one such create for sure (at least one)


def order_key_of(ext_id: str | None) -> str | None:
    """The Acumatica key ``TYPE/NBR`` an ext_order_id stands for: ``ST/SOT00024`` for ST, the bare number for SO
    (amsync.services.order_identity's format, read here on its own); None if empty."""
    if not ext_id:
        return None
    order_type, sep, nbr = ext_id.partition("/")
    return f"{order_type}/{nbr}" if sep else f"{BARE_TYPE}/{ext_id}"


@dataclass
class OrderPlan:
    nbr: str
    customer: str
    eligible: bool
    order_type: str = "SO"
    shipments: list[str] = field(default_factory=list)
    packages: dict[str, int] = field(default_factory=dict)
    invoices: list[str] = field(default_factory=list)
    total: Decimal = Decimal("0")

    @property
    def key(self) -> str:
        return f"{self.order_type}/{self.nbr}"


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
    late_creates: int = 0  # order creates Magento committed after the connector gave up (answers that went nowhere)
    late_past_hold: int = 0  # ... held longer than the create lease: landed after the lease hold had ended
    refunds: int = 0  # Magento credit memos made after the orders completed (chaos_refunds.py)
    st_orders: int = 0
    # Acumatica's licence as the simulator counted it: the most API sessions open at once against the limit (the
    # connector's seats + the person at the screen), logins, and logins it refused for the limit ("API Login Limit")
    licence: dict[str, int] = field(default_factory=dict)
    doubles_cancelled: list[str] = field(default_factory=list)  # second Magento orders the sweep cancelled or held
    wrong: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    dlq_left: list[str] = field(default_factory=list)  # still in a DLQ after the replay, listed with its body
    dlq_reasons: list[str] = field(default_factory=list)  # each message DLQ'd under the faults: entity, last error
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU of this process and of moto's (the whole local world)
    # wall seconds of each stage: orders entered and fulfilled under the faults (until Acumatica's pushes are
    # delivered), the drain (held writes land, reconciler, queues, DLQ replay), the refunds, the checks
    phases: dict[str, float] = field(default_factory=dict)
    # per function: invocations, records, busy seconds (the sum of the invocations' wall time) and CPU seconds:
    # where the run's time goes (busy / wall above 2 means its two containers were always at work)
    functions: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.missing or self.doubled)

    def rows(self) -> list[tuple[str, object]]:
        return [("orders", self.orders), ("eligible", self.eligible), ("pushes", self.pushes),
                ("duplicates", self.duplicates), ("lost", self.lost), ("faults injected", self.faults),
                ("handler crashes", self.crashes), ("retries", self.retries), ("DLQ'd", self.dlqd),
                ("replayed", self.replayed), ("ST orders", self.st_orders), ("late creates", self.late_creates),
                ("late commits past the hold", self.late_past_hold), ("refunds", self.refunds),
                ("Acumatica sessions at once: most / licence",
                 f"{self.licence.get('peak', '?')} / {self.licence.get('limit', '?')}"),
                ("Acumatica logins (refused for the licence)",
                 f"{self.licence.get('logins', '?')} ({self.licence.get('refused', '?')})"),
                ("doubles cancelled", len(self.doubles_cancelled)), ("wrong", len(self.wrong)),
                ("missing", len(self.missing)), ("doubled", len(self.doubled)), ("left in DLQs", len(self.dlq_left)),
                *((f"  {name} (s)", round(secs, 1)) for name, secs in self.phases.items()),
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


def _inject(world: LocalWorld, rng: random.Random, counter: Counter[str], crash_rate: float,
            orders: int) -> dict[str, Any]:
    world.acumatica.set_push_faults(duplicate_rate=0.2, drop_rate=0.03, shuffle_window=5, seed=rng.randrange(1 << 30))
    world.acumatica.faults.seed(rng.randrange(1 << 30))
    world.acumatica.faults.add({"path": r"/entity/Default/", "method": "GET", "error_rate": 0.05,
                                "error_status": 429, "retry_after": 1})
    world.magento.faults.seed(rng.randrange(1 << 30))
    # Order creates first (a request meets the first rule that matches): the same faults as every call, but a late
    # commit is held from just past the HTTP timeout (the connector has given up) to three times the create lease,
    # so most land after the lease hold ended. Then a few such creates for sure, spread over the run (past the hold).
    o = world.options
    late_ms = (int((o.http_timeout_s + 0.5) * 1000), int(3 * o.create_lease_s * 1000))
    create = {"path": r"/V1/orders/create$", "method": "PUT"}
    sure = max(1, math.ceil(orders * LATE_CREATES_FLOOR))
    for k in range(sure):
        world.magento.faults.add({**create, "commit_late_rate": 1.0, "remaining": 1,
                                  "skip": (k + 1) * orders // (sure + 1),
                                  "hang_ms": int(1.2 * o.create_lease_s * 1000), "hang_max_ms": late_ms[1]})
    world.magento.faults.add({**create, **MAGENTO_FAULTS, "commit_late_rate": LATE_CREATE_RATE,
                              "hang_ms": late_ms[0], "hang_max_ms": late_ms[1]})
    world.magento.faults.add({"path": r"^/rest/", **MAGENTO_FAULTS, "commit_late_rate": 0.01})
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


def _place(user: AcumaticaUser, rng: random.Random, n: int, types: random.Random,
           workers: int = 4) -> list[OrderPlan]:
    """The orders (drawn in sequence from the seed; their types from ``types``, so the rest of the workload is the
    same for a seed whatever the share of ST), entered by several people at once."""
    drawn = []
    for _ in range(n):
        customer = rng.choices([c for c, _ in CUSTOMERS], [w for _, w in CUSTOMERS])[0]
        lines = [(sku, rng.randint(1, 4)) for sku in rng.sample(ITEMS, rng.randint(1, 3))]
        ship_via = rng.choice(SHIP_VIAS)
        pays = customer != "AACUSTOMER" or rng.random() < 0.85
        order_type = "ST" if types.random() < ST_SHARE else "SO"
        drawn.append((customer, lines, ship_via, pays, order_type))

    def enter(order: tuple[str, list[tuple[str, int]], str, bool, str]) -> OrderPlan:
        customer, lines, ship_via, pays, order_type = order
        nbr = user.create_order(customer=customer, lines=lines, ship_via=ship_via, order_type=order_type)
        if pays and customer == "AACUSTOMER":
            user.record_payment(nbr, customer=customer, order_type=order_type)
        return OrderPlan(nbr, customer, eligible=customer != "AACUSTOMER" or pays, order_type=order_type)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(enter, drawn))


def _fulfil(user: AcumaticaUser, rng: random.Random, plans: list[OrderPlan], workers: int = 4) -> None:
    """Ship, confirm, invoice and release every eligible order (packages drawn in sequence from the seed)."""
    todo = [(p, rng.randint(1, 2)) for p in plans if p.eligible]

    def ship(item: tuple[OrderPlan, int]) -> None:
        p, packages = item
        shp = user.create_shipment(p.nbr, order_type=p.order_type)
        for k in range(packages):
            user.add_package(shp, f"1Z{p.order_type}{p.nbr}{k}", box="SMALL" if k == 0 else "LARGE")
        user.confirm_shipment(shp)
        inv = user.prepare_invoice(shp)
        user.release_invoice(inv)
        p.shipments.append(shp)
        p.packages[shp] = packages
        p.invoices.append(inv)
        p.total = Decimal(str(val(user.order(p.nbr, "Totals", p.order_type), "OrderTotal")))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(ship, todo))


def _magento_all(mag: MagentoViewer, resource: str = "orders", page_size: int = 300) -> list[dict[str, Any]]:
    """Every Magento order (or shipment, invoice: ``resource``), in entity id order, a page at a time."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        r = mag.http.get(resource, params={"searchCriteria[pageSize]": page_size,
                                           "searchCriteria[currentPage]": page,
                                           "searchCriteria[sortOrders][0][field]": "entity_id",
                                           "searchCriteria[sortOrders][0][direction]": "ASC"})
        r.raise_for_status()
        body = r.json()
        found += body["items"]
        if not body["items"] or len(found) >= body["total_count"]:
            return found
        page += 1


@dataclass
class _Documents:
    """Magento's shipments and invoices, read once for the checks, by the order they belong to."""

    shipments: dict[int, list[dict[str, Any]]]
    invoices: dict[int, list[dict[str, Any]]]

    @classmethod
    def read(cls, mag: MagentoViewer) -> _Documents:
        def by_order(resource: str) -> dict[int, list[dict[str, Any]]]:
            into: dict[int, list[dict[str, Any]]] = {}
            for doc in _magento_all(mag, resource):
                into.setdefault(int(doc["order_id"]), []).append(doc)
            return into
        return cls(by_order("shipments"), by_order("invoices"))

    def of(self, order: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return self.shipments.get(int(order["entity_id"]), []), self.invoices.get(int(order["entity_id"]), [])


def _is_neutralised_double(order: dict[str, Any], key: str) -> bool:
    """Cancelled (or held) by the reconciler's sweep, with its comment naming this Acumatica order."""
    order_type, _, nbr = key.partition("/")
    note = f"{DOUBLE_NOTE} {order_type} {nbr}"
    return order.get("state") in ("canceled", "holded") and any(
        str(h.get("comment") or "").startswith(note) for h in order.get("status_histories") or [])


def _skipped_type(entry: Any) -> str | None:
    """The order type of the Acumatica record a Skipped row carries (None when its details are gone)."""
    record = (entry.details or {}).get("acumatica_order") or {}
    value = record.get("OrderType")
    return str(value.get("value") if isinstance(value, dict) else value) if value else None


def _orders_by_key(world: LocalWorld, mag: MagentoViewer, plans: list[OrderPlan],
                   report: ChaosReport) -> dict[str, list[dict[str, Any]]]:
    """Every Magento order under the Acumatica key its ext_order_id names. One naming no order is wrong; one for an
    Acumatica order the run did not enter (the seed's open SOT00023, synced by the reconciler) must be alone."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for order in _magento_all(mag):
        key = order_key_of(order.get("ext_order_id"))
        if key is None:
            report.wrong.append(f"Magento order #{order.get('increment_id')}: no ext_order_id")
            continue
        by_key.setdefault(key, []).append(order)
    for key in sorted(set(by_key) - {p.key for p in plans}):
        try:
            world.acumatica.record("SalesOrder", *key.split("/", 1))
        except KeyError:
            report.wrong.append(f"{key}: {len(by_key[key])} Magento order(s) for no Acumatica order")
            continue
        live = [o for o in by_key[key] if not _is_neutralised_double(o, key)]
        if len(live) > 1:
            report.doubled.append(f"{key}: {len(live)} live Magento orders (an order of the seed)")
    return by_key


def _verify(world: LocalWorld, plans: list[OrderPlan], report: ChaosReport) -> None:
    from amsync.data.connector_log import ConnectorLog
    from amsync.models.log import Result

    assert world.runtime is not None
    log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
    mag = MagentoViewer.from_endpoints(world.endpoints())
    by_key = _orders_by_key(world, mag, plans, report)
    documents = _Documents.read(mag)
    for p in plans:
        orders = by_key.get(p.key, [])
        if not p.eligible:
            if orders:
                report.wrong.append(f"{p.key}: not eligible but in Magento")
            if not any(e.result == Result.SKIPPED and "not eligible" in e.message
                       and _skipped_type(e) in (p.order_type, None) for e in log.timeline(p.nbr)):
                report.wrong.append(f"{p.key}: not eligible, but no Skipped row with the reason")
            continue
        _verify_eligible(documents, p, orders, report)


def _verify_eligible(documents: _Documents, p: OrderPlan, orders: list[dict[str, Any]],
                     report: ChaosReport) -> None:
    """One live Magento order with the plan's total, shipments, tracks and invoices; the others neutralised doubles
    with no documents."""
    doubles = [o for o in orders if _is_neutralised_double(o, p.key)]
    live = [o for o in orders if o not in doubles]
    for d in doubles:
        report.doubles_cancelled.append(f"{p.key}: #{d.get('increment_id')} {d.get('state')}")
        if any(documents.of(d)):
            report.wrong.append(f"{p.key}: double #{d.get('increment_id')} has shipments or invoices")
    if not live:
        report.missing.append(f"{p.key}: no live Magento order" + (f" ({len(doubles)} cancelled)" if doubles
                                                                    else ""))
        return
    if len(live) > 1:
        report.doubled.append(f"{p.key}: {len(live)} live Magento orders "
                              f"({', '.join('#' + str(o.get('increment_id')) for o in live)})")
    order = live[0]
    if Decimal(str(order["grand_total"])) != p.total:
        report.wrong.append(f"{p.key}: grand total {order['grand_total']} != {p.total}")
    shipments, invoices = documents.of(order)
    _count(report, p.key, "shipment", len(shipments), len(p.shipments))
    _count(report, p.key, "invoice", len(invoices), len(p.invoices))
    tracks = sum(len(s.get("tracks", [])) for s in shipments)
    if shipments and tracks != sum(p.packages.values()):
        report.wrong.append(f"{p.key}: {tracks} tracking numbers, expected {sum(p.packages.values())}")
    expected = "closed" if Decimal(str(order.get("total_refunded") or 0)) >= p.total > 0 else "complete"  # refunds
    if order.get("state") != expected and len(shipments) == len(p.shipments) and len(invoices) == len(p.invoices):
        report.wrong.append(f"{p.key}: state {order.get('state')}, expected {expected}")


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
            started = time.monotonic()
            world.runtime.fire_schedule("ReconcilerFunction")
            _last_reconcile[world] = started
            return
        except Exception as exc:  # noqa: BLE001 - recorded as a failed invocation; the schedule goes on
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(1)
    raise RuntimeError(f"the reconciler failed 20 runs in a row; the last: {last}")


_last_reconcile: dict[LocalWorld, float] = {}  # when the last reconciler run that succeeded started (monotonic)


def _late_commits_landed(world: LocalWorld, timeout: float) -> float | None:
    """Wait until every write Magento holds has landed (no new one starts: the faults are off); when the last
    late commit landed (monotonic), None if there was none."""
    deadline = time.monotonic() + timeout
    while world.magento.faults.in_progress:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Magento still holds {world.magento.faults.in_progress} request(s) after {timeout} s")
        time.sleep(0.1)
    landed = [e["landed"] for e in world.magento.faults.late_commits_view() if e["landed"] is not None]
    return max(landed) if landed else None


def _laps(into: dict[str, float], prefix: str = "") -> Callable[[str], None]:
    """A stopwatch: each call adds the wall time since the previous one (or since it was made) to ``into`` under
    ``prefix + name``."""
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        into[prefix + name] = into.get(prefix + name, 0.0) + now - mark
        mark = now

    return lap


def _drain(world: LocalWorld, report: ChaosReport, timeout: float) -> None:
    """Faults are off: let the held writes land, reconcile (lost pushes, and the sweep of the second Magento orders
    late commits made), settle, replay whatever sits in a DLQ, settle again."""
    from amsync.data import queues
    from amsync.services.operations import DLQ_SOURCES

    assert world.runtime is not None
    step = _laps(report.phases, "drain: ")  # each step's wall time among the report's stages
    _late_commits_landed(world, timeout)
    step("held writes land")
    _settle(world, report, timeout)
    step("queues settle")
    for _ in range(2):
        _reconcile(world)
        step("reconciler runs")
        _settle(world, report, timeout)
        step("queues settle")
    _replay_dlqs(world, report)
    _settle(world, report, timeout)
    step("DLQ replay")
    _reconcile(world)
    step("reconciler runs")
    _settle(world, report, timeout)
    step("queues settle")
    # The sweep must have run once after the last late commit landed and its create lease ran out (a double whose
    # Acumatica order is still being created is left for the next run).
    last = _late_commits_landed(world, timeout)
    if last is not None and _last_reconcile.get(world, 0.0) < last + world.options.create_lease_s:
        time.sleep(max(0.0, last + world.options.create_lease_s - time.monotonic()))
        step("held writes land")
        _reconcile(world)
        step("reconciler runs")
        _settle(world, report, timeout)
        step("queues settle")
    ids = world.runtime.stack.physical_ids  # type: ignore[union-attr]
    for dlq in DLQ_SOURCES:
        if dlq in ids:
            for m in queues.peek(ids[dlq], 50):
                report.dlq_left.append(f"{dlq}: {m['body']!s:.200}")


# How long the queues may stay busy before the operator looks at the DLQs. A record that waits for another (a
# shipment for its order) is put back, never dropped, so it keeps its queue busy for as long as the record it waits
# for sits in a DLQ: settling alone would wait for ever. The operator's `amsync dlq replay` ends the wait.
OPERATOR_LOOKS_S = 120.0


def _settle(world: LocalWorld, report: ChaosReport, timeout: float, look_s: float = OPERATOR_LOOKS_S) -> bool:
    """Wait until the queues are drained; each ``look_s`` they are not, replay what sits in the DLQs (counted and
    explained in the report, as the replay step does). False if they are still busy after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if world.wait_settled(max(0.1, min(look_s, deadline - time.monotonic()))):
            return True
        if time.monotonic() >= deadline:
            return False
        _replay_dlqs(world, report)


def _replay_dlqs(world: LocalWorld, report: ChaosReport) -> int:
    """What the operator does with `amsync dlq replay`: every DLQ'd message back to its queue (counted, with the
    reason the log gives for each). Returns how many were moved."""
    from amsync.data import queues
    from amsync.services.operations import DLQ_SOURCES, message_group

    assert world.runtime is not None
    ids = world.runtime.stack.physical_ids  # type: ignore[union-attr]
    moved = 0
    for dlq, source in DLQ_SOURCES.items():
        if dlq in ids:
            depth = queues.depth(ids[dlq])["visible"]
            report.dlqd += depth
            if depth:
                report.dlq_reasons += _dlq_reasons(world, dlq, queues.peek(ids[dlq], 50))
                moved += queues.move_messages(ids[dlq], ids[source], group_of=message_group)
    report.replayed += moved
    return moved


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


def run(orders: int = 300, seed: int = 1, crash_rate: float = 0.02, quiet: bool = False,
        session_policy: str = "pool") -> ChaosReport:
    rng = random.Random(seed)  # the faults' seeds
    workload = random.Random(seed * 7919 + 1)  # the orders: the same for a seed, whatever the handlers draw
    types = random.Random(seed * 104729 + 3)  # each order's type (SO or ST)
    report = ChaosReport(orders=orders)
    started, cpu_before = time.monotonic(), _cpu_seconds()
    options = WorldOptions(start_schedules=False, stack_name=f"amsync-chaos-{uuid.uuid4().hex[:6]}",
                           acumatica_max_sessions=CONNECTOR_SEATS, acumatica_session_policy=session_policy,
                           visibility_scale=0.05, http_timeout_s=2.0, create_lease_s=3.0, magento_hang_s=2.5,
                           push_workers=4, extra_parameters={"AcumaticaSeatWaitSeconds": "5"},
                           sims_in_processes=True)
    with LocalWorld(options) as world:
        world.acumatica.set_limits(max_sessions=LICENCE_SESSIONS)
        for sku in ITEMS:
            for wh in ("RETAIL", "WHOLESALE"):
                world.acumatica.set_on_hand(sku, wh, 1_000_000)
        _sync_order_types(world)
        user = AcumaticaUser.from_endpoints(world.endpoints(), PatientTransport())
        counter: Counter[str] = Counter()
        originals = _inject(world, rng, counter, crash_rate, orders)
        phase = _laps(report.phases)
        try:
            plans: list[OrderPlan] = []
            for start in range(0, orders, WAVE):  # a day's orders arrive in waves, not all before the first ships
                wave = _place(user, workload, min(WAVE, orders - start), types)
                _fulfil(user, workload, wave)
                plans += wave
            world.acumatica.wait_push_idle(timeout=max(120.0, orders * 1.0))
        finally:
            _calm(world, originals)
            user.close()  # the person at the screen logs out (the checks log in again, on the same seat)
        phase("orders under faults")
        _drain(world, report, timeout=max(120.0, orders * 1.0))
        phase("drain")
        from amsync_local import chaos_refunds

        refunds = chaos_refunds.refund_some(world, plans, random.Random(seed * 7 + 5))
        chaos_refunds.sync_under_faults(world, refunds, timeout=max(120.0, orders * 1.0))
        report.refunds = len(refunds)
        phase("refunds")
        _verify(world, plans, report)
        chaos_refunds.verify(world, refunds, report)
        phase("checks")
        assert world.runtime is not None
        deliveries = world.acumatica.push.log_view()
        report.pushes = len(world.acumatica.push.sent)
        report.lost = sum(1 for d in deliveries if d["state"] == "dropped")
        report.duplicates = len(deliveries) - report.pushes + report.lost
        report.faults = sum(world.magento.faults.stats.values()) + sum(world.acumatica.faults.stats.values())
        report.crashes = counter["crash"]
        seats = world.acumatica.sessions.snapshot()
        report.licence = {"limit": LICENCE_SESSIONS, "peak": int(seats["peak_sessions"]),
                          "logins": int(seats["logins"]), "refused": int(seats["login_limit_rejections"])}
        if report.licence["refused"]:  # the seat pool lets no container log in past the connector's seats
            report.wrong.append(f"Acumatica refused {report.licence['refused']} login(s) for the licence (API Login "
                                "Limit): a session was asked for beyond the seats")
        report.retries = sum(len(i.failed_ids) for i in world.runtime.invocations)
        for inv in list(world.runtime.invocations):
            f = report.functions.setdefault(inv.function, {"invocations": 0, "records": 0, "busy_s": 0.0,
                                                           "cpu_s": 0.0})
            f["invocations"] += 1
            f["records"] += inv.records
            f["busy_s"] += inv.duration_ms / 1000
            f["cpu_s"] += inv.cpu_ms / 1000
        report.eligible = sum(p.eligible for p in plans)
        report.st_orders = sum(p.order_type == "ST" for p in plans)
        creates = [e for e in world.magento.faults.late_commits_view() if e["path"].endswith("/V1/orders/create")]
        report.late_creates = len(creates)
        report.late_past_hold = sum(e["hang_s"] > options.create_lease_s for e in creates)
    report.wall_s = time.monotonic() - started
    report.cpu_s = _cpu_seconds() - cpu_before
    if not quiet:
        print_report(report)
    return report


def _sync_order_types(world: LocalWorld) -> None:
    """Sync both order types, and set ST's sequence to issue what SO's issues next: every ST number is an SO's too."""
    from amsync.data.settings_store import SettingsStore
    from amsync_local.fidelity import settings_settle

    assert world.runtime is not None
    store = SettingsStore(world.runtime.functions["OrderSyncFunction"].env["SETTINGS_TABLE"])
    prefs = store.order_sync(fresh=True)
    store.put_preferences("order-sync", prefs.model_copy(update={"order_types": ORDER_TYPES}))
    world.acumatica.set_next_number("ST", world.acumatica.store.numbering["SO"])
    settings_settle()  # warm containers see the change within the settings cache's check interval


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
    if report.functions:
        per_fn = Table(title="where the functions' time went")
        for column in ("function", "invocations", "records", "busy (s)", "busy / wall", "CPU (s)"):
            per_fn.add_column(column, justify="left" if column == "function" else "right")
        for name, f in sorted(report.functions.items(), key=lambda kv: -kv[1]["busy_s"]):
            per_fn.add_row(name, str(int(f["invocations"])), str(int(f["records"])), f"{f['busy_s']:.1f}",
                           f"{f['busy_s'] / max(report.wall_s, 1e-9):.2f}", f"{f['cpu_s']:.1f}")
        console.print(per_fn)
    for label, items in (("wrong", report.wrong), ("missing", report.missing), ("doubled", report.doubled),
                         ("in a DLQ", report.dlq_left), ("double cancelled", report.doubles_cancelled)):
        for item in items[:20]:
            console.print(f"[red]{label}[/red] {item}")
    for item in report.dlq_reasons[:20]:
        console.print(f"[yellow]DLQ'd, then replayed[/yellow] {item}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crash-rate", type=float, default=0.02)
    parser.add_argument("--session-policy", choices=["pool", "per_invocation"], default="pool",
                        help="AcumaticaSessionPolicy (keep would hold a seat per warm container: too few seats)")
    args = parser.parse_args()
    import contextlib
    from pathlib import Path

    log = Path(".local/logs/chaos.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink, contextlib.redirect_stdout(sink):
        report = run(args.orders, args.seed, args.crash_rate, session_policy=args.session_policy)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
