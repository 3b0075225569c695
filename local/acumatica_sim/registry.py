"""Which entities the endpoint serves: keys, table, tree builder, upsert, actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from acumatica_sim import ar_documents, returns
from acumatica_sim import documents as d
from acumatica_sim import views as v
from acumatica_sim.model import Rec, Store

Upsert = Callable[[Store, Rec, Rec | None, datetime], Rec]
Action = Callable[[Store, Rec, Rec, datetime], None]


@dataclass(frozen=True)
class EntityDef:
    name: str
    table: str
    keys: tuple[str, ...]
    tree: Callable[[Store, Rec], dict[str, Any]]
    upsert: Upsert | None = None
    actions: dict[str, Action] = field(default_factory=dict)
    graph: str = "PX.Objects"
    deletable: bool = True
    stamp: str | None = None  # LastModified field on the record


def _no_action(store: Store, rec: Rec, params: Rec, now: datetime) -> None:
    return None


ENTITIES: dict[str, EntityDef] = {e.name: e for e in (
    EntityDef("SalesOrder", "orders", ("OrderType", "OrderNbr"), v.order_tree, d.upsert_order, {
        "SalesOrderCreateShipment": d.order_create_shipment, "PrepareSalesInvoice": d.order_prepare_invoice,
        "CancelSalesOrder": d.order_cancel, "ReopenSalesOrder": d.order_reopen, "OpenSalesOrder": d.order_open,
        "ReleaseFromCreditHoldSalesOrder": d.order_open,
        "SalesOrderCreateReceipt": returns.order_create_receipt},
        "PX.Objects.SO.SOOrderEntry/Document", stamp="LastModified"),
    EntityDef("Customer", "customers", ("CustomerID",), v.customer_tree, d.upsert_customer, {},
              "PX.Objects.AR.CustomerMaint/BAccount", stamp="LastModifiedDateTime"),
    EntityDef("StockItem", "items", ("InventoryID",), v.item_tree, d.upsert_item, {},
              "PX.Objects.IN.InventoryItemMaint/Item", stamp="LastModified"),
    EntityDef("Shipment", "shipments", ("ShipmentNbr",), v.shipment_tree, d.update_shipment, {
        "ConfirmShipment": d.shipment_confirm, "CorrectShipment": d.shipment_correct,
        "PrepareInvoice": d.shipment_prepare_invoice, "UpdateIN": _no_action},
        "PX.Objects.SO.SOShipmentEntry/Document", stamp="LastModifiedDateTime"),
    EntityDef("SalesInvoice", "invoices", ("Type", "ReferenceNbr"), v.invoice_tree, returns.upsert_credit_memo, {
        "ReleaseSalesInvoice": d.invoice_release}, "PX.Objects.SO.SOInvoiceEntry/Document",
        stamp="LastModifiedDateTime"),
    EntityDef("Invoice", "invoices", ("Type", "ReferenceNbr"), ar_documents.invoice_tree,
              ar_documents.upsert_credit_memo, {"ReleaseInvoice": ar_documents.release},
              "PX.Objects.AR.ARInvoiceEntry/Document", stamp="LastModifiedDateTime"),
    EntityDef("Payment", "payments", ("Type", "ReferenceNbr"), v.payment_tree, d.upsert_payment, {
        "ReleasePayment": d.payment_release}, "PX.Objects.AR.ARPaymentEntry/Document", stamp="LastModifiedDateTime"),
    EntityDef("TaxCategory", "taxcategories", ("TaxCategoryID",), v.tax_category_tree, None, {},
              "PX.Objects.TX.TaxCategoryMaint/TxCategory", deletable=False),
    EntityDef("NonStockItem", "nonstock", ("InventoryID",), v.nonstock_tree, None, {},
              "PX.Objects.IN.NonStockItemMaint/Item", deletable=False, stamp="LastModified"),
    EntityDef("ShipVia", "shipvias", ("CarrierID",), v.shipvia_tree, None, {}, "PX.Objects.CS.CarrierMaint/Carrier",
              deletable=False),
)}
INQUIRIES = ("InventorySummaryInquiry", "InventoryQuantityAvailable")
