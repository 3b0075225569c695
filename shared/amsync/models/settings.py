"""Preferences and mapping tables kept in the SettingsTable (documented in docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from amsync.models.messages import Kind

DEFAULT_QUERIES: dict[str, Kind] = {
    "AMSync-SalesOrders": Kind.ORDER,
    "SALESORDER STATUS": Kind.ORDER,  # the walkthrough's query name
    "AMSync-Shipments": Kind.SHIPMENT,
    "AMSync-SalesInvoices": Kind.INVOICE,
    "AMSync-Payments": Kind.PAYMENT,
    "AMSync-StockAvailability": Kind.STOCK,
}


class PushQueries(BaseModel):
    """Which Acumatica push query (generic inquiry name) feeds which entity kind."""

    queries: dict[str, Kind] = Field(default_factory=lambda: dict(DEFAULT_QUERIES))


class OrderSyncPreferences(BaseModel):
    """The A->M order sync preferences: what syncs, and the three conditions (any one suffices)."""

    order_types: list[str] = Field(default_factory=lambda: ["SO"])
    # Acumatica statuses in which a new order is created in Magento.
    statuses: list[str] = Field(default_factory=lambda: [
        "Open", "Back Order", "Shipping", "Completed", "Invoiced", "Pending Processing", "Awaiting Payment"])
    sync_if_b2b: bool = True
    sync_if_staff: bool = True
    sync_if_paid: bool = True
    # Where B2B / staff come from: the push row's isB2B / isStaffCustomer columns, or the customer's class.
    customer_flags_source: Literal["push_row", "customer_class"] = "customer_class"
    b2b_classes: list[str] = Field(default_factory=lambda: ["B2B", "WHOLESALE"])
    staff_classes: list[str] = Field(default_factory=lambda: ["STAFF"])
    # No Magento customer with the order's e-mail: create one, or place a guest order.
    missing_customer: Literal["create", "guest"] = "create"
    customer_group_id: int = 1  # General
    website_id: int = 1
    store_id: int = 1
    store_view: str = "default"
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


class ShipViaMapping(BaseModel):
    ship_via: str
    store_view: str = "all"  # "all" = All Store Views, or a store view code
    carrier_code: str  # flatrate, tablerate, freeshipping, ups...
    method_code: str  # flatrate, bestway, freeshipping, GND...
    title: str  # "Flat Rate - Fixed"
    tracking_carrier_code: str = "custom"  # carrier code on shipment tracks (ups, usps, fedex, dhl, custom)


class PaymentMapping(BaseModel):
    acumatica_method: str  # Acumatica PaymentMethod id (CHECK, CASH, ...), "*" = default
    magento_method: str  # an offline Magento method: checkmo, purchaseorder, banktransfer, cashondelivery, free


class OrderStatusMapping(BaseModel):
    acumatica_status: str
    store_view: str = "all"
    magento_status: str | None = None  # status label to set through a comment; None = leave the status alone
    action: Literal["comment", "hold", "unhold", "cancel", "none"] = "comment"
    comment: str = ""


class WarehouseMapping(BaseModel):
    warehouse_id: str
    source_code: str


class CustomerSyncPreferences(BaseModel):
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


class CustomerClassMapping(BaseModel):
    """Magento customer group and/or website -> Acumatica customer class (None = any)."""

    magento_group_id: int | None = None
    magento_website_id: int | None = None
    customer_class: str
