"""`make bench`: N orders through the local stack with a simulated latency on every API call.

Prints and writes bench/results.json: push -> Magento order created p50/p95/max against the critical-path floor
(sequential API calls x latency); Acumatica and Magento calls per order; handler CPU per order; each function's
cold init against a bare boto3 import + one client; SQS, DynamoDB and CloudWatch Logs requests/bytes per order and
the cost per 100,000 orders at AWS list prices (us-east-1, arm64, stated below).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"

# us-east-1 list prices (checked against the AWS pricing pages; re-check before quoting)
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s_arm64": 0.0000133334,
    "sqs_fifo_request": 0.50 / 1e6,
    "sqs_standard_request": 0.40 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "logs_ingest_gb": 0.50,
}
TARGETS = {"p50_vs_floor": 1.3, "p95_vs_floor": 2.0, "magento_calls_per_order": 3, "cpu_ms_per_order": 10.0,
           "cold_init_vs_baseline": 1.5, "cost_per_100k_usd": 1.0}


class AwsCallCounter:
    """Counts every AWS API call the process makes (botocore before-call / after-call events)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.ddb_units: Counter[str] = Counter()

    def install(self) -> None:
        import boto3

        session = boto3._get_default_session()
        session.events.register("before-call", self._before)

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        name = f"{service}.{model.name}"
        self.calls[name] += 1
        body = params.get("body") or b""
        self.bytes[service] += len(body) if isinstance(body, bytes | str) else 0
        if service == "dynamodb":
            size_kb = max(1, -(-len(body) // 1024)) if body else 1
            kind = "write" if model.name in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem") else "read"
            items = 1
            if model.name == "BatchWriteItem":
                items = max(1, str(body).count('"PutRequest"') + str(body).count('"DeleteRequest"'))
            self.ddb_units[kind] += items * (size_kb if kind == "write" else 1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _cold_inits(world: Any, repeat: int) -> dict[str, Any]:
    """Import each handler in a fresh interpreter with its own environment, against a bare boto3 baseline."""
    baseline_code = ("import time;t=time.perf_counter();import boto3;boto3.client('sqs');"
                     "print((time.perf_counter()-t)*1000)")
    results: dict[str, Any] = {}

    def measure(code: str, env: dict[str, str]) -> float:
        runs = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            runs.append(float(out.stdout.strip().splitlines()[-1]))
        return statistics.median(runs)

    base_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    results["baseline_boto3_ms"] = round(measure(baseline_code, base_env), 1)
    for lid, fn in world.runtime.functions.items():
        path = ROOT / fn.spec.code_uri / "app.py"
        code = ("import time,importlib.util,io,contextlib;t=time.perf_counter();"
                f"s=importlib.util.spec_from_file_location('fn',{str(path)!r});m=importlib.util.module_from_spec(s);"
                "s.loader.exec_module(m);print((time.perf_counter()-t)*1000)")
        results[lid] = round(measure(code, {**base_env, **fn.env}), 1)
    return results


def _clients(world: Any) -> list[Any]:
    from dataclasses import fields, is_dataclass

    found = []
    for fn in world.runtime.functions.values():
        for value in (v for module in fn.modules for v in vars(module).values()):
            if is_dataclass(value) and not isinstance(value, type):
                for f in fields(value):
                    v = getattr(value, f.name)
                    if hasattr(v, "calls") and hasattr(v, "_http"):
                        found.append(v)
            elif hasattr(value, "calls") and hasattr(value, "_http"):
                found.append(value)
    return found


def _api_calls(world: Any) -> dict[str, int]:
    totals: Counter[str] = Counter()
    seen: set[int] = set()
    for c in _clients(world):
        if id(c) in seen:
            continue
        seen.add(id(c))
        totals["magento" if "Magento" in type(c).__name__ else "acumatica"] += c.calls
    return dict(totals)


def run(orders: int, latency_ms: int, cold_repeat: int, stdout: io.StringIO | None = None) -> dict[str, Any]:
    from amsync_local.walkthrough import AcumaticaUser
    from amsync_local.world import LocalWorld, WorldOptions

    counter = AwsCallCounter()
    counter.install()
    options = WorldOptions(start_schedules=False, stack_name=f"amsync-bench-{uuid.uuid4().hex[:6]}",
                           function_log=ROOT / ".local" / "logs" / "bench-functions.log")
    with LocalWorld(options) as world:
        rule = {"path": r"^/(entity|rest|identity)/", "latency_ms": latency_ms}
        world.acumatica.faults.add(rule)
        world.magento.faults.add(rule)
        user = AcumaticaUser.from_endpoints(world.endpoints())
        # warm-up: one order (cold containers, token, caches), not measured
        user.create_order(customer="BIGBOX")
        world.wait_settled(60)
        api_before, aws_before = _api_calls(world), Counter(counter.calls)
        ddb_before, bytes_before = Counter(counter.ddb_units), Counter(counter.bytes)
        inv_before = len(world.runtime.invocations)
        log_path = options.function_log
        log_before = log_path.stat().st_size if log_path and log_path.exists() else 0
        emf_before = len(stdout.getvalue()) if stdout else 0  # EMF metric lines (stdout -> CloudWatch Logs)
        t0 = time.monotonic()
        numbers = [user.create_order(customer="BIGBOX") for _ in range(orders)]  # B2B: eligible at once
        world.wait_settled(max(120.0, orders * 0.5))
        wall = time.monotonic() - t0
        from amsync.data.connector_log import ConnectorLog

        log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
        latencies = []
        for nbr in numbers:
            rows = [r for r in log.timeline(nbr) if r.action and r.action.value == "Create" and r.latency_ms]
            latencies.extend(r.latency_ms for r in rows[:1])
        api = {k: v - api_before.get(k, 0) for k, v in _api_calls(world).items()}
        aws = counter.calls - aws_before
        ddb = counter.ddb_units - ddb_before
        invs = world.runtime.invocations[inv_before:]
        log_bytes = (log_path.stat().st_size if log_path and log_path.exists() else 0) - log_before
        log_bytes += (len(stdout.getvalue()) if stdout else 0) - emf_before
        user.close()
        cold = _cold_inits(world, cold_repeat)
    return _summarise(orders, latency_ms, latencies, api, aws, ddb, invs, log_bytes, wall, cold,
                      counter.bytes - bytes_before)


def _summarise(orders: int, latency_ms: int, latencies: list[float], api: dict[str, int], aws: Counter[str],
               ddb: Counter[str], invs: list[Any], log_bytes: int, wall: float, cold: dict[str, Any],
               aws_bytes: Counter[str]) -> dict[str, Any]:
    # critical path to "Magento order created": Acumatica GET order, Magento ext_order_id lookup, Magento create
    floor_calls = 3
    floor_ms = floor_calls * latency_ms
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    sqs_calls = sum(v for k, v in aws.items() if k.startswith("sqs."))
    per_order = {
        "acumatica_calls": round(api.get("acumatica", 0) / orders, 2),
        "magento_calls": round(api.get("magento", 0) / orders, 2),
        "lambda_invocations": round(len(invs) / orders, 2),
        "cpu_ms": round(sum(i.cpu_ms for i in invs) / orders, 2),
        "handler_wall_ms": round(sum(i.duration_ms for i in invs) / orders, 1),
        "sqs_requests": round(sqs_calls / orders, 2),
        "dynamodb_write_units": round(ddb.get("write", 0) / orders, 2),
        "dynamodb_read_units": round(ddb.get("read", 0) / orders, 2),
        "dynamodb_bytes": round(aws_bytes.get("dynamodb", 0) / orders),
        "cloudwatch_log_bytes": round(log_bytes / orders),
    }
    memory_gb = 0.25
    cost_per_order = (
        per_order["lambda_invocations"] * PRICES["lambda_request"]
        + per_order["handler_wall_ms"] / 1000 * memory_gb * PRICES["lambda_gb_s_arm64"]
        + per_order["sqs_requests"] * PRICES["sqs_fifo_request"]
        + per_order["dynamodb_write_units"] * PRICES["dynamodb_write_unit"]
        + per_order["dynamodb_read_units"] * PRICES["dynamodb_read_unit"]
        + per_order["cloudwatch_log_bytes"] / 1e9 * PRICES["logs_ingest_gb"])
    fn_inits = {k: v for k, v in cold.items() if k != "baseline_boto3_ms"}
    result = {
        "orders": orders, "latency_per_api_call_ms": latency_ms, "wall_s": round(wall, 1),
        "push_to_magento_created_ms": {"p50": round(p50, 1), "p95": round(p95, 1),
                                       "max": round(max(latencies or [0]), 1), "samples": len(latencies)},
        "critical_path_floor_ms": floor_ms, "floor_calls": floor_calls,
        "ratio_to_floor": {"p50": round(p50 / floor_ms, 2), "p95": round(p95 / floor_ms, 2)},
        "per_order": per_order,
        "aws_calls_by_operation": dict(sorted(aws.items())),
        "cold_init_ms": cold,
        "cold_init_vs_baseline": {k: round(v / cold["baseline_boto3_ms"], 2) for k, v in fn_inits.items()},
        "cost_per_100k_orders_usd": round(cost_per_order * 100_000, 3),
        "prices": PRICES, "targets": TARGETS,
    }
    result["targets_met"] = {
        "p50_vs_floor": result["ratio_to_floor"]["p50"] <= TARGETS["p50_vs_floor"],
        "p95_vs_floor": result["ratio_to_floor"]["p95"] <= TARGETS["p95_vs_floor"],
        "magento_calls_per_order": per_order["magento_calls"] <= TARGETS["magento_calls_per_order"],
        "cpu_ms_per_order": per_order["cpu_ms"] <= TARGETS["cpu_ms_per_order"],
        "cold_init_vs_baseline": max(result["cold_init_vs_baseline"].values()) <= TARGETS["cold_init_vs_baseline"],
        "cost_per_100k_usd": result["cost_per_100k_orders_usd"] <= TARGETS["cost_per_100k_usd"],
    }
    return result


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.__stdout__)
    t = Table(title=f"amsync bench: {result['orders']} orders, {result['latency_per_api_call_ms']} ms per API call")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target")
    lat, ratio, po = result["push_to_magento_created_ms"], result["ratio_to_floor"], result["per_order"]
    met = result["targets_met"]
    mark = {True: "[green]met[/green]", False: "[red]missed[/red]"}
    rows = [
        ("push -> Magento order p50 / p95 / max (ms)", f"{lat['p50']} / {lat['p95']} / {lat['max']}", ""),
        ("critical-path floor (ms)", f"{result['critical_path_floor_ms']} ({result['floor_calls']} calls)", ""),
        ("p50 / floor", ratio["p50"], f"<= 1.3 {mark[met['p50_vs_floor']]}"),
        ("p95 / floor", ratio["p95"], f"<= 2.0 {mark[met['p95_vs_floor']]}"),
        ("Acumatica calls per order", po["acumatica_calls"], ""),
        ("Magento calls per order", po["magento_calls"], f"<= 3 {mark[met['magento_calls_per_order']]}"),
        ("handler CPU per order (ms)", po["cpu_ms"], f"<= 10 {mark[met['cpu_ms_per_order']]}"),
        ("cold init vs boto3 baseline (worst)", max(result["cold_init_vs_baseline"].values()),
         f"<= 1.5 {mark[met['cold_init_vs_baseline']]}"),
        ("Lambda invocations per order", po["lambda_invocations"], ""),
        ("SQS requests per order", po["sqs_requests"], ""),
        ("DynamoDB write / read units per order", f"{po['dynamodb_write_units']} / {po['dynamodb_read_units']}", ""),
        ("CloudWatch log bytes per order", po["cloudwatch_log_bytes"], ""),
        ("cost per 100,000 orders (USD)", result["cost_per_100k_orders_usd"],
         f"<= 1.00 {mark[met['cost_per_100k_usd']]}"),
    ]
    for r in rows:
        t.add_row(*(str(x) for x in r))
    console.print(t)
    console.print("cold init (ms, median): " + ", ".join(f"{k} {v}" for k, v in result["cold_init_ms"].items()))
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--cold-repeat", type=int, default=3)
    args = parser.parse_args()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        result = run(args.orders, args.latency_ms, args.cold_repeat, sink)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
