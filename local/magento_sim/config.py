"""Constants and run-time settings of the Magento simulator (one place for every seeded value)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: Seeded integration access token (usable as a standalone Bearer token when the store allows it).
INTEGRATION_TOKEN = "amsync-integration-token"
INTEGRATION_NAME = "amsync"
#: Seeded admin user (admin tokens are refused while 2FA is on, as in a default 2.4 store).
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin123"
ADMIN_TOKEN_TTL_SECONDS = 4 * 3600

#: ACL resources the seeded integration holds: everything the connector's routes need.
CONNECTOR_RESOURCES: frozenset[str] = frozenset({
    "Magento_Sales::actions_view", "Magento_Sales::create", "Magento_Sales::ship", "Magento_Sales::invoice",
    "Magento_Sales::comment", "Magento_Sales::cancel", "Magento_Sales::hold", "Magento_Sales::unhold",
    "Magento_Sales::shipment", "Magento_Sales::sales_invoice", "Magento_Sales::emails",
    "Magento_Customer::customer", "Magento_Customer::manage", "Magento_Catalog::products",
    "Magento_Cart::manage", "Magento_InventoryApi::source", "Magento_InventoryApi::stock",
    "Magento_CatalogInventory::cataloginventory", "Magento_Backend::store",
    "Magento_Sales::creditmemo", "Magento_Sales::sales_creditmemo", "Magento_Rma::magento_rma",
})

# First ids handed out by the walkthrough seed (the walkthrough's order 1093 / #000000995, shipment 458 / #000000423).
FIRST_ORDER_ID = 1093
FIRST_ORDER_INCREMENT = 995
FIRST_SHIPMENT_ID = 458
FIRST_SHIPMENT_INCREMENT = 423
FIRST_INVOICE_ID = 301
FIRST_INVOICE_INCREMENT = 301
FIRST_ORDER_ITEM_ID = 2001
FIRST_CUSTOMER_ID = 101
INCREMENT_DIGITS = 9

DEFAULT_SOURCE = "default"
DEFAULT_STOCK_ID = 1


@dataclass
class SimConfig:
    """Store configuration the tests can flip at run time (``POST /_sim/config``)."""

    #: oauth/consumer/enable_integration_as_bearer (off by default on a real 2.4.4+ store; on here for the connector).
    integration_as_bearer: bool = True
    #: Magento_TwoFactorAuth enabled: the plain admin-token route refuses.
    two_factor_auth: bool = True
    #: Stores > Configuration > Services > Web API Limits (2.4.3+, off by default).
    input_limits: bool = False
    input_limit_max_items: int = 20
    input_limit_max_page_size: int = 300
    input_limit_default_page_size: int = 20
    #: Unknown SKU on POST /inventory/source-items: False = 400 "Could not save Source Item" (2.4.6-p3),
    #: True = 200 [] and an orphan source-item row (issues #30274, #38154).
    orphan_source_items: bool = False
    #: Older stores answer an out-of-range searchCriteria page with the last page again (issues #3787, #26986).
    out_of_range_returns_last_page: bool = False
    #: "open_source" (no /V1/returns route: 404) or "adobe_commerce" (Magento_Rma serves /V1/returns).
    edition: str = "open_source"

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise KeyError(key)
            current = getattr(self, key)
            setattr(self, key, type(current)(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
