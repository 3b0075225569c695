"""Catalog, customers, stores, MSI inventory and guest carts. Callers hold ``state.lock``."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.sales import f, r4, to_int
from magento_sim.state import State, now

SOURCE_ITEM_TYPE = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"


# -- products ------------------------------------------------------------------------------------------------
def product_view(state: State, product: dict[str, Any]) -> dict[str, Any]:
    view = copy.deepcopy(product)
    view.setdefault("extension_attributes", {})["stock_item"] = stock_item(state, product)
    return view


def get_product(state: State, sku: str) -> dict[str, Any]:
    product = state.products.get(sku)
    if product is None:
        raise MagentoError(404, E.MSG_NO_PRODUCT)
    return product_view(state, product)


def stock_item(state: State, product: dict[str, Any]) -> dict[str, Any]:
    """Legacy CatalogInventory stock item: mirrors the default source (MSI single-source translation)."""
    si = state.source_items.get((product["sku"], C.DEFAULT_SOURCE))
    qty = f(si["quantity"]) if si else 0.0
    return {
        "item_id": product["id"], "product_id": product["id"], "stock_id": C.DEFAULT_STOCK_ID, "qty": qty,
        "is_in_stock": bool(si and si["status"] == 1 and qty > 0), "is_qty_decimal": False,
        "show_default_notification_message": False, "use_config_min_qty": True, "min_qty": 0,
        "use_config_min_sale_qty": 1, "min_sale_qty": 1, "use_config_max_sale_qty": True, "max_sale_qty": 10000,
        "use_config_backorders": True, "backorders": 0, "use_config_notify_stock_qty": True,
        "notify_stock_qty": 1, "use_config_qty_increments": True, "qty_increments": 0,
        "use_config_enable_qty_inc": True, "enable_qty_increments": False, "use_config_manage_stock": True,
        "manage_stock": True, "low_stock_date": None, "is_decimal_divided": False, "stock_status_changed_auto": 0,
    }


def _product_or_404_sku(state: State, sku: str) -> dict[str, Any]:
    product = state.products.get(sku)
    if product is None:
        raise MagentoError(404, E.MSG_NO_PRODUCT_SKU, [sku])
    return product


def get_stock_item(state: State, sku: str) -> dict[str, Any]:
    return stock_item(state, _product_or_404_sku(state, sku))


def update_stock_item(state: State, sku: str, body: dict[str, Any]) -> int:
    """PUT /V1/products/{sku}/stockItems/{itemId}: partial merge, applied to the default source."""
    product = _product_or_404_sku(state, sku)
    data = body.get("stockItem") or body.get("stock_item")
    if not isinstance(data, dict):
        raise E.required("stockItem")
    key = (sku, C.DEFAULT_SOURCE)
    si = state.source_items.setdefault(key, {"sku": sku, "source_code": C.DEFAULT_SOURCE, "quantity": 0.0,
                                             "status": 0})
    if "qty" in data:
        si["quantity"] = f(data["qty"])
    if "is_in_stock" in data:
        si["status"] = 1 if data["is_in_stock"] in (True, 1, "1", "true") else 0
    product["updated_at"] = now()
    return int(product["id"])


# -- customers -----------------------------------------------------------------------------------------------
def get_customer(state: State, customer_id: Any) -> dict[str, Any]:
    cid = to_int(customer_id)
    customer = state.customers.get(cid or 0)
    if customer is None:
        raise MagentoError(404, E.MSG_NO_SUCH_ENTITY_FIELD, {"fieldName": "customerId", "fieldValue": customer_id})
    return copy.deepcopy(customer)


def _check_email(state: State, email: str, website_id: int, own_id: int | None) -> None:
    for c in state.customers.values():
        if c["id"] != own_id and str(c["email"]).casefold() == email.casefold() and c["website_id"] == website_id:
            raise MagentoError(400, E.MSG_CUSTOMER_EXISTS)


def _addresses(state: State, customer: dict[str, Any], sent: list[Any]) -> None:
    out = []
    for a in sent:
        if not isinstance(a, dict):
            continue
        addr = copy.deepcopy(a)
        addr["id"] = to_int(addr.get("id")) or state.next("customer_address")
        addr["customer_id"] = customer["id"]
        for flag in ("default_billing", "default_shipping"):
            if addr.get(flag):
                customer[flag] = str(addr["id"])
        out.append(addr)
    customer["addresses"] = out
    ids = {str(a["id"]) for a in out}
    for flag in ("default_billing", "default_shipping"):
        if customer.get(flag) and customer[flag] not in ids:
            customer.pop(flag)
        for a in out:
            a[flag] = customer.get(flag) == str(a["id"])


def _validate_customer(data: dict[str, Any]) -> None:
    for fld in ("email", "firstname", "lastname"):
        if not str(data.get(fld) or "").strip():
            raise E.required(fld)


def create_customer(state: State, data: Any, source: str = "admin") -> dict[str, Any]:
    """POST /V1/customers (AccountManagement::createAccount); email unique per website."""
    if not isinstance(data, dict):
        raise E.required("customer")
    _validate_customer(data)
    website_id = to_int(data.get("website_id")) or 1
    _check_email(state, str(data["email"]), website_id, None)
    ts = now()
    customer = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("id", "addresses")}
    customer.update({"id": state.next("customer"), "website_id": website_id,
                     "store_id": to_int(data.get("store_id")) or 1, "group_id": to_int(data.get("group_id")) or 1,
                     "created_at": ts, "updated_at": ts, "created_in": "Default Store View",
                     "disable_auto_group_change": to_int(data.get("disable_auto_group_change")) or 0})
    customer.setdefault("extension_attributes", {}).setdefault("is_subscribed", False)
    _addresses(state, customer, data.get("addresses") or [])
    state.customers[customer["id"]] = customer
    return copy.deepcopy(customer)


def update_customer(state: State, customer_id: Any, data: Any) -> dict[str, Any]:
    """PUT /V1/customers/{customerId}: the path id wins; omitted addresses are kept, sent ones replace them."""
    existing = state.customers.get(to_int(customer_id) or 0)
    if existing is None:
        raise MagentoError(404, E.MSG_NO_SUCH_ENTITY_FIELD, {"fieldName": "customerId", "fieldValue": customer_id})
    if not isinstance(data, dict):
        raise E.required("customer")
    merged = copy.deepcopy(existing)
    merged.update({k: copy.deepcopy(v) for k, v in data.items() if k not in ("id", "addresses", "created_at")})
    _validate_customer(merged)
    _check_email(state, str(merged["email"]), int(merged["website_id"]), existing["id"])
    if "addresses" in data:
        _addresses(state, merged, data.get("addresses") or [])
    merged["updated_at"] = now()
    state.customers[existing["id"]] = merged
    return copy.deepcopy(merged)


# -- MSI -----------------------------------------------------------------------------------------------------
def _source_item_errors(items: list[Any]) -> list[dict[str, Any]]:
    errs: list[dict[str, Any]] = []
    for it in items:
        d = it if isinstance(it, dict) else {}
        if not str(d.get("sku") or "").strip():
            errs.append({"message": '"%field" can not be empty.', "parameters": {"field": "sku"}})
        code = str(d.get("source_code") or "")
        if not code.strip():
            errs.append({"message": '"%field" can not be empty.', "parameters": {"field": "source_code"}})
        elif any(ch.isspace() for ch in code):
            errs.append({"message": '"%field" can not contain whitespaces.', "parameters": {"field": "source_code"}})
        if "quantity" in d and not _numeric(d["quantity"]):
            errs.append({"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}})
        if "status" in d and str(d["status"]) not in ("0", "1", "True", "False"):
            errs.append({"message": '"%field" should be numeric.', "parameters": {"field": "status"}})
    return errs


def _numeric(v: Any) -> bool:
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


def _limit(state: State, items: list[Any]) -> None:
    if state.config.input_limits and len(items) > state.config.input_limit_max_items:
        raise MagentoError(400, E.MSG_MAX_ITEMS, {"type": SOURCE_ITEM_TYPE, "max": state.config.input_limit_max_items})


def save_source_items(state: State, items: Any) -> list[Any]:
    """POST /V1/inventory/source-items: absolute-quantity upsert, all or nothing."""
    if items is None:
        raise E.required("sourceItems")
    if not isinstance(items, list) or not items:
        raise MagentoError(400, E.MSG_INPUT_EMPTY)
    _limit(state, items)
    errs = _source_item_errors(items)
    if errs:
        raise MagentoError(400, E.MSG_VALIDATION, errors=errs)
    for it in items:
        if it["source_code"] not in state.sources:  # FK violation on inventory_source_item.source_code
            raise MagentoError(400, E.MSG_SOURCE_ITEM_SAVE)
        if it["sku"] not in state.products and not state.config.orphan_source_items:
            raise MagentoError(400, E.MSG_SOURCE_ITEM_SAVE)
    for it in items:
        key = (str(it["sku"]), str(it["source_code"]))
        row = state.source_items.setdefault(key, {"sku": key[0], "source_code": key[1], "quantity": 0.0,
                                                  "status": 0})
        if "quantity" in it:
            row["quantity"] = r4(f(it["quantity"]))
        if "status" in it:
            row["status"] = 1 if str(it["status"]) in ("1", "True") else 0
    return []


def delete_source_items(state: State, items: Any) -> list[Any]:
    if items is None:
        raise E.required("sourceItems")
    if not isinstance(items, list) or not items:
        raise MagentoError(400, E.MSG_INPUT_EMPTY)
    _limit(state, items)
    for it in items:
        if isinstance(it, dict):
            state.source_items.pop((str(it.get("sku")), str(it.get("source_code"))), None)
    return []


def salable_qty(state: State, sku: str, stock_id: Any) -> float:
    """Σ in-stock source qty of the stock's sources + Σ reservations (negative = reserved)."""
    if sku not in state.products:
        raise MagentoError(400, E.MSG_SKUS_NOT_FOUND, {"skus": sku})
    sid = to_int(stock_id)
    sources = state.stock_sources(sid or 0)
    if not sources:
        raise MagentoError(404, "Stock with id \"%value\" does not exist.",
                           {"value": stock_id})
    qty = sum(f(si["quantity"]) for (s, code), si in state.source_items.items()
              if s == sku and code in sources and si["status"] == 1)
    qty += state.reserved(sku, sid or 0)
    return r4(qty)


def sources_view(state: State) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if not k.startswith("_")} for s in state.sources.values()]


# -- guest carts and shipping estimates ---------------------------------------------------------------------
def _cart(state: State, cart_id: str) -> dict[str, Any]:
    cart = state.carts.get(cart_id)
    if cart is None:
        raise MagentoError(404, E.MSG_NO_SUCH_ENTITY_FIELD, {"fieldName": "cartId", "fieldValue": cart_id})
    return cart


def create_guest_cart(state: State, store_id: int | None = None) -> str:
    """A quote in the current store (``/rest/<store>/V1/guest-carts``; the default view for ``/rest/V1``)."""
    masked = secrets.token_hex(16)
    state.carts[masked] = {"id": state.next("quote"), "masked_id": masked, "items": [], "created_at": now(),
                           "store_id": store_id if store_id is not None else 1}
    return masked


MSG_NOT_AVAILABLE = "Product that you are trying to add is not available."


def add_cart_item(state: State, cart_id: str, data: Any) -> dict[str, Any]:
    cart = _cart(state, cart_id)
    if not isinstance(data, dict):
        raise E.required("cartItem")
    product = state.products.get(str(data.get("sku")))
    if product is None:
        raise MagentoError(404, E.MSG_NO_PRODUCT)
    store = next((s for s in state.stores if s["id"] == cart.get("store_id")), None)
    websites = (product.get("extension_attributes") or {}).get("website_ids") or []
    if product.get("status") != 1 or store is None or store["website_id"] not in websites:
        raise MagentoError(400, MSG_NOT_AVAILABLE)  # Quote::addProduct: not salable in the quote's website
    qty = f(data.get("qty")) or 1.0
    for item in cart["items"]:
        if item["sku"] == product["sku"]:
            item["qty"] = r4(item["qty"] + qty)
            return copy.deepcopy(item)
    item = {"item_id": state.next("quote_item"), "sku": product["sku"], "qty": qty, "name": product["name"],
            "price": product["price"], "product_type": product["type_id"], "quote_id": cart_id}
    cart["items"].append(item)
    return copy.deepcopy(item)


def estimate_shipping(state: State, cart_id: str, address: Any) -> list[dict[str, Any]]:
    """ShipmentEstimation: one rate per active carrier; [] for an empty cart."""
    cart = _cart(state, cart_id)
    if not isinstance(address, dict):
        raise E.required("address")
    qty = sum(i["qty"] for i in cart["items"])
    if not cart["items"]:
        return []
    rates = []
    for c in state.carriers:
        if not c["active"]:
            continue
        amount = r4(c["price"] * qty if c["type"] == "per_item" else c["price"])
        rates.append({"carrier_code": c["carrier_code"], "method_code": c["method_code"],
                      "carrier_title": c["carrier_title"], "method_title": c["method_title"], "amount": amount,
                      "base_amount": amount, "available": True, "error_message": "", "price_excl_tax": amount,
                      "price_incl_tax": amount})
    return rates
