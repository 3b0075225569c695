"""A long-running Acumatica action (202 + Location) is polled soon at first, then less and less often: the first
poll 50 ms after the answer, each pause twice the last, at most a second. Against the Acumatica simulator, its
operation answering 202 six times before the 204; the client's pauses are recorded, not slept."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from acumatica_sim import AcumaticaSimulator, SimConfig
from acumatica_sim import config as acu_config
from amsync.adapters import acumatica as adapter
from amsync.adapters.acumatica import AcumaticaClient

ENDPOINT = "/entity/Default/24.200.001"


@pytest.fixture(scope="module")
def acu() -> Iterator[AcumaticaSimulator]:
    sim = AcumaticaSimulator(SimConfig(action_polls=6), host="127.0.0.1", port=0)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_a_long_running_action_is_polled_soon_then_at_most_once_a_second(acu: AcumaticaSimulator,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    creds = json.loads(json.dumps({"username": acu_config.ADMIN_USERNAME, "password": acu_config.ADMIN_PASSWORD,
                                   "tenant": acu_config.TENANT}))
    client = AcumaticaClient(acu.url, ENDPOINT, credentials=lambda: creds, timeout=5.0)
    pauses: list[float] = []
    monkeypatch.setattr(adapter.time, "sleep", pauses.append)
    # When an action on the seeded open order runs long (six 202s on its Location before the 204)
    client.action("SalesOrder", "CancelSalesOrder", {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00023"}})
    # Then it was polled seven times, the pauses doubling from 50 ms up to a second
    assert pauses == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    # and the action did its work
    assert acu.record("SalesOrder", "SO", "SOT00023")["Status"]["value"] == "Canceled"
