"""Entity endpoint: query options, lookups, PUT upsert semantics and error shapes."""

from __future__ import annotations

import httpx
import pytest
from acu_sim_helpers import BASE, order_body, val

from acumatica_sim import AcumaticaSimulator, routes


def test_expand_is_required_for_details_and_linked(client: httpx.Client) -> None:
    # Given the seeded order SOT00023
    # When reading it without and with $expand
    bare = client.get(f"{BASE}/SalesOrder/SO/SOT00023").json()
    full = client.get(f"{BASE}/SalesOrder/SO/SOT00023", params={"$expand": "Details,Totals,ShipToAddress"}).json()
    # Then details/linked parts only appear when expanded; values are wrapped
    assert "Details" not in bare and "Totals" not in bare
    assert val(full["Details"][0], "InventoryID") == "WATER2809"
    assert val(full, "Totals", "LineTotalAmount") == 2520.0
    assert val(full, "ShipToAddress", "City") == "Chicago"
    assert full["_links"]["self"].endswith(full["id"]) and full["rowNumber"] == 1


def test_select_limits_fields(client: httpx.Client) -> None:
    # Given / When selecting two fields
    r = client.get(f"{BASE}/SalesOrder", params={"$select": "OrderNbr,Status"}).json()
    # Then only those (plus system fields) come back
    assert set(r[0]) - {"id", "rowNumber", "note", "custom", "_links"} == {"OrderNbr", "Status"}


def test_filter_operators_and_literals(client: httpx.Client, acu: AcumaticaSimulator) -> None:
    # Given two more orders
    for _ in range(2):
        assert client.put(f"{BASE}/SalesOrder", json=order_body()).status_code == 200
    since = "2000-01-01T00:00:00.000+00:00"
    # When filtering with eq/and/gt/datetimeoffset, startswith, substringof, or, date
    by_cust = client.get(f"{BASE}/SalesOrder", params={
        "$filter": f"CustomerID eq 'AACUSTOMER' and LastModified gt datetimeoffset'{since}'"}).json()
    starts = client.get(f"{BASE}/SalesOrder", params={"$filter": "startswith(OrderNbr,'SOT0002')"}).json()
    sub = client.get(f"{BASE}/Customer", params={"$filter": "substringof('Box', CustomerName)"}).json()
    either = client.get(f"{BASE}/SalesOrder", params={
        "$filter": "OrderNbr eq 'SOT00023' or OrderNbr eq 'SOT00025'"}).json()
    future = client.get(f"{BASE}/SalesOrder", params={"$filter": "Date gt date'2999-01-01'"}).json()
    linked = client.get(f"{BASE}/Customer", params={"$filter": "MainContact/Email eq 'ap@altaace.com'"}).json()
    # Then each returns the matching records
    assert [val(o, "OrderNbr") for o in by_cust] == ["SOT00024", "SOT00025"]
    assert len(starts) == 3
    assert [val(c, "CustomerID") for c in sub] == ["BIGBOX"]
    assert {val(o, "OrderNbr") for o in either} == {"SOT00023", "SOT00025"}
    assert future == []
    assert [val(c, "CustomerID") for c in linked] == ["AACUSTOMER"]


def test_filter_on_unknown_field_is_rejected(client: httpx.Client) -> None:
    # Given / When filtering on a field the entity does not have
    r = client.get(f"{BASE}/SalesOrder", params={"$filter": "Nope eq 'x'"})
    # Then a 400 error, not a silent empty list
    assert r.status_code == 400


def test_equality_on_a_stored_field_answers_what_a_full_scan_answers(client: httpx.Client,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Given orders with and without a customer order and an external ref (one with trailing blanks, other case)
    for ref, customer_order in (("CM100", "000000123"), ("cm100  ", None), (None, "000000123"), ("CM101", "X")):
        body = order_body()
        body["ExternalRef"], body["CustomerOrder"] = {"value": ref}, {"value": customer_order}
        assert client.put(f"{BASE}/SalesOrder", json=body).status_code == 200
    filters = ["ExternalRef eq 'CM100'", "ExternalRef eq 'CM100' and OrderType eq 'SO'",
               "CustomerOrder eq '000000123' and OrderType eq 'SO'", "OrderType eq 'RC'", "ExternalRef eq 'none'",
               "OrderType eq 'SO' and Status eq 'Open'", "ExternalRef eq 'CM100' or ExternalRef eq 'CM101'",
               "CustomerID eq 'AACUSTOMER' and OrderNbr eq 'SOT00023'"]

    def answers() -> list[tuple[int, list[str]]]:
        out = []
        for f in filters:
            r = client.get(f"{BASE}/SalesOrder", params={"$filter": f, "$select": "OrderType,OrderNbr"})
            out.append((r.status_code, [f"{val(o, 'OrderType')} {val(o, 'OrderNbr')}" for o in r.json()]))
        return out

    # When each filter is answered with the narrowing and without it (every record's tree built)
    narrowed = answers()
    refused = client.get(f"{BASE}/SalesOrder", params={"$filter": "ExternalRef eq 'none' and Nope eq 'x'"})
    monkeypatch.setattr(routes, "_stored_equals", lambda recs, text: None)
    full = answers()
    # Then the answers are the same, and the narrowing did pick (two orders carry CM100 in some case)
    assert narrowed == full
    assert len(narrowed[0][1]) == 2 and narrowed[4] == (200, [])
    # And a filter on an unknown field is still refused when no record can match
    assert refused.status_code == 400


def test_top_and_skip_page(client: httpx.Client) -> None:
    # Given three customers / When paging by 2
    p1 = client.get(f"{BASE}/Customer", params={"$top": 2}).json()
    p2 = client.get(f"{BASE}/Customer", params={"$top": 2, "$skip": 2}).json()
    # Then pages are disjoint and complete
    assert len(p1) == 2 and len(p2) == 1
    assert {val(c, "CustomerID") for c in p1 + p2} == {"AACUSTOMER", "BIGBOX", "STAFF01"}


def test_get_by_id_and_pipe_keys(client: httpx.Client) -> None:
    # Given the order's GUID / When reading by id and by "SO|SOT00023"
    rid = client.get(f"{BASE}/SalesOrder/SO/SOT00023").json()["id"]
    # Then both resolve to the same record
    assert client.get(f"{BASE}/SalesOrder/{rid}").json()["id"] == rid
    assert client.get(f"{BASE}/SalesOrder/SO|SOT00023").json()["id"] == rid


def test_missing_record_is_500_no_entity_satisfies_the_condition(client: httpx.Client) -> None:
    # Given / When reading an unknown order
    r = client.get(f"{BASE}/SalesOrder/SO/NOPE")
    # Then the Acumatica 500 shape
    assert r.status_code == 500
    body = r.json()
    assert body["exceptionType"] == "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
    assert body["exceptionMessage"] == "No entity satisfies the condition."


def test_unknown_entity_and_unknown_action_are_404(client: httpx.Client) -> None:
    # Given / When / Then
    assert client.get(f"{BASE}/Nope").status_code == 404
    assert client.post(f"{BASE}/SalesOrder/FlyToMoon", json={"entity": {}}).status_code == 404
    assert client.get("/entity/Default/9.9/SalesOrder").status_code == 404


def test_put_creates_with_defaults_then_updates(client: httpx.Client) -> None:
    # Given / When creating an order for AACUSTOMER with one line and no price
    r = client.put(f"{BASE}/SalesOrder", params={"$expand": "Details,BillToContact,Totals"}, json=order_body())
    # Then auto number, Open, price from the item, contact from the customer
    assert r.status_code == 200
    o = r.json()
    assert (val(o, "OrderNbr"), val(o, "Status")) == ("SOT00024", "Open")
    assert val(o["Details"][0], "UnitPrice") == 20.0 and val(o, "OrderTotal") == 40.0
    assert val(o, "BillToContact", "Email") == "ap@altaace.com"
    # When updating by keys (hold) with If-Match: *
    u = client.put(f"{BASE}/SalesOrder", headers={"If-Match": "*"}, json={
        "OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"}, "Hold": {"value": True},
        "ExternalRef": {"value": "MAG-100000995"}})
    # Then the same record is changed
    assert u.status_code == 200 and val(u.json(), "Status") == "On Hold"
    assert val(u.json(), "ExternalRef") == "MAG-100000995" and u.json()["id"] == o["id"]


def test_if_match_and_if_none_match_give_412(client: httpx.Client) -> None:
    # Given / When updating a missing order with If-Match, inserting an existing customer with If-None-Match
    miss = client.put(f"{BASE}/SalesOrder", headers={"If-Match": "*"},
                      json={"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT99999"}})
    dup = client.put(f"{BASE}/Customer", headers={"If-None-Match": "*"},
                     json={"CustomerID": {"value": "AACUSTOMER"}, "CustomerName": {"value": "X"}})
    # Then both are 412 and nothing was created
    assert miss.status_code == 412 and dup.status_code == 412
    assert client.get(f"{BASE}/SalesOrder/SO/SOT00024").status_code == 500


def test_422_field_errors_for_unknown_customer_and_item(client: httpx.Client) -> None:
    # Given / When ordering for an unknown customer, and an unknown item
    bad_c = client.put(f"{BASE}/SalesOrder", json=order_body(customer="ABARTENDE1"))
    bad_i = client.put(f"{BASE}/SalesOrder", json=order_body(item="NOPE"))
    # Then 422 with the error on the field, and no order number was consumed
    assert bad_c.status_code == 422
    assert bad_c.json()["CustomerID"]["error"] == "'Customer' cannot be found in the system."
    assert bad_i.status_code == 422
    assert bad_i.json()["Details"][0]["InventoryID"]["error"] == "'Inventory ID' cannot be found in the system."
    assert val(client.put(f"{BASE}/SalesOrder", json=order_body()).json(), "OrderNbr") == "SOT00024"


def test_customer_create_validates_name_and_country(client: httpx.Client) -> None:
    # Given / When creating a customer without a name and with a bad country
    r = client.put(f"{BASE}/Customer", json={"CustomerID": {"value": "MAGCUST1"}, "MainContact": {
        "Email": {"value": "a@b.example"}, "Address": {"Country": {"value": "XX"}}}})
    # Then both field errors
    assert r.status_code == 422
    assert r.json()["CustomerName"]["error"] == "'Customer Name' cannot be empty."
    assert r.json()["MainContact"]["Address"]["Country"]["error"] == "'Country' cannot be found in the system."
    # When fixed
    ok = client.put(f"{BASE}/Customer", params={"$expand": "MainContact,MainContact/Address"}, json={
        "CustomerID": {"value": "MAGCUST1"}, "CustomerName": {"value": "Mag Customer"},
        "CustomerClass": {"value": "B2B"},
        "MainContact": {"Email": {"value": "a@b.example"}, "Address": {"Country": {"value": "US"}}}})
    # Then created with the nested contact
    assert ok.status_code == 200 and val(ok.json(), "MainContact", "Address", "Country") == "US"


def test_bare_scalar_in_body_is_a_bad_request(client: httpx.Client) -> None:
    # Given / When a body with an unwrapped value
    r = client.put(f"{BASE}/SalesOrder", json={"CustomerID": "AACUSTOMER"})
    # Then 400 (Acumatica needs {"value": ...} wrappers)
    assert r.status_code == 400


def test_inventory_summary_inquiry_put_and_get(client: httpx.Client) -> None:
    # Given the seed / When reading availability with PUT, and with GET
    r = client.put(f"{BASE}/InventorySummaryInquiry", params={"$expand": "Results"},
                   json={"InventoryID": {"value": "WATER2809"}, "WarehouseID": {"value": "RETAIL"}})
    g = client.get(f"{BASE}/InventorySummaryInquiry")
    # Then the walkthrough numbers; GET is the "Optimization cannot be performed" 500
    row = r.json()["Results"][0]
    assert (val(row, "QtyOnHand"), val(row, "QtyAvailable"), val(row, "LocationID")) == (263.0, 137.0, "STORAGE")
    assert g.status_code == 500 and "Optimization cannot be performed" in g.json()["exceptionMessage"]


def test_23_200_001_base_path_is_served_without_24_only_fields(client: httpx.Client) -> None:
    # Given / When reading a stock item through 23.200.001
    r = client.get("/entity/Default/23.200.001/StockItem/WATER2809")
    # Then it is served, without LastModifiedDateTime (24 only)
    assert r.status_code == 200 and "LastModifiedDateTime" not in r.json() and "LastModified" in r.json()


def test_shipvia_entity_lists_carriers(client: httpx.Client) -> None:
    # Given / When listing ShipVia
    r = client.get(f"{BASE}/ShipVia").json()
    # Then the four seeded ship vias keyed by CarrierID
    assert {val(s, "CarrierID"): val(s, "Description") for s in r}["UPSGROUND"] == "UPS Ground"
    assert len(r) == 4
