"""Sales order amounts as Acumatica computes them: line types, UOM conversions, discounts, taxes, currency.

Modelled on SOOrderEntry (24.2) with the defaults of a fresh tenant:
- Line types: a stock item's line is "Goods for IN"; a non-stock item's is "Non-Inventory Goods" when the item
  requires shipment, else "Misc. Charge". Goods lines add up to Totals.LineTotalAmount, Misc. Charge lines to
  Totals.MiscTotalAmount.
- UOM: a line may be in the item's base UOM or any UOM of its conversions (``UOMConversions``: FromUOM -> BaseUOM,
  Multiply by ConversionFactor); its default unit price is the item's DefaultPrice (per base unit) x the factor,
  in the order's currency (/ CurrencyRate), rounded to the cent.
- Document discounts (DiscountDetails of Type "Document": an amount, or a percent of the lines + misc. charges)
  add up to Totals.DiscountTotal; line discounts stay in the line amounts.
- Taxes (Taxes tab, TaxDetails): one row per tax of the tax zone that a line category (or the freight's
  FreightTaxCategory) carries; TaxableAmount = round(sum of the amounts of the lines it covers x (1 - document
  discount / (lines + misc. charges))) + the freight and premium freight when it covers the freight;
  TaxAmount = round(TaxableAmount x rate). Rounding per tax over the document ("calculate on document amount").
  TaxCalcMode "Gross" (prices include tax): the tax is taken out of each category's part, rate / (100 + the sum of
  the category's rates), and the order total does not add it again.
- Currency: amounts are in the order's CurrencyID; CurrencyRate (base per unit of the document's currency,
  multiply) and ReciprocalRate come from the day's rate (``config.CURRENCY_RATES``).
- OrderTotal = LineTotalAmount + MiscTotalAmount - DiscountTotal + Freight + PremiumFreight (+ TaxTotal unless
  Gross).
- DisableAutomaticTaxCalculation: the TaxDetails are the ones given, not computed (``manual_tax.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from acumatica_sim import manual_tax
from acumatica_sim.config import BASE_CURRENCY, CURRENCY_RATES, TAX_CATEGORIES, TAXES
from acumatica_sim.values import money

Rec = dict[str, Any]
ZERO = Decimal("0")
GOODS, NON_STOCK, MISC = "Goods for IN", "Non-Inventory Goods", "Misc. Charge"
TAX_CALC_MODES = ("TaxSetting", "Gross", "Net")


def line_type(item: Rec) -> str:
    if item.get("IsStock", True):
        return GOODS
    return NON_STOCK if item.get("RequireShipment") else MISC


def uom_factor(item: Rec, uom: str | None) -> Decimal | None:
    """Base units per one ``uom`` of the item, None when the item has no such unit."""
    if uom is None or uom == item.get("BaseUOM"):
        return Decimal(1)
    for conv in item.get("UOMConversions") or []:
        if conv.get("FromUOM") == uom and conv.get("ToUOM", item.get("BaseUOM")) == item.get("BaseUOM"):
            factor = Decimal(str(conv["ConversionFactor"]))
            return factor if conv.get("MultiplyOrDivide", "Multiply") == "Multiply" else 1 / factor
    return Decimal(1) if uom == item.get("SalesUOM") else None


def default_price(item: Rec, uom: str | None, rate: Decimal) -> Decimal:
    factor = uom_factor(item, uom) or Decimal(1)
    return money(Decimal(item.get("DefaultPrice") or ZERO) * factor / rate)


def currency_rate(code: str | None) -> Decimal:
    return CURRENCY_RATES.get(code or BASE_CURRENCY, Decimal(1))


def header_discount(o: Rec, goods_and_misc: Decimal) -> Decimal:
    total = ZERO
    for d in o.get("discounts") or []:
        if d.get("DiscountAmount") is not None:
            total += money(d["DiscountAmount"])
        else:
            total += money(goods_and_misc * Decimal(d.get("DiscountPercent") or 0) / 100)
    return total + (o.get("HeaderDiscount") or ZERO)


def totals(o: Rec, amount_of: Callable[[Rec], Decimal]) -> dict[str, Any]:
    """The order's amounts (document currency): LineTotalAmount, MiscTotalAmount, DiscountTotal, Freight,
    PremiumFreight, TaxTotal, OrderTotal and the TaxDetails rows."""
    amounts = [(ln, amount_of(ln)) for ln in o["lines"]]
    goods = sum((a for ln, a in amounts if ln.get("LineType", GOODS) != MISC), ZERO)
    misc = sum((a for ln, a in amounts if ln.get("LineType", GOODS) == MISC), ZERO)
    disc = header_discount(o, goods + misc)
    ss = o["ShippingSettings"]
    freight, premium = ss.get("FreightPrice") or ZERO, ss.get("PremiumFreight") or ZERO
    keep = 1 - disc / (goods + misc) if goods + misc else Decimal(1)
    gross = o.get("TaxCalcMode") == "Gross"
    by_cat: dict[str, Decimal] = {}
    for ln, a in amounts:
        cat = ln.get("TaxCategory") or "EXEMPT"
        by_cat[cat] = by_cat.get(cat, ZERO) + a * keep
    freight_cat = ss.get("FreightTaxCategory")
    if freight_cat and freight + premium:
        by_cat[freight_cat] = by_cat.get(freight_cat, ZERO) + freight + premium
    details = manual_tax.order_taxes(o) if manual_tax.is_manual(o) else []
    for tax_id, rate in ({} if manual_tax.is_manual(o) else TAXES).items():
        parts = [(cat, base) for cat, base in by_cat.items() if tax_id in TAX_CATEGORIES.get(cat, ())]
        if not parts:
            continue
        if gross:
            share = sum((base * rate / (100 + _cat_rate(cat)) for cat, base in parts), ZERO)
            tax = money(share)
            taxable = money(sum((base * 100 / (100 + _cat_rate(cat)) for cat, base in parts), ZERO))
        else:
            taxable = money(sum((base for _, base in parts), ZERO))
            tax = money(taxable * rate / 100)
        details.append({"TaxID": tax_id, "TaxRate": rate, "TaxableAmount": taxable, "TaxAmount": tax,
                        "TaxType": "Sales"})
    tax_total = sum((d["TaxAmount"] for d in details), ZERO)
    gross = gross and not manual_tax.is_manual(o)  # taxes as given are on top of the amounts (manual_tax.py)
    total = goods + misc - disc + freight + premium + (ZERO if gross else tax_total)
    return {"LineTotalAmount": goods, "MiscTotalAmount": misc, "DiscountTotal": disc, "Freight": freight,
            "PremiumFreight": premium, "TaxTotal": tax_total, "OrderTotal": total, "TaxDetails": details}


def _cat_rate(cat: str) -> Decimal:
    return sum((TAXES[t] for t in TAX_CATEGORIES.get(cat, ())), ZERO)


def base_amount(value: Decimal, rate: Decimal) -> Decimal:
    return (value * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
