"""Acumatica records -> typed models: unwrapping, exact decimals, stripped keys, defaults."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from amsync.models.acumatica import AcuCustomer, SalesOrder, to_decimal, unwrap

# The shape the Acumatica simulator (and Acumatica 24.200.001) returns for
# GET SalesOrder/SO/SOT00024?$expand=Details,Totals,ShippingSettings,BillToAddress,...,Payments
# (trimmed of id/rowNumber/note/_links noise; keys padded the way Acumatica pads fixed-width keys).
SOT00024_JSON = """
{
  "id": "2fd11511-2a4a-4cd5-a66f-23a4a4faad2a", "rowNumber": 1, "note": {"value": ""},
  "OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}, "Status": {"value": "Open"},
  "Hold": {"value": false}, "Date": {"value": "2026-11-29T00:00:00+00:00"},
  "CustomerID": {"value": "AACUSTOMER"}, "ContactID": {}, "Description": {"value": "Walkthrough order"},
  "CustomerOrder": {}, "ExternalRef": {}, "CurrencyID": {"value": "USD"}, "ShipVia": {"value": "UPSGROUND"},
  "PaymentMethod": {"value": "CHECK"}, "Branch": {"value": "PRODWHOLE"},
  "LastModified": {"value": "2026-11-29T21:55:34.746+00:00"},
  "OrderTotal": {"value": 40.0}, "TaxTotal": {"value": 0.0}, "OrderedQty": {"value": 2.0},
  "BillToAddress": {"id": "8cd4", "AddressLine1": {"value": "123 Pine Street"}, "AddressLine2": {},
                    "City": {"value": "Seattle"}, "State": {"value": "WA"}, "PostalCode": {"value": "98101"},
                    "Country": {"value": "US"}, "custom": {}},
  "ShipToAddress": {"AddressLine1": {"value": "9 Harbor Way"}, "AddressLine2": {"value": "Dock 4"},
                    "City": {"value": "Tacoma"}, "State": {"value": "WA"}, "PostalCode": {"value": "98402"},
                    "Country": {"value": "US"}},
  "BillToContact": {"Attention": {"value": "Amelia Armstrong"}, "BusinessName": {"value": "Alta Ace"},
                    "Email": {"value": "ap@altaace.com"}, "Phone1": {"value": "+1 (206) 555-0134"}},
  "ShipToContact": {"Attention": {}, "BusinessName": {"value": "Alta Ace"}, "Email": {}, "Phone1": {}},
  "ShippingSettings": {"ShipVia": {"value": "LOCAL"}, "FreightPrice": {"value": 0.0},
                       "ShippingRule": {"value": "Back Order Allowed"}},
  "Totals": {"LineTotalAmount": {"value": 40.0}, "DiscountTotal": {"value": 0.0}, "TaxTotal": {"value": 0.0},
             "Freight": {"value": 0.0}, "MiscTotalAmount": {"value": 0.0}, "UnbilledAmount": {"value": 40.0},
             "UnpaidBalance": {"value": 15.5}},
  "Details": [
    {"LineNbr": {"value": 1}, "LineType": {"value": "Goods for IN"}, "InventoryID": {"value": "WATER2809 "},
     "LineDescription": {"value": "WATER2809_"}, "OrderQty": {"value": 2.0}, "OpenQty": {"value": 2.0},
     "QtyOnShipments": {"value": 0.0}, "UOM": {"value": "BOTTLE"}, "UnitPrice": {"value": 20.0},
     "DiscountPercent": {"value": 0.0}, "DiscountAmount": {"value": 0.0}, "ExtendedPrice": {"value": 40.0},
     "Amount": {"value": 40.0}, "WarehouseID": {"value": "RETAIL    "}, "TaxCategory": {"value": "EXEMPT"}}
  ],
  "Payments": [
    {"DocType": {"value": "Payment"}, "ReferenceNbr": {"value": "000456"}, "AppliedToOrder": {"value": 20.0}},
    {"DocType": {"value": "Prepayment"}, "ReferenceNbr": {"value": "000457"}, "AppliedToOrder": {"value": 4.5}}
  ],
  "custom": {}
}
"""


def _load(text: str) -> dict[str, Any]:
    # how the connector's JSON loader reads Acumatica bodies
    loaded: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return loaded


@pytest.fixture
def record() -> dict[str, Any]:
    return _load(SOT00024_JSON)


def test_unwrap_handles_wrappers_empties_bare_values_and_linked_entities() -> None:
    # Given fields in every shape Acumatica sends
    linked = {"Email": {"value": "a@b.c"}}
    # When / Then
    assert unwrap({"value": "SO"}) == "SO"
    assert unwrap({"value": None, "error": "bad"}) is None
    assert unwrap({}) is None
    assert unwrap({"error": "Field is invalid"}) is None
    assert unwrap("bare") == "bare"
    assert unwrap(None) is None
    assert unwrap(linked) is linked


@pytest.mark.parametrize(("raw", "expected"), [
    (Decimal("20.10"), Decimal("20.10")), (20, Decimal("20")), (0.1, Decimal("0.1")), (" 8.25 ", Decimal("8.25")),
    (2520.0, Decimal("2520.0")), (None, None), ("", None)])
def test_to_decimal_is_exact_for_every_input_type(raw: Any, expected: Decimal | None) -> None:
    # Given a number as JSON may bring it / When converted
    result = to_decimal(raw)
    # Then it is the exact decimal of its text (0.1 never becomes 0.1000000000000000055...)
    assert result == expected
    if expected is not None:
        assert isinstance(result, Decimal)
        assert str(result) == str(expected)


@pytest.mark.parametrize("raw", [True, "abc", "NaN", "Infinity"])
def test_to_decimal_rejects_non_numbers(raw: Any) -> None:
    # Given something that is not a finite number / When / Then
    with pytest.raises(ValueError):
        to_decimal(raw)


def test_sales_order_header_totals_and_key(record: dict[str, Any]) -> None:
    # Given the walkthrough order as Acumatica returns it
    # When
    order = SalesOrder.from_api(record)
    # Then
    assert order.key == "SO/SOT00024"
    assert (order.order_type, order.order_nbr, order.status, order.hold) == ("SO", "SOT00024", "Open", False)
    assert order.customer_id == "AACUSTOMER"
    assert order.currency_id == "USD"
    assert order.order_total == Decimal("40.00")
    assert isinstance(order.order_total, Decimal)
    assert order.tax_total == 0 and order.ordered_qty == 2
    assert order.payment_method == "CHECK" and order.branch == "PRODWHOLE"
    assert order.last_modified == "2026-11-29T21:55:34.746+00:00"
    assert order.date == "2026-11-29T00:00:00+00:00"
    assert order.external_ref is None and order.customer_order is None
    assert order.line_total == Decimal("40") and order.discount_total == 0 and order.freight == 0
    assert order.unpaid_balance == Decimal("15.5")
    assert order.payments_applied == Decimal("24.5")


def test_ship_via_prefers_shipping_settings_over_the_header(record: dict[str, Any]) -> None:
    # Given ShippingSettings.ShipVia LOCAL and header ShipVia UPSGROUND
    # When / Then
    assert SalesOrder.from_api(record).ship_via == "LOCAL"
    # Given ShippingSettings not expanded / When / Then: the header value is used
    del record["ShippingSettings"]
    assert SalesOrder.from_api(record).ship_via == "UPSGROUND"


def test_lines_addresses_and_contacts(record: dict[str, Any]) -> None:
    # Given / When
    order = SalesOrder.from_api(record)
    line = order.lines[0]
    # Then: padded keys are stripped, numbers are exact decimals
    assert len(order.lines) == 1
    assert line.line_nbr == 1 and line.inventory_id == "WATER2809" and line.warehouse_id == "RETAIL"
    assert line.order_qty == 2 and line.unit_price == Decimal("20.0") and line.amount == 40
    assert line.extended_price == 40 and line.discount_amount == 0 and line.open_qty == 2
    assert line.uom == "BOTTLE" and line.tax_category == "EXEMPT" and line.description == "WATER2809_"
    assert order.bill_to_address is not None and order.bill_to_address.city == "Seattle"
    assert order.bill_to_address.address_line2 is None
    assert order.ship_to_address is not None and order.ship_to_address.address_line2 == "Dock 4"
    assert order.bill_to_contact is not None and order.bill_to_contact.attention == "Amelia Armstrong"
    assert order.bill_to_contact.phone == "+1 (206) 555-0134"
    assert order.ship_to_contact is not None and order.ship_to_contact.attention is None
    assert order.ship_to_contact.email is None


def test_missing_sections_give_defaults() -> None:
    # Given a bare header read without $expand
    record = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00030"}, "CustomerID": {"value": "X "},
              "OrderTotal": {}, "ShippingSettings": {}, "Totals": {}}
    # When
    order = SalesOrder.from_api(record)
    # Then
    assert order.lines == () and order.payments_applied == 0
    assert order.order_total is None and order.unpaid_balance is None and order.line_total is None
    assert order.tax_total == 0 and order.freight == 0 and order.discount_total == 0
    assert order.bill_to_address is None and order.bill_to_contact is None and order.ship_via is None
    assert order.customer_id == "X"


def test_freight_and_tax_fall_back_to_the_other_section() -> None:
    # Given Totals without Freight, and no header TaxTotal
    record = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT1"}, "CustomerID": {"value": "C"},
              "ShippingSettings": {"FreightPrice": {"value": 7.5}}, "Totals": {"TaxTotal": {"value": 1.25}}}
    # When
    order = SalesOrder.from_api(record)
    # Then
    assert order.freight == Decimal("7.5")
    assert order.tax_total == Decimal("1.25")


def test_float_and_string_inputs_become_exact_decimals() -> None:
    # Given a record parsed without parse_float=Decimal (floats) or with string numbers
    record = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT1"}, "CustomerID": {"value": "C"},
              "OrderTotal": {"value": 0.3}, "Details": [{"InventoryID": {"value": "A"}, "OrderQty": {"value": "3"},
                                                         "UnitPrice": {"value": 0.1}}]}
    # When
    order = SalesOrder.from_api(record)
    # Then: 0.1 is Decimal("0.1"), so 3 x 0.1 is exactly 0.3
    assert order.order_total == Decimal("0.3")
    assert order.lines[0].order_qty * order.lines[0].unit_price == order.order_total


def test_a_line_without_inventory_id_has_an_empty_sku() -> None:
    # Given a detail line whose InventoryID is empty
    record = {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT1"}, "CustomerID": {"value": "C"},
              "Details": [{"LineNbr": {"value": 3}, "InventoryID": {}}]}
    # When / Then
    assert SalesOrder.from_api(record).lines[0].inventory_id == ""


@pytest.mark.parametrize("missing", ["OrderType", "OrderNbr", "CustomerID"])
def test_a_record_without_its_keys_is_rejected(record: dict[str, Any], missing: str) -> None:
    # Given a record without one of its keys
    record[missing] = {}
    # When / Then
    with pytest.raises(ValueError, match=missing):
        SalesOrder.from_api(record)


def test_a_bad_number_names_the_field(record: dict[str, Any]) -> None:
    # Given a non-numeric OrderTotal / When / Then
    record["OrderTotal"] = {"value": "forty"}
    with pytest.raises(ValueError, match="OrderTotal"):
        SalesOrder.from_api(record)


def test_models_are_frozen(record: dict[str, Any]) -> None:
    # Given a parsed order / When it is changed / Then pydantic refuses
    order = SalesOrder.from_api(record)
    with pytest.raises(ValidationError):
        order.status = "Completed"  # type: ignore[misc]


def test_customer_prefers_main_contact_email() -> None:
    # Given the walkthrough customer, with a different top-level Email
    record = _load("""{"CustomerID": {"value": "AACUSTOMER"}, "CustomerName": {"value": "Alta Ace"},
        "CustomerClass": {"value": "DEFAULT   "}, "Status": {"value": "Active"}, "Email": {"value": "old@altaace.com"},
        "MainContact": {"FirstName": {"value": "Amelia"}, "LastName": {"value": "Armstrong"},
                        "Email": {"value": "ap@altaace.com"}, "Phone1": {"value": "+1 (206) 555-0134"}}}""")
    # When
    customer = AcuCustomer.from_api(record)
    # Then
    assert customer.customer_id == "AACUSTOMER" and customer.name == "Alta Ace"
    assert customer.customer_class == "DEFAULT" and customer.status == "Active"
    assert customer.email == "ap@altaace.com"
    assert (customer.first_name, customer.last_name, customer.phone) == ("Amelia", "Armstrong", "+1 (206) 555-0134")


def test_customer_email_falls_back_to_the_top_level_field() -> None:
    # Given no MainContact / When / Then
    customer = AcuCustomer.from_api({"CustomerID": {"value": "BIGBOX"}, "Email": {"value": "orders@bigbox.example"}})
    assert customer.email == "orders@bigbox.example"
    assert customer.first_name is None and customer.customer_class is None
