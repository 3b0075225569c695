"""Preferences and mapping tables in DynamoDB (SettingsTable), cached for a few seconds per container.

Items (pk, sk): ``("pref", "order-sync")``, ``("pref", "push-queries")``, ``("map#shipvia", "<SHIPVIA>#<view>")``,
``("map#payment", "<method>")``, ``("map#orderstatus", "<status>#<view>")``, ``("map#warehouse", "<WH>")``,
``("pref", "customer-sync")``, ``("map#customerclass", "<group|*>#<website|*>")``,
``("map#store", "<branch|*>#<order type|*>#<customer class|*>")``, ``("map#product", "<INVENTORYID>#<UOM|*>")``,
``("pref", "order-mapping")``; a warehouse row for one website only is
``("map#warehouse", "<WH>#<website id>")``.
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar

from pydantic import BaseModel

from amsync.data.aws import client, table
from amsync.models.settings import (
    CustomerClassMapping,
    CustomerSyncPreferences,
    OrderMappingPreferences,
    OrderStatusMapping,
    OrderSyncPreferences,
    PaymentMapping,
    ProductMapping,
    PushQueries,
    ReturnSyncPreferences,
    ShipViaMapping,
    StoreMapping,
    WarehouseMapping,
)

M = TypeVar("M", bound=BaseModel)
# Settings are cached per container and checked against a change stamp (one small item every writer through this
# store bumps: the CLI, the console, the seeds): at most every CACHE_S seconds, or at once on a ``fresh`` read. A
# change therefore takes effect in every container within CACHE_S seconds (at once for a ``fresh`` read: a resync,
# a replay); a cached value is reloaded after MAX_AGE_S whatever the stamp says.
CACHE_S = 5.0
MAX_AGE_S = 300.0
STAMP_KEY = {"pk": "stamp", "sk": "settings"}
# the reads (every container, every few seconds) go through the low-level client: the items are small and plain
_STAMP = {"pk": {"S": "stamp"}, "sk": {"S": "settings"}}


class _Shared:
    """A store's cache (per instance, as a container builds it: nothing is shared through the process, so the local
    world, where several functions and the CLI share one process, is no quicker to see a change than AWS)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, Any]] = {}
        self.stamp: str | None = None
        self.checked = float("-inf")


MAPPINGS: dict[str, type[BaseModel]] = {
    "shipvia": ShipViaMapping,
    "payment": PaymentMapping,
    "orderstatus": OrderStatusMapping,
    "warehouse": WarehouseMapping,
    "customerclass": CustomerClassMapping,
    "store": StoreMapping,
    "product": ProductMapping,
}


def mapping_sort_key(kind: str, m: BaseModel) -> str:
    if isinstance(m, ShipViaMapping):
        return f"{m.ship_via.upper()}#{m.store_view}"
    if isinstance(m, PaymentMapping):
        return m.acumatica_method.upper()
    if isinstance(m, OrderStatusMapping):
        return f"{m.acumatica_status}#{m.store_view}"
    if isinstance(m, WarehouseMapping):
        return m.warehouse_id.upper() + ("" if m.website_id is None else f"#{m.website_id}")
    if isinstance(m, ProductMapping):
        return f"{m.inventory_id.upper()}#{m.uom.upper()}"
    if isinstance(m, StoreMapping):
        return "#".join(c or "*" for c in (m.branch, m.order_type, m.customer_class))
    if isinstance(m, CustomerClassMapping):
        group, website = m.magento_group_id, m.magento_website_id
        return f"{'*' if group is None else group}#{'*' if website is None else website}"
    raise ValueError(kind)


class SettingsStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._shared = _Shared()

    @property
    def _cache(self) -> dict[str, tuple[float, Any]]:
        return self._shared.values

    def _check_stamp(self, force: bool) -> None:
        """Drop the cache if a writer bumped the change stamp since it was last checked (every CACHE_S at most)."""
        shared, at = self._shared, time.monotonic()
        if not force and at - shared.checked < CACHE_S:
            return
        item = client("dynamodb").get_item(TableName=self._name, Key=_STAMP, ConsistentRead=True).get("Item")
        stamp = str(item["version"]["N"]) if item and "version" in item else "0"
        if stamp != shared.stamp:
            shared.values.clear()
            shared.stamp = stamp
        shared.checked = at

    def _cached(self, key: str, load: Any, fresh: bool) -> Any:
        self._check_stamp(fresh)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < MAX_AGE_S:
            return hit[1]
        value = load()
        self._cache[key] = (time.monotonic(), value)
        return value

    def invalidate(self) -> None:
        """Drop this container's cache now (the next read checks the stamp and loads afresh)."""
        self._shared.values.clear()
        self._shared.checked = float("-inf")

    def _changed(self) -> None:
        """After a write through this store: bump the change stamp (every container drops its cache within
        CACHE_S), and drop this container's cache now."""
        table(self._name).update_item(Key=STAMP_KEY, UpdateExpression="ADD version :one",
                                      ExpressionAttributeValues={":one": 1})
        self.invalidate()

    # ------------------------------------------------------------------ preferences
    def _pref(self, sk: str, model: type[M], fresh: bool) -> M:
        def load() -> M:
            item = client("dynamodb").get_item(TableName=self._name, Key={"pk": {"S": "pref"}, "sk": {"S": sk}},
                                               ConsistentRead=True).get("Item")
            return model.model_validate(json.loads(item["value"]["S"])) if item else model()
        result: M = self._cached(f"pref#{sk}", load, fresh)
        return result

    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return self._pref("order-sync", OrderSyncPreferences, fresh)

    def order_mapping(self, fresh: bool = False) -> OrderMappingPreferences:
        return self._pref("order-mapping", OrderMappingPreferences, fresh)

    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences:
        return self._pref("customer-sync", CustomerSyncPreferences, fresh)

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return self._pref("return-sync", ReturnSyncPreferences, fresh)

    def push_queries(self, fresh: bool = False) -> PushQueries:
        return self._pref("push-queries", PushQueries, fresh)

    def put_preferences(self, sk: str, value: BaseModel) -> None:
        table(self._name).put_item(Item={"pk": "pref", "sk": sk, "value": value.model_dump_json()})
        self._changed()

    # ------------------------------------------------------------------ mappings
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        model = MAPPINGS[kind]

        def load() -> list[Any]:
            items: list[Any] = []
            kwargs: dict[str, Any] = {"TableName": self._name, "KeyConditionExpression": "pk = :pk",
                                      "ExpressionAttributeValues": {":pk": {"S": f"map#{kind}"}},
                                      "ConsistentRead": True}
            while True:
                resp = client("dynamodb").query(**kwargs)
                items.extend(model.model_validate(json.loads(i["value"]["S"])) for i in resp.get("Items", []))
                if "LastEvaluatedKey" not in resp:
                    return items
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        result: list[Any] = self._cached(f"map#{kind}", load, fresh)
        return result

    def put_mapping(self, kind: str, mapping: BaseModel) -> None:
        table(self._name).put_item(Item={"pk": f"map#{kind}", "sk": mapping_sort_key(kind, mapping),
                                         "value": mapping.model_dump_json()})
        self._changed()

    def delete_mapping(self, kind: str, sort_key: str) -> bool:
        resp = table(self._name).delete_item(Key={"pk": f"map#{kind}", "sk": sort_key}, ReturnValues="ALL_OLD")
        self._changed()
        return "Attributes" in resp

    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None:
        """The mapping for this store view, else the All Store Views one."""
        by_key = {(m.ship_via.upper(), m.store_view): m for m in self.mappings("shipvia", fresh)}
        return by_key.get((ship_via.upper(), store_view)) or by_key.get((ship_via.upper(), "all"))
