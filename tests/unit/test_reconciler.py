"""The reconciler's rules, with fake ports: what it hands on and how its watermark moves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests_support import FakeWatermarks

from amsync.adapters.errors import FatalError
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.magento import MagentoOrderPage, MagentoOrderSummary
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import OrderSyncPreferences
from amsync.services.exporting import Binding
from amsync.services.reconciler import ReconcilerPorts, reconcile


def w(v: Any) -> dict[str, Any]:
    return {"value": v}


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class FakeAcumatica:
    def __init__(self, records: dict[str, list[dict[str, Any]]], stock: list[dict[str, Any]] | None = None) -> None:
        self.records = records
        self.stock = stock or []
        self.asked: list[tuple[str, str]] = []

    def changed(self, entity: str, stamp_field: str, since: str, select: str | None,
                expand: str | None) -> list[dict[str, Any]]:
        self.asked.append((entity, since))
        since_dt = datetime.fromisoformat(since)
        return [r for r in self.records.get(entity, [])
                if datetime.fromisoformat(r[stamp_field]["value"]) > since_dt]

    def quantities_changed(self, since: str) -> list[dict[str, Any]]:
        return self.stock


class FakeBinder(FakeWatermarks):
    def __init__(self, bound: dict[str, Binding] | None = None) -> None:
        super().__init__()
        self.bound = bound or {}
        self.markers: set[tuple[str, str]] = set()
        self.marker_lookups: list[str] = []

        self.reads: list[tuple[str, int]] = []  # (kind, keys) of each get_many: one read per kind and batch

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Binding]:
        keys = list(keys)
        self.reads.append((kind, len(keys)))
        return {k: b for k in keys if (b := self.bound.get(f"{kind}#{k}")) is not None}

    def seen_many(self, query: str, push_ids: Iterable[str]) -> set[str]:
        ids = list(push_ids)
        self.marker_lookups += ids
        return {v for v in ids if (query, v) in self.markers}

    def mark_seen_many(self, query: str, push_ids: Iterable[str]) -> None:
        self.markers.update((query, v) for v in push_ids)


class FakeMagento:
    """Magento's orders as the sweep sees them, with OrderService's cancel (false when it cannot), hold (an error
    when it cannot) and comments."""

    def __init__(self, orders: list[dict[str, Any]] | None = None, cannot_cancel: set[int] | None = None) -> None:
        self.orders = {o["entity_id"]: o for o in orders or []}
        self.cannot_cancel = cannot_cancel or set()
        self.asked: list[tuple[str, int]] = []
        self.actions: list[tuple[str, int]] = []
        self.comments: list[tuple[int, str, str]] = []

    def orders_with_ext_id_since(self, since: str, page_size: int, current_page: int = 1) -> MagentoOrderPage:
        self.asked.append((since, current_page))
        found = sorted((o for o in self.orders.values() if o.get("ext_order_id") and o["created_at"] >= since),
                       key=lambda o: o["entity_id"])
        page = found[(current_page - 1) * page_size: current_page * page_size]
        return MagentoOrderPage(items=[MagentoOrderSummary.from_api(o) for o in page], total_count=len(found))

    def order_action(self, order_id: int, action: str) -> bool:
        order = self.orders[order_id]
        if action == "cancel":
            if order_id in self.cannot_cancel or order["state"] in ("holded", "canceled", "complete", "closed"):
                return False
            order["state"] = order["status"] = "canceled"
        elif action == "hold":
            if order["state"] in ("holded", "canceled", "complete", "closed"):
                raise FatalError("Magento", "hold", "A hold action is not available.", status=400)
            order["state"] = order["status"] = "holded"
        self.actions.append((action, order_id))
        return True

    def comment(self, order_id: int, comment: str, status: str, visible: bool = False) -> bool:
        self.orders[order_id].setdefault("status_histories", []).insert(0, {"comment": comment})
        self.comments.append((order_id, comment, status))
        return True


def ports(acu: FakeAcumatica, binder: FakeBinder, published: list[SyncRequest], fail: bool = False,
          magento: FakeMagento | None = None, log: list[LogEntry] | None = None,
          prefs: OrderSyncPreferences | None = None) -> ReconcilerPorts:
    def publish(reqs: list[SyncRequest]) -> None:
        if fail:
            raise RuntimeError("SQS unavailable")
        published.extend(reqs)
    rows = log if log is not None else []
    return ReconcilerPorts(acumatica=acu, binder=binder, publish=publish, log=rows.extend,
                           warehouses=lambda: ["RETAIL", "WHOLESALE"], magento=magento or FakeMagento(),
                           preferences=lambda: prefs or OrderSyncPreferences())


def order(nbr: str, minutes_ago: int, status: str = "Open") -> dict[str, Any]:
    return {"OrderType": w("SO"), "OrderNbr": w(nbr), "Status": w(status),
            "LastModified": w((NOW - timedelta(minutes=minutes_ago)).isoformat())}


def test_unsynced_changes_are_handed_on_and_the_watermark_moves_to_the_newest_seen() -> None:
    # Given two changed orders, one already bound (and not changed since), one not
    bound = Binding("order", "SO/SOT1", 1, "000000001", "bound", (NOW - timedelta(minutes=1)).timestamp(), {})
    acu = FakeAcumatica({"SalesOrder": [order("SOT1", 5), order("SOT2", 3)]})
    binder, published = FakeBinder({"order#SO/SOT1": bound}), []
    # When the reconciler runs
    report = reconcile(ports(acu, binder, published), NOW)
    # Then only the unsynced one is handed on, and the watermark is the newest change it read
    assert [(r.kind, r.key, r.source) for r in published if r.kind is Kind.ORDER] == [
        (Kind.ORDER, "SO/SOT2", "reconciler")]
    # (everything up to the read was read: the mark moves to the newest change or the read time less 2 minutes)
    assert binder.marks["orders"] == (NOW - timedelta(minutes=2)).isoformat(timespec="milliseconds")
    assert report.streams["orders"].read == 2
    # and the first run looked back as far as Acumatica keeps failed pushes (two days, and the overlap)
    assert datetime.fromisoformat(acu.asked[0][1]) == NOW - timedelta(days=2, seconds=900)


def test_watermark_does_not_move_when_handing_on_fails() -> None:
    acu = FakeAcumatica({"SalesOrder": [order("SOT9", 2)]})
    binder = FakeBinder()
    with pytest.raises(RuntimeError):
        reconcile(ports(acu, binder, [], fail=True), NOW)
    assert "orders" not in binder.marks


def test_a_second_run_reads_from_the_watermark_less_the_overlap() -> None:
    acu = FakeAcumatica({"SalesOrder": [order("SOT3", 20)]})
    binder, published = FakeBinder(), []
    reconcile(ports(acu, binder, published), NOW)
    acu.asked.clear()
    published.clear()
    reconcile(ports(acu, binder, published), NOW + timedelta(minutes=5))
    since = datetime.fromisoformat(next(s for e, s in acu.asked if e == "SalesOrder"))
    assert since == NOW - timedelta(minutes=2, seconds=900)
    # SOT3 changed before that: it is not read again
    assert [r.key for r in published if r.kind is Kind.ORDER] == []


def test_a_record_committed_with_a_stamp_older_than_the_watermark_is_handed_on_by_the_next_run() -> None:
    # Given a run that moved the orders watermark to NOW - 2 minutes
    acu = FakeAcumatica({"SalesOrder": []})
    binder, published = FakeBinder(), []
    reconcile(ports(acu, binder, published), NOW)
    assert binder.marks["orders"] == (NOW - timedelta(minutes=2)).isoformat(timespec="milliseconds")
    # When a long Acumatica transaction commits an order stamped ten minutes ago (before the watermark)
    acu.records["SalesOrder"].append(order("SOT4", 10))
    reconcile(ports(acu, binder, published), NOW + timedelta(minutes=5))
    # Then the next run reads it (from the watermark less the overlap) and hands it on
    assert [r.key for r in published if r.kind is Kind.ORDER] == ["SO/SOT4"]


def test_records_read_again_inside_the_overlap_are_not_handed_on_again() -> None:
    # Given an unsynced (say ineligible) order and a bound one, both handed on / seen by a first run
    bound = Binding("order", "SO/SOT1", 1, "000000001", "bound", (NOW - timedelta(minutes=1)).timestamp(), {})
    acu = FakeAcumatica({"SalesOrder": [order("SOT1", 5), order("SOT2", 3)]},
                        stock=[{"InventoryID": w("WATER2809"), "LastModifiedDateTime": w((NOW - timedelta(
                            minutes=4)).isoformat())}])
    binder, published = FakeBinder({"order#SO/SOT1": bound}), []
    reconcile(ports(acu, binder, published), NOW)
    assert sorted(r.key for r in published) == ["SO/SOT2", "WATER2809/RETAIL", "WATER2809/WHOLESALE"]
    assert binder.marker_lookups == []  # nothing was at or below a previous watermark: no lookups
    published.clear()
    # When the next run reads them again inside the overlap, and a new order appears
    acu.records["SalesOrder"].append(order("SOT5", -3))
    reconcile(ports(acu, binder, published), NOW + timedelta(minutes=5))
    # Then only the new order is handed on; the re-read unbound ones cost one marker lookup each
    assert [r.key for r in published] == ["SO/SOT5"]
    assert len(binder.marker_lookups) == 3
    # and an order changed again (a new stamp) is a new version: handed on again
    published.clear()
    acu.records["SalesOrder"][1] = order("SOT2", -6)
    reconcile(ports(acu, binder, published), NOW + timedelta(minutes=10))
    assert [r.key for r in published] == ["SO/SOT2"]


def test_confirmed_shipments_and_released_invoices_without_bindings_are_handed_on_per_order() -> None:
    stamp = w((NOW - timedelta(minutes=1)).isoformat())
    acu = FakeAcumatica({
        "Shipment": [{"ShipmentNbr": w("005139"), "Status": w("Confirmed"), "LastModifiedDateTime": stamp,
                      "Orders": [{"OrderType": w("SO"), "OrderNbr": w("SOT1")},
                                 {"OrderType": w("SO"), "OrderNbr": w("SOT2")}]},
                     {"ShipmentNbr": w("005140"), "Status": w("Open"), "LastModifiedDateTime": stamp, "Orders": []}],
        "SalesInvoice": [{"Type": w("Invoice"), "ReferenceNbr": w("AR1"), "Status": w("Balanced"),
                          "LastModifiedDateTime": stamp, "Details": []}],
        "Payment": [{"Status": w("Closed"), "LastModifiedDateTime": stamp,
                     "OrdersToApply": [{"OrderType": w("SO"), "OrderNbr": w("SOT7")}]}],
    }, stock=[{"InventoryID": w("WATER2809"), "LastModifiedDateTime": stamp}])
    shipped = Binding("shipment", "005139#SO/SOT1", 458, "000000423", "bound", 0, {})
    binder, published = FakeBinder({"shipment#005139#SO/SOT1": shipped}), []
    reconcile(ports(acu, binder, published), NOW)
    got = sorted((r.kind.value, r.key, r.order_key or "") for r in published)
    assert got == [("order", "SO/SOT7", ""), ("shipment", "005139", "SO/SOT2"),
                   ("stock", "WATER2809/RETAIL", ""), ("stock", "WATER2809/WHOLESALE", "")]


def test_a_run_reads_the_bindings_of_its_records_together_not_one_request_each() -> None:
    # Given 250 changed orders (the even ones bound) and 120 confirmed shipments of them
    stamp = w((NOW - timedelta(minutes=1)).isoformat())
    orders = [order(f"SOT{i}", 1) for i in range(250)]
    shipments = [{"ShipmentNbr": w(f"S{i}"), "Status": w("Confirmed"), "LastModifiedDateTime": stamp,
                  "Orders": [{"OrderType": w("SO"), "OrderNbr": w(f"SOT{i}")}]} for i in range(120)]
    bound = {f"order#SO/SOT{i}": Binding("order", f"SO/SOT{i}", i, f"{i:09d}", "bound", NOW.timestamp(), {})
             for i in range(0, 250, 2)}
    binder, published = FakeBinder(bound), []
    # When the reconciler runs
    reconcile(ports(FakeAcumatica({"SalesOrder": orders, "Shipment": shipments}), binder, published), NOW)
    # Then each stream asked for its bindings once, with every key its records name
    assert binder.reads == [("order", 250), ("shipment", 120)]
    # and the weighing is the same as one read per record: the unbound orders and every shipment are handed on
    assert sorted(r.key for r in published if r.kind is Kind.ORDER) == sorted(f"SO/SOT{i}" for i in range(1, 250, 2))
    assert len([r for r in published if r.kind is Kind.SHIPMENT]) == 120


# ---------------------------------------------------------------------- the double sweep


def magento_order(entity_id: int, ext: str | None, minutes_ago: float, state: str = "new") -> dict[str, Any]:
    return {"entity_id": entity_id, "increment_id": f"{entity_id:09d}", "ext_order_id": ext, "state": state,
            "status": "pending" if state == "new" else state, "status_histories": [],
            "created_at": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S")}


def bound_to(key: str, entity_id: int, state: str = "bound") -> Binding:
    return Binding("order", key, entity_id if state == "bound" else None,
                   f"{entity_id:09d}" if state == "bound" else None, state, NOW.timestamp(), {})


def sweep(magento: FakeMagento, binder: FakeBinder, at: datetime = NOW,
          prefs: OrderSyncPreferences | None = None) -> tuple[Any, list[LogEntry]]:
    rows: list[LogEntry] = []
    report = reconcile(ports(FakeAcumatica({}), binder, [], magento=magento, log=rows, prefs=prefs), at)
    return report, rows


def test_a_second_magento_order_of_a_bound_acumatica_order_is_cancelled_with_a_comment_and_a_failure_row() -> None:
    # Given SO/SOT24 bound to Magento order 995, a second order 996 for it (a late commit), another type's order
    # sharing the number, an order nobody bound yet, one still being created and a checkout order
    magento = FakeMagento([magento_order(995, "SOT24", 9), magento_order(996, "SOT24", 8),
                           magento_order(997, "ST/SOT24", 7), magento_order(998, "SOT25", 6),
                           magento_order(999, "SOT26", 5), magento_order(1000, None, 4)])
    binder = FakeBinder({"order#SO/SOT24": bound_to("SO/SOT24", 995), "order#ST/SOT24": bound_to("ST/SOT24", 997),
                         "order#SO/SOT26": bound_to("SO/SOT26", 0, state="creating")})
    # When the reconciler runs
    report, rows = sweep(magento, binder)
    # Then only 996 is handled: cancelled, with a comment that says what it is (no status change asked)
    message = ("a second Magento order for Acumatica SO SOT24, which is Magento order #000000995; "
               "cancelled by amsync")
    assert magento.actions == [("cancel", 996)]
    assert magento.comments == [(996, message, "")]
    assert [o["state"] for o in magento.orders.values()] == ["new", "canceled", "new", "new", "new", "new"]
    # one Failure row: Group Order, Notes the Acumatica order number, Entity Id the double's
    [row] = rows
    assert (row.group, row.action, row.result, row.notes, row.entity_id, row.message) == (
        Group.ORDER, Action.CREATE, Result.FAILURE, "SOT24", "996", message)
    assert [(d.order_key, d.entity_id, d.bound_entity_id) for d in report.doubles] == [("SO/SOT24", 996, 995)]
    # and the sweep read from two days back (its first run) less the overlap, in Magento's time format
    assert magento.asked == [((NOW - timedelta(days=2, seconds=900)).strftime("%Y-%m-%d %H:%M:%S"), 1)]


def test_a_handled_double_is_not_handled_again() -> None:
    magento = FakeMagento([magento_order(995, "SOT24", 9), magento_order(996, "SOT24", 8)])
    binder = FakeBinder({"order#SO/SOT24": bound_to("SO/SOT24", 995)})
    sweep(magento, binder)
    # When the next run reads it again inside the overlap
    report, rows = sweep(magento, binder, NOW + timedelta(minutes=5))
    # Then nothing more is done: its comment marks it handled
    assert (magento.actions, len(magento.comments), rows, report.doubles) == ([("cancel", 996)], 1, [], [])


def test_the_hold_preference_holds_the_double() -> None:
    magento = FakeMagento([magento_order(995, "SOT24", 9), magento_order(996, "SOT24", 8)])
    binder = FakeBinder({"order#SO/SOT24": bound_to("SO/SOT24", 995)})
    report, rows = sweep(magento, binder, prefs=OrderSyncPreferences(double_action="hold"))
    assert magento.actions == [("hold", 996)] and magento.orders[996]["state"] == "holded"
    assert [r.message for r in rows] == [
        "a second Magento order for Acumatica SO SOT24, which is Magento order #000000995; held by amsync"]
    assert len(report.doubles) == 1


def test_a_double_magento_will_not_cancel_is_held_and_one_it_will_not_hold_either_is_left_to_a_person() -> None:
    # Given two doubles: one Magento will not cancel (invoiced), one complete (neither cancel nor hold)
    magento = FakeMagento([magento_order(995, "SOT24", 9), magento_order(996, "SOT24", 8),
                           magento_order(1001, "SOT30", 9), magento_order(1002, "SOT30", 8, state="complete")],
                          cannot_cancel={996})
    binder = FakeBinder({"order#SO/SOT24": bound_to("SO/SOT24", 995), "order#SO/SOT30": bound_to("SO/SOT30", 1001)})
    report, rows = sweep(magento, binder)
    assert magento.actions == [("hold", 996)]
    assert [r.message.split("; ", 1)[1] for r in rows] == [
        "held by amsync (Magento would not cancel it)",
        "neither cancelled nor held: Magento refused (A hold action is not available.); handle it by hand"]
    # both carry the comment, so the next run leaves them alone
    _, again = sweep(magento, binder, NOW + timedelta(minutes=5))
    assert again == [] and len(magento.comments) == 2


def test_the_sweep_pages_through_every_order_since_its_watermark_less_the_overlap() -> None:
    # Given 250 connector orders, each the second of a bound order (pages of 100)
    orders = [magento_order(2000 + i, f"SOT{i}", 1) for i in range(250)]
    binder = FakeBinder({f"order#SO/SOT{i}": bound_to(f"SO/SOT{i}", 9000 + i) for i in range(250)})
    magento = FakeMagento(orders)
    report, rows = sweep(magento, binder)
    assert [p for _, p in magento.asked] == [1, 2, 3] and len(rows) == 250 == report.streams["doubles"].read
    # and the next run asks from its watermark (the newest order seen, newer than the run less 2 minutes) less
    # the overlap
    magento.asked.clear()
    sweep(magento, binder, NOW + timedelta(minutes=5))
    assert magento.asked[0][0] == (NOW - timedelta(minutes=1, seconds=900)).strftime("%Y-%m-%d %H:%M:%S")


def test_an_order_whose_acumatica_order_is_still_being_created_is_read_again_until_its_binding_settles() -> None:
    # Given a Magento order for SO/SOT24 while the connector's create of SO/SOT24 is still in flight
    magento = FakeMagento([magento_order(996, "SOT24", 1)])
    binder = FakeBinder({"order#SO/SOT24": bound_to("SO/SOT24", 0, state="creating")})
    # When runs go on for longer than the overlap while it stays so
    for minutes in (0, 20):
        _, rows = sweep(magento, binder, NOW + timedelta(minutes=minutes))
        assert rows == [] and magento.actions == []
    # Then once the create binds another Magento order, the next run still reads 996 and cancels it
    binder.bound["order#SO/SOT24"] = bound_to("SO/SOT24", 995)
    report, rows = sweep(magento, binder, NOW + timedelta(minutes=40))
    assert magento.actions == [("cancel", 996)] and len(report.doubles) == 1
