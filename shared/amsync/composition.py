"""Wiring: the concrete ports each service gets, built once per container from the Settings.

Each function imports only what its own builder needs (cold start): the API clients, the consumer, every
service and the stores only some functions use (bindings, connector log, seat pool) are imported inside the
builders that use them, so the webhook never loads httpx, the services, the binder or the connector log, and
order sync never loads the reconciler or the customer sync."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from amsync.adapters.errors import OutOfTime, RateLimited
from amsync.config import Settings
from amsync.data import queues
from amsync.data.secrets import get_json_secret
from amsync.data.settings_store import SettingsStore
from amsync.deadline import Deadline
from amsync.flood_sampler import FloodSampler
from amsync.models.log import DIRECTION_A2M, DIRECTION_M2A, Group, LogEntry, Result, Side
from amsync.models.messages import Kind, MagentoOrderWrite, SyncRequest, fifo_group
from amsync.observability import echo_log_entry, logger, metrics, record_api_call

if TYPE_CHECKING:  # annotations only (intake among them: the webhook's alone, no queue consumer loads it)
    from amsync.adapters.acumatica import AcumaticaClient
    from amsync.adapters.magento import MagentoClient
    from amsync.consumer import GiveUp
    from amsync.data.bindings import Binder, Binding
    from amsync.data.seats import SeatPool
    from amsync.models.acumatica import PooledToken
    from amsync.services.customer_poller import CustomerPollerPorts
    from amsync.services.customer_sync import CustomerSyncPorts
    from amsync.services.fulfilment import FulfilmentPorts
    from amsync.services.intake import Rejection, WebhookSecret
    from amsync.services.inventory import InventoryPorts
    from amsync.services.order_sync import OrderSyncPorts
    from amsync.services.order_writer import WriterPorts
    from amsync.services.reconciler import ReconcilerPorts

P = TypeVar("P")  # a poller's ports


class AwsIntakePorts:
    """Intake's ports over Secrets Manager, the settings (both cached) and SQS: one SQS request per accepted post,
    nothing written to DynamoDB (its log rows ride in the messages: services/intake.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SettingsStore(settings.settings_table)
        self.rejections = FloodSampler()  # per container, like the ports
        self.drops = FloodSampler()

    def secret(self) -> WebhookSecret:
        from amsync.services.intake import WebhookSecret

        return WebhookSecret.from_secret(get_json_secret(self.settings.webhook_secret_name))

    def query_kinds(self) -> Mapping[str, Kind]:
        return self.store.push_queries().queries

    def publish(self, requests: list[SyncRequest]) -> None:
        publish_requests(self.settings, requests)

    def rejected(self, rejection: Rejection) -> None:
        """The ``WebhookRejected`` metric for every refused post (one series: the reason is no dimension), and a
        warning line for those the sampler lets through. Nothing goes to DynamoDB."""
        metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
        suppressed = self.rejections.admit()
        if suppressed is not None:
            logger.warning("push rejected", extra={
                "status": rejection.status, "reason": rejection.reason, "check": rejection.note,
                "body_bytes": rejection.body_bytes, "header_names": list(rejection.header_names),
                "suppressed_before": suppressed})

    def dropped(self, query: str, reasons: list[str]) -> None:
        """A post with nothing that can change Magento: the ``PushDropped`` metric and a sampled info line."""
        metrics.add_metric(name="PushDropped", unit="Count", value=1)
        suppressed = self.drops.admit()
        if suppressed is not None:
            logger.info("push dropped: nothing in it can change Magento", extra={
                "query": query, "dropped": reasons[:20], "suppressed_before": suppressed})


def queue_for(settings: Settings, kind: Kind) -> str:
    if kind in (Kind.ORDER, Kind.PAYMENT):
        return settings.order_queue_url
    if kind in (Kind.SHIPMENT, Kind.INVOICE):
        return settings.fulfilment_queue_url
    if kind is Kind.CUSTOMER:
        return settings.customer_queue_url
    return settings.inventory_queue_url


def publish_requests(settings: Settings, requests: list[SyncRequest]) -> None:
    """Send sync requests to their queues; FIFO group = the sales order, dedup = push id + record + half."""
    by_queue: dict[str, list[SyncRequest]] = {}
    for r in requests:
        by_queue.setdefault(queue_for(settings, r.kind), []).append(r)
    for url, reqs in by_queue.items():
        queues.send_many(url, [(r, r.group_id, _dedup_key(r)) for r in reqs])


def _dedup_key(r: SyncRequest) -> str:
    """The FIFO deduplication key: SQS drops a repeat within five minutes (Acumatica's re-send of a post whose
    answer was lost). A push's Inserted half and its lone Deleted half (an update split over two posts, which may
    share the Id) are two requests."""
    half = "D" if r.deleted_only else "I"
    return f"{r.source}|{r.query}|{r.push_id or r.timestamp}|{r.kind}|{r.key}|{r.order_key}|{r.attempt}|{half}"


# ---------------------------------------------------------------------- API clients and service ports


class _Seats:
    """The licence seat pool as the Acumatica client sees it."""

    def __init__(self, pool: SeatPool) -> None:
        self.pool = pool

    def acquire(self) -> None:
        from amsync.data.seats import NoSeat

        try:
            self.pool.acquire()
        except NoSeat as exc:
            if exc.cut_short:  # no failure of the record: its invocation ran out of time to wait
                raise OutOfTime("Acumatica", "login", f"no seat: {exc}") from exc
            raise RateLimited("Acumatica", "login", str(exc), retry_after=5.0) from exc

    def release(self) -> None:
        self.pool.release()

    def hold_until(self, session_left_s: float) -> None:
        self.pool.hold_until(session_left_s)


def invocation_deadline(settings: Settings) -> Deadline:
    """A container's deadline: its queue consumer sets it per invocation, its clients and seat pool consult it."""
    return Deadline(reserve_s=settings.deadline_reserve_s)


def acumatica_client(settings: Settings, deadline: Deadline | None = None) -> AcumaticaClient:
    """One client per container. keep: one licence seat per warm container; per_invocation: the seat is given back
    after each run; pool: a pooled OAuth session is borrowed for each spell of Acumatica calls."""
    from amsync.adapters.acumatica import AcumaticaClient

    policy = settings.acumatica_session_policy
    credentials = lambda: get_json_secret(settings.acumatica_secret_name)  # noqa: E731
    seats: _Seats | None = None
    lender: _Lender | None = None
    if policy == "pool":
        lender = _Lender(settings, deadline, credentials)
    else:
        from amsync.data.seats import SeatPool

        seats = _Seats(SeatPool(settings.bindings_table, settings.acumatica_max_sessions,
                                lease_s=3600 if policy == "keep" else 300, wait_s=settings.acumatica_seat_wait_s,
                                deadline=deadline, then_s=settings.http_timeout))
    return AcumaticaClient(settings.acumatica_base, settings.acumatica_endpoint, credentials=credentials,
                           connect_timeout=settings.http_connect_timeout, timeout=settings.http_timeout,
                           on_call=record_api_call, seats=seats, keep_session=policy == "keep", deadline=deadline,
                           lender=lender)


class _Lender:
    """The pooled sessions as the Acumatica client sees them: NoSeat becomes RateLimited (or OutOfTime when the
    invocation ran out of time to wait), and the pool refuses a cookie login (it pools OAuth grants only)."""

    def __init__(self, settings: Settings, deadline: Deadline | None,
                 credentials: Callable[[], Mapping[str, Any]]) -> None:
        from amsync.data.tokens import TokenPool

        self.credentials = credentials
        self.pool = TokenPool(settings.bindings_table, settings.acumatica_max_sessions, settings.acumatica_token_key,
                              lease_s=120.0, wait_s=settings.acumatica_seat_wait_s, deadline=deadline,
                              then_s=settings.http_timeout)

    def borrow(self) -> PooledToken:
        from amsync.adapters.errors import AuthError
        from amsync.data.seats import NoSeat

        if not self.credentials().get("client_id"):
            raise AuthError("Acumatica", "login", "AcumaticaSessionPolicy pool shares OAuth sessions: the Acumatica "
                            "secret has no client_id/client_secret (use per_invocation with a user name only)")
        try:
            return self.pool.borrow()
        except NoSeat as exc:
            if exc.cut_short:
                raise OutOfTime("Acumatica", "login", f"no session: {exc}") from exc
            raise RateLimited("Acumatica", "login", str(exc), retry_after=5.0) from exc

    def keep(self, token: PooledToken) -> None:
        self.pool.keep(token)

    def give_back(self) -> None:
        self.pool.give_back()

    def contended(self) -> bool:
        return self.pool.contended()


def api_clients(settings: Settings, deadline: Deadline | None = None) -> tuple[AcumaticaClient, MagentoClient]:
    """A container's two clients, linked: while other containers wait for a pooled Acumatica session, the one
    this container borrowed is lent back before each Magento call, so no seat waits on Magento."""
    acumatica = acumatica_client(settings, deadline)
    magento = magento_client(settings, deadline=deadline)
    magento.before_call = acumatica.pause
    return acumatica, magento


def release_sessions(*holders: object) -> Callable[[], None]:
    """The end-of-invocation step of a handler: every Acumatica client in its ports ends its session if its
    policy says so (per_invocation), giving the licence seat back."""
    from amsync.adapters.acumatica import AcumaticaClient

    clients: list[AcumaticaClient] = []

    def collect(obj: object, depth: int = 0) -> None:
        if isinstance(obj, AcumaticaClient):
            if all(c is not obj for c in clients):
                clients.append(obj)
        elif depth < 3 and hasattr(obj, "__dict__") and not isinstance(obj, type):
            for value in vars(obj).values():
                collect(value, depth + 1)

    for h in holders:
        collect(h)

    def end() -> None:
        for c in clients:
            c.end_invocation()
    return end


def magento_client(settings: Settings, store_code: str = "default",
                   deadline: Deadline | None = None) -> MagentoClient:
    from amsync.adapters.magento import MagentoClient

    return MagentoClient(settings.magento_base,
                         token=lambda fresh: str(get_json_secret(settings.magento_secret_name, force=fresh)["token"]),
                         store_code=store_code, connect_timeout=settings.http_connect_timeout,
                         timeout=settings.http_timeout, on_call=record_api_call, deadline=deadline)


def binder(settings: Settings) -> Binder:
    from amsync.data.bindings import Binder

    return Binder(settings.bindings_table)


def log_writer(settings: Settings) -> Callable[[list[LogEntry]], None]:
    from amsync.data.connector_log import ConnectorLog

    connector_log = ConnectorLog(settings.connector_log_table, settings.connector_log_ttl_days,
                                 settings.connector_log_detail_ttl_days)

    def write(entries: list[LogEntry]) -> None:
        connector_log.write_many(entries)
        for e in entries:
            echo_log_entry(e)
    return write


# a message's own kind (intake's LOG_GROUP but for a payment, which intake logs under its order)
_GROUPS = {Kind.ORDER: Group.ORDER, Kind.PAYMENT: Group.PAYMENT, Kind.SHIPMENT: Group.SHIPMENT,
           Kind.INVOICE: Group.INVOICE, Kind.STOCK: Group.INVENTORY, Kind.CUSTOMER: Group.CUSTOMER,
           Kind.RETURN: Group.RETURN}


def give_up(settings: Settings, dlq: str) -> GiveUp:
    """A consumer's last receive before ``dlq``: a Failure row for the message's entity, with the replay command."""
    from amsync.consumer import GiveUp

    write = log_writer(settings)

    def record(body: str, what: str) -> None:
        from amsync.services.operations import message_notes

        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        kind = Kind(data["kind"]) if isinstance(data, dict) and data.get("kind") in set(Kind) else Kind.ORDER
        notes = message_notes(body)
        write([LogEntry(side=Side.MAGENTO, group=_GROUPS[kind], result=Result.FAILURE, notes=notes, entity_key=notes,
                        direction=DIRECTION_M2A if kind in (Kind.CUSTOMER, Kind.RETURN) else DIRECTION_A2M,
                        correlation_id=str(data.get("correlation_id") or "") if isinstance(data, dict) else "",
                        complete_time=datetime.now(UTC),
                        message=f"{what}; once the cause is fixed: amsync dlq replay {dlq}"
                                + (f" --entity {notes}" if notes else ""))])
    return GiveUp(max_receives=settings.max_receive_count, dlq=dlq, record=record)


def order_sync_ports(settings: Settings, deadline: Deadline | None = None,
                     log: Callable[[list[LogEntry]], None] | None = None) -> OrderSyncPorts:
    from amsync.services.order_sync import OrderSyncPorts

    def forward(msg: MagentoOrderWrite) -> None:
        queues.send(settings.magento_order_queue_url, msg, group_id=fifo_group(msg.order_key),
                    dedup_key=f"{msg.order_key}|{msg.action}|{msg.acumatica_last_modified}|{msg.acumatica_status}",
                    correlation_id=msg.correlation_id)

    acumatica, magento = api_clients(settings, deadline)
    return OrderSyncPorts(acumatica=acumatica, magento=magento,
                          settings=SettingsStore(settings.settings_table), binder=binder(settings),
                          log=log or log_writer(settings), forward=forward)


def writer_ports(settings: Settings, deadline: Deadline | None = None) -> WriterPorts:
    from amsync.services.order_writer import WriterPorts

    acumatica, magento = api_clients(settings, deadline)
    return WriterPorts(magento=magento, acumatica=acumatica,
                       binder=binder(settings), log=log_writer(settings),
                       create_lease_s=settings.create_lease_s,
                       on_double=lambda: metrics.add_metric(name="OrderDoublesFound", unit="Count", value=1))


# ---------------------------------------------------------------------- follow-ups (fulfilment, order updates, stock)

def fulfilment_ports(settings: Settings, deadline: Deadline | None = None,
                     log: Callable[[list[LogEntry]], None] | None = None) -> FulfilmentPorts:
    from amsync.services.fulfilment import FulfilmentPorts

    acumatica, magento = api_clients(settings, deadline)
    return FulfilmentPorts(acumatica=acumatica, magento=magento,
                           settings=SettingsStore(settings.settings_table), binder=binder(settings),
                           log=log or log_writer(settings), create_lease_s=settings.create_lease_s)


def order_update_hook(settings: Settings,
                      writer: WriterPorts | None = None) -> Callable[[MagentoOrderWrite, Binding], None]:
    """The Magento writer's ``on_update``: status, hold, cancel and post-sync changes of a bound order.

    It reuses the writer's clients when given (one Acumatica session / licence seat per container).
    """
    from amsync.adapters.acumatica import AcumaticaClient
    from amsync.adapters.magento import MagentoClient
    from amsync.services.order_updates import OrderUpdatePorts, apply_order_update

    acumatica = writer.acumatica if writer and isinstance(writer.acumatica, AcumaticaClient) else None
    magento = writer.magento if writer and isinstance(writer.magento, MagentoClient) else None
    if acumatica is None or magento is None:
        acumatica, magento = api_clients(settings)
    ports = OrderUpdatePorts(acumatica=acumatica, magento=magento,
                             settings=SettingsStore(settings.settings_table), binder=binder(settings),
                             log=log_writer(settings))

    def on_update(msg: MagentoOrderWrite, binding: Binding) -> None:
        apply_order_update(msg, binding, ports)
    return on_update


def inventory_ports(settings: Settings, deadline: Deadline | None = None,
                    log: Callable[[list[LogEntry]], None] | None = None) -> InventoryPorts:
    from amsync.services.inventory import InventoryPorts

    acumatica, magento = api_clients(settings, deadline)
    return InventoryPorts(acumatica=acumatica, magento=magento,
                          settings=SettingsStore(settings.settings_table), log=log or log_writer(settings))


class _AcumaticaChanges:
    """The reconciler's view of Acumatica: what changed since a time."""

    def __init__(self, client: AcumaticaClient) -> None:
        self.client = client

    def changed(self, entity: str, stamp_field: str, since: str, select: str | None,
                expand: str | None) -> Iterable[dict[str, Any]]:
        from amsync.adapters.acumatica import changed_since

        return changed_since(self.client, entity, stamp_field, since, select=select, expand=expand)

    def quantities_changed(self, since: str) -> list[dict[str, Any]]:
        from amsync.adapters.acumatica import quantities_changed_since

        return quantities_changed_since(self.client, since)


def reconciler_ports(settings: Settings) -> ReconcilerPorts:
    from amsync.services.reconciler import ReconcilerPorts

    store = SettingsStore(settings.settings_table)
    acumatica, magento = api_clients(settings)
    return ReconcilerPorts(
        acumatica=_AcumaticaChanges(acumatica), binder=binder(settings),
        publish=lambda reqs: publish_requests(settings, reqs), log=log_writer(settings),
        warehouses=lambda: list(dict.fromkeys(m.warehouse_id for m in store.mappings("warehouse"))),  # once each
        magento=magento, preferences=store.order_sync,
        overlap=timedelta(seconds=settings.reconcile_overlap_s))


# ---------------------------------------------------------------------- customers Magento -> Acumatica

def publish_standard(queue_url: str, requests: list[SyncRequest]) -> None:
    """Requests onto a standard queue, a message each: the consumer's binding and version dedupe them."""
    queues.send_many(queue_url, [(r, None, None) for r in requests])


def publish_customer_requests(settings: Settings, requests: list[SyncRequest]) -> None:
    publish_standard(settings.customer_queue_url, requests)


def poller_ports(ports: Callable[..., P], settings: Settings, queue_url: str) -> P:
    """A Magento poller's ports (customers, credit memos): Magento, the settings, the binder (watermark and poll
    lease), a publisher onto its queue and the connector log."""
    return ports(magento=magento_client(settings), settings=SettingsStore(settings.settings_table),
                 binder=binder(settings), publish=lambda reqs: publish_standard(queue_url, reqs),
                 log=log_writer(settings))


def customer_poller_ports(settings: Settings) -> CustomerPollerPorts:
    from amsync.services.customer_poller import CustomerPollerPorts

    return poller_ports(CustomerPollerPorts, settings, settings.customer_queue_url)


def customer_sync_ports(settings: Settings, deadline: Deadline | None = None) -> CustomerSyncPorts:
    from amsync.services.customer_sync import CustomerSyncPorts

    acumatica, magento = api_clients(settings, deadline)
    return CustomerSyncPorts(magento=magento, acumatica=acumatica,
                             settings=SettingsStore(settings.settings_table), binder=binder(settings),
                             log=log_writer(settings), create_lease_s=settings.create_lease_s)
