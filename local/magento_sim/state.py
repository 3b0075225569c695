"""In-memory store of the simulator, with the ``walkthrough`` seed. Every access holds ``State.lock``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from magento_sim import config as C

SEED_TIME = "2023-10-01 08:00:00"


def now() -> str:
    """Magento's DB timestamp format (UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class State:
    """All simulated store data. Mutate only while holding :attr:`lock`."""

    def __init__(self, seed: str = "walkthrough", cfg: C.SimConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.seed_name = seed
        self.config = cfg or C.SimConfig()
        self._order_locks: dict[int, threading.Lock] = {}
        self.reset()

    def order_lock(self, order_id: int) -> threading.Lock:
        """Per-order mutex (Magento's OrderMutex around ShipOrder/InvoiceOrder)."""
        with self.lock:
            return self._order_locks.setdefault(order_id, threading.Lock())

    def reset(self) -> None:
        with self.lock:
            self.counters: dict[str, int] = {
                "order": C.FIRST_ORDER_ID, "order_increment": C.FIRST_ORDER_INCREMENT,
                "order_item": C.FIRST_ORDER_ITEM_ID, "order_address": 5001, "order_payment": 6001,
                "history": 7001, "shipment": C.FIRST_SHIPMENT_ID, "shipment_increment": C.FIRST_SHIPMENT_INCREMENT,
                "shipment_item": 8001, "track": 9001, "invoice": C.FIRST_INVOICE_ID,
                "invoice_increment": C.FIRST_INVOICE_INCREMENT, "invoice_item": 10001, "comment": 11001,
                "customer": C.FIRST_CUSTOMER_ID, "customer_address": 201, "product": 4900, "quote": 301,
                "quote_item": 401, "reservation": 1, "configurable_option": 301, "bundle_option": 401,
                "bundle_selection": 501,
            }
            self.orders: dict[int, dict[str, Any]] = {}
            self.shipments: dict[int, dict[str, Any]] = {}
            self.invoices: dict[int, dict[str, Any]] = {}
            self.creditmemos: dict[int, dict[str, Any]] = {}
            self.returns: dict[int, dict[str, Any]] = {}  # Adobe Commerce RMA (edition adobe_commerce)
            self.customers: dict[int, dict[str, Any]] = {}
            self.products: dict[str, dict[str, Any]] = {}
            self.source_items: dict[tuple[str, str], dict[str, Any]] = {}
            self.reservations: list[dict[str, Any]] = []
            self._reserved: tuple[list[dict[str, Any]], int, dict[tuple[str, int], float]] = (self.reservations, 0, {})
            self.carts: dict[str, dict[str, Any]] = {}
            self.tokens: dict[str, dict[str, Any]] = {}
            self._order_locks = {}
            seed_walkthrough(self) if self.seed_name == "walkthrough" else seed_empty(self)

    def next(self, name: str) -> int:
        value = self.counters[name]
        self.counters[name] = value + 1
        return value

    def add_token(self, token: str, kind: str = "integration", resources: frozenset[str] | None = None,
                  ttl: float | None = None) -> None:
        self.tokens[token] = {"kind": kind, "resources": resources,
                              "expires_at": time.time() + ttl if ttl else None}

    def reserved(self, sku: str, stock_id: int) -> float:
        """Σ reservation quantities of a SKU on a stock (the table only grows: new rows are folded into running
        sums, so a salable-qty read does not walk every reservation ever placed)."""
        rows, folded, sums = self._reserved
        if rows is not self.reservations:  # replaced wholesale (reset, a test): start over
            rows, folded, sums = self.reservations, 0, {}
        for r in rows[folded:]:
            key = (r["sku"], r["stock_id"])
            sums[key] = sums.get(key, 0.0) + float(r["quantity"])
        self._reserved = (rows, len(rows), sums)
        return sums.get((sku, stock_id), 0.0)

    def stock_sources(self, stock_id: int) -> list[str]:
        return [s["source_code"] for s in self.sources.values() if stock_id in s["_stocks"]]


def seed_empty(state: State) -> None:
    """Store scaffolding every seed shares: websites, stores, groups, sources, carriers, payments, tokens."""
    state.websites = [
        {"id": 0, "code": "admin", "name": "Admin", "default_group_id": 0},
        {"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1, "_is_default": True},
    ]
    state.store_groups = [{"id": 0, "website_id": 0, "root_category_id": 0, "default_store_id": 0, "name": "Default",
                           "code": "default"},
                          {"id": 1, "website_id": 1, "root_category_id": 2, "default_store_id": 1,
                           "name": "Main Website Store", "code": "main_website_store"}]
    # Stores > Currency Setup: base USD (global price scope unless a website sets its own), no rates but USD->USD
    state.global_base_currency = "USD"
    state.currency_rates = {"USD": {"USD": 1.0}}
    state.stores = [
        {"id": 0, "code": "admin", "name": "Admin", "website_id": 0, "store_group_id": 0, "is_active": 1},
        {"id": 1, "code": "default", "name": "Default Store View", "website_id": 1, "store_group_id": 1,
         "is_active": 1},
    ]
    state.customer_groups = {0: "NOT LOGGED IN", 1: "General", 2: "Wholesale", 3: "Retailer"}
    state.sources = {
        "default": {"source_code": "default", "name": "Default Source", "enabled": True, "country_id": "US",
                    "postcode": "00000", "use_default_carrier_config": True, "_stocks": [C.DEFAULT_STOCK_ID]},
        "retail_store": {"source_code": "retail_store", "name": "Retail Store", "enabled": True,
                         "country_id": "US", "postcode": "98101", "use_default_carrier_config": True,
                         "_stocks": [C.DEFAULT_STOCK_ID]},
    }
    state.carriers = [
        {"carrier_code": "flatrate", "method_code": "flatrate", "carrier_title": "Flat Rate", "method_title": "Fixed",
         "active": True, "price": 5.00, "type": "per_item"},
        {"carrier_code": "tablerate", "method_code": "bestway", "carrier_title": "Best Way",
         "method_title": "Table Rate", "active": True, "price": 15.00, "type": "per_order"},
        {"carrier_code": "freeshipping", "method_code": "freeshipping", "carrier_title": "Free Shipping",
         "method_title": "Free", "active": True, "price": 0.00, "type": "per_order"},
    ]
    state.payment_methods = [
        {"code": "checkmo", "title": "Check / Money order"}, {"code": "purchaseorder", "title": "Purchase Order"},
        {"code": "banktransfer", "title": "Bank Transfer Payment"},
        {"code": "cashondelivery", "title": "Cash On Delivery"},
        {"code": "free", "title": "No Payment Information Required"},
    ]
    state.add_token(C.INTEGRATION_TOKEN, "integration", C.CONNECTOR_RESOURCES)


def _product(pid: int, sku: str, name: str, price: float, weight: float) -> dict[str, Any]:
    return {"id": pid, "sku": sku, "name": name, "attribute_set_id": 4, "price": price, "status": 1,
            "visibility": 4, "type_id": "simple", "created_at": SEED_TIME, "updated_at": SEED_TIME,
            "weight": weight, "extension_attributes": {"website_ids": [1]}, "product_links": [], "options": [],
            "media_gallery_entries": [], "tier_prices": [],
            "custom_attributes": [{"attribute_code": "url_key", "value": sku.lower()},
                                  {"attribute_code": "tax_class_id", "value": "2"}]}


#: Walkthrough catalogue: (id, sku, name, price, weight, {source_code: qty}).
WALKTHROUGH_PRODUCTS = [
    (4861, "WATER2809", "WATER2809_", 20.00, 1.0, {"default": 263.0}),
    (4862, "JUICE100", "Orange juice 1 l", 4.50, 1.0, {"default": 120.0, "retail_store": 15.0}),
    (4863, "MUG500", "Ceramic mug 500 ml", 12.99, 0.4, {"default": 300.0}),
]


def seed_walkthrough(state: State) -> None:
    """The walkthrough store: Main Website / Default Store View, customer Alta Ace, WATER2809 and friends."""
    seed_empty(state)
    for pid, sku, name, price, weight, stock in WALKTHROUGH_PRODUCTS:
        state.products[sku] = _product(pid, sku, name, price, weight)
        for source, qty in stock.items():
            state.source_items[(sku, source)] = {"sku": sku, "source_code": source, "quantity": qty, "status": 1}
    cid = state.next("customer")
    aid = state.next("customer_address")
    state.customers[cid] = {
        "id": cid, "group_id": 1, "default_billing": str(aid), "default_shipping": str(aid),
        "created_at": SEED_TIME, "updated_at": SEED_TIME, "created_in": "Default Store View",
        "email": "ap@altaace.com", "firstname": "Alta", "lastname": "Ace", "store_id": 1, "website_id": 1,
        "disable_auto_group_change": 0, "extension_attributes": {"is_subscribed": False},
        "addresses": [{"id": aid, "customer_id": cid, "region": {"region_code": "WA", "region": "Washington",
                                                                 "region_id": 62},
                       "region_id": 62, "country_id": "US", "street": ["3933 Ace Ave"],
                       "telephone": "+1 (206) 555-0101",
                       "postcode": "98104", "city": "Seattle", "firstname": "Alta", "lastname": "Ace",
                       "default_shipping": True, "default_billing": True}],
    }
