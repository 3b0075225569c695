"""The status page: queue depths and oldest-message ages, the reconciler's and the customer poller's watermarks,
failures today, alarms in ALARM."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amsync.data import queues
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog
from amsync.services.customer_poller import WATERMARK as CUSTOMER_WATERMARK
from amsync.services.operations import DLQ_SOURCES
from amsync_cli.console.app import Console, safe_text
from amsync_cli.console.operations import age_text
from amsync_cli.context import StackContext

STREAMS = ("orders", "shipments", "invoices", "payments", "stock", "doubles")
DLQ_AGE_PEEK = 20


def queue_ages(stack: StackContext, urls: dict[str, str]) -> tuple[dict[str, float], str | None]:
    """SQS's ApproximateAgeOfOldestMessage per queue (the newest minute CloudWatch has in the last 15), or why not."""
    names = {f"q{i}": (logical, url.rstrip("/").rsplit("/", 1)[-1]) for i, (logical, url) in enumerate(urls.items())}
    if not names:
        return {}, None
    now = datetime.now(UTC)
    try:
        resp = stack.client("cloudwatch").get_metric_data(
            StartTime=now - timedelta(minutes=15), EndTime=now, ScanBy="TimestampDescending",
            MetricDataQueries=[{"Id": qid, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage",
                           "Dimensions": [{"Name": "QueueName", "Value": name}]},
                "Period": 60, "Stat": "Maximum"}} for qid, (_, name) in names.items()])
    except (ClientError, BotoCoreError) as exc:
        return {}, f"CloudWatch metrics unavailable: {safe_text(str(exc))[:200]}"
    ages = {}
    for r in resp.get("MetricDataResults", []):
        if r.get("Values"):
            ages[names[r["Id"]][0]] = float(r["Values"][0])
    return ages, None


def dlq_oldest(url: str, visible: int) -> tuple[float, bool]:
    """(age of the oldest message seen, whether every message was seen) from the DLQ's own messages."""
    peeked = queues.peek(url, DLQ_AGE_PEEK)
    sent = [int(m["attributes"]["SentTimestamp"]) for m in peeked if m["attributes"].get("SentTimestamp")]
    return (time.time() - min(sent) / 1000 if sent else 0.0), len(peeked) >= visible


def alarms_in_alarm(stack: StackContext) -> tuple[list[dict[str, str]], str]:
    """The stack's alarms now in ALARM, and what to say when there are none."""
    names = sorted(pid for lid, pid in stack.physical_ids.items() if lid.endswith("Alarm"))
    if not names:
        return [], "none reported: this stack has no CloudWatch alarms (the local world's moto does not create them)"
    found: list[dict[str, str]] = []
    cloudwatch = stack.client("cloudwatch")
    try:
        for start in range(0, len(names), 100):
            pages = cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names[start:start + 100], StateValue="ALARM")
            for page in pages:
                found += [{"name": a["AlarmName"], "reason": a.get("StateReason", ""),
                           "since": str(a.get("StateUpdatedTimestamp", ""))[:19]} for a in page["MetricAlarms"]
                          if a.get("StateValue") == "ALARM"]
    except (ClientError, BotoCoreError) as exc:
        return [], f"unavailable: {safe_text(str(exc))[:200]}"
    return found, "" if found else f"none reported: none of the stack's {len(names)} alarms is in ALARM"


def gather(stack: StackContext) -> dict[str, Any]:
    urls = dict(sorted(stack.queue_urls().items()))
    ages, ages_note = queue_ages(stack, urls)
    rows = []
    for name, url in urls.items():
        depth = queues.depth(url)
        age, note = ages.get(name), ""
        if name in DLQ_SOURCES and depth["visible"] and age is None:
            age, complete = dlq_oldest(url, depth["visible"])
            note = "" if complete else f"oldest of the {DLQ_AGE_PEEK} looked at"
        rows.append({"name": name, "dlq": name in DLQ_SOURCES, **depth, "age": age_text(age) if depth["visible"]
                     or age else "", "age_note": note})
    binder = Binder(stack.settings.bindings_table)
    marks = [{"stream": s, "watermark": binder.watermark(s) or "(never ran)"} for s in STREAMS]
    customers = binder.watermark(CUSTOMER_WATERMARK)
    marks.append({"stream": "customer poll", "watermark": customers.split("|", 1)[0] if customers else "(never ran)"})
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    failures = ConnectorLog(stack.settings.connector_log_table).failure_count(today)
    alarms, alarms_note = alarms_in_alarm(stack)
    return {"queues": rows, "ages_note": ages_note, "marks": marks, "failures": failures, "today": today,
            "alarms": alarms, "alarms_note": alarms_note, "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}


def routes(console: Console) -> list[Route]:
    async def status(request: Request) -> Response:
        return console.render(request, "status.html", **await run_in_threadpool(gather, console.stack))

    return [Route("/status", status)]
