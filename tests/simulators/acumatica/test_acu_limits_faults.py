"""Licence throttling and fault injection (latency, error statuses, timeouts, drop-after-commit)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from acu_flow import create_order
from acu_sim_helpers import BASE, login, order_body, val

from acumatica_sim import AcumaticaSimulator
from acumatica_sim.clock import dotnet_ticks


def test_requests_past_half_quota_are_delayed_then_declined_with_429(acu: AcumaticaSimulator,
                                                                     client: httpx.Client) -> None:
    # Given a 4/minute quota, a queue of at most 1, and short (scaled) delays
    httpx.put(acu.url + "/_sim/limits", json={"max_requests_per_minute": 4, "max_queue": 1, "delay_scale": 0.01})
    for _ in range(2):  # the first half of the quota goes through undelayed
        assert client.get(f"{BASE}/Customer/AACUSTOMER").status_code == 200
    # When six requests arrive at once
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: client.get(f"{BASE}/Customer/AACUSTOMER").status_code, range(6)))
    # Then some were delayed and served, the overflow declined with 429, and the counters say so
    counters = httpx.get(acu.url + "/_sim/limits").json()["counters"]
    assert 429 in codes and 200 in codes
    assert counters["throttled_429"] == codes.count(429) and counters["delayed"] >= 1
    # When the minute passes
    acu.advance(61)
    # Then requests flow again
    assert client.get(f"{BASE}/Customer/AACUSTOMER").status_code == 200


def test_latency_fault(acu: AcumaticaSimulator, client: httpx.Client) -> None:
    # Given 300 ms latency on SalesOrder reads
    httpx.post(acu.url + "/_sim/faults", json={"path": "/SalesOrder", "method": "GET", "latency_ms": 300})
    # When reading
    t0 = time.monotonic()
    r = client.get(f"{BASE}/SalesOrder/SO/SOT00023")
    # Then the answer is correct but late
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.3


def test_injected_500_and_429_bodies(acu: AcumaticaSimulator, client: httpx.Client) -> None:
    # Given one injected 500 then one 429 on the next two requests
    acu.faults.add({"path": "/Customer", "error_rate": 1.0, "error_status": 500, "remaining": 1})
    acu.faults.add({"path": "/StockItem", "error_rate": 1.0, "error_status": 429, "retry_after": 2, "remaining": 1})
    # When calling
    r500 = client.get(f"{BASE}/Customer/AACUSTOMER")
    r429 = client.get(f"{BASE}/StockItem/WATER2809")
    # Then HttpError JSON for 500, IIS-like text for 429, and the rules are then spent
    assert r500.status_code == 500 and r500.json()["message"] == "An error has occurred."
    assert r429.status_code == 429 and r429.headers["retry-after"] == "2" and "custom error module" in r429.text
    assert client.get(f"{BASE}/Customer/AACUSTOMER").status_code == 200
    assert httpx.get(acu.url + "/_sim/faults").json()["stats"]["error"] == 2


def test_timeout_fault(acu: AcumaticaSimulator) -> None:
    # Given requests that hang past the client's timeout
    c = login(acu.url, timeout=0.5)
    acu.faults.add({"path": "/SalesOrder", "timeout_rate": 1.0, "remaining": 1})
    # When / Then the client times out
    with pytest.raises(httpx.TimeoutException):
        c.get(f"{BASE}/SalesOrder")


def test_drop_after_commit_keeps_the_write(acu: AcumaticaSimulator) -> None:
    # Given the next order PUT commits but its answer is lost
    c = login(acu.url, timeout=0.5)
    acu.faults.add({"path": "/SalesOrder", "method": "PUT", "drop_after_commit_rate": 1.0, "remaining": 1})
    # When the client creates an order
    with pytest.raises(httpx.TimeoutException):
        c.put(f"{BASE}/SalesOrder", json=order_body())
    # Then the order exists anyway
    c2 = login(acu.url)
    assert val(c2.get(f"{BASE}/SalesOrder/SO/SOT00024").json(), "CustomerID") == "AACUSTOMER"


def test_control_api_reset_and_state(acu: AcumaticaSimulator, client: httpx.Client) -> None:
    # Given an extra order
    create_order(client)
    # When resetting through the control API
    assert httpx.post(acu.url + "/_sim/reset").status_code == 200
    # Then the data is reseeded (next order number is SOT00024 again)
    state = httpx.get(acu.url + "/_sim/state").json()
    assert state["numbering"]["SO"] == 24 and "SO|SOT00024" not in state["orders"]


def test_a_long_transaction_stamps_its_records_before_they_become_visible(acu: AcumaticaSimulator,
                                                                          client: httpx.Client,
                                                                          receiver: Any) -> None:
    # Given long transactions: records stamped ten minutes before their commit
    assert httpx.put(acu.url + "/_sim/clock/stamp-lag", json={"seconds": 600}).json() == {"seconds": 600.0}
    try:
        before = acu.clock.now()
        # When an order is created
        order = create_order(client)
    finally:
        assert httpx.put(acu.url + "/_sim/clock/stamp-lag", json={"seconds": 0}).status_code == 200
    after = acu.clock.now()
    # Then it carries a stamp ten minutes old, so "changed since five minutes ago" does not list it
    stamp = datetime.fromisoformat(val(order, "LastModified"))
    assert before - timedelta(seconds=601) < stamp < after - timedelta(seconds=599)
    since = (after - timedelta(minutes=5)).isoformat()
    listed = client.get(f"{BASE}/SalesOrder", params={"$filter": f"LastModified gt datetimeoffset'{since}'"}).json()
    assert val(order, "OrderNbr") not in [val(o, "OrderNbr") for o in listed]
    # while its push went out at the commit
    assert acu.wait_push_idle(5)
    [push] = receiver.bodies("AMSync-SalesOrders")
    assert push["TimeStamp"] >= dotnet_ticks(before)
    # and a transaction after the lag ended is stamped at its commit again
    assert httpx.put(acu.url + "/_sim/clock/stamp-lag", json={"seconds": -1}).status_code == 400
    again = create_order(client)
    assert datetime.fromisoformat(val(again, "LastModified")) > after
