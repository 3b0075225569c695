"""A simulator in its own process (the chaos run's world): calls, attribute reads and errors cross the pipe."""

from __future__ import annotations

import httpx
import pytest

from amsync_local.remote_sim import RemoteError, RemoteSimulator


def test_a_magento_simulator_in_its_own_process_answers_and_is_driven_like_the_in_process_one() -> None:
    sim = RemoteSimulator("magento", host="127.0.0.1", port=0, hang_seconds=0.5)
    url = sim.start()
    try:
        token = sim.token
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/rest/V1/products/WATER2809", headers=headers, timeout=10).status_code == 200
        # a method call runs there: an injected fault answers the next REST call
        sim.faults.add({"path": r"/V1/products/", "method": "GET", "error_rate": 1.0, "error_status": 503,
                        "remaining": 1})
        assert httpx.get(f"{url}/rest/V1/products/WATER2809", headers=headers, timeout=10).status_code == 503
        assert httpx.get(f"{url}/rest/V1/products/WATER2809", headers=headers, timeout=10).status_code == 200
        # attribute reads fetch the value held there
        assert sum(sim.faults.stats.values()) >= 1
        assert not sim.faults.in_progress
        assert sim.faults.in_progress == 0
        assert f"{sim.faults.in_progress}" == "0"
        # an exception raised there is raised here, with its type and text
        with pytest.raises(RemoteError, match="AttributeError"):
            sim.no_such_method()
    finally:
        sim.stop()
    with pytest.raises(RuntimeError, match="not running"):
        sim.faults.clear()
