"""Status, hold, cancel and post-sync changes of a bound order follow into Magento, or are reported (issue)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from world_support import WorldDriver, running_world

from amsync.data.settings_store import CACHE_S
from amsync.models.log import Group, LogEntry, Result
from amsync.models.settings import OrderStatusMapping
from amsync_local.walkthrough import wrap


class World(WorldDriver):
    def magento(self, entity_id: int) -> dict[str, Any]:
        return dict(self.world.magento.order(entity_id))

    def rows(self, nbr: str, group: Group) -> list[LogEntry]:
        return sorted((r for r in self.log.timeline(nbr) if r.group == group and r.action
                       and r.action.value == "Update"), key=lambda r: r.log_id)

    def set_hold(self, nbr: str, hold: bool) -> None:
        body = wrap({"OrderType": "SO", "OrderNbr": nbr, "Hold": hold})
        self.acu._ok(self.acu.http.put(f"{self.acu.base}/SalesOrder", json=body))

    def change_line(self, nbr: str, line_nbr: int, **fields: Any) -> None:
        order = self.acu.order(nbr, "Details")
        line = next(d for d in order["Details"] if d["LineNbr"]["value"] == line_nbr)
        body = {**wrap({"OrderType": "SO", "OrderNbr": nbr}), "Details": [{"id": line["id"], **wrap(fields)}]}
        self.acu._ok(self.acu.http.put(f"{self.acu.base}/SalesOrder", json=body))


@pytest.fixture(scope="module")
def w() -> Iterator[World]:
    with running_world("ou") as world:
        yield World(world)


def _comments(order: dict[str, Any]) -> list[str]:
    return [str(h.get("comment")) for h in order.get("status_histories") or []]


def test_hold_in_acumatica_holds_the_magento_order_and_releasing_it_unholds(w: World) -> None:
    # Given a synced order
    nbr, order = w.paid_order()
    # When it is put on hold in Acumatica
    w.set_hold(nbr, True)
    w.settle()
    # Then the Magento order is on hold, with an Orderstatus / Update / Success row (Entity Id = order, Notes = #)
    assert w.magento(order["entity_id"])["state"] == "holded"
    rows = w.rows(nbr, Group.ORDERSTATUS)
    assert rows and (rows[-1].result, rows[-1].entity_id, rows[-1].notes) == (
        Result.SUCCESS, str(order["entity_id"]), order["increment_id"])
    assert "On Hold" in rows[-1].message and "hold done" in rows[-1].message
    # When the hold is removed
    w.set_hold(nbr, False)
    w.settle()
    # Then Magento is back where it was, with the mapped comment in its history
    after = w.magento(order["entity_id"])
    assert after["state"] == "new" and after["status"] == "pending"
    assert "Acumatica: order open" in _comments(after)


def test_cancel_in_acumatica_cancels_in_magento_and_a_refused_cancel_is_a_failure_with_the_reason(w: World) -> None:
    # Given a synced order that is then canceled in Acumatica
    nbr, order = w.paid_order()
    w.acu.action("SalesOrder", "CancelSalesOrder", {"OrderType": "SO", "OrderNbr": nbr})
    w.settle()
    # Then the Magento order is canceled
    assert w.magento(order["entity_id"])["state"] == "canceled"
    assert w.rows(nbr, Group.ORDERSTATUS)[-1].result == Result.SUCCESS
    # Given another synced order, fully invoiced in Magento already (Magento's cancel then answers false)
    nbr2, order2 = w.paid_order()
    httpx.post(f"{w.world.magento.url}/rest/default/V1/order/{order2['entity_id']}/invoice",
               headers={"Authorization": f"Bearer {w.world.magento.token}"}, json={"capture": True}).raise_for_status()
    # When the order is canceled in Acumatica
    w.acu.action("SalesOrder", "CancelSalesOrder", {"OrderType": "SO", "OrderNbr": nbr2})
    w.settle()
    # Then Magento is not canceled, and the log says so with the reason: a Failure, not a success
    assert w.magento(order2["entity_id"])["state"] != "canceled"
    last = w.rows(nbr2, Group.ORDERSTATUS)[-1]
    assert last.result == Result.FAILURE and "answered false" in last.message and "invoiced" in last.message


def test_the_status_mapping_in_settings_sets_the_magento_comment_and_status(w: World) -> None:
    # Given a mapping for Back Order -> comment + Magento status "processing" (All Store Views)
    w.store.put_mapping("orderstatus", OrderStatusMapping(acumatica_status="Back Order", magento_status="processing",
                                                          comment="Partly shipped by Acumatica"))
    changed = time.monotonic()
    nbr, order = w.paid_order(lines=[("WATER2809", 3)])
    # (warm containers see a settings change within the stamp interval, as in AWS: the status change comes after it)
    time.sleep(max(0.0, CACHE_S + 0.5 - (time.monotonic() - changed)))
    # When part of the order ships (Acumatica: Back Order)
    shp = w.acu.create_shipment(nbr)
    w.acu.set_shipped_qty(shp, 1, 1)
    w.acu.confirm_shipment(shp)
    w.settle()
    # Then the mapped comment and status are on the Magento order, and the shipment landed too
    after = w.magento(order["entity_id"])
    assert "Partly shipped by Acumatica" in _comments(after)
    assert after["status"] == "processing"
    assert len(w.mag.shipments_of(order["entity_id"])) == 1
    assert any("Back Order" in r.message and r.result == Result.SUCCESS for r in w.rows(nbr, Group.ORDERSTATUS))


def test_a_post_sync_change_of_quantity_or_price_is_reported_not_silently_diverged(w: World) -> None:
    # Given a synced order of 2 x WATER2809 @ 20.00
    nbr, order = w.paid_order()
    # When its quantity and price are changed in Acumatica
    w.change_line(nbr, 1, OrderQty=5, UnitPrice=18.5)
    w.settle()
    # Then the Magento order is untouched, and one Order / Update / Failure row names each change
    after = w.magento(order["entity_id"])
    assert [(i["sku"], float(i["qty_ordered"]), float(i["price"])) for i in after["items"]] == [
        ("WATER2809", 2.0, 20.0)]
    failures = [r for r in w.rows(nbr, Group.ORDER) if r.result == Result.FAILURE]
    assert len(failures) == 1
    msg = failures[0].message
    assert "quantity changed from 2 to 5" in msg and "unit price changed from 20 to 18.5" in msg
    assert "NOT carried" in msg and failures[0].entity_id == str(order["entity_id"])
    # When another push about the same (unchanged) divergence arrives, no second row is written
    w.set_hold(nbr, True)
    w.settle()
    assert len([r for r in w.rows(nbr, Group.ORDER) if r.result == Result.FAILURE]) == 1
