"""Acumatica sales order -> the ``entity`` of Magento ``PUT /V1/orders/create`` (Magento saves it verbatim).

Magento validates almost nothing on this route, so the checks live here (``OrderMappingError``, with a message an
operator can act on): every SKU must exist in Magento, the order needs lines, the bill-to (and ship-to) address
and contact need what Magento requires, and the totals must add up to Acumatica's OrderTotal to the cent.

Money is ``Decimal`` throughout, rounded to 0.01 half-up where derived; amounts stay ``Decimal`` in the returned
dict (the HTTP layer serialises them exactly). Single currency: base and order amounts are equal, all rates 1.

Totals semantics (as Acumatica's SO301000 Totals tab, and the project's simulator):
- a line's Amount = round(qty * unit price) - the line's DiscountAmount; Totals.LineTotalAmount = sum of Amounts;
- Totals.DiscountTotal = the *document-level* discount only (line discounts are already inside the line amounts);
- OrderTotal = LineTotalAmount - DiscountTotal + Freight + TaxTotal.
Magento's order ``discount_amount`` is therefore -(sum of line discounts + DiscountTotal); items carry only their
own line discount. The order's TaxTotal is spread over the items in proportion to each line's amount after its
discount (largest remainder, so the item taxes add up exactly); freight carries no tax.

Placeholders: a missing telephone is sent as ``"N/A"`` (Magento requires one, Acumatica often has none); every
other required address field missing is an error. A unit price with more than two decimals is shown rounded to
the cent, while the row total is still computed from the exact price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from amsync.models.acumatica import AcuAddress, AcuContact, SalesOrder, SalesOrderLine, to_decimal
from amsync.models.settings import ShipViaMapping
from amsync.services.order_identity import ext_order_id

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal("1")
PHONE_PLACEHOLDER = "N/A"
GUEST_GROUP_ID = 0  # Magento's NOT LOGGED IN group


class OrderMappingError(Exception):
    """The order cannot be created in Magento as it stands; the message says what to fix."""


@dataclass(frozen=True)
class MagentoCustomerRef:
    id: int | None  # None: a guest order
    email: str
    firstname: str
    lastname: str
    group_id: int = 1


@dataclass(frozen=True)
class MagentoProductRef:
    id: int
    sku: str
    name: str
    weight: Decimal | None = None

    def __post_init__(self) -> None:
        # Magento's JSON may bring the weight as a float or a string: keep it an exact Decimal
        if self.weight is not None and not isinstance(self.weight, Decimal):
            object.__setattr__(self, "weight", to_decimal(self.weight))


@dataclass(frozen=True)
class OrderMappingContext:
    customer: MagentoCustomerRef
    products: Mapping[str, MagentoProductRef]  # by SKU (= Acumatica InventoryID)
    shipping: ShipViaMapping
    payment_method: str
    store_id: int = 1
    currency: str | None = None  # None: the order's CurrencyID
    increment_id: str | None = None


@dataclass(frozen=True)
class _Line:
    source: SalesOrderLine
    position: int
    product: MagentoProductRef
    row_total: Decimal
    discount: Decimal

    @property
    def net(self) -> Decimal:
        """The line amount after its discount: the weight of its share of the order's tax."""
        if self.source.amount is not None:
            return money(self.source.amount)
        return self.row_total - self.discount


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split_name(full: str) -> tuple[str, str]:
    """"Amelia Rose Armstrong" -> ("Amelia", "Rose Armstrong"); one word is used for both (Magento needs both)."""
    words = full.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], words[0]
    return words[0], " ".join(words[1:])


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` (cents) over ``weights`` by the largest-remainder method: the parts sum exactly to ``total``.

    Negative weights count as 0; if no weight is positive the split is equal.
    """
    if not weights:
        return []
    clipped = [max(Fraction(w), Fraction(0)) for w in weights]
    if sum(clipped) == 0:
        clipped = [Fraction(1)] * len(weights)
    whole = sum(clipped)
    cents = int(money(total) * 100)
    sign, cents = (-1 if cents < 0 else 1), abs(cents)
    shares = [cents * w / whole for w in clipped]
    parts = [s.numerator // s.denominator for s in shares]
    # the cents lost to flooring go to the largest remainders, earlier lines first on ties
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in by_remainder[: cents - sum(parts)]:
        parts[i] += 1
    return [money(Decimal(sign * p) / 100) for p in parts]


def _product(ctx: OrderMappingContext, sku: str) -> MagentoProductRef | None:
    found = ctx.products.get(sku)
    if found is None:
        # Magento looks SKUs up case-insensitively
        found = next((p for k, p in ctx.products.items() if k.upper() == sku.upper()), None)
    return found


def _lines(order: SalesOrder, ctx: OrderMappingContext) -> list[_Line]:
    if not order.lines:
        raise OrderMappingError(f"order {order.key} has no lines: Magento cannot take an empty order")
    out: list[_Line] = []
    problems: list[str] = []
    for position, line in enumerate(order.lines, start=1):
        sku = line.inventory_id
        product = _product(ctx, sku) if sku else None
        if not sku:
            problems.append(f"line {line.line_nbr or position} has no InventoryID: give it a stock item")
        elif product is None:
            problems.append(f"SKU {sku} is not in Magento: create the product or map it")
        else:
            out.append(_Line(line, position, product, money(line.order_qty * line.unit_price),
                             money(line.discount_amount)))
    if problems:
        raise OrderMappingError(f"order {order.key}: " + "; ".join(problems))
    return out


def _tax_percent(tax_total: Decimal, lines: Sequence[_Line]) -> Decimal:
    base = sum((ln.net for ln in lines if ln.net > 0), ZERO)
    if base <= 0 or tax_total == 0:
        return ZERO
    # the document's effective rate (Magento keeps 4 decimals); per-line tax categories are not in the record
    return (tax_total * 100 / base).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _item(line: _Line, tax: Decimal, tax_percent: Decimal, store_id: int) -> dict[str, Any]:
    src = line.source
    qty = src.order_qty
    price = money(src.unit_price)
    row_incl = line.row_total + tax
    price_incl = money(row_incl / qty) if qty else price
    weight = line.product.weight if line.product.weight is not None else ZERO
    return {
        "sku": line.product.sku, "name": line.product.name or src.description or line.product.sku,
        "product_id": line.product.id, "product_type": "simple", "qty_ordered": qty,
        "price": price, "base_price": price, "original_price": price, "base_original_price": price,
        "price_incl_tax": price_incl, "base_price_incl_tax": price_incl,
        "row_total": line.row_total, "base_row_total": line.row_total,
        "row_total_incl_tax": row_incl, "base_row_total_incl_tax": row_incl,
        "tax_amount": tax, "base_tax_amount": tax, "tax_percent": tax_percent if tax else ZERO,
        "discount_amount": line.discount, "base_discount_amount": line.discount,
        "weight": weight, "row_weight": weight * qty, "is_virtual": 0, "store_id": store_id,
        "ext_order_item_id": str(src.line_nbr if src.line_nbr is not None else line.position),
        "qty_invoiced": 0, "qty_shipped": 0, "qty_canceled": 0, "qty_refunded": 0,
    }


def _totals(order: SalesOrder, lines: Sequence[_Line], items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if order.order_total is None:
        raise OrderMappingError(f"order {order.key} has no OrderTotal: re-read it from Acumatica")
    subtotal = sum((ln.row_total for ln in lines), ZERO)
    discount = ZERO - (sum((ln.discount for ln in lines), ZERO) + money(order.discount_total))  # never -0.00
    shipping, tax, grand = money(order.freight), money(order.tax_total), money(order.order_total)
    computed = subtotal + discount + shipping + tax
    if computed != grand:
        raise OrderMappingError(
            f"order {order.key} does not add up: subtotal {subtotal} + discount {discount} + shipping {shipping} "
            f"+ tax {tax} = {computed}, but Acumatica's OrderTotal is {grand}; check the order's lines, discounts "
            "and freight in Acumatica")
    amounts = {"subtotal": subtotal, "subtotal_incl_tax": subtotal + tax, "discount_amount": discount,
               "shipping_amount": shipping, "shipping_incl_tax": shipping, "shipping_tax_amount": ZERO,
               "tax_amount": tax, "grand_total": grand, "total_due": grand}
    totals: dict[str, Any] = {}
    for name, value in amounts.items():
        totals[name] = value
        totals[f"base_{name}"] = value
    totals["total_qty_ordered"] = sum((ln.source.order_qty for ln in lines), Decimal(0))
    totals["total_item_count"] = len(items)
    totals["weight"] = sum((item["row_weight"] for item in items), ZERO)
    return totals


def _address(kind: str, order: SalesOrder, address: AcuAddress | None, contact: AcuContact | None,
             fallback_email: str) -> dict[str, Any]:
    addr = address or AcuAddress()
    person = contact or AcuContact()
    firstname, lastname = split_name(person.attention or person.business_name or "")
    required = {"city": addr.city, "country": addr.country, "postcode": addr.postal_code,
                "name (Attention or Business Name)": firstname}
    missing = [name for name, value in required.items() if not value]
    if missing:
        label = "Bill-To" if kind == "billing" else "Ship-To"
        raise OrderMappingError(
            f"order {order.key}: the {label} address/contact lacks {', '.join(missing)}, which Magento requires: "
            f"fill them in on the order's {label} settings in Acumatica")
    return {
        "address_type": kind, "street": [s for s in (addr.address_line1, addr.address_line2) if s],
        "city": addr.city, "region": addr.state, "region_code": addr.state, "postcode": addr.postal_code,
        "country_id": addr.country, "firstname": firstname, "lastname": lastname,
        "company": person.business_name, "telephone": person.phone or PHONE_PLACEHOLDER,
        "email": person.email or fallback_email,
    }


def _customer(ctx: OrderMappingContext) -> dict[str, Any]:
    c = ctx.customer
    fields: dict[str, Any] = {"customer_email": c.email, "customer_firstname": c.firstname,
                              "customer_lastname": c.lastname}
    if c.id is None:
        fields.update(customer_is_guest=1, customer_group_id=GUEST_GROUP_ID)
    else:
        fields.update(customer_id=c.id, customer_is_guest=0, customer_group_id=c.group_id)
    return fields


def _currency(order: SalesOrder, ctx: OrderMappingContext) -> dict[str, Any]:
    code = ctx.currency or order.currency_id
    if not code:
        raise OrderMappingError(f"order {order.key} has no CurrencyID and no store currency was given")
    codes = {f"{k}_currency_code": code for k in ("base", "order", "global", "store")}
    rates = dict.fromkeys(("base_to_global_rate", "base_to_order_rate", "store_to_base_rate", "store_to_order_rate"),
                          ONE)
    return {**codes, **rates}


def map_order(order: SalesOrder, ctx: OrderMappingContext) -> dict[str, Any]:
    """The ``entity`` for ``PUT /V1/orders/create``; raises ``OrderMappingError`` when Magento would get a bad order."""
    lines = _lines(order, ctx)
    tax_total = money(order.tax_total)
    taxes = allocate(tax_total, [ln.net for ln in lines])
    tax_percent = _tax_percent(tax_total, lines)
    items = [_item(ln, tax, tax_percent, ctx.store_id) for ln, tax in zip(lines, taxes, strict=True)]
    totals = _totals(order, lines, items)
    billing = _address("billing", order, order.bill_to_address, order.bill_to_contact, ctx.customer.email)
    # no separate ship-to on the record: ship to the bill-to address
    shipping = _address("shipping", order, order.ship_to_address or order.bill_to_address,
                        order.ship_to_contact or order.bill_to_contact, ctx.customer.email)
    entity: dict[str, Any] = {"ext_order_id": ext_order_id(order.order_type, order.order_nbr),
                              "state": "new", "status": "pending",
                              "store_id": ctx.store_id}
    if ctx.increment_id:
        entity["increment_id"] = ctx.increment_id
    entity.update(_customer(ctx))
    entity.update(_currency(order, ctx))
    entity.update(totals)
    method = f"{ctx.shipping.carrier_code}_{ctx.shipping.method_code}"
    entity.update(
        shipping_description=ctx.shipping.title,
        items=items,
        billing_address=billing,
        payment={"method": ctx.payment_method, "amount_ordered": totals["grand_total"],
                 "base_amount_ordered": totals["grand_total"], "additional_information": [],
                 # required by the schema; empty for an offline method
                 "account_status": "", "cc_last4": ""},
        extension_attributes={"shipping_assignments": [
            {"shipping": {"address": shipping, "method": method}, "items": [dict(item) for item in items]}]},
        status_histories=[{"comment": f"Imported from Acumatica order {order.order_type} {order.order_nbr}",
                           "is_customer_notified": 0, "is_visible_on_front": 0, "status": "pending",
                           # required by the schema; Magento sets the new order's id when it saves the history
                           "parent_id": 0}],
    )
    return entity
