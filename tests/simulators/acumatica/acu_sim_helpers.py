"""Helpers shared by the Acumatica simulator tests."""

from __future__ import annotations

from typing import Any

import httpx

from acumatica_sim.config import ADMIN_PASSWORD, ADMIN_USERNAME, TENANT

BASE = "/entity/Default/24.200.001"


def login(url: str, timeout: float = 5.0) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=timeout)
    r = c.post("/entity/auth/login", json={"name": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "tenant": TENANT})
    assert r.status_code == 204, r.text
    return c


def val(entity: dict[str, Any], *path: str) -> Any:
    """Unwrap ``entity[path...]["value"]``."""
    node: Any = entity
    for p in path:
        node = node[p]
    return node.get("value")


def order_body(qty: int = 2, customer: str = "AACUSTOMER", item: str = "WATER2809", **extra: Any) -> dict[str, Any]:
    return {"OrderType": {"value": "SO"}, "CustomerID": {"value": customer},
            "Details": [{"InventoryID": {"value": item}, "OrderQty": {"value": qty},
                         "WarehouseID": {"value": "RETAIL"}}],
            **extra}
