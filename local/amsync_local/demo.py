"""`make demo`: the walkthrough, end to end, on the local world.

Starts both simulators, moto and the local runtime, then clicks through the walkthrough in the Acumatica
simulator as a user would; the connector does the rest through the real pipeline (push -> webhook -> queues ->
functions -> Magento). Prints each hop, both connector logs and the Magento order.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from amsync.data.connector_log import ConnectorLog
from amsync.data.settings_store import SettingsStore
from amsync.models.log import LogEntry, Side
from amsync_local.runtime import Invocation
from amsync_local.template import PROJECT_ROOT
from amsync_local.walkthrough import AcumaticaUser, MagentoViewer, val
from amsync_local.world import LocalWorld, WorldOptions

console = Console(width=160, file=sys.__stdout__)


def _hop(inv: Invocation) -> None:
    what = f"{inv.records} record(s)" if inv.source not in ("url", "schedule") else inv.source
    status = "[red]failed[/red]" if inv.error or inv.failed_ids else "[green]ok[/green]"
    console.print(f"  [dim]hop[/dim] {inv.source:>18} -> {inv.function:<22} {what:<12} {status} "
                  f"[dim]{inv.duration_ms:.0f} ms[/dim]")


def acumatica_log_table(entries: list[LogEntry]) -> Table:
    t = Table(title="Acumatica Connector Logs", show_lines=False)
    for col in ("Level", "Action Type", "Message"):
        t.add_column(col, overflow="fold", max_width=120 if col == "Message" else None)
    for e in entries:
        t.add_row(e.level, e.action_type, e.message[:240])
    return t


def magento_log_table(entries: list[LogEntry]) -> Table:
    t = Table(title="Connector Logs", show_lines=False)
    for col in ("Log Id", "Start Time", "Complete Time", "Group", "Action", "Sync Direction", "Result", "Entity Id",
                "Notes", "Message"):
        t.add_column(col, overflow="fold", max_width=60 if col == "Message" else None)
    for e in entries:
        t.add_row(e.log_id, e.start_time.strftime("%b %d, %Y %H:%M:%S"),
                  e.complete_time.strftime("%H:%M:%S") if e.complete_time else "",
                  e.group.value if e.group else "", e.action.value if e.action else "", e.direction,
                  e.result.value if e.result else "", e.entity_id or "", e.notes, e.message[:160])
    return t


def ship_via_table(store: SettingsStore) -> Table:
    t = Table(title="Shipping Methods Mapping (A>M)")
    for col in ("Acumatica Shipvia", "Magento Shipping Carrier", "Magento Shipping Title", "Store View"):
        t.add_column(col)
    for m in store.mappings("shipvia", fresh=True):
        t.add_row(m.ship_via, f"{m.carrier_code} [{m.method_code}]", m.title,
                  "All Store Views" if m.store_view == "all" else m.store_view)
    return t


def magento_order_table(order: dict[str, Any]) -> Table:
    t = Table(title=f"Magento order #{order['increment_id']}")
    t.add_column("field")
    t.add_column("value")
    rows = [("entity id", order["entity_id"]), ("Acumatica order (ext_order_id)", order.get("ext_order_id")),
            ("state / status", f"{order.get('state')} / {order.get('status')}"),
            ("customer", f"{order.get('customer_firstname')} {order.get('customer_lastname')} "
                         f"<{order.get('customer_email')}>"),
            ("shipping", order.get("shipping_description")),
            ("subtotal", order.get("subtotal")), ("discount", order.get("discount_amount")),
            ("shipping amount", order.get("shipping_amount")), ("tax", order.get("tax_amount")),
            ("grand total", order.get("grand_total")),
            ("items", ", ".join(f"{i['qty_ordered']} x {i['sku']} @ {i['price']}" for i in order.get("items", [])))]
    for k, v in rows:
        t.add_row(k, str(v))
    return t


class Demo:
    def __init__(self, world: LocalWorld) -> None:
        self.world = world
        assert world.runtime is not None
        env = world.runtime.functions["OrderSyncFunction"].env
        self.log = ConnectorLog(env["CONNECTOR_LOG_TABLE"])
        self.settings = SettingsStore(env["SETTINGS_TABLE"])
        self.acu = AcumaticaUser.from_endpoints(world.endpoints())
        self.mag = MagentoViewer.from_endpoints(world.endpoints())

    def step(self, n: int | str, text: str) -> None:
        console.rule(f"[bold]Step {n}[/bold]: {text}")

    def settle(self) -> None:
        if not self.world.wait_settled(timeout=60):
            raise RuntimeError("the pipeline did not settle within 60 s")

    def show_logs(self, notes: str | None = None) -> None:
        m = [e for e in self.log.newest(Side.MAGENTO, limit=50) if notes is None or e.notes == notes]
        a = self.log.newest(Side.ACUMATICA, limit=50)
        console.print(acumatica_log_table(a[:8]))
        console.print(magento_log_table(m[:20]))

    def orders_1_to_8(self) -> tuple[str, dict[str, Any]]:
        self.step(1, "create the order in Acumatica (Alta Ace, 2 x WATER2809, Ship Via LOCAL)")
        nbr = self.acu.create_order()
        o = self.acu.order(nbr)
        console.print(f"  Acumatica order SO {nbr}: status {val(o, 'Status')}, total {val(o, 'OrderTotal')}, "
                      f"unpaid {val(o['Totals'], 'UnpaidBalance')}")
        self.settle()
        self.step(2, "the Ship Via mapping (A>M)")
        console.print(ship_via_table(self.settings))
        self.step(3, "the order's Ship Via")
        console.print(f"  Ship Via: {val(self.acu.order(nbr, 'ShippingSettings')['ShippingSettings'], 'ShipVia')}")
        self.step(4, "A>M order sync preferences (any one condition)")
        prefs = self.settings.order_sync(fresh=True)
        console.print(f"  customer is B2B: {prefs.sync_if_b2b} | customer is staff: {prefs.sync_if_staff} | "
                      f"unpaid balance is 0.00: {prefs.sync_if_paid} (B2B/staff from {prefs.customer_flags_source})")
        skipped = [e for e in self.log.timeline(nbr) if e.result and e.result.value == "Skipped"]
        console.print(f"  -> the connector skipped it: [yellow]{skipped[0].message if skipped else '(no row)'}"
                      "[/yellow]")
        self.step(5, "record a payment so the unpaid balance is 0.00")
        ref = self.acu.record_payment(nbr)
        console.print(f"  payment {ref} released; unpaid balance now {self.acu.unpaid_balance(nbr)}")
        self.settle()
        self.step("6-7", "the connector logs")
        self.show_logs()
        self.step(8, "the Magento order carries the Acumatica number; Acumatica has the Magento number")
        orders = self.mag.orders_for(nbr)
        if len(orders) != 1:
            raise RuntimeError(f"expected one Magento order for {nbr}, found {len(orders)}")
        order = orders[0]
        console.print(magento_order_table(order))
        ext = val(self.acu.order(nbr, "Totals"), "ExternalRef")
        console.print(f"  Acumatica SO {nbr} External Reference: [bold]{ext}[/bold]")
        if ext != order["increment_id"]:
            raise RuntimeError(f"Acumatica ExternalRef {ext!r} is not the Magento number {order['increment_id']}")
        return nbr, order


    def fulfilment_9_to_13(self, nbr: str, order: dict[str, Any]) -> None:
        self.step(9, "create the shipment in Acumatica (warehouse RETAIL)")
        shp = self.acu.create_shipment(nbr)
        self.acu.add_package(shp, "1Z999AA10123456784")
        console.print(f"  shipment {shp} with tracking number 1Z999AA10123456784")
        self.step(10, "confirm the shipment")
        self.acu.confirm_shipment(shp)
        self.settle()
        self.step(11, "the shipment in Magento")
        shipments = self.mag.shipments_of(int(order["entity_id"]))
        if len(shipments) != 1:
            raise RuntimeError(f"expected one Magento shipment for #{order['increment_id']}, found {len(shipments)}")
        s = shipments[0]
        tracks = ", ".join(f"{t.get('title')} {t.get('track_number')}" for t in s.get("tracks", []))
        console.print(f"  Magento shipment #{s.get('increment_id')} for order #{order['increment_id']}: "
                      f"{sum(float(i.get('qty', 0)) for i in s.get('items', []))} item(s), tracking: {tracks}")
        self.step(12, "prepare and release the invoice")
        inv = self.acu.prepare_invoice(shp)
        self.acu.release_invoice(inv)
        console.print(f"  invoice {inv} released")
        self.settle()
        self.step(13, "the Magento order reads Complete")
        invoices = self.mag.invoices_of(int(order["entity_id"]))
        final = self.mag.orders_for(nbr)[0]
        console.print(f"  Magento invoice(s): {', '.join(str(i.get('increment_id')) for i in invoices)}; "
                      f"grand total {final.get('grand_total')}, paid {final.get('total_paid')}")
        console.print(f"  Magento order #{final['increment_id']}: state [bold]{final['state']}[/bold], "
                      f"status [bold]{final['status']}[/bold]")
        stock = {i["source_code"]: i["quantity"] for i in self.mag.source_items("WATER2809")}
        console.print(f"  WATER2809 in Magento sources: {stock}")
        self.show_logs()
        if final["state"] != "complete":
            raise RuntimeError(f"the Magento order is {final['state']}, not complete")


def main() -> int:
    console.print("[bold]amsync demo[/bold]: starting the local world (moto, Acumatica and Magento simulators, "
                  "the local runtime from template.yaml)...")
    log_file = PROJECT_ROOT / ".local" / "logs" / "functions.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # the functions' stdout (Powertools EMF metrics, JSON logs) goes where CloudWatch would have it: a file
    with log_file.open("a") as sink, contextlib.redirect_stdout(sink), \
            LocalWorld(WorldOptions(start_schedules=False, function_log=log_file)) as world:
        assert world.runtime is not None
        world.runtime.observers.append(_hop)
        world.write_endpoints()
        demo = Demo(world)
        nbr, order = demo.orders_1_to_8()
        demo.fulfilment_9_to_13(nbr, order)
        from amsync_local.demo_customers import customers_step

        customers_step(demo)
        from amsync_local.demo_returns import returns_step

        returns_step(demo, nbr)
    console.print(f"[bold green]walkthrough complete[/bold green] (function logs: {log_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
