"""The Magento writer (the exporter): exactly one live Magento order per Acumatica order, whatever the timing.

already bound? -> done (or an update) | take the create lease (a fencing token) | look the order up by its
ext_order_id (an earlier attempt may have committed and lost its answer; not on the first attempt at an order whose
Acumatica ExternalRef is empty, which nothing can have created) -> bind | else create once -> bind at
once, fenced by the token -> write the Magento number back to Acumatica -> follow the order's current state
(a hold or cancel made while the create was in flight). The protocol and its guards: ``services/exporting.py``
and docs/architecture.md ("Exactly once").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, FatalError, RetryableError
from amsync.models.acumatica import SalesOrderState
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.magento import MagentoOrderSummary
from amsync.models.messages import MagentoOrderWrite
from amsync.services.exporting import (
    AlreadyBound,
    Binding,
    CreateBinder,
    LeaseHeld,
    LeaseLost,
    NotReady,
    give_back_lease,
    release_quietly,
)
from amsync.services.log_rows import now, sync_row
from amsync.services.order_identity import ext_order_id
from amsync.services.order_links import link_entity

# Magento's answer when a unique key (increment_id per store) is taken: MySQL's duplicate key as
# Magento\Framework\Exception\AlreadyExistsException renders it through the REST layer
UNIQUE_VIOLATION = "unique constraint violation found"


class MagentoOrders(Protocol):
    def find_orders(self, ext_order_id: str) -> list[MagentoOrderSummary]: ...
    def create_order(self, entity: dict[str, Any]) -> MagentoOrderSummary: ...
    def save_order_items(self, entity: dict[str, Any]) -> None: ...


class AcumaticaOrderReads(Protocol):
    def write_back_external_ref(self, order_type: str, order_nbr: str, value: str) -> SalesOrderState: ...
    def sales_order_state(self, order_type: str, order_nbr: str) -> SalesOrderState: ...


class OrderBinder(CreateBinder, Protocol):
    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None: ...


@dataclass
class WriterPorts:
    magento: MagentoOrders
    acumatica: AcumaticaOrderReads
    binder: OrderBinder
    log: Callable[[list[LogEntry]], None]
    write_back: bool = True
    create_lease_s: float = 60.0  # longer than one create call can take
    on_update: Callable[[MagentoOrderWrite, Binding], None] | None = None
    on_double: Callable[[], None] | None = None  # a metric: a Magento order made by a writer that lost its lease


def write_order(msg: MagentoOrderWrite, ports: WriterPorts) -> str:
    """Create (or recognise) the Magento order for ``msg``; returns what happened."""
    binding = ports.binder.get("order", msg.order_key)
    if binding is not None and binding.state == "bound":
        return _already_bound(msg, binding, ports)
    if msg.action == "update":
        return "not-bound"  # an update for an order not in Magento yet: the create path follows the current state
    try:
        marked = ports.binder.mark_creating("order", msg.order_key, ports.create_lease_s)
        lease = marked.lease
    except AlreadyBound as exc:
        assert exc.existing is not None
        return _already_bound(msg, exc.existing, ports)
    except LeaseHeld as exc:
        raise NotReady(str(exc), retry_after=exc.retry_after) from exc
    started = now()
    payload = msg.payload
    try:
        # the first attempt at an order nothing claims cannot find it: no search in the create's path
        existing = None if marked.first_attempt and msg.unclaimed else _lookup(msg, payload, ports)
    except Exception:
        release_quietly(ports.binder, "order", msg.order_key, lease)  # nothing created: no need to wait
        raise
    if existing is not None:
        _link_children(msg, payload, existing, lease, ports)
        return _bind_and_finish(msg, existing, lease, ports, started, "recovered",
                                "found in Magento (an earlier attempt committed): bound, not created again",
                                {"found": existing.summary()})
    try:
        created = ports.magento.create_order(payload)
    except RetryableError as exc:
        then = give_back_lease(ports.binder, "order", msg.order_key, exc, ports.create_lease_s, lease=lease)
        ports.log([_row(msg, Result.FAILURE, started, f"{exc}; {then}", {"request": {"entity": payload}})])
        raise
    except FatalError as exc:
        if UNIQUE_VIOLATION in exc.remote_message.lower() and payload.get("increment_id"):
            return _numbered_already(msg, payload, lease, ports, started, exc)
        ports.log([_row(msg, Result.FAILURE, started, f"Magento refused the order: {exc.remote_message}",
                        {"request": {"entity": payload}, "response": exc.body})])
        ports.binder.release_creating("order", msg.order_key, lease=lease)
        return "refused"
    _link_children(msg, payload, created, lease, ports)
    return _bind_and_finish(msg, created, lease, ports, started, "created", "created",
                            {"request": {"entity": payload}, "response": created.summary()})


def _link_children(msg: MagentoOrderWrite, payload: dict[str, Any], order: MagentoOrderSummary, lease: str | None,
                   ports: WriterPorts) -> None:
    """Link a configurable's / bundle's children to their parent item (services/order_links.py) before binding:
    if it fails, the retry finds the order and links it then."""
    try:
        entity = link_entity(payload, order)
        if entity is not None:
            ports.magento.save_order_items(entity)
    except Exception:
        release_quietly(ports.binder, "order", msg.order_key, lease)  # the order is in Magento: the retry finds it
        raise


def _numbered_already(msg: MagentoOrderWrite, payload: dict[str, Any], lease: str | None, ports: WriterPorts,
                      started: Any, exc: FatalError) -> str:
    """Acumatica numbering: Magento refused a second order with this increment_id. If the order holding it is
    this Acumatica order's (an earlier create that committed late), bind it; else the number is taken by another
    order, which no retry can fix."""
    try:
        existing = _lookup(msg, payload, ports)
    except Exception:
        release_quietly(ports.binder, "order", msg.order_key, lease)
        raise
    if existing is not None:
        _link_children(msg, payload, existing, lease, ports)
        return _bind_and_finish(msg, existing, lease, ports, started, "recovered",
                                f"Magento already has #{payload['increment_id']} for this order (a create that "
                                "committed late): bound, not created again", {"found": existing.summary()})
    ports.log([_row(msg, Result.FAILURE, started,
                    f"Magento order number #{payload['increment_id']} is taken by another order ({exc.remote_message})"
                    ": change the order type's prefix (preference increment_id_prefixes), then resync",
                    {"request": {"entity": payload}, "response": exc.body})])
    ports.binder.release_creating("order", msg.order_key, lease=lease)
    return "refused"


def _lookup(msg: MagentoOrderWrite, payload: dict[str, Any], ports: WriterPorts) -> MagentoOrderSummary | None:
    order_type, _, order_nbr = msg.order_key.partition("/")
    ext_id = str(payload.get("ext_order_id") or ext_order_id(order_type, order_nbr))
    store_id = payload.get("store_id")
    found = [o for o in ports.magento.find_orders(ext_id)
             if o.ext_order_id == ext_id and (store_id is None or o.store_id in (None, int(store_id)))]
    return min(found, key=lambda o: o.entity_id) if found else None


def _bind_and_finish(msg: MagentoOrderWrite, order: MagentoOrderSummary, lease: str | None, ports: WriterPorts,
                     started: Any, outcome: str, message: str, details: dict[str, Any]) -> str:
    try:
        bound = ports.binder.bind("order", msg.order_key, order.entity_id, order.increment_id, lease=lease)
    except LeaseLost as exc:
        return _lost_the_lease(msg, order, exc, ports, started)
    except AlreadyBound as exc:
        if exc.existing is None or exc.existing.magento_entity_id == order.entity_id:
            raise
        return _lost_the_lease(msg, order, exc, ports, started)
    except Exception:
        release_quietly(ports.binder, "order", msg.order_key, lease)  # the order is in Magento: the retry finds it
        raise
    _finish(msg, bound, ports, started, message, details)
    return outcome


def _lost_the_lease(msg: MagentoOrderWrite, order: MagentoOrderSummary, exc: AlreadyBound, ports: WriterPorts,
                    started: Any) -> str:
    """Another writer took the lease over while this one was creating: its order (or the one it will bind) stands;
    the order this writer made is a double. Reported here; the reconciler's sweep cancels (or holds) it."""
    other = exc.existing.magento_entity_id if exc.existing and exc.existing.magento_entity_id else None
    ours = order.entity_id
    if other == ours:  # the other writer bound this very order
        return "duplicate"
    if ports.on_double is not None:
        ports.on_double()
    ports.log([_row(msg, Result.FAILURE, started,
                    f"Magento order #{order.increment_id} (entity {ours}) is a second order for "
                    f"{msg.order_key}: this writer's create lease was taken over by another writer "
                    f"({'bound to entity ' + str(other) if other else 'still creating'}); the reconciler's sweep "
                    "cancels the double", {"double": order.summary()}, ours)])
    return "lost-lease"


def _finish(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts, started: Any, message: str,
            details: dict[str, Any]) -> None:
    row = _row(msg, Result.SUCCESS, started, message, details, binding.magento_entity_id)
    if msg.requested_at:
        row.latency_ms = round((time.time() - msg.requested_at) * 1000, 1)
    ports.log([row])
    # the status it was created in is the status Magento has: the order-status follow-up starts from there
    synced: dict[str, Any] = {"status_synced": msg.acumatica_status, "hold_synced": False}
    total = msg.payload.get("grand_total") if msg.action == "create" else None
    if total is not None:  # with the status: what lets order sync drop a push that changes neither (bound_no_op)
        synced["total_synced"] = str(total)
    current = _write_back(msg, binding, ports, **synced)
    _follow_current_state(msg, replace(binding, extra={**binding.extra, **{f"x_{k}": v for k, v in synced.items()}}),
                          ports, current)


def _follow_current_state(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts,
                          current: SalesOrderState | None) -> None:
    """A hold, cancel or other status change made in Acumatica after order sync read the order (while the create
    was in flight) reached no Magento order then: compare the order as it is now with what was created, and follow
    the difference (the write-back's answer carries the current status; without a write-back it is read)."""
    if ports.on_update is None:
        return
    if current is None:
        order_type, _, order_nbr = msg.order_key.partition("/")
        current = ports.acumatica.sales_order_state(order_type, order_nbr)
    status, hold = current.status, current.hold
    if status in (None, binding.extra.get("x_status_synced")) and hold == bool(binding.extra.get("x_hold_synced")):
        return
    ports.on_update(msg.model_copy(update={"action": "update", "acumatica_status": status or msg.acumatica_status}),
                    binding)


def _write_back(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts,
                **bookkeeping: Any) -> SalesOrderState | None:
    """Put the Magento order number on the Acumatica order (ExternalRef); retried until done. Returns the order as
    Acumatica answered the write (its current status), or None when nothing was written."""
    if not (ports.write_back and msg.write_back) or binding.extra.get("x_written_back") \
            or not binding.magento_increment_id:
        if bookkeeping:
            ports.binder.touch("order", msg.order_key, **bookkeeping)
        return None
    order_type, _, order_nbr = msg.order_key.partition("/")
    try:
        record = ports.acumatica.write_back_external_ref(order_type, order_nbr, binding.magento_increment_id)
    except ApiError as exc:
        ports.log([_row(msg, Result.FAILURE, now(), f"Magento order #{binding.magento_increment_id} exists, but "
                        f"writing its number back to Acumatica failed: {exc}", {}, binding.magento_entity_id,
                        Action.UPDATE)])
        if exc.retryable:
            raise
        return None
    # remember the version we last wrote: the reconciler hands on only changes newer than it
    ports.binder.touch("order", msg.order_key, written_back=True, acumatica_modified=record.last_modified or "",
                       **bookkeeping)
    return record


def _already_bound(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts) -> str:
    _write_back(msg, binding, ports)
    if ports.on_update is None:
        return "duplicate"
    if msg.action == "update":
        ports.on_update(msg, binding)
        return "updated"
    # a create request for a bound order: order sync read the order before the bind; if it changed since what
    # was synced (a hold or cancel while the create was in flight), that change is followed here
    if msg.acumatica_status != binding.extra.get("x_status_synced"):
        ports.on_update(msg.model_copy(update={"action": "update"}), binding)
        return "updated"
    return "duplicate"


def _row(msg: MagentoOrderWrite, result: Result, started: Any, message: str, details: dict[str, Any],
         entity_id: int | None = None, action: Action = Action.CREATE) -> LogEntry:
    return sync_row(Group.ORDER, action, result, notes=msg.order_nbr, started=started, entity_id=entity_id,
                    message=message, details=details, correlation_id=msg.correlation_id)
