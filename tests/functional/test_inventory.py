"""Acumatica availability per warehouse becomes Magento MSI source quantities (issue: inventory follow-up)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from world_support import WorldDriver, running_world

from amsync.composition import publish_requests
from amsync.config import Settings
from amsync.data.settings_store import CACHE_S
from amsync.models.log import LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import WarehouseMapping
from amsync.services.inventory import InventoryPorts, sync_stock_batch
from amsync_local.world import LocalWorld


class World(WorldDriver):
    def __init__(self, world: LocalWorld) -> None:
        super().__init__(world)
        self.settings = Settings.from_env(self.runtime.functions["InventoryFunction"].env)

    def available(self, sku: str, warehouse: str) -> Decimal:
        r = self.acu.http.put(f"{self.acu.base}/InventorySummaryInquiry", params={"$expand": "Results"},
                              json={"InventoryID": {"value": sku}, "WarehouseID": {"value": warehouse}})
        r.raise_for_status()
        return sum((Decimal(str(row["QtyAvailable"]["value"])) for row in r.json()["Results"]), Decimal(0))

    def rows(self, sku: str) -> list[LogEntry]:
        return sorted(self.log.timeline(sku), key=lambda r: r.log_id)

    def updates(self, sku: str) -> list[LogEntry]:
        return [r for r in self.rows(sku) if r.action and r.action.value == "Update"]


@pytest.fixture(scope="module")
def w() -> Iterator[World]:
    with running_world("inv") as world:
        yield World(world)


def test_stock_pushes_set_each_mapped_source_to_acumatica_available_quantity(w: World) -> None:
    # Given WATER2809 in two warehouses mapped to two Magento sources (RETAIL -> default, WHOLESALE -> retail_store)
    # When the quantity on hand changes in both warehouses
    w.world.acumatica.set_on_hand("WATER2809", "RETAIL", 300)
    w.world.acumatica.set_on_hand("WATER2809", "WHOLESALE", 1000)
    w.settle()
    # Then each Magento source holds that warehouse's available quantity (on hand minus open orders' bookings)
    retail, wholesale = w.available("WATER2809", "RETAIL"), w.available("WATER2809", "WHOLESALE")
    assert retail == Decimal(300 - 126)  # the seed's open order SOT00023 books 126 at RETAIL
    assert Decimal(str(w.world.magento.source_qty("WATER2809", "default"))) == retail
    assert Decimal(str(w.world.magento.source_qty("WATER2809", "retail_store"))) == wholesale == Decimal(1000)
    # and the log has Inventory / Update / Success rows: Entity Id = Magento's product id, Notes = the SKU
    last = w.updates("WATER2809")[-1]
    assert (last.result, last.entity_id, last.notes) == (Result.SUCCESS, "4861", "WATER2809")
    assert any(r.action and r.action.value == "Publisher" for r in w.rows("WATER2809"))


def test_an_order_in_acumatica_lowers_the_magento_quantity_through_its_own_push(w: World) -> None:
    # Given JUICE100's RETAIL availability
    before = w.available("JUICE100", "RETAIL")
    # When an order books 5 of them (the simulator pushes the changed availability itself)
    w.acu.create_order(lines=[("JUICE100", 5)])
    w.settle()
    # Then Magento's default source follows Acumatica's available quantity
    assert w.available("JUICE100", "RETAIL") == before - 5
    assert Decimal(str(w.world.magento.source_qty("JUICE100", "default"))) == before - 5
    assert w.updates("JUICE100")[-1].entity_id == "4862"


def test_an_unmapped_warehouse_is_skipped_naming_the_mapping_and_a_sku_not_in_magento_is_skipped(w: World) -> None:
    # Given the WHOLESALE warehouse has no source mapping
    assert w.store.delete_mapping("warehouse", "WHOLESALE")
    try:
        time.sleep(CACHE_S + 0.5)  # warm containers see a settings change within the stamp interval, as in AWS
        before = w.world.magento.source_qty("MUG500", "default")
        # When MUG500's WHOLESALE stock changes
        w.world.acumatica.set_on_hand("MUG500", "WHOLESALE", 7)
        w.settle()
    finally:
        w.store.put_mapping("warehouse", WarehouseMapping(warehouse_id="WHOLESALE", source_code="retail_store"))
        time.sleep(CACHE_S + 0.5)  # the next tests meet the mapping back
    # Then nothing is written for it, and a Skipped row names the mapping to add
    skipped = [r for r in w.rows("MUG500") if r.result == Result.SKIPPED]
    assert skipped and "warehouse WHOLESALE has no Magento source" in skipped[-1].message
    assert "mappings warehouse set warehouse_id=WHOLESALE" in skipped[-1].message
    assert w.world.magento.source_qty("MUG500", "default") == before
    # When a stock request names a SKU Magento does not have
    publish_requests(w.settings, [SyncRequest(kind=Kind.STOCK, key="NOSUCH1/RETAIL", source="resync",
                                              correlation_id="NOSUCH1", timestamp=time.time_ns())])
    w.settle()
    # Then it is skipped (only SKUs that exist in Magento sync)
    rows = w.rows("NOSUCH1")
    assert [r.result for r in rows] == [Result.SKIPPED] and "not a Magento product" in rows[0].message


class _FakeAcumatica:
    def inquiry(self, entity: str, body: dict[str, Any], expand: str = "Results") -> dict[str, Any]:
        wholesale = -4 if body["InventoryID"]["value"] == "S0" else 9
        return {"Results": [{"WarehouseID": {"value": "RETAIL"}, "QtyAvailable": {"value": 3}},
                            {"WarehouseID": {"value": "RETAIL"}, "QtyAvailable": {"value": 2}},  # second location
                            {"WarehouseID": {"value": "WHOLESALE"}, "QtyAvailable": {"value": wholesale}}]}


class _FakeMagento:
    def __init__(self) -> None:
        self.saved: list[list[dict[str, Any]]] = []

    def products_by_skus(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {s: {"id": 100 + i, "sku": s} for i, s in enumerate(sorted(skus))}

    def save_source_items(self, items: list[dict[str, Any]]) -> None:
        self.saved.append(items)


class _FakeSettings:
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        return [WarehouseMapping(warehouse_id="RETAIL", source_code="default"),
                WarehouseMapping(warehouse_id="WHOLESALE", source_code="retail_store")]


def test_a_batch_is_saved_in_chunks_of_at_most_twenty_with_locations_summed_and_negatives_as_zero() -> None:
    # Given 15 SKUs with two mapped warehouses each (30 source items), RETAIL split over two locations
    magento, logged = _FakeMagento(), []
    ports = InventoryPorts(acumatica=_FakeAcumatica(), magento=magento, settings=_FakeSettings(), log=logged.extend)
    requests = {f"m{i}": SyncRequest(kind=Kind.STOCK, key=f"S{i}", correlation_id=f"S{i}") for i in range(15)}
    # When the batch is synced
    outcome = sync_stock_batch(requests, ports)
    # Then every record is done, and Magento got chunks of at most 20 holding all 30 items
    assert set(outcome.values()) == {None}
    assert [len(c) for c in magento.saved] == [20, 10]
    items = {(i["sku"], i["source_code"]): i for chunk in magento.saved for i in chunk}
    assert items[("S1", "default")]["quantity"] == Decimal(5)  # 3 + 2 over the two locations
    assert (items[("S0", "retail_store")]["quantity"], items[("S0", "retail_store")]["status"]) == (Decimal(0), 0)
    assert len([r for r in logged if r.result == Result.SUCCESS]) == 15
