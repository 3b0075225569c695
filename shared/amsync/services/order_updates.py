"""What happens to a bound order in Acumatica follows into Magento: status, hold, cancel; other changes are reported.

The Magento writer calls ``apply_order_update`` (its ``on_update``) for an order push about an order already in
Magento. The push is only a hint: the order is read again from Acumatica and compared with the Magento order.

- **Status**: each new Acumatica status goes through the order status mapping (SettingsStore kind "orderstatus",
  per store view, else the defaults below): a comment in the order's history (optionally with a Magento status
  label), hold, unhold or cancel. One ``Orderstatus / Update`` row per status change, Success or Failure.
- **Hold**: Acumatica's Hold flag / hold statuses hold the Magento order; leaving them unholds it.
- **Cancel**: Magento answers ``false`` when it will not cancel (fully invoiced, complete, ...): a Failure row
  with the reason, never a success.
- **Post-sync changes** (lines, quantities, prices, totals): Magento has no safe REST route to edit a placed
  order, so they are never written; each distinct divergence is one ``Order / Update`` Failure row naming it
  (docs/order-updates.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, FatalError, NotFound
from amsync.models.acumatica import SalesOrder
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import MagentoOrderWrite
from amsync.models.settings import OrderStatusMapping, OrderSyncPreferences
from amsync.services.exporting import Binding
from amsync.services.log_rows import now, sync_row
from amsync.services.stores import store_view_of

HOLD_STATUSES = ("On Hold", "Credit Hold", "Risk Hold", "Pending Approval")
DEFAULT_STATUS_MAPPINGS: dict[str, OrderStatusMapping] = {m.acumatica_status: m for m in (
    OrderStatusMapping(acumatica_status="Open", action="unhold", comment="Acumatica: order open"),
    OrderStatusMapping(acumatica_status="On Hold", action="hold", comment="Acumatica: order on hold"),
    OrderStatusMapping(acumatica_status="Credit Hold", action="hold", comment="Acumatica: order on credit hold"),
    OrderStatusMapping(acumatica_status="Risk Hold", action="hold", comment="Acumatica: order on risk hold"),
    OrderStatusMapping(acumatica_status="Pending Approval", action="hold", comment="Acumatica: order awaits approval"),
    OrderStatusMapping(acumatica_status="Awaiting Payment", comment="Acumatica: order awaits payment"),
    OrderStatusMapping(acumatica_status="Pending Processing", comment="Acumatica: order pending processing"),
    OrderStatusMapping(acumatica_status="Back Order", comment="Acumatica: back order (partly shipped)"),
    OrderStatusMapping(acumatica_status="Shipping", comment="Acumatica: shipment in progress"),
    OrderStatusMapping(acumatica_status="Invoiced", comment="Acumatica: order invoiced"),
    OrderStatusMapping(acumatica_status="Completed", comment="Acumatica: order completed"),
    OrderStatusMapping(acumatica_status="Canceled", action="cancel", comment="Acumatica: order canceled"),
)}
FALLBACK = OrderStatusMapping(acumatica_status="*", comment="Acumatica status: {status}")


class AcumaticaOrders(Protocol):
    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]: ...


class MagentoOrderActions(Protocol):
    def order(self, entity_id: int) -> dict[str, Any]: ...
    def comment(self, order_id: int, comment: str, status: str, visible: bool = False) -> bool: ...
    def order_action(self, order_id: int, action: str) -> bool: ...


class SettingsReads(Protocol):
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences: ...
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...


class BindingTouch(Protocol):
    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None: ...


@dataclass
class OrderUpdatePorts:
    acumatica: AcumaticaOrders
    magento: MagentoOrderActions
    settings: SettingsReads
    binder: BindingTouch
    log: Callable[[list[LogEntry]], None]


class _Refused(Exception):
    """Magento would not do what the mapping asks (a business answer: logged, not retried)."""


def apply_order_update(msg: MagentoOrderWrite, binding: Binding, ports: OrderUpdatePorts) -> str:
    """Re-read the order, follow its status/hold/cancel into Magento, report what cannot follow."""
    started = now()
    order_type, _, order_nbr = msg.order_key.partition("/")
    assert binding.magento_entity_id is not None
    increment = binding.magento_increment_id or order_nbr
    try:
        # order sync's update carries the order as it read it (one read per change); the FIFO group keeps any later
        # change behind this message. Any other update (after a create, a write-back's answer) reads it now.
        read = msg.payload.get("order") if msg.action == "update" else None
        if not (isinstance(read, dict) and "OrderNbr" in read):
            read = ports.acumatica.sales_order(order_type, order_nbr)
        order = SalesOrder.from_api(read)
    except ApiError as exc:
        if not isinstance(exc, NotFound) and "no entity satisfies the condition" not in exc.remote_message.lower():
            raise
        ports.log([_row(Group.ORDER, Result.SKIPPED, started, order_nbr, order_nbr, msg,
                        f"order {msg.order_key} no longer exists in Acumatica", binding.magento_entity_id)])
        return "gone"
    magento = ports.magento.order(binding.magento_entity_id)
    _report_divergence(order, magento, binding, ports, msg, started)
    status = order.status or ""
    if status == binding.extra.get("x_status_synced") and order.hold == bool(binding.extra.get("x_hold_synced")):
        return "unchanged"
    mapping = _mapping(status, magento, ports)
    try:
        done = _apply(mapping, order, magento, ports)
    except _Refused as exc:
        ports.log([_row(Group.ORDERSTATUS, Result.FAILURE, started, increment, order_nbr, msg,
                        f"Acumatica status {status!r}: {exc}", binding.magento_entity_id,
                        {"mapping": mapping.model_dump(), "magento_state": magento.get("state")})])
        ports.binder.touch("order", msg.order_key, status_synced=status, hold_synced=order.hold)
        return "refused"
    ports.log([_row(Group.ORDERSTATUS, Result.SUCCESS, started, increment, order_nbr, msg,
                    f"Acumatica status {status!r}: {done}", binding.magento_entity_id,
                    {"mapping": mapping.model_dump()})])
    ports.binder.touch("order", msg.order_key, status_synced=status, hold_synced=order.hold)
    return "status"


# ---------------------------------------------------------------------------------------------- status mapping
def _mapping(status: str, magento: Mapping[str, Any], ports: OrderUpdatePorts) -> OrderStatusMapping:
    """The mapping of the Magento order's store view (services/stores.py names a store id's view)."""
    store_id = magento.get("store_id")
    view = store_view_of(None if store_id is None else int(store_id), ports.settings.order_sync(),
                         ports.settings.mappings("store"))
    # cached against the settings stamp like every setting: a mapping edit applies within its interval (CACHE_S),
    # not at the cost of a stamp read per order update
    mappings = ports.settings.mappings("orderstatus")
    return status_mapping(status, mappings, view)


def status_mapping(status: str, mappings: Iterable[OrderStatusMapping], store_view: str) -> OrderStatusMapping:
    """The mapping for the store view, else the All Store Views one, else the documented default."""
    table = {(m.acumatica_status.strip().lower(), m.store_view): m for m in mappings}
    key = status.strip().lower()
    found = table.get((key, store_view)) or table.get((key, "all")) or DEFAULT_STATUS_MAPPINGS.get(status)
    return found or FALLBACK.model_copy(update={"acumatica_status": status,
                                                "comment": FALLBACK.comment.format(status=status)})


def _apply(mapping: OrderStatusMapping, order: SalesOrder, magento: Mapping[str, Any],
           ports: OrderUpdatePorts) -> str:
    order_id, state = int(magento["entity_id"]), str(magento.get("state") or "")
    action = mapping.action
    if order.hold and action not in ("cancel", "hold"):
        action = "hold"  # the Hold flag wins over a status that says nothing about it
    done: list[str] = []
    if action == "hold":
        done.append(_hold(order_id, state, ports))
    elif action in ("unhold", "cancel", "comment") and state == "holded":
        done.append(_act(order_id, "unhold", ports, "You cannot remove the hold."))
    if action == "cancel":
        done.append(_cancel(order_id, magento, ports))
    if mapping.comment or mapping.magento_status:
        current = ports.magento.order(order_id) if done else magento
        status = mapping.magento_status or str(current.get("status") or "")
        ports.magento.comment(order_id, mapping.comment or f"Acumatica status: {mapping.acumatica_status}", status)
        done.append(f"comment {mapping.comment!r}" + (f" with status {status!r}" if mapping.magento_status else ""))
    return "; ".join(d for d in done if d) or "nothing to do"


def _hold(order_id: int, state: str, ports: OrderUpdatePorts) -> str:
    if state == "holded":
        return "already on hold in Magento"
    return _act(order_id, "hold", ports, "A hold action is not available.")


def _act(order_id: int, action: str, ports: OrderUpdatePorts, refusal: str) -> str:
    try:
        ports.magento.order_action(order_id, action)
    except FatalError as exc:
        raise _Refused(f"Magento refused to {action} the order: {exc.remote_message or refusal}") from exc
    return f"{action} done"


def _cancel(order_id: int, magento: Mapping[str, Any], ports: OrderUpdatePorts) -> str:
    if magento.get("state") == "canceled":
        return "already canceled in Magento"
    if ports.magento.order_action(order_id, "cancel"):
        return "canceled"
    raise _Refused(f"Magento refused to cancel the order (it answered false): {_why_not_cancel(magento)}")


def _why_not_cancel(magento: Mapping[str, Any]) -> str:
    state = str(magento.get("state") or "")
    if state in ("complete", "closed", "canceled", "holded", "payment_review"):
        return f"the Magento order is {state}"
    items = magento.get("items") or []
    if items and all(_d(i.get("qty_invoiced")) + _d(i.get("qty_canceled")) >= _d(i.get("qty_ordered")) for i in items):
        return "the Magento order is fully invoiced: refund it with a credit memo instead"
    return "Magento's canCancel() is false for this order; cancel it by hand in Magento"


# ---------------------------------------------------------------------------------------------- post-sync changes
def divergences(order: SalesOrder, magento: Mapping[str, Any]) -> list[str]:
    """What changed in Acumatica after the order synced and cannot follow into Magento (empty: in line)."""
    items = {str(i.get("ext_order_item_id")): i for i in magento.get("items") or [] if not i.get("parent_item_id")}
    out: list[str] = []
    seen: set[str] = set()
    for line in order.lines:
        key = str(line.line_nbr)
        seen.add(key)
        item = items.get(key)
        if item is None:
            out.append(f"line {key} ({line.inventory_id} x {_n(line.order_qty)}) was added")
            continue
        if str(item.get("sku") or "").upper() != line.inventory_id.upper():
            out.append(f"line {key} item changed from {item.get('sku')} to {line.inventory_id}")
        if _d(item.get("qty_ordered")) != line.order_qty:
            out.append(f"line {key} ({line.inventory_id}) quantity changed from {_n(_d(item.get('qty_ordered')))} "
                       f"to {_n(line.order_qty)}")
        if _money(_d(item.get("price"))) != _money(line.unit_price):
            out.append(f"line {key} ({line.inventory_id}) unit price changed from {_n(_d(item.get('price')))} "
                       f"to {_n(line.unit_price)}")
    out.extend(f"line {k} ({i.get('sku')}) was removed" for k, i in items.items() if k not in seen)
    if order.order_total is not None and _d(magento.get("grand_total")) != order.order_total and order.status != \
            "Canceled":
        out.append(f"order total changed from {_n(_d(magento.get('grand_total')))} to {_n(order.order_total)}")
    return out


def _report_divergence(order: SalesOrder, magento: Mapping[str, Any], binding: Binding, ports: OrderUpdatePorts,
                       msg: MagentoOrderWrite, started: Any) -> None:
    found = divergences(order, magento)
    signature = " | ".join(found)
    if signature == str(binding.extra.get("x_diverged") or ""):
        return  # reported already (or still in line): one row per distinct divergence, not one per push
    ports.binder.touch("order", msg.order_key, diverged=signature)
    if not found:
        ports.log([_row(Group.ORDER, Result.SUCCESS, started, order.order_nbr, order.order_nbr, msg,
                        "the Acumatica order is in line with the Magento order again", binding.magento_entity_id,
                        action=Action.UPDATE)])
        return
    ports.log([_row(Group.ORDER, Result.FAILURE, started, order.order_nbr, order.order_nbr, msg,
                    f"order {order.key} changed in Acumatica after it synced to Magento order "
                    f"#{binding.magento_increment_id}: " + "; ".join(found) + ". Magento cannot edit a placed "
                    "order safely, so this change was NOT carried: edit the Magento order by hand (or cancel it and "
                    "resync), or undo the change in Acumatica", binding.magento_entity_id,
                    {"changes": found}, action=Action.UPDATE)])


# ---------------------------------------------------------------------------------------------- helpers
def _d(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _row(group: Group, result: Result, started: Any, notes: str, order_nbr: str, msg: MagentoOrderWrite,
         message: str, entity_id: int | None, details: dict[str, Any] | None = None,
         action: Action = Action.UPDATE) -> LogEntry:
    return sync_row(group, action, result, notes=notes, started=started, entity_id=entity_id, message=message,
                    details=details, entity_key=order_nbr, correlation_id=msg.correlation_id)
