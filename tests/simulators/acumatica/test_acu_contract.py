"""Contract tests: responses and request bodies validate against the copied 24.200.001 component schemas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from acu_flow import create_order, pay, run_action, ship
from acu_sim_helpers import BASE, order_body
from contracts.acumatica.contract import ContractError, validate_entity, validate_error

FULL = {
    "SalesOrder": "Details,Payments,Shipments,Totals,BillToAddress,ShipToAddress,BillToContact,ShipToContact,"
                  "ShippingSettings",
    "Customer": "MainContact,MainContact/Address,BillingContact,BillingContact/Address,ShippingContact,"
                "ShippingContact/Address",
    "StockItem": "WarehouseDetails",
    "Shipment": "Details,Packages,Orders",
    "SalesInvoice": "Details",
    "Invoice": "Details,ApplicationsCreditMemo",
    "Payment": "OrdersToApply,DocumentsToApply",
    "ShipVia": "",
}


@pytest.fixture()
def flowed(client: httpx.Client) -> httpx.Client:
    create_order(client)
    pay(client, "SOT00024", 40.0)
    nbr = ship(client, "SOT00024")
    client.put(f"{BASE}/Shipment", json={"ShipmentNbr": {"value": nbr}, "Packages": [
        {"BoxID": {"value": "LARGE"}, "TrackingNbr": {"value": "1Z"}}]})
    run_action(client, "Shipment", "ConfirmShipment", {"ShipmentNbr": nbr})
    run_action(client, "Shipment", "PrepareInvoice", {"ShipmentNbr": nbr})
    return client


@pytest.mark.parametrize("entity", sorted(FULL))
def test_list_and_single_get_validate(flowed: httpx.Client, entity: str) -> None:
    # Given every document type exists / When listing with full expansion and reading each by id
    rows = flowed.get(f"{BASE}/{entity}", params={"$expand": FULL[entity]}).json()
    # Then every body validates strictly against the contract
    assert rows
    validate_entity(entity, rows, direction="response")
    for r in rows:
        validate_entity(entity, flowed.get(f"{BASE}/{entity}/{r['id']}", params={"$expand": FULL[entity]}).json(),
                        direction="response")


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("SalesOrder", order_body(ExternalRef={"value": "MAG-1"}, ShippingSettings={"FreightPrice": {"value": 5}},
                              custom={"Document": {"UsrMagentoOrderId": {"type": "CustomStringField", "value": "1"}}})),
    ("Customer", {"CustomerID": {"value": "MAG2"}, "CustomerName": {"value": "Mag Two"},
                  "MainContact": {"Email": {"value": "m@x.example"}, "Address": {"Country": {"value": "US"}}}}),
    ("Payment", {"Type": {"value": "Payment"}, "CustomerID": {"value": "AACUSTOMER"},
                 "PaymentMethod": {"value": "CHECK"}, "PaymentAmount": {"value": 10}}),
    ("StockItem", {"InventoryID": {"value": "NEWITEM"}, "Description": {"value": "New"},
                   "DefaultPrice": {"value": 1.5}}),
    ("Invoice", {"Type": {"value": "Credit Memo"}, "Customer": {"value": "AACUSTOMER"},
                 "Details": [{"TransactionDescription": {"value": "Goodwill"}, "Amount": {"value": 5}}]}),
]


@pytest.mark.parametrize(("entity", "body"), REQUESTS, ids=[e for e, _ in REQUESTS])
def test_put_request_and_response_validate(client: httpx.Client, entity: str, body: dict[str, Any]) -> None:
    # Given a request body that follows the contract
    validate_entity(entity, body, direction="request")
    # When it is PUT
    r = client.put(f"{BASE}/{entity}", json=body, params={"$expand": FULL[entity]})
    # Then the answer validates too
    assert r.status_code == 200, r.text
    validate_entity(entity, r.json(), direction="response")


def test_action_bodies_422_and_errors_validate(client: httpx.Client) -> None:
    # Given an action body, a 422 answer and a 500 answer
    action = {"entity": {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00023"}},
              "parameters": {"ShipmentDate": {"value": "2023-10-27"}, "WarehouseID": {"value": "RETAIL"}}}
    validate_entity("SalesOrderCreateShipment", action, direction="request")
    bad = client.put(f"{BASE}/SalesOrder", json=order_body(customer="NOPE"))
    missing = client.get(f"{BASE}/SalesOrder/SO/NOPE")
    # Then they follow the contract (422 echoes the entity with errors; 500 is an HttpError)
    validate_entity("SalesOrder", bad.json(), direction="response")
    validate_error(missing.json())


def test_validator_rejects_contract_violations() -> None:
    # Given bodies with a typo'd field, an unwrapped value and a string amount
    # When / Then each is rejected
    with pytest.raises(ContractError):
        validate_entity("SalesOrder", {"CustomerId": {"value": "X"}}, direction="request")
    with pytest.raises(ContractError):
        validate_entity("SalesOrder", {"CustomerID": "X"}, direction="request")
    with pytest.raises(ContractError):
        validate_entity("SalesOrder", {"Details": [{"OrderQty": {"value": "2"}}]}, direction="request")
    with pytest.raises(ContractError):
        validate_entity("SalesOrder", {"_links": {"self": "/x"}}, direction="request")


@pytest.mark.parametrize("entity", ["SalesOrder", "Customer", "StockItem", "Shipment", "SalesInvoice", "Payment"])
def test_a_changed_since_list_answers_as_the_general_filter_does(flowed: httpx.Client, entity: str) -> None:
    from acumatica_sim.registry import ENTITIES

    stamp = ENTITIES[entity].stamp
    every = flowed.get(f"{BASE}/{entity}").json()
    stamps = sorted({r[stamp]["value"] for r in every if r.get(stamp, {}).get("value")})
    assert stamps, entity
    for since in ["2000-01-01T00:00:00+00:00", stamps[0], stamps[len(stamps) // 2], stamps[-1]]:
        for op in ("gt", "ge"):
            literal = f"{stamp} {op} datetimeoffset'{since}'"
            # When the reconciler's "changed since" filter is asked, and the same filter in parentheses (which
            # takes the general path: every record's tree, then the filter)
            quick = flowed.get(f"{BASE}/{entity}", params={"$filter": literal})
            general = flowed.get(f"{BASE}/{entity}", params={"$filter": f"({literal})"})
            # Then both answer the same records in the same order
            assert quick.status_code == general.status_code == 200, (quick.text, general.text)
            assert [r["id"] for r in quick.json()] == [r["id"] for r in general.json()], (entity, op, since)
            # and so does each page of two ($top and $skip, as the reconciler pages)
            for skip in (0, 2, 5):
                page = {"$top": "2", "$skip": str(skip)}
                quick = flowed.get(f"{BASE}/{entity}", params={"$filter": literal, **page})
                general = flowed.get(f"{BASE}/{entity}", params={"$filter": f"({literal})", **page})
                assert quick.json() == general.json(), (entity, op, since, skip)
