"""The connector log grid (the walkthrough's columns and filters, paged by index), View details and one order's
timeline."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amsync.data.connector_log import BadCursor, ConnectorLog, LogPage, LogQuery
from amsync.models.log import DIRECTION_A2M, DIRECTION_M2A, Action, Group, LogEntry, Result, Side
from amsync_cli.console.app import Console, safe, safe_text
from amsync_cli.times import parse_time

PAGE_SIZE = 50
SIDES = {"magento": Side.MAGENTO, "acumatica": Side.ACUMATICA}
CHOICES = {"group": [g.value for g in Group], "action": [a.value for a in Action],
           "direction": [DIRECTION_A2M, DIRECTION_M2A], "result": [r.value for r in Result]}
MAGENTO_COLUMNS = ["Log Id", "Start Time", "Complete Time", "Group", "Action", "Sync Direction", "Result",
                   "Entity Id", "Notes", "View"]
ACUMATICA_COLUMNS = ["Log Id", "Start Time", "Level", "Action Type", "Message", "View"]
TRAIL_SEP = "."  # cursors are base64url: no dots in them
ORDER = re.compile(r"^([A-Za-z0-9]{2}/)?[A-Za-z0-9_-]{1,15}$")


def grid_query(params: dict[str, str]) -> tuple[LogQuery, list[str]]:
    """The grid's filters from the query string, and what is wrong with them (the page says so, nothing is read)."""
    errors: list[str] = []
    side = SIDES.get(params.get("side", "magento"))
    if side is None:
        errors.append("side: magento or acumatica")
        side = Side.MAGENTO
    chosen: dict[str, str | None] = {}
    for name, allowed in CHOICES.items():
        value = params.get(name, "").strip() or None
        if value is not None and value not in allowed:
            errors.append(f"{name}: {value!r} is not one of {', '.join(allowed)}")
            value = None
        chosen[name] = value
    times: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            times[name] = parse_time(params.get(name, ""), name)
        except ValueError as exc:
            errors.append(str(exc))
            times[name] = None
    if times["since"] and times["until"] and times["since"] > times["until"]:
        errors.append("since: after until")
    entity = params.get("entity", "").strip() or None
    return LogQuery(side=side, entity=entity, start=times["since"], end=times["until"], **chosen), errors


def row(e: LogEntry) -> dict[str, Any]:
    """A grid row as the walkthrough shows it (what the row keeps is masked already; masked again to be sure)."""
    return {"log_id": e.log_id, "start": e.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            "complete": e.complete_time.strftime("%Y-%m-%d %H:%M:%S") if e.complete_time else "",
            "group": e.group.value if e.group else "", "action": e.action.value if e.action else "",
            "direction": e.direction, "result": e.result.value if e.result else "", "entity_id": e.entity_id or "",
            "notes": e.notes, "message": safe_text(e.message), "level": e.level, "action_type": e.action_type,
            "entity_key": e.entity_key, "side": e.side.value}


def _links(params: dict[str, str], page: LogPage, cursor: str, trail: list[str]) -> dict[str, str | None]:
    base = {k: v for k, v in params.items() if k not in ("cursor", "trail") and v}
    older = (f"/logs?{urlencode({**base, 'cursor': page.cursor, 'trail': TRAIL_SEP.join([*trail, cursor or '-'])})}"
             if page.cursor else None)
    newer = None
    if trail:
        back = trail[-1]
        newer = "/logs?" + urlencode({**base, **({"cursor": back} if back != "-" else {}),
                                       **({"trail": TRAIL_SEP.join(trail[:-1])} if trail[:-1] else {})})
    return {"older": older, "newer": newer, "newest": "/logs?" + urlencode(base) if trail else None}


def routes(console: Console) -> list[Route]:
    async def grid(request: Request) -> Response:
        params = dict(request.query_params)
        q, errors = grid_query(params)
        cursor = params.get("cursor", "")
        trail = [t for t in params.get("trail", "").split(TRAIL_SEP) if t]
        page = LogPage([], None, 0)
        if not errors:
            log = ConnectorLog(console.stack.settings.connector_log_table)
            try:
                page = await run_in_threadpool(log.page, q, PAGE_SIZE, cursor or None)
            except BadCursor as exc:
                errors.append(f"cursor: {exc}")
        side = "acumatica" if q.side is Side.ACUMATICA else "magento"
        return console.render(request, "logs.html", 400 if errors else 200, errors=errors, params=params, side=side,
                              choices=CHOICES, rows=[row(e) for e in page.entries], page=page,
                              columns=ACUMATICA_COLUMNS if side == "acumatica" else MAGENTO_COLUMNS,
                              links=_links(params, page, cursor, trail), page_number=len(trail) + 1)

    async def view(request: Request) -> Response:
        side_code, log_id = request.path_params["side"], request.path_params["log_id"]
        if side_code not in ("A", "M") or not log_id.isdigit() or len(log_id) != 19:
            raise HTTPException(404, "a Log Id is 19 digits, on side A (Acumatica) or M (Magento)")
        log = ConnectorLog(console.stack.settings.connector_log_table)
        found = await run_in_threadpool(log.view, log_id, Side(side_code))
        if found is None:
            raise HTTPException(404, f"no log entry {log_id} on the {'Acumatica' if side_code == 'A' else 'Magento'} "
                                     "side (or it expired)")
        entry = found.entry
        return console.render(request, "log_view.html", entry=row(entry), details=safe(entry.details),
                              expired_after=found.details_expired_after_days,
                              latency=entry.latency_ms, correlation_id=entry.correlation_id)

    async def timeline(request: Request) -> Response:
        order = request.query_params.get("order", "").strip()
        result: dict[str, Any] | None = None
        error = ""
        if order and not ORDER.match(order):
            error = "an order is SOT00024, SO/SOT00024 or ST/SOT00024"
        elif order:
            from amsync_cli.timeline import order_timeline

            found = await run_in_threadpool(order_timeline, console.stack, order)
            result = safe(found.to_json())
        return console.render(request, "timeline.html", 400 if error else 200, order=order, result=result,
                              error=error)

    return [Route("/logs", grid), Route("/logs/{side}/{log_id}", view), Route("/timeline", timeline)]
