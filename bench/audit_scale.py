"""`amsync audit` at scale: N orders in both systems, seeded straight into the simulators' stores, then audited.

    .venv/bin/python -m bench.audit_scale --orders 10000

One order goes through the whole pipeline (push -> order sync -> writer, its shipment and invoice too); N-1 copies
of it are written into the Acumatica simulator's store (then ``commit.rebuild``), the Magento simulator's store
and the bindings table, as if they had synced. Three differences are planted (a changed Magento total, a Magento
order deleted, an extra Magento order with a connector ext_order_id). Then ``audit`` runs as the CLI runs it
(one Acumatica session, ``--workers`` Magento searches at once) and the figures are printed: seconds, calls per
system, differences found. Nothing here asserts a time: the figure is for people.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from acumatica_sim import commit, documents
from amsync_local.walkthrough import AcumaticaUser, MagentoViewer
from amsync_local.world import LocalWorld, WorldOptions


def _seed_acumatica(world: LocalWorld, n: int) -> list[str]:
    sim = world.acumatica
    body = {"OrderType": "SO", "CustomerID": "BIGBOX", "ShipVia": "LOCAL",
            "Details": [{"InventoryID": "WATER2809", "OrderQty": 2, "WarehouseID": "WHOLESALE"}]}
    with sim.lock:
        now = sim.clock.now()
        nbrs = [documents.build_order(sim.store, copy.deepcopy(body), now)["OrderNbr"] for _ in range(n)]
        commit.rebuild(sim.store)
    return nbrs


def _seed_magento(world: LocalWorld, template: dict[str, Any], nbrs: list[str]) -> dict[str, tuple[int, str]]:
    state = world.magento.state
    made: dict[str, tuple[int, str]] = {}
    with state.lock:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        for nbr in nbrs:
            order = copy.deepcopy(template)
            eid, inc = state.next("order"), f"{state.next('order_increment'):09d}"
            order.update(entity_id=eid, increment_id=inc, ext_order_id=nbr, created_at=stamp, updated_at=stamp)
            for item in order.get("items", []):
                item.update(order_id=eid, item_id=state.next("order_item"))
            state.orders[eid] = order
            made[nbr] = (eid, inc)
    return made


def _seed_bindings(table: str, made: dict[str, tuple[int, str]]) -> None:
    from amsync.data.aws import table as ddb_table

    with ddb_table(table).batch_writer() as batch:
        for nbr, (eid, inc) in made.items():
            batch.put_item(Item={"pk": f"order#SO/{nbr}", "sk": "binding", "state": "bound",
                                 "magento_entity_id": eid, "magento_increment_id": inc,
                                 "updated_at": Decimal(str(round(time.time(), 3))), "gsi1pk": f"magento-order#{eid}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    options = WorldOptions(start_schedules=False, stack_name=f"amsync-audit-{uuid.uuid4().hex[:6]}")
    with LocalWorld(options) as world, tempfile.TemporaryDirectory() as folder:
        acu, mag = AcumaticaUser.from_endpoints(world.endpoints()), MagentoViewer.from_endpoints(world.endpoints())
        t0 = time.monotonic()
        # one order the whole way, with a Ship Via the seeded copies share (the standing order is put on hold)
        acu.http.put(f"{acu.base}/SalesOrder", json={"OrderType": {"value": "SO"},
                     "OrderNbr": {"value": "SOT00023"}, "Hold": {"value": True}}).raise_for_status()
        nbr = acu.create_order(customer="BIGBOX", warehouse="WHOLESALE")
        assert world.wait_settled(60), "the first order did not settle"
        [template] = mag.orders_for(nbr)
        template = world.magento.state.orders[int(template["entity_id"])]
        nbrs = _seed_acumatica(world, args.orders - 1)
        made = _seed_magento(world, template, nbrs)
        _seed_bindings(world.endpoints()["aws"]["tables"]["BindingsTable"], made)
        # three differences planted
        changed, gone = nbrs[len(nbrs) // 3], nbrs[2 * len(nbrs) // 3]
        with world.magento.state.lock:
            world.magento.state.orders[made[changed][0]]["grand_total"] = 41.0
            del world.magento.state.orders[made[gone][0]]
            extra = copy.deepcopy(world.magento.state.orders[made[nbrs[0]][0]])
            eid = world.magento.state.next("order")
            extra.update(entity_id=eid, increment_id=f"X{eid}", ext_order_id="SOT99999")
            world.magento.state.orders[eid] = extra
        print(f"seeded {args.orders} orders in {time.monotonic() - t0:.0f} s")
        world.write_endpoints(Path(folder) / ".local" / "endpoints.json")
        os.chdir(folder)
        from amsync_cli.audit import audit
        from amsync_cli.context import resolve

        c = resolve(None, None, None, True)
        today = datetime.now(UTC).date()
        started = time.monotonic()
        report = audit(c, today, today, workers=args.workers)
        elapsed = time.monotonic() - started
        s = report.summary
        print(f"audited {s.acumatica_orders} Acumatica orders ({s.eligible} eligible, {s.bound} bound) and "
              f"{s.magento_orders} Magento orders in {elapsed:.1f} s")
        print(f"calls: Acumatica {s.acumatica_calls}, Magento {s.magento_calls}, DynamoDB BatchGetItem "
              f"{s.binding_reads}")
        print(f"differences: {s.differences}")
        for d in report.differences:
            print(f"  {d.order}: {d.kind} {d.what}: Acumatica {d.acumatica}, Magento {d.magento}")


if __name__ == "__main__":
    main()
