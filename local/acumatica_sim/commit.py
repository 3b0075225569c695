"""Commit of a transaction in O(records it reached), and the derived state built from scratch (``rebuild``).

At commit the journal (``tables.py``) tells which records the transaction reached and what they were before; a
record whose before-image differs from what it is now changed (created and deleted records too). Then, for the
changed records only:

1. stamp: an existing record whose fields changed (its own LastModified* aside) gets LastModified* = now;
2. the link indexes drop the record's old links and add its new ones;
3. the running totals of booked quantity (active orders' open lines) and quantity on unconfirmed shipments per
   item x warehouse take the old contribution out and the new one in; each item x warehouse whose availability
   row (on hand, available) may have moved (its orders' contributions, or its item changed) is recomputed and, if
   it differs, stamped in ``site_modified``;
4. the push rows are recomputed for the affected source records: the changed records of each query's table, and
   for the sales order query also the orders whose row reads a changed record (their customer: class, email;
   their payments: released applications; their invoices), found through the links before *and* after; a record
   whose rows changed (LastModifiedOn aside) is stamped (``touch``) and its rows recomputed with the stamp;
5. the (inserted, deleted) rows per query are the differences between each affected record's cached and new
   rows, in table order (entry order of the source records, then each record's rows), as a whole-store
   before/after snapshot would give them (``oracle.py`` checks this against that whole-store algorithm).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim.model import ZERO, Derived, Pair, Store, booked_of, order_keys, unconfirmed_of
from acumatica_sim.queries import QUERIES, QueryDef, Row, Rows, stock_base_row
from acumatica_sim.tables import Before, Journal

STAMPS = {"customers": "LastModifiedDateTime", "items": "LastModified", "orders": "LastModified",
          "shipments": "LastModifiedDateTime", "invoices": "LastModifiedDateTime", "payments": "LastModifiedDateTime"}
Changes = dict[str, dict[Any, Before]]  # table -> key -> (before-image or None, seq before)
Diffs = dict[str, tuple[list[Row], list[Row]]]


@dataclass
class CommitStats:
    """What one transaction cost (tests assert these stay flat as the store grows)."""

    journaled: int = 0  # records the transaction reached
    changed: int = 0  # of which changed (created and deleted included)
    sources: int = 0  # records whose push rows were recomputed
    stock_pairs: int = 0  # item x warehouse availabilities recomputed
    full_table_journals: int = 0  # tables iterated inside the transaction (each journals the whole table)


def commit(store: Store, journal: Journal, now: datetime) -> tuple[Diffs, CommitStats]:
    """Bring the derived state up to date after a successful transaction; the push diffs to publish."""
    changed = changes(store, journal)
    _stamp(store, changed, now)
    _relink(store, changed)
    pairs = _retotal(store, changed)
    _settle_pending(store, changed, journal.reconciled)
    stock_items = _stock_touch(store, pairs, now)
    diffs: Diffs = {}
    stats = CommitStats(journaled=journal.records(), changed=sum(len(c) for c in changed.values()),
                        stock_pairs=len(pairs), full_table_journals=journal.full_tables)
    for q in QUERIES:
        keys = _sources(store, q, changed, stock_items)
        stats.sources += len(keys)
        diffs[q.name] = _refresh(store, q, keys, changed.get(q.table, {}), now)
    return diffs, stats


def changes(store: Store, journal: Journal) -> Changes:
    """The journaled records that differ from their before-image (or moved in the table order)."""
    out: Changes = {}
    for name, seen in journal.before.items():
        t = store.table(name)
        for key, (before, seq) in seen.items():
            cur = dict.get(t, key)
            if before is None and cur is None:
                continue
            if before is not None and cur is not None and before == cur and t.seq[key] == seq:
                continue
            out.setdefault(name, {})[key] = (before, seq)
    return out


def _stamp(store: Store, changed: Changes, now: datetime) -> None:
    for table, fld in STAMPS.items():
        t = store.table(table)
        for key, (before, _) in changed.get(table, {}).items():
            rec = dict.get(t, key)
            if before is None or rec is None:
                continue
            if {k: v for k, v in before.items() if k != fld} != {k: v for k, v in rec.items() if k != fld}:
                rec[fld] = now


def _relink(store: Store, changed: Changes) -> None:
    for name, recs in changed.items():
        t, indexes = store.table(name), store.derived.links[name].values()
        for key, (before, _) in recs.items():
            rec = dict.get(t, key)
            for index in indexes:
                if before is not None:
                    index.discard(key, before)
                if rec is not None:
                    index.add(key, rec)


def _add(totals: dict[Pair, Decimal], old: dict[Pair, Decimal], new: dict[Pair, Decimal]) -> None:
    for pair in old.keys() | new.keys():
        total = totals.get(pair, ZERO) + new.get(pair, ZERO) - old.get(pair, ZERO)
        if total:
            totals[pair] = total
        else:
            totals.pop(pair, None)


def _retotal(store: Store, changed: Changes) -> set[Pair]:
    """Update the running totals; the item x warehouse pairs whose availability row may have moved."""
    pairs: set[Pair] = set()
    for key, (before, _) in changed.get("orders", {}).items():
        old, new = booked_of(before), booked_of(dict.get(store.orders, key))
        _add(store.derived.booked, old, new)
        pairs |= old.keys() | new.keys()
    for key, (before, _) in changed.get("shipments", {}).items():
        _add(store.derived.unconfirmed, unconfirmed_of(before), unconfirmed_of(dict.get(store.shipments, key)))
    for key, (before, _) in changed.get("items", {}).items():
        for it in (before, dict.get(store.items, key)):
            pairs |= {(key, wh) for wh in it["warehouses"]} if it is not None else set()
    return pairs


def _settle_pending(store: Store, changed: Changes, reconciled: bool) -> None:
    """A deleted payment un-pays its invoices: documents.reconcile must look at their orders again."""
    pending = store.derived.pending
    if reconciled:
        pending.clear()
    for key, (before, _) in changed.get("payments", {}).items():
        if before is not None and dict.get(store.payments, key) is None:
            for d in before["docs"]:
                inv = dict.get(store.invoices, (d["DocType"], d["ReferenceNbr"]))
                pending |= order_keys(inv["lines"]) if inv is not None else set()


def _stock_touch(store: Store, pairs: set[Pair], now: datetime) -> set[str]:
    """Recompute the availability of ``pairs`` (stamping those that moved); the items whose rows may change."""
    base = store.derived.stock_base

    def order(pair: Pair) -> tuple[int, int]:  # as the rows come: items in entry order, then their warehouses
        it = dict.get(store.items, pair[0])
        if it is None:
            return -1, 0
        return store.items.seq[pair[0]], list(it["warehouses"]).index(pair[1]) if pair[1] in it["warehouses"] else -1

    for iid, wh in sorted(pairs, key=order):
        it = dict.get(store.items, iid)
        if it is None or wh not in it["warehouses"]:
            base.pop((iid, wh), None)
            continue
        row = stock_base_row(iid, wh, store.availability(iid, wh))
        if base.get((iid, wh)) != row:
            store.site_modified[(iid, wh)] = now
            base[(iid, wh)] = row
    return {iid for iid, _ in pairs}


def _sources(store: Store, q: QueryDef, changed: Changes, stock_items: set[str]) -> set[Any]:
    """The records of ``q.table`` whose rows this commit must recompute."""
    keys = set(changed.get(q.table, {}))
    if q.table == "items":
        keys |= stock_items
    if q.table != "orders":
        return keys
    by_customer = store.derived.links["orders"]["customer"].map
    for cid in changed.get("customers", {}):
        keys |= by_customer.get(cid, set())
    for table, field in (("payments", "orders"), ("invoices", "lines")):
        t = store.table(table)
        for key, (before, _) in changed.get(table, {}).items():
            for rec in (before, dict.get(t, key)):
                keys |= order_keys(rec[field]) if rec is not None else set()
    return keys


def _rows_changed(old: Rows, new: Rows, ignore: str) -> bool:
    def strip(r: Row | None) -> Row | None:
        return None if r is None else {k: v for k, v in r.items() if k != ignore}

    return any(strip(old.get(k)) != strip(new.get(k)) for k in old.keys() | new.keys())


def _refresh(store: Store, q: QueryDef, keys: set[Any], changed: dict[Any, Before],
             now: datetime) -> tuple[list[Row], list[Row]]:
    """Recompute the rows of ``keys``' records (stamping those whose rows changed); (inserted, deleted)."""
    t, cache = store.table(q.table), store.derived.rows.setdefault(q.name, {})
    old: dict[Any, Rows] = {k: cache.get(k, {}) for k in keys}
    new: dict[Any, Rows] = {}
    for k in keys:
        rec = dict.get(t, k)
        if rec is None:
            new[k] = {}
            cache.pop(k, None)
            continue
        rows = q.keyed(q.rows(store, k, rec))
        if q.stamp and _rows_changed(old[k], rows, "LastModifiedOn"):
            rec[q.stamp] = now  # Acumatica stamps a record whose query rows changed
            rows = q.keyed(q.rows(store, k, rec))
        new[k] = cache[k] = rows

    def before_seq(k: Any) -> int:
        seq = changed[k][1] if k in changed else t.seq.get(k)
        return -1 if seq is None else seq

    inserted = [r for k in sorted((k for k in keys if new[k]), key=t.seq.__getitem__)
                for rk, r in new[k].items() if old[k].get(rk) != r]
    deleted = [r for k in sorted((k for k in keys if old[k]), key=before_seq)
               for rk, r in old[k].items() if new[k].get(rk) != r]
    return inserted, deleted


def rebuild(store: Store) -> None:
    """Derived state from scratch (after seeding, which writes outside transactions): O(store)."""
    store.derived = ix = Derived()
    for t in store.tables():
        indexes = ix.links[t.name].values()
        for key, rec in t.raw_items():
            for index in indexes:
                index.add(key, rec)
    for _, o in store.orders.raw_items():
        _add(ix.booked, {}, booked_of(o))
    for _, s in store.shipments.raw_items():
        _add(ix.unconfirmed, {}, unconfirmed_of(s))
    for iid, it in store.items.raw_items():
        for wh in it["warehouses"]:
            ix.stock_base[(iid, wh)] = stock_base_row(iid, wh, store.availability(iid, wh))
    for q in QUERIES:
        ix.rows[q.name] = {key: q.keyed(q.rows(store, key, rec)) for key, rec in store.table(q.table).raw_items()}

