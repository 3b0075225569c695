"""`make bench`: N orders through their whole life in the local stack, with a simulated latency on every API call.

Each order: entered unpaid -> paid (the create) -> shipped and confirmed (a third in two shipments) -> invoiced and
the invoice released -> stock pushes; about a third of the orders meet cold caches (a new customer and product).
The Acumatica session policy is the template's default (pool: the licence's OAuth sessions, borrowed for each
spell of Acumatica calls); every Acumatica and Magento call waits
``--latency-ms`` (50) and an Acumatica login ``--login-latency-ms`` (600). The run is measured in three phases
(entry, create, fulfilment), each starting and ending with the world settled; the create phase is what a create
costs (the payment's pushes, the order sync, the create, its write-back and the echoes they cause).

Writes bench/results.json and prints the table (README, "The figures: make bench"): push -> Magento order created
p50/p95 against the floor measured in the same run, Acumatica/Magento calls and logins, AWS requests (the local
runtime's own polling apart), Lambda invocations and handler CPU, DynamoDB units, CloudWatch bytes, cold init per
function against a bare handler with the same clients, and the cost per 100,000 orders at list prices.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from bench import cold as cold_init
from bench import floor as floor_path
from bench import workload
from bench.instruments import ByteSink, Instruments
from bench.results import TARGETS, Functions, check_schema, summarise

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
FUNCTION_LOG = ROOT / ".local" / "logs" / "bench-functions.log"


def run(orders: int, latency_ms: int, login_latency_ms: int, workers: int, seed: int, hop_samples: int,
        cold_repeat: int, sink: ByteSink, create_rate: float = 3.0,
        session_policy: str | None = None) -> dict[str, Any]:
    started, t0 = dt.datetime.now(dt.UTC), time.monotonic()
    clients = cold_init.ClientLog()
    clients.install()  # before the world loads the functions: their modules import the recording factories
    from amsync_local.walkthrough import AcumaticaUser
    from amsync_local.world import LocalWorld, WorldOptions

    options = WorldOptions(start_schedules=False, stack_name=f"amsync-bench-{uuid.uuid4().hex[:6]}")
    if session_policy:  # another policy than the template's default, to compare
        options.acumatica_session_policy = session_policy
    with LocalWorld(options) as world:
        assert world.runtime is not None
        _route_function_logs(sink)
        inst = Instruments(world, sink)
        inst.start()  # from the first push on: each function's first secret read is seen (for its cold init)
        settle = functools.partial(_settle, world, max(120.0, orders * 1.5))
        user = AcumaticaUser.from_endpoints(world.endpoints())
        plans, warm = workload.plan_orders(orders, seed), workload.warmup_plans()
        workload.set_up_catalogue(world, user, plans)
        settle()
        # a login's rule first: a request meets the first rule that matches it
        world.acumatica.faults.add({"path": r"^/(identity/connect/token|entity/auth/login)$", "method": "POST",
                                    "latency_ms": login_latency_ms})
        for sim in (world.acumatica, world.magento):
            sim.faults.add({"path": r"^/(entity|rest|identity)/", "latency_ms": latency_ms})
        steps = [("entry", workload.enter), ("create", workload.pay), ("fulfilment", workload.fulfil)]
        for _, step in steps:  # the warm-up: containers, sessions, secrets and caches (not measured)
            workload.in_parallel(workers, functools.partial(step, user), warm)
            settle()
        pooled_before = _pooled_sessions(world)
        snaps = [inst.snapshot()]
        for name, step in steps:
            if name == "create":  # payments at a steady rate (a burst measures the queue, not the path)
                workload.paced(workers, create_rate, functools.partial(step, user), plans)
            else:
                workload.in_parallel(workers, functools.partial(step, user), plans)
            settle()
            snaps.append(inst.snapshot())
        first_grants = _pooled_sessions(world) - pooled_before
        phases = [inst.phase(name, a, b) for (name, _), a, b in zip(steps, snaps[:-1], snaps[1:], strict=True)]
        latencies = _create_latencies(world, plans)
        calls = floor_path.floor_calls(phases[1].events, [p.nbr for p in plans])
        hops = floor_path.measure_hops(world, hop_samples, seed)
        for sim in (world.acumatica, world.magento):
            sim.faults.clear()
        problems = workload.check_lives(world, plans)
        user.close()
        _fire_schedules(world, settle)  # the scheduled functions' clients, for their cold init (not measured)
        fns = Functions({lid: fn.spec.memory for lid, fn in world.runtime.functions.items()},
                        {fn.name[:64]: lid for lid, fn in world.runtime.functions.items()})
        final = inst.meter.read()
        secrets = {lid: any(k.startswith(f"{label}\tfunction\trequest:secretsmanager.") for k in final)
                   for label, lid in fns.label_to_id.items()}
        cold = cold_init.measure(world, clients, secrets, cold_repeat)
        meter_errors = inst.meter.errors()
        inst.api.uninstall()
    meta = {"commit": _commit(), "machine": _machine(), "started_at": started.isoformat(timespec="seconds"),
            "wall_s": round(time.monotonic() - t0, 1), "acumatica_login_latency_ms": login_latency_ms,
            "session_policy": options.acumatica_session_policy,
            "workload": {"workers": workers, "seed": seed, "create_rate_per_s": create_rate, "warmup_orders": len(warm),
                         "cold_orders": sum(p.cold for p in plans), "partial_orders": sum(p.partial for p in plans),
                         "lines_per_order": round(sum(len(p.lines) for p in plans) / len(plans), 2),
                         "shipments": sum(len(p.shipments) for p in plans), "hop_samples": hop_samples,
                         "cold_repeat": cold_repeat},
            "meter_errors": meter_errors}
    return summarise(meta=meta, orders=orders, latency_ms=latency_ms, latencies=latencies, floor_calls=calls,
                     hops=hops, life=phases, create=phases[1], cold=cold, fns=fns, problems=problems, phases=phases,
                     first_grants=first_grants)


def _pooled_sessions(world: Any) -> int:
    """How many of the session pool's slots hold a session (policy ``pool``: data/tokens.py; 0 otherwise). A slot
    is filled by its first login and then renewed without one, so the slots filled during the measured phases are
    the pool growing to the concurrency they need, not logins of its steady state."""
    ddb = world.runtime.boto("dynamodb")
    table = world.runtime.stack.physical_ids["BindingsTable"]
    held, start = 0, None
    while True:
        page = ddb.scan(TableName=table, FilterExpression="begins_with(pk, :p) AND attribute_exists(version)",
                        ExpressionAttributeValues={":p": {"S": "token#acumatica#"}}, ProjectionExpression="pk",
                        **({"ExclusiveStartKey": start} if start else {}))
        held += len(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return held


def _settle(world: Any, timeout: float) -> None:
    if not world.wait_settled(timeout):
        raise RuntimeError(f"the local world did not settle within {timeout:.0f} s")


def _route_function_logs(sink: ByteSink) -> None:
    """The functions' log lines to the byte sink (on Lambda: stdout -> CloudWatch Logs); EMF lines are printed to
    stdout, which main() points at the same sink."""
    from amsync.observability import logger

    handler = logger.registered_handler
    if not hasattr(handler, "setStream"):
        raise RuntimeError("the connector's logger has no stream handler to count")
    handler.setStream(sink)


def _create_latencies(world: Any, plans: list[workload.OrderPlan]) -> list[float]:
    """Each order's successful Create row's latency_ms: push received -> Magento answered the create."""
    from amsync.data.connector_log import ConnectorLog

    log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
    out = []
    for p in plans:
        rows = [r for r in log.timeline(p.nbr) if r.action and r.action.value == "Create"
                and r.result and r.result.value == "Success" and r.latency_ms is not None]
        if rows:
            out.append(float(min(rows, key=lambda r: r.log_id).latency_ms or 0.0))
    return out


def _fire_schedules(world: Any, settle: Any) -> None:
    for lid in ("ReconcilerFunction", "CustomerPollerFunction"):
        if lid in world.runtime.functions:
            with contextlib.suppress(Exception):  # only their clients are wanted; a failed run is recorded
                world.runtime.fire_schedule(lid)
    settle()


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # the previous run's results.json (which this run overwrites) is not a change to what is measured
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results.json")
    return head + (" + uncommitted changes" if dirty else "")


def _machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs {model}".strip()
            + f", Python {platform.python_version()}, load {load:.1f} at start")


def print_table(result: dict[str, Any], written: Path = RESULTS) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.__stdout__, width=150)
    po, met, lat, ratio = result["per_order"], result["targets_met"], result["push_to_magento_created_ms"], \
        result["ratio_to_floor"]
    t = Table(title=f"amsync bench: {result['orders']} orders, {result['latency_per_api_call_ms']} ms per API call, "
                    f"{result['acumatica_login_latency_ms']} ms per Acumatica login ({result['commit']})")
    for col in ("measure", "this run", "target", "issue's baseline"):
        t.add_column(col, justify="left" if col == "measure" else "right")

    def mark(key: str) -> str:
        verdict = met.get(key)
        label = {True: "[green]met[/green]", False: "[red]missed[/red]", None: "n/a"}[verdict]
        return f"<= {TARGETS[key]['max']} {label}"

    worst_cold = max(result["cold_init_vs_baseline"].items(), key=lambda kv: kv[1])
    floor = result["floor"]
    rows = [
        ("push -> Magento created p50 / p95 (ms)", f"{lat['p50']} / {lat['p95']}", "", "460 / -"),
        ("floor (ms)", f"{result['floor_ms']} = {floor['api_calls_counted']} calls x "
                       f"{result['latency_per_api_call_ms']} + SQS hops {floor['sqs_ms']}", "", "150"),
        ("p50 / floor", ratio["p50"], mark("p50_vs_floor"), "3.07"),
        ("p95 / floor", ratio["p95"], mark("p95_vs_floor"), "3.94"),
        ("Acumatica calls per create", po["create_acumatica_calls"], mark("create_acumatica_calls"), ""),
        ("Magento calls per create", po["create_magento_calls"], mark("create_magento_calls"), "5.0"),
        ("Acumatica logins per 1,000 orders", result["acumatica_logins_per_1000_orders"],
         mark("acumatica_logins_per_1000_orders"), ""),
        ("AWS requests per order (whole life)", po["aws_requests"], mark("aws_requests"), ""),
        ("  runtime's own polling (not counted)", po["runtime_polling_requests"], "", ""),
        ("handler CPU per create (ms)", po["create_cpu_ms"], mark("create_cpu_ms"), "147 (per order)"),
        ("handler CPU per order, whole life (ms)", po["cpu_ms"], mark("cpu_ms"), ""),
        ("cold init vs bare handler (worst)", f"{worst_cold[1]} ({worst_cold[0]})", mark("cold_init_vs_baseline"),
         "2.69"),
        ("USD per 100,000 orders (whole life)", result["cost_per_100k_orders_usd"], mark("cost_per_100k_orders_usd"),
         ""),
        ("  of which the create phase", result["create_cost_per_100k_orders_usd"], "", "4.15 (create path)"),
        ("Acumatica / Magento calls per order", f"{po['acumatica_calls']} / {po['magento_calls']}", "", ""),
        ("Lambda invocations per order", po["lambda_invocations"], "", ""),
        ("DynamoDB WRU / RRU per order", f"{po['dynamodb_wru']} / {po['dynamodb_rru']}", "", ""),
        ("CloudWatch Logs bytes per order", po["log_bytes"], "", ""),
    ]
    for r in rows:
        t.add_row(*(str(x) for x in r))
    console.print(t)
    if result["life"]["problems"]:
        console.print(f"[red]{len(result['life']['problems'])} orders did not live as planned[/red]: "
                      + "; ".join(result["life"]["problems"][:5]))
    console.print(f"written to {written}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50, help="per Acumatica and Magento call")
    parser.add_argument("--login-latency-ms", type=int, default=600, help="per Acumatica login (token or cookie)")
    parser.add_argument("--workers", type=int, default=4, help="people entering, paying and shipping at once")
    parser.add_argument("--create-rate", type=float, default=3.0,
                        help="payments per second in the create phase (entry and fulfilment run flat out)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hop-samples", type=int, default=20, help="messages timed through each SQS hop")
    parser.add_argument("--cold-repeat", type=int, default=3, help="fresh interpreters per cold init measure")
    parser.add_argument("--session-policy", choices=["pool", "keep", "per_invocation"], default=None,
                        help="AcumaticaSessionPolicy (default: the template's)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    # Powertools warns on stderr when an invocation flushed no metric (a duplicate push): not the bench's business
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    FUNCTION_LOG.parent.mkdir(parents=True, exist_ok=True)
    FUNCTION_LOG.write_text("")
    sink = ByteSink(tee=FUNCTION_LOG)
    with contextlib.redirect_stdout(sink):  # EMF lines (stdout on Lambda) are CloudWatch bytes too
        result = run(args.orders, args.latency_ms, args.login_latency_ms, args.workers, args.seed, args.hop_samples,
                     args.cold_repeat, sink, args.create_rate, args.session_policy)
    sink.close()
    problems = check_schema(result)
    if problems:
        raise RuntimeError(f"results miss keys: {problems}")
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result, args.output)
    return 1 if result["life"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
