"""Websites, store groups, store views, their configs and currencies (``Magento\\Store``, ``Magento\\Directory``).

The REST path's store code picks the current store as ``Magento\\Webapi\\Controller\\PathProcessor`` does: a known
store view code (the admin store is not one), ``all`` (the admin store, id 0), or no code at all (``/rest/V1``: the
default store view of the default website). Callers hold ``state.lock``.
"""

from __future__ import annotations

import copy
from typing import Any

from magento_sim.state import State

#: en_US symbols (ICU) of the currencies a test is likely to use; others show their code, as ICU does.
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥", "CHF": "CHF",
                    "MXN": "MX$", "NZD": "NZ$", "CNY": "CN¥", "INR": "₹", "SEK": "SEK", "DKK": "DKK", "NOK": "NOK",
                    "PLN": "PLN", "BRL": "R$", "HKD": "HK$", "SGD": "SGD", "ZAR": "ZAR"}
DEFAULT_CURRENCY = "USD"
#: Store view settings the control API accepts (kept as private ``_`` keys: no REST getter serialises them).
STORE_SETTINGS = ("default_display_currency_code", "allowed_currencies", "locale", "timezone", "weight_unit",
                  "base_url", "secure_base_url")
WEBSITE_SETTINGS = ("base_currency_code", "is_default")


# -- the current store -----------------------------------------------------------------------------------------
def store_codes(state: State) -> set[str]:
    """Codes a REST path may carry: every store view but the admin one (``getStores(false, true)``)."""
    return {s["code"] for s in state.stores if s["id"] != 0}


def by_id(rows: list[dict[str, Any]], row_id: Any) -> dict[str, Any] | None:
    return next((r for r in rows if str(r["id"]) == str(row_id)), None)


def default_store(state: State) -> dict[str, Any]:
    """The default website's default group's default store view (``StoreManager::getDefaultStoreView``)."""
    site = next((w for w in state.websites if w.get("_is_default")), None) or by_id(state.websites, 1)
    group = by_id(state.store_groups, (site or {}).get("default_group_id"))
    store = by_id(state.stores, (group or {}).get("default_store_id"))
    return store or next(s for s in state.stores if s["id"] != 0)


def current_store(state: State, code: str | None) -> dict[str, Any]:
    """The store a REST call runs in: ``None`` (``/rest/V1``) = the default view, ``all`` = admin (id 0)."""
    if code is None:
        return default_store(state)
    if code == "all":
        return by_id(state.stores, 0) or default_store(state)
    return next(s for s in state.stores if s["code"] == code)


def base_currency(state: State, store: dict[str, Any]) -> str:
    """Base currency of a store: its website's (catalog price scope = website), else the global one."""
    site = by_id(state.websites, store.get("website_id"))
    if store.get("id") == 0 or site is None:
        return str(state.global_base_currency)
    return str(site.get("_base_currency_code") or state.global_base_currency)


def display_currency(state: State, store: dict[str, Any]) -> str:
    return str(store.get("_default_display_currency_code") or base_currency(state, store))


def allowed_currencies(state: State, store: dict[str, Any]) -> list[str]:
    codes = store.get("_allowed_currencies")
    if not codes:
        codes = sorted({base_currency(state, store), display_currency(state, store)})
    return list(codes)


def rate(state: State, base: str, to: str) -> float | None:
    """``directory_currency_rate`` lookup (a currency to itself is 1)."""
    if base == to:
        return 1.0
    value = state.currency_rates.get(base, {}).get(to)
    return float(value) if value is not None else None


# -- REST reads ------------------------------------------------------------------------------------------------
def _public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: copy.deepcopy(v) for k, v in r.items() if not k.startswith("_")} for r in rows]


def websites(state: State) -> list[dict[str, Any]]:
    return _public(state.websites)


def store_groups(state: State) -> list[dict[str, Any]]:
    return _public(state.store_groups)


def store_views(state: State) -> list[dict[str, Any]]:
    return _public(state.stores)


def store_configs(state: State, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """``StoreConfigManager::getStoreConfigs``: every store view but admin, or those named in ``storeCodes``."""
    out = []
    for s in state.stores:
        if s["id"] == 0 or (codes and s["code"] not in codes):
            continue
        base_url = str(s.get("_base_url") or "http://magento.test/")
        secure = str(s.get("_secure_base_url") or base_url.replace("http://", "https://", 1))
        out.append({"id": s["id"], "code": s["code"], "website_id": s["website_id"],
                    "locale": s.get("_locale") or "en_US", "base_currency_code": base_currency(state, s),
                    "default_display_currency_code": display_currency(state, s),
                    "timezone": s.get("_timezone") or "America/Los_Angeles",
                    "weight_unit": s.get("_weight_unit") or "lbs", "base_url": base_url, "base_link_url": base_url,
                    "base_static_url": base_url + "static/", "base_media_url": base_url + "media/",
                    "secure_base_url": secure, "secure_base_link_url": secure,
                    "secure_base_static_url": secure + "static/", "secure_base_media_url": secure + "media/"})
    return out


def currency_info(state: State, store: dict[str, Any]) -> dict[str, Any]:
    """``CurrencyInformationAcquirer::getCurrencyInfo`` for the current store: rates only where one is set."""
    base, display = base_currency(state, store), display_currency(state, store)
    codes = allowed_currencies(state, store)
    rates = [{"currency_to": c, "rate": r} for c in codes if (r := rate(state, base, c))]
    return {"base_currency_code": base, "base_currency_symbol": CURRENCY_SYMBOLS.get(base, base),
            "default_display_currency_code": display,
            "default_display_currency_symbol": CURRENCY_SYMBOLS.get(display, display),
            "available_currency_codes": codes, "exchange_rates": rates}


# -- control API (test seeding) -----------------------------------------------------------------------------------
def _upsert(rows: list[dict[str, Any]], data: dict[str, Any], keys: tuple[str, ...], settings: tuple[str, ...],
            counter: int) -> dict[str, Any]:
    code = str(data.get("code") or "").strip()
    if not code:
        raise ValueError("every website, group and store needs a code")
    row = next((r for r in rows if r["code"] == code), None)
    if row is None:
        row = {"id": int(data.get("id") or max([counter] + [r["id"] + 1 for r in rows])), "code": code}
        if by_id(rows, row["id"]) is not None:
            raise ValueError(f"id {row['id']} is taken")
        rows.append(row)
    for k in keys:
        if k in data:
            row[k] = data[k]
    for k in settings:
        if k in data:
            row["_" + k] = copy.deepcopy(data[k])
    return row


def seed_stores(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """``POST /_sim/stores``: upsert websites, groups and store views by code (ids given or next free)."""
    for w in data.get("websites") or []:
        row = _upsert(state.websites, w, ("name", "default_group_id"), WEBSITE_SETTINGS, 1)
        row.setdefault("name", row["code"])
        row.setdefault("default_group_id", 0)
        if w.get("is_default"):
            for other in state.websites:
                other["_is_default"] = other is row
    for g in data.get("groups") or []:
        row = _upsert(state.store_groups, g, ("website_id", "name", "root_category_id", "default_store_id"), (), 1)
        row.setdefault("name", row["code"])
        row.setdefault("root_category_id", 2)
        row.setdefault("default_store_id", 0)
        if by_id(state.websites, row.get("website_id")) is None:
            raise ValueError(f"group {row['code']}: unknown website_id {row.get('website_id')}")
    for s in data.get("stores") or []:
        row = _upsert(state.stores, s, ("name", "website_id", "store_group_id", "is_active"), STORE_SETTINGS, 1)
        row.setdefault("name", row["code"])
        row.setdefault("is_active", 1)
        group = by_id(state.store_groups, row.get("store_group_id"))
        if group is None or by_id(state.websites, row.get("website_id")) is None:
            raise ValueError(f"store {row['code']}: unknown website_id or store_group_id")
        if group["website_id"] != row["website_id"]:
            raise ValueError(f"store {row['code']}: group {group['id']} belongs to website {group['website_id']}")
        if not group.get("default_store_id"):
            group["default_store_id"] = row["id"]
    for g in state.store_groups:
        site = by_id(state.websites, g["website_id"])
        if site is not None and g["id"] != 0 and not site.get("default_group_id"):
            site["default_group_id"] = g["id"]
    return stores_view(state)


def set_currencies(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """``POST /_sim/currency``: ``{"base_currency_code"?, "rates"?: {"USD": {"EUR": 0.92}}}`` (rates merge)."""
    if data.get("base_currency_code"):
        state.global_base_currency = str(data["base_currency_code"])
    for base, targets in (data.get("rates") or {}).items():
        if not isinstance(targets, dict):
            raise ValueError("rates: {base: {currency_to: rate}}")
        for to, value in targets.items():
            if float(value) <= 0:
                raise ValueError(f"rate {base}->{to} must be positive")
            state.currency_rates.setdefault(str(base), {})[str(to)] = float(value)
    return {"base_currency_code": state.global_base_currency, "rates": copy.deepcopy(state.currency_rates)}


def stores_view(state: State) -> dict[str, Any]:
    """Control view: the REST shapes plus each store's settings (currencies)."""
    return {"websites": copy.deepcopy(state.websites), "groups": copy.deepcopy(state.store_groups),
            "stores": copy.deepcopy(state.stores), "configs": store_configs(state),
            "currency": {"base_currency_code": state.global_base_currency,
                         "rates": copy.deepcopy(state.currency_rates)}}
