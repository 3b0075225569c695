"""bench/results.json: the figures of one run, worked out from what the run measured (no figure is assumed), the
targets of issue 14 and whether each is met, and the schema the file keeps (``check_schema``)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.instruments import Phase
from bench.prices import NOT_PRICED, PRICES, cost_per_order, gb_seconds

SCHEMA_VERSION = 2
REQUEST_ID = "00000000-0000-0000-0000-000000000000"  # Lambda's request ids are UUIDs: 36 characters

TARGETS: dict[str, dict[str, Any]] = {
    "p50_vs_floor": {"max": 1.3, "what": "push -> Magento order created, p50 / floor"},
    "p95_vs_floor": {"max": 2.0, "what": "push -> Magento order created, p95 / floor"},
    "create_acumatica_calls": {"max": 2, "what": "Acumatica calls per create"},
    "create_magento_calls": {"max": 3, "what": "Magento calls per create"},
    "acumatica_logins_per_1000_orders": {"max": 5, "what": "Acumatica logins per 1,000 orders, steady state (the "
                                         "pool's first grant of a slot counted apart)"},
    "aws_requests": {"max": 40, "what": "AWS requests per order, whole life"},
    "create_cpu_ms": {"max": 10, "what": "handler CPU per create (ms)"},
    "cpu_ms": {"max": 30, "what": "handler CPU per order, whole life (ms)"},
    "cold_init_vs_baseline": {"max": 1.5, "what": "worst function's cold init / bare handler with the same clients"},
    "cost_per_100k_orders_usd": {"max": 5.0, "what": "USD per 100,000 orders, whole life"},
}

# What the issue quotes for the code before it (the earlier bench, create path only, B2B orders).
ISSUE_BASELINE = {"p50_ms": 460, "p50_vs_floor": 3.07, "p95_vs_floor": 3.94, "magento_calls_per_create": 5.0,
                  "handler_cpu_ms_per_order": 147, "cold_init_vs_baseline": 2.69,
                  "cost_per_100k_orders_usd_create_path": 4.15}

REQUIRED = {
    "": ["schema", "commit", "machine", "orders", "latency_per_api_call_ms", "acumatica_login_latency_ms",
         "session_policy", "push_to_magento_created_ms", "floor_ms", "floor", "ratio_to_floor", "per_order",
         "acumatica_logins_per_1000_orders", "cold_init_vs_baseline", "cold_init", "cost_per_100k_orders_usd",
         "cost_breakdown_per_100k_orders_usd", "prices", "targets", "targets_met", "issue_baseline", "life"],
    "push_to_magento_created_ms": ["p50", "p95", "samples"],
    "ratio_to_floor": ["p50", "p95"],
    "floor": ["api_calls", "api_ms", "sqs_hops", "sqs_ms"],
    "per_order": ["aws_requests", "runtime_polling_requests", "acumatica_calls", "acumatica_logins", "magento_calls",
                  "create_acumatica_calls", "create_magento_calls", "lambda_invocations", "cpu_ms", "create_cpu_ms",
                  "dynamodb_wru", "dynamodb_rru", "log_bytes"],
}


def check_schema(result: dict[str, Any]) -> list[str]:
    """What the results file lacks (empty: it has every key the README and the issue promise)."""
    problems = []
    for section, keys in REQUIRED.items():
        where = result.get(section) if section else result
        if not isinstance(where, dict):
            problems.append(f"{section}: missing")
            continue
        problems += [f"{section + '.' if section else ''}{k}: missing" for k in keys if k not in where]
    if not problems:
        problems += [f"targets_met.{k}: missing" for k in TARGETS if k not in result["targets_met"]]
        problems += [f"prices.{k}: no source" for k, v in result["prices"].items() if not v.get("source")]
    return problems


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def platform_log_bytes(duration_ms: float, memory_mb: int) -> int:
    """The START, END and REPORT lines Lambda writes to the function's log group per invocation (text format)."""
    lines = (f"START RequestId: {REQUEST_ID} Version: $LATEST\n", f"END RequestId: {REQUEST_ID}\n",
             f"REPORT RequestId: {REQUEST_ID}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
             f"{math.ceil(duration_ms)} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: 100 MB\t\n")
    return sum(len(line.encode()) for line in lines)


@dataclass
class Functions:
    """The deployed functions: logical id -> memory (MB), and the meter's principal label -> logical id."""

    memory_mb: dict[str, int]
    label_to_id: dict[str, str]


def usage(phases: list[Phase], fns: Functions) -> dict[str, Any]:
    """What the functions used over ``phases`` (totals, not per order)."""
    invs = [i for p in phases for i in p.invocations]
    api: Counter[tuple[str, str, str]] = sum((p.api for p in phases), Counter())
    aws: Counter[str] = Counter()
    for p in phases:
        aws.update(p.aws)
    fn_requests: Counter[str] = Counter()
    fn_requests_by_function: Counter[str] = Counter()
    polling: Counter[str] = Counter()
    sqs = {"fifo": 0.0, "standard": 0.0}
    wru = rru = estimated = 0.0
    for key, value in aws.items():
        label, channel, metric = key.split("\t")
        if label not in fns.label_to_id:
            continue  # the harness (root), the CLI: not the functions
        kind, _, name = metric.partition(":")
        if kind == "request":
            (polling if channel == "poller" else fn_requests)[name] += value
            if channel != "poller":
                fn_requests_by_function[f"{name} ({fns.label_to_id[label]})"] += value
        elif kind == "sqs_billed":
            sqs[name] += value
        elif kind == "receive" and channel == "poller" and name.startswith("empty:"):
            sqs[name.split(":")[1]] -= value  # an idle long poll: a fixed cost per hour, not per order
        elif metric in ("ddb:wru_table", "ddb:wru_index"):
            wru += value
        elif metric == "ddb:rru":
            rru += value
        elif metric == "ddb:estimated":
            estimated += value
    by_function = Counter(i.function for i in invs)
    return {
        "lambda_invocations": len(invs),
        "lambda_invocations_by_function": dict(by_function),
        "cpu_ms": sum(i.cpu_ms for i in invs),
        "cpu_ms_by_function": {f: round(sum(i.cpu_ms for i in invs if i.function == f), 1) for f in by_function},
        "handler_wall_ms": sum(i.duration_ms for i in invs),
        "lambda_gb_s": sum(gb_seconds(i.duration_ms, fns.memory_mb[i.function]) for i in invs),
        "acumatica_calls": sum(v for (_, s, op), v in api.items() if s == "Acumatica"),
        "acumatica_logins": sum(v for (_, s, op), v in api.items() if s == "Acumatica" and op == "login"),
        "magento_calls": sum(v for (_, s, _op), v in api.items() if s == "Magento"),
        "api_calls_by_operation": {f"{s} {op} ({f})": v for (f, s, op), v in sorted(api.items())},
        "aws_requests": sum(fn_requests.values()),
        "aws_requests_by_operation": dict(sorted(fn_requests.items())),
        "aws_requests_by_function": dict(sorted(fn_requests_by_function.items())),
        "runtime_polling_requests": sum(polling.values()),
        "runtime_polling_by_operation": dict(sorted(polling.items())),
        "sqs_fifo_requests": max(0.0, sqs["fifo"]),
        "sqs_standard_requests": max(0.0, sqs["standard"]),
        "dynamodb_wru": wru,
        "dynamodb_rru": rru,
        "dynamodb_items_estimated": estimated,
        "secretsmanager_calls": sum(v for k, v in fn_requests.items() if k.startswith("secretsmanager.")),
        "log_bytes": sum(p.log_bytes for p in phases)
        + sum(platform_log_bytes(i.duration_ms, fns.memory_mb[i.function]) for i in invs),
        "function_log_bytes": sum(p.log_bytes for p in phases),
    }


def per(total: dict[str, Any], orders: int, digits: int = 2) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in total.items():
        if isinstance(v, dict):
            out[k] = {kk: round(vv / orders, digits) for kk, vv in v.items()}
        else:
            out[k] = round(v / orders, digits)
    return out


def summarise(*, meta: dict[str, Any], orders: int, latency_ms: int, latencies: list[float],
              floor_calls: list[dict[str, Any]], hops: list[dict[str, Any]], life: Phase | list[Phase],
              create: Phase, cold: dict[str, Any], fns: Functions, problems: list[str],
              phases: list[Phase], first_grants: int = 0) -> dict[str, Any]:
    """The results file's content from the run's measurements. ``first_grants``: the session pool's slots first
    filled during the measured phases (their logins are the pool growing, counted apart from the steady state's)."""
    life_phases = life if isinstance(life, list) else [life]
    whole = per(usage(life_phases, fns), orders)
    made = per(usage([create], fns), orders)
    counted = [c for c in floor_calls if c["share_of_creates"] >= 0.5]  # the calls the create path really makes
    api_ms = len(counted) * latency_ms
    sqs_ms = round(sum(h["p50_ms"] for h in hops), 1)
    floor_ms = round(api_ms + sqs_ms, 1)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    per_order = {
        "aws_requests": whole["aws_requests"],
        "runtime_polling_requests": whole["runtime_polling_requests"],
        "acumatica_calls": whole["acumatica_calls"],
        "acumatica_logins": round(whole["acumatica_logins"], 4),
        "magento_calls": whole["magento_calls"],
        "create_acumatica_calls": made["acumatica_calls"],
        "create_magento_calls": made["magento_calls"],
        "create_aws_requests": made["aws_requests"],
        "lambda_invocations": whole["lambda_invocations"],
        "create_lambda_invocations": made["lambda_invocations"],
        "cpu_ms": round(whole["cpu_ms"], 1),
        "create_cpu_ms": round(made["cpu_ms"], 1),
        "handler_wall_ms": round(whole["handler_wall_ms"], 1),
        "lambda_gb_s": round(whole["lambda_gb_s"], 4),
        "sqs_fifo_requests": whole["sqs_fifo_requests"],
        "sqs_standard_requests": whole["sqs_standard_requests"],
        "dynamodb_wru": whole["dynamodb_wru"],
        "dynamodb_rru": whole["dynamodb_rru"],
        "secretsmanager_calls": round(whole["secretsmanager_calls"], 3),
        "log_bytes": round(whole["log_bytes"]),
    }
    cost = {k: round(v * 100_000, 3) for k, v in cost_per_order(_cost_inputs(whole)).items()}
    create_cost = {k: round(v * 100_000, 3) for k, v in cost_per_order(_cost_inputs(made)).items()}
    cold_ratio = {k: v["ratio"] for k, v in cold.items()}
    result: dict[str, Any] = {
        "schema": SCHEMA_VERSION, **meta, "orders": orders, "latency_per_api_call_ms": latency_ms,
        "push_to_magento_created_ms": {"p50": round(p50, 1), "p95": round(p95, 1),
                                       "max": round(max(latencies or [0.0]), 1), "samples": len(latencies)},
        "floor_ms": floor_ms,
        "floor": {"api_calls": floor_calls, "api_calls_counted": len(counted), "api_ms": api_ms, "sqs_hops": hops,
                  "sqs_ms": sqs_ms},
        "ratio_to_floor": {"p50": round(p50 / floor_ms, 2) if floor_ms else None,
                           "p95": round(p95 / floor_ms, 2) if floor_ms else None},
        "per_order": per_order,
        "acumatica_logins_per_1000_orders": round(
            max(0.0, whole["acumatica_logins"] * orders - first_grants) / orders * 1000, 2) if orders else 0.0,
        "acumatica_logins": {"measured": round(whole["acumatica_logins"] * orders), "first_grants": first_grants,
                             "per_1000_orders_with_first_grants": round(whole["acumatica_logins"] * 1000, 2)},
        "breakdown_per_order": {
            "aws_requests_by_operation": whole["aws_requests_by_operation"],
            "aws_requests_by_function": whole["aws_requests_by_function"],
            "runtime_polling_by_operation": whole["runtime_polling_by_operation"],
            "api_calls_by_operation": whole["api_calls_by_operation"],
            "create_api_calls_by_operation": made["api_calls_by_operation"],
            "create_aws_requests_by_operation": made["aws_requests_by_operation"],
            "lambda_invocations_by_function": whole["lambda_invocations_by_function"],
            "cpu_ms_by_function": whole["cpu_ms_by_function"],
            "function_log_bytes": round(whole["function_log_bytes"]),
            "dynamodb_items_estimated": whole["dynamodb_items_estimated"],
        },
        "phases": {p.name: {"seconds": round(p.seconds, 1), "invocations": len(p.invocations)} for p in phases},
        "cold_init": cold,
        "cold_init_vs_baseline": cold_ratio,
        "cost_per_100k_orders_usd": cost["total"],
        "cost_breakdown_per_100k_orders_usd": cost,
        "create_cost_per_100k_orders_usd": create_cost["total"],
        "not_priced": NOT_PRICED,
        "prices": PRICES,
        "life": {"orders_checked": orders, "problems": problems},
        "issue_baseline": ISSUE_BASELINE,
    }
    result["targets"] = TARGETS
    result["targets_met"] = targets_met(result)
    return result


def _cost_inputs(u: dict[str, Any]) -> dict[str, float]:
    keys = ("lambda_invocations", "lambda_gb_s", "sqs_fifo_requests", "sqs_standard_requests", "dynamodb_wru",
            "dynamodb_rru", "log_bytes", "secretsmanager_calls")
    return {k: float(u[k]) for k in keys}


def targets_met(r: dict[str, Any]) -> dict[str, bool | None]:
    """Each target against the run's figure (None when the run has no such figure)."""
    po, ratio = r["per_order"], r["ratio_to_floor"]
    cold = [v for v in r["cold_init_vs_baseline"].values() if v is not None]
    figures = {
        "p50_vs_floor": ratio["p50"], "p95_vs_floor": ratio["p95"],
        "create_acumatica_calls": po["create_acumatica_calls"], "create_magento_calls": po["create_magento_calls"],
        "acumatica_logins_per_1000_orders": r["acumatica_logins_per_1000_orders"],
        "aws_requests": po["aws_requests"], "create_cpu_ms": po["create_cpu_ms"], "cpu_ms": po["cpu_ms"],
        "cold_init_vs_baseline": max(cold) if cold else None,
        "cost_per_100k_orders_usd": r["cost_per_100k_orders_usd"],
    }
    return {k: (None if figures[k] is None else bool(figures[k] <= TARGETS[k]["max"])) for k in TARGETS}
