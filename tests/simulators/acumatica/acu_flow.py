"""Walkthrough steps as functions (used by the flow, push and contract tests)."""

from __future__ import annotations

from typing import Any

import httpx
from acu_sim_helpers import BASE, order_body, val


def run_action(c: httpx.Client, entity: str, action: str, keys: dict[str, Any],
               params: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"entity": {k: {"value": v} for k, v in keys.items()}}
    if params is not None:
        body["parameters"] = {k: {"value": v} for k, v in params.items()}
    r = c.post(f"{BASE}/{entity}/{action}", json=body)
    if r.status_code == 202:
        loc = r.headers["Location"]
        for _ in range(5):
            p = c.get(loc)
            if p.status_code == 204:
                return p
        raise AssertionError("operation did not complete")
    return r


def create_order(c: httpx.Client, qty: int = 2) -> dict[str, Any]:
    r = c.put(f"{BASE}/SalesOrder", json=order_body(qty), params={"$expand": "Details"})
    assert r.status_code == 200, r.text
    return r.json()


def pay(c: httpx.Client, order_nbr: str, amount: float) -> dict[str, Any]:
    r = c.put(f"{BASE}/Payment", json={
        "Type": {"value": "Prepayment"}, "CustomerID": {"value": "AACUSTOMER"}, "PaymentMethod": {"value": "MAGENTO"},
        "PaymentAmount": {"value": amount}, "PaymentRef": {"value": "MAG-995"},
        "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": order_nbr},
                           "AppliedToOrder": {"value": amount}}]}, params={"$expand": "OrdersToApply"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert run_action(c, "Payment", "ReleasePayment", {"Type": val(p, "Type"),
                                                       "ReferenceNbr": val(p, "ReferenceNbr")}).status_code == 204
    return p


def ship(c: httpx.Client, order_nbr: str) -> str:
    r = run_action(c, "SalesOrder", "SalesOrderCreateShipment", {"OrderType": "SO", "OrderNbr": order_nbr},
                   {"ShipmentDate": "2023-10-27", "WarehouseID": "RETAIL"})
    assert r.status_code == 204, r.text
    o = c.get(f"{BASE}/SalesOrder/SO/{order_nbr}", params={"$expand": "Shipments"}).json()
    return str(val(o["Shipments"][-1], "ShipmentNbr"))
