"""Which Magento website and store view an Acumatica order goes to (the store mapping, SettingsStore kind "store").

A row names any of branch, order type and customer class (None = any) and the website id, store id and store view
code it sends orders to. Of the rows matching an order, the most specific wins, in this documented order: a row
naming the branch beats every row that does not, then one naming the order type, then one naming the customer
class (the settings key ``<branch|*>#<type|*>#<class|*>`` is unique, so there is never a tie). No row matching
(or no rows at all): the order sync preferences' ``website_id`` / ``store_id`` / ``store_view``, the stack's one
store, as before there were mappings.

The same rows tell the other way round which store view code (and website) a Magento store id is: the shipment's
tracking carrier (Ship Via mapping per store view), the order status mapping and the shipment's source use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from amsync.models.acumatica import SalesOrder
from amsync.models.settings import OrderSyncPreferences, StoreMapping


@dataclass(frozen=True)
class StoreTarget:
    website_id: int
    store_id: int
    store_view: str
    chosen_by: str  # "the default store (order sync preferences)" or "store mapping <key>"
    base_currency: str | None = None  # the store's website's base currency, None = the order mapping preferences'
    allowed_currencies: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"store view {self.store_view} (store {self.store_id}, website {self.website_id}; {self.chosen_by})"


def mapping_key(m: StoreMapping) -> str:
    return "#".join(c or "*" for c in (m.branch, m.order_type, m.customer_class))


def _specificity(m: StoreMapping) -> tuple[bool, bool, bool]:
    return m.branch is not None, m.order_type is not None, m.customer_class is not None


def _norm(value: str | None) -> str:
    return (value or "").strip().upper()


def matches(m: StoreMapping, order: SalesOrder, customer_class: str | None) -> bool:
    return ((m.branch is None or m.branch == _norm(order.branch))
            and (m.order_type is None or m.order_type == _norm(order.order_type))
            and (m.customer_class is None or m.customer_class == _norm(customer_class)))


def needs_customer_class(mappings: Iterable[StoreMapping]) -> bool:
    """Whether choosing the store needs the order's customer class (a row names one)."""
    return any(m.customer_class is not None for m in mappings)


def default_target(prefs: OrderSyncPreferences) -> StoreTarget:
    return StoreTarget(prefs.website_id, prefs.store_id, prefs.store_view,
                       "the default store (order sync preferences)")


def resolve_store(order: SalesOrder, customer_class: str | None, prefs: OrderSyncPreferences,
                  mappings: Iterable[StoreMapping]) -> StoreTarget:
    """The website and store view ``order`` goes to (the module's doc gives the order rows are tried in)."""
    found = [m for m in mappings if matches(m, order, customer_class)]
    if not found:
        return default_target(prefs)
    best = max(found, key=_specificity)
    allowed = tuple(best.allowed_currencies) if best.allowed_currencies is not None else None
    return StoreTarget(best.website_id, best.store_id, best.store_view, f"store mapping {mapping_key(best)}",
                       best.base_currency, allowed)


def store_view_of(store_id: int | None, prefs: OrderSyncPreferences, mappings: Iterable[StoreMapping]) -> str:
    """The store view code of a Magento store id, as the store mappings (or the preferences) name it. A store id
    no row names (an order created in Magento itself, for instance) is "all": only All Store Views rows apply."""
    if store_id is None or store_id == prefs.store_id:
        return prefs.store_view
    for m in mappings:
        if m.store_id == store_id:
            return m.store_view
    return "all"


def website_of(store_id: int | None, prefs: OrderSyncPreferences, mappings: Iterable[StoreMapping]) -> int | None:
    """The website of a Magento store id, as the store mappings (or the preferences) name it; None if unknown."""
    if store_id is None or store_id == prefs.store_id:
        return prefs.website_id
    return next((m.website_id for m in mappings if m.store_id == store_id), None)
