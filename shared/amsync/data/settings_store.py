"""Preferences and mapping tables in DynamoDB (SettingsTable), cached for a few seconds per container.

Items (pk, sk): ``("pref", "order-sync")``, ``("pref", "push-queries")``, ``("map#shipvia", "<SHIPVIA>#<view>")``,
``("map#payment", "<method>")``, ``("map#orderstatus", "<status>#<view>")``, ``("map#warehouse", "<WH>")``,
``("pref", "customer-sync")``, ``("map#customerclass", "<group|*>#<website|*>")``.
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel

from amsync.data.aws import table
from amsync.models.settings import (
    CustomerClassMapping,
    CustomerSyncPreferences,
    OrderStatusMapping,
    OrderSyncPreferences,
    PaymentMapping,
    PushQueries,
    ShipViaMapping,
    WarehouseMapping,
)

M = TypeVar("M", bound=BaseModel)
CACHE_S = 5.0

MAPPINGS: dict[str, type[BaseModel]] = {
    "shipvia": ShipViaMapping,
    "payment": PaymentMapping,
    "orderstatus": OrderStatusMapping,
    "warehouse": WarehouseMapping,
    "customerclass": CustomerClassMapping,
}


def mapping_sort_key(kind: str, m: BaseModel) -> str:
    if isinstance(m, ShipViaMapping):
        return f"{m.ship_via.upper()}#{m.store_view}"
    if isinstance(m, PaymentMapping):
        return m.acumatica_method.upper()
    if isinstance(m, OrderStatusMapping):
        return f"{m.acumatica_status}#{m.store_view}"
    if isinstance(m, WarehouseMapping):
        return m.warehouse_id.upper()
    if isinstance(m, CustomerClassMapping):
        group, website = m.magento_group_id, m.magento_website_id
        return f"{'*' if group is None else group}#{'*' if website is None else website}"
    raise ValueError(kind)


class SettingsStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._cache: dict[str, tuple[float, Any]] = {}

    def _cached(self, key: str, load: Any, fresh: bool) -> Any:
        hit = self._cache.get(key)
        if hit and not fresh and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        value = load()
        self._cache[key] = (time.monotonic(), value)
        return value

    def invalidate(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ preferences
    def _pref(self, sk: str, model: type[M], fresh: bool) -> M:
        def load() -> M:
            item = table(self._name).get_item(Key={"pk": "pref", "sk": sk}).get("Item")
            return model.model_validate(json.loads(item["value"])) if item else model()
        result: M = self._cached(f"pref#{sk}", load, fresh)
        return result

    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return self._pref("order-sync", OrderSyncPreferences, fresh)

    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences:
        return self._pref("customer-sync", CustomerSyncPreferences, fresh)

    def push_queries(self, fresh: bool = False) -> PushQueries:
        return self._pref("push-queries", PushQueries, fresh)

    def put_preferences(self, sk: str, value: BaseModel) -> None:
        table(self._name).put_item(Item={"pk": "pref", "sk": sk, "value": value.model_dump_json()})
        self.invalidate()

    # ------------------------------------------------------------------ mappings
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        model = MAPPINGS[kind]

        def load() -> list[Any]:
            items: list[Any] = []
            kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"map#{kind}")}
            while True:
                resp = table(self._name).query(**kwargs)
                items.extend(model.model_validate(json.loads(i["value"])) for i in resp.get("Items", []))
                if "LastEvaluatedKey" not in resp:
                    return items
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        result: list[Any] = self._cached(f"map#{kind}", load, fresh)
        return result

    def put_mapping(self, kind: str, mapping: BaseModel) -> None:
        table(self._name).put_item(Item={"pk": f"map#{kind}", "sk": mapping_sort_key(kind, mapping),
                                         "value": mapping.model_dump_json()})
        self.invalidate()

    def delete_mapping(self, kind: str, sort_key: str) -> bool:
        resp = table(self._name).delete_item(Key={"pk": f"map#{kind}", "sk": sort_key}, ReturnValues="ALL_OLD")
        self.invalidate()
        return "Attributes" in resp

    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None:
        """The mapping for this store view, else the All Store Views one."""
        by_key = {(m.ship_via.upper(), m.store_view): m for m in self.mappings("shipvia", fresh)}
        return by_key.get((ship_via.upper(), store_view)) or by_key.get((ship_via.upper(), "all"))
