"""Well-known PyPI clients against the simulators: easy-acumatica (Acumatica) and pymagento (Magento 2).

Each client is used as its README shows (log in, read a record, create something). A client failing here means the
simulator departs from the real system: fix the simulator. What a client cannot do for a reason outside the
simulators is in docs/local.md ("Third-party clients").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "local") not in sys.path:  # the editable install may predate the simulators
    sys.path.insert(0, str(ROOT / "local"))

from easy_acumatica import AcumaticaClient  # noqa: E402
from easy_acumatica.odata import QueryOptions  # noqa: E402
from magento import Magento  # noqa: E402
from magento.exceptions import MagentoException  # noqa: E402

from acumatica_sim import AcumaticaSimulator  # noqa: E402
from acumatica_sim.config import ADMIN_PASSWORD, ADMIN_USERNAME, TENANT  # noqa: E402
from magento_sim import MagentoSimulator  # noqa: E402


@pytest.fixture(scope="module")
def acu() -> Iterator[AcumaticaSimulator]:
    sim = AcumaticaSimulator(port=0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def mag() -> Iterator[MagentoSimulator]:
    sim = MagentoSimulator(port=0)
    sim.start()
    yield sim
    sim.stop()


# -- easy-acumatica --------------------------------------------------------------------------------------------
@pytest.fixture
def acumatica(acu: AcumaticaSimulator, tmp_path: Path) -> Iterator[AcumaticaClient]:
    client = AcumaticaClient(base_url=acu.url.rstrip("/"), username=ADMIN_USERNAME, password=ADMIN_PASSWORD,
                             tenant=TENANT, endpoint_version="24.200.001", cache_dir=tmp_path,
                             auto_load_env=False, timeout=30, persistent_login=True)
    yield client
    client.close()


def test_easy_acumatica_logs_in_and_builds_its_services_from_swagger_json(acumatica: AcumaticaClient) -> None:
    # Given the client built itself: login, GET /entity, GET .../swagger.json?company=Company (OpenAPI 3.0.1)
    # Then it found the endpoint and made a service and a model per entity of the document
    assert acumatica.endpoints["Default"]["version"] == "24.200.001"
    assert {"sales_order", "customer", "stock_item", "shipment"} <= set(dir(acumatica))
    assert hasattr(acumatica.models, "SalesOrder") and hasattr(acumatica.models, "Customer")


def test_easy_acumatica_reads_records(acumatica: AcumaticaClient) -> None:
    # When reading the walkthrough's stock item by key and listing orders with an OData filter
    item = acumatica.stock_item.get_by_keys(inventory_id="WATER2809")
    orders = acumatica.sales_order.get_list(QueryOptions(filter="OrderType eq 'SO'", top=5,
                                                         expand=["Details"]))
    # Then the records come back in Acumatica's {"value": ...} shape
    assert item["InventoryID"]["value"] == "WATER2809"
    assert orders and all(o["OrderType"]["value"] == "SO" for o in orders)
    assert all(isinstance(o.get("Details"), list) for o in orders)


def test_easy_acumatica_reads_a_generic_inquiry_over_odata(acumatica: AcumaticaClient) -> None:
    # Given the inquiries service the client built from /t/Company/api/odata/gi/$metadata
    # When reading the sales-order inquiry with a filter and a column list (Basic auth, OData v4)
    result = acumatica.inquiries.AMSync_SalesOrders(QueryOptions(filter="OrderType eq 'SO'",
                                                                 select=["OrderType", "OrderID", "OrderTotal"]))
    # Then the GI's rows come back, only the selected columns
    rows = result["value"] if isinstance(result, dict) else result
    assert rows and {tuple(r) for r in rows} == {("OrderType", "OrderID", "OrderTotal")}
    assert all(r["OrderType"] == "SO" and isinstance(r["OrderTotal"], float) for r in rows)


def test_easy_acumatica_creates_a_customer(acumatica: AcumaticaClient, acu: AcumaticaSimulator) -> None:
    # When creating a customer with the generated model
    model = acumatica.models.Customer(CustomerID="TPCLIENT1", CustomerName="Third Party Client",
                                      CustomerClass="DEFAULT")
    created = acumatica.customer.put_entity(model)
    # Then Acumatica's record comes back and reads back by key
    assert created["CustomerID"]["value"] == "TPCLIENT1"
    again = acumatica.customer.get_by_keys(customer_id="TPCLIENT1")
    assert again["CustomerName"]["value"] == "Third Party Client"


# -- pymagento -------------------------------------------------------------------------------------------------
@pytest.fixture
def magento(mag: MagentoSimulator) -> Iterator[Magento]:
    mag.reset()
    client = Magento(token=mag.token, base_url=mag.url.rstrip("/"), scope="all")
    yield client
    client.close()


def _order(**extra: Any) -> dict[str, Any]:
    address = {"city": "Seattle", "country_id": "US", "firstname": "Alta", "lastname": "Ace", "postcode": "98104",
               "telephone": "+1 206 555 0101", "street": ["3933 Ace Ave"], "region_code": "WA",
               "email": "ap@altaace.com"}
    return {"store_id": 1, "state": "new", "status": "pending", "customer_email": "ap@altaace.com",
            "customer_firstname": "Alta", "customer_lastname": "Ace", "customer_id": 101, "customer_is_guest": 0,
            "base_currency_code": "USD", "order_currency_code": "USD", "subtotal": 40.0, "base_subtotal": 40.0,
            "shipping_amount": 5.0, "base_shipping_amount": 5.0, "grand_total": 45.0, "base_grand_total": 45.0,
            "items": [{"sku": "WATER2809", "name": "WATER2809_", "product_type": "simple", "qty_ordered": 2,
                       "price": 20.0, "base_price": 20.0, "row_total": 40.0, "base_row_total": 40.0,
                       "store_id": 1}],
            "billing_address": dict(address, address_type="billing"), "payment": {"method": "checkmo"},
            "extension_attributes": {"shipping_assignments": [{"shipping": {
                "address": dict(address, address_type="shipping"), "method": "flatrate_flatrate"}}]},
            **extra}


def test_pymagento_reads_stores_products_and_customers(magento: Magento) -> None:
    # When reading the store scaffolding, a product (whole and with ?fields=) and the customers
    views = magento.get_store_views()
    configs = magento.get_store_configs(["default"])
    group_id = magento.get_current_store_group_id(scope="base")  # the website's default group
    admin_group = magento.get_current_store_group_id(scope="default")  # group 0's code is "default", as in Magento
    product = magento.get_product("WATER2809")
    # (pymagento 2.14.0 sets ``params["fields"]`` on the ``params=None`` get_json_api passes: ``params={}`` avoids
    # its TypeError; see docs/local.md)
    only_id = magento.get_product("WATER2809", fields="id,extension_attributes[stock_item[qty]]", params={})
    exists, missing = magento.sku_exists("WATER2809", params={}), magento.sku_exists("NOPE", params={})
    customers = list(magento.get_customers())
    # Then they match the seeded store
    assert {v["code"] for v in views} == {"admin", "default"}
    assert configs[0]["base_currency_code"] == "USD" and (group_id, admin_group) == (1, 0)
    assert product["sku"] == "WATER2809" and product["extension_attributes"]["stock_item"]["qty"] == 263
    assert only_id == {"id": 4861, "extension_attributes": {"stock_item": {"qty": 263}}}
    assert exists is True and missing is False
    assert [c["email"] for c in customers] == ["ap@altaace.com"]


def test_pymagento_creates_an_order_and_ships_and_invoices_it(magento: Magento, mag: MagentoSimulator) -> None:
    # When creating an order with save_order, then shipping, invoicing and holding it through the client
    order = magento.save_order(_order(ext_order_id="SOT-TP1"))
    oid = order["entity_id"]
    shipment_id = magento.ship_order(oid, {"items": [], "notify": False})
    invoice_id = magento.create_order_invoice(oid, notify=False)
    # Then the order reads back complete, with its shipment and invoice findable by order
    got = magento.get_order(oid)
    assert got["ext_order_id"] == "SOT-TP1" and got["state"] == "complete"
    assert [s["entity_id"] for s in magento.get_order_shipments(oid)] == [int(shipment_id)]
    assert [i["entity_id"] for i in magento.get_order_invoices(oid)] == [int(invoice_id)]
    assert [i["sku"] for i in magento.get_orders_items(sku="WATER2809")] == ["WATER2809"]
    assert magento.sku_was_bought("WATER2809") and not magento.sku_was_bought("MUG500")
    assert mag.source_qty("WATER2809") == 261
    # and holding a complete order is refused with Magento's message
    with pytest.raises(MagentoException, match="A hold action is not available."):
        magento.hold_order(oid)


def test_pymagento_sets_stock(magento: Magento, mag: MagentoSimulator) -> None:
    # When saving a source item and reading the source items back
    magento.save_source_items([{"sku": "MUG500", "source_code": "default", "quantity": 42, "status": 1}])
    items = list(magento.get_source_items(sku="MUG500"))
    # Then the quantity is set
    assert [(i["source_code"], i["quantity"]) for i in items] == [("default", 42)]
    assert mag.source_qty("MUG500") == 42
