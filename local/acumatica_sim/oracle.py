"""The whole-store transaction algorithm, kept as a checker of the incremental one (``commit.py``).

With ``SimConfig.verify_transactions`` (or ``ACUMATICA_SIM_VERIFY=1``) every transaction also runs what the
simulator used to do on every write, in O(store): deep-copy the store before, snapshot every push query's rows
(totals and availability computed by scanning every payment, invoice, order and shipment) before and after, stamp
every record that differs from its copy, stamp availabilities and records whose rows changed, diff the snapshots.
It raises ``AssertionError`` when the incremental commit differs: records (stamps included), ``site_modified``,
the published diffs, the cached rows, link indexes and running totals (against ones rebuilt from scratch), a
record changed that the journal did not hold, the store not being settled (a full reconcile on a copy would still
transfer or restate something), or a rolled-back transaction not leaving the store as it was.
"""

from __future__ import annotations

import pickle
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim import commit
from acumatica_sim.documents import restate_payment, transfer
from acumatica_sim.model import ACTIVE_ORDER_STATUSES, TABLES, ZERO, OrderIndex, Rec, Store
from acumatica_sim.queries import QUERIES, Row, Rows, diff, invoice_rows, order_row, payment_rows, shipment_rows
from acumatica_sim.queries import stock_base_row as base_row
from acumatica_sim.tables import Journal, Table

Snapshot = dict[str, Rows]


def clone(store: Store) -> Store:
    """A deep copy of the records (same order), with derived state of its own (empty until rebuilt)."""
    data = {name: list(store.table(name).raw_items()) for name in TABLES}
    data = pickle.loads(pickle.dumps((data, store.numbering, store.site_modified)))  # noqa: S301
    tables, numbering, site_modified = data
    return Store(**{name: Table(name, items) for name, items in tables.items()}, numbering=numbering,
                 site_modified=site_modified)


def data(store: Store) -> dict[str, Any]:
    """Everything a dump shows of the records, order included."""
    return {**{name: list(store.table(name).raw_items()) for name in TABLES},
            "numbering": list(store.numbering.items()), "site_modified": list(store.site_modified.items())}


# ================================================================================ whole-store computations
def order_index(store: Store) -> OrderIndex:
    """Payment applications and invoiced amounts of every order, in one pass over payments and invoices."""
    index = OrderIndex()
    for _, p in store.payments.raw_items():
        for a in p["orders"]:
            index.applications.setdefault((a["OrderType"], a["OrderNbr"]), []).append((p, a))
    for _, inv in store.invoices.raw_items():
        keys = dict.fromkeys((ln["OrderType"], ln["OrderNbr"]) for ln in inv["lines"])
        if keys:
            amount = store.invoice_amount(inv)
            for key in keys:
                index.invoiced.setdefault(key, []).append(amount)
    return index


def availability(store: Store, item_id: str, wh: str) -> dict[str, Decimal]:
    item = dict.__getitem__(store.items, item_id)
    on_hand = item["warehouses"].get(wh, {}).get("QtyOnHand", ZERO)
    booked = ZERO
    for _, o in store.orders.raw_items():
        if o["Status"] not in ACTIVE_ORDER_STATUSES:
            continue
        for ln in o["lines"]:
            if (ln["InventoryID"] == item_id and ln["WarehouseID"] == wh and not ln.get("Completed")
                    and ln.get("Operation", "Issue") == "Issue"):
                booked += max(ln["OrderQty"] - ln.get("ShippedQty", ZERO), ZERO)
    unconfirmed = sum((ln["ShippedQty"] for _, s in store.shipments.raw_items()
                       if s["Status"] == "Open" and s.get("Operation") != "Receipt"
                       for ln in s["lines"] if ln["InventoryID"] == item_id and ln["WarehouseID"] == wh), ZERO)
    return {"QtyOnHand": on_hand, "QtyAvailable": on_hand - booked,
            "QtyAvailableForShipment": on_hand - unconfirmed, "QtyNotAvailable": ZERO}


def stock_base_rows(store: Store) -> list[Row]:
    return [base_row(iid, wh, availability(store, iid, wh))
            for iid, it in store.items.raw_items() for wh in it["warehouses"]]


def _rows(store: Store, name: str) -> list[Row]:
    if name == "AMSync-SalesOrders":
        index = order_index(store)
        return [order_row(store, o, store.order_totals(o, index)) for _, o in store.orders.raw_items()]
    if name == "AMSync-StockAvailability":
        return [{**r, "LastModifiedOn": store.site_modified.get((r["InventoryID"], r["WarehouseID"]))}
                for r in stock_base_rows(store)]
    fn, table = {"AMSync-Shipments": (shipment_rows, "shipments"), "AMSync-SalesInvoices": (invoice_rows, "invoices"),
                 "AMSync-Payments": (payment_rows, "payments")}[name]
    return [r for key, rec in store.table(table).raw_items() for r in fn(store, key, rec)]


def snapshot(store: Store) -> Snapshot:
    return {q.name: q.keyed(_rows(store, q.name)) for q in QUERIES}


def stamp(backup: Store, store: Store, now: datetime) -> None:
    for table, fld in commit.STAMPS.items():
        old = backup.table(table)
        for key, rec in store.table(table).raw_items():
            prev = dict.get(old, key)
            if prev is None:
                continue
            if {k: v for k, v in prev.items() if k != fld} != {k: v for k, v in rec.items() if k != fld}:
                rec[fld] = now


def stock_touch(store: Store, before: list[Row], now: datetime) -> None:
    b = {(r["InventoryID"], r["WarehouseID"]): r for r in before}
    for r in stock_base_rows(store):
        key = (r["InventoryID"], r["WarehouseID"])
        if b.get(key) != r:
            store.site_modified[key] = now


def touch_changed(store: Store, before: Snapshot, now: datetime) -> None:
    """Records whose query rows changed get LastModified* = now (as Acumatica stamps a saved DAC)."""
    after = snapshot(store)
    for q in QUERIES:
        if q.stamp is None:
            continue
        table = store.table(q.table)
        for key in _changed_keys(before[q.name], after[q.name], "LastModifiedOn"):
            rec = dict.get(table, key[0] if q.table == "shipments" else (key[0], key[1]))
            if rec is not None:
                rec[q.stamp] = now


def _changed_keys(a: Rows, b: Rows, ignore: str) -> set[tuple[Any, ...]]:
    def strip(r: Row | None) -> Row | None:
        return None if r is None else {k: v for k, v in r.items() if k != ignore}

    return {k for k in set(a) | set(b) if strip(a.get(k)) != strip(b.get(k))}


def full_reconcile(store: Store, now: datetime) -> None:
    """documents.reconcile over every payment and invoice (the algorithm before it was limited to the orders
    involved)."""
    paid: dict[tuple[str, str], Decimal] = {}
    by_order: dict[tuple[str, str], list[tuple[int, int, Rec, Rec]]] = {}
    for pi, (_, p) in enumerate(store.payments.raw_items()):
        for d in p["docs"]:
            key = (d["DocType"], d["ReferenceNbr"])
            paid[key] = paid.get(key, ZERO) + d["AmountPaid"]
        if p["released"]:
            for ai, a in enumerate(p["orders"]):
                by_order.setdefault((a["OrderType"], a["OrderNbr"]), []).append((pi, ai, p, a))
    for _, inv in store.invoices.raw_items():
        if not inv["released"]:
            continue
        doc = (inv["Type"], inv["ReferenceNbr"])
        amount = store.invoice_amount(inv)
        orders = {(ln["OrderType"], ln["OrderNbr"]) for ln in inv["lines"]}
        for _, _, p, a in sorted((c for key in orders for c in by_order.get(key, [])), key=lambda c: c[:2]):
            paid[doc] = paid.get(doc, ZERO) + transfer(p, a, inv, amount - paid.get(doc, ZERO))
        if amount - paid.get(doc, ZERO) <= 0:
            inv["Status"] = "Closed"
    for _, p in store.payments.raw_items():
        restate_payment(store, p)


# ================================================================================ the check
def _same(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"incremental {what} differs from the whole-store computation:\n"
                             f"  incremental: {got!r}\n  whole-store: {want!r}")


def _same_data(what: str, got: dict[str, Any], want: dict[str, Any]) -> None:
    """``_same`` for ``data()``, naming the first record that differs."""
    for name in want:
        if got[name] != want[name]:
            a, b = dict(got[name]), dict(want[name])
            for key in [*b, *(k for k in a if k not in b)]:
                _same(f"{what}: {name}[{key!r}]", a.get(key), b.get(key))
            _same(f"{what}: {name} order", list(a), list(b))


class Check:
    """One transaction's check: ``Check(store)`` before, then ``rolled_back`` or ``expect`` + ``verify``."""

    def __init__(self, store: Store) -> None:
        self.backup = clone(store)
        self.before = snapshot(self.backup)
        self.stock_before = stock_base_rows(self.backup)
        self.expected: Store | None = None
        self.problem: AssertionError | None = None  # raised by verify, once the commit has run
        self.diffs: dict[str, tuple[list[Row], list[Row]]] = {}

    def rolled_back(self, store: Store) -> None:
        _same_data("store after a rollback", data(store), data(self.backup))
        _check_order(store)

    def expect(self, store: Store, journal: Journal, now: datetime) -> None:
        """After the transaction's function, before the incremental commit: run the whole-store commit on a copy."""
        try:
            _check_journal(self.backup, store, journal)
        except AssertionError as e:
            self.problem = e
        mid = clone(store)
        stamp(self.backup, mid, now)
        stock_touch(mid, self.stock_before, now)
        touch_changed(mid, self.before, now)
        after = snapshot(mid)
        self.expected = mid
        self.diffs = {name: diff(self.before[name], after[name]) for name in after}

    def verify(self, store: Store, diffs: dict[str, tuple[list[Row], list[Row]]], now: datetime) -> None:
        assert self.expected is not None
        if self.problem is not None:
            raise self.problem
        _same_data("records after the commit", data(store), data(self.expected))
        for q in QUERIES:
            _same(f"{q.name} diff", diffs[q.name], self.diffs[q.name])
        _check_order(store)
        check_derived(store)
        if not store.derived.pending:
            settled = clone(store)
            full_reconcile(settled, now)
            _same_data("store (not settled: a full reconcile changes it)", data(store), data(settled))


def _check_journal(backup: Store, store: Store, journal: Journal) -> None:
    """Every record that changed during the transaction is in the journal (its before-image is the backup's)."""
    for name in TABLES:
        old, new, seen = backup.table(name), store.table(name), journal.before.get(name, {})
        for key in dict.keys(old) | dict.keys(new):
            if key in seen:
                _same(f"before-image of {name}[{key!r}]", seen[key][0], dict.get(old, key))
            else:
                _same(f"{name}[{key!r}] (changed outside the journal)", dict.get(new, key), dict.get(old, key))


def _check_order(store: Store) -> None:
    for t in store.tables():
        keys = list(dict.keys(t))
        _same(f"{t.name} sequence", sorted(keys, key=t.seq.__getitem__), keys)
        _same(f"{t.name} sequence keys", set(t.seq), set(keys))


def check_derived(store: Store) -> None:
    """The derived state equals one rebuilt from scratch, and the cached rows a whole-store snapshot."""
    fresh = clone(store)
    commit.rebuild(fresh)
    ix, want = store.derived, fresh.derived
    for table, indexes in want.links.items():
        for name, index in indexes.items():
            _same(f"link index {table}.{name}", ix.links[table][name].map, index.map)
    _same("booked quantities", ix.booked, want.booked)
    _same("unconfirmed quantities", ix.unconfirmed, want.unconfirmed)
    _same("availability rows", ix.stock_base, want.stock_base)
    snap = snapshot(store)
    for q in QUERIES:
        t, cached = store.table(q.table), ix.rows[q.name]
        _same(f"{q.name} cached sources", set(cached), set(dict.keys(t)))
        flat = [(rk, r) for key in dict.keys(t) for rk, r in cached[key].items()]
        _same(f"{q.name} cached rows", flat, list(snap[q.name].items()))
