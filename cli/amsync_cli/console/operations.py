"""DLQs (what waits, why) with replay, and per-entity resync; each change behind a confirmation step, as the
CLI's `dlq replay` and `resync` do them (amsync.services.operations, amsync.data.queues.move_messages)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amsync.data import queues
from amsync.data.connector_log import ConnectorLog
from amsync.models.log import Result
from amsync.models.messages import Kind
from amsync.services.operations import DLQ_SOURCES, message_entities, message_group, message_notes, resync
from amsync_cli.console.app import Console, safe, safe_text

PEEK = 20
RESYNC_KINDS = (Kind.ORDER, Kind.SHIPMENT, Kind.INVOICE, Kind.STOCK)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def message_rows(log: ConnectorLog, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A DLQ's messages as the page lists them: entity, kind, receives, age, last Failure row (masked)."""
    rows = []
    now = time.time()
    for m in messages:
        body = str(m["body"])
        notes = message_notes(body)
        attrs: dict[str, Any] = m["attributes"]
        sent = attrs.get("SentTimestamp")
        last = next((e for e in log.timeline(notes, limit=20) if e.result == Result.FAILURE), None) if notes else None
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"body": body}
        rows.append({"id": m["id"], "entity": notes, "kind": parsed.get("kind", "") if isinstance(parsed, dict) else "",
                     "receives": attrs.get("ApproximateReceiveCount", ""),
                     "age": age_text(now - int(sent) / 1000) if sent else "",
                     "last_error": safe_text(last.message[:300]) if last else "",
                     "last_log_id": last.log_id if last else "", "body": safe(parsed)})
    return rows


class OperationPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def dlqs(self) -> dict[str, str]:
        return {k: v for k, v in self.console.stack.queue_urls().items() if k in DLQ_SOURCES}

    def _load(self) -> list[dict[str, Any]]:
        log = ConnectorLog(self.console.stack.settings.connector_log_table)
        out = []
        for name, url in sorted(self.dlqs().items()):
            depth = queues.depth(url)
            peeked = queues.peek(url, PEEK) if depth["visible"] else []
            out.append({"name": name, "source": DLQ_SOURCES[name], **depth, "messages": message_rows(log, peeked)})
        return out

    async def dlq_page(self, request: Request) -> Response:
        return self.console.render(request, "dlq.html", queues=await run_in_threadpool(self._load),
                                   kinds=RESYNC_KINDS, peek=PEEK)

    async def replay(self, request: Request) -> Response:
        form = await self.console.change(request)
        name, entity = form.get("queue", ""), form.get("entity", "").strip()
        known = self.dlqs()
        if name not in known:
            raise HTTPException(400, f"unknown DLQ {name!r}; known: {', '.join(sorted(known))}")
        target = DLQ_SOURCES[name]
        if form.get("confirmed") != "yes":
            which = f"the messages about {entity}" if entity else "every message"
            return self.console.render(
                request, "confirm.html", action="/dlq/replay", cancel="/dlq", fields={"queue": name, "entity": entity},
                what=f"Move {which} in {name} back to {target}? Replaying is idempotent: nothing is created twice.")
        target_url = self.console.stack.queue_urls()[target]
        select = (lambda body: entity in message_entities(body)) if entity else None
        moved = await run_in_threadpool(lambda: queues.move_messages(known[name], target_url, select=select,
                                                                     group_of=message_group))
        return self.console.render(request, "done.html", title="Replayed", back="/dlq", entity=entity,
                                   message=f"replayed {moved} message(s) from {name} to {target}")

    async def resync(self, request: Request) -> Response:
        form = await self.console.change(request)
        kind_text, keys = form.get("kind", ""), [k for k in form.get("key", "").replace(",", " ").split() if k]
        if kind_text not in {k.value for k in RESYNC_KINDS}:
            raise HTTPException(400, f"kind: one of {', '.join(k.value for k in RESYNC_KINDS)}")
        if not keys:
            raise HTTPException(400, "key: SOT00024 / SO/SOT00024, 005139, AR012116, SKU/WAREHOUSE")
        kind = Kind(kind_text)
        if form.get("confirmed") != "yes":
            return self.console.render(
                request, "confirm.html", action="/resync", cancel="/dlq",
                fields={"kind": kind.value, "key": " ".join(keys)},
                what=f"Make the connector look at {kind.value} {', '.join(keys)} again? Idempotent: nothing is created "
                     "twice.")
        published = await run_in_threadpool(self._resync, kind, keys)
        return self.console.render(request, "done.html", title="Resync queued", back="/dlq", entity=keys[0],
                                   message=f"queued {published} sync request(s) for {len(keys)} {kind.value}(s)")

    def _resync(self, kind: Kind, keys: list[str]) -> int:
        from amsync.composition import acumatica_client, publish_requests

        settings = self.console.stack.settings
        acumatica = acumatica_client(settings) if kind in (Kind.SHIPMENT, Kind.INVOICE) else None
        try:
            return sum(len(resync(kind, k, lambda r: publish_requests(settings, r), acumatica)) for k in keys)
        finally:
            if acumatica is not None:
                acumatica.logout()  # give the licence seat back at once


def routes(console: Console) -> list[Route]:
    pages = OperationPages(console)
    return [Route("/dlq", pages.dlq_page), Route("/dlq/replay", pages.replay, methods=["POST"]),
            Route("/resync", pages.resync, methods=["POST"])]
