"""Fulfilment follow-ups: a confirmed Acumatica shipment / released invoice becomes its Magento twin, exactly once.

Exporter pattern, per (Acumatica document, sales order):
already bound? -> done | order not in Magento yet -> ``NotReady`` (comes back with backoff, lands after the order) |
take the create lease | look the document up on the Magento order (the marker in its comment: an earlier attempt
may have committed and lost its answer) -> bind | else ship / invoice once -> bind at once.
Magento's "does not allow a shipment/invoice to be created" refusal is answered by looking up too, never by a
second call. A timeout or 5xx re-raises and holds the lease one more lease (Magento may still commit it): the record
returns and starts with the lookup.

Binder keys: ``shipment#005139#SO/SOT00024`` and ``invoice#Invoice/AR012116#SO/SOT00024``: one Acumatica shipment
that covers several orders gives each Magento order its own shipment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, FatalError, NotFound, RetryableError
from amsync.models.acumatica import to_decimal, unwrap
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import OrderSyncPreferences, ProductMapping, ShipViaMapping
from amsync.services.exporting import (
    AlreadyBound,
    Binding,
    CreateBinder,
    LeaseHeld,
    NotReady,
    give_back_lease,
    release_quietly,
)
from amsync.services.log_rows import now, sync_row
from amsync.services.order_items import qty_factor
from amsync.services.stores import store_view_of, website_of

SHIPPABLE = ("Confirmed", "Invoiced", "Completed")
RELEASED = ("Open", "Closed")
NOTHING_TO_SHIP = "does not allow a shipment to be created"
NOTHING_TO_INVOICE = "does not allow an invoice to be created"
NO_ENTITY = "No entity satisfies the condition"  # Acumatica's usual answer (HTTP 500) for a key that does not exist


class AcumaticaReads(Protocol):
    def get(self, entity: str, *keys: str, expand: str | None = None,
            select: str | None = None) -> dict[str, Any]: ...


class MagentoFulfilment(Protocol):
    def order(self, entity_id: int) -> dict[str, Any]: ...
    def shipments_of(self, order_id: int) -> list[dict[str, Any]]: ...
    def invoices_of(self, order_id: int) -> list[dict[str, Any]]: ...
    def ship(self, order_id: int, body: dict[str, Any]) -> int: ...
    def invoice(self, order_id: int, body: dict[str, Any]) -> int: ...
    def refund(self, order_id: int, body: dict[str, Any]) -> int: ...  # services/refunds_a2m.py
    def creditmemos_of(self, order_id: int) -> list[dict[str, Any]]: ...


class SettingsReads(Protocol):
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences: ...
    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None: ...
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...


class FulfilmentBinder(CreateBinder, Protocol):
    def get_pair(self, first: tuple[str, str], second: tuple[str, str]) -> tuple[Binding | None, Binding | None]:
        ...


@dataclass
class FulfilmentPorts:
    acumatica: AcumaticaReads
    magento: MagentoFulfilment
    settings: SettingsReads
    binder: FulfilmentBinder
    log: Callable[[list[LogEntry]], None]
    create_lease_s: float = 60.0


@dataclass(frozen=True)
class _Line:
    order_type: str
    order_nbr: str
    order_line_nbr: int | None
    sku: str
    qty: Decimal
    uom: str | None = None


@dataclass(frozen=True)
class _Doc:
    """What both follow-ups share: the Acumatica document, the order it is for, its binder key and marker."""

    kind: str  # "shipment" | "invoice"
    group: Group
    label: str  # "shipment 005139" / "invoice Invoice/AR012116"
    order_key: str
    correlation_id: str

    @property
    def order_nbr(self) -> str:
        return self.order_key.partition("/")[2]

    @property
    def binder_key(self) -> str:
        return f"{self.label.partition(' ')[2]}#{self.order_key}"

    @property
    def marker(self) -> str:
        return f"Acumatica {self.label}"


def _s(record: Mapping[str, Any], name: str) -> str:
    value = unwrap(record.get(name))
    return str(value).strip() if value is not None else ""


def _lines(record: Mapping[str, Any], qty_field: str) -> list[_Line]:
    out = []
    for d in record.get("Details") or []:
        if not isinstance(d, Mapping):
            continue
        nbr = to_decimal(unwrap(d.get("OrderLineNbr")))
        out.append(_Line(_s(d, "OrderType") or "SO", _s(d, "OrderNbr"), int(nbr) if nbr is not None else None,
                         _s(d, "InventoryID"), to_decimal(unwrap(d.get(qty_field))) or Decimal(0),
                         _s(d, "UOM") or None))
    return out


def _orders_of(lines: list[_Line], order_key: str | None) -> list[str]:
    keys = sorted({f"{ln.order_type}/{ln.order_nbr}" for ln in lines if ln.order_nbr})
    return [order_key] if order_key else keys


def _for_order(lines: list[_Line], order_key: str) -> list[_Line]:
    return [ln for ln in lines if f"{ln.order_type}/{ln.order_nbr}" == order_key and ln.qty > 0]


# ---------------------------------------------------------------------------------------------- entry point
def handle_fulfilment(req: SyncRequest, ports: FulfilmentPorts) -> str:
    """One fulfilment request (shipment or invoice); returns what happened. Raises ``NotReady`` to come back."""
    if req.kind is Kind.SHIPMENT:
        return sync_shipment(req, ports)
    if req.kind is Kind.INVOICE:
        return sync_invoice(req, ports)
    raise ValueError(f"the fulfilment queue does not handle {req.kind} requests")


def sync_shipment(req: SyncRequest, ports: FulfilmentPorts) -> str:
    """A confirmed Acumatica shipment -> one Magento shipment per sales order it covers."""
    started = now()
    done, order_binding = _bound_already(ports, "shipment", req)
    if done:
        return "duplicate"
    try:
        record = _read(ports, "Shipment", req.key, expand="Details,Packages,Orders")
    except NotFound:
        ports.log([_gone_row(Group.SHIPMENT, f"shipment {req.key}", req, started)])
        return "gone"
    if _s(record, "Type") == "Receipt":  # goods coming back (a return order's receipt): never a Magento shipment
        return "receipt"
    status = _s(record, "Status")
    if status not in SHIPPABLE:
        return "not-confirmed"  # Open / On Hold: the Publisher row says it arrived; the confirmation comes later
    lines = _lines(record, "ShippedQty")
    outcomes = []
    for order_key in _orders_of(lines, req.order_key):
        doc = _Doc("shipment", Group.SHIPMENT, f"shipment {req.key}", order_key, req.correlation_id)
        outcomes.append(_export(doc, _for_order(lines, order_key), record, ports, started, _ShipCalls(),
                                checked=order_key == req.order_key,
                                order_binding=order_binding if order_key == req.order_key else None))
    return outcomes[0] if len(outcomes) == 1 else ",".join(outcomes) or "no-lines"


def sync_invoice(req: SyncRequest, ports: FulfilmentPorts) -> str:
    """A released Acumatica sales invoice -> one Magento invoice (capture, offline) per sales order it bills."""
    started = now()
    done, order_binding = _bound_already(ports, "invoice", req)
    if done:
        return "duplicate"
    doc_type, _, ref = req.key.partition("/")
    try:
        record = _read(ports, "SalesInvoice", doc_type, ref, expand="Details")
    except NotFound:
        if doc_type == "Credit Memo":  # not a SO document: an AR credit memo (AR301000), services/refunds_a2m.py
            from amsync.services.refunds_a2m import sync_ar_credit_memo

            return sync_ar_credit_memo(req, ports)
        ports.log([_gone_row(Group.INVOICE, f"invoice {req.key}", req, started)])
        return "gone"
    if doc_type == "Credit Memo":  # a return's credit memo: services/refunds_a2m.py
        from amsync.services.refunds_a2m import sync_credit_memo

        return sync_credit_memo(req, record, ports)
    if doc_type != "Invoice":
        ports.log([sync_row(Group.INVOICE, Action.SKIP, Result.SKIPPED, notes=(req.order_key or req.key),
                            started=started, message=f"{doc_type} {ref}: only invoices and credit memos are synced",
                            correlation_id=req.correlation_id)])
        return "skipped"
    if _s(record, "Status") not in RELEASED:
        return "not-released"
    lines = _lines(record, "Qty")
    outcomes = []
    for order_key in _orders_of(lines, req.order_key):
        doc = _Doc("invoice", Group.INVOICE, f"invoice {req.key}", order_key, req.correlation_id)
        outcomes.append(_export(doc, _for_order(lines, order_key), record, ports, started, _InvoiceCalls(),
                                checked=order_key == req.order_key,
                                order_binding=order_binding if order_key == req.order_key else None))
    return outcomes[0] if len(outcomes) == 1 else ",".join(outcomes) or "no-lines"


def _bound_already(ports: FulfilmentPorts, kind: str, req: SyncRequest) -> tuple[bool, Binding | None]:
    """(a document of one known order bound already: done, without reading Acumatica (its later pushes: Invoiced,
    Completed, Closed); the order's binding when it is bound). Both bindings in one request: the order's is what
    the export needs next (read again there only if it was not bound yet)."""
    if not req.order_key:
        return False, None
    bound, order = ports.binder.get_pair((kind, f"{req.key}#{req.order_key}"), ("order", req.order_key))
    return bound is not None and bound.state == "bound", order if _is_bound(order) else None


def _is_bound(binding: Binding | None) -> bool:
    return binding is not None and binding.state == "bound" and binding.magento_entity_id is not None


def _read(ports: FulfilmentPorts, entity: str, *keys: str, expand: str) -> dict[str, Any]:
    try:
        return ports.acumatica.get(entity, *keys, expand=expand)
    except ApiError as exc:
        if isinstance(exc, NotFound) or NO_ENTITY.lower() in exc.remote_message.lower():
            raise NotFound(exc.system, exc.operation, exc.remote_message, status=exc.status) from exc
        raise


# ---------------------------------------------------------------------------------------------- the exporter
class _Calls(Protocol):
    nothing_left: str

    def existing(self, ports: FulfilmentPorts, order_id: int) -> list[dict[str, Any]]: ...
    def body(self, doc: _Doc, items: list[dict[str, Any]], record: Mapping[str, Any], order: Mapping[str, Any],
             ports: FulfilmentPorts) -> dict[str, Any]: ...
    def create(self, ports: FulfilmentPorts, order_id: int, body: dict[str, Any]) -> int: ...


class _ShipCalls:
    nothing_left = NOTHING_TO_SHIP

    def existing(self, ports: FulfilmentPorts, order_id: int) -> list[dict[str, Any]]:
        return ports.magento.shipments_of(order_id)

    def body(self, doc: _Doc, items: list[dict[str, Any]], record: Mapping[str, Any], order: Mapping[str, Any],
             ports: FulfilmentPorts) -> dict[str, Any]:
        body: dict[str, Any] = {"items": items, "notify": False, "appendComment": True,
                                "comment": {"comment": doc.marker, "is_visible_on_front": 0},
                                "tracks": _tracks(record, order, ports)}
        source = _source_code(_s(record, "WarehouseID"), order, ports)
        if source:
            body["arguments"] = {"extension_attributes": {"source_code": source}}
        return body

    def create(self, ports: FulfilmentPorts, order_id: int, body: dict[str, Any]) -> int:
        return ports.magento.ship(order_id, body)


class _InvoiceCalls:
    nothing_left = NOTHING_TO_INVOICE

    def existing(self, ports: FulfilmentPorts, order_id: int) -> list[dict[str, Any]]:
        return ports.magento.invoices_of(order_id)

    def body(self, doc: _Doc, items: list[dict[str, Any]], record: Mapping[str, Any], order: Mapping[str, Any],
             ports: FulfilmentPorts) -> dict[str, Any]:
        return {"capture": True, "notify": False, "items": items, "appendComment": True,
                "comment": {"comment": doc.marker, "is_visible_on_front": 0}}

    def create(self, ports: FulfilmentPorts, order_id: int, body: dict[str, Any]) -> int:
        return ports.magento.invoice(order_id, body)


def _export(doc: _Doc, lines: list[_Line], record: Mapping[str, Any], ports: FulfilmentPorts, started: Any,
            calls: _Calls, *, checked: bool = False, order_binding: Binding | None = None) -> str:
    """``checked``: ``_bound_already`` read this document's binding already (not bound then; bound since, the
    lease below says so: one read, not two); ``order_binding``: the order's, read with it and bound then (an order
    stays bound)."""
    if not checked:
        bound = ports.binder.get(doc.kind, doc.binder_key)
        if bound is not None and bound.state == "bound":
            return "duplicate"
    if order_binding is None:
        order_binding = ports.binder.get("order", doc.order_key)
    if order_binding is None or order_binding.state != "bound" or order_binding.magento_entity_id is None:
        raise NotReady(f"{doc.label} waits for order {doc.order_key} to be in Magento")
    order_id = order_binding.magento_entity_id
    increment = order_binding.magento_increment_id or doc.order_nbr
    if not lines:
        ports.log([_row(doc, Result.SKIPPED, started, increment, f"{doc.label} has no quantities for order "
                        f"{doc.order_key}", action=Action.SKIP)])
        return "no-lines"
    order = ports.magento.order(order_id)
    try:
        items = _magento_items(lines, order, ports.settings.mappings("product"))
    except _Unmatched as exc:
        ports.log([_row(doc, Result.FAILURE, started, increment, str(exc), order_id)])
        return "failed"
    try:
        marked = ports.binder.mark_creating(doc.kind, doc.binder_key, ports.create_lease_s)
        lease = marked.lease
    except AlreadyBound:
        return "duplicate"
    except LeaseHeld as exc:
        raise NotReady(str(exc), retry_after=exc.retry_after) from exc
    try:
        # only our own earlier attempt leaves the marker, and the document's first attempt had none before it
        found = None if marked.first_attempt else _find(doc, calls, ports, order_id)
    except Exception:
        release_quietly(ports.binder, doc.kind, doc.binder_key, lease)  # nothing created: no need to wait
        raise
    if found is not None:
        _bind(doc, found, ports, order_id, lease)
        ports.log([_row(doc, Result.SUCCESS, started, increment, f"{doc.label} found on Magento order #{increment} "
                        "(an earlier attempt committed): bound, not created again", found)])
        return "recovered"
    return _create(doc, calls.body(doc, items, record, order, ports), calls, ports, started, order_id, increment,
                   lease)


def _create(doc: _Doc, body: dict[str, Any], calls: _Calls, ports: FulfilmentPorts, started: Any, order_id: int,
            increment: str, lease: str | None) -> str:
    details: dict[str, Any] = {"request": body}
    try:
        created = calls.create(ports, order_id, body)
    except RetryableError as exc:
        then = give_back_lease(ports.binder, doc.kind, doc.binder_key, exc, ports.create_lease_s, lease=lease)
        ports.log([_row(doc, Result.FAILURE, started, increment, f"{exc}; {then}", None, details)])
        raise
    except FatalError as exc:
        if calls.nothing_left in exc.remote_message:
            found = _find(doc, calls, ports, order_id)
            if found is not None:
                _bind(doc, found, ports, order_id, lease)
                ports.log([_row(doc, Result.SUCCESS, started, increment, f"Magento says it is done already: "
                                f"{doc.label} found on order #{increment} and bound", found, details)])
                return "recovered"
        ports.binder.release_creating(doc.kind, doc.binder_key, lease=lease)
        ports.log([_row(doc, Result.FAILURE, started, increment, f"Magento refused {doc.label} for order "
                        f"#{increment}: {exc.remote_message}", order_id, details | {"response": exc.body})])
        return "refused"
    _bind(doc, created, ports, order_id, lease)
    ports.log([_row(doc, Result.SUCCESS, started, increment, f"{doc.label} created on Magento order #{increment}",
                    created, details | {"response": created})])
    return "created"


def _find(doc: _Doc, calls: _Calls, ports: FulfilmentPorts, order_id: int) -> int | None:
    for existing in calls.existing(ports, order_id):
        texts = [str(c.get("comment") or "") for c in existing.get("comments") or [] if isinstance(c, Mapping)]
        if any(doc.marker == t.strip() or t.startswith(doc.marker + " ") for t in texts):
            return int(existing["entity_id"])
    return None


def _bind(doc: _Doc, entity_id: int, ports: FulfilmentPorts, order_id: int, lease: str | None) -> None:
    try:
        ports.binder.bind(doc.kind, doc.binder_key, entity_id, None, {"order_id": order_id}, lease=lease)
    except AlreadyBound as exc:
        other = exc.existing.magento_entity_id if exc.existing else "?"
        raise RetryableError("amsync", "bind", f"{doc.label} of {doc.order_key} is bound to Magento {doc.kind} "
                             f"{other} already, not {entity_id}") from exc


# ---------------------------------------------------------------------------------------------- mapping
class _Unmatched(Exception):
    pass


def _magento_items(lines: list[_Line], order: Mapping[str, Any],
                   products: Sequence[ProductMapping] = ()) -> list[dict[str, Any]]:
    """Acumatica lines -> Magento ``{order_item_id, qty}``: by ext_order_item_id (= the order's LineNbr), else SKU;
    a quantity in a unit the Product mapping converts (a CASE of 12) is in Magento's units (x 12)."""
    items = [i for i in order.get("items") or [] if not i.get("parent_item_id")]
    by_line = {str(i.get("ext_order_item_id")): i for i in items if i.get("ext_order_item_id") is not None}
    by_sku = {str(i.get("sku")).strip().upper(): i for i in items}
    qty: dict[int, Decimal] = {}
    for ln in lines:
        item = by_line.get(str(ln.order_line_nbr)) if ln.order_line_nbr is not None else None
        item = item or by_sku.get(ln.sku.upper())
        if item is None:
            raise _Unmatched(f"order {ln.order_type}/{ln.order_nbr} line {ln.order_line_nbr} ({ln.sku}) has no item "
                             f"on Magento order #{order.get('increment_id')}: was the line added after the order "
                             "synced? Fix the order in Magento by hand")
        qty[int(item["item_id"])] = qty.get(int(item["item_id"]), Decimal(0)) + ln.qty * qty_factor(
            ln.sku, ln.uom, products)
    return [{"order_item_id": iid, "qty": q} for iid, q in qty.items()]


def _store_id(order: Mapping[str, Any]) -> int | None:
    value = order.get("store_id")
    return None if value is None else int(value)


def _tracks(record: Mapping[str, Any], order: Mapping[str, Any], ports: FulfilmentPorts) -> list[dict[str, Any]]:
    """Tracks with the carrier of the Ship Via mapping of the order's store view (else All Store Views)."""
    ship_via = _s(record, "ShipVia")
    view = store_view_of(_store_id(order), ports.settings.order_sync(), ports.settings.mappings("store"))
    mapping = ports.settings.ship_via(ship_via, view) if ship_via else None
    carrier = mapping.tracking_carrier_code if mapping else "custom"
    title = mapping.title if mapping else (ship_via or "Acumatica")
    numbers = [_s(p, "TrackingNbr") for p in record.get("Packages") or [] if isinstance(p, Mapping)]
    return [{"track_number": n, "title": title, "carrier_code": carrier} for n in dict.fromkeys(numbers) if n]


def _source_code(warehouse: str, order: Mapping[str, Any], ports: FulfilmentPorts) -> str | None:
    """Deduct from the MSI source mapped to the shipment's warehouse (the one inventory sync writes): the row for
    the order's website, else the row for every website."""
    if not warehouse:
        return None
    website = website_of(_store_id(order), ports.settings.order_sync(), ports.settings.mappings("store"))
    rows = {m.website_id: m for m in ports.settings.mappings("warehouse")
            if m.warehouse_id.strip().upper() == warehouse.upper()}
    found = rows.get(website) if website is not None else None
    found = found or rows.get(None)
    return str(found.source_code) if found else None


# ---------------------------------------------------------------------------------------------- log rows
def _row(doc: _Doc, result: Result, started: Any, increment: str, message: str, entity_id: int | None = None,
         details: dict[str, Any] | None = None, action: Action = Action.CREATE) -> LogEntry:
    return sync_row(doc.group, action, result, notes=increment, started=started, entity_id=entity_id,
                    message=message, details=details, entity_key=doc.order_nbr, correlation_id=doc.correlation_id)


def _gone_row(group: Group, label: str, req: SyncRequest, started: Any) -> LogEntry:
    order_nbr = (req.order_key or "").partition("/")[2] or req.key
    return sync_row(group, Action.SKIP, Result.SKIPPED, notes=order_nbr, started=started,
                    message=f"{label} no longer exists in Acumatica", correlation_id=req.correlation_id)
