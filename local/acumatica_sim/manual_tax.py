"""Taxes entered as given: a sales order with ``DisableAutomaticTaxCalculation`` (Default 24.200.001
``SalesOrder.DisableAutomaticTaxCalculation``, ``SalesOrder.TaxDetails`` -> ``TaxDetail``).

This is how Acumatica's own commerce connector carries the tax an external system charged: the order is saved with
automatic tax calculation off and its Taxes tab filled (TaxID, TaxableAmount, TaxAmount); the tax engine then
does not recalculate:
- each row's ``TaxID`` must be a tax of the tenant's tax table (this tenant has one tax zone: every tax of
  ``config.TAXES``); an unknown one is refused on the row's field with the selector's message ("'Tax ID' cannot be
  found in the system."); a negative taxable or tax amount is refused ("The value must be greater than or equal
  to 0."); a row for a TaxID already on the order replaces it, a row with ``delete`` removes it;
- TaxTotal = the sum of the rows' TaxAmount, OrderTotal = lines + misc. charges - discounts + freight + TaxTotal
  (``pricing.totals``);
- the documents billed from the order (a receipt's Credit Memo, a CR order's Credit Memo, an invoice) carry the
  order's taxes, in proportion to the part of the order's lines they bill (all of them when they bill every line;
  an assumption where Acumatica's proration is not documented, written down in docs/local.md).
With automatic calculation on (the default), TaxDetails sent with the order are recalculated by the engine, as
Acumatica does: the rows given are not kept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from acumatica_sim.config import TAXES
from acumatica_sim.values import money, to_decimal

Rec = dict[str, Any]
ZERO = Decimal(0)

FIELD = "DisableAutomaticTaxCalculation"
MSG_TAX_NOT_FOUND = "'Tax ID' cannot be found in the system."
MSG_NEGATIVE = "The value must be greater than or equal to 0."


def is_manual(o: Rec) -> bool:
    return bool(o.get(FIELD))


def apply(rec: Rec, body: Rec, add: Any) -> None:
    """The order's ``DisableAutomaticTaxCalculation`` and, when it is on, the TaxDetails given (``add(path, msg)``
    records a field error)."""
    if body.get(FIELD) is not None:
        rec[FIELD] = str(body[FIELD]).lower() in ("true", "1")
    rows = body.get("TaxDetails")
    if not is_manual(rec) or not isinstance(rows, list):
        return
    taxes: list[Rec] = rec.setdefault("manual_taxes", [])
    for i, row in enumerate(rows):
        path = f"TaxDetails/{i}/"
        tax_id = str(row.get("TaxID") or "").strip().upper()
        found = next((t for t in taxes if t["TaxID"] == tax_id), None)
        if row.get("delete"):
            if found is not None:
                taxes.remove(found)
            continue
        if tax_id not in TAXES:
            add(path + "TaxID", MSG_TAX_NOT_FOUND if tax_id else "'Tax ID' cannot be empty.")
            continue
        amounts: dict[str, Decimal] = {}
        for f in ("TaxableAmount", "TaxAmount"):
            try:
                amounts[f] = money(to_decimal(row.get(f) or 0))
            except ValueError as e:
                add(path + f, str(e))
                continue
            if amounts[f] < 0:
                add(path + f, MSG_NEGATIVE)
        if len(amounts) < 2 or min(amounts.values()) < 0:
            continue
        new = {"TaxID": tax_id, "TaxRate": TAXES[tax_id], "TaxType": "Sales", **amounts}
        if found is not None:
            found.update(new)
        else:
            taxes.append(new)


def order_taxes(o: Rec) -> list[Rec]:
    """The order's TaxDetails rows as given (the tax engine does not touch them)."""
    return [dict(t) for t in o.get("manual_taxes") or []]


def billed_taxes(o: Rec, billed: Decimal, lines_total: Decimal) -> list[Rec]:
    """The order's taxes on a document billing ``billed`` of its ``lines_total`` line amounts."""
    share = billed / lines_total if lines_total else Decimal(1)
    return [{**t, "TaxableAmount": money(t["TaxableAmount"] * share), "TaxAmount": money(t["TaxAmount"] * share)}
            for t in order_taxes(o)]


def invoice_taxes(orders: dict[tuple[str, str], Rec], lines: list[Rec], amount_of: Any) -> list[Rec] | None:
    """The taxes an invoice (or credit memo) carries from the orders it bills that have taxes entered as given;
    None when none of them has (the engine computes the document's tax)."""
    out: list[Rec] = []
    manual = False
    for key, o in orders.items():
        if not is_manual(o):
            continue
        manual = True
        billed = sum((ln["Amount"] for ln in lines if (ln.get("OrderType"), ln.get("OrderNbr")) == key), ZERO)
        total = sum((amount_of(ln) for ln in o["lines"]), ZERO)
        out += billed_taxes(o, billed, total)
    return out if manual else None
