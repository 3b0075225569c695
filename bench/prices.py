"""AWS list prices the benchmark's cost uses (us-east-1, on-demand, no free tier), and the cost arithmetic.

Each price keeps its source and the date it was taken. They are the figures the pricing pages publish; they were
not fetched live by the run, so re-check them before quoting a cost.
"""

from __future__ import annotations

import math
from typing import Any

TAKEN = "as published in 2025 (us-east-1); not fetched by the run"

PRICES: dict[str, dict[str, Any]] = {
    "lambda_request": {
        "usd": 0.20 / 1e6, "unit": "request",
        "source": "https://aws.amazon.com/lambda/pricing/ (requests: $0.20 per 1M)", "taken": TAKEN},
    "lambda_gb_s_arm64": {
        "usd": 0.0000133334, "unit": "GB-second",
        "source": "https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-s per month; INIT billed "
                  "like the invocation since 2025-08-01)", "taken": TAKEN},
    "sqs_standard_request": {
        "usd": 0.40 / 1e6, "unit": "request (64 KB chunk)",
        "source": "https://aws.amazon.com/sqs/pricing/ (standard queue, after the first 1M free: $0.40 per 1M)",
        "taken": TAKEN},
    "sqs_fifo_request": {
        "usd": 0.50 / 1e6, "unit": "request (64 KB chunk)",
        "source": "https://aws.amazon.com/sqs/pricing/ (FIFO queue: $0.50 per 1M)", "taken": TAKEN},
    "dynamodb_wru": {
        "usd": 0.625 / 1e6, "unit": "write request unit",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class: $0.625 per 1M WRU, "
                  "since the 2024-11-01 cut)", "taken": TAKEN},
    "dynamodb_rru": {
        "usd": 0.125 / 1e6, "unit": "read request unit",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class: $0.125 per 1M RRU)",
        "taken": TAKEN},
    "logs_ingest_gb": {
        "usd": 0.50, "unit": "GB ingested (2^30 bytes)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/ (Logs, Standard class, collect: $0.50 per GB)",
        "taken": TAKEN},
    "secretsmanager_call": {
        "usd": 0.05 / 10_000, "unit": "API call",
        "source": "https://aws.amazon.com/secrets-manager/pricing/ ($0.05 per 10,000 API calls)", "taken": TAKEN},
}

NOT_PRICED = ("fixed monthly costs, not per order: Secrets Manager's $0.40 per secret per month, the EMF custom "
              "metrics' $0.30 per metric per month, alarms, the dashboard, the schedules' runs (the reconciler every "
              "5 minutes, the customer poller) and the event source mappings' empty long polls; storage (DynamoDB, "
              "logs); data transfer")


def usd(name: str) -> float:
    return float(PRICES[name]["usd"])


def cost_per_order(usage: dict[str, float]) -> dict[str, float]:
    """USD per order, by item, from per-order usage:

    ``lambda_invocations``, ``lambda_gb_s``, ``sqs_fifo_requests``, ``sqs_standard_requests``, ``dynamodb_wru``,
    ``dynamodb_rru``, ``log_bytes``, ``secretsmanager_calls``. Returns each item and ``total``."""
    items = {
        "lambda_requests": usage["lambda_invocations"] * usd("lambda_request"),
        "lambda_duration": usage["lambda_gb_s"] * usd("lambda_gb_s_arm64"),
        "sqs": usage["sqs_fifo_requests"] * usd("sqs_fifo_request")
        + usage["sqs_standard_requests"] * usd("sqs_standard_request"),
        "dynamodb": usage["dynamodb_wru"] * usd("dynamodb_wru") + usage["dynamodb_rru"] * usd("dynamodb_rru"),
        "cloudwatch_logs": usage["log_bytes"] / 2**30 * usd("logs_ingest_gb"),
        "secrets_manager": usage["secretsmanager_calls"] * usd("secretsmanager_call"),
    }
    items["total"] = sum(items.values())
    return items


def gb_seconds(duration_ms: float, memory_mb: int) -> float:
    """Lambda bills each invocation's duration rounded up to the millisecond, times its memory in GB."""
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024
