"""The Magento writer (the exporter): exactly one Magento order per Acumatica order.

already bound? -> done (or an update) | mark "creating" | look the order up by ext_order_id (an earlier attempt
may have committed and lost its answer) -> bind | else create once -> bind at once -> write the Magento number back
to Acumatica. A timeout or 5xx on create is not retried here: the lease is held one more lease (Magento may still
be committing it), then the record comes back and starts with the lookup. The binding's conditional write is the
durable guard against two Magento orders for one Acumatica order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, FatalError, RetryableError
from amsync.consumer import NotReady
from amsync.data.bindings import AlreadyBound, Binding, LeaseHeld
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import MagentoOrderWrite
from amsync.services.log_rows import now, sync_row


class MagentoOrders(Protocol):
    def orders_by_ext_id(self, ext_order_id: str) -> list[dict[str, Any]]: ...
    def create_order(self, entity: dict[str, Any]) -> dict[str, Any]: ...


class AcumaticaWriteBack(Protocol):
    def write_back_external_ref(self, order_type: str, order_nbr: str, value: str) -> dict[str, Any]: ...


class CreateBinder(Protocol):
    """The create lease and the binding: what every writer of a Magento document needs."""

    def get(self, kind: str, acumatica_key: str) -> Binding | None: ...
    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding: ...
    def release_creating(self, kind: str, acumatica_key: str, hold_s: float = 0.0) -> None: ...
    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None) -> Binding: ...


class OrderBinder(CreateBinder, Protocol):
    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None: ...


@dataclass
class WriterPorts:
    magento: MagentoOrders
    acumatica: AcumaticaWriteBack
    binder: OrderBinder
    log: Callable[[list[LogEntry]], None]
    write_back: bool = True
    create_lease_s: float = 60.0  # longer than one create call can take
    on_update: Callable[[MagentoOrderWrite, Binding], None] | None = None


def write_order(msg: MagentoOrderWrite, ports: WriterPorts) -> str:
    """Create (or recognise) the Magento order for ``msg``; returns what happened."""
    binding = ports.binder.get("order", msg.order_key)
    if binding is not None and binding.state == "bound":
        return _already_bound(msg, binding, ports)
    if msg.action == "update":
        return "not-bound"  # an update for an order not in Magento yet: the create path will carry it
    try:
        ports.binder.mark_creating("order", msg.order_key, ports.create_lease_s)
    except AlreadyBound as exc:
        assert exc.existing is not None
        return _already_bound(msg, exc.existing, ports)
    except LeaseHeld as exc:
        raise NotReady(str(exc), retry_after=exc.retry_after) from exc
    started = now()
    payload = msg.payload
    existing = _lookup(msg, payload, ports)
    if existing is not None:
        bound = _bind(msg, existing, ports)
        _finish(msg, bound, ports, started, "found in Magento (an earlier attempt committed): bound, not created again",
                {"found": _summary(existing)})
        return "recovered"
    try:
        created = ports.magento.create_order(payload)
    except RetryableError as exc:
        then = give_back_lease(ports.binder, "order", msg.order_key, exc, ports.create_lease_s)
        ports.log([_row(msg, Result.FAILURE, started, f"{exc}; {then}", {"request": {"entity": payload}})])
        raise
    except FatalError as exc:
        ports.log([_row(msg, Result.FAILURE, started, f"Magento refused the order: {exc.remote_message}",
                        {"request": {"entity": payload}, "response": exc.body})])
        ports.binder.release_creating("order", msg.order_key)
        return "refused"
    bound = _bind(msg, created, ports)
    _finish(msg, bound, ports, started, "created", {"request": {"entity": payload}, "response": _summary(created)})
    return "created"


def give_back_lease(binder: CreateBinder, kind: str, key: str, exc: RetryableError, hold_s: float) -> str:
    """After a create that failed retryably: free the lease now if Magento surely did nothing (429, no
    connection), else hold it ``hold_s`` more seconds, so that a create still running in Magento (a timeout, a
    5xx from a proxy) commits before anyone looks it up and creates it again. Returns what happens next."""
    if exc.may_have_committed:
        binder.release_creating(kind, key, hold_s)
        exc.retry_after = max(exc.retry_after or 0.0, hold_s + 1)  # the record's next attempt comes after the doubt
        return f"Magento may still commit it: it is looked up, not created again, after {hold_s:g} s"
    binder.release_creating(kind, key)
    return "Magento did not take the request: it is looked up and retried"


def _lookup(msg: MagentoOrderWrite, payload: dict[str, Any], ports: WriterPorts) -> dict[str, Any] | None:
    store_id = payload.get("store_id")
    found = [o for o in ports.magento.orders_by_ext_id(msg.order_nbr)
             if store_id is None or o.get("store_id") in (None, store_id)]
    return min(found, key=lambda o: int(o["entity_id"])) if found else None


def _bind(msg: MagentoOrderWrite, order: dict[str, Any], ports: WriterPorts) -> Binding:
    try:
        return ports.binder.bind("order", msg.order_key, int(order["entity_id"]), str(order.get("increment_id")))
    except AlreadyBound as exc:
        # Someone bound it to another Magento order between our lookup and now: theirs stands, ours is a double.
        other = exc.existing.magento_entity_id if exc.existing else "?"
        raise RetryableError("amsync", "bind", f"{msg.order_key} is bound to Magento order {other} already, "
                             f"not {order['entity_id']}") from exc


def _finish(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts, started: Any, message: str,
            details: dict[str, Any]) -> None:
    row = _row(msg, Result.SUCCESS, started, message, details, binding.magento_entity_id)
    if msg.requested_at:
        row.latency_ms = round((time.time() - msg.requested_at) * 1000, 1)
    ports.log([row])
    # the status it was created in is the status Magento has: the order-status follow-up starts from there
    _write_back(msg, binding, ports, status_synced=msg.acumatica_status, hold_synced=False)


def _write_back(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts, **bookkeeping: Any) -> None:
    """Put the Magento order number on the Acumatica order (ExternalRef); retried until done."""
    if not (ports.write_back and msg.write_back) or binding.extra.get("x_written_back") \
            or not binding.magento_increment_id:
        if bookkeeping:
            ports.binder.touch("order", msg.order_key, **bookkeeping)
        return
    order_type, _, order_nbr = msg.order_key.partition("/")
    try:
        record = ports.acumatica.write_back_external_ref(order_type, order_nbr, binding.magento_increment_id)
    except ApiError as exc:
        ports.log([_row(msg, Result.FAILURE, now(), f"Magento order #{binding.magento_increment_id} exists, but "
                        f"writing its number back to Acumatica failed: {exc}", {}, binding.magento_entity_id,
                        Action.UPDATE)])
        if exc.retryable:
            raise
        return
    # remember the version we last wrote: the reconciler hands on only changes newer than it
    modified = (record.get("LastModified") or {}).get("value") if isinstance(record, dict) else None
    ports.binder.touch("order", msg.order_key, written_back=True, acumatica_modified=modified or "", **bookkeeping)


def _already_bound(msg: MagentoOrderWrite, binding: Binding, ports: WriterPorts) -> str:
    _write_back(msg, binding, ports)
    if msg.action == "update" and ports.on_update is not None:
        ports.on_update(msg, binding)
        return "updated"
    return "duplicate"


def _summary(order: dict[str, Any]) -> dict[str, Any]:
    keys = ("entity_id", "increment_id", "ext_order_id", "state", "status", "grand_total", "customer_email")
    return {k: order.get(k) for k in keys}


def _row(msg: MagentoOrderWrite, result: Result, started: Any, message: str, details: dict[str, Any],
         entity_id: int | None = None, action: Action = Action.CREATE) -> LogEntry:
    return sync_row(Group.ORDER, action, result, notes=msg.order_nbr, started=started, entity_id=entity_id,
                    message=message, details=details, correlation_id=msg.correlation_id)
