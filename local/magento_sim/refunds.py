"""Credit memos (RefundOrder, RefundInvoice, CreditmemoRepository) and Adobe Commerce returns (RMA). Hold state.lock.

Mirrors ``Magento\\Sales`` 2.4: ``CreditmemoDocumentFactory::createFromOrder`` / ``createFromInvoice`` builds the
document from the order items (an empty ``items`` list refunds every refundable quantity; item ids that are not on
the order are ignored, as the factory only walks the order's items), the ``Creditmemo\\Total`` collectors add
shipping (``arguments.shipping_amount``, default: what is left to refund) and adjustments, then the validators run
(``Order\\Validation\\CanRefund``, ``Creditmemo\\Validation\\QuantityValidator`` and ``TotalsValidator``) and their
messages are joined under "Creditmemo Document Validation Error(s):". ``RefundAdapter`` then registers the refund
on the order, its items and its payment; ``OrderStateResolver`` closes the order when nothing is left to refund or
ship. MSI: refunded quantities that were never shipped get a compensating reservation; quantities shipped go back
to the source they were shipped from only for the items listed in ``return_to_stock_items``.

``/V1/returns`` exists only when ``SimConfig.edition`` is ``adobe_commerce`` (Magento_Rma); on Open Source the
route does not exist (404 "Request does not match any route.").
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.sales import accumulate, add_reservation, f, get_order, r4, to_int, touch
from magento_sim.state import State, now

CREDITMEMO_PREFIX = "Creditmemo Document Validation Error(s):\n"
MSG_MAX_SHIPPING = "Maximum shipping amount allowed to refund is: %1"
MSG_INVOICE_REFUND = "We can't create creditmemo for the invoice."
STATE_REFUNDED = 2
#: offline payment methods: ``canRefund()`` is false, so an online refund of their invoice is refused
OFFLINE_METHODS = frozenset({"checkmo", "purchaseorder", "banktransfer", "cashondelivery", "free"})
RMA_STATUSES = frozenset({"pending", "authorized", "partially_authorized", "received", "received_on_item",
                          "approved", "approved_on_item", "rejected", "rejected_on_item", "closed", "processed_closed"})


def php_number(value: float) -> str:
    """A PHP float as string interpolation prints it (45.0 -> "45", 20.5 -> "20.5")."""
    text = repr(round(value, 4))
    return text[:-2] if text.endswith(".0") else text


def _counter(state: State, name: str, first: int) -> int:
    state.counters.setdefault(name, first)
    return state.next(name)


def qty_to_refund(item: dict[str, Any]) -> float:
    return max(r4(f(item.get("qty_invoiced")) - f(item.get("qty_refunded"))), 0.0)


def _wanted(items: Any) -> dict[int | None, float]:
    out: dict[int | None, float] = {}
    for it in items or []:
        if isinstance(it, dict):
            out[to_int(it.get("order_item_id"))] = f(it.get("qty"))
    return out


def _limits_of_invoice(state: State, invoice: dict[str, Any]) -> dict[int, float]:
    """QuantityValidator::getInvoiceQtysRefundLimits: invoiced qty minus what credit memos of it refunded."""
    refunded: dict[int, float] = {}
    for cm in state.creditmemos.values():
        if cm.get("invoice_id") == invoice["entity_id"]:
            for line in cm["items"]:
                refunded[line["order_item_id"]] = refunded.get(line["order_item_id"], 0.0) + line["qty"]
    return {line["order_item_id"]: r4(line["qty"] - refunded.get(line["order_item_id"], 0.0))
            for line in invoice.get("items", [])}


def _chosen(order: dict[str, Any], wanted: dict[int | None, float],
            limits: dict[int, float] | None) -> list[tuple[dict[str, Any], float]]:
    """CreditmemoFactory: walk the order's items; sent qtys win, none sent = everything refundable."""
    out = []
    for item in order.get("items", []):
        iid = item["item_id"]
        if limits is not None and iid not in limits:
            continue
        if wanted:
            if iid not in wanted:
                continue
            qty = wanted[iid]
        else:
            qty = qty_to_refund(item) if limits is None else min(qty_to_refund(item), limits[iid])
        if qty > 0:
            out.append((item, qty))
    return out


class _DeltaRound:
    """``Creditmemo::roundPrice``: ``PriceCurrency::round`` (2 decimals, half away from zero) with the rounding
    delta carried to the next amount of the same credit memo (``Calculator::deltaRound``; one delta per sign)."""

    def __init__(self) -> None:
        self.delta: dict[bool, float] = {}

    def __call__(self, amount: float, negative: bool = False) -> float:
        if not amount:
            return amount
        amount += self.delta.get(negative, 0.0)
        rounded = float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        self.delta[negative] = amount - rounded
        return rounded


def _share(item: dict[str, Any], qty: float, invoiced: str, refunded: str, rnd: _DeltaRound,
           negative: bool = False) -> float:
    """Creditmemo\\Total\\Tax / Discount per item: what is invoiced and not refunded yet, all of it when the line
    refunds the item's last units (``Creditmemo\\Item::isLast``), else its share rounded with the delta."""
    qty_invoiced = f(item.get("qty_invoiced"))
    if not qty_invoiced:
        return 0.0
    left = r4(f(item.get(invoiced)) - f(item.get(refunded)))
    if qty == qty_to_refund(item):
        return left
    available = qty_invoiced - f(item.get("qty_refunded"))
    return rnd(left / available * qty, negative) if available else 0.0


def _line(item: dict[str, Any], qty: float, rnd: _DeltaRound, base_rnd: _DeltaRound) -> dict[str, Any]:
    price, base_price = f(item.get("price")), f(item.get("base_price", item.get("price")))
    tax = _share(item, qty, "tax_invoiced", "tax_refunded", rnd)
    base_tax = _share(item, qty, "base_tax_invoiced", "base_tax_refunded", base_rnd)
    return {"order_item_id": item["item_id"], "sku": item.get("sku"), "name": item.get("name"),
            "product_id": item.get("product_id"), "qty": qty, "price": price, "base_price": base_price,
            "base_cost": f(item.get("base_cost")), "price_incl_tax": f(item.get("price_incl_tax")) or price,
            "base_price_incl_tax": f(item.get("base_price_incl_tax")) or base_price,
            "row_total": r4(price * qty), "base_row_total": r4(base_price * qty),
            "row_total_incl_tax": r4(price * qty + tax), "base_row_total_incl_tax": r4(base_price * qty + base_tax),
            "tax_amount": tax, "base_tax_amount": base_tax,
            "discount_amount": _share(item, qty, "discount_invoiced", "discount_refunded", rnd, True),
            "base_discount_amount": _share(item, qty, "base_discount_invoiced", "base_discount_refunded", base_rnd,
                                           True)}


def _shipping(order: dict[str, Any], arguments: dict[str, Any]) -> float:
    """Creditmemo\\Total\\Shipping: default = what is left; more than that is refused."""
    allowed = r4(f(order.get("base_shipping_amount", order.get("shipping_amount")))
                 - f(order.get("base_shipping_refunded")))
    if arguments.get("shipping_amount") is None:
        return allowed
    wanted = r4(f(arguments.get("shipping_amount")))
    if wanted > allowed + 0.0001:
        raise MagentoError(400, MSG_MAX_SHIPPING, [f"${allowed:,.2f}"])
    return wanted


def _shipping_tax(order: dict[str, Any], ship: float, rnd: _DeltaRound, base: str = "") -> tuple[float, bool]:
    """Creditmemo\\Total\\Tax on shipping (refund from the order): the shipping tax in proportion to the shipping
    refunded, what is left of it when the rest of the shipping is refunded; (tax, partly refunded)."""
    def g(name: str) -> float:
        return f(order.get(base + name, order.get(name)))

    order_ship = g("shipping_amount")
    delta = r4(order_ship - g("shipping_refunded"))
    order_tax = g("shipping_tax_amount")
    if delta > ship and order_ship:
        part = ship / order_ship
        return rnd(order_tax * part), part < 1 and order_tax > 0
    if delta == ship:
        return r4(order_tax - g("shipping_tax_refunded")), False
    return 0.0, False


def _totals(order: dict[str, Any], lines: list[dict[str, Any]], arguments: dict[str, Any], last: bool,
            rnds: tuple[_DeltaRound, _DeltaRound]) -> dict[str, float]:
    """The Creditmemo\\Total collectors: subtotal, discount, shipping, tax (items, then shipping; a credit memo
    refunding everything left takes all the tax left, else no more than is left), adjustments, grand total."""
    ship = _shipping(order, arguments)
    pos, neg = r4(f(arguments.get("adjustment_positive"))), r4(f(arguments.get("adjustment_negative")))
    t: dict[str, float] = {}
    for base, rnd in (("", rnds[0]), ("base_", rnds[1])):
        sub = r4(sum(i[base + "row_total"] for i in lines))
        ship_tax, partial = _shipping_tax(order, ship, rnd, base)
        tax = r4(sum(i[base + "tax_amount"] for i in lines) + ship_tax)
        allowed = r4(f(order.get(base + "tax_invoiced", order.get("tax_invoiced")))
                     - f(order.get(base + "tax_refunded", order.get("tax_refunded"))))
        tax = allowed if last and not partial else min(allowed, tax)
        disc = r4(sum(i[base + "discount_amount"] for i in lines))
        t.update({base + "subtotal": sub, base + "subtotal_incl_tax": r4(sub + tax), base + "tax_amount": tax,
                  base + "discount_amount": -disc, base + "shipping_amount": ship,
                  base + "shipping_incl_tax": r4(ship + ship_tax), base + "shipping_tax_amount": ship_tax,
                  base + "adjustment_positive": pos, base + "adjustment_negative": neg,
                  base + "adjustment": r4(pos - neg), base + "grand_total": r4(sub + tax + ship + pos - neg - disc)})
    return t


def _refunds_all_left(order: dict[str, Any], chosen: list[tuple[dict[str, Any], float]]) -> bool:
    """Creditmemo::isLast: every item's line refunds all that is left of it."""
    qtys = {item["item_id"]: qty for item, qty in chosen}
    return all(qtys.get(i["item_id"], 0.0) == qty_to_refund(i) for i in order.get("items", [])
               if not i.get("parent_item_id"))


def _messages(state: State, order: dict[str, Any], chosen: list[tuple[dict[str, Any], float]],
              limits: dict[int, float] | None, grand_total: float) -> list[str]:
    msgs: list[str] = []
    if order.get("state") in ("payment_review", "holded", "canceled", "closed"):
        msgs.append(f"A creditmemo can not be created when an order has a status of {order.get('status') or ''}")
    elif not any(qty_to_refund(i) > 0 for i in order.get("items", [])):
        msgs.append("The order does not allow a creditmemo to be created.")
    if abs(round(f(order.get("total_paid")), 2) - f(order.get("total_refunded"))) < 0.0001:
        msgs.append("We can't create creditmemo for the order.")
    total_qty = 0.0
    for item, qty in chosen:
        over_invoice = limits is not None and limits.get(item["item_id"], 0.0) <= 0
        if qty_to_refund(item) < 0 or over_invoice or qty > qty_to_refund(item):
            msgs.append("The quantity to creditmemo must not be greater than the unrefunded quantity for product "
                        f'SKU "{item.get("sku")}".')
        else:
            total_qty += qty
    shipping_left = abs(round(f(order.get("shipping_amount")), 2) - f(order.get("shipping_refunded"))) >= 0.0001
    if grand_total <= 0:
        msgs.append("The credit memo's total must be positive.")
    elif total_qty <= 0 and not shipping_left:
        msgs.append("You can't create a creditmemo without products.")
    available = r4(f(order.get("base_total_paid")) - f(order.get("base_total_refunded")))
    if round(f(order.get("base_total_refunded")) + grand_total, 2) > round(f(order.get("base_total_paid")), 2):
        msgs.append(f"The most money available to refund is {php_number(available)}.")
    return msgs


_ORDER_SUMS = (("total_refunded", "grand_total"), ("base_total_refunded", "base_grand_total"),
               ("total_offline_refunded", "grand_total"), ("base_total_offline_refunded", "base_grand_total"),
               ("subtotal_refunded", "subtotal"), ("base_subtotal_refunded", "base_subtotal"),
               ("tax_refunded", "tax_amount"), ("base_tax_refunded", "base_tax_amount"),
               ("shipping_refunded", "shipping_amount"), ("base_shipping_refunded", "base_shipping_amount"),
               ("shipping_tax_refunded", "shipping_tax_amount"),
               ("base_shipping_tax_refunded", "base_shipping_tax_amount"),
               ("discount_refunded", "discount_amount"), ("base_discount_refunded", "base_discount_amount"),
               ("adjustment_positive", "adjustment_positive"), ("base_adjustment_positive", "base_adjustment_positive"),
               ("adjustment_negative", "adjustment_negative"), ("base_adjustment_negative", "base_adjustment_negative"))


def _shipped_source(state: State, order: dict[str, Any], item_id: int) -> str:
    for shp in state.shipments.values():
        if shp.get("order_id") == order["entity_id"] and any(i.get("order_item_id") == item_id
                                                             for i in shp.get("items", [])):
            return str((shp.get("extension_attributes") or {}).get("source_code") or C.DEFAULT_SOURCE)
    return C.DEFAULT_SOURCE


def _stock(state: State, order: dict[str, Any], cm: dict[str, Any], back_to_stock: set[int]) -> None:
    """MSI on a credit memo: never-shipped units free their reservation; shipped units go back to their source
    only when the item is in ``return_to_stock_items``."""
    by_id = {i["item_id"]: i for i in order.get("items", [])}
    for line in cm["items"]:
        item = by_id[line["order_item_id"]]
        before = f(item.get("qty_refunded")) - line["qty"]
        shipped = f(item.get("qty_shipped"))
        unshipped = max(f(item.get("qty_refunded")) - shipped, 0.0) - max(before - shipped, 0.0)
        if unshipped > 0:
            add_reservation(state, str(item.get("sku")), unshipped, "creditmemo_created", order)
        returned = r4(line["qty"] - unshipped)
        if returned > 0 and item["item_id"] in back_to_stock:
            source = _shipped_source(state, order, item["item_id"])
            si = state.source_items.setdefault((str(item.get("sku")), source),
                                               {"sku": item.get("sku"), "source_code": source, "quantity": 0.0,
                                                "status": 1})
            si["quantity"] = r4(f(si["quantity"]) + returned)
            si["status"] = 1


_ITEM_REFUNDED = (("qty_refunded", "qty"), ("amount_refunded", "row_total"), ("base_amount_refunded", "base_row_total"),
                  ("tax_refunded", "tax_amount"), ("base_tax_refunded", "base_tax_amount"),
                  ("discount_refunded", "discount_amount"), ("base_discount_refunded", "base_discount_amount"))


def _register(state: State, order: dict[str, Any], cm: dict[str, Any], back_to_stock: set[int]) -> None:
    """RefundAdapter / Order\\Payment::refund (offline): the refund lands on the items, the order and the payment."""
    accumulate(order, cm, _ITEM_REFUNDED, _ORDER_SUMS)
    pay = order.get("payment")
    if isinstance(pay, dict):
        pay["amount_refunded"] = r4(f(pay.get("amount_refunded")) + cm["grand_total"])
        pay["base_amount_refunded"] = r4(f(pay.get("base_amount_refunded")) + cm["base_grand_total"])
        pay["base_amount_refunded_online"] = f(pay.get("base_amount_refunded_online"))
    _stock(state, order, cm, back_to_stock)


def _create(state: State, order: dict[str, Any], body: dict[str, Any], invoice: dict[str, Any] | None) -> int:
    arguments = body.get("arguments") if isinstance(body.get("arguments"), dict) else {}
    limits = _limits_of_invoice(state, invoice) if invoice is not None else None
    chosen = _chosen(order, _wanted(body.get("items")), limits)
    rnds = (_DeltaRound(), _DeltaRound())  # Creditmemo::roundPrice, 'regular' and 'base'
    lines = [_line(i, q, *rnds) for i, q in chosen]
    totals = _totals(order, lines, arguments, _refunds_all_left(order, chosen), rnds)
    msgs = _messages(state, order, chosen, limits, totals["grand_total"])
    if msgs:
        raise MagentoError(400, CREDITMEMO_PREFIX + "\n".join(msgs))
    cm_id = _counter(state, "creditmemo", 401)  # ids are drawn only once the document is saved
    lines = [{"entity_id": _counter(state, "creditmemo_item", 12001), "parent_id": cm_id, **ln} for ln in lines]
    ts = now()
    ext = arguments.get("extension_attributes") if isinstance(arguments.get("extension_attributes"), dict) else {}
    back_to_stock = {i for i in (to_int(x) for x in ext.get("return_to_stock_items") or []) if i is not None}
    cm: dict[str, Any] = {
        "entity_id": cm_id, "increment_id": f"{_counter(state, 'creditmemo_increment', 1):0{C.INCREMENT_DIGITS}d}",
        "order_id": order["entity_id"], "invoice_id": invoice["entity_id"] if invoice else None,
        "store_id": order.get("store_id"), "state": STATE_REFUNDED, "creditmemo_status": None,
        "billing_address_id": order.get("billing_address_id"),
        "shipping_address_id": (order.get("_shipping_address") or {}).get("entity_id"),
        "order_currency_code": order.get("order_currency_code"), "base_currency_code": order.get("base_currency_code"),
        "global_currency_code": order.get("global_currency_code"),
        "store_currency_code": order.get("store_currency_code"),
        "email_sent": 1 if body.get("notify") else 0, "created_at": ts, "updated_at": ts, "items": lines,
        "comments": [], "extension_attributes": {}, **totals}
    comment = body.get("comment")
    if isinstance(comment, dict) and comment.get("comment"):
        cm["comments"].append({"entity_id": state.next("comment"), "parent_id": cm_id, "comment": comment["comment"],
                               "is_visible_on_front": to_int(comment.get("is_visible_on_front")) or 0,
                               "is_customer_notified": 1 if body.get("notify") and body.get("appendComment") else 0,
                               "created_at": ts})
    _register(state, order, cm, back_to_stock)
    if invoice is not None:
        invoice["base_total_refunded"] = r4(f(invoice.get("base_total_refunded")) + cm["base_grand_total"])
        invoice["is_used_for_refund"] = 1
        invoice["updated_at"] = ts
    state.creditmemos[cm_id] = cm
    touch(order)
    return cm_id


def refund_order(state: State, order_id: Any, body: dict[str, Any]) -> int:
    """POST /V1/order/{orderId}/refund -> credit memo entity_id (offline unless the payment refunds online)."""
    return _create(state, get_order(state, order_id), body, None)


def refund_invoice(state: State, invoice_id: Any, body: dict[str, Any]) -> int:
    """POST /V1/invoice/{invoiceId}/refund -> credit memo entity_id (Invoice\\Validation\\CanRefund first)."""
    invoice = state.invoices.get(to_int(invoice_id) or 0)
    if invoice is None:
        raise E.not_found()
    order = get_order(state, invoice["order_id"])
    method = str((order.get("payment") or {}).get("method") or "")
    fully = abs(f(invoice.get("base_grand_total")) - f(invoice.get("base_total_refunded"))) < 0.0001
    if invoice.get("state") != 2 or fully or (body.get("isOnline") and method in OFFLINE_METHODS):
        raise MagentoError(400, CREDITMEMO_PREFIX + MSG_INVOICE_REFUND)
    return _create(state, order, body, invoice)


def get_creditmemo(state: State, cm_id: Any) -> dict[str, Any]:
    cm = state.creditmemos.get(to_int(cm_id) or 0)
    if cm is None:
        raise E.not_found()
    return copy.deepcopy(cm)


# -- Adobe Commerce returns (Magento_Rma) ------------------------------------------------------------------------
def create_return(state: State, data: Any) -> dict[str, Any]:
    """POST /V1/returns: an RMA for items of a shipped order (RmaRepository::save through the RMA data mapper)."""
    if not isinstance(data, dict):
        raise E.required("rmaDataObject")
    order = get_order(state, data.get("order_id"))
    by_id = {i["item_id"]: i for i in order.get("items", [])}
    rid = _counter(state, "rma", 1)
    items = []
    for raw in data.get("items") or []:
        item = by_id.get(to_int(raw.get("order_item_id")) or 0) if isinstance(raw, dict) else None
        if item is None:
            raise MagentoError(400, "We can't save this RMA.")
        requested = f(raw.get("qty_requested"))
        if requested <= 0 or requested > f(item.get("qty_shipped")):
            raise MagentoError(400, "We can't save this RMA.")
        line = {"entity_id": _counter(state, "rma_item", 1), "rma_entity_id": rid,
                "order_item_id": item["item_id"], "qty_requested": int(requested), "qty_authorized": 0,
                "qty_approved": 0, "qty_returned": 0, "reason": str(raw.get("reason") or ""),
                "condition": str(raw.get("condition") or ""), "resolution": str(raw.get("resolution") or ""),
                "status": "pending"}
        _set_quantities(line, raw)
        items.append(line)
    if not items:
        raise MagentoError(400, "We can't save this RMA.")
    status = str(data.get("status") or "pending")
    if status not in RMA_STATUSES:
        raise MagentoError(400, "We can't save this RMA.")
    ts = now()
    rma = {"entity_id": rid, "increment_id": f"{rid:0{C.INCREMENT_DIGITS}d}", "order_id": order["entity_id"],
           "order_increment_id": order.get("increment_id"), "store_id": order.get("store_id"),
           "customer_id": order.get("customer_id") or 0, "date_requested": ts, "updated_at": ts,
           "customer_custom_email": str(data.get("customer_custom_email") or ""), "items": items,
           "status": status, "comments": [], "tracks": [], "extension_attributes": {}}
    state.returns[rid] = rma
    return {k: copy.deepcopy(v) for k, v in rma.items() if k != "updated_at"}


def _set_quantities(line: dict[str, Any], raw: dict[str, Any]) -> None:
    """An RMA item's workflow quantities and status (authorised <= requested, returned <= authorised, approved <=
    returned, as the RMA item form enforces them); anything else is refused."""
    got = {k: int(f(raw.get(k, line[k]))) for k in ("qty_authorized", "qty_returned", "qty_approved")}
    status = str(raw.get("status") or line["status"])
    if (min(got.values()) < 0 or got["qty_authorized"] > line["qty_requested"]
            or got["qty_returned"] > got["qty_authorized"] or got["qty_approved"] > got["qty_returned"]
            or status not in RMA_STATUSES):
        raise MagentoError(400, "We can't save this RMA.")
    line.update(got, status=status)


def update_return(state: State, rid: Any, data: Any) -> dict[str, Any]:
    """PUT /V1/returns/{id} (RmaManagement::saveRma): the RMA's status and its items' authorised, returned and
    approved quantities move through the workflow; an item not on the RMA or a quantity out of order is refused."""
    rma = state.returns.get(to_int(rid) or 0)
    if rma is None:
        raise E.not_found()
    if not isinstance(data, dict):
        raise E.required("rmaDataObject")
    status = str(data.get("status") or rma["status"])
    if status not in RMA_STATUSES:
        raise MagentoError(400, "We can't save this RMA.")
    by_item = {line["order_item_id"]: line for line in rma["items"]}
    updated = copy.deepcopy(by_item)
    for raw in data.get("items") or []:
        line = updated.get(to_int(raw.get("order_item_id")) or 0) if isinstance(raw, dict) else None
        if line is None:
            raise MagentoError(400, "We can't save this RMA.")
        _set_quantities(line, raw)
    rma["items"] = [updated[line["order_item_id"]] for line in rma["items"]]
    rma["status"], rma["updated_at"] = status, now()
    return return_view(rma)


def return_view(rma: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in rma.items() if k != "updated_at"}


def get_return(state: State, rid: Any) -> dict[str, Any]:
    rma = state.returns.get(to_int(rid) or 0)
    if rma is None:
        raise E.not_found()
    return return_view(rma)
