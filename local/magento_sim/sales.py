"""Sales: order save/read, ship, invoice, comments, cancel/hold/unhold and the order state machine.

Mirrors ``Magento\\Sales`` 2.4 (OrderRepository::save, ShipOrder, InvoiceOrder, OrderManagement,
Order\\Handler\\State::check) plus the MSI side effects of shipping and cancelling. Callers hold ``state.lock``.
"""

from __future__ import annotations

import copy
from typing import Any

from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.state import State, now

STATE_DEFAULT_STATUS = {"new": "pending", "pending_payment": "pending_payment", "processing": "processing",
                        "complete": "complete", "closed": "closed", "canceled": "canceled", "holded": "holded",
                        "payment_review": "payment_review"}
QTY_FIELDS = ("qty_ordered", "qty_invoiced", "qty_shipped", "qty_canceled", "qty_refunded")


# -- numbers ---------------------------------------------------------------------------------------------
def f(value: Any) -> float:
    """Decimal column value as float (NULL and junk count as 0, like PHP's (float) cast)."""
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def r4(value: float) -> float:
    return round(value + 0.0, 4)


def to_int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# -- item / order predicates (Order::canShip, canInvoice, canCancel, canHold, canUnhold, canCreditmemo) --------
def is_dummy(item: dict[str, Any]) -> bool:
    """``Order\\Item::isDummy``: a child of a configurable or bundle is a dummy for shipping and invoicing, as an
    order saved over REST carries no ``shipment_type``/``product_calculations`` option (ship together, parent
    calculated): its parent ships and invoices, the child follows."""
    return bool(item.get("parent_item_id"))


def qty_to_ship(item: dict[str, Any]) -> float:
    if is_dummy(item):
        return 0.0
    q = f(item.get("qty_ordered")) - max(f(item.get("qty_shipped")), f(item.get("qty_refunded")))
    return max(r4(q - f(item.get("qty_canceled"))), 0.0)


def qty_to_invoice(item: dict[str, Any]) -> float:
    if is_dummy(item):
        return 0.0
    q = f(item.get("qty_ordered")) - f(item.get("qty_invoiced")) - f(item.get("qty_canceled"))
    return max(r4(q), 0.0)


def qty_to_cancel(item: dict[str, Any]) -> float:
    return max(min(qty_to_invoice(item), qty_to_ship(item)), 0.0)


def _shippable_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in order.get("items", []) if qty_to_ship(i) > 0 and not i.get("is_virtual")
            and not i.get("locked_do_ship")]


def can_ship(order: dict[str, Any]) -> bool:
    if order.get("state") in ("holded", "payment_review", "canceled") or order.get("is_virtual"):
        return False
    return bool(_shippable_items(order))


def can_invoice(order: dict[str, Any]) -> bool:
    if order.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        return False
    return any(qty_to_invoice(i) > 0 and not i.get("locked_do_invoice") for i in order.get("items", []))


def can_cancel(order: dict[str, Any]) -> bool:
    if order.get("state") in ("payment_review", "holded"):
        return False
    if all(qty_to_invoice(i) <= 0 for i in order.get("items", [])):
        return False  # fully invoiced: only a credit memo can undo it
    return order.get("state") not in ("canceled", "complete", "closed")


def can_hold(order: dict[str, Any]) -> bool:
    return order.get("state") not in ("payment_review", "holded", "canceled", "complete", "closed")


def can_unhold(order: dict[str, Any]) -> bool:
    return order.get("state") == "holded"


def can_creditmemo(order: dict[str, Any]) -> bool:
    if order.get("state") in ("holded", "payment_review", "canceled", "closed"):
        return False
    return round(f(order.get("total_paid")), 2) - round(f(order.get("total_refunded")), 2) >= 0.0001


def set_state(order: dict[str, Any], state: str) -> None:
    order["state"] = state
    order["status"] = STATE_DEFAULT_STATUS[state]


def state_check(order: dict[str, Any]) -> None:
    """``Order\\Handler\\State::check``: run on every order save."""
    st = order.get("state")
    if st in ("canceled", "holded") or can_invoice(order):
        return
    if st in ("processing", "complete") and not can_creditmemo(order) and not can_ship(order):
        set_state(order, "closed")  # nothing refundable (zero-paid import) and nothing to ship
    elif st == "processing" and not can_ship(order):
        set_state(order, "complete")


# -- reading ---------------------------------------------------------------------------------------------------
def get_order(state: State, order_id: Any) -> dict[str, Any]:
    oid = to_int(order_id)
    if not oid:
        raise MagentoError(400, E.MSG_ID_NEEDED)
    order = state.orders.get(oid)
    if order is None:
        raise E.not_found()
    return order


_SHIP_TOTAL_FIELDS = ("shipping_amount", "base_shipping_amount", "shipping_incl_tax", "base_shipping_incl_tax",
                      "shipping_tax_amount", "base_shipping_tax_amount", "shipping_discount_amount",
                      "base_shipping_discount_amount", "shipping_invoiced", "base_shipping_invoiced")


def children_of(order: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in order.get("items", []) if i.get("parent_item_id") == item.get("item_id")]


def leaf_lines(order: dict[str, Any], lines: list[tuple[dict[str, Any], float]]) -> list[tuple[dict[str, Any], float]]:
    """A parent line as its children's lines (qty in the child's ordered ratio): the SKUs stock moves for."""
    out: list[tuple[dict[str, Any], float]] = []
    for item, qty in lines:
        kids = children_of(order, item)
        ordered = f(item.get("qty_ordered")) or 1.0
        out.extend([(k, r4(qty * f(k.get("qty_ordered")) / ordered)) for k in kids] if kids else [(item, qty)])
    return out


def items_view(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as the item collection loads them: a child carries its ``parent_item`` (the whole parent row)."""
    view = [copy.deepcopy(i) for i in items]
    by_id = {i.get("item_id"): i for i in items}
    for item in view:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None:
            item["parent_item"] = copy.deepcopy(parent)
    return view


def order_view(order: dict[str, Any]) -> dict[str, Any]:
    """The REST view: stored fields plus the rebuilt ``shipping_assignments`` (ShippingAssignmentBuilder)."""
    view = {k: copy.deepcopy(v) for k, v in order.items() if not k.startswith("_")}
    view["items"] = items_view(order.get("items", []))
    ext = dict(view.get("extension_attributes") or {})
    if not order.get("is_virtual"):
        shipping: dict[str, Any] = {"total": {k: order[k] for k in _SHIP_TOTAL_FIELDS if order.get(k) is not None}}
        if order.get("_shipping_address"):
            shipping["address"] = copy.deepcopy(order["_shipping_address"])
        if order.get("shipping_method"):
            shipping["method"] = order["shipping_method"]
        ext["shipping_assignments"] = [{"shipping": shipping, "items": copy.deepcopy(view.get("items", []))}]
    view["extension_attributes"] = ext
    return view


# -- save (PUT /V1/orders/create, POST /V1/orders) ---------------------------------------------------------------
def _link_parent(item: dict[str, Any]) -> dict[str, Any]:
    """``ResourceModel\\Order\\Item::_beforeSave``: a sent ``parent_item`` sets ``parent_item_id`` to that object's
    id, which is NULL unless the client sent an ``item_id`` already saved; ``parent_item`` is no column."""
    if "parent_item" in item:
        parent = item.pop("parent_item")
        if isinstance(parent, dict):
            item["parent_item_id"] = to_int(parent.get("item_id"))
    return item


def _prep_item(state: State, item: dict[str, Any], order_id: int, ts: str) -> dict[str, Any]:
    it = _link_parent(copy.deepcopy(item))
    it["item_id"] = to_int(it.get("item_id")) or state.next("order_item")
    it["order_id"] = order_id
    for q in QTY_FIELDS:
        it[q] = f(it.get(q))
    it.setdefault("created_at", ts)
    it["updated_at"] = ts
    return it


def _prep_address(state: State, addr: Any, order_id: int, kind: str) -> dict[str, Any] | None:
    if not isinstance(addr, dict):
        return None
    a = copy.deepcopy(addr)
    a["entity_id"] = to_int(a.get("entity_id")) or state.next("order_address")
    a["parent_id"] = order_id
    a.setdefault("address_type", kind)
    return a


def _prep_children(state: State, order: dict[str, Any], entity: dict[str, Any], ts: str) -> None:
    oid = order["entity_id"]
    if "items" in entity:
        order["items"] = [_prep_item(state, i, oid, ts) for i in entity.get("items") or [] if isinstance(i, dict)]
    if "billing_address" in entity:
        order["billing_address"] = _prep_address(state, entity["billing_address"], oid, "billing")
        order["billing_address_id"] = (order["billing_address"] or {}).get("entity_id")
    if isinstance(entity.get("payment"), dict):
        pay = copy.deepcopy(entity["payment"])
        pay["entity_id"] = to_int(pay.get("entity_id")) or state.next("order_payment")
        pay["parent_id"] = oid
        order["payment"] = pay
    if "status_histories" in entity:
        sent = [_history(state, h, oid, ts) for h in entity.get("status_histories") or [] if isinstance(h, dict)]
        ids = {h["entity_id"] for h in sent}
        order["status_histories"] = sent + [h for h in order.get("status_histories", []) if h["entity_id"] not in ids]
    assignments = (entity.get("extension_attributes") or {}).get("shipping_assignments") or []
    if assignments and not order.get("is_virtual") and isinstance(assignments[0], dict):
        shipping = assignments[0].get("shipping") or {}
        if isinstance(shipping.get("address"), dict):
            order["_shipping_address"] = _prep_address(state, shipping["address"], oid, "shipping")
        if shipping.get("method"):
            order["shipping_method"] = shipping["method"]
    ext = {k: v for k, v in (entity.get("extension_attributes") or {}).items() if k != "shipping_assignments"}
    order["extension_attributes"] = ext


def _history(state: State, h: dict[str, Any], order_id: int, ts: str) -> dict[str, Any]:
    entry = copy.deepcopy(h)
    entry["entity_id"] = to_int(entry.get("entity_id")) or state.next("history")
    entry["parent_id"] = order_id
    entry.setdefault("created_at", ts)
    entry.setdefault("entity_name", "order")
    entry.setdefault("is_customer_notified", 0)
    entry.setdefault("is_visible_on_front", 0)
    return entry


def _check_unique(state: State, order: dict[str, Any]) -> None:
    """UNIQUE(increment_id, store_id): like MySQL, a NULL store_id never collides."""
    if order.get("store_id") is None:
        return
    for other in state.orders.values():
        if other["entity_id"] != order["entity_id"] and str(other.get("increment_id")) == str(
                order.get("increment_id")) and str(other.get("store_id")) == str(order.get("store_id")):
            raise MagentoError(400, E.MSG_UNIQUE)


def _check_store_fk(state: State, order: dict[str, Any]) -> None:
    """``sales_order.store_id`` and ``sales_order_item.store_id`` reference ``store``: an unknown store id fails
    the INSERT (MySQL 1452), a plain exception the REST layer masks as its opaque 500."""
    known = {str(s["id"]) for s in state.stores}
    for row, key in [(order, "SALES_ORDER_STORE_ID_STORE_STORE_ID")] + [
            (i, "SALES_ORDER_ITEM_STORE_ID_STORE_STORE_ID") for i in order.get("items", [])]:
        if row.get("store_id") is not None and str(row["store_id"]) not in known:
            raise RuntimeError("SQLSTATE[23000]: Integrity constraint violation: 1452 Cannot add or update a child "
                               f"row: a foreign key constraint fails ({key})")


def _merge_existing(state: State, existing: dict[str, Any], entity: dict[str, Any], ts: str) -> dict[str, Any]:
    """Save with a known entity_id: sent columns overwrite, items with a known item_id are updated."""
    order = copy.deepcopy(existing)
    simple = {k: copy.deepcopy(v) for k, v in entity.items()
              if k not in ("items", "billing_address", "payment", "status_histories", "extension_attributes")}
    order.update(simple)
    if "items" in entity:
        by_id = {i["item_id"]: i for i in order.get("items", [])}
        for sent in entity.get("items") or []:
            iid = to_int(sent.get("item_id"))
            if iid in by_id:
                by_id[iid].update(_link_parent(copy.deepcopy(sent)))
                by_id[iid]["updated_at"] = ts
            else:
                order.setdefault("items", []).append(_prep_item(state, sent, order["entity_id"], ts))
        entity = {k: v for k, v in entity.items() if k != "items"}
    _prep_children(state, order, entity, ts)
    if "extension_attributes" not in entity:
        order["extension_attributes"] = existing.get("extension_attributes", {})
    return order


def save_order(state: State, entity: Any) -> dict[str, Any]:
    """OrderRepository::save: store as sent (no pricing), assign ids/increment, copy first shipping assignment."""
    if not isinstance(entity, dict):
        raise E.required("entity")
    ts = now()
    eid = to_int(entity.get("entity_id"))
    if eid and eid in state.orders:
        order = _merge_existing(state, state.orders[eid], entity, ts)
    else:
        order = {k: copy.deepcopy(v) for k, v in entity.items()
                 if k not in ("items", "billing_address", "payment", "status_histories")}
        order["entity_id"] = eid or state.next("order")
        if eid and eid >= state.counters["order"]:
            state.counters["order"] = eid + 1
        order.setdefault("items", [])
        _prep_children(state, order, entity, ts)
        order.setdefault("status_histories", [])
        order.setdefault("created_at", ts)
    if not order.get("increment_id"):
        order["increment_id"] = f"{state.next('order_increment'):0{C.INCREMENT_DIGITS}d}"
    order["updated_at"] = ts
    _check_store_fk(state, order)
    _check_unique(state, order)
    state_check(order)
    state.orders[order["entity_id"]] = order
    return order_view(order)


def touch(order: dict[str, Any]) -> None:
    order["updated_at"] = now()
    state_check(order)


def accumulate(order: dict[str, Any], doc: dict[str, Any], item_sums: tuple[tuple[str, str], ...],
               order_sums: tuple[tuple[str, str], ...]) -> None:
    """A saved invoice or credit memo adds its lines onto the order's items and its totals onto the order
    (``(order field, document field)`` pairs), as the Order\\Invoice and Order\\Creditmemo registers do."""
    by_id = {i["item_id"]: i for i in order.get("items", [])}
    for line in doc["items"]:
        item = by_id[line["order_item_id"]]
        for target, source in item_sums:
            item[target] = r4(f(item.get(target)) + line[source])
        item["updated_at"] = doc["created_at"]
    for target, source in order_sums:
        order[target] = r4(f(order.get(target)) + doc[source])


# -- MSI helpers -------------------------------------------------------------------------------------------------
def add_reservation(state: State, sku: str, qty: float, event: str, order: dict[str, Any]) -> None:
    state.reservations.append({
        "reservation_id": state.next("reservation"), "stock_id": C.DEFAULT_STOCK_ID, "sku": sku,
        "quantity": r4(qty), "metadata": {"event_type": event, "object_type": "order",
                                          "object_id": str(order["entity_id"]),
                                          "object_increment_id": order.get("increment_id")}})


def deduct_sources(state: State, source_code: str, lines: list[tuple[dict[str, Any], float]]) -> None:
    """SourceDeductionService: all or nothing; any failure is 'Could not save a shipment'."""
    if source_code not in state.sources:
        raise MagentoError(400, E.MSG_SHIP_SAVE)
    plan = []
    for item, qty in lines:
        if item.get("is_virtual") or qty <= 0:
            continue
        si = state.source_items.get((str(item.get("sku")), source_code))
        if si is None or f(si["quantity"]) - qty < 0:
            raise MagentoError(400, E.MSG_SHIP_SAVE)  # source item not found / not enough qty at the source
        plan.append((si, item, qty))
    for si, _item, qty in plan:
        si["quantity"] = r4(f(si["quantity"]) - qty)
        if si["quantity"] <= 0:
            si["status"] = 0
    return None
