"""The reconciler's rules, with fake ports: what it hands on and how its watermark moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests_support import FakeWatermarks

from amsync.data.bindings import Binding
from amsync.models.messages import Kind, SyncRequest
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

    def get(self, kind: str, key: str) -> Binding | None:
        return self.bound.get(f"{kind}#{key}")


def ports(acu: FakeAcumatica, binder: FakeBinder, published: list[SyncRequest], fail: bool = False) -> ReconcilerPorts:
    def publish(reqs: list[SyncRequest]) -> None:
        if fail:
            raise RuntimeError("SQS unavailable")
        published.extend(reqs)
    return ReconcilerPorts(acumatica=acu, binder=binder, publish=publish, log=lambda entries: None,
                           warehouses=lambda: ["RETAIL", "WHOLESALE"])


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
    # and the first run looked back as far as Acumatica keeps failed pushes (two days)
    assert acu.asked[0][1].startswith((NOW - timedelta(days=2, seconds=5)).date().isoformat())


def test_watermark_does_not_move_when_handing_on_fails() -> None:
    acu = FakeAcumatica({"SalesOrder": [order("SOT9", 2)]})
    binder = FakeBinder()
    with pytest.raises(RuntimeError):
        reconcile(ports(acu, binder, [], fail=True), NOW)
    assert "orders" not in binder.marks


def test_a_second_run_reads_from_the_watermark_with_a_small_overlap() -> None:
    acu = FakeAcumatica({"SalesOrder": [order("SOT3", 10)]})
    # (the overlap re-reads the edge of the window; consumers are idempotent, so a re-read is harmless)
    binder, published = FakeBinder(), []
    reconcile(ports(acu, binder, published), NOW)
    acu.asked.clear()
    published.clear()
    reconcile(ports(acu, binder, published), NOW + timedelta(minutes=5))
    since = datetime.fromisoformat(next(s for e, s in acu.asked if e == "SalesOrder"))
    assert since == NOW - timedelta(minutes=2, seconds=5)
    # SOT3 changed before that: it is not read again
    assert [r.key for r in published if r.kind is Kind.ORDER] == []


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
