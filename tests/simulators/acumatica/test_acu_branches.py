"""Branches: a sales order names one of the tenant's branches in Branch (a new order takes the login's); an unknown
branch is refused on the field as Acumatica's selector does."""

from __future__ import annotations

import httpx
from acu_sim_helpers import BASE, order_body, val


def test_an_order_takes_the_default_branch_or_a_known_one_in_any_case(client: httpx.Client) -> None:
    # Given / When an order without a Branch, and one naming PRODRETAIL in lower case
    plain = client.put(f"{BASE}/SalesOrder", json=order_body())
    retail = client.put(f"{BASE}/SalesOrder", json=order_body(Branch={"value": "prodretail"}))
    # Then
    assert plain.status_code == retail.status_code == 200, retail.text
    assert (val(plain.json(), "Branch"), val(retail.json(), "Branch")) == ("PRODWHOLE", "PRODRETAIL")
    # and a later change of branch sticks
    nbr = val(plain.json(), "OrderNbr")
    moved = client.put(f"{BASE}/SalesOrder", json={"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr},
                                                    "Branch": {"value": "PRODRETAIL"}})
    assert moved.status_code == 200 and val(moved.json(), "Branch") == "PRODRETAIL"


def test_an_unknown_or_empty_branch_is_refused_on_the_field(client: httpx.Client) -> None:
    # Given / When
    unknown = client.put(f"{BASE}/SalesOrder", json=order_body(Branch={"value": "NOSUCH"}))
    empty = client.put(f"{BASE}/SalesOrder", json=order_body(Branch={"value": ""}))
    # Then 422 with the selector's message on Branch
    assert unknown.status_code == 422 and unknown.json()["Branch"]["error"] == "'Branch' cannot be found in the system."
    assert empty.status_code == 422 and empty.json()["Branch"]["error"] == "'Branch' cannot be empty."
