"""Fault injection through /_sim/faults: latency, Magento 500, edge 429, timeout, drop-after-commit, commit-late."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
from mag_support import order_body, sc


def _fault(sim, **rule):
    resp = httpx.post(f"{sim.url}/_sim/faults", json=rule)
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def test_latency(sim, api):
    # Given 300 ms latency on product reads
    _fault(sim, path=r"/V1/products/", method="GET", latency_ms=300)
    # When reading a product
    t0 = time.monotonic()
    resp = api.get("/products/WATER2809")
    # Then it still succeeds, but late
    assert resp.status_code == 200 and time.monotonic() - t0 >= 0.3


def test_a_slow_request_counts_as_in_progress_until_it_has_run(sim, api):
    # Given 500 ms latency on product reads
    _fault(sim, path=r"/V1/products/", method="GET", latency_ms=500, remaining=1)
    assert sim.faults.in_progress == 0
    held = sim.faults.stats["latency"]
    # When a read has arrived and is held
    done = threading.Event()
    threading.Thread(target=lambda: (api.get("/products/WATER2809"), done.set()), daemon=True).start()
    deadline = time.monotonic() + 5
    while sim.faults.stats["latency"] == held:
        assert time.monotonic() < deadline, "the read never arrived"
        time.sleep(0.01)
    # Then it is in progress until it has run, then not; a request no rule matched never is
    assert sim.faults.in_progress == 1 and not done.is_set()
    assert done.wait(5)
    # (the count drops once the middleware has sent the answer, a moment after the client has it)
    deadline = time.monotonic() + 2
    while sim.faults.in_progress and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.faults.in_progress == 0
    assert api.get("/products/WATER2809").status_code == 200 and sim.faults.in_progress == 0


def test_internal_error_body_is_magentos(sim, api):
    # Given every order read fails once with 500
    _fault(sim, path=r"/V1/orders", error_rate=1.0, error_status=500, remaining=1)
    # When reading orders twice
    first = api.get("/orders")
    second = api.get("/orders")
    # Then the first is Magento's opaque 500 with a report id, the second passes
    assert first.status_code == 500
    assert re.fullmatch(r"Internal Error\. Details are available in Magento log file\. Report ID: webapi-[0-9a-f]{13}",
                        first.json()["message"])
    assert second.status_code == 200


def test_edge_429_with_retry_after(sim, api):
    # Given the edge throttles source-item pushes
    _fault(sim, path=r"/V1/inventory/source-items", error_rate=1.0, error_status=429, retry_after=7, remaining=1)
    # When pushing stock
    resp = api.post("/inventory/source-items", {"sourceItems": [
        {"sku": "WATER2809", "source_code": "default", "quantity": 1, "status": 1}]}, check=False)
    # Then an nginx-style 429 page with Retry-After, and the stock is untouched
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
    assert "429 Too Many Requests" in resp.text and "nginx" in resp.text
    assert sim.source_qty("WATER2809") == 263


def test_timeout_does_not_process(sim, api):
    # Given order creation hangs past the client's timeout without processing
    _fault(sim, path=r"/V1/orders/create", timeout_rate=1.0, remaining=1)
    # When creating with a 0.3 s timeout
    with pytest.raises(httpx.TimeoutException):
        api.put("/orders/create", order_body(), timeout=0.3)
    # Then no order exists
    assert api.get("/orders").json()["total_count"] == 0


def test_drop_after_commit_order_exists(sim, api):
    # Given order creation commits and then the answer is lost
    _fault(sim, path=r"/V1/orders/create", drop_after_commit_rate=1.0, remaining=1)
    # When the client times out
    with pytest.raises(httpx.TimeoutException):
        api.put("/orders/create", order_body(), timeout=0.3)
    # Then the order exists anyway: the connector must search ext_order_id before retrying
    found = api.get("/orders", sc([("ext_order_id", "SOT00024", "eq")])).json()
    assert found["total_count"] == 1


def test_commit_late_order_lands_after_the_client_gave_up(sim, api):
    # Given order creation that takes longer than the client waits, and then commits
    _fault(sim, path=r"/V1/orders/create", commit_late_rate=1.0, remaining=1)
    # When the client times out
    with pytest.raises(httpx.TimeoutException):
        api.put("/orders/create", order_body(), timeout=0.3)
    # Then the order is not there yet, and is there once the slow request has run (a lookup right after the
    # timeout misses it)
    assert api.get("/orders", sc([("ext_order_id", "SOT00024", "eq")])).json()["total_count"] == 0
    deadline = time.monotonic() + 10
    while api.get("/orders", sc([("ext_order_id", "SOT00024", "eq")])).json()["total_count"] == 0:
        assert time.monotonic() < deadline, "the late commit never landed"
        time.sleep(0.1)
    assert sim.faults.stats["commit_late"] == 1


def _ext_count(api, ext: str = "SOT00024") -> int:
    return api.get("/orders", sc([("ext_order_id", ext, "eq")])).json()["total_count"]


def test_commit_late_held_past_a_create_lease_stays_invisible_until_it_lands(sim, api):
    # Given order creation held 4 s, its own hang (the injector's is 1.5 s), then committed: past the chaos run's 3 s
    # create lease, so a retry after the lease finds nothing
    _fault(sim, path=r"/V1/orders/create", commit_late_rate=1.0, hang_ms=4000, remaining=1)
    # When the client gives up after 0.3 s
    sent = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        api.put("/orders/create", order_body(), timeout=0.3)
    # Then searches see no order while it is held (the last look after 3.6 s, past the lease), the write is still
    # in progress, and then it is there, not before its 4 s
    while time.monotonic() - sent < 3.6:
        assert _ext_count(api) == 0 and sim.faults.in_progress == 1
        time.sleep(0.3)
    deadline = sent + 10
    while _ext_count(api) == 0:
        assert time.monotonic() < deadline, "the late commit never landed"
        time.sleep(0.05)
    assert time.monotonic() - sent >= 4.0
    [late] = sim.faults.late_commits_view()
    assert (late["hang_s"], late["status"], late["path"]) == (4.0, 200, "/rest/default/V1/orders/create")
    assert late["landed"] - late["arrived"] >= 4.0 and sim.faults.in_progress == 0


def test_commit_late_hang_is_drawn_per_request_within_the_rule_range(sim, api):
    # Given creates held between 0.3 and 0.9 s each, then committed
    _fault(sim, path=r"/V1/orders/create", commit_late_rate=1.0, hang_ms=300, hang_max_ms=900, remaining=4)
    # When four clients give up after 0.1 s
    for k in range(4):
        with pytest.raises(httpx.TimeoutException):
            api.put("/orders/create", order_body(ext_order_id=f"SOT0002{k}"), timeout=0.1)
    deadline = time.monotonic() + 10
    while sim.faults.in_progress:
        assert time.monotonic() < deadline, "the late commits never landed"
        time.sleep(0.05)
    # Then each was held its own time in the range, and all four landed
    hangs = [e["hang_s"] for e in sim.faults.late_commits_view()]
    assert len(hangs) == 4 and all(0.3 <= h <= 0.9 for h in hangs) and len(set(hangs)) == 4
    assert all(e["landed"] - e["arrived"] >= e["hang_s"] for e in sim.faults.late_commits_view())
    assert api.get("/orders").json()["total_count"] == 4


def test_a_late_commit_whose_increment_id_was_taken_meanwhile_is_refused_and_never_visible(sim, api):
    # Given a create numbered by the ERP (increment_id ST-SOT00024) held 1.5 s, then committed
    _fault(sim, path=r"/V1/orders/create", commit_late_rate=1.0, hang_ms=1500, remaining=1)
    body = order_body(increment_id="ST-SOT00024", ext_order_id="ST/SOT00024")
    with pytest.raises(httpx.TimeoutException):
        api.put("/orders/create", body, timeout=0.3)
    # When the client, having found nothing, creates the same order again, and the held write then lands
    retry = api.put("/orders/create", body)
    deadline = time.monotonic() + 10
    while sim.faults.in_progress:
        assert time.monotonic() < deadline, "the late commit never landed"
        time.sleep(0.05)
    # Then the retry is the one order: the late write met the unique key (its 400 went nowhere) and left nothing
    assert retry.status_code == 200
    [late] = sim.faults.late_commits_view()
    assert late["status"] == 400
    found = api.get("/orders", sc([("ext_order_id", "ST/SOT00024", "eq")])).json()
    assert found["total_count"] == 1 and found["items"][0]["entity_id"] == retry.json()["entity_id"]


def test_fault_rule_skip_passes_the_first_requests_on(sim, api):
    # Given a rule failing order reads with 500, skipping the first two it matches
    _fault(sim, path=r"/V1/orders$", method="GET", error_rate=1.0, error_status=500, skip=2, remaining=1)
    # When reading four times
    statuses = [api.get("/orders").status_code for _ in range(4)]
    # Then the third read fails, the others pass
    assert statuses == [200, 200, 500, 200]


def test_bad_hang_range_is_refused(sim):
    # Given / When a rule whose hang_max_ms is below its hang_ms, or without a hang_ms
    low = httpx.post(f"{sim.url}/_sim/faults", json={"commit_late_rate": 1.0, "hang_ms": 900, "hang_max_ms": 300})
    alone = httpx.post(f"{sim.url}/_sim/faults", json={"commit_late_rate": 1.0, "hang_max_ms": 300})
    # Then both are refused and no rule was added
    assert low.status_code == 400 and alone.status_code == 400
    assert httpx.get(f"{sim.url}/_sim/faults").json()["rules"] == []


def test_fault_rules_listed_and_cleared(sim):
    # Given a rule
    _fault(sim, path="/V1/orders", latency_ms=10)
    # When listing and clearing
    listed = httpx.get(f"{sim.url}/_sim/faults").json()
    cleared = httpx.delete(f"{sim.url}/_sim/faults").json()
    # Then the rule was there, and is gone
    assert len(listed["rules"]) == 1 and cleared["rules"] == []


def test_control_api_state_config_reset(sim, api):
    # Given an order and a config change through the control API
    api.put("/orders/create", order_body())
    cfg = httpx.post(f"{sim.url}/_sim/config", json={"input_limits": True}).json()
    bad = httpx.post(f"{sim.url}/_sim/config", json={"no_such": 1})
    state = httpx.get(f"{sim.url}/_sim/state").json()
    orders = httpx.get(f"{sim.url}/_sim/orders").json()
    # When resetting
    httpx.post(f"{sim.url}/_sim/reset")
    # Then the state showed the order, config applied, and reset restored the seed
    assert cfg["input_limits"] is True and bad.status_code == 400
    assert state["counts"]["orders"] == 1 and orders["orders"][0]["entity_id"] == 1093
    assert httpx.get(f"{sim.url}/_sim/state").json()["counts"]["orders"] == 0
    assert httpx.get(f"{sim.url}/_sim/config").json()["input_limits"] is False
    assert [c["carrier_code"] for c in httpx.get(f"{sim.url}/_sim/carriers").json()] == [
        "flatrate", "tablerate", "freeshipping"]
