"""The walkthrough's connector settings: the Ship Via mapping of step 2, payment and warehouse mappings."""

from __future__ import annotations

import os

from amsync.data.settings_store import SettingsStore
from amsync.models.settings import PaymentMapping, ShipViaMapping, WarehouseMapping

WALKTHROUGH_SHIP_VIAS = [
    ShipViaMapping(ship_via="UPSGROUND", carrier_code="flatrate", method_code="flatrate", title="Flat Rate - Fixed",
                   tracking_carrier_code="ups"),
    ShipViaMapping(ship_via="FEDEXGROUND", carrier_code="tablerate", method_code="bestway",
                   title="Best Way - Table Rate", tracking_carrier_code="fedex"),
    ShipViaMapping(ship_via="WILLCALL", carrier_code="flatrate", method_code="flatrate", title="Flat Rate - Fixed"),
    ShipViaMapping(ship_via="LOCAL", carrier_code="freeshipping", method_code="freeshipping",
                   title="Free Shipping - Free"),
]
WALKTHROUGH_PAYMENTS = [PaymentMapping(acumatica_method="*", magento_method="checkmo")]
WALKTHROUGH_WAREHOUSES = [WarehouseMapping(warehouse_id="RETAIL", source_code="default"),
                          WarehouseMapping(warehouse_id="WHOLESALE", source_code="retail_store")]


def seed_connector_settings(settings_table: str, *, ship_vias: bool = True) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    store = SettingsStore(settings_table)
    for m in WALKTHROUGH_SHIP_VIAS if ship_vias else []:
        store.put_mapping("shipvia", m)
    for p in WALKTHROUGH_PAYMENTS:
        store.put_mapping("payment", p)
    for w in WALKTHROUGH_WAREHOUSES:
        store.put_mapping("warehouse", w)


# ---------------------------------------------------------------------- customers Magento -> Acumatica
from amsync.models.settings import CustomerClassMapping  # noqa: E402

# Magento customer groups 2 Wholesale and 3 Retailer (the Magento seed) -> Acumatica classes; others: DEFAULT.
WALKTHROUGH_CUSTOMER_CLASSES = [CustomerClassMapping(magento_group_id=2, customer_class="WHOLESALE"),
                                CustomerClassMapping(magento_group_id=3, customer_class="RETAIL")]


def seed_customer_classes(settings_table: str) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    store = SettingsStore(settings_table)
    for m in WALKTHROUGH_CUSTOMER_CLASSES:
        store.put_mapping("customerclass", m)


_seed_order_settings = seed_connector_settings


def seed_connector_settings(settings_table: str, *, ship_vias: bool = True) -> None:  # noqa: F811 - extended
    """The walkthrough's settings plus the customer class mapping (the default class needs no row)."""
    _seed_order_settings(settings_table, ship_vias=ship_vias)
    seed_customer_classes(settings_table)
