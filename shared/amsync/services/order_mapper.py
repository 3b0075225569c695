"""Acumatica sales order -> the ``entity`` of Magento ``PUT /V1/orders/create`` (Magento saves it verbatim).

Magento validates almost nothing on this route, so the checks live here (``OrderMappingError``, with a message an
operator can act on): every line's product exists in Magento (``order_items``: the Product mapping, UOMs,
configurable and bundle products, non-stock lines), the order needs lines, the bill-to (and ship-to) address and
contact need what Magento requires, the currency is one the store allows, and the amounts add up to Acumatica's
to the cent. What cannot be represented exactly is refused (the order waits with a Failure row), never rounded away.

Money is ``Decimal`` throughout, rounded to 0.01 half-up where derived (Magento's prices to 0.0001); amounts stay
``Decimal`` in the returned dict (the HTTP layer serialises them exactly).

Totals semantics (Acumatica's SO301000 Totals tab, 24.200.001, and the project's simulator):
- a line's Amount = round(qty x unit price) - the line's DiscountAmount; Misc. Charge lines (non-stock services,
  charges) add up to Totals.MiscTotalAmount, the others to Totals.LineTotalAmount;
- Totals.DiscountTotal = the document-level discount only (line discounts are already inside the line amounts);
- OrderTotal = LineTotalAmount + MiscTotalAmount - DiscountTotal + Freight + PremiumFreight + TaxTotal (TaxTotal
  is inside the line amounts when the order's TaxCalcMode is Gross: prices include tax).
Magento (as its Sales module stores an order): each item's ``discount_amount`` is its line discount plus its
share of the document discount (shares by line amount, largest remainder), the order's ``discount_amount`` is
-(their sum); ``shipping_amount`` is Freight + PremiumFreight; each tax of the order's TaxDetails is spread over the
lines whose tax category carries it (``tax_categories``, read from Acumatica) and the freight when the freight tax
category carries it (``shipping_tax_amount``), by their amounts after discounts; ``tax_percent`` is the sum of the
rates on the item. Tax-inclusive orders: ``price_incl_tax``/``row_total_incl_tax`` are Acumatica's, the amounts
without tax are derived, and the tax hidden in discounts is ``discount_tax_compensation_amount``.
Currency: the amounts are in the order's currency (CurrencyID); every ``base_*`` field is that amount x CurrencyRate
rounded to the cent (Acumatica's base amounts), ``base_to_order_rate`` = 1 / CurrencyRate.

Placeholders: a missing telephone is sent as ``"N/A"`` (Magento requires one, Acumatica often has none); every
other required address field missing is an error. A unit price with more than two decimals is shown rounded to
the cent, while the row total is still computed from the exact price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from amsync.models.acumatica import AcuAddress, AcuContact, AcuTaxCategory, SalesOrder, SalesOrderLine
from amsync.models.settings import ProductMapping, ShipViaMapping
from amsync.services.order_identity import ext_order_id
from amsync.services.order_items import MagentoProductRef, ResolvedLine, resolve_line, unit_price

__all__ = ["MagentoCustomerRef", "MagentoProductRef", "OrderMappingContext", "OrderMappingError", "map_order"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal("1")
RATE = Decimal("0.0001")
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
class OrderMappingContext:
    customer: MagentoCustomerRef
    products: Mapping[str, MagentoProductRef]  # by Magento SKU (the Product mapping's, else the InventoryID)
    shipping: ShipViaMapping
    payment_method: str
    store_id: int = 1
    website_id: int = 1  # the store's website (services/stores.py resolves both)
    currency: str | None = None  # None: the order's CurrencyID
    increment_id: str | None = None
    product_mappings: Sequence[ProductMapping] = ()
    # tax category id (upper case) -> the taxes it carries (Acumatica's Tax Categories); None: unknown, the order's
    # tax is then spread over all lines by amount and the freight is untaxed
    tax_categories: Mapping[str, AcuTaxCategory] | None = None
    base_currency: str | None = None  # Magento's base currency; None: the order's currency (no conversion)
    allowed_currencies: Sequence[str] | None = None  # None: any


@dataclass(frozen=True)
class _Line:
    source: SalesOrderLine
    position: int
    item: ResolvedLine
    row_total: Decimal  # the extended price: round(qty x unit price), in the order's currency
    line_discount: Decimal
    price: Decimal  # per Magento unit
    doc_discount: Decimal = ZERO
    tax: Decimal = ZERO
    tax_percent: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        """Acumatica's line Amount: the extended price after the line discount."""
        if self.source.amount is not None:
            return money(self.source.amount)
        return self.row_total - self.line_discount

    @property
    def net(self) -> Decimal:
        """After both discounts: the line's weight in the order's taxes."""
        return self.amount - self.doc_discount

    @property
    def discount(self) -> Decimal:
        return self.line_discount + self.doc_discount

    @property
    def product(self) -> MagentoProductRef:
        return self.item.product


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


def _lines(order: SalesOrder, ctx: OrderMappingContext) -> list[_Line]:
    if not order.lines:
        raise OrderMappingError(f"order {order.key} has no lines: Magento cannot take an empty order")
    out: list[_Line] = []
    problems: list[str] = []
    for position, line in enumerate(order.lines, start=1):
        resolved = resolve_line(line, position, ctx.products, ctx.product_mappings)
        if isinstance(resolved, str):
            problems.append(resolved)
            continue
        row_total = money(line.extended_price) if line.extended_price is not None \
            else money(line.order_qty * line.unit_price)
        if resolved.factor == 1:
            price: Decimal | None = money(line.unit_price)
        else:
            price = unit_price(line, resolved.factor, row_total)
        if price is None:
            problems.append(
                f"line {line.line_nbr or position}: {line.order_qty} {line.uom or ''} of {line.inventory_id} at "
                f"{line.unit_price} ({row_total}) cannot be sold in Magento as {resolved.qty} units of "
                f"{resolved.sku} to the cent (qty_factor {resolved.factor}): change the order's price or the "
                "product mapping")
            continue
        out.append(_Line(line, position, resolved, row_total, money(line.discount_amount), price))
    if problems:
        raise OrderMappingError(f"order {order.key}: " + "; ".join(problems))
    return out


def _with_discounts(order: SalesOrder, lines: list[_Line]) -> list[_Line]:
    shares = allocate(money(order.discount_total), [ln.amount for ln in lines])
    return [replace(ln, doc_discount=share) for ln, share in zip(lines, shares, strict=True)]


def _taxes(order: SalesOrder, lines: list[_Line], ctx: OrderMappingContext) -> tuple[list[_Line], Decimal]:
    """Each line's tax and tax percent, and the freight's tax (from the order's TaxDetails)."""
    tax_total = money(order.tax_total)
    freight = money(order.freight) + money(order.premium_freight)
    if ctx.tax_categories is None or not order.tax_details:
        if order.tax_details and sum((money(t.tax_amount) for t in order.tax_details), ZERO) != tax_total:
            raise OrderMappingError(f"order {order.key}: its tax details do not add up to its TaxTotal {tax_total}")
        taxes = allocate(tax_total, [ln.net for ln in lines])
        base = sum((ln.net for ln in lines if ln.net > 0), ZERO)
        pct = (tax_total * 100 / base).quantize(RATE, rounding=ROUND_HALF_UP) if base > 0 and tax_total else ZERO
        return [replace(ln, tax=t, tax_percent=pct if t else ZERO) for ln, t in zip(lines, taxes, strict=True)], ZERO
    if sum((money(t.tax_amount) for t in order.tax_details), ZERO) != tax_total:
        raise OrderMappingError(f"order {order.key}: its tax details do not add up to its TaxTotal {tax_total}: "
                                "re-read it from Acumatica")
    cats = ctx.tax_categories

    def covers(category: str | None, tax_id: str) -> bool:
        found = cats.get((category or "").upper())
        return found is not None and found.covers(tax_id)

    line_tax = [ZERO] * len(lines)
    line_pct = [sum((d.tax_rate for d in order.tax_details if covers(ln.source.tax_category, d.tax_id)), ZERO)
                for ln in lines]
    freight_pct = sum((d.tax_rate for d in order.tax_details if covers(order.freight_tax_category, d.tax_id)), ZERO)

    def weight(amount: Decimal, pct: Decimal) -> Decimal:
        # each part's exact share of a tax: amount x rate (prices without tax) or amount x rate / (100 + its
        # rates) (with tax: what Acumatica takes out of that part)
        return amount / (100 + pct) if order.tax_inclusive else amount

    freight_tax = ZERO
    for detail in order.tax_details:
        covered = [i for i, ln in enumerate(lines) if covers(ln.source.tax_category, detail.tax_id)]
        on_freight = bool(freight) and covers(order.freight_tax_category, detail.tax_id)
        weights = [weight(lines[i].net, line_pct[i]) for i in covered] + (
            [weight(freight, freight_pct)] if on_freight else [])
        if not weights:
            if money(detail.tax_amount) == 0:
                continue
            raise OrderMappingError(
                f"order {order.key}: tax {detail.tax_id} ({detail.tax_amount}) applies to none of its lines' tax "
                "categories: check the tax categories in Acumatica (Taxes > Tax Categories)")
        parts = allocate(money(detail.tax_amount), weights)
        for i, part in zip(covered, parts, strict=False):
            line_tax[i] += part
        if len(parts) > len(covered):
            freight_tax += parts[-1]
    return [replace(ln, tax=t, tax_percent=p if t else ZERO)
            for ln, t, p in zip(lines, line_tax, line_pct, strict=True)], freight_tax


@dataclass(frozen=True)
class _Money:
    """Order currency -> base currency: base = round(amount x rate)."""

    rate: Decimal

    def base(self, value: Decimal) -> Decimal:
        return money(value * self.rate) if self.rate != ONE else value

    def base_price(self, value: Decimal) -> Decimal:
        return (value * self.rate).quantize(RATE, rounding=ROUND_HALF_UP) if self.rate != ONE else value


def _pair(out: dict[str, Any], name: str, value: Decimal, fx: _Money, price: bool = False) -> None:
    out[name] = value
    out[f"base_{name}"] = fx.base_price(value) if price else fx.base(value)


def _item(line: _Line, store_id: int, fx: _Money, inclusive: bool) -> list[dict[str, Any]]:
    src, item = line.source, line.item
    qty = item.qty
    weight = item.product.weight if item.product.weight is not None else ZERO
    out: dict[str, Any] = {
        "sku": item.sku, "name": item.name or src.description or item.sku, "product_id": item.product.id,
        "product_type": item.product_type, "qty_ordered": qty, "weight": weight, "row_weight": weight * qty,
        "is_virtual": 1 if item.is_virtual else 0, "store_id": store_id,
        "ext_order_item_id": str(src.line_nbr if src.line_nbr is not None else line.position),
        "qty_invoiced": 0, "qty_shipped": 0, "qty_canceled": 0, "qty_refunded": 0,
        "tax_percent": line.tax_percent, "discount_percent": src.discount_percent if not line.doc_discount else ZERO,
    }
    if inclusive:
        # Acumatica's prices include tax: they are Magento's *_incl_tax; the tax before discounts comes off them
        rate = line.tax_percent
        tax_before = money(line.row_total * rate / (100 + rate)) if rate else ZERO
        row_total = line.row_total - tax_before
        _pair(out, "price_incl_tax", line.price, fx, price=True)
        _pair(out, "row_total_incl_tax", line.row_total, fx)
        _pair(out, "row_total", row_total, fx)
        _pair(out, "price", (row_total / qty).quantize(RATE, rounding=ROUND_HALF_UP) if qty else ZERO, fx, True)
        _pair(out, "discount_tax_compensation_amount", tax_before - line.tax, fx)
    else:
        row_incl = line.row_total + line.tax
        _pair(out, "price", line.price, fx, price=True)
        _pair(out, "row_total", line.row_total, fx)
        _pair(out, "row_total_incl_tax", row_incl, fx)
        _pair(out, "price_incl_tax", money(row_incl / qty) if qty else line.price, fx, price=True)
        _pair(out, "discount_tax_compensation_amount", ZERO, fx)
    out["original_price"], out["base_original_price"] = out["price"], out["base_price"]
    _pair(out, "tax_amount", line.tax, fx)
    _pair(out, "discount_amount", line.discount, fx)
    items = [out]
    for n, child in enumerate(item.children, start=1):
        cw = child.product.weight if child.product.weight is not None else ZERO
        items.append({
            "sku": child.product.sku, "name": child.product.name, "product_id": child.product.id,
            "product_type": child.product.type_id if child.product.type_id in ("virtual",) else "simple",
            "qty_ordered": child.qty, "weight": cw, "row_weight": cw * child.qty, "is_virtual": 0,
            "store_id": store_id, "ext_order_item_id": f"{out['ext_order_item_id']}-{n}",
            "qty_invoiced": 0, "qty_shipped": 0, "qty_canceled": 0, "qty_refunded": 0,
            # the parent carries the amounts (a configurable's child and a fixed-price bundle's parts are at 0)
            **dict.fromkeys(("price", "base_price", "original_price", "base_original_price", "price_incl_tax",
                                 "base_price_incl_tax", "row_total", "base_row_total", "row_total_incl_tax",
                                 "base_row_total_incl_tax", "tax_amount", "base_tax_amount", "tax_percent",
                                 "discount_amount", "base_discount_amount", "discount_percent",
                                 "discount_tax_compensation_amount", "base_discount_tax_compensation_amount"), ZERO),
            "parent_item": {"sku": out["sku"], "product_id": out["product_id"], "product_type": out["product_type"],
                            "ext_order_item_id": out["ext_order_item_id"]},
        })
    return items


def _check_totals(order: SalesOrder, lines: Sequence[_Line]) -> None:
    if order.order_total is None:
        raise OrderMappingError(f"order {order.key} has no OrderTotal: re-read it from Acumatica")
    goods = sum((ln.amount for ln in lines if not ln.source.is_misc_charge), ZERO)
    misc = sum((ln.amount for ln in lines if ln.source.is_misc_charge), ZERO)
    if order.line_total is not None and money(order.line_total) != goods:
        raise OrderMappingError(f"order {order.key}: its lines add up to {goods}, but its LineTotalAmount is "
                                f"{money(order.line_total)}; re-read it from Acumatica")
    if misc != money(order.misc_total):
        raise OrderMappingError(f"order {order.key}: its Misc. Charge lines add up to {misc}, but its "
                                f"MiscTotalAmount is {money(order.misc_total)}; re-read it from Acumatica")
    shipping = money(order.freight) + money(order.premium_freight)
    tax = ZERO if order.tax_inclusive else money(order.tax_total)
    computed = goods + misc - money(order.discount_total) + shipping + tax
    if computed != money(order.order_total):
        raise OrderMappingError(
            f"order {order.key} does not add up: lines {goods} + misc. charges {misc} - discount "
            f"{money(order.discount_total)} + freight {shipping} + tax {tax} = {computed}, but Acumatica's OrderTotal "
            f"is {money(order.order_total)}; check the order's lines, discounts and freight in Acumatica")


def _totals(order: SalesOrder, lines: Sequence[_Line], items: Sequence[Mapping[str, Any]], freight_tax: Decimal,
            fx: _Money) -> dict[str, Any]:
    _check_totals(order, lines)
    tops = [i for i in items if "parent_item" not in i]
    shipping_incl = money(order.freight) + money(order.premium_freight)
    shipping = shipping_incl - freight_tax if order.tax_inclusive else shipping_incl
    discount = ZERO - sum((ln.discount for ln in lines), ZERO)  # never -0.00
    tax = sum((ln.tax for ln in lines), ZERO) + freight_tax
    dtc = sum((i["discount_tax_compensation_amount"] for i in tops), ZERO)
    subtotal = sum((i["row_total"] for i in tops), ZERO)
    grand = money(order.order_total or ZERO)
    if subtotal + dtc + discount + shipping + tax != grand:
        raise OrderMappingError(f"order {order.key}: Magento's totals would not add up to its OrderTotal {grand}")
    amounts = {"subtotal": subtotal, "subtotal_incl_tax": sum((i["row_total_incl_tax"] for i in tops), ZERO),
               "discount_amount": discount, "shipping_amount": shipping, "shipping_incl_tax": shipping + freight_tax,
               "shipping_tax_amount": freight_tax, "shipping_discount_amount": ZERO, "tax_amount": tax,
               "discount_tax_compensation_amount": dtc, "grand_total": grand, "total_due": grand}
    totals: dict[str, Any] = {}
    for name, value in amounts.items():
        _pair(totals, name, value, fx)
    # Magento's column name is cut short: base_shipping_discount_tax_compensation_amnt
    totals["shipping_discount_tax_compensation_amount"] = totals["base_shipping_discount_tax_compensation_amnt"] = ZERO
    totals["total_qty_ordered"] = sum((i["qty_ordered"] for i in tops), Decimal(0))
    totals["total_item_count"] = len(tops)
    totals["weight"] = sum((i["row_weight"] for i in items), ZERO)
    totals["is_virtual"] = 1 if all(i["is_virtual"] for i in tops) else 0
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


def _currency(order: SalesOrder, ctx: OrderMappingContext) -> tuple[dict[str, Any], _Money]:
    code = (ctx.currency or order.currency_id or "").upper()
    if not code:
        raise OrderMappingError(f"order {order.key} has no CurrencyID and no store currency was given")
    if ctx.allowed_currencies is not None and code not in {c.upper() for c in ctx.allowed_currencies}:
        raise OrderMappingError(
            f"order {order.key} is in {code}, which the Magento store does not allow "
            f"({', '.join(ctx.allowed_currencies) or 'none'}): allow it in Magento (Stores > Currency Setup, with a "
            f"rate) and add it to the order mapping preferences' allowed_currencies")
    base = (ctx.base_currency or code).upper()
    rate = ONE
    if base != code:
        acu_base = (order.base_currency_id or "").upper()
        if acu_base and acu_base != base:
            raise OrderMappingError(f"order {order.key}: Acumatica's base currency {acu_base} is not Magento's base "
                                    f"currency {base}: the base amounts cannot be carried over")
        if order.currency_rate is None or order.currency_rate <= 0:
            raise OrderMappingError(f"order {order.key} is in {code} but has no CurrencyRate: set the rate in "
                                    "Acumatica (Currency Rates) and resync it")
        rate = order.currency_rate
    to_order = (ONE / rate).quantize(RATE, rounding=ROUND_HALF_UP)
    codes = {"base_currency_code": base, "global_currency_code": base, "store_currency_code": base,
             "order_currency_code": code}
    rates = {"base_to_global_rate": ONE, "base_to_order_rate": to_order, "store_to_base_rate": ONE,
             "store_to_order_rate": to_order}
    return {**codes, **rates}, _Money(rate)


def map_order(order: SalesOrder, ctx: OrderMappingContext) -> dict[str, Any]:
    """The ``entity`` for ``PUT /V1/orders/create``; raises ``OrderMappingError`` when Magento would get a bad order."""
    lines = _with_discounts(order, _lines(order, ctx))
    lines, freight_tax = _taxes(order, lines, ctx)
    currency, fx = _currency(order, ctx)
    items = [i for ln in lines for i in _item(ln, ctx.store_id, fx, order.tax_inclusive)]
    totals = _totals(order, lines, items, freight_tax, fx)
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
    entity.update(currency)
    entity.update(totals)
    method = f"{ctx.shipping.carrier_code}_{ctx.shipping.method_code}"
    entity.update(
        shipping_description=ctx.shipping.title,
        items=items,
        billing_address=billing,
        payment={"method": ctx.payment_method, "amount_ordered": totals["grand_total"],
                 "base_amount_ordered": totals["base_grand_total"], "additional_information": [],
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
