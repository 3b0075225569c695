"""A test module's handle on a running local world (a uniquely named module: importable from any test folder)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from amsync.data.connector_log import ConnectorLog
from amsync.data.settings_store import SettingsStore
from amsync_local.walkthrough import AcumaticaUser, MagentoViewer
from amsync_local.world import LocalWorld, WorldOptions


@contextmanager
def running_world(name: str) -> Iterator[LocalWorld]:
    """Both simulators, moto and the runtime for one test module (schedules off: tests fire them)."""
    with LocalWorld(WorldOptions(start_schedules=False, stack_name=f"amsync-{name}-{uuid.uuid4().hex[:6]}")) as world:
        yield world


class WorldDriver:
    """The person at Acumatica, a look into Magento, the connector log and settings, and "wait until settled"."""

    ship_via = "LOCAL"  # of the orders paid_order places

    def __init__(self, world: LocalWorld) -> None:
        assert world.runtime is not None
        self.world = world
        self.runtime = world.runtime
        env = world.runtime.functions["OrderSyncFunction"].env
        self.log = ConnectorLog(env["CONNECTOR_LOG_TABLE"])
        self.store = SettingsStore(env["SETTINGS_TABLE"])
        self.acu = AcumaticaUser.from_endpoints(world.endpoints())
        self.mag = MagentoViewer.from_endpoints(world.endpoints())

    def settle(self, timeout: float = 60) -> None:
        assert self.world.wait_settled(timeout=timeout), "pipeline did not settle"

    def paid_order(self, lines: list[tuple[str, int]] | None = None,
                   ship_via: str | None = None) -> tuple[str, dict[str, Any]]:
        """An order placed and paid in Acumatica, synced: (its number, its one Magento order)."""
        nbr = self.acu.create_order(lines=lines, ship_via=ship_via or self.ship_via)
        self.acu.record_payment(nbr)
        self.settle()
        orders = self.mag.orders_for(nbr)
        assert len(orders) == 1, f"order {nbr} did not sync"
        return nbr, orders[0]

    def captured_create(self, act: Any) -> Any:
        """Run ``act`` (e.g. paying an order) with the order-sync stage's forward captured instead of sent: the
        create message it would have given the writer (tests then drive the writer with it themselves)."""
        containers = [m.ports for m in self.runtime.functions["OrderSyncFunction"].modules]
        captured: list[Any] = []
        originals = [p.forward for p in containers]
        for p in containers:
            p.forward = captured.append
        try:
            act()
            self.settle()
        finally:
            for p, original in zip(containers, originals, strict=True):
                p.forward = original
        return next(m for m in captured if m.action == "create")
