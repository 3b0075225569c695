"""Audit (Acumatica against Magento over a date range) and preview (what the connector would do with one order)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amsync_cli.console.app import Console, safe

MAX_AUDIT_DAYS = 92
ORDER_TYPE = re.compile(r"^[A-Z0-9]{2}$")
ORDER_NBR = re.compile(r"^[A-Za-z0-9_-]{1,15}$")


def audit_range(start_text: str, end_text: str) -> tuple[date, date] | str:
    """The dates of the audit form, or what is wrong with them."""
    try:
        start, end = date.fromisoformat(start_text.strip()), date.fromisoformat(end_text.strip())
    except ValueError:
        return "start and end: dates as 2026-11-29"
    if end < start:
        return "end: before start"
    if (end - start).days >= MAX_AUDIT_DAYS:
        return f"at most {MAX_AUDIT_DAYS} days at a time"
    return start, end


def routes(console: Console) -> list[Route]:
    async def audit_page(request: Request) -> Response:
        params = request.query_params
        today = datetime.now(UTC).date()
        start_text, end_text = params.get("start", ""), params.get("end", "")
        result: dict[str, Any] | None = None
        error = ""
        if start_text or end_text:
            checked = audit_range(start_text, end_text)
            if isinstance(checked, str):
                error = checked
            else:
                from amsync_cli.audit import audit

                report = await run_in_threadpool(lambda: audit(console.stack, checked[0], checked[1]))
                result = safe(report.to_json())
        return console.render(request, "audit.html", 400 if error else 200, error=error, result=result,
                              start=start_text or str(today - timedelta(days=1)), end=end_text or str(today))

    async def preview_page(request: Request) -> Response:
        params = request.query_params
        order_type, order_nbr = params.get("order_type", "SO").strip().upper(), params.get("order_nbr", "").strip()
        result: dict[str, Any] | None = None
        error = ""
        if order_nbr:
            if not ORDER_TYPE.match(order_type) or not ORDER_NBR.match(order_nbr):
                error = "an order type is two letters or digits (SO), an order number up to 15 (SOT00024)"
            else:
                from amsync_cli.preview import preview_order

                found = await run_in_threadpool(preview_order, console.stack, order_type, order_nbr)
                result = safe(found.to_json())
        return console.render(request, "preview.html", 400 if error else 200, error=error, result=result,
                              order_type=order_type, order_nbr=order_nbr)

    return [Route("/audit", audit_page), Route("/preview", preview_page)]
