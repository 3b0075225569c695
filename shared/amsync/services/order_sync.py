"""Eligibility and mapping: re-read the sales order, apply the A->M preferences and mappings, hand it on.

The push row is only a hint. The order is read again from Acumatica with what the mapping needs expanded. An
order that is not eligible is logged as Skipped with the reason and waits: the next push about it (an update, a
payment applied) evaluates it again. A missing mapping or product is a Failure row that names what to fix; the
order syncs once it is fixed and the order is resynced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from amsync.adapters.errors import NotFound
from amsync.models.acumatica import AcuCustomer, SalesOrder
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import MagentoOrderWrite, SyncRequest
from amsync.models.settings import OrderSyncPreferences, ShipViaMapping
from amsync.services.eligibility import evaluate
from amsync.services.exporting import AlreadyBound
from amsync.services.log_rows import now, sync_row
from amsync.services.order_identity import increment_id
from amsync.services.order_mapper import (
    MagentoCustomerRef,
    MagentoProductRef,
    OrderMappingContext,
    OrderMappingError,
    map_order,
)

CUSTOMER_CACHE_S = 300.0


class AcumaticaReads(Protocol):
    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]: ...
    def customer(self, customer_id: str) -> dict[str, Any]: ...


class MagentoReads(Protocol):
    def customers_by_email(self, email: str) -> list[dict[str, Any]]: ...
    def products_by_skus(self, skus: list[str]) -> dict[str, dict[str, Any]]: ...
    def create_customer(self, customer: dict[str, Any]) -> dict[str, Any]: ...


class SettingsReads(Protocol):
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences: ...
    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None: ...
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...


class BindingReads(Protocol):
    def get(self, kind: str, acumatica_key: str) -> Any: ...
    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None) -> Any: ...


@dataclass
class OrderSyncPorts:
    acumatica: AcumaticaReads
    magento: MagentoReads
    settings: SettingsReads
    binder: BindingReads
    log: Callable[[list[LogEntry]], None]
    forward: Callable[[MagentoOrderWrite], None]


class _TtlCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._d: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self._d.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        value = load()
        self._d[key] = (time.monotonic(), value)
        return value


_customers = _TtlCache(CUSTOMER_CACHE_S)
_products = _TtlCache(CUSTOMER_CACHE_S)


def clear_caches() -> None:
    """Forget cached customers and products (a container's caches; the local runtime starts each world afresh)."""
    _customers._d.clear()
    _products._d.clear()


def _row(result: Result, order: str, message: str, started: Any, corr: str, details: dict[str, Any] | None = None,
         action: Action = Action.CREATE) -> LogEntry:
    return sync_row(Group.ORDER, action, result, notes=order, started=started, message=message,
                    details=details, correlation_id=corr)


def sync_order(req: SyncRequest, ports: OrderSyncPorts) -> str:
    """Handle one order sync request; returns what happened (for logs and tests)."""
    started = now()
    order_type, _, order_nbr = req.key.partition("/")
    try:
        record = ports.acumatica.sales_order(order_type, order_nbr)
    except NotFound:
        ports.log([_row(Result.SKIPPED, order_nbr, f"order {req.key} no longer exists in Acumatica", started,
                        req.correlation_id, action=Action.UPDATE)])
        return "gone"
    order = SalesOrder.from_api(record)
    binding = ports.binder.get("order", order.key)
    if binding is not None and binding.state == "bound":
        ports.forward(MagentoOrderWrite.build(order_key=order.key, order_nbr=order.order_nbr, action="update",
                                              payload={"status": order.status, "hold": order.hold},
                                        acumatica_status=order.status, acumatica_last_modified=order.last_modified,
                                        correlation_id=req.correlation_id, requested_at=req.requested_at))
        return "update"
    prefs = ports.settings.order_sync(fresh=req.source != "push")
    customer = _acumatica_customer(ports, order.customer_id) if _needs_customer(prefs) else None
    verdict = evaluate(order, prefs, push_flags=req.hint or None,
                       customer_class=customer.customer_class if customer else None)
    if not verdict.eligible:
        ports.log([_row(Result.SKIPPED, order.order_nbr, "; ".join(verdict.reasons), started, req.correlation_id,
                        {"acumatica_order": record}, Action.SKIP)])
        return "skipped"
    try:
        ctx = _mapping_context(order, prefs, ports, customer)
        payload = map_order(order, ctx)
    except OrderMappingError as exc:
        ports.log([_row(Result.FAILURE, order.order_nbr, str(exc), started, req.correlation_id,
                        {"acumatica_order": record})])
        return "failed"
    ports.forward(MagentoOrderWrite.build(order_key=order.key, order_nbr=order.order_nbr, action="create",
                                          payload=payload, write_back=prefs.write_back_field != "none",
                                    acumatica_status=order.status, acumatica_last_modified=order.last_modified,
                                    correlation_id=req.correlation_id, requested_at=req.requested_at))
    return "forwarded"


def _needs_customer(prefs: OrderSyncPreferences) -> bool:
    return prefs.customer_flags_source == "customer_class" and (prefs.sync_if_b2b or prefs.sync_if_staff)


def _acumatica_customer(ports: OrderSyncPorts, customer_id: str) -> AcuCustomer:
    result: AcuCustomer = _customers.get(
        f"acu#{customer_id}", lambda: AcuCustomer.from_api(ports.acumatica.customer(customer_id)))
    return result


def _mapping_context(order: SalesOrder, prefs: OrderSyncPreferences, ports: OrderSyncPorts,
                     customer: AcuCustomer | None) -> OrderMappingContext:
    shipping = ports.settings.ship_via(order.ship_via or "", prefs.store_view, fresh=True)
    if shipping is None:
        raise OrderMappingError(
            f"Ship Via {order.ship_via or '(none)'!r} has no Magento shipping method for store view "
            f"{prefs.store_view!r}: map it in Shipping Methods Mapping (amsync mappings ship-via set "
            f"ship_via={order.ship_via or '<SHIPVIA>'} carrier_code=... method_code=... title=...), "
            f"then resync it (amsync resync order {order.order_nbr})")
    return OrderMappingContext(
        customer=_magento_customer(order, prefs, ports, customer),
        products=_magento_products(ports, [line.inventory_id for line in order.lines]),
        shipping=shipping,
        payment_method=_payment_method(order, prefs, ports),
        store_id=prefs.store_id,
        increment_id=increment_id(order.order_type, order.order_nbr, prefs.increment_id_prefixes)
        if prefs.magento_numbering == "acumatica" else None,
    )


def _payment_method(order: SalesOrder, prefs: OrderSyncPreferences, ports: OrderSyncPorts) -> str:
    table = {m.acumatica_method.upper(): m.magento_method for m in ports.settings.mappings("payment")}
    return table.get((order.payment_method or "").upper()) or table.get("*") or prefs.default_payment_method


def _magento_products(ports: OrderSyncPorts, skus: list[str]) -> dict[str, MagentoProductRef]:
    key = "mag-products#" + ",".join(sorted(set(skus)))

    def load() -> dict[str, MagentoProductRef]:
        found = ports.magento.products_by_skus(sorted(set(skus)))
        return {sku: MagentoProductRef(id=int(p["id"]), sku=sku, name=str(p.get("name") or sku),
                                       weight=p.get("weight")) for sku, p in found.items()}
    products: dict[str, MagentoProductRef] = _products.get(key, load)
    if set(skus) - set(products):  # a product created since: look again before failing the order
        products = load()
        _products._d[key] = (time.monotonic(), products)
    return products


def _magento_customer(order: SalesOrder, prefs: OrderSyncPreferences, ports: OrderSyncPorts,
                      customer: AcuCustomer | None) -> MagentoCustomerRef:
    email = (order.bill_to_contact.email if order.bill_to_contact else None) or (customer.email if customer else None)
    if not email:
        raise OrderMappingError(f"order {order.key} has no e-mail (bill-to contact or customer main contact)")
    first, last = _names(order, customer)
    # a customer that came from Magento (or was created for an earlier order) is bound: never create it twice
    bound = ports.binder.get("customer", order.customer_id)
    bound_id = bound.magento_entity_id if bound is not None else None
    matches = _customer_matches(ports, email, prefs.website_id)
    if bound_id is not None:
        matches = [c for c in matches if int(c["id"]) == bound_id] or matches
    if matches:
        c = matches[0]
        _bind_customer(ports, order.customer_id, int(c["id"]), bound_id)
        return MagentoCustomerRef(id=int(c["id"]), email=email, firstname=c.get("firstname") or first,
                                  lastname=c.get("lastname") or last, group_id=int(c.get("group_id", 1)))
    if prefs.missing_customer == "guest":
        return MagentoCustomerRef(id=None, email=email, firstname=first, lastname=last, group_id=0)
    created = ports.magento.create_customer({"email": email, "firstname": first, "lastname": last,
                                             "website_id": prefs.website_id, "store_id": prefs.store_id,
                                             "group_id": prefs.customer_group_id})
    _bind_customer(ports, order.customer_id, int(created["id"]), bound_id)
    return MagentoCustomerRef(id=int(created["id"]), email=email, firstname=first, lastname=last,
                              group_id=int(created.get("group_id", prefs.customer_group_id)))


def _customer_matches(ports: OrderSyncPorts, email: str, website_id: int) -> list[dict[str, Any]]:
    """Magento customers with this e-mail on the website. Only found customers are cached (a miss is asked again:
    a cached miss could make this container create a customer another container has just created)."""
    key = f"mag-customer#{website_id}#{email.casefold()}"
    hit = _customers._d.get(key)
    if hit and time.monotonic() - hit[0] < _customers.ttl:
        cached: list[dict[str, Any]] = hit[1]
        return cached
    matches = [c for c in ports.magento.customers_by_email(email) if int(c.get("website_id", 1)) == website_id]
    if matches:
        _customers._d[key] = (time.monotonic(), matches)
    return matches


def _bind_customer(ports: OrderSyncPorts, customer_id: str, magento_id: int, bound_id: int | None) -> None:
    if bound_id == magento_id:
        return
    try:
        ports.binder.bind("customer", customer_id, magento_id, None)
    except AlreadyBound:  # bound to another Magento customer by someone else: keep theirs
        pass


def _names(order: SalesOrder, customer: AcuCustomer | None) -> tuple[str, str]:
    from amsync.services.order_mapper import split_name

    if customer and customer.first_name and customer.last_name:
        return customer.first_name, customer.last_name
    contact = order.bill_to_contact
    full = (contact.attention or contact.business_name) if contact else None
    return split_name(full or (customer.name if customer else "") or order.customer_id)
