"""The whole local world for end-to-end tests: simulators + moto + the local runtime, contract hooks installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contract_hooks import ContractRecorder, install
from world_support import WorldDriver, running_world

from amsync_local.world import LocalWorld


class E2E(WorldDriver):
    def __init__(self, world: LocalWorld, contracts: ContractRecorder) -> None:
        super().__init__(world)
        self.contracts = contracts
        self.settings = self.store

    def rows(self, notes: str) -> list[Any]:
        return sorted(self.log.timeline(notes), key=lambda e: e.log_id)


@pytest.fixture(scope="module")
def e2e() -> Iterator[E2E]:
    contracts = ContractRecorder()
    with running_world("e2e") as world:
        assert world.runtime is not None
        assert install(world.runtime, contracts) >= 2
        yield E2E(world, contracts)
    # every request the connector sent in this module validated against the official schemas
    assert not contracts.violations, "\n".join(contracts.violations[:10])
