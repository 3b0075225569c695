"""Typed views of the Acumatica contract-based REST records the connector reads (endpoint 24.200.001).

Acumatica wraps ordinary fields as ``{"value": x}`` (an empty field is ``{}`` or absent), pads fixed-width keys
with spaces, and sends numbers that the connector's JSON loader turns into ``Decimal``. ``from_api`` unwraps all
of that: strings are stripped (blank -> None), numbers become ``Decimal`` exactly (never through float arithmetic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

ZERO = Decimal("0")
_WRAPPER_KEYS = {"value", "error"}


@dataclass(frozen=True)
class PooledToken:
    """One OAuth grant's tokens in slot ``slot`` of the shared session pool (``expires_at``: epoch seconds)."""

    slot: int
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0


def unwrap(value: Any) -> Any:
    """``{"value": x}`` -> x; ``{}`` / ``{"error": ...}`` -> None; anything else (bare or linked entity) as is."""
    if isinstance(value, Mapping):
        if "value" in value:
            return value["value"]
        if set(value) <= _WRAPPER_KEYS:
            return None
    return value


def to_decimal(value: Any) -> Decimal | None:
    """An Acumatica number as an exact Decimal (ints, floats and strings via ``str``); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    text = str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"expected a number, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _section(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    return value if isinstance(value, Mapping) else {}


def _str(record: Mapping[str, Any], name: str) -> str | None:
    value = unwrap(record.get(name))
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _dec(record: Mapping[str, Any], name: str) -> Decimal | None:
    try:
        return to_decimal(unwrap(record.get(name)))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _dec0(record: Mapping[str, Any], name: str) -> Decimal:
    value = _dec(record, name)
    return ZERO if value is None else value


def _bool(record: Mapping[str, Any], name: str) -> bool:
    value = unwrap(record.get(name))
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _int(record: Mapping[str, Any], name: str) -> int | None:
    value = _dec(record, name)
    return None if value is None else int(value)


class _Frozen(BaseModel):
    # built on first use: most functions load the Acumatica client, few read a sales order (cold start)
    model_config = ConfigDict(frozen=True, defer_build=True)


class AcuAddress(_Frozen):
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AcuAddress:
        return cls(address_line1=_str(record, "AddressLine1"), address_line2=_str(record, "AddressLine2"),
                   city=_str(record, "City"), state=_str(record, "State"), postal_code=_str(record, "PostalCode"),
                   country=_str(record, "Country"))


class AcuContact(_Frozen):
    attention: str | None = None
    business_name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AcuContact:
        return cls(attention=_str(record, "Attention"), business_name=_str(record, "BusinessName"),
                   email=_str(record, "Email"), phone=_str(record, "Phone1"))


class SalesOrderLine(_Frozen):
    line_nbr: int | None = None
    inventory_id: str = ""  # "" = no item on the line (the mapper refuses such a line)
    description: str | None = None
    order_qty: Decimal = ZERO
    open_qty: Decimal | None = None
    qty_on_shipments: Decimal = ZERO
    uom: str | None = None
    unit_price: Decimal = ZERO
    discount_percent: Decimal = ZERO
    discount_amount: Decimal = ZERO
    extended_price: Decimal | None = None  # round(qty * price)
    amount: Decimal | None = None  # extended price - line discount
    warehouse_id: str | None = None
    tax_category: str | None = None
    # "Goods for IN" (a stock item), "Non-Inventory Goods" (a non-stock item that ships) or "Misc. Charge" (a
    # non-stock service or charge: its amount is in Totals.MiscTotalAmount, not in LineTotalAmount)
    line_type: str | None = None

    @property
    def is_misc_charge(self) -> bool:
        return (self.line_type or "").replace(".", "").casefold() == "misc charge"

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> SalesOrderLine:
        return cls(
            line_nbr=_int(record, "LineNbr"), inventory_id=_str(record, "InventoryID") or "",
            description=_str(record, "LineDescription"), order_qty=_dec0(record, "OrderQty"),
            open_qty=_dec(record, "OpenQty"), qty_on_shipments=_dec0(record, "QtyOnShipments"),
            uom=_str(record, "UOM"), unit_price=_dec0(record, "UnitPrice"),
            discount_percent=_dec0(record, "DiscountPercent"), discount_amount=_dec0(record, "DiscountAmount"),
            extended_price=_dec(record, "ExtendedPrice"), amount=_dec(record, "Amount"),
            warehouse_id=_str(record, "WarehouseID"), tax_category=_str(record, "TaxCategory"),
            line_type=_str(record, "LineType"),
        )


class AcuTaxDetail(_Frozen):
    """One row of the order's Taxes tab (TaxDetail): one tax over the document, rounded per tax."""

    tax_id: str
    taxable_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    tax_rate: Decimal = ZERO

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AcuTaxDetail:
        return cls(tax_id=_str(record, "TaxID") or "", taxable_amount=_dec0(record, "TaxableAmount"),
                   tax_amount=_dec0(record, "TaxAmount"), tax_rate=_dec0(record, "TaxRate"))


def _address(record: Mapping[str, Any], name: str) -> AcuAddress | None:
    section = record.get(name)
    return AcuAddress.from_api(section) if isinstance(section, Mapping) and section else None


def _contact(record: Mapping[str, Any], name: str) -> AcuContact | None:
    section = record.get(name)
    return AcuContact.from_api(section) if isinstance(section, Mapping) and section else None


class SalesOrder(_Frozen):
    order_type: str
    order_nbr: str
    status: str | None = None
    hold: bool = False
    date: str | None = None
    customer_id: str
    currency_id: str | None = None
    order_total: Decimal | None = None
    tax_total: Decimal = ZERO
    ordered_qty: Decimal = ZERO
    ship_via: str | None = None
    payment_method: str | None = None
    branch: str | None = None
    external_ref: str | None = None
    customer_order: str | None = None
    description: str | None = None
    last_modified: str | None = None
    # From Totals: LineTotalAmount = sum of line Amounts (after line discounts); DiscountTotal = the
    # document-level discount only (line discounts are already inside the line amounts).
    line_total: Decimal | None = None
    discount_total: Decimal = ZERO
    freight: Decimal = ZERO
    unpaid_balance: Decimal | None = None
    bill_to_address: AcuAddress | None = None
    ship_to_address: AcuAddress | None = None
    bill_to_contact: AcuContact | None = None
    ship_to_contact: AcuContact | None = None
    lines: tuple[SalesOrderLine, ...] = ()
    payments_applied: Decimal = ZERO
    # Totals.MiscTotalAmount (the Misc. Charge lines' amounts) and Totals.PremiumFreight
    misc_total: Decimal = ZERO
    premium_freight: Decimal = ZERO
    freight_tax_category: str | None = None
    # Every amount above is in the document's currency (CurrencyID); base = amount x CurrencyRate (BaseCurrencyID)
    base_currency_id: str | None = None
    currency_rate: Decimal | None = None
    # "TaxSetting" / "Net": prices exclude tax; "Gross": prices include it (TaxTotal is inside the line amounts)
    tax_calc_mode: str | None = None
    tax_details: tuple[AcuTaxDetail, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.order_type}/{self.order_nbr}"

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> SalesOrder:
        order_type, order_nbr = _str(record, "OrderType"), _str(record, "OrderNbr")
        customer_id = _str(record, "CustomerID")
        if not order_type or not order_nbr or not customer_id:
            raise ValueError("a SalesOrder record needs OrderType, OrderNbr and CustomerID")
        totals, shipping = _section(record, "Totals"), _section(record, "ShippingSettings")
        tax_total = _dec(record, "TaxTotal")
        freight = _dec(totals, "Freight")
        details = record.get("Details") or []
        payments = record.get("Payments") or []
        return cls(
            order_type=order_type, order_nbr=order_nbr, status=_str(record, "Status"), hold=_bool(record, "Hold"),
            date=_str(record, "Date"), customer_id=customer_id, currency_id=_str(record, "CurrencyID"),
            order_total=_dec(record, "OrderTotal"),
            tax_total=tax_total if tax_total is not None else _dec0(totals, "TaxTotal"),
            ordered_qty=_dec0(record, "OrderedQty"),
            ship_via=_str(shipping, "ShipVia") or _str(record, "ShipVia"),
            payment_method=_str(record, "PaymentMethod"), branch=_str(record, "Branch"),
            external_ref=_str(record, "ExternalRef"), customer_order=_str(record, "CustomerOrder"),
            description=_str(record, "Description"), last_modified=_str(record, "LastModified"),
            line_total=_dec(totals, "LineTotalAmount"), discount_total=_dec0(totals, "DiscountTotal"),
            # Totals.Freight when the Totals section was expanded, else the ShippingSettings freight price
            freight=freight if freight is not None else _dec0(shipping, "FreightPrice"),
            unpaid_balance=_dec(totals, "UnpaidBalance"),
            bill_to_address=_address(record, "BillToAddress"), ship_to_address=_address(record, "ShipToAddress"),
            bill_to_contact=_contact(record, "BillToContact"), ship_to_contact=_contact(record, "ShipToContact"),
            lines=tuple(SalesOrderLine.from_api(d) for d in details if isinstance(d, Mapping)),
            payments_applied=sum((_dec0(p, "AppliedToOrder") for p in payments if isinstance(p, Mapping)), ZERO),
            misc_total=_dec0(totals, "MiscTotalAmount"),
            premium_freight=_dec0(totals, "PremiumFreight") if "PremiumFreight" in totals
            else _dec0(shipping, "PremiumFreight"),
            freight_tax_category=_str(totals, "FreightTaxCategory") or _str(shipping, "FreightTaxCategory"),
            base_currency_id=_str(record, "BaseCurrencyID"), currency_rate=_dec(record, "CurrencyRate"),
            tax_calc_mode=_str(record, "TaxCalcMode"),
            tax_details=tuple(AcuTaxDetail.from_api(t) for t in record.get("TaxDetails") or []
                              if isinstance(t, Mapping)),
        )

    @property
    def tax_inclusive(self) -> bool:
        return (self.tax_calc_mode or "").casefold() == "gross"


class AcuCustomer(_Frozen):
    customer_id: str
    name: str | None = None
    customer_class: str | None = None
    status: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AcuCustomer:
        customer_id = _str(record, "CustomerID")
        if not customer_id:
            raise ValueError("a Customer record needs CustomerID")
        main = _section(record, "MainContact")
        return cls(customer_id=customer_id, name=_str(record, "CustomerName"),
                   customer_class=_str(record, "CustomerClass"), status=_str(record, "Status"),
                   email=_str(main, "Email") or _str(record, "Email"), first_name=_str(main, "FirstName"),
                   last_name=_str(main, "LastName"), phone=_str(main, "Phone1"))


class SalesOrderState(_Frozen):
    """What the order writer needs to know of an order as it is now: its status and hold (the write-back's answer
    or a narrow read)."""

    order_type: str | None = None
    order_nbr: str | None = None
    status: str | None = None
    hold: bool = False
    last_modified: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SalesOrderState:
        def text(name: str) -> str | None:
            value = unwrap(data.get(name))
            return None if value is None else str(value)
        return cls(order_type=text("OrderType"), order_nbr=text("OrderNbr"), status=text("Status"),
                   hold=bool(unwrap(data.get("Hold"))), last_modified=text("LastModified"))


class AcuTaxCategory(_Frozen):
    """A tax category (TX205500): the taxes a line of this category carries."""

    category_id: str
    tax_ids: frozenset[str] = frozenset()
    exclude_listed: bool = False  # ExcludeListedTaxes: every tax of the zone except the listed ones

    def covers(self, tax_id: str) -> bool:
        return (tax_id.upper() in self.tax_ids) != self.exclude_listed

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AcuTaxCategory:
        details = record.get("Details") or []
        return cls(category_id=_str(record, "TaxCategoryID") or "", exclude_listed=_bool(record, "ExcludeListedTaxes"),
                   tax_ids=frozenset((_str(d, "TaxID") or "").upper() for d in details if isinstance(d, Mapping)))
