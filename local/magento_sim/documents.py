"""Shipments, invoices, comments, cancel/hold/unhold (ShipOrder, InvoiceOrder, OrderManagement). Hold state.lock."""

from __future__ import annotations

import copy
from typing import Any

from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.sales import (
    STATE_DEFAULT_STATUS,
    accumulate,
    add_reservation,
    can_cancel,
    can_hold,
    can_unhold,
    deduct_sources,
    f,
    get_order,
    leaf_lines,
    qty_to_cancel,
    qty_to_invoice,
    qty_to_ship,
    r4,
    set_state,
    to_int,
    touch,
)
from magento_sim.state import State, now


def arg(body: dict[str, Any], camel: str) -> Any:
    """Top-level argument by its camelCase name, or the snake_case form the input processor also accepts."""
    if camel in body:
        return body[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return body.get(snake)


def _requested(items: Any) -> dict[int | None, float]:
    out: dict[int | None, float] = {}
    for it in items or []:
        if isinstance(it, dict):
            out[to_int(it.get("order_item_id"))] = f(it.get("qty"))
    return out


# -- ship ----------------------------------------------------------------------------------------------------
def _ship_messages(order: dict[str, Any], lines: list[tuple[dict[str, Any] | None, float]]) -> list[str]:
    msgs: list[str] = []
    if order.get("state") in ("payment_review", "holded", "canceled") or order.get("is_virtual"):
        msgs.append(f"A shipment cannot be created when an order has a status of {order.get('status') or ''}")
    elif not any(qty_to_ship(i) > 0 and not i.get("is_virtual") and not i.get("locked_do_ship")
                 for i in order.get("items", [])):
        msgs.append("The order does not allow a shipment to be created.")
    total = 0.0
    for item, qty in lines:
        if item is None:
            msgs.append('The shipment contains product SKU "" that is not part of the original order.')
            continue
        if qty > qty_to_ship(item):
            msgs.append("The quantity to ship must not be greater than the unshipped quantity for product SKU "
                        f'"{item.get("sku")}".')
        total += qty
    if total <= 0:
        msgs.append("You can't create a shipment without products.")
    return msgs


def _ship_lines(order: dict[str, Any], requested: dict[int | None, float]) -> list[tuple[dict[str, Any] | None, float]]:
    """Shipment lines: every non-virtual item's remaining qty when no items were sent, else the sent ones."""
    by_id = {i["item_id"]: i for i in order.get("items", [])}
    if not requested:
        return [(i, qty_to_ship(i)) for i in order.get("items", []) if not i.get("is_virtual")]
    return [(by_id.get(iid) if iid is not None else None, qty) for iid, qty in requested.items()]


def ship(state: State, order_id: Any, body: dict[str, Any]) -> int:
    """POST /V1/order/{orderId}/ship -> shipment entity_id."""
    order = get_order(state, order_id)
    lines = _ship_lines(order, _requested(body.get("items")))
    msgs = _ship_messages(order, lines)
    if msgs:
        raise MagentoError(400, E.SHIPMENT_PREFIX + "\n".join(msgs))
    real = [(i, q) for i, q in lines if i is not None and q > 0]
    ext = ((arg(body, "arguments") or {}).get("extension_attributes") or {})
    source_code = ext.get("source_code") or C.DEFAULT_SOURCE
    deduct_sources(state, source_code, leaf_lines(order, real))
    ts = now()
    sid = state.next("shipment")
    shipment = {
        "entity_id": sid, "increment_id": f"{state.next('shipment_increment'):0{C.INCREMENT_DIGITS}d}",
        "order_id": order["entity_id"], "store_id": order.get("store_id"), "customer_id": order.get("customer_id"),
        "billing_address_id": order.get("billing_address_id"),
        "shipping_address_id": (order.get("_shipping_address") or {}).get("entity_id"),
        "total_qty": r4(sum(q for _, q in real)), "email_sent": 1 if body.get("notify") else 0,
        "created_at": ts, "updated_at": ts, "packages": copy.deepcopy(body.get("packages") or []),
        "items": [{"entity_id": state.next("shipment_item"), "parent_id": sid, "order_item_id": i["item_id"],
                   "sku": i.get("sku"), "name": i.get("name"), "product_id": i.get("product_id"),
                   "price": i.get("price"), "weight": i.get("weight"), "qty": q} for i, q in real],
        "tracks": [], "comments": [], "extension_attributes": {"source_code": source_code},
    }
    for t in body.get("tracks") or []:
        shipment["tracks"].append(_track(state, t, sid, order["entity_id"], ts))
    comment = body.get("comment")
    if isinstance(comment, dict) and comment.get("comment"):
        shipment["comments"].append(_doc_comment(state, comment, sid, ts))
    for item, qty in real:
        item["qty_shipped"] = r4(f(item.get("qty_shipped")) + qty)
        item["updated_at"] = ts
    for item, qty in leaf_lines(order, real):
        if item.get("parent_item_id"):  # the dummy child follows its parent
            item["qty_shipped"] = r4(f(item.get("qty_shipped")) + qty)
            item["updated_at"] = ts
        add_reservation(state, str(item.get("sku")), qty, "shipment_created", order)
    state.shipments[sid] = shipment
    if order.get("state") == "new":
        set_state(order, "processing")
    touch(order)
    return sid


def _track(state: State, t: dict[str, Any], shipment_id: int, order_id: int, ts: str) -> dict[str, Any]:
    track = {"weight": None, "qty": None, "description": None, **copy.deepcopy(t)}
    track.update({"entity_id": state.next("track"), "parent_id": shipment_id, "order_id": order_id,
                  "created_at": ts, "updated_at": ts})
    return track


def _doc_comment(state: State, c: dict[str, Any], parent_id: int, ts: str) -> dict[str, Any]:
    return {"entity_id": state.next("comment"), "parent_id": parent_id, "comment": c.get("comment"),
            "is_visible_on_front": to_int(c.get("is_visible_on_front")) or 0, "is_customer_notified": 0,
            "created_at": ts}


# -- invoice -------------------------------------------------------------------------------------------------
def _invoice_messages(order: dict[str, Any], requested: dict[int | None, float]) -> list[str]:
    msgs: list[str] = []
    if order.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        msgs.append(f"An invoice cannot be created when an order has a status of {order.get('status') or ''}")
    elif not any(qty_to_invoice(i) > 0 and not i.get("locked_do_invoice") for i in order.get("items", [])):
        msgs.append("The order does not allow an invoice to be created.")
    qtys = dict(requested) if requested else {i["item_id"]: qty_to_invoice(i) for i in order.get("items", [])}
    total = 0.0
    for item in order.get("items", []):
        if item["item_id"] in qtys:
            qty = qtys.pop(item["item_id"])
            if qty > qty_to_invoice(item):
                msgs.append("The quantity to invoice must not be greater than the uninvoiced quantity for product "
                            f'SKU "{item.get("sku")}".')
            total += qty
    if qtys:
        msgs.append("The invoice contains one or more items that are not part of the original order.")
    elif total <= 0:
        msgs.append("The invoice can't be created without products. Add products and try again.")
    return msgs


def _invoice_item(state: State, inv_id: int, item: dict[str, Any], qty: float) -> dict[str, Any]:
    ordered = f(item.get("qty_ordered")) or 1.0
    share = qty / ordered
    price, base_price = f(item.get("price")), f(item.get("base_price", item.get("price")))
    return {"entity_id": state.next("invoice_item"), "parent_id": inv_id, "order_item_id": item["item_id"],
            "sku": item.get("sku"), "name": item.get("name"), "product_id": item.get("product_id"), "qty": qty,
            "price": price, "base_price": base_price, "row_total": r4(price * qty),
            "base_row_total": r4(base_price * qty), "tax_amount": r4(f(item.get("tax_amount")) * share),
            "base_tax_amount": r4(f(item.get("base_tax_amount")) * share),
            "discount_amount": r4(f(item.get("discount_amount")) * share),
            "base_discount_amount": r4(f(item.get("base_discount_amount")) * share)}


def _invoice_totals(order: dict[str, Any], items: list[dict[str, Any]], is_last: bool) -> dict[str, float]:
    t = {"subtotal": sum(i["row_total"] for i in items), "base_subtotal": sum(i["base_row_total"] for i in items),
         "tax_amount": sum(i["tax_amount"] for i in items), "base_tax_amount": sum(i["base_tax_amount"] for i in items),
         "discount_amount": -sum(i["discount_amount"] for i in items),
         "base_discount_amount": -sum(i["base_discount_amount"] for i in items),
         "shipping_amount": 0.0, "base_shipping_amount": 0.0}
    if not f(order.get("shipping_invoiced")):  # the first invoice collects the whole shipping amount
        t["shipping_amount"] = f(order.get("shipping_amount"))
        t["base_shipping_amount"] = f(order.get("base_shipping_amount"))
        t["tax_amount"] += f(order.get("shipping_tax_amount"))
        t["base_tax_amount"] += f(order.get("base_shipping_tax_amount"))
    t["grand_total"] = t["subtotal"] + t["tax_amount"] + t["shipping_amount"] + t["discount_amount"]
    t["base_grand_total"] = (t["base_subtotal"] + t["base_tax_amount"] + t["base_shipping_amount"]
                             + t["base_discount_amount"])
    if is_last:  # the last invoice takes what is left, so the order reconciles exactly
        t["grand_total"] = f(order.get("grand_total")) - f(order.get("total_invoiced"))
        t["base_grand_total"] = f(order.get("base_grand_total")) - f(order.get("base_total_invoiced"))
    return {k: r4(v) for k, v in t.items()}


_ORDER_ACCUMULATORS = (("total_invoiced", "grand_total"), ("base_total_invoiced", "base_grand_total"),
                       ("total_paid", "grand_total"), ("base_total_paid", "base_grand_total"),
                       ("subtotal_invoiced", "subtotal"), ("base_subtotal_invoiced", "base_subtotal"),
                       ("tax_invoiced", "tax_amount"), ("base_tax_invoiced", "base_tax_amount"),
                       ("shipping_invoiced", "shipping_amount"), ("base_shipping_invoiced", "base_shipping_amount"),
                       ("discount_invoiced", "discount_amount"), ("base_discount_invoiced", "base_discount_amount"))


_ITEM_INVOICED = (("qty_invoiced", "qty"), ("row_invoiced", "row_total"), ("base_row_invoiced", "base_row_total"),
                  ("tax_invoiced", "tax_amount"), ("base_tax_invoiced", "base_tax_amount"),
                  ("discount_invoiced", "discount_amount"), ("base_discount_invoiced", "base_discount_amount"))


def _register_invoice(order: dict[str, Any], invoice: dict[str, Any]) -> None:
    accumulate(order, invoice, _ITEM_INVOICED, _ORDER_ACCUMULATORS)
    order["total_due"] = r4(f(order.get("grand_total")) - f(order.get("total_paid")))
    order["base_total_due"] = r4(f(order.get("base_grand_total")) - f(order.get("base_total_paid")))
    pay = order.get("payment")
    if isinstance(pay, dict):
        pay["amount_paid"] = r4(f(pay.get("amount_paid")) + invoice["grand_total"])
        pay["base_amount_paid"] = r4(f(pay.get("base_amount_paid")) + invoice["base_grand_total"])


def invoice(state: State, order_id: Any, body: dict[str, Any]) -> int:
    """POST /V1/order/{orderId}/invoice -> invoice entity_id (invoice is paid, state 2)."""
    order = get_order(state, order_id)
    requested = _requested(body.get("items"))
    msgs = _invoice_messages(order, requested)
    if msgs:
        raise MagentoError(400, E.INVOICE_PREFIX + "\n".join(msgs))
    ts = now()
    inv_id = state.next("invoice")
    chosen = [(i, requested[i["item_id"]] if requested else qty_to_invoice(i)) for i in order.get("items", [])
              if (i["item_id"] in requested if requested else qty_to_invoice(i) > 0)]
    lines = [_invoice_item(state, inv_id, i, q) for i, q in chosen if q > 0]
    is_last = all(qty_to_invoice(i) - (requested.get(i["item_id"], 0.0) if requested else qty_to_invoice(i)) <= 0
                  for i in order.get("items", []))
    totals = _invoice_totals(order, lines, is_last)
    inv: dict[str, Any] = {
        "entity_id": inv_id, "increment_id": f"{state.next('invoice_increment'):0{C.INCREMENT_DIGITS}d}",
        "order_id": order["entity_id"], "store_id": order.get("store_id"), "state": 2,
        "billing_address_id": order.get("billing_address_id"),
        "shipping_address_id": (order.get("_shipping_address") or {}).get("entity_id"),
        "order_currency_code": order.get("order_currency_code"), "base_currency_code": order.get("base_currency_code"),
        "total_qty": r4(sum(line["qty"] for line in lines)), "email_sent": 1 if body.get("notify") else 0,
        "can_void_flag": 0, "created_at": ts, "updated_at": ts, "items": lines, "comments": [],
        "extension_attributes": {}, "requested_capture_case": "online" if body.get("capture") else "offline",
        **totals}
    comment = body.get("comment")
    if isinstance(comment, dict) and comment.get("comment"):
        inv["comments"].append(_doc_comment(state, comment, inv_id, ts))
    _register_invoice(order, inv)
    for child, qty in leaf_lines(order, chosen):
        if child.get("parent_item_id"):  # the dummy child follows its parent
            child["qty_invoiced"] = r4(f(child.get("qty_invoiced")) + qty)
    state.invoices[inv_id] = inv
    if order.get("state") == "new":
        set_state(order, "processing")
    touch(order)
    return inv_id


# -- comments, cancel, hold ------------------------------------------------------------------------------------
def add_comment(state: State, order_id: Any, history: Any) -> bool:
    """Order::addStatusHistory (2.4-develop): non-empty status is copied onto the order, empty is back-filled."""
    order = get_order(state, order_id)
    if not isinstance(history, dict):
        raise E.required("statusHistory")
    ts = now()
    entry = copy.deepcopy(history)
    entry.update({"entity_id": state.next("history"), "parent_id": order["entity_id"], "created_at": ts,
                  "entity_name": "order"})
    entry.setdefault("is_customer_notified", 0)
    entry.setdefault("is_visible_on_front", 0)
    if entry.get("status"):
        order["status"] = entry["status"]
    else:
        previous = next((h.get("status") for h in order.get("status_histories", []) if h.get("status")), None)
        entry["status"] = previous or STATE_DEFAULT_STATUS.get(str(order.get("state")))
    order.setdefault("status_histories", []).insert(0, entry)
    touch(order)
    return True


def cancel(state: State, order_id: Any) -> bool:
    """OrderManagement::cancel: false (200) when canCancel() is false."""
    order = get_order(state, order_id)
    if not can_cancel(order):
        return False
    new_state = "canceled"
    for item in order.get("items", []):
        qty = qty_to_cancel(item)
        item["qty_canceled"] = r4(f(item.get("qty_canceled")) + qty)
        for leaf, leaf_qty in leaf_lines(order, [(item, qty)] if qty > 0 else []):
            add_reservation(state, str(leaf.get("sku")), leaf_qty, "order_canceled", order)
        if new_state != "processing" and f(item.get("qty_invoiced")) - f(item.get("qty_refunded")) > 0:
            new_state = "processing" if qty_to_ship(item) > 0 else "complete"
    for target, total, done in (("subtotal_canceled", "subtotal", "subtotal_invoiced"),
                                ("tax_canceled", "tax_amount", "tax_invoiced"),
                                ("shipping_canceled", "shipping_amount", "shipping_invoiced"),
                                ("discount_canceled", "discount_amount", "discount_invoiced"),
                                ("total_canceled", "grand_total", "total_invoiced")):
        order[target] = r4(f(order.get(total)) - f(order.get(done)))
    set_state(order, new_state)
    touch(order)
    return True


def hold(state: State, order_id: Any) -> bool:
    order = get_order(state, order_id)
    if not can_hold(order):
        raise MagentoError(400, E.MSG_HOLD)
    order["hold_before_state"], order["hold_before_status"] = order.get("state"), order.get("status")
    set_state(order, "holded")
    touch(order)
    return True


def unhold(state: State, order_id: Any) -> bool:
    order = get_order(state, order_id)
    if not can_unhold(order):
        raise MagentoError(400, E.MSG_UNHOLD)
    order["state"], order["status"] = order.get("hold_before_state"), order.get("hold_before_status")
    order["hold_before_state"] = order["hold_before_status"] = None
    touch(order)
    return True


# -- repository saves (the unsafe ones) -------------------------------------------------------------------------
def save_shipment(state: State, entity: Any) -> dict[str, Any]:
    """POST /V1/shipment/ (ShipmentRepository::save): persists the document as sent, with NO quantity checks.

    Assumption: like the repository, it does not register the shipment on the order (qty_shipped unchanged)
    and deducts no stock; it is the duplicate-shipment trap of issue #4052.
    """
    if not isinstance(entity, dict):
        raise E.required("entity")
    get_order(state, entity.get("order_id"))
    ts = now()
    shp = copy.deepcopy(entity)
    sid = to_int(shp.get("entity_id")) or state.next("shipment")
    shp["entity_id"] = sid
    shp.setdefault("increment_id", f"{state.next('shipment_increment'):0{C.INCREMENT_DIGITS}d}")
    shp.setdefault("created_at", ts)
    shp["updated_at"] = ts
    shp["items"] = [dict(i, entity_id=state.next("shipment_item"), parent_id=sid) for i in shp.get("items") or []]
    shp["tracks"] = [_track(state, t, sid, shp["order_id"], ts) for t in shp.get("tracks") or []]
    shp.setdefault("comments", [])
    shp.setdefault("packages", [])
    state.shipments[sid] = shp
    return shipment_view(shp)


def save_track(state: State, entity: Any) -> dict[str, Any]:
    """POST /V1/shipment/track: add tracking to an existing shipment."""
    if not isinstance(entity, dict):
        raise E.required("entity")
    shp = state.shipments.get(to_int(entity.get("parent_id")) or 0)
    if shp is None:
        raise MagentoError(400, E.MSG_TRACK_SAVE)
    track = _track(state, entity, shp["entity_id"], to_int(entity.get("order_id")) or shp["order_id"], now())
    shp["tracks"].append(track)
    return copy.deepcopy(track)


def shipment_view(shp: dict[str, Any]) -> dict[str, Any]:
    view = copy.deepcopy(shp)
    return view
