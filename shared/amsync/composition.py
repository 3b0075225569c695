"""Wiring: the concrete ports each service gets, built once per container from the Settings."""

from __future__ import annotations

from collections.abc import Mapping

from amsync.config import Settings
from amsync.data import queues
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog
from amsync.data.secrets import get_json_secret
from amsync.data.settings_store import SettingsStore
from amsync.models.log import LogEntry
from amsync.models.messages import Kind, SyncRequest
from amsync.observability import echo_log_entry
from amsync.services.intake import WebhookSecret


class AwsIntakePorts:
    """Intake's ports over Secrets Manager, DynamoDB and SQS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.binder = Binder(settings.bindings_table)
        self.store = SettingsStore(settings.settings_table)
        self.connector_log = ConnectorLog(settings.connector_log_table, settings.connector_log_ttl_days)
        self._secret: WebhookSecret | None = None

    def secret(self) -> WebhookSecret:
        return WebhookSecret.from_secret(get_json_secret(self.settings.webhook_secret_name))

    def query_kinds(self) -> Mapping[str, Kind]:
        return self.store.push_queries().queries

    def push_seen(self, query: str, push_id: str) -> bool:
        return self.binder.push_seen(query, push_id)

    def mark_push_seen(self, query: str, push_id: str) -> None:
        self.binder.mark_push_seen(query, push_id)

    def publish(self, requests: list[SyncRequest]) -> None:
        publish_requests(self.settings, requests)

    def log(self, entries: list[LogEntry]) -> None:
        self.connector_log.write_many(entries)
        for e in entries:
            echo_log_entry(e)


def queue_for(settings: Settings, kind: Kind) -> str:
    if kind in (Kind.ORDER, Kind.PAYMENT):
        return settings.order_queue_url
    if kind in (Kind.SHIPMENT, Kind.INVOICE):
        return settings.fulfilment_queue_url
    return settings.inventory_queue_url


def publish_requests(settings: Settings, requests: list[SyncRequest]) -> None:
    """Send sync requests to their queues; FIFO group = the sales order, dedup = push id + record."""
    by_queue: dict[str, list[SyncRequest]] = {}
    for r in requests:
        by_queue.setdefault(queue_for(settings, r.kind), []).append(r)
    for url, reqs in by_queue.items():
        queues.send_many(url, [(r, r.group_id, _dedup_key(r)) for r in reqs])


def _dedup_key(r: SyncRequest) -> str:
    return f"{r.source}|{r.query}|{r.push_id or r.timestamp}|{r.kind}|{r.key}|{r.order_key}|{r.attempt}"
