"""Polling Magento on an ``updated_at`` watermark (customers, credit memos): Magento Open Source has no webhooks.

The mark is ``"<updated_at>|<ids handed on at that second>"``: a run re-reads the mark's own second (Magento's
stamps have one-second resolution, and a record may be saved later in the same second) but skips the ids it already
handed on unchanged.
"""

from __future__ import annotations

import time
from calendar import timegm
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from amsync.services.exporting import AlreadyBound, Binding, LeaseHeld

Fetch = Callable[[str, int, int], list[dict[str, Any]]]  # (since, page_size, current_page) -> rows, oldest first


class PollBinder(Protocol):
    def watermark(self, name: str) -> str | None: ...
    def set_watermark(self, name: str, value: str, previous: str | None) -> bool: ...
    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding: ...
    def release_creating(self, kind: str, acumatica_key: str) -> None: ...


@contextmanager
def poll_lease(binder: PollBinder, kind: str, key: str, lease_s: float) -> Iterator[bool]:
    """The poller's lease for the run (False: another run holds it, poll nothing); given back when the run ends."""
    try:
        binder.mark_creating(kind, key, lease_s)
    except (LeaseHeld, AlreadyBound):
        yield False
        return
    try:
        yield True
    finally:
        binder.release_creating(kind, key)


def parse_watermark(value: str | None, initial: str) -> tuple[str, set[int]]:
    if not value:
        return initial, set()
    stamp, _, ids = value.partition("|")
    return stamp, {int(i) for i in ids.split(",") if i.strip()}


def format_watermark(stamp: str, ids: set[int]) -> str:
    return f"{stamp}|{','.join(str(i) for i in sorted(ids))}"


def epoch(stamp: str) -> int:
    """Magento's ``updated_at`` (UTC, ``YYYY-MM-DD HH:MM:SS``) as Unix seconds; 0 when it is not one."""
    try:
        return timegm(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return 0


def _stamp(row: dict[str, Any]) -> str:
    return str(row.get("updated_at") or "")


def changed_since(fetch: Fetch, since: str, seen: set[int], page_size: int, most: int,
                  id_key: str) -> list[dict[str, Any]]:
    """Records changed since the watermark, oldest change first, each once with its latest row; those handed on at
    ``since`` and unchanged skipped; at most ``most`` (bounded even if Magento keeps changing)."""
    latest: dict[int, dict[str, Any]] = {}
    cursor, page = since, 1
    for _ in range(most // page_size + 50):
        items = fetch(cursor, page_size, page)
        for item in items:
            rid = int(item[id_key])
            if _stamp(item) == since and rid in seen:
                continue  # handed on by an earlier run, unchanged since
            latest.pop(rid, None)
            latest[rid] = item  # a later row of the same record replaces (and re-orders) the earlier one
        if len(items) < page_size or len(latest) >= most:
            break
        last = _stamp(items[-1])
        cursor, page = (cursor, page + 1) if last == cursor else (last, 1)
    rows = sorted(latest.values(), key=lambda i: (_stamp(i), int(i[id_key])))
    return rows[:most]


def next_watermark(since: str, seen: set[int], handed: list[dict[str, Any]], id_key: str) -> str:
    """The mark past ``handed``: its newest second, with the ids handed on at that second."""
    newest = max(_stamp(i) for i in handed)
    ids = {int(i[id_key]) for i in handed if _stamp(i) == newest}
    return format_watermark(newest, ids | seen if newest == since else ids)
