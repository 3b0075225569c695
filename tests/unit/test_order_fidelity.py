"""The order mapper against orders the Acumatica simulator computes (its totals, taxes, discounts, currencies, UOMs):
generated across every shape (hypothesis), each entity matches its Acumatica order to the cent
(``amsync_local.fidelity.mismatches``, written from Acumatica's side), or the order waits when Magento cannot hold
it exactly. Plus the products mapping's shapes and refusals, one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acumatica_sim import commit, seed, views
from acumatica_sim.config import TAX_CATEGORIES
from acumatica_sim.documents import build_order
from acumatica_sim.model import Store
from amsync.models.acumatica import AcuTaxCategory, SalesOrder
from amsync.models.magento import MagentoOrderSummary
from amsync.models.settings import ProductMapping, ShipViaMapping
from amsync.services.order_links import link_entity
from amsync.services.order_mapper import (
    MagentoCustomerRef,
    MagentoProductRef,
    OrderMappingContext,
    OrderMappingError,
    map_order,
)
from amsync_local import fidelity
from amsync_local.fidelity import LineShape, OrderShape, mismatches, must_wait

NOW = datetime(2026, 12, 7, tzinfo=UTC)
CONTRACTS = Path(__file__).resolve().parents[1] / "contracts" / "magento"
CATS = {c: list(ts) for c, ts in TAX_CATEGORIES.items()}
PRODUCTS = {
    "WATER2809": MagentoProductRef(4861, "WATER2809", "WATER2809_", Decimal("1.0")),
    "JUICE100": MagentoProductRef(4862, "JUICE100", "Orange juice 1 l", Decimal("1.1")),
    "MUG500": MagentoProductRef(4863, "MUG500", "Ceramic mug 500 ml", Decimal("0.4")),
    "INSTALL": MagentoProductRef(4870, "INSTALL", "Installation service", None, "virtual"),
    "GIFTWRAP": MagentoProductRef(4871, "GIFTWRAP", "Gift wrapping", None, "virtual"),
    "MUG": MagentoProductRef(4880, "MUG", "Mug (configurable)", None, "configurable"),
    "GIFTSET": MagentoProductRef(4890, "GIFTSET", "Gift set", None, "bundle"),
}


def acumatica(body: dict[str, Any]) -> dict[str, Any]:
    """The order as the simulator computes it (the SalesOrder tree of the REST API)."""
    store = Store()
    seed.walkthrough(store, NOW)
    commit.rebuild(store)
    return views.order_tree(store, build_order(store, body, NOW))


def context(**changes: Any) -> OrderMappingContext:
    fields: dict[str, Any] = {
        "customer": MagentoCustomerRef(id=7, email="orders@bigbox.example", firstname="Brian", lastname="Boxer"),
        "products": PRODUCTS, "payment_method": "checkmo",
        "shipping": ShipViaMapping(ship_via="LOCAL", carrier_code="freeshipping", method_code="freeshipping",
                                   title="Free Shipping - Free"),
        "product_mappings": [ProductMapping.model_validate(m) for m in fidelity.PRODUCT_MAPPINGS],
        "tax_categories": {c: AcuTaxCategory(category_id=c, tax_ids=frozenset(ts)) for c, ts in CATS.items()},
        "base_currency": "USD", "allowed_currencies": list(fidelity.CURRENCIES)}
    fields.update(changes)
    return OrderMappingContext(**fields)


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda c: Decimal(c) / 100)


@st.composite
def line_shapes(draw: st.DrawFn) -> LineShape:
    sku = draw(st.sampled_from([*fidelity.STOCK, *fidelity.NON_STOCK]))
    price = draw(st.none() | cents(1, 50000))
    return LineShape(
        sku=sku, qty=draw(st.integers(1, 30)),
        uom=draw(st.sampled_from(fidelity.STOCK[sku])) if sku in fidelity.STOCK else None, price=price,
        discount_pct=draw(st.none() | cents(0, 5000)),
        discount_share=draw(st.none() | cents(1, 50)) if price is not None else None,
        tax_category=draw(st.sampled_from(fidelity.TAX_CATEGORIES)))


order_shapes = st.builds(
    OrderShape, lines=st.lists(line_shapes(), min_size=1, max_size=5).map(tuple),
    customer=st.sampled_from(fidelity.CUSTOMERS), currency=st.sampled_from(fidelity.CURRENCIES),
    mode=st.sampled_from(fidelity.MODES), freight=st.just(Decimal(0)) | cents(0, 5000),
    premium=st.just(Decimal(0)) | cents(0, 2000), freight_tax=st.sampled_from(fidelity.FREIGHT_TAX),
    doc_pct=st.none() | cents(1, 3000), doc_share=st.none() | cents(1, 30))


MUG_AS = {"simple": [], "configurable": [ProductMapping(inventory_id="MUG500", kind="configurable", parent_sku="MUG")],
          "bundle": [ProductMapping(inventory_id="MUG500", magento_sku="GIFTSET", kind="bundle",
                                    components="MUG500:2,WATER2809:1")]}


@settings(max_examples=60)
@given(order_shapes, st.sampled_from(sorted(MUG_AS)))
def test_every_generated_order_matches_acumatica_to_the_cent_or_waits(shape: OrderShape, mug: str) -> None:
    # Given an order the simulator computed (taxes per tax, discounts, currency, UOMs, non-stock lines), MUG500
    # sold in Magento as itself, as a configurable's child or as a bundle
    tree = acumatica(shape.body())
    wait = must_wait(tree)
    ctx = context(product_mappings=[*(ProductMapping.model_validate(m) for m in fidelity.PRODUCT_MAPPINGS),
                                    *MUG_AS[mug]])
    # When the connector maps it
    if wait is not None:
        # Then an order Magento cannot hold exactly waits, naming why
        with pytest.raises(OrderMappingError, match="cannot be sold in Magento"):
            map_order(SalesOrder.from_api(tree), ctx)
        return
    entity = map_order(SalesOrder.from_api(tree), ctx)
    # Then every total (order and base currency) and every line matches Acumatica's
    assert mismatches(tree, entity, CATS) == []


def test_the_comparison_catches_a_cent() -> None:
    # Given a correctly mapped order with tax, freight tax and a discount
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 3, tax_category="TAXABLE"),), freight=Decimal("5.00"),
                                freight_tax="TAXABLE", doc_pct=Decimal("10"), currency="EUR").body())
    entity = map_order(SalesOrder.from_api(tree), context())
    assert mismatches(tree, entity, CATS) == []
    # When one line's tax is a cent off (and the order's moved with it)
    entity["items"][0]["tax_amount"] += Decimal("0.01")
    # Then the comparison names it (and the base amount no longer being the rate applied to it)
    assert {m.field for m in mismatches(tree, entity, CATS)} == {"items' tax + shipping tax = TaxTotal",
                                                                 "line 1 base_tax_amount"}
    entity["grand_total"] += Decimal("0.01")
    assert "grand_total" in {m.field for m in mismatches(tree, entity, CATS)}


def test_misc_charges_premium_freight_and_freight_tax_are_in_the_totals() -> None:
    # Given stock goods, an installation (Misc. Charge), freight + premium freight taxed as TAXABLE
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 2), LineShape("INSTALL", 1)), freight=Decimal("10.00"),
                                premium=Decimal("5.00"), freight_tax="TAXABLE").body())
    assert tree["Totals"]["MiscTotalAmount"] == Decimal("45.00") and tree["Totals"]["PremiumFreight"] == 5
    # When
    entity = map_order(SalesOrder.from_api(tree), context())
    # Then the installation is a virtual item, shipping is freight + premium, its tax is the freight's share
    install = next(i for i in entity["items"] if i["sku"] == "INSTALL")
    assert install["is_virtual"] == 1 and install["product_type"] == "virtual"
    assert entity["shipping_amount"] == Decimal("15.00")
    assert entity["shipping_tax_amount"] == Decimal("1.24")  # 8.25 % of 15.00 of the one CASALES amount
    assert entity["grand_total"] == tree["OrderTotal"] and mismatches(tree, entity, CATS) == []


def test_a_case_of_twelve_arrives_as_twelve_bottles_at_the_bottle_price() -> None:
    # Given 5 CASEs of JUICE100 at 54.00 a case (4.50 a bottle)
    tree = acumatica(OrderShape(lines=(LineShape("JUICE100", 5, uom="CASE"),)).body())
    # When
    item = map_order(SalesOrder.from_api(tree), context())["items"][0]
    # Then Magento sells 60 bottles at 4.50, the row total unchanged
    assert (item["qty_ordered"], item["price"], item["row_total"]) == (Decimal(60), Decimal("4.5000"),
                                                                       Decimal("270.00"))


def test_an_inexact_conversion_waits_and_an_unmapped_uom_is_named() -> None:
    # Given 30 CASEs at 0.07 a case (2.10): no 4-decimal bottle price gives 2.10 over 360 bottles
    tree = acumatica(OrderShape(lines=(LineShape("JUICE100", 30, uom="CASE", price=Decimal("0.07")),)).body())
    assert must_wait(tree) is not None
    with pytest.raises(OrderMappingError, match=r"cannot be sold in Magento as 360 units of JUICE100 to the cent"):
        map_order(SalesOrder.from_api(tree), context())
    # Given only a CASE row for the item: a BOTTLE line has no mapping
    rows = [ProductMapping(inventory_id="JUICE100", uom="CASE", qty_factor=Decimal(12))]
    tree = acumatica(OrderShape(lines=(LineShape("JUICE100", 2, uom="BOTTLE"),)).body())
    with pytest.raises(OrderMappingError, match=r"ordered in UOM BOTTLE, which has no product mapping.*"
                                                r"inventory_id=JUICE100 uom=BOTTLE"):
        map_order(SalesOrder.from_api(tree), context(product_mappings=rows))


def test_a_currency_the_store_does_not_allow_waits() -> None:
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 1),), currency="GBP").body())
    with pytest.raises(OrderMappingError, match="is in GBP, which the Magento store does not allow"):
        map_order(SalesOrder.from_api(tree), context(allowed_currencies=["USD", "EUR"]))
    with pytest.raises(OrderMappingError, match="Acumatica's base currency USD is not Magento's base currency EUR"):
        map_order(SalesOrder.from_api(tree), context(base_currency="EUR"))


def test_base_amounts_are_acumaticas_rate_applied_to_each_amount() -> None:
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 3, price=Decimal("10.00")),), currency="EUR").body())
    entity = map_order(SalesOrder.from_api(tree), context())
    assert (entity["order_currency_code"], entity["base_currency_code"]) == ("EUR", "USD")
    assert entity["grand_total"] == Decimal("32.48")  # 30.00 + 8.25 %
    assert entity["base_grand_total"] == Decimal("35.24")  # x 1.085
    assert entity["base_to_order_rate"] == Decimal("0.9217")


def test_non_stock_lines_need_a_magento_product_or_the_placeholder() -> None:
    tree = acumatica(OrderShape(lines=(LineShape("INSTALL", 1),)).body())
    products = {k: v for k, v in PRODUCTS.items() if k != "INSTALL"}
    with pytest.raises(OrderMappingError, match=r"non-stock Misc. Charge INSTALL, which is not in Magento.*"
                                                r"inventory_id=\* magento_sku=<SKU> kind=virtual"):
        map_order(SalesOrder.from_api(tree), context(products=products))
    placeholder = ProductMapping(inventory_id="*", magento_sku="GIFTWRAP", kind="virtual")
    entity = map_order(SalesOrder.from_api(tree), context(products=products, product_mappings=[placeholder]))
    item = entity["items"][0]
    assert (item["sku"], item["name"], item["is_virtual"], item["row_total"]) == (
        "GIFTWRAP", "Installation service", 1, Decimal("45.00"))


def test_a_stock_item_missing_in_magento_is_never_replaced_by_the_placeholder() -> None:
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 1),)).body())
    products = {k: v for k, v in PRODUCTS.items() if k != "MUG500"}
    placeholder = ProductMapping(inventory_id="*", magento_sku="GIFTWRAP", kind="virtual")
    with pytest.raises(OrderMappingError, match="SKU MUG500 is not in Magento"):
        map_order(SalesOrder.from_api(tree), context(products=products, product_mappings=[placeholder]))


def test_a_configurables_child_becomes_the_configurable_and_its_child() -> None:
    rows = [ProductMapping(inventory_id="MUG500", kind="configurable", parent_sku="MUG")]
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 2, tax_category="TAXABLE"),)).body())
    entity = map_order(SalesOrder.from_api(tree), context(product_mappings=rows))
    parent, child = entity["items"]
    # the configurable's item is priced and carries the child's SKU (as Magento orders a configurable)
    assert (parent["product_type"], parent["sku"], parent["product_id"]) == ("configurable", "MUG500", 4880)
    assert parent["row_total"] == Decimal("25.98") and parent["tax_amount"] == Decimal("2.14")
    assert (child["product_type"], child["sku"], child["product_id"], child["qty_ordered"]) == (
        "simple", "MUG500", 4863, Decimal(2))
    assert child["row_total"] == 0 and child["parent_item"]["sku"] == "MUG500"
    assert entity["total_item_count"] == 1 and mismatches(tree, entity, CATS) == []


def test_a_kit_becomes_a_fixed_price_bundle_with_its_components() -> None:
    rows = [ProductMapping(inventory_id="MUG500", magento_sku="GIFTSET", kind="bundle",
                           components="MUG500:2,WATER2809:1")]
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 3, price=Decimal("30.00")),)).body())
    entity = map_order(SalesOrder.from_api(tree), context(product_mappings=rows))
    bundle, *parts = entity["items"]
    assert (bundle["product_type"], bundle["sku"], bundle["row_total"]) == ("bundle", "GIFTSET", Decimal("90.00"))
    assert [(p["sku"], p["qty_ordered"], p["price"]) for p in parts] == [("MUG500", Decimal(6), 0),
                                                                          ("WATER2809", Decimal(3), 0)]
    bad = [rows[0].model_copy(update={"components": "NOPE:1"})]
    with pytest.raises(OrderMappingError, match="component NOPE of bundle GIFTSET is not in Magento"):
        map_order(SalesOrder.from_api(tree), context(product_mappings=bad))


def test_tax_inclusive_prices_keep_acumaticas_amounts_with_tax() -> None:
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 2, price=Decimal("10.83"), tax_category="TAXABLE"),),
                                mode="Gross", doc_pct=Decimal("10")).body())
    entity = map_order(SalesOrder.from_api(tree), context())
    item = entity["items"][0]
    assert item["price_incl_tax"] == Decimal("10.83") and item["row_total_incl_tax"] == Decimal("21.66")
    assert item["row_total"] + item["tax_amount"] + item["discount_tax_compensation_amount"] == Decimal("21.66")
    assert entity["grand_total"] == tree["OrderTotal"] == Decimal("19.49")  # 21.66 - 2.17, tax inside
    assert mismatches(tree, entity, CATS) == []


def test_every_field_sent_is_one_magento_declares() -> None:
    # Given a configurable line, a Misc. Charge, tax on freight, a document discount, prices with tax, EUR
    rows = [*(ProductMapping.model_validate(m) for m in fidelity.PRODUCT_MAPPINGS),
            ProductMapping(inventory_id="MUG500", kind="configurable", parent_sku="MUG")]
    tree = acumatica(OrderShape(lines=(LineShape("MUG500", 2), LineShape("INSTALL", 1),
                                       LineShape("JUICE100", 1, uom="CASE")), currency="EUR", mode="Gross",
                                freight=Decimal("4.00"), freight_tax="TAXABLE", doc_pct=Decimal("5")).body())
    entity = map_order(SalesOrder.from_api(tree), context(product_mappings=rows))
    # Then every key is a property of Magento's order / order item interfaces (2.4.8 schema)
    definitions = json.loads((CONTRACTS / "magento-2.4.8-connector-subset.swagger2.json").read_text())["definitions"]
    order_fields = set(definitions["sales-data-order-interface"]["properties"])
    item_fields = set(definitions["sales-data-order-item-interface"]["properties"])
    assert set(entity) - order_fields == set()
    for item in entity["items"]:
        assert set(item) - item_fields == set(), item["sku"]
        assert set(item.get("parent_item") or {}) - item_fields == set()


def test_children_are_linked_to_their_parent_item_once_magento_has_saved_them() -> None:
    # Given a configurable line and a plain line, as Magento saved them (ids given, the child's parent NULL)
    rows = [ProductMapping(inventory_id="MUG500", kind="configurable", parent_sku="MUG")]
    tree = acumatica(OrderShape(lines=(LineShape("WATER2809", 1), LineShape("MUG500", 2))).body())
    payload = map_order(SalesOrder.from_api(tree), context(product_mappings=rows))
    saved = {**payload, "entity_id": 1093,
             "items": [{**i, "item_id": 2001 + n} for n, i in enumerate(payload["items"])]}
    # When the writer asks what to link
    entity = link_entity(payload, MagentoOrderSummary.from_api(saved))
    # Then the child (line 2's "2-1") gets its parent's (line 2's) item id, in an order save Magento accepts
    assert entity is not None and entity["entity_id"] == 1093
    assert entity["items"] == [{"item_id": 2003, "parent_item_id": 2002, "sku": "MUG500"}]
    assert entity["grand_total"] == payload["grand_total"] and entity["customer_email"] == payload["customer_email"]
    # and once linked, nothing is left to do (a retry saves nothing again)
    saved["items"][2]["parent_item_id"] = 2002
    assert link_entity(payload, MagentoOrderSummary.from_api(saved)) is None
    # and an order without children needs no second save
    plain = map_order(SalesOrder.from_api(tree), context())
    assert link_entity(plain, MagentoOrderSummary.from_api({**plain, "entity_id": 1})) is None


def test_a_shipment_in_cases_ships_the_bottles_magento_sold() -> None:
    # Given a Magento order of 60 bottles for Acumatica line 1 (5 CASEs of JUICE100) and the CASE row
    from amsync.services.fulfilment import _Line, _magento_items

    order = {"increment_id": "000000995", "items": [{"item_id": 2001, "ext_order_item_id": "1", "sku": "JUICE100",
                                                     "qty_ordered": 60}]}
    rows = [ProductMapping.model_validate(m) for m in fidelity.PRODUCT_MAPPINGS]
    # When 2 CASEs ship in Acumatica / Then Magento ships 24 bottles; a line in BOTTLEs ships as is
    shipped = [_Line("SO", "SOT00024", 1, "JUICE100", Decimal(2), "CASE")]
    assert _magento_items(shipped, order, rows) == [{"order_item_id": 2001, "qty": Decimal(24)}]
    bottles = [_Line("SO", "SOT00024", 1, "JUICE100", Decimal(7), "BOTTLE")]
    assert _magento_items(bottles, order, rows) == [{"order_item_id": 2001, "qty": Decimal(7)}]
