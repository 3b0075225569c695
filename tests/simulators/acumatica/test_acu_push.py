"""Push notifications: format, update pairs, batching, padding, retries, failed store and chaos options."""

from __future__ import annotations

import re

import httpx
from acu_flow import create_order, pay, run_action, ship
from acu_sim_helpers import BASE
from acu_support import Receiver

from acumatica_sim import AcumaticaSimulator

NAIVE_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?$")


def test_order_creation_posts_a_notification_in_acumatica_format(acu: AcumaticaSimulator, receiver: Receiver,
                                                                client: httpx.Client) -> None:
    # Given a destination with a custom header
    # When an order is created
    create_order(client)
    assert acu.wait_push_idle(5)
    # Then one AMSync-SalesOrders POST with raw values, header, GUID Id, ticks and PXPerformanceInfoStartTime
    call = next(c for c in receiver.calls if c["body"]["Query"] == "AMSync-SalesOrders")
    body, headers = call["body"], call["headers"]
    assert headers["x-amsync-key"] == "s3cret" and headers["content-type"].startswith("application/json")
    assert set(body) == {"Inserted", "Deleted", "Query", "CompanyId", "Id", "TimeStamp", "AdditionalInfo"}
    assert body["Deleted"] == [] and body["CompanyId"] == "Company"
    row = body["Inserted"][0]
    assert row["OrderID"] == "SOT00024" and row["Status"] == "Open" and row["Email"] == "ap@altaace.com"
    assert row["isB2B"] is False and row["isStaffCustomer"] is False and row["OrderTotal"] == 40.0
    assert row["CustomerID"] == "AACUSTOMER" and row["Branch"] == "PRODWHOLE"
    assert NAIVE_DATE.match(row["LastModifiedOn"])
    assert re.match(r"^[0-9a-f-]{36}$", body["Id"]) and isinstance(body["TimeStamp"], int)
    assert body["TimeStamp"] > 638_000_000_000_000_000
    assert re.match(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$", body["AdditionalInfo"]["PXPerformanceInfoStartTime"])


def test_update_is_a_deleted_inserted_pair_and_keys_are_padded(acu: AcumaticaSimulator, receiver: Receiver,
                                                              client: httpx.Client) -> None:
    # Given an order
    create_order(client)
    acu.wait_push_idle(5)
    receiver.clear()
    # When it is put on hold
    client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"}, "Hold": {"value": True}})
    acu.wait_push_idle(5)
    # Then one POST with the old row in Deleted and the new one in Inserted; stock rows have padded keys
    body = receiver.bodies("AMSync-SalesOrders")[0]
    assert [r["Status"] for r in body["Deleted"]] == ["Open"] and [r["Status"] for r in body["Inserted"]] == ["On Hold"]
    stock = [b for b in acu.push.sent if b["Query"] == "AMSync-StockAvailability"]
    assert stock and stock[0]["Inserted"][0]["InventoryID"] == "WATER2809 "
    assert stock[0]["Inserted"][0]["WarehouseID"] == "RETAIL    "


def test_one_transaction_touching_several_rows_is_one_post(acu: AcumaticaSimulator, receiver: Receiver,
                                                          client: httpx.Client) -> None:
    # Given / When one order with lines from two warehouses is created
    client.put(f"{BASE}/SalesOrder", json={"CustomerID": {"value": "AACUSTOMER"}, "Details": [
        {"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 1}, "WarehouseID": {"value": "RETAIL"}},
        {"InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 1}, "WarehouseID": {"value": "WHOLESALE"}}]})
    acu.wait_push_idle(5)
    # Then a single stock POST carries both warehouse rows (as a Deleted+Inserted pair each)
    stock = receiver.bodies("AMSync-StockAvailability")
    assert len(stock) == 1 and len(stock[0]["Inserted"]) == 2 and len(stock[0]["Deleted"]) == 2


def test_walkthrough_emits_each_query(acu: AcumaticaSimulator, receiver: Receiver, client: httpx.Client) -> None:
    # Given / When the order is paid and shipped
    create_order(client)
    pay(client, "SOT00024", 40.0)
    nbr = ship(client, "SOT00024")
    run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": nbr})
    acu.wait_push_idle(5)
    # Then payment and shipment rows were pushed, with the unpaid balance reaching 0
    pays = receiver.bodies("AMSync-Payments")
    assert pays[-1]["Inserted"][0]["Status"] == "Open" and pays[-1]["Inserted"][0]["OrderNbr"] == "SOT00024"
    ships = receiver.bodies("AMSync-Shipments")
    assert [b["Inserted"][0]["Status"] for b in ships] == ["Open", "Confirmed"]
    orders = [r for b in receiver.bodies("AMSync-SalesOrders") for r in b["Inserted"]]
    assert any(r["UnpaidBalance"] == 0.0 for r in orders) and orders[-1]["Status"] == "Completed"


def test_five_attempts_then_failed_store_then_resend(acu: AcumaticaSimulator, receiver: Receiver,
                                                    client: httpx.Client) -> None:
    # Given a receiver that always answers 500
    receiver.default_status = 500
    # When a change is committed
    client.put(f"{BASE}/Customer", json={"CustomerID": {"value": "AACUSTOMER"}, "Status": {"value": "On Hold"}})
    create_order(client)
    assert acu.wait_push_idle(10)
    # Then every notification was tried 5 times and kept in the failed store
    log = acu.push.log_view()
    assert log and all(e["attempts"] == 5 and e["state"] == "failed" and e["last_status"] == 500 for e in log)
    failed = httpx.get(acu.url + "/_sim/push/failed").json()
    assert len(failed) == len(log)
    # When the receiver recovers and "Send All" is used
    receiver.default_status = 200
    n_before = len(receiver.calls)
    assert httpx.post(acu.url + "/_sim/push/failed/resend").json()["resent"] == len(failed)
    assert acu.wait_push_idle(5)
    # Then they are delivered and the failed store is empty
    assert len(receiver.calls) == n_before + len(failed)
    assert httpx.get(acu.url + "/_sim/push/failed").json() == []


def test_failed_store_keeps_two_days(acu: AcumaticaSimulator, receiver: Receiver, client: httpx.Client) -> None:
    # Given a failed notification
    receiver.default_status = 503
    create_order(client)
    acu.wait_push_idle(10)
    assert acu.push.failed_list()
    # When two days pass
    acu.advance(2 * 24 * 3600 + 1)
    # Then it is purged
    assert acu.push.failed_list() == []


def test_duplicate_and_drop_faults(acu: AcumaticaSimulator, receiver: Receiver, client: httpx.Client) -> None:
    # Given duplicates always
    acu.set_push_faults(duplicate_rate=1.0)
    create_order(client)
    acu.wait_push_idle(5)
    # Then each message arrives twice with the same Id
    ids = [b["Id"] for b in receiver.bodies("AMSync-SalesOrders")]
    assert len(ids) == 2 and ids[0] == ids[1]
    # Given drops always
    receiver.clear()
    acu.set_push_faults(duplicate_rate=0.0, drop_rate=1.0)
    create_order(client)
    acu.wait_push_idle(5)
    # Then nothing arrives and nothing is in the failed store
    assert receiver.calls == [] and acu.push.failed_list() == []
    assert any(e["state"] == "dropped" for e in acu.push.log_view())


def test_split_pairs_fault_sends_halves_separately(acu: AcumaticaSimulator, receiver: Receiver,
                                                  client: httpx.Client) -> None:
    # Given an order and split_pairs always
    create_order(client)
    acu.wait_push_idle(5)
    receiver.clear()
    acu.set_push_faults(split_pairs_rate=1.0)
    # When it is updated
    client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"}, "Description": {"value": "x"}})
    acu.wait_push_idle(5)
    # Then the Deleted half and the Inserted half come as two POSTs with the same transaction Id
    parts = receiver.bodies("AMSync-SalesOrders")
    assert [(len(p["Deleted"]), len(p["Inserted"])) for p in parts] == [(1, 0), (0, 1)]
    assert parts[0]["Id"] == parts[1]["Id"]


def test_pause_shuffle_resume_reorders_within_window(acu: AcumaticaSimulator, receiver: Receiver,
                                                    client: httpx.Client) -> None:
    # Given delivery paused and a shuffle window
    acu.set_push_faults(shuffle_window=4, seed=3)
    httpx.post(acu.url + "/_sim/push/pause")
    # When several orders are created
    for _ in range(6):
        create_order(client, qty=1)
    httpx.post(acu.url + "/_sim/push/resume")
    assert acu.wait_push_idle(5)
    # Then all arrive, not in commit (TimeStamp) order
    stamps = [b["TimeStamp"] for b in receiver.bodies("AMSync-SalesOrders")]
    assert len(stamps) == 6 and stamps != sorted(stamps)


def test_unchanged_put_emits_nothing(acu: AcumaticaSimulator, receiver: Receiver, client: httpx.Client) -> None:
    # Given an order
    create_order(client)
    acu.wait_push_idle(5)
    receiver.clear()
    # When the same value is PUT again
    client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"}, "CustomerID": {"value": "AACUSTOMER"}})
    acu.wait_push_idle(5)
    # Then no notification (PUT skips equal values; nothing was committed)
    assert receiver.calls == []


def test_tracked_fields_fire_only_on_their_change_and_unlisted_inquiries_are_not_sent(
        acu: AcumaticaSimulator, receiver: Receiver, client: httpx.Client) -> None:
    # Given a destination that tracks only the order's Status and UnpaidBalance and the shipment's Status, and is
    # not sent payments or stock (SM302000: a field list per inquiry)
    acu.set_push_destinations([{"name": "amsync", "url": receiver.url, "header_name": "X-AMSync-Key",
                                "header_value": "s3cret", "active": True,
                                "queries": {"AMSync-SalesOrders": ["Status", "UnpaidBalance"],
                                            "AMSync-Shipments": ["Status"]}}])
    create_order(client)
    acu.wait_push_idle(5)
    # Then a new row fires (it appears in the inquiry), with every column
    [created] = receiver.bodies("AMSync-SalesOrders")
    assert created["Deleted"] == [] and {"LastModifiedOn", "OrderTotal", "Email"} <= set(created["Inserted"][0])
    receiver.clear()
    built = len(acu.push.sent)
    # When a save changes only untracked fields (the description and so LastModifiedOn)
    r = client.put(f"{BASE}/SalesOrder", json={"OrderNbr": {"value": "SOT00024"},
                                                "Description": {"value": "changed, nothing tracked"}})
    assert r.status_code == 200
    acu.wait_push_idle(5)
    # Then nothing is sent, though the commit changed the order's row
    assert receiver.calls == []
    assert acu.push.sent[built:] == []
    # When the order is paid (UnpaidBalance) and shipped (a new shipment, then Status)
    pay(client, "SOT00024", 40.0)
    nbr = ship(client, "SOT00024")
    run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": nbr})
    acu.wait_push_idle(5)
    # Then only tracked changes fire: each order post changes Status or UnpaidBalance, none is a payment or stock
    assert {c["body"]["Query"] for c in receiver.calls} == {"AMSync-SalesOrders", "AMSync-Shipments"}
    for body in receiver.bodies("AMSync-SalesOrders"):
        [new], [old] = body["Inserted"], body["Deleted"]
        assert (new["Status"], new["UnpaidBalance"]) != (old["Status"], old["UnpaidBalance"])
    assert [b["Inserted"][0]["Status"] for b in receiver.bodies("AMSync-Shipments")] == ["Open", "Confirmed"]


def test_a_destination_naming_an_unknown_inquiry_or_column_is_refused(acu: AcumaticaSimulator) -> None:
    for queries, why in (({"AMSync-Orders": None}, "unknown inquiry"),
                         ({"AMSync-SalesOrders": ["Stat"]}, "has no column Stat"),
                         ({"AMSync-SalesOrders": []}, "tracks no field")):
        r = httpx.put(acu.url + "/_sim/push/destinations",
                      json=[{"name": "d", "url": "http://127.0.0.1:9/", "queries": queries}])
        assert r.status_code == 400 and why in r.json()["error"]
