"""The customer poller: Magento customers changed since the watermark become one sync request each.

Magento Open Source has no outbound webhooks, so a schedule asks ``customers/search`` for ``updated_at >= the
watermark``, oldest change first, page by page (keyset: the next page starts at the last ``updated_at`` seen, so a
customer changed while the poll pages is never skipped). The watermark is ``"<updated_at>|<ids>"``: the newest
``updated_at`` handed on and the customers handed on at that very second (Magento's clock has one-second
resolution; a ``gt`` would miss a customer saved later in the same second, a plain ``gteq`` re-sends the last one).
It advances only past what was published, with a conditional write; a lease keeps two overlapping runs apart.
A customer changed twice in one window is published once, and the consumer reads its latest data anyway.

Each run reports its lag (``CustomerPollLagSeconds``, read by the CustomerPollerBehind alarm): 0 when it read every
change up to now, else how old the watermark it leaves is (a run capped at ``poll_max_customers`` leaves the rest
to the next one). A quiet store is not behind: the watermark's age alone would grow while nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from amsync.models.log import DIRECTION_M2A, Action, Group, LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import CustomerSyncPreferences
from amsync.services.log_rows import customer_entity_key, now, sync_row
from amsync.services.watermark_poll import (
    PollBinder,
    changed_since,
    epoch,
    format_watermark,
    next_watermark,
    parse_watermark,
    poll_lease,
)

__all__ = ["changed_customers", "format_watermark", "parse_watermark", "poll_customers"]

WATERMARK = "magento-customers"
LEASE_KIND, LEASE_KEY = "poll", "magento-customers"


class MagentoChanges(Protocol):
    def customers_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]: ...


class PollerSettings(Protocol):
    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences: ...


@dataclass
class CustomerPollerPorts:
    magento: MagentoChanges
    settings: PollerSettings
    binder: PollBinder
    publish: Callable[[list[SyncRequest]], None]
    log: Callable[[list[LogEntry]], None]
    lease_s: float = 150.0  # longer than one run may take (the function's timeout is 120 s)


@dataclass
class PollResult:
    outcome: str  # "published" | "nothing" | "busy" | "moved" (another run advanced the watermark first)
    published: list[int] = field(default_factory=list)
    watermark: str | None = None
    lag_seconds: float | None = None  # None: the run did not poll ("busy")


def changed_customers(magento: MagentoChanges, since: str, seen: set[int],
                      prefs: CustomerSyncPreferences) -> list[dict[str, Any]]:
    """Customers changed since the watermark, oldest change first, each once with its latest row."""
    return changed_since(magento.customers_changed_since, since, seen, prefs.poll_page_size,
                         prefs.poll_max_customers, "id")


def poll_customers(ports: CustomerPollerPorts) -> PollResult:
    """One scheduled run: publish what changed, then advance the watermark past it."""
    with poll_lease(ports.binder, LEASE_KIND, LEASE_KEY, ports.lease_s) as held:
        return _poll(ports) if held else PollResult("busy")


def _lag(capped: bool, watermark: str | None, initial: str) -> float:
    """0 when the run read every change; else how far behind now the watermark it leaves is."""
    if not capped:
        return 0.0
    stamp, _ = parse_watermark(watermark, initial)
    return max(0.0, time.time() - epoch(stamp))


def _poll(ports: CustomerPollerPorts) -> PollResult:
    prefs = ports.settings.customer_sync(fresh=True)
    previous = ports.binder.watermark(WATERMARK)
    since, seen = parse_watermark(previous, prefs.initial_watermark)
    started = now()
    rows = changed_customers(ports.magento, since, seen, prefs)
    capped = len(rows) >= prefs.poll_max_customers  # more may wait behind what this run read
    handed = [i for i in rows if not prefs.website_ids or int(i.get("website_id") or 0) in prefs.website_ids]
    if not rows:
        return PollResult("nothing", watermark=previous, lag_seconds=_lag(capped, previous, prefs.initial_watermark))
    if handed:
        _publish(ports, handed, started)
    # past everything read, the customers of other websites included: a full page of those must not stop the poll
    value = next_watermark(since, seen, rows, "id")
    moved = not ports.binder.set_watermark(WATERMARK, value, previous)
    outcome = "moved" if moved else ("published" if handed else "nothing")
    return PollResult(outcome, [int(i["id"]) for i in handed], value, _lag(capped, value, prefs.initial_watermark))


def _publish(ports: CustomerPollerPorts, handed: list[dict[str, Any]], started: Any) -> None:
    requested = time.time()
    requests = [SyncRequest(kind=Kind.CUSTOMER, key=str(i["id"]), source="reconciler",
                            timestamp=epoch(str(i.get("updated_at") or "")),
                            hint={"updated_at": i.get("updated_at"), "website_id": i.get("website_id")},
                            correlation_id=customer_entity_key(int(i["id"])), requested_at=requested)
                for i in handed]
    ports.publish(requests)
    ports.log([sync_row(Group.CUSTOMER, Action.PUBLISHER, Result.SUCCESS, notes=str(i.get("email") or f"#{i['id']}"),
                        started=started, message=f"queued (Magento updated_at {i.get('updated_at')})",
                        details={"request": r.model_dump(mode="json")}, entity_key=customer_entity_key(int(i["id"])),
                        correlation_id=r.correlation_id, direction=DIRECTION_M2A)
               for i, r in zip(handed, requests, strict=True)])
