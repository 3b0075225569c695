"""Transactions cost O(records they touch): journaled tables, link indexes, incremental push rows.

Every transaction of this suite is also checked against the whole-store algorithm (``verify_transactions`` in
acu_support); these tests drive the paths that matter for it (many documents, rollbacks, settlements) and assert
that the cost of a transaction does not grow with the store.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from acu_flow import create_order, pay, run_action, ship
from acu_sim_helpers import BASE, val

from acumatica_sim import AcumaticaSimulator, SimConfig, documents, oracle, views
from acumatica_sim.model import BUSINESS_KEYS, Store
from acumatica_sim.registry import ENTITIES


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text  # an oracle mismatch surfaces as a 500 with its message
    return r.json() if r.content else {}


def _act(c: httpx.Client, entity: str, action: str, keys: dict[str, Any], params: dict[str, Any] | None = None) -> None:
    r = run_action(c, entity, action, keys, params)
    assert r.status_code == 204, r.text


def _payment(c: httpx.Client, customer: str, amount: float, applied: dict[str, float], release: bool = True) -> str:
    p = _ok(c.put(f"{BASE}/Payment", json={
        "Type": {"value": "Payment"}, "CustomerID": {"value": customer}, "PaymentMethod": {"value": "CHECK"},
        "PaymentAmount": {"value": amount},
        "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr}, "AppliedToOrder": {"value": a}}
                          for nbr, a in applied.items()]}))
    if release:
        _act(c, "Payment", "ReleasePayment", {"Type": "Payment", "ReferenceNbr": val(p, "ReferenceNbr")})
    return str(val(p, "ReferenceNbr"))


def _invoice_of(c: httpx.Client, shipment: str) -> str:
    s = _ok(c.get(f"{BASE}/Shipment/{shipment}", params={"$expand": "Orders"}))
    return str(val(s["Orders"][0], "InvoiceNbr"))


def _order(c: httpx.Client, nbr: str) -> dict[str, Any]:
    return _ok(c.get(f"{BASE}/SalesOrder/SO/{nbr}", params={"$expand": "Details,Totals,Payments,Shipments"}))


def test_many_documents_flow_clean_under_the_oracle(acu: AcumaticaSimulator, client: httpx.Client) -> None:
    # Given six AACUSTOMER orders (SOT00024..29) and a two-warehouse BIGBOX order with freight
    nbrs = [str(val(create_order(client, qty=q), "OrderNbr")) for q in (1, 2, 3, 4, 5, 6)]
    big = _ok(client.put(f"{BASE}/SalesOrder", json={
        "CustomerID": {"value": "BIGBOX"}, "ShippingSettings": {"FreightPrice": {"value": 7.5}}, "Details": [
            {"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 3}, "WarehouseID": {"value": "RETAIL"}},
            {"InventoryID": {"value": "JUICE100"}, "OrderQty": {"value": 4}, "WarehouseID": {"value": "WHOLESALE"}}]}))
    big_nbr = str(val(big, "OrderNbr"))
    # When payments are released: one per order, one for two orders, one partial
    pay(client, nbrs[0], 20.0)
    _payment(client, "AACUSTOMER", 70.0, {nbrs[1]: 40.0, nbrs[2]: 30.0})
    _payment(client, "BIGBOX", 50.0, {big_nbr: 50.0})
    # And orders are shipped, partially, corrected, re-confirmed, invoiced (from the order and from the shipment)
    s1 = ship(client, nbrs[1])
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s1})
    _act(client, "SalesOrder", "PrepareSalesInvoice", {"OrderType": "SO", "OrderNbr": nbrs[1]})
    _act(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Invoice", "ReferenceNbr": _invoice_of(client, s1)})
    s2 = ship(client, nbrs[2])
    line = _ok(client.get(f"{BASE}/Shipment/{s2}", params={"$expand": "Details"}))["Details"][0]["id"]
    _ok(client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": s2}, "Details": [
        {"id": line, "ShippedQty": {"value": 2}}], "Packages": [{"BoxID": {"value": "LARGE"}}]}))
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s2})
    assert val(_order(client, nbrs[2]), "Status") == "Back Order"
    _act(client, "Shipment", "CorrectShipment", {"ShipmentNbr": s2})
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s2})
    _act(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": s2})
    _act(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Invoice", "ReferenceNbr": _invoice_of(client, s2)})
    s3 = ship(client, nbrs[2])  # the remaining unit
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s3})
    for wh in ("RETAIL", "WHOLESALE"):  # one shipment per warehouse, the first leaving a back order
        _act(client, "SalesOrder", "SalesOrderCreateShipment", {"OrderType": "SO", "OrderNbr": big_nbr},
             {"WarehouseID": wh})
        s = _order(client, big_nbr)["Shipments"][-1]
        _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": val(s, "ShipmentNbr")})
    _act(client, "SalesOrder", "PrepareSalesInvoice", {"OrderType": "SO", "OrderNbr": big_nbr})
    # And an invoice released before its order is paid, then the payment
    s4 = ship(client, nbrs[3])
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s4})
    _act(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": s4})
    inv4 = _invoice_of(client, s4)
    _act(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Invoice", "ReferenceNbr": inv4})
    _payment(client, "AACUSTOMER", 80.0, {nbrs[3]: 80.0})
    # And hold, cancel, reopen, a deleted order, customer changes, stock changes
    keys = {"OrderType": "SO", "OrderNbr": nbrs[4]}
    _ok(client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": nbrs[4]}, "Hold": {"value": True}}))
    _ok(client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": nbrs[4]}, "Hold": {"value": False}}))
    _act(client, "SalesOrder", "CancelSalesOrder", keys)
    _act(client, "SalesOrder", "ReopenSalesOrder", keys)
    _ok(client.delete(f"{BASE}/SalesOrder/SO/{nbrs[5]}"), 204)
    _ok(client.put(f"{BASE}/Customer", json={"CustomerID": {"value": "BIGBOX"}, "CustomerClass": {"value": "STAFF"}}))
    _ok(client.put(f"{BASE}/Customer", json={"CustomerID": {"value": "AACUSTOMER"},
                                              "MainContact": {"Email": {"value": "new@altaace.com"}}}))
    _ok(client.put(f"{BASE}/StockItem", json={"InventoryID": {"value": "NEWITEM"}, "DefaultPrice": {"value": 2},
                                               "WarehouseDetails": [{"WarehouseID": {"value": "WHOLESALE"}}]}))
    acu.set_on_hand("NEWITEM", "WHOLESALE", 12)
    # Then the documents settled as expected and no transaction read a whole table
    assert val(_ok(client.get(f"{BASE}/SalesInvoice/Invoice/{inv4}")), "Status") == "Closed"
    assert [val(_order(client, n), "Status") for n in nbrs[:5]] == ["Open", "Completed", "Completed", "Completed",
                                                                    "Open"]
    assert val(_order(client, big_nbr), "Status") == "Completed"
    assert client.get(f"{BASE}/SalesOrder/SO/{nbrs[5]}").status_code == 500
    assert acu.full_table_journals == 0
    # And lists answer the same trees as single reads
    listed = {val(o, "OrderNbr"): o for o in _ok(client.get(f"{BASE}/SalesOrder", params={"$expand": "Totals"}))}
    assert val(listed[big_nbr], "Totals", "UnpaidBalance") == val(_order(client, big_nbr), "Totals", "UnpaidBalance")


def test_a_deleted_payment_leaves_its_invoice_to_the_next_reconcile(acu: AcumaticaSimulator,
                                                                    client: httpx.Client) -> None:
    # Given an order of 2 x 20.00 paid by two released payments of 20.00, half shipped and invoiced (20.00)
    nbr = str(val(create_order(client, qty=2), "OrderNbr"))
    first = _payment(client, "AACUSTOMER", 20.0, {nbr: 20.0})
    _payment(client, "AACUSTOMER", 20.0, {nbr: 20.0})
    s = ship(client, nbr)
    line = _ok(client.get(f"{BASE}/Shipment/{s}", params={"$expand": "Details"}))["Details"][0]["id"]
    _ok(client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": s}, "Details": [
        {"id": line, "ShippedQty": {"value": 1}}]}))
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s})
    _act(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": s})
    inv = _invoice_of(client, s)
    _act(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Invoice", "ReferenceNbr": inv})
    assert val(_ok(client.get(f"{BASE}/SalesInvoice/Invoice/{inv}")), "Status") == "Closed"
    # When the payment that closed the invoice is deleted
    _ok(client.delete(f"{BASE}/Payment/Payment/{first}"), 204)
    assert val(_ok(client.get(f"{BASE}/SalesInvoice/Invoice/{inv}")), "Balance") == 20.0
    # Then the next reconcile, for another order, settles it from the other payment (as a full pass would)
    other = str(val(create_order(client, qty=1), "OrderNbr"))
    _payment(client, "AACUSTOMER", 20.0, {other: 20.0})
    assert val(_ok(client.get(f"{BASE}/SalesInvoice/Invoice/{inv}")), "Status") == "Closed"
    assert not acu.store.derived.pending


def _dump_bytes(sim: AcumaticaSimulator) -> bytes:
    """The dump's records (its clock and request counters move with every call)."""
    return json.dumps({k: v for k, v in sim.dump().items() if k not in ("now", "sessions")}).encode()


def _derived(sim: AcumaticaSimulator) -> tuple[Any, ...]:
    ix = sim.store.derived
    links = {(t, n): {k: set(v) for k, v in i.map.items()} for t, idx in ix.links.items() for n, i in idx.items()}
    return links, ix.booked, ix.unconfirmed, ix.rows, ix.stock_base, ix.pending


def test_a_failing_transaction_leaves_the_store_byte_identical(acu: AcumaticaSimulator,
                                                               client: httpx.Client) -> None:
    # Given three more orders, one paid and shipped
    nbrs = [str(val(create_order(client, qty=q), "OrderNbr")) for q in (1, 2, 3)]
    pay(client, nbrs[0], 20.0)
    ship(client, nbrs[0])
    before, derived = _dump_bytes(acu), _derived(acu)
    seqs = {t.name: dict(t.seq) for t in acu.store.tables()}

    # When a transaction changes, creates and deletes records, then fails
    def boom(store: Store, now: datetime) -> None:
        o = store.orders[("SO", nbrs[1])]
        o["lines"][0]["OrderQty"] += 5
        o["Status"] = "Canceled"
        store.items["WATER2809"]["warehouses"]["RETAIL"]["QtyOnHand"] = 0
        del store.orders[("SO", nbrs[0])]  # from the middle of the table
        store.orders[("SO", nbrs[0])] = {"moved": True}  # back at the end of the dict
        store.customers.pop("STAFF01")
        documents.build_order(store, {"CustomerID": "BIGBOX", "Details": [{"InventoryID": "MUG500", "OrderQty": 1}]},
                              now)
        store.shipments.setdefault("999999", {"lines": []})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        acu.transact(boom)
    # And a request fails validation half-way (422)
    bad = client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": nbrs[2]}, "Description": {"value": "x"},
                                                 "Details": [{"InventoryID": {"value": "NOPE"}}]})
    assert bad.status_code == 422
    # Then the store, its order and its derived state are as they were
    assert _dump_bytes(acu) == before
    assert _derived(acu) == derived
    assert {t.name: dict(t.seq) for t in acu.store.tables()} == seqs
    assert list(acu.store.orders)[:2] == [("SO", "SOT00023"), ("SO", nbrs[0])]


def test_the_document_flow_never_journals_a_whole_table(acu: AcumaticaSimulator, client: httpx.Client) -> None:
    # Given / When an order goes through payment, shipment, confirmation, invoice and release, read in between
    nbr = str(val(create_order(client), "OrderNbr"))
    pay(client, nbr, 40.0)
    s = ship(client, nbr)
    _ok(client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": s}, "Packages": [
        {"BoxID": {"value": "LARGE"}, "TrackingNbr": {"value": "1Z"}}]}))
    _act(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": s})
    _act(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": s})
    _act(client, "SalesInvoice", "ReleaseSalesInvoice", {"Type": "Invoice", "ReferenceNbr": _invoice_of(client, s)})
    _order(client, nbr)
    _ok(client.get(f"{BASE}/SalesOrder", params={"$filter": "Status eq 'Completed'"}))
    # Then no transaction iterated a table
    assert acu.full_table_journals == 0
    # (while one that does is counted, and still correct)
    acu.transact(lambda store, now: [o["Status"] for o in store.orders.values()])
    assert acu.full_table_journals == 1 and acu.last_commit.full_table_journals == 1


def _flow(sim: AcumaticaSimulator) -> list[tuple[str, tuple[int, ...]]]:
    """One order's document flow through the Python API; the cost of each step (reads run in a transaction so
    that the journal counts the records they reach)."""
    costs: list[tuple[str, tuple[int, ...]]] = []
    state: dict[str, Any] = {}

    def step(name: str, fn: Any) -> None:
        sim.transact(fn)
        costs.append((name, dataclasses.astuple(sim.last_commit)))

    def create(store: Store, now: datetime) -> None:
        state["o"] = documents.upsert_order(store, {"CustomerID": "AACUSTOMER", "Details": [
            {"InventoryID": "WATER2809", "OrderQty": 2, "WarehouseID": "RETAIL"}]}, None, now)
        state["key"] = ("SO", state["o"]["OrderNbr"])

    def payment(store: Store, now: datetime) -> None:
        p = documents.upsert_payment(store, {"Type": "Payment", "CustomerID": "AACUSTOMER", "PaymentMethod": "CHECK",
                                             "PaymentAmount": 40, "OrdersToApply": [
                                                 {"OrderNbr": state["key"][1], "AppliedToOrder": 40}]}, None, now)
        state["p"] = (p["Type"], p["ReferenceNbr"])

    def shipment(store: Store, now: datetime) -> None:
        documents.order_create_shipment(store, store.orders[state["key"]], {"WarehouseID": "RETAIL"}, now)
        state["s"] = store.order_shipments(store.orders[state["key"]])[-1]["ShipmentNbr"]

    step("create order", create)
    step("payment", payment)
    step("release payment", lambda st, now: documents.payment_release(st, st.payments[state["p"]], {}, now))
    step("create shipment", shipment)
    step("package", lambda st, now: documents.update_shipment(st, {"Packages": [{"BoxID": "LARGE"}]},
                                                              st.shipments[state["s"]], now))
    step("confirm", lambda st, now: documents.shipment_confirm(st, st.shipments[state["s"]], {}, now))
    step("invoice", lambda st, now: documents.shipment_prepare_invoice(st, st.shipments[state["s"]], {}, now))
    step("release invoice", lambda st, now: documents.invoice_release(
        st, st.invoices[st.shipments[state["s"]]["invoice"]], {}, now))
    step("read order", lambda st, now: views.order_tree(st, st.orders[state["key"]]))
    step("read invoice", lambda st, now: views.invoice_tree(st, st.invoices[st.shipments[state["s"]]["invoice"]]))
    step("read by key", lambda st, now: st.find_by_key("orders", ("so", state["key"][1].lower())))
    return costs


def _seed_order(store: Store, i: int, now: datetime) -> None:
    """Order i (one transaction): every other one paid, shipped, invoiced and released."""
    o = documents.build_order(store, {"CustomerID": ("AACUSTOMER", "BIGBOX")[i % 2], "Details": [
        {"InventoryID": "WATER2809", "OrderQty": 2, "WarehouseID": "RETAIL"}]}, now)
    if i % 2:
        return
    p = documents.upsert_payment(store, {"Type": "Payment", "CustomerID": "AACUSTOMER", "PaymentMethod": "CHECK",
                                         "PaymentAmount": 40, "OrdersToApply": [
                                             {"OrderNbr": o["OrderNbr"], "AppliedToOrder": 40}]}, None, now)
    documents.payment_release(store, p, {}, now)
    documents.order_create_shipment(store, o, {}, now)
    s = store.order_shipments(o)[-1]
    documents.shipment_confirm(store, s, {}, now)
    documents.shipment_prepare_invoice(store, s, {}, now)
    documents.invoice_release(store, store.invoices[s["invoice"]], {}, now)


def _seeded(n: int) -> AcumaticaSimulator:
    sim = AcumaticaSimulator(SimConfig(verify_transactions=False))
    sim.set_on_hand("WATER2809", "RETAIL", 10 * n + 100)
    for i in range(n):
        sim.transact(lambda store, now, i=i: _seed_order(store, i, now))
    return sim


def test_a_transaction_costs_the_same_with_10_or_2000_orders_in_the_store() -> None:
    # Given a store with 10 orders and one with 2,000 (half of them paid, shipped, invoiced and released)
    small, large = _seeded(10), _seeded(2000)
    try:
        assert len(large.store.orders) == 2001 and len(large.store.invoices) == 1000
        # When the same document flow runs in both
        costs_small, costs_large = _flow(small), _flow(large)
        # Then every step reaches, changes and recomputes as many records in both
        assert costs_large == costs_small
        assert all(c[-1] == 0 for _, c in costs_large)  # no full-table journal
        journaled = dict(costs_large)
        assert journaled["read order"][0] <= 6 and journaled["read by key"][0] == 1
        # And 2,000 orders' worth of incremental updates left the derived state as a rebuild would make it
        oracle.check_derived(large.store)
    finally:
        small.stop()
        large.stop()


def test_business_keys_match_the_entity_keys() -> None:
    # Given / When / Then the lookup index of each table uses the keys its entity is addressed by
    for ed in ENTITIES.values():
        assert BUSINESS_KEYS[ed.table] == tuple("ShipVia" if f == "CarrierID" else f for f in ed.keys), ed.name


def test_dump_shows_records_only(acu: AcumaticaSimulator) -> None:
    # Given / When dumping / Then no derived state or journal appears, and the oracle's copy has the same records
    dumped = acu.dump()
    assert "derived" not in dumped and set(dumped["orders"]) == {"SO|SOT00023"}
    assert oracle.data(oracle.clone(acu.store)) == oracle.data(acu.store)
