"""Preferences and mapping tables kept in the SettingsTable (documented in docs/configuration.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from amsync.models.messages import Kind

DEFAULT_QUERIES: dict[str, Kind] = {
    "AMSync-SalesOrders": Kind.ORDER,
    "SALESORDER STATUS": Kind.ORDER,  # the walkthrough's query name
    "AMSync-Shipments": Kind.SHIPMENT,
    "AMSync-SalesInvoices": Kind.INVOICE,
    "AMSync-Payments": Kind.PAYMENT,
    "AMSync-StockAvailability": Kind.STOCK,
}


class _Setting(BaseModel):
    """Each function reads a few of these tables (the webhook its push queries, a poller its preferences): each
    model's validator is built on its first use, not for every model at every cold start."""

    model_config = ConfigDict(defer_build=True)


class PushQueries(_Setting):
    """Which Acumatica push query (generic inquiry name) feeds which entity kind."""

    queries: dict[str, Kind] = Field(default_factory=lambda: dict(DEFAULT_QUERIES))


class OrderSyncPreferences(_Setting):
    """The A->M order sync preferences: what syncs, and the three conditions (any one suffices)."""

    order_types: list[str] = Field(default_factory=lambda: ["SO"])
    # Acumatica statuses in which a new order is created in Magento.
    statuses: list[str] = Field(default_factory=lambda: [
        "Open", "Back Order", "Shipping", "Completed", "Invoiced", "Pending Processing", "Awaiting Payment"])
    sync_if_b2b: bool = True
    sync_if_staff: bool = True
    sync_if_paid: bool = True
    # Where B2B / staff come from: the push row's isB2B / isStaffCustomer columns (the generic inquiry the setup
    # guide builds), or the customer's class. A request without those columns (reconciler, resync, a payment's push)
    # falls back to the customer's class (services/eligibility.py).
    customer_flags_source: Literal["push_row", "customer_class"] = "push_row"
    b2b_classes: list[str] = Field(default_factory=lambda: ["B2B", "WHOLESALE"])
    staff_classes: list[str] = Field(default_factory=lambda: ["STAFF"])
    # No Magento customer with the order's e-mail: create one, or place a guest order.
    missing_customer: Literal["create", "guest"] = "create"
    customer_group_id: int = 1  # General
    # The store an order goes to when no store mapping (kind "store") matches it: the stack's one store.
    website_id: int = 1
    store_id: int = 1
    store_view: str = "default"
    # Magento's customer/account_share/scope: "website" (Magento's default: an e-mail is one account per website)
    # or "global" (one account for every website). Order sync looks customers up (and creates them) accordingly.
    account_share_scope: Literal["website", "global"] = "website"
    default_payment_method: str = "checkmo"
    # Write the Magento increment id back to the Acumatica order's ExternalRef (CustomerRefNbr).
    write_back_field: Literal["ExternalRef", "none"] = "ExternalRef"
    # Who numbers the Magento order: Magento (its own sequence, #000000995) or Acumatica (increment_id = the
    # type's prefix + the Acumatica number; Magento then refuses a second create of one order by itself).
    magento_numbering: Literal["magento", "acumatica"] = "magento"
    increment_id_prefixes: dict[str, str] = Field(default_factory=dict)  # order type -> prefix (SO: "", X: "X-")
    # What the reconciler's sweep does with a Magento order carrying a connector ext_order_id that is not the one
    # bound to its Acumatica order (a create Magento committed after the connector gave up on it).
    double_action: Literal["cancel", "hold"] = "cancel"


class ShipViaMapping(_Setting):
    ship_via: str
    store_view: str = "all"  # "all" = All Store Views, or a store view code
    carrier_code: str  # flatrate, tablerate, freeshipping, ups...
    method_code: str  # flatrate, bestway, freeshipping, GND...
    title: str  # "Flat Rate - Fixed"
    tracking_carrier_code: str = "custom"  # carrier code on shipment tracks (ups, usps, fedex, dhl, custom)


class PaymentMapping(_Setting):
    acumatica_method: str  # Acumatica PaymentMethod id (CHECK, CASH, ...), "*" = default
    magento_method: str  # an offline Magento method: checkmo, purchaseorder, banktransfer, cashondelivery, free


class OrderStatusMapping(_Setting):
    acumatica_status: str
    store_view: str = "all"
    magento_status: str | None = None  # status label to set through a comment; None = leave the status alone
    action: Literal["comment", "hold", "unhold", "cancel", "none"] = "comment"
    comment: str = ""


class WarehouseMapping(_Setting):
    """Acumatica warehouse -> Magento MSI source. A warehouse feeding the stocks of several websites has one row per
    website (``website_id``), each with that website's source; ``None`` = the source serves every website."""

    warehouse_id: str
    source_code: str
    website_id: int | None = None

    @field_validator("website_id", mode="before")
    @classmethod
    def _any(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.strip() in ("", "*", "all") else v


class StoreMapping(_Setting):
    """Acumatica branch / order type / customer class (None = any) -> the Magento website and store view an order
    goes to. The most specific row wins: one naming the branch beats one that does not, then the order type, then
    the customer class (services/stores.py); no row matching: the preferences' website_id / store_id / store_view."""

    branch: str | None = None
    order_type: str | None = None
    customer_class: str | None = None
    website_id: int = Field(ge=0)
    store_id: int = Field(ge=1)
    store_view: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")  # the store view code (Magento's rule)
    # The website's base currency and the currencies its store view allows, when they are not the order mapping
    # preferences' (catalog price scope = website); None = those preferences'.
    base_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    allowed_currencies: list[str] | None = None

    @field_validator("allowed_currencies", mode="before")
    @classmethod
    def _currencies(cls, v: Any) -> Any:
        if isinstance(v, str):  # the CLI's "EUR,USD"
            v = [c for c in (x.strip().upper() for x in v.split(",")) if c]
        return v or None  # empty = the order mapping preferences' list

    @field_validator("base_currency", mode="before")
    @classmethod
    def _base(cls, v: Any) -> Any:
        return (v.strip().upper() or None) if isinstance(v, str) else v

    @field_validator("branch", "order_type", "customer_class", mode="before")
    @classmethod
    def _criterion(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().upper()
            return None if v in ("", "*") else v
        return v


class CustomerSyncPreferences(_Setting):
    """The M->A customer sync preferences (docs/customers.md)."""

    # New Acumatica CustomerID = prefix + the Magento customer id zero-padded to `customer_id_digits`
    # ("MAG" + 7 digits: customer 102 -> MAG0000102, ten characters: Acumatica's default CustomerID segment).
    customer_id_prefix: str = Field(default="MAG", pattern=r"^[A-Z0-9]{0,10}$")
    customer_id_digits: int = Field(default=7, ge=1, le=20)
    # Class of a new customer when no Customer Class mapping matches its Magento group / website.
    default_customer_class: str = "DEFAULT"
    # "create": a Magento customer without an Acumatica match becomes a new customer; "match_only": it is only
    # bound when an Acumatica customer has its e-mail, otherwise logged as Skipped.
    missing_customer: Literal["create", "match_only"] = "create"
    # Where the first poll starts (Magento updated_at, UTC): the default syncs every existing customer once.
    initial_watermark: str = "1970-01-01 00:00:00"
    poll_page_size: int = Field(default=100, ge=1, le=300)
    # Upper bound of customers one poll hands on (the rest waits for the next poll; the watermark says where).
    poll_max_customers: int = Field(default=2000, ge=1)
    # Magento website ids whose customers sync (empty = all websites).
    website_ids: list[int] = Field(default_factory=list)


class ReturnSyncPreferences(_Setting):
    """The M->A return preferences: Magento credit memos -> Acumatica return orders (docs/returns.md)."""

    # The Acumatica order type of the return document (RC: the RMA order type of a default tenant).
    return_order_type: str = Field(default="RC", pattern=r"^[A-Z0-9]{2}$")
    # Receive the returned goods into stock at once (SalesOrderCreateReceipt + ConfirmShipment) or leave the
    # receipt to the warehouse.
    receive_into_stock: bool = True
    # The warehouse the goods come back to; None = the warehouse the original order line shipped from.
    receipt_warehouse: str | None = None
    # Magento's Adjustment Refund (money back beyond the items) becomes a line of this non-stock item (a service,
    # e.g. REFUNDADJ: a misc. charge credited with the return); None = a credit memo with one is refused with a
    # row. Magento's Adjustment Fee (e.g. a restocking fee) becomes a document discount of the return order.
    adjustment_item: str | None = None
    # The tax category of that line: Magento's adjustments carry no tax (None = the item's own category).
    adjustment_tax_category: str | None = "EXEMPT"
    # Where the first poll starts (Magento updated_at, UTC).
    initial_watermark: str = "1970-01-01 00:00:00"
    poll_page_size: int = Field(default=100, ge=1, le=300)
    poll_max_creditmemos: int = Field(default=1000, ge=1)


class CustomerClassMapping(_Setting):
    """Magento customer group and/or website -> Acumatica customer class (None = any)."""

    magento_group_id: int | None = None
    magento_website_id: int | None = None
    customer_class: str


class ProductMapping(_Setting):
    """Acumatica InventoryID (+ the line's UOM) -> the Magento product(s) an order line becomes (configuration.md).

    No row for an item: the Magento SKU is the InventoryID and one Acumatica unit is one Magento unit, whatever the
    line's UOM. Once an item has rows, a line whose UOM has no row (and no ``*`` row) waits with a Failure row."""

    inventory_id: str  # "*": the placeholder for non-stock / service lines whose item is not in Magento
    uom: str = "*"  # the Acumatica UOM of the line ("CASE"), "*" = any
    magento_sku: str = ""  # "" = the InventoryID
    # Magento units per Acumatica unit: a CASE of 12 sold by the piece in Magento is 12 (qty x 12, price / 12)
    qty_factor: Decimal = Field(default=Decimal(1), gt=0)
    # simple: one item; configurable: parent_sku is the configurable, magento_sku its child; bundle: magento_sku is
    # a fixed-price bundle made of `components` ("SKU:qty,SKU:qty", per bundle); virtual: a service / non-stock item
    kind: Literal["simple", "configurable", "bundle", "virtual"] = "simple"
    parent_sku: str = ""
    components: str = ""

    def component_list(self) -> list[tuple[str, Decimal]]:
        out: list[tuple[str, Decimal]] = []
        for part in filter(None, (p.strip() for p in self.components.split(","))):
            sku, _, qty = part.partition(":")
            out.append((sku.strip(), Decimal(qty.strip() or "1")))
        return out


class OrderMappingPreferences(_Setting):
    """How an Acumatica order's amounts become a Magento order's (docs/configuration.md, "Order amounts")."""

    # Magento's base currency (Stores > Currency Setup, Base Currency) and the currencies its store views allow.
    # An order in another currency waits (Failure row); Acumatica's base currency must be Magento's base currency.
    base_currency: str = "USD"
    allowed_currencies: list[str] = Field(default_factory=lambda: ["USD"])
