"""Acumatica sales order -> Magento PUT /V1/orders/create entity: exact money, consistent totals, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amsync.models.acumatica import SalesOrder
from amsync.models.settings import ShipViaMapping
from amsync.services.order_mapper import (
    PHONE_PLACEHOLDER,
    MagentoCustomerRef,
    MagentoProductRef,
    OrderMappingContext,
    OrderMappingError,
    allocate,
    map_order,
    split_name,
)

CENT = Decimal("0.01")
MONEY_KEYS = {
    "price", "base_price", "original_price", "base_original_price", "price_incl_tax", "base_price_incl_tax",
    "row_total", "base_row_total", "row_total_incl_tax", "base_row_total_incl_tax", "tax_amount", "base_tax_amount",
    "discount_amount", "base_discount_amount", "subtotal", "base_subtotal", "subtotal_incl_tax",
    "base_subtotal_incl_tax", "shipping_amount", "base_shipping_amount", "shipping_incl_tax",
    "base_shipping_incl_tax", "shipping_tax_amount", "base_shipping_tax_amount", "grand_total", "base_grand_total",
    "total_due", "base_total_due", "amount_ordered", "base_amount_ordered"}
LOCAL = ShipViaMapping(ship_via="LOCAL", carrier_code="freeshipping", method_code="freeshipping",
                       title="Free Shipping - Free")
CUSTOMER = MagentoCustomerRef(id=7, email="ap@altaace.com", firstname="Amelia", lastname="Armstrong", group_id=2)


def r2(x: Decimal) -> Decimal:
    """Acumatica's rounding (half away from zero, to the cent)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


def acumatica_order(lines: list[dict[str, Any]], *, tax_rate: Decimal = Decimal(0), freight: Decimal = Decimal(0),
                    doc_discount: Decimal = Decimal(0), nbr: str = "SOT00024") -> dict[str, Any]:
    """An Acumatica-shaped record, with totals computed the way Acumatica computes them.

    ``lines``: dicts with sku, qty, price and optional discount_pct / discount (amount).
    """
    details, amounts = [], []
    for n, ln in enumerate(lines, start=1):
        ext = r2(ln["qty"] * ln["price"])
        disc = ln["discount"] if "discount" in ln else r2(ext * ln.get("discount_pct", Decimal(0)) / 100)
        amounts.append(ext - disc)
        details.append({
            "LineNbr": w(n), "InventoryID": w(ln["sku"].ljust(10)), "LineDescription": w(ln["sku"] + "_"),
            "OrderQty": w(ln["qty"]), "OpenQty": w(ln["qty"]), "QtyOnShipments": w(Decimal(0)), "UOM": w("EA"),
            "UnitPrice": w(ln["price"]), "DiscountPercent": w(ln.get("discount_pct", Decimal(0))),
            "DiscountAmount": w(disc), "ExtendedPrice": w(ext), "Amount": w(ext - disc),
            "WarehouseID": w("RETAIL    "), "TaxCategory": w("TAXABLE")})
    line_total = sum(amounts, Decimal(0))
    tax = r2(line_total * tax_rate / 100)
    total = line_total - doc_discount + freight + tax
    return {
        "OrderType": w("SO"), "OrderNbr": w(nbr), "Status": w("Open"), "Hold": w(False),
        "CustomerID": w("AACUSTOMER"), "CurrencyID": w("USD"), "ShipVia": w("LOCAL"),
        "OrderTotal": w(total), "TaxTotal": w(tax), "OrderedQty": w(sum((ln["qty"] for ln in lines), Decimal(0))),
        "BillToAddress": {"AddressLine1": w("123 Pine Street"), "AddressLine2": {}, "City": w("Seattle"),
                          "State": w("WA"), "PostalCode": w("98101"), "Country": w("US")},
        "ShipToAddress": {"AddressLine1": w("9 Harbor Way"), "AddressLine2": w("Dock 4"), "City": w("Tacoma"),
                          "State": w("WA"), "PostalCode": w("98402"), "Country": w("US")},
        "BillToContact": {"Attention": w("Amelia Armstrong"), "BusinessName": w("Alta Ace"),
                          "Email": w("ap@altaace.com"), "Phone1": w("+1 (206) 555-0134")},
        "ShipToContact": {"Attention": w("Dock Manager"), "BusinessName": w("Alta Ace"), "Email": {},
                          "Phone1": {}},
        "ShippingSettings": {"ShipVia": w("LOCAL"), "FreightPrice": w(freight)},
        "Totals": {"LineTotalAmount": w(line_total), "DiscountTotal": w(doc_discount), "TaxTotal": w(tax),
                   "Freight": w(freight), "UnpaidBalance": w(total)},
        "Details": details, "Payments": [],
    }


def via_json(record: dict[str, Any]) -> dict[str, Any]:
    """Through JSON text and back, as the connector reads Acumatica (numbers -> Decimal)."""
    loaded: dict[str, Any] = json.loads(json.dumps(record, default=float), parse_float=Decimal)
    return loaded


def context(skus: list[str], **changes: Any) -> OrderMappingContext:
    products = {s: MagentoProductRef(id=100 + i, sku=s, name=f"{s} product", weight=Decimal("0.5"))
                for i, s in enumerate(sorted(set(skus)))}
    fields: dict[str, Any] = {"customer": CUSTOMER, "products": products, "shipping": LOCAL,
                              "payment_method": "checkmo", "store_id": 1}
    fields.update(changes)
    return OrderMappingContext(**fields)


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)
    else:
        yield key, value


@pytest.fixture
def walkthrough() -> SalesOrder:
    record = acumatica_order([{"sku": "WATER2809", "qty": Decimal("2"), "price": Decimal("20.00")}])
    return SalesOrder.from_api(via_json(record))


def test_walkthrough_order_maps_to_40(walkthrough: SalesOrder) -> None:
    # Given 2 x WATER2809 at 20.00, no freight, no tax, Ship Via LOCAL -> Free Shipping
    ctx = context(["WATER2809"])
    # When
    entity = map_order(walkthrough, ctx)
    # Then
    assert entity["grand_total"] == Decimal("40.00") and entity["base_grand_total"] == Decimal("40.00")
    assert entity["subtotal"] == Decimal("40.00") and entity["tax_amount"] == 0 and entity["shipping_amount"] == 0
    assert entity["total_due"] == Decimal("40.00")
    assert entity["discount_amount"] == 0 and str(entity["discount_amount"]) == "0.00"
    assert entity["ext_order_id"] == "SOT00024"
    assert (entity["state"], entity["status"], entity["store_id"]) == ("new", "pending", 1)
    assert entity["total_qty_ordered"] == 2 and entity["total_item_count"] == 1
    assert entity["weight"] == Decimal("1.0")
    assert entity["shipping_description"] == "Free Shipping - Free"
    [item] = entity["items"]
    assert item["sku"] == "WATER2809" and item["product_id"] == 100 and item["product_type"] == "simple"
    assert item["qty_ordered"] == 2 and item["price"] == Decimal("20.00") and item["row_total"] == Decimal("40.00")
    assert item["ext_order_item_id"] == "1" and item["is_virtual"] == 0
    assert (item["qty_invoiced"], item["qty_shipped"], item["qty_canceled"], item["qty_refunded"]) == (0, 0, 0, 0)
    shipping = entity["extension_attributes"]["shipping_assignments"][0]
    assert shipping["shipping"]["method"] == "freeshipping_freeshipping"
    assert shipping["items"] == entity["items"]
    assert entity["payment"] == {"method": "checkmo", "amount_ordered": Decimal("40.00"),
                                 "base_amount_ordered": Decimal("40.00"), "additional_information": [],
                                 "account_status": "", "cc_last4": ""}
    assert "Imported from Acumatica order SO SOT00024" in entity["status_histories"][0]["comment"]


def test_customer_and_currency_fields(walkthrough: SalesOrder) -> None:
    # Given a known Magento customer / When
    entity = map_order(walkthrough, context(["WATER2809"]))
    # Then
    assert entity["customer_email"] == "ap@altaace.com"
    assert (entity["customer_firstname"], entity["customer_lastname"]) == ("Amelia", "Armstrong")
    assert (entity["customer_id"], entity["customer_is_guest"], entity["customer_group_id"]) == (7, 0, 2)
    for code in ("base", "order", "global", "store"):
        assert entity[f"{code}_currency_code"] == "USD"
    for rate in ("base_to_global_rate", "base_to_order_rate", "store_to_base_rate", "store_to_order_rate"):
        assert entity[rate] == 1
    assert "increment_id" not in entity


def test_guest_order_and_explicit_currency_and_increment_id(walkthrough: SalesOrder) -> None:
    # Given a guest customer, a store currency and a deterministic increment id
    guest = MagentoCustomerRef(id=None, email="ap@altaace.com", firstname="Amelia", lastname="Armstrong")
    ctx = context(["WATER2809"], customer=guest, currency="CAD", increment_id="AM-SOT00024", store_id=3)
    # When
    entity = map_order(walkthrough, ctx)
    # Then
    assert entity["customer_is_guest"] == 1 and "customer_id" not in entity and entity["customer_group_id"] == 0
    assert entity["order_currency_code"] == "CAD"
    assert entity["increment_id"] == "AM-SOT00024"
    assert entity["store_id"] == 3 and entity["items"][0]["store_id"] == 3


def test_addresses(walkthrough: SalesOrder) -> None:
    # Given the walkthrough's bill-to and ship-to / When
    entity = map_order(walkthrough, context(["WATER2809"]))
    billing = entity["billing_address"]
    shipping = entity["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    # Then
    assert billing == {"address_type": "billing", "street": ["123 Pine Street"], "city": "Seattle", "region": "WA",
                       "region_code": "WA", "postcode": "98101", "country_id": "US", "firstname": "Amelia",
                       "lastname": "Armstrong", "company": "Alta Ace", "telephone": "+1 (206) 555-0134",
                       "email": "ap@altaace.com"}
    assert shipping["address_type"] == "shipping"
    assert shipping["street"] == ["9 Harbor Way", "Dock 4"] and shipping["city"] == "Tacoma"
    assert (shipping["firstname"], shipping["lastname"]) == ("Dock", "Manager")
    # the ship-to contact has no phone or e-mail: placeholder phone, the customer's e-mail
    assert shipping["telephone"] == PHONE_PLACEHOLDER and shipping["email"] == "ap@altaace.com"


def test_business_name_is_used_without_attention_and_ship_to_falls_back_to_bill_to() -> None:
    # Given a bill-to contact with only a business name and no phone, and no ship-to sections
    record = acumatica_order([{"sku": "A", "qty": Decimal(1), "price": Decimal("5.00")}])
    record["BillToContact"] = {"Attention": {}, "BusinessName": w("Big Box Wholesale Ltd"), "Phone1": {}}
    del record["ShipToAddress"], record["ShipToContact"]
    # When
    entity = map_order(SalesOrder.from_api(record), context(["A"]))
    # Then
    billing = entity["billing_address"]
    assert (billing["firstname"], billing["lastname"]) == ("Big", "Box Wholesale Ltd")
    assert billing["telephone"] == "N/A"
    shipping = entity["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    assert shipping["city"] == "Seattle" and shipping["address_type"] == "shipping"


@pytest.mark.parametrize(("full", "expected"), [
    ("Amelia Armstrong", ("Amelia", "Armstrong")), ("Amelia Rose  Armstrong ", ("Amelia", "Rose Armstrong")),
    ("Cher", ("Cher", "Cher")), ("   ", ("", "")), ("", ("", ""))])
def test_split_name(full: str, expected: tuple[str, str]) -> None:
    # Given a full name / When / Then
    assert split_name(full) == expected


def test_tax_is_spread_by_line_amount_after_discount() -> None:
    # Given three taxable lines at 8.25 %, one discounted, tax 1.65 on 20.00 of taxable amount
    record = acumatica_order([
        {"sku": "JUICE100", "qty": Decimal(1), "price": Decimal("10.00"), "discount": Decimal("5.00")},
        {"sku": "MUG500", "qty": Decimal(1), "price": Decimal("10.00")},
        {"sku": "WATER2809", "qty": Decimal(1), "price": Decimal("5.00")}], tax_rate=Decimal("8.25"))
    # When
    entity = map_order(SalesOrder.from_api(record), context(["JUICE100", "MUG500", "WATER2809"]))
    # Then: shares 0.4125 / 0.825 / 0.4125 -> 0.41 / 0.83 / 0.41 (the spare cent to the largest remainder)
    assert [i["tax_amount"] for i in entity["items"]] == [Decimal("0.41"), Decimal("0.83"), Decimal("0.41")]
    assert entity["tax_amount"] == Decimal("1.65")
    assert entity["items"][0]["discount_amount"] == Decimal("5.00")
    assert entity["items"][0]["tax_percent"] == Decimal("8.2500")
    assert entity["items"][1]["row_total_incl_tax"] == Decimal("10.83")
    assert entity["subtotal_incl_tax"] == Decimal("26.65")


def test_discounts_line_and_document_level() -> None:
    # Given a 10 % line discount (2.00) and a 3.00 document discount, freight 4.50
    record = acumatica_order([{"sku": "A", "qty": Decimal(2), "price": Decimal("10.00"),
                               "discount_pct": Decimal(10)}], freight=Decimal("4.50"), doc_discount=Decimal("3.00"))
    # When
    entity = map_order(SalesOrder.from_api(record), context(["A"]))
    # Then Magento's discount is both, negative; the item carries its own and its share of the document's (as
    # Magento stores a cart rule's discount: on the items, the order's the negative of their sum)
    assert entity["discount_amount"] == Decimal("-5.00") and entity["base_discount_amount"] == Decimal("-5.00")
    assert entity["items"][0]["discount_amount"] == Decimal("5.00")
    assert entity["shipping_amount"] == Decimal("4.50") and entity["shipping_incl_tax"] == Decimal("4.50")
    assert entity["grand_total"] == Decimal("19.50")  # 20.00 - 2.00 - 3.00 + 4.50


def test_allocate_sums_exactly_and_breaks_ties_by_line_order() -> None:
    # Given 0.10 over three equal weights / When
    parts = allocate(Decimal("0.10"), [Decimal(1), Decimal(1), Decimal(1)])
    # Then
    assert parts == [Decimal("0.04"), Decimal("0.03"), Decimal("0.03")]


def test_allocate_with_no_positive_weight_splits_equally_and_keeps_the_sign() -> None:
    # Given zero-amount lines and a tax credit / When / Then
    assert allocate(Decimal("0.05"), [Decimal(0), Decimal(0)]) == [Decimal("0.03"), Decimal("0.02")]
    assert allocate(Decimal("-0.05"), [Decimal(1), Decimal(4)]) == [Decimal("-0.01"), Decimal("-0.04")]
    assert allocate(Decimal("1.00"), []) == []


@given(total=st.decimals(min_value=-10000, max_value=10000, places=2),
       weights=st.lists(st.decimals(min_value=-100, max_value=100000, places=2), min_size=1, max_size=12))
def test_allocate_property(total: Decimal, weights: list[Decimal]) -> None:
    # Given any total and weights / When
    parts = allocate(total, weights)
    # Then the parts sum exactly and each is within a cent of its exact share
    assert sum(parts, Decimal(0)) == total
    positive = [max(x, Decimal(0)) for x in weights]
    if sum(positive) > 0:
        for part, weight in zip(parts, positive, strict=True):
            exact = Fraction(total) * Fraction(weight) / Fraction(sum(positive))
            assert abs(Fraction(part) - exact) < Fraction(1, 100)


def test_product_weight_from_magento_json_is_made_exact() -> None:
    # Given a weight that came from Magento's JSON as a float / When
    product = MagentoProductRef(id=1, sku="A", name="A", weight=0.1)  # type: ignore[arg-type]
    # Then
    assert product.weight == Decimal("0.1")


# -- errors ---------------------------------------------------------------------------------------------------------

def test_unknown_sku_names_it(walkthrough: SalesOrder) -> None:
    # Given no WATER2809 in Magento / When / Then
    with pytest.raises(OrderMappingError, match="SKU WATER2809 is not in Magento: create the product or map it"):
        map_order(walkthrough, context(["JUICE100"]))


def test_sku_lookup_ignores_case(walkthrough: SalesOrder) -> None:
    # Given Magento's SKU spelled in lower case / When
    entity = map_order(walkthrough, context(["water2809"]))
    # Then
    assert entity["items"][0]["sku"] == "water2809"


def test_line_without_item_is_refused() -> None:
    # Given a line with no InventoryID
    record = acumatica_order([{"sku": "A", "qty": Decimal(1), "price": Decimal(1)}])
    record["Details"][0]["InventoryID"] = {}
    # When / Then
    with pytest.raises(OrderMappingError, match="line 1 has no InventoryID"):
        map_order(SalesOrder.from_api(record), context(["A"]))


def test_zero_lines_is_refused() -> None:
    # Given an order without lines / When / Then
    record = acumatica_order([])
    with pytest.raises(OrderMappingError, match="has no lines"):
        map_order(SalesOrder.from_api(record), context([]))


def test_totals_that_do_not_add_up_are_refused_with_the_numbers(walkthrough: SalesOrder) -> None:
    # Given an OrderTotal one cent off the lines
    broken = walkthrough.model_copy(update={"order_total": Decimal("40.01")})
    # When / Then
    with pytest.raises(OrderMappingError) as err:
        map_order(broken, context(["WATER2809"]))
    message = str(err.value)
    assert "lines 40.00" in message and "= 40.00" in message and "OrderTotal is 40.01" in message


def test_missing_order_total_is_refused(walkthrough: SalesOrder) -> None:
    # Given an order read without OrderTotal / When / Then
    with pytest.raises(OrderMappingError, match="no OrderTotal"):
        map_order(walkthrough.model_copy(update={"order_total": None}), context(["WATER2809"]))


def test_missing_currency_is_refused(walkthrough: SalesOrder) -> None:
    # Given no CurrencyID and no store currency / When / Then
    with pytest.raises(OrderMappingError, match="no CurrencyID"):
        map_order(walkthrough.model_copy(update={"currency_id": None}), context(["WATER2809"]))


@pytest.mark.parametrize(("section", "field", "named"), [
    ("BillToAddress", "City", "city"), ("BillToAddress", "Country", "country"),
    ("BillToAddress", "PostalCode", "postcode")])
def test_missing_required_bill_to_field_is_refused(section: str, field: str, named: str) -> None:
    # Given a bill-to address without a field Magento requires
    record = acumatica_order([{"sku": "A", "qty": Decimal(1), "price": Decimal(1)}])
    record[section][field] = {}
    # When / Then
    with pytest.raises(OrderMappingError, match=f"Bill-To address/contact lacks {named}"):
        map_order(SalesOrder.from_api(record), context(["A"]))


def test_missing_name_is_refused() -> None:
    # Given a bill-to contact with neither Attention nor Business Name
    record = acumatica_order([{"sku": "A", "qty": Decimal(1), "price": Decimal(1)}])
    record["BillToContact"] = {"Email": w("x@y.z")}
    # When / Then
    with pytest.raises(OrderMappingError, match=r"lacks name \(Attention or Business Name\)"):
        map_order(SalesOrder.from_api(record), context(["A"]))


def test_missing_bill_to_address_is_refused() -> None:
    # Given no bill-to address at all
    record = acumatica_order([{"sku": "A", "qty": Decimal(1), "price": Decimal(1)}])
    del record["BillToAddress"]
    # When / Then
    with pytest.raises(OrderMappingError, match="lacks city, country, postcode"):
        map_order(SalesOrder.from_api(record), context(["A"]))


# -- property-based: many generated orders ---------------------------------------------------------------------------

SKUS = [f"ITEM{n:03d}" for n in range(1, 21)]
quantities = st.one_of(st.integers(min_value=1, max_value=500).map(Decimal),
                       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2))
order_lines = st.fixed_dictionaries(
    {"sku": st.sampled_from(SKUS), "qty": quantities,
     "price": st.decimals(min_value=0, max_value=Decimal("9999.99"), places=2)},
    optional={"discount_pct": st.decimals(min_value=0, max_value=100, places=2)})


@st.composite
def acumatica_orders(draw: st.DrawFn) -> dict[str, Any]:
    lines = draw(st.lists(order_lines, min_size=1, max_size=15))
    tax_rate = draw(st.one_of(st.sampled_from([Decimal(0), Decimal("8.25"), Decimal("8.875"), Decimal(20)]),
                              st.decimals(min_value=0, max_value=30, places=3)))
    freight = draw(st.decimals(min_value=0, max_value=500, places=2))
    # a document discount of up to half the lines' amount
    share = draw(st.decimals(min_value=0, max_value=Decimal("0.5"), places=2))
    record = acumatica_order(lines, tax_rate=tax_rate, freight=freight)
    doc_discount = r2(record["Totals"]["LineTotalAmount"]["value"] * share)
    return acumatica_order(lines, tax_rate=tax_rate, freight=freight, doc_discount=doc_discount)


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(record=acumatica_orders())
def test_generated_orders_map_exactly(record: dict[str, Any]) -> None:
    # Given an Acumatica order read the way the connector reads it
    order = SalesOrder.from_api(via_json(record))
    # When
    entity = map_order(order, context(SKUS))
    # Then the item taxes sum exactly to TaxTotal
    assert sum((i["tax_amount"] for i in entity["items"]), Decimal(0)) == order.tax_total
    # and the totals identity holds to the cent, against Acumatica's own OrderTotal
    assert (entity["subtotal"] + entity["discount_amount"] + entity["shipping_amount"] + entity["tax_amount"]
            == entity["grand_total"] == order.order_total)
    assert entity["subtotal"] == sum((i["row_total"] for i in entity["items"]), Decimal(0))
    assert entity["payment"]["amount_ordered"] == entity["grand_total"]
    for name in ("subtotal", "discount_amount", "shipping_amount", "tax_amount", "grand_total", "total_due"):
        assert entity[f"base_{name}"] == entity[name]
    # and every amount is a Decimal with at most 2 places; nothing anywhere is a float
    for key, value in walk(entity):
        assert not isinstance(value, float), key
        if key in MONEY_KEYS:
            assert isinstance(value, Decimal), key
            assert value.as_tuple().exponent == -2, (key, value)


@PROPERTY_SETTINGS
@given(record=acumatica_orders(), delta=st.sampled_from([Decimal("0.01"), Decimal("-0.01"), Decimal("1.00")]))
def test_generated_orders_with_a_wrong_total_are_refused(record: dict[str, Any], delta: Decimal) -> None:
    # Given an OrderTotal that does not match the lines
    record["OrderTotal"] = w(record["OrderTotal"]["value"] + delta)
    # When / Then
    with pytest.raises(OrderMappingError, match="does not add up"):
        map_order(SalesOrder.from_api(via_json(record)), context(SKUS))


@PROPERTY_SETTINGS
@given(record=acumatica_orders(), missing=st.sampled_from(SKUS))
def test_generated_orders_with_an_unknown_sku_are_refused(record: dict[str, Any], missing: str) -> None:
    # Given one of the order's SKUs absent from Magento
    order = SalesOrder.from_api(record)
    used = {ln.inventory_id for ln in order.lines}
    # When / Then
    if missing in used:
        with pytest.raises(OrderMappingError, match=f"SKU {missing} is not in Magento"):
            map_order(order, context([s for s in SKUS if s != missing]))
    else:
        map_order(order, context([s for s in SKUS if s != missing]))
