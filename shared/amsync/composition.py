"""Wiring: the concrete ports each service gets, built once per container from the Settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from amsync.adapters.acumatica import AcumaticaClient
from amsync.adapters.magento import MagentoClient
from amsync.config import Settings
from amsync.data import queues
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog
from amsync.data.secrets import get_json_secret
from amsync.data.settings_store import SettingsStore
from amsync.models.log import LogEntry
from amsync.models.messages import Kind, MagentoOrderWrite, SyncRequest
from amsync.observability import echo_log_entry, record_api_call
from amsync.services.intake import WebhookSecret
from amsync.services.order_sync import OrderSyncPorts
from amsync.services.order_writer import WriterPorts


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


# ---------------------------------------------------------------------- API clients and service ports


def acumatica_client(settings: Settings) -> AcumaticaClient:
    return AcumaticaClient(settings.acumatica_base, settings.acumatica_endpoint,
                           credentials=lambda: get_json_secret(settings.acumatica_secret_name),
                           connect_timeout=settings.http_connect_timeout, timeout=settings.http_timeout,
                           on_call=record_api_call)


def magento_client(settings: Settings, store_code: str = "default") -> MagentoClient:
    return MagentoClient(settings.magento_base,
                         token=lambda fresh: str(get_json_secret(settings.magento_secret_name, force=fresh)["token"]),
                         store_code=store_code, connect_timeout=settings.http_connect_timeout,
                         timeout=settings.http_timeout, on_call=record_api_call)


def log_writer(settings: Settings) -> Callable[[list[LogEntry]], None]:
    connector_log = ConnectorLog(settings.connector_log_table, settings.connector_log_ttl_days)

    def write(entries: list[LogEntry]) -> None:
        connector_log.write_many(entries)
        for e in entries:
            echo_log_entry(e)
    return write


def order_sync_ports(settings: Settings) -> OrderSyncPorts:
    def forward(msg: MagentoOrderWrite) -> None:
        queues.send(settings.magento_order_queue_url, msg, group_id=msg.order_key,
                    dedup_key=f"{msg.order_key}|{msg.action}|{msg.acumatica_last_modified}|{msg.acumatica_status}",
                    correlation_id=msg.correlation_id)

    return OrderSyncPorts(acumatica=acumatica_client(settings), magento=magento_client(settings),
                          settings=SettingsStore(settings.settings_table), binder=Binder(settings.bindings_table),
                          log=log_writer(settings), forward=forward)


def writer_ports(settings: Settings) -> WriterPorts:
    return WriterPorts(magento=magento_client(settings), acumatica=acumatica_client(settings),
                       binder=Binder(settings.bindings_table), log=log_writer(settings),
                       create_lease_s=settings.create_lease_s)


# ---------------------------------------------------------------------- follow-ups (fulfilment, order updates, stock)

from amsync.data.bindings import Binding  # noqa: E402 - kept with the builders that need it
from amsync.services.fulfilment import FulfilmentPorts  # noqa: E402
from amsync.services.inventory import InventoryPorts  # noqa: E402
from amsync.services.order_updates import OrderUpdatePorts, apply_order_update  # noqa: E402


def fulfilment_ports(settings: Settings) -> FulfilmentPorts:
    return FulfilmentPorts(acumatica=acumatica_client(settings), magento=magento_client(settings),
                           settings=SettingsStore(settings.settings_table), binder=Binder(settings.bindings_table),
                           log=log_writer(settings), create_lease_s=settings.create_lease_s)


def order_update_hook(settings: Settings, magento: MagentoClient | None = None,
                      acumatica: AcumaticaClient | None = None) -> Callable[[MagentoOrderWrite, Binding], None]:
    """The Magento writer's ``on_update``: status, hold, cancel and post-sync changes of a bound order."""
    ports = OrderUpdatePorts(acumatica=acumatica or acumatica_client(settings),
                             magento=magento or magento_client(settings),
                             settings=SettingsStore(settings.settings_table), binder=Binder(settings.bindings_table),
                             log=log_writer(settings))

    def on_update(msg: MagentoOrderWrite, binding: Binding) -> None:
        apply_order_update(msg, binding, ports)
    return on_update


def inventory_ports(settings: Settings) -> InventoryPorts:
    return InventoryPorts(acumatica=acumatica_client(settings), magento=magento_client(settings),
                          settings=SettingsStore(settings.settings_table), log=log_writer(settings))
