"""The whole local world for end-to-end tests: simulators + moto + the local runtime, contract hooks installed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from contract_hooks import ContractRecorder, install

from amsync.data.connector_log import ConnectorLog
from amsync.data.settings_store import SettingsStore
from amsync_local.walkthrough import AcumaticaUser, MagentoViewer
from amsync_local.world import LocalWorld, WorldOptions


class E2E:
    def __init__(self, world: LocalWorld, contracts: ContractRecorder) -> None:
        self.world = world
        self.contracts = contracts
        assert world.runtime is not None
        self.runtime = world.runtime
        env = world.runtime.functions["OrderSyncFunction"].env
        self.log = ConnectorLog(env["CONNECTOR_LOG_TABLE"])
        self.settings = SettingsStore(env["SETTINGS_TABLE"])
        self.acu = AcumaticaUser.from_endpoints(world.endpoints())
        self.mag = MagentoViewer.from_endpoints(world.endpoints())

    def settle(self, timeout: float = 60) -> None:
        assert self.world.wait_settled(timeout=timeout), "pipeline did not settle"

    def rows(self, notes: str) -> list[Any]:
        return sorted(self.log.timeline(notes), key=lambda e: e.log_id)


@pytest.fixture(scope="module")
def e2e() -> Iterator[E2E]:
    contracts = ContractRecorder()
    with LocalWorld(WorldOptions(start_schedules=False, stack_name=f"amsync-e2e-{uuid.uuid4().hex[:6]}")) as world:
        assert world.runtime is not None
        assert install(world.runtime, contracts) >= 2
        yield E2E(world, contracts)
    # every request the connector sent in this module validated against the official schemas
    assert not contracts.violations, "\n".join(contracts.violations[:10])
