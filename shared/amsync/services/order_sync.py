"""Eligibility and mapping: re-read the sales order, apply the A->M preferences and mappings, hand it on.

The push row is only a hint. The order is read again from Acumatica with what the mapping needs expanded. An
order that is not eligible is logged as Skipped with the reason and waits: the next push about it (an update, a
payment applied) evaluates it again. A missing mapping or product is a Failure row that names what to fix; the
order syncs once it is fixed and the order is resynced.

Two steps: ``plan_order`` reads (Acumatica, Magento, the settings, the binder) and decides, with no side effect:
the verdict, the Magento ``entity`` and what must be done first (create or bind the Magento customer);
``sync_order`` acts on the plan (the customer, the log row, the message to the writer). ``amsync preview`` shows
the same plan without acting on it.

The store mapping (``services/stores.py``) picks the Magento website and store view from the order's branch, type
and customer class: the order's ``store_id``, the Ship Via row of that store view (else All Store Views), the
website whose customer the e-mail matches (every website under global account sharing) and where a new one is made.
B2B / staff come from the push row, else the customer's class (``services/eligibility.py``); the class is read
from Acumatica only when a flag or a store row needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from amsync.adapters.errors import NotFound
from amsync.models.acumatica import AcuCustomer, AcuTaxCategory, SalesOrder
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import MagentoOrderWrite, SyncRequest
from amsync.models.settings import (
    OrderMappingPreferences,
    OrderSyncPreferences,
    ReturnSyncPreferences,
    ShipViaMapping,
    StoreMapping,
)
from amsync.services.eligibility import (
    RETURN_ORDER_TYPES,
    Eligibility,
    evaluate,
    needs_customer_class,
    return_order,
)
from amsync.services.exporting import AlreadyBound
from amsync.services.log_rows import now, sync_row
from amsync.services.order_identity import increment_id
from amsync.services.order_items import magento_skus, product_ref
from amsync.services.order_mapper import (
    MagentoCustomerRef,
    MagentoProductRef,
    OrderMappingContext,
    OrderMappingError,
    map_order,
)
from amsync.services.stores import StoreTarget, resolve_store
from amsync.services.stores import needs_customer_class as store_needs_class

CUSTOMER_CACHE_S = 300.0


class AcumaticaReads(Protocol):
    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]: ...
    def customer(self, customer_id: str) -> dict[str, Any]: ...
    def tax_category(self, category_id: str) -> dict[str, Any]: ...


class MagentoLookups(Protocol):
    def customers_by_email(self, email: str) -> list[dict[str, Any]]: ...
    def products_by_skus(self, skus: list[str]) -> dict[str, dict[str, Any]]: ...


class MagentoReads(MagentoLookups, Protocol):
    def create_customer(self, customer: dict[str, Any]) -> dict[str, Any]: ...


class SettingsReads(Protocol):
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences: ...
    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None: ...
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...
    def order_mapping(self, fresh: bool = False) -> OrderMappingPreferences: ...
    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences: ...


class BindingLookup(Protocol):
    def get(self, kind: str, acumatica_key: str) -> Any: ...
    def get_with_read(self, kind: str, acumatica_key: str) -> tuple[Any, Mapping[str, str] | None]: ...


class BindingReads(BindingLookup, Protocol):
    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None) -> Any: ...
    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None: ...
    def note_read(self, kind: str, acumatica_key: str, modified: str, read: str) -> None: ...


class PlanReads(Protocol):
    """What planning may touch: reads only (``OrderSyncPorts`` is one; so is the preview's read-only set)."""

    @property
    def acumatica(self) -> AcumaticaReads: ...
    @property
    def magento(self) -> MagentoLookups: ...
    @property
    def settings(self) -> SettingsReads: ...
    @property
    def binder(self) -> BindingLookup: ...


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
_tax_cats = _TtlCache(CUSTOMER_CACHE_S)


def clear_caches() -> None:
    """Forget cached customers and products (a container's caches; the local runtime starts each world afresh)."""
    _customers._d.clear()
    _products._d.clear()
    _tax_cats._d.clear()


# ---------------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class CustomerStep:
    """The Magento customer the order is placed for, and what must be done about it before the create:
    ``use`` (found and bound already), ``bind`` (found, bind it), ``create`` (create it, then bind it) or
    ``guest`` (a guest order: nothing to do)."""

    action: Literal["use", "bind", "create", "guest"]
    customer_id: str  # the Acumatica CustomerID
    ref: MagentoCustomerRef  # id None when it is to be created (its id is Magento's answer) or a guest
    bound_id: int | None = None  # the Magento customer the Acumatica customer is bound to now
    body: dict[str, Any] | None = None  # the POST /V1/customers body of a create

    def describe(self) -> str:
        c = self.ref
        if self.action == "create":
            return (f"create Magento customer {c.email} ({c.firstname} {c.lastname}, website "
                    f"{(self.body or {}).get('website_id')}, group {c.group_id}) and bind it to Acumatica customer "
                    f"{self.customer_id}")
        if self.action == "bind":
            return f"bind Acumatica customer {self.customer_id} to Magento customer {c.id} ({c.email})"
        if self.action == "guest":
            return f"place a guest order for {c.email} (no Magento customer has this e-mail)"
        return f"use Magento customer {c.id} ({c.email}), bound to Acumatica customer {self.customer_id}"


@dataclass(frozen=True)
class OrderPlan:
    """What ``sync_order`` will do with an order, decided from reads alone.

    ``outcome``: ``gone`` (no longer in Acumatica), ``update`` (bound: a status update goes to the writer),
    ``return`` (a return order type: no Magento order, nothing logged; ``failure`` says why),
    ``skipped`` (not eligible), ``failed`` (eligible, but a mapping, product or address is missing: ``failure``
    is the Failure row's message, ``missing`` every blocker found) or ``create`` (``write`` goes to the writer).
    """

    outcome: Literal["gone", "unchanged", "return", "update", "skipped", "failed", "create"]
    key: str
    record: dict[str, Any] | None = None
    order: SalesOrder | None = None
    binding: Any = None
    preferences: OrderSyncPreferences | None = None
    acumatica_customer: AcuCustomer | None = None
    verdict: Eligibility | None = None
    store: StoreTarget | None = None  # the website / store view the order goes to (services/stores.py)
    customer: CustomerStep | None = None  # reached (the sync acts on it even when the mapping fails after it)
    context: OrderMappingContext | None = None
    failure: str | None = None
    missing: tuple[str, ...] = ()
    write: MagentoOrderWrite | None = None

    @property
    def payload(self) -> dict[str, Any] | None:
        """The Magento ``entity`` of the create (None unless the outcome is ``create``). When the customer is
        created first, its ``customer_id`` is Magento's answer to that create: None here."""
        return self.write.payload if self.write is not None and self.write.action == "create" else None

    @property
    def effects(self) -> list[str]:
        """What acting on the plan writes, in order (nothing is written while planning)."""
        out: list[str] = []
        if self.customer is not None and self.customer.action in ("bind", "create"):
            out.append(self.customer.describe())
        if self.outcome == "gone":
            out.append(f"log Skipped: order {self.key} no longer exists in Acumatica")
        elif self.outcome == "return":
            out.append(f"nothing (no row): {self.failure}")
        elif self.outcome == "skipped" and self.verdict is not None:
            out.append("log Skipped: " + "; ".join(self.verdict.reasons))
        elif self.outcome == "failed":
            out.append(f"log Failure: {self.failure}")
        elif self.write is not None:
            out.append(f"send the {self.write.action} of {self.key} to the Magento writer")
        return out


def _row(result: Result, order: str, message: str, started: Any, corr: str, details: dict[str, Any] | None = None,
         action: Action = Action.CREATE) -> LogEntry:
    return sync_row(Group.ORDER, action, result, notes=order, started=started, message=message,
                    details=details, correlation_id=corr)


def plan_order(req: SyncRequest, reads: PlanReads, *, explain: bool = False) -> OrderPlan:
    """Read the order and decide what syncing it does, writing nothing anywhere.

    As the sync runs, the plan stops at the first thing that decides the outcome (bound, not eligible, the first
    blocker). ``explain`` (the preview) goes on: the verdict of a bound order, and every blocker of an order
    whether or not it is eligible, so that one look shows all there is to fix."""
    order_type, _, order_nbr = req.key.partition("/")
    # before the read: a bound order's no-op push needs none, nor a push that the read of a create forwarded covers
    # (the preview explains and reads the binding alone)
    early, forwarded = (reads.binder.get("order", req.key), None) if explain \
        else reads.binder.get_with_read("order", req.key)
    if not explain and early is not None and early.state == "bound" and (why := bound_no_op(req, early.extra)):
        return OrderPlan("unchanged", req.key, binding=early, failure=why)
    if not explain and (early is None or early.state != "bound") and (why := covered(req, forwarded)):
        return OrderPlan("unchanged", req.key, binding=early, failure=why)
    # a return order (RC, CR, the return preferences' type) is no order to create: not read, not logged
    if why := _return_type(order_type, req, reads):
        return OrderPlan("return", req.key, failure=why)
    try:
        record = reads.acumatica.sales_order(order_type, order_nbr)
    except NotFound:
        return OrderPlan("gone", req.key, failure=f"order {req.key} no longer exists in Acumatica")
    order = SalesOrder.from_api(record)
    binding = early if order.key == req.key else reads.binder.get("order", order.key)
    base = OrderPlan("update", order.key, record=record, order=order, binding=binding)
    if binding is not None and binding.state == "bound":
        # the order as read goes along: the writer follows it without reading it again (one read per change; the
        # FIFO group keeps a later change behind it)
        update = MagentoOrderWrite.build(order_key=order.key, order_nbr=order.order_nbr, action="update",
                                         payload={"status": order.status, "hold": order.hold, "order": record},
                                         acumatica_status=order.status, acumatica_last_modified=order.last_modified,
                                         correlation_id=req.correlation_id, requested_at=req.requested_at)
        base = replace(base, write=update)
        if not explain:
            return base
    prefs = reads.settings.order_sync(fresh=req.source != "push")
    stores: list[StoreMapping] = reads.settings.mappings("store", fresh=req.source != "push")
    # the push row's isB2B / isStaffCustomer; a lone Deleted row shows the order as it was: not its flags now
    flags = None if req.deleted_only else req.hint or None
    needed = needs_customer_class(prefs, flags) or store_needs_class(stores)
    customer = _acumatica_customer(reads, order.customer_id) if needed else None
    verdict = evaluate(order, prefs, push_flags=flags,
                       customer_class=customer.customer_class if customer else None)
    target = resolve_store(order, customer.customer_class if customer else None, prefs, stores)
    base = replace(base, preferences=prefs, acumatica_customer=customer, verdict=verdict, store=target)
    if base.write is not None:  # bound (explained): the verdict is for information, a create would not happen
        return base
    if not verdict.eligible and not explain:
        return replace(base, outcome="skipped")
    mapped = _plan_mapping(order, prefs, target, reads, customer, explain)
    if not verdict.eligible:  # explained: what would block it once eligible
        return replace(base, outcome="skipped", missing=tuple(mapped.blockers))
    plan = mapped.apply(base)
    if plan.failure is not None:
        return replace(plan, outcome="failed")
    assert mapped.payload is not None
    write_back = prefs.write_back_field != "none"  # without it, nothing in Acumatica would show a Magento claim
    create = MagentoOrderWrite.build(order_key=order.key, order_nbr=order.order_nbr, action="create",
                                     payload=mapped.payload, write_back=write_back,
                                     unclaimed=write_back and not (order.external_ref or "").strip(),
                                     acumatica_status=order.status, acumatica_last_modified=order.last_modified,
                                     correlation_id=req.correlation_id, requested_at=req.requested_at)
    return replace(plan, outcome="create", write=create)


def _return_type(order_type: str, req: SyncRequest, reads: PlanReads) -> str | None:
    """Why the order type is a return's (None: it is not); the return preferences are read only for a type that is
    not one of Acumatica's own return types."""
    kind = order_type.strip().upper()
    configured = kind if kind in RETURN_ORDER_TYPES else \
        reads.settings.return_sync(fresh=req.source != "push").return_order_type
    return return_order(kind, configured)


@dataclass
class _Mapped:
    """The mapping stage's findings: the context and entity, the customer step, and the blockers in the order the
    sync meets them (Ship Via, then the customer, then what ``map_order`` checks)."""

    blockers: list[str] = field(default_factory=list)
    customer: CustomerStep | None = None
    context: OrderMappingContext | None = None
    payload: dict[str, Any] | None = None

    def apply(self, plan: OrderPlan) -> OrderPlan:
        return replace(plan, customer=self.customer, context=self.context,
                       failure=self.blockers[0] if self.blockers else None, missing=tuple(self.blockers))


def _plan_mapping(order: SalesOrder, prefs: OrderSyncPreferences, target: StoreTarget, reads: PlanReads,
                  customer: AcuCustomer | None, explain: bool) -> _Mapped:
    out = _Mapped()
    # the preferences' read (fresh for a resync or replay) checked the settings' change stamp: see settings_store
    shipping = reads.settings.ship_via(order.ship_via or "", target.store_view)
    if shipping is None:
        view = "" if target.store_view == prefs.store_view else f" store_view={target.store_view}"
        out.blockers.append(
            f"Ship Via {order.ship_via or '(none)'!r} has no Magento shipping method for store view "
            f"{target.store_view!r} (nor for All Store Views): map it in Shipping Methods Mapping (amsync mappings "
            f"ship-via set ship_via={order.ship_via or '<SHIPVIA>'}{view} carrier_code=... method_code=... "
            f"title=...), then resync it (amsync resync order {order.order_nbr})")
        if not explain:
            return out
    try:
        step = _customer_step(order, prefs, target, reads, customer)
    except OrderMappingError as exc:
        out.blockers.append(str(exc))
        if not explain:
            return out
        step = None
    if not out.blockers:
        out.customer = step  # the sync acts on the customer only when nothing before it failed
    product_rows = reads.settings.mappings("product")  # the stamp was checked (or forced) with the preferences
    amounts = reads.settings.order_mapping()
    ctx = OrderMappingContext(
        customer=step.ref if step else MagentoCustomerRef(id=None, email="", firstname="", lastname=""),
        products=_magento_products(reads, magento_skus(order.lines, product_rows)),
        product_mappings=product_rows, tax_categories=_tax_categories(reads, order),
        base_currency=target.base_currency or amounts.base_currency,
        allowed_currencies=list(target.allowed_currencies) if target.allowed_currencies is not None
        else amounts.allowed_currencies,
        shipping=shipping or ShipViaMapping(ship_via="", carrier_code="", method_code="", title=""),
        payment_method=_payment_method(order, prefs, reads),
        store_id=target.store_id,
        website_id=target.website_id,
        increment_id=increment_id(order.order_type, order.order_nbr, prefs.increment_id_prefixes)
        if prefs.magento_numbering == "acumatica" else None,
    )
    try:
        payload = map_order(order, ctx)
    except OrderMappingError as exc:
        out.blockers.append(str(exc))
        return out
    if not out.blockers:
        out.context, out.payload = ctx, _with_customer(payload, step)
    return out


def _with_customer(payload: dict[str, Any], step: CustomerStep | None) -> dict[str, Any]:
    """A customer still to be created: the entity is a customer's order, its id Magento's answer to the create."""
    if step is not None and step.action == "create":
        payload.update(customer_id=None, customer_is_guest=0, customer_group_id=step.ref.group_id)
    return payload


def _acumatica_customer(reads: PlanReads, customer_id: str) -> AcuCustomer:
    result: AcuCustomer = _customers.get(
        f"acu#{customer_id}", lambda: AcuCustomer.from_api(reads.acumatica.customer(customer_id)))
    return result


def _payment_method(order: SalesOrder, prefs: OrderSyncPreferences, reads: PlanReads) -> str:
    table = {m.acumatica_method.upper(): m.magento_method for m in reads.settings.mappings("payment")}
    return table.get((order.payment_method or "").upper()) or table.get("*") or prefs.default_payment_method


def _tax_categories(reads: PlanReads, order: SalesOrder) -> dict[str, AcuTaxCategory] | None:
    """The tax categories of the order's lines and freight, when its tax details are to be spread per line."""
    if not order.tax_details:
        return None
    wanted = {c.upper() for c in [ln.tax_category for ln in order.lines] + [order.freight_tax_category] if c}
    def read(category: str) -> AcuTaxCategory:
        found: AcuTaxCategory = _tax_cats.get(
            f"acu-taxcat#{category}", lambda: AcuTaxCategory.from_api(reads.acumatica.tax_category(category)))
        return found
    return {c: read(c) for c in sorted(wanted)}


def _magento_products(reads: PlanReads, skus: list[str]) -> dict[str, MagentoProductRef]:
    key = "mag-products#" + ",".join(sorted(set(skus)))

    def load() -> dict[str, MagentoProductRef]:
        found = reads.magento.products_by_skus(sorted(set(skus)))
        return {sku: product_ref(sku, p) for sku, p in found.items()}
    products: dict[str, MagentoProductRef] = _products.get(key, load)
    if set(skus) - set(products):  # a product created since: look again before failing the order
        products = load()
        _products._d[key] = (time.monotonic(), products)
    return products


def _customer_step(order: SalesOrder, prefs: OrderSyncPreferences, target: StoreTarget, reads: PlanReads,
                   customer: AcuCustomer | None) -> CustomerStep:
    email = (order.bill_to_contact.email if order.bill_to_contact else None) or (customer.email if customer else None)
    if not email:
        raise OrderMappingError(f"order {order.key} has no e-mail (bill-to contact or customer main contact)")
    first, last = _names(order, customer)
    # a customer that came from Magento (or was created for an earlier order) is bound: never create it twice
    bound = reads.binder.get("customer", order.customer_id)
    bound_id = bound.magento_entity_id if bound is not None else None
    scope = None if prefs.account_share_scope == "global" else target.website_id
    matches = _customer_matches(reads, email, scope, target.website_id)
    if bound_id is not None:
        matches = [c for c in matches if int(c["id"]) == bound_id] or matches
    if matches:
        c = matches[0]
        ref = MagentoCustomerRef(id=int(c["id"]), email=email, firstname=c.get("firstname") or first,
                                 lastname=c.get("lastname") or last, group_id=int(c.get("group_id", 1)))
        return CustomerStep("use" if bound_id == ref.id else "bind", order.customer_id, ref, bound_id)
    if prefs.missing_customer == "guest":
        return CustomerStep("guest", order.customer_id,
                            MagentoCustomerRef(id=None, email=email, firstname=first, lastname=last, group_id=0),
                            bound_id)
    body = {"email": email, "firstname": first, "lastname": last, "website_id": target.website_id,
            "store_id": target.store_id, "group_id": prefs.customer_group_id}
    return CustomerStep("create", order.customer_id, MagentoCustomerRef(
        id=None, email=email, firstname=first, lastname=last, group_id=prefs.customer_group_id), bound_id, body)


def _customer_matches(reads: PlanReads, email: str, website_id: int | None,
                      target_website: int) -> list[dict[str, Any]]:
    """Magento customers with this e-mail in the account sharing scope: on ``website_id`` (per-website scope), or on
    any website (``None``: global scope; the target website's account first, then the oldest). Only found customers
    are cached (a miss is asked again: a cached miss could make this container create a customer another container
    has just created)."""
    key = f"mag-customer#{'*' if website_id is None else website_id}#{email.casefold()}"
    hit = _customers._d.get(key)
    if hit and time.monotonic() - hit[0] < _customers.ttl:
        cached: list[dict[str, Any]] = hit[1]
        return cached
    found = [c for c in reads.magento.customers_by_email(email)
             if str(c.get("email", email)).casefold() == email.casefold()]
    matches = sorted((c for c in found if website_id is None or int(c.get("website_id", 1)) == website_id),
                     key=lambda c: (int(c.get("website_id", 1)) != target_website, int(c["id"])))
    if matches:
        _customers._d[key] = (time.monotonic(), matches)
    return matches


def _names(order: SalesOrder, customer: AcuCustomer | None) -> tuple[str, str]:
    from amsync.services.order_mapper import split_name

    if customer and customer.first_name and customer.last_name:
        return customer.first_name, customer.last_name
    contact = order.bill_to_contact
    full = (contact.attention or contact.business_name) if contact else None
    return split_name(full or (customer.name if customer else "") or order.customer_id)


# ---------------------------------------------------------------------------------------------- no-op pushes
def _column(row: Mapping[str, Any], name: str) -> Any:
    """A push row's column by name (GI column names may come with trailing spaces); None when absent."""
    return next((v for k, v in row.items() if k.strip() == name), None)


def _instant(value: Any) -> datetime | None:
    """A timestamp of the push row or the API, as UTC without zone, to the millisecond (None: not one). A push row's
    value carries no offset: it is compared as UTC, so a deployment whose rows come in another zone drops nothing
    (never more)."""
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None


def bound_no_op(req: SyncRequest, synced: Mapping[str, Any]) -> str | None:
    """Why a push about an order already in Magento cannot change it (None: read the order and follow it).

    Only a push's own row decides (a resync, replay or reconciler request is always followed), from the binding's
    stamps (``synced``: its ``x_`` attributes): a payment's row (a payment that changes the order changes the
    order's own row too: its push follows); the echo of the connector's own write-back (the row's LastModifiedOn is
    the version the write-back answered); a row whose Status and OrderTotal are what Magento was given, or will be
    given by the updates forwarded before it (the columns of the order row that can change Magento). A change the
    row cannot show (a line swapped for one of the same total) is read by the reconciler's next run, which follows
    any order modified after its last write-back."""
    if req.source != "push" or req.deleted_only or not req.hint:
        return None
    if req.hint.get("via") == "payment":
        return "a payment on an order in Magento already (a change of the order comes with the order's own push)"
    modified = _instant(_column(req.hint, "LastModifiedOn"))
    if modified is not None and modified == _instant(synced.get("x_acumatica_modified") or ""):
        return "the echo of the connector's own write-back"
    status, total = _column(req.hint, "Status"), _amount(_column(req.hint, "OrderTotal"))
    # what Magento has, or will have once the updates forwarded before this push are followed
    has_status = synced.get("x_status_forwarded") or synced.get("x_status_synced")
    has_total = _amount(synced.get("x_total_forwarded") or synced.get("x_total_synced"))
    if status is not None and str(status).strip() == has_status and total is not None and total == has_total:
        return f"status {str(status).strip()!r} and total {total} are what Magento has"
    return None


def covered(req: SyncRequest, forwarded: Mapping[str, str] | None) -> str | None:
    """Why a push about an order not yet in Magento needs no read (None: read it).

    ``forwarded`` notes the last read of the order whose create was forwarded (``_note_read``): ``modified``, the
    LastModifiedOn of the push row whose handling read it (that read came after that change, so it saw every
    change stamped no later), and ``read``, the order's LastModified as read. A covered push has that read's
    outcome, already handed on: the create, forwarded once. A push row is covered when stamped at or before
    ``modified`` (both push row columns: no zone converted, so none can mislead), or exactly at ``read`` (the read
    showed this very change; an instant, compared as the echo of a write-back is: ``bound_no_op``). The payment
    push and the order push of one transaction are one read and one create, not two (the FIFO group keeps the
    second behind the first's forward). Only a push's own row decides (a resync, replay or reconciler request is
    always read); a later change is read."""
    if not forwarded or req.source != "push" or req.deleted_only or not req.hint:
        return None
    row = _instant(_column(req.hint, "LastModifiedOn"))
    if row is None:
        return None
    modified, read = _instant(forwarded.get("modified") or ""), _instant(forwarded.get("read") or "")
    if modified is not None and row <= modified:
        return f"covered by the create forwarded after the change of {forwarded['modified']}"
    if read is not None and row == read:
        return f"covered by the create forwarded from the order as modified at {forwarded['read']}"
    return None


# ---------------------------------------------------------------------------------------------- acting on it
def sync_order(req: SyncRequest, ports: OrderSyncPorts) -> str:
    """Handle one order sync request; returns what happened (for logs and tests)."""
    started = now()
    plan = plan_order(req, ports)
    if plan.outcome == "unchanged":
        return "unchanged"  # nothing to log: the push's raw and Publisher rows say it arrived
    if plan.outcome == "return":
        return "return"  # a return order: the return sync carries its credit memo (docs/returns.md), no row here
    if plan.outcome == "gone":
        ports.log([_row(Result.SKIPPED, req.key.partition("/")[2], str(plan.failure), started, req.correlation_id,
                        action=Action.UPDATE)])
        return "gone"
    assert plan.order is not None and plan.record is not None
    if plan.outcome == "update":
        assert plan.write is not None
        ports.forward(plan.write)
        # what Magento will have once the writer has followed every update forwarded so far (this FIFO group's
        # order): a later push showing the same is a no-op (bound_no_op). After the forward: a failed forward
        # leaves the stamp as it was, and the retry is not dropped.
        total = plan.order.order_total
        ports.binder.touch("order", plan.order.key, status_forwarded=plan.order.status or "",
                           **({"total_forwarded": str(total)} if total is not None else {}))
        return "update"
    if plan.outcome == "skipped":
        assert plan.verdict is not None
        ports.log([_row(Result.SKIPPED, plan.order.order_nbr, "; ".join(plan.verdict.reasons), started,
                        req.correlation_id, {"acumatica_order": plan.record}, Action.SKIP)])
        return "skipped"
    ref = _act_on_customer(plan.customer, ports) if plan.customer is not None else None
    if plan.outcome == "failed":
        ports.log([_row(Result.FAILURE, plan.order.order_nbr, str(plan.failure), started, req.correlation_id,
                        {"acumatica_order": plan.record})])
        return "failed"
    assert plan.write is not None and plan.context is not None
    write = plan.write
    if ref is not None and plan.customer is not None and plan.customer.action == "create":
        payload = map_order(plan.order, replace(plan.context, customer=ref))  # the plan's entity, its new customer
        write = MagentoOrderWrite.build(payload, **write.model_dump(exclude={"payload_json"}))
    ports.forward(write)
    _note_read(req, plan.order, ports)  # after the forward: a failed forward leaves no note (its retry reads)
    return "forwarded"


def _note_read(req: SyncRequest, order: SalesOrder, ports: OrderSyncPorts) -> None:
    """Note what the read of an order not in Magento covered, once its create is handed on: a later push it covers
    needs no read (``covered``). Only a push row's stamp is noted. (Not after a Skipped or Failure outcome: the
    bench shows the note, a write, costs more there than the rare second push of the change it would spare.)"""
    stamp = _column(req.hint, "LastModifiedOn") if req.source == "push" and not req.deleted_only else None
    if stamp and _instant(stamp) is not None:
        ports.binder.note_read("order", order.key, str(stamp).strip(), order.last_modified or "")


def _act_on_customer(step: CustomerStep, ports: OrderSyncPorts) -> MagentoCustomerRef:
    """Bind or create the Magento customer as planned; the reference the order is placed for."""
    if step.action == "bind":
        assert step.ref.id is not None
        _bind_customer(ports, step.customer_id, step.ref.id, step.bound_id)
    if step.action != "create":
        return step.ref
    assert step.body is not None
    created = ports.magento.create_customer(step.body)
    _bind_customer(ports, step.customer_id, int(created["id"]), step.bound_id)
    return replace(step.ref, id=int(created["id"]), group_id=int(created.get("group_id", step.ref.group_id)))


def _bind_customer(ports: OrderSyncPorts, customer_id: str, magento_id: int, bound_id: int | None) -> None:
    if bound_id == magento_id:
        return
    try:
        ports.binder.bind("customer", customer_id, magento_id, None)
    except AlreadyBound:  # bound to another Magento customer by someone else: keep theirs
        pass
