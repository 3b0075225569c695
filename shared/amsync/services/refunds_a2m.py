"""Returns, Acumatica -> Magento: a released Acumatica credit memo becomes one offline Magento credit memo.

An Acumatica merchant takes a return with an RC order: its lines are added from the original invoice ("Add
Invoice": each carries ``InvoiceType``/``InvoiceNbr``/``InvoiceLineNbr``), the goods come back through a receipt, and
Prepare Invoice on the receipt makes a SO invoice of type **Credit Memo** that is then released. Its push (the
invoice query, as for invoices) reaches the fulfilment consumer, which hands it here:

- the RC orders its lines come from are read; one that the connector made from a Magento credit memo (its
  ``ExternalRef`` is ``CM<credit memo number>``: services/returns.py) is never sent back (no loops);
- each RC (or CR) line leads through its invoice line to the original sales order and line; a credit memo entered
  on its own (no order lines) leads there through each line's ``OrigInvType``/``OrigInvNbr``/``OrigInvLineNbr``
  (the SO invoice detail's link to the original invoice line, Default 24.200.001); the original order must be
  one the connector created in Magento (its order binding), else the credit memo waits (NotReady) like a shipment;
- the Magento credit memo (``POST /V1/order/{id}/refund``, offline, no return to stock: Acumatica's receipt moved
  the stock and inventory sync carries it) has the returned items and quantities, the credit memo's freight as
  shipping, and an adjustment refund / fee for the difference between Magento's own line amounts and Acumatica's
  document total, so the Magento grand total equals Acumatica's to the cent;
- exactly once as for shipments and invoices (services/fulfilment.py: binding ``creditmemo#<doc>#<order>``, create
  lease, lookup by the marker comment before a create); Magento's refusals (e.g. "The most money available to
  refund is 20.") land in the Failure row.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from amsync.adapters.errors import NotFound
from amsync.models.acumatica import to_decimal, unwrap
from amsync.models.log import Action, Group, Result
from amsync.models.messages import SyncRequest
from amsync.services import fulfilment as F
from amsync.services.log_rows import now, sync_row

KIND = "creditmemo"
MARKER = "Acumatica credit memo"  # the comment every Magento credit memo the connector makes starts with
RETURN_REF_PREFIX = "CM"  # services/returns.py: the ExternalRef of a return order made from a Magento credit memo
NOTHING_TO_REFUND = "We can't create creditmemo for the order"
CENT = Decimal("0.01")


def _d(value: Any) -> Decimal:
    return (to_decimal(unwrap(value)) or Decimal(0)).quantize(CENT)


class _RefundCalls:
    nothing_left = NOTHING_TO_REFUND

    def existing(self, ports: F.FulfilmentPorts, order_id: int) -> list[dict[str, Any]]:
        return ports.magento.creditmemos_of(order_id)

    def body(self, doc: F._Doc, items: list[dict[str, Any]], record: Mapping[str, Any], order: Mapping[str, Any],
             ports: F.FulfilmentPorts) -> dict[str, Any]:
        return refund_body(doc.marker, items, record, order)

    def create(self, ports: F.FulfilmentPorts, order_id: int, body: dict[str, Any]) -> int:
        return ports.magento.refund(order_id, body)


def refund_body(marker: str, items: list[dict[str, Any]], record: Mapping[str, Any],
                order: Mapping[str, Any]) -> dict[str, Any]:
    """The offline refund: items, shipping = the credit memo's freight, the rest of Acumatica's total as adjustment."""
    by_id = {int(i["item_id"]): i for i in order.get("items") or []}
    lines = Decimal(0)
    for it in items:
        item = by_id[int(it["order_item_id"])]
        units = Decimal(str(it["qty"]))
        lines += (Decimal(str(item.get("price") or 0)) * units + _refunded_share(item, units, "tax")
                  - _refunded_share(item, units, "discount"))
    shipping = _d(record.get("FreightPrice"))
    rest = _d(record.get("Amount")) - lines.quantize(CENT) - shipping
    arguments: dict[str, Any] = {"shipping_amount": shipping, "adjustment_positive": max(rest, Decimal(0)),
                                 "adjustment_negative": max(-rest, Decimal(0)),
                                 "extension_attributes": {"return_to_stock_items": []}}
    return {"items": items, "notify": False, "appendComment": True, "arguments": arguments,
            "comment": {"comment": marker, "is_visible_on_front": 0}}


def _refunded_share(item: Mapping[str, Any], units: Decimal, what: str) -> Decimal:
    """What Magento's credit memo takes of an item's tax / discount for ``units`` (Creditmemo\\Total\\Tax and
    Discount): the invoiced amount not refunded yet, all of it for the item's last units, else its share."""
    def d(name: str) -> Decimal:
        return Decimal(str(item.get(name) or 0))

    invoiced = d("qty_invoiced") if item.get("qty_invoiced") is not None else d("qty_ordered")
    left_qty = invoiced - d("qty_refunded")
    amount = d(f"{what}_invoiced") if item.get(f"{what}_invoiced") is not None else d(f"{what}_amount")
    left = amount - d(f"{what}_refunded")
    if units <= 0 or left_qty <= 0:
        return Decimal(0)
    return left if units >= left_qty else left * units / left_qty


def sync_credit_memo(req: SyncRequest, record: Mapping[str, Any], ports: F.FulfilmentPorts) -> str:
    """A released Acumatica credit memo -> one Magento credit memo per original sales order it refunds."""
    started = now()
    label = f"credit memo {req.key}"
    if F._s(record, "Status") not in F.RELEASED:
        return "not-released"
    returns: dict[str, dict[str, Any]] = {}
    for ln in record.get("Details") or []:
        key = f"{F._s(ln, 'OrderType')}/{F._s(ln, 'OrderNbr')}"
        if key != "/" and key not in returns:
            returns[key] = ports.acumatica.get("SalesOrder", *key.split("/"), expand="Details")
    if record.get("Details") and not any(F._s(ln, "OrderNbr") or F._s(ln, "OrigInvNbr")
                                         for ln in record.get("Details") or []):
        # no line names an order or an original invoice line: an AR credit memo (AR301000) is tied to the
        # invoice through its applications instead; a SO credit memo without links has none (a Failure below)
        ar = _read_ar(req, ports)
        if ar is not None and _applications(ar):
            return sync_ar_credit_memo(req, ports, ar)
    made = [k for k, rc in returns.items() if F._s(rc, "ExternalRef").startswith(RETURN_REF_PREFIX)]
    if made:
        ports.log([sync_row(Group.RETURN, Action.SKIP, Result.SKIPPED, notes=req.key, started=started,
                            message=f"{label}: return order {', '.join(made)} was made by the connector from a "
                            "Magento credit memo; it is not sent back to Magento", correlation_id=req.correlation_id)])
        return "ours"
    try:
        originals = _original_lines(record, returns, ports)
    except _NoLink as exc:
        ports.log([sync_row(Group.RETURN, Action.CREATE, Result.FAILURE, notes=req.key, started=started,
                            message=f"{label}: {exc}; nothing was created in Magento. Add the return's lines from "
                            "the original invoice (Add Invoice on the return order, or Orig. Inv. Nbr. / Line Nbr. "
                            "on a credit memo entered on its own; an AR credit memo: apply it to the original "
                            "invoice on its Applications tab) and release the credit memo again",
                            correlation_id=req.correlation_id)])
        return "failed"
    outcomes = []
    for order_key, lines in originals.items():
        doc = F._Doc(KIND, Group.RETURN, label, order_key, req.correlation_id)
        outcomes.append(F._export(doc, lines, record, ports, started, _RefundCalls()))
    return ",".join(outcomes) or "no-lines"


class _NoLink(Exception):
    pass


def _original_lines(record: Mapping[str, Any], returns: dict[str, dict[str, Any]],
                    ports: F.FulfilmentPorts) -> dict[str, list[F._Line]]:
    """The credit memo's lines as lines of the original sales orders (through the RC lines' invoice links)."""
    invoices: dict[tuple[str, str], dict[str, Any]] = {}
    out: dict[str, list[F._Line]] = {}
    for ln in record.get("Details") or []:
        if F._s(ln, "OrderNbr"):  # from a return order (RC, CR): its line's invoice link
            rc = returns.get(f"{F._s(ln, 'OrderType')}/{F._s(ln, 'OrderNbr')}") or {}
            rc_line = next((x for x in rc.get("Details") or [] if to_decimal(unwrap(x.get("LineNbr")))
                            == to_decimal(unwrap(ln.get("OrderLineNbr")))), None)
            if rc_line is not None and not F._s(rc_line, "InvoiceNbr") \
                    and F._s(rc_line, "LineType") not in ("", "Goods for IN"):
                continue  # a misc. / non-stock line (a fee, goodwill): in the adjustment, not an item
            if rc_line is None or not F._s(rc_line, "InvoiceNbr"):
                raise _NoLink(f"line {F._s(ln, 'InventoryID')} of return order {F._s(ln, 'OrderType')} "
                              f"{F._s(ln, 'OrderNbr')} is not linked to an original invoice")
            inv_key = (F._s(rc_line, "InvoiceType") or "Invoice", F._s(rc_line, "InvoiceNbr"))
            inv_line = rc_line.get("InvoiceLineNbr")
        else:  # a credit memo entered on its own: its line names the invoice line it credits
            if not F._s(ln, "OrigInvNbr"):
                raise _NoLink(f"line {F._s(ln, 'InventoryID')} of the credit memo names no original invoice line "
                              "(Orig. Inv. Nbr. / Orig. Inv. Line Nbr.)")
            inv_key = (F._s(ln, "OrigInvType") or "Invoice", F._s(ln, "OrigInvNbr"))
            inv_line = ln.get("OrigInvLineNbr")
        if inv_key not in invoices:
            invoices[inv_key] = ports.acumatica.get("SalesInvoice", *inv_key, expand="Details")
        src = next((x for x in invoices[inv_key].get("Details") or []
                    if to_decimal(unwrap(x.get("LineNbr"))) == to_decimal(unwrap(inv_line))), None)
        if src is None:
            raise _NoLink(f"invoice {inv_key[0]} {inv_key[1]} has no line {unwrap(inv_line)}")
        nbr = to_decimal(unwrap(src.get("OrderLineNbr")))
        units = to_decimal(unwrap(ln.get("Qty"))) or Decimal(0)
        line = F._Line(F._s(src, "OrderType") or "SO", F._s(src, "OrderNbr"), int(nbr) if nbr is not None else None,
                       F._s(ln, "InventoryID"), units, F._s(ln, "UOM") or None)
        out.setdefault(f"{line.order_type}/{line.order_nbr}", []).append(line)
    return out


# ---------------------------------------------------------------------------------------------- AR credit memos
AR_ENTITY = "Invoice"  # Invoices and Memos (AR301000) in the Default 24.200.001 endpoint


def _read_ar(req: SyncRequest, ports: F.FulfilmentPorts) -> dict[str, Any] | None:
    doc_type, _, ref = req.key.partition("/")
    try:
        return F._read(ports, AR_ENTITY, doc_type, ref, expand="Details,ApplicationsCreditMemo")
    except NotFound:
        return None


def _applications(ar: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The documents an AR credit memo is applied to (its Applications tab), invoices only, each once."""
    return list(dict.fromkeys((F._s(a, "DocType") or "Invoice", F._s(a, "ReferenceNbr"))
                              for a in ar.get("ApplicationsCreditMemo") or []
                              if F._s(a, "ReferenceNbr") and (F._s(a, "DocType") or "Invoice") == "Invoice"))


def sync_ar_credit_memo(req: SyncRequest, ports: F.FulfilmentPorts, ar: dict[str, Any] | None = None) -> str:
    """A released AR credit memo (AR301000, the ``Invoice`` entity) -> one offline Magento credit memo.

    The contract's ``InvoiceDetail`` has no link to an original document line, so the credit memo is tied to the
    Magento order through the invoice it is applied to (``ApplicationsCreditMemo``: DocType Invoice,
    ReferenceNbr), whose lines name the sales order; a line whose InventoryID is an item of that invoice's order
    refunds that item by quantity (no return to stock: AR moves no goods), any other line (no item, or an item
    not on the order) is an amount: what the credit memo's total has beyond the items becomes the adjustment
    refund (``refund_body``), so Magento's total is Acumatica's to the cent."""
    started = now()
    label = f"credit memo {req.key}"
    ar = ar if ar is not None else _read_ar(req, ports)
    if ar is None:
        ports.log([F._gone_row(Group.RETURN, label, req, started)])
        return "gone"
    if F._s(ar, "Status") not in F.RELEASED:
        return "not-released"
    orders: dict[str, list[F._Line]] = {}
    for doc_type, ref in _applications(ar):
        invoice = F._read(ports, "SalesInvoice", doc_type, ref, expand="Details")
        for ln in invoice.get("Details") or []:
            if F._s(ln, "OrderNbr"):
                orders.setdefault(f"{F._s(ln, 'OrderType') or 'SO'}/{F._s(ln, 'OrderNbr')}", []).append(
                    F._Line(F._s(ln, "OrderType") or "SO", F._s(ln, "OrderNbr"),
                            int(n) if (n := to_decimal(unwrap(ln.get("OrderLineNbr")))) is not None else None,
                            F._s(ln, "InventoryID"), Decimal(0), F._s(ln, "UOM") or None))
    if len(orders) != 1:
        what = (f"is applied to invoices of {len(orders)} sales orders ({', '.join(sorted(orders))}): enter one "
                "credit memo per order" if orders else "is not applied to an invoice of a sales order (Applications "
                "tab): apply it to the original invoice")
        ports.log([sync_row(Group.RETURN, Action.CREATE, Result.FAILURE, notes=req.key, started=started,
                            message=f"AR {label} {what}; nothing was created in Magento",
                            correlation_id=req.correlation_id)])
        return "failed"
    [(order_key, sold)] = orders.items()
    lines: list[F._Line] = []
    for ln in ar.get("Details") or []:
        sku = F._s(ln, "InventoryID")
        src = next((x for x in sold if sku and x.sku.upper() == sku.upper()), None)
        units = to_decimal(unwrap(ln.get("Qty"))) or Decimal(0)
        if src is not None and units > 0:  # an item of the order: refunded by quantity
            lines.append(F._Line(src.order_type, src.order_nbr, src.order_line_nbr, src.sku, units, src.uom))
    if not lines:  # amounts only: an adjustment refund with no item (quantity 0 keeps Magento from refunding all)
        lines = [F._Line(sold[0].order_type, sold[0].order_nbr, sold[0].order_line_nbr, sold[0].sku, Decimal(0),
                         sold[0].uom)]
    doc = F._Doc(KIND, Group.RETURN, label, order_key, req.correlation_id)
    return F._export(doc, lines, ar, ports, started, _RefundCalls())
