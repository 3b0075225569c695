"""Customers Magento -> Acumatica through the whole local world: poll, match or create once, update, bad data,
and the order sync (A->M) finding the same Magento customer for a customer that came from Magento."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from e2e_support import E2E

from amsync.composition import publish_customer_requests
from amsync.config import Settings
from amsync.data.bindings import Binder
from amsync.models.log import DIRECTION_M2A, Action, LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import CustomerSyncPreferences
from amsync.services.customer_sync import customer_id_for
from amsync.services.log_rows import customer_entity_key
from amsync_local.walkthrough import val

EXPAND = "MainContact/Address,BillingContact/Address,ShippingContact/Address"


# ---------------------------------------------------------------------------------------------- helpers
def _address(city: str = "Austin", country: str = "US", billing: bool = True, shipping: bool = True,
             street: str = "1 Main St", phone: str = "+1 512 555 0101", postcode: str = "78701") -> dict[str, Any]:
    return {"firstname": "Sam", "lastname": "Shopper", "street": [street], "city": city, "postcode": postcode,
            "region": {"region_code": "TX", "region": "Texas", "region_id": 57}, "region_id": 57,
            "country_id": country, "telephone": phone, "default_billing": billing, "default_shipping": shipping}


def register(e2e: E2E, email: str | None = None, **kw: Any) -> dict[str, Any]:
    """A storefront sign-up in the Magento simulator."""
    data = {"email": email or f"shopper-{uuid.uuid4().hex[:8]}@example.com", "firstname": "Sam",
            "lastname": "Shopper", "addresses": [_address()]} | kw
    return e2e.world.magento.register_customer(data)


def change_in_magento(e2e: E2E, customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An edit in the Magento admin (PUT /V1/customers/{id}), at least one second after the last save."""
    _after_second_of(customer["updated_at"])
    m = e2e.world.magento
    r = httpx.put(f"{m.url}/rest/default/V1/customers/{customer['id']}", headers={"Authorization": f"Bearer {m.token}"},
                  json={"customer": {"id": customer["id"], **fields}}, timeout=10)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


def _after_second_of(stamp: str) -> None:
    """Magento's updated_at has one-second resolution: a later save must land in a later second."""
    saved = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    while time.time() < saved + 1.05:
        time.sleep(0.05)


def poll(e2e: E2E) -> dict[str, Any]:
    result: dict[str, Any] = e2e.runtime.fire_schedule("CustomerPollerFunction")
    e2e.settle()
    return result


def rows(e2e: E2E, magento_id: int) -> list[LogEntry]:
    return sorted(e2e.log.timeline(customer_entity_key(magento_id)), key=lambda e: e.log_id)


def acu_customers_by_email(e2e: E2E, email: str) -> list[dict[str, Any]]:
    r = e2e.acu.http.get(f"{e2e.acu.base}/Customer", params={"$filter": f"MainContact/Email eq '{email}'",
                                                               "$expand": "MainContact"})
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()
    return result


def acu_customer(e2e: E2E, customer_id: str) -> dict[str, Any]:
    return e2e.acu.get("Customer", customer_id, expand=EXPAND)


def binder(e2e: E2E) -> Binder:
    return Binder(e2e.runtime.functions["CustomerSyncFunction"].env["BINDINGS_TABLE"])


def new_id(magento_id: int) -> str:
    return customer_id_for(magento_id, CustomerSyncPreferences())


def addr(record: dict[str, Any], contact: str) -> tuple[Any, ...]:
    a = record[contact]["Address"]
    return tuple(val(a, f) for f in ("AddressLine1", "City", "State", "PostalCode", "Country"))


# ---------------------------------------------------------------------------------------------- the tests
def test_first_poll_binds_the_existing_shopper_by_email_without_a_duplicate(e2e: E2E) -> None:
    # Given Magento's Alta Ace (101, ap@altaace.com) and Acumatica's AACUSTOMER with that main contact e-mail
    before = acu_customer(e2e, "AACUSTOMER")
    # When the first poll runs (no watermark: every customer once)
    result = poll(e2e)
    assert result["outcome"] == "published" and result["published"] >= 1
    # Then 101 is bound to AACUSTOMER, not created again, and AACUSTOMER's own data is kept
    assert len(acu_customers_by_email(e2e, "ap@altaace.com")) == 1
    bound = binder(e2e).by_magento_id("customer", 101)
    assert bound is not None and bound.acumatica_key == "AACUSTOMER"
    after = acu_customer(e2e, "AACUSTOMER")
    assert val(after["MainContact"], "LastName") == val(before["MainContact"], "LastName") == "Armstrong"
    log = rows(e2e, 101)
    assert [(r.action, r.result) for r in log] == [(Action.PUBLISHER, Result.SUCCESS), (Action.UPDATE, Result.SUCCESS)]
    assert "matched by e-mail" in log[-1].message and log[-1].entity_id == "AACUSTOMER"
    assert all(r.direction == DIRECTION_M2A and r.notes == "ap@altaace.com" for r in log)


def test_new_shopper_becomes_an_acumatica_customer_with_class_contact_and_addresses(e2e: E2E) -> None:
    # Given a wholesale shopper (group 2 -> WHOLESALE in the class mapping) with separate billing and shipping
    shopper = register(e2e, group_id=2, addresses=[
        _address(shipping=False),
        _address(city="Dallas", street="9 Dock Rd", postcode="75201", billing=False, phone="+1 214 555 0199")])
    # When the poller runs
    poll(e2e)
    # Then one Acumatica customer exists under the ID rule, with class, main contact and both addresses
    cid = new_id(shopper["id"])
    record = acu_customer(e2e, cid)
    assert val(record, "CustomerName") == "Sam Shopper" and val(record, "CustomerClass") == "WHOLESALE"
    main = record["MainContact"]
    assert [val(main, f) for f in ("FirstName", "LastName", "Email", "Phone1")] == [
        "Sam", "Shopper", shopper["email"], "+1 512 555 0101"]
    assert addr(record, "MainContact") == addr(record, "BillingContact") == ("1 Main St", "Austin", "TX", "78701",
                                                                             "US")
    assert addr(record, "ShippingContact") == ("9 Dock Rd", "Dallas", "TX", "75201", "US")
    assert val(record, "ShippingContactOverride") is True
    assert len(acu_customers_by_email(e2e, shopper["email"])) == 1
    # and the log has the Publisher and Create rows, M->A, Entity Id the CustomerID, Notes the e-mail
    log = rows(e2e, shopper["id"])
    assert [(r.action, r.result, r.direction) for r in log] == [
        (Action.PUBLISHER, Result.SUCCESS, DIRECTION_M2A), (Action.CREATE, Result.SUCCESS, DIRECTION_M2A)]
    assert log[-1].entity_id == cid and log[-1].notes == shopper["email"]
    bound = binder(e2e).by_magento_id("customer", shopper["id"])
    assert bound is not None and bound.acumatica_key == cid


def test_repoll_and_redelivery_create_nothing(e2e: E2E) -> None:
    # Given a synced shopper
    shopper = register(e2e)
    poll(e2e)
    before = rows(e2e, shopper["id"])
    assert [r.action for r in before] == [Action.PUBLISHER, Action.CREATE]
    # When the schedule fires again (nothing changed) and the same request is delivered twice more
    assert poll(e2e)["outcome"] == "nothing"
    settings = Settings.from_env(e2e.runtime.functions["CustomerPollerFunction"].env)
    again = SyncRequest(kind=Kind.CUSTOMER, key=str(shopper["id"]), source="replay",
                        correlation_id=customer_entity_key(shopper["id"]))
    publish_customer_requests(settings, [again, again])
    e2e.settle()
    # Then there is still one customer and no new log row
    assert len(acu_customers_by_email(e2e, shopper["email"])) == 1
    assert len(rows(e2e, shopper["id"])) == len(before)


def test_magento_changes_update_the_customer_but_never_acumatica_owned_fields(e2e: E2E) -> None:
    # Given a synced shopper whose class and terms were then changed in Acumatica
    shopper = register(e2e)
    poll(e2e)
    cid = new_id(shopper["id"])
    e2e.acu.http.put(f"{e2e.acu.base}/Customer", json={"CustomerID": {"value": cid}, "CustomerClass": {"value": "B2B"},
                                                        "Terms": {"value": "COD"}}).raise_for_status()
    # When the shopper changes last name, group (mapped to WHOLESALE) and address in Magento
    change_in_magento(e2e, shopper, lastname="Shopper-Smith", group_id=2,
                      addresses=[_address(city="Houston", street="5 Bayou Ln", postcode="77002")])
    poll(e2e)
    # Then the contact and address follow, while class and terms stay Acumatica's
    record = acu_customer(e2e, cid)
    assert val(record["MainContact"], "LastName") == "Shopper-Smith"
    assert val(record, "CustomerName") == "Sam Shopper-Smith"
    assert addr(record, "MainContact") == ("5 Bayou Ln", "Houston", "TX", "77002", "US")
    assert val(record, "CustomerClass") == "B2B" and val(record, "Terms") == "COD"
    update = [r for r in rows(e2e, shopper["id"]) if r.action == Action.UPDATE]
    assert [r.result for r in update] == [Result.SUCCESS] and "MainContact/LastName" in update[0].message
    assert "CustomerClass" not in update[0].details["request"]


def test_bad_data_fails_clearly_the_batch_goes_on_and_a_fix_syncs(e2e: E2E) -> None:
    # Given, in one poll window: no last name, an invalid e-mail, a refused address, a good shopper, and one
    # e-mail on two websites (two accounts under Magento's default per-website sharing: not bad data)
    no_last = register(e2e)
    with e2e.world.magento.state.lock:  # an imported customer: Magento's own forms would refuse it
        e2e.world.magento.state.customers[no_last["id"]]["lastname"] = ""
    bad_email = register(e2e, email="shopper-at-example.com")
    shared = f"shared-{uuid.uuid4().hex[:6]}@example.com"
    site1, site2 = register(e2e, email=shared, website_id=1), register(e2e, email=shared, website_id=2)
    bad_country = register(e2e, addresses=[_address(country="ZZ")])
    good = register(e2e)
    # When the poller runs
    poll(e2e)

    def failure(c: dict[str, Any]) -> str:
        failed = [r for r in rows(e2e, c["id"]) if r.result == Result.FAILURE]
        assert len(failed) == 1, rows(e2e, c["id"])
        return failed[0].message

    # Then each is a Failure row naming the field (and Acumatica's message), nothing is created for them
    assert failure(no_last).startswith("lastname:")
    assert failure(bad_email).startswith("email:") and "shopper-at-example.com" in failure(bad_email)
    refused = failure(bad_country)
    assert "MainContact.Address.Country" in refused and "'Country' cannot be found in the system." in refused
    for c in (no_last, bad_email, bad_country):
        assert binder(e2e).by_magento_id("customer", c["id"]) is None
    # and the e-mail shared by two websites' accounts became two Acumatica customers, each bound to its account
    # (account_share_scope = website; under global sharing both are refused: tests/unit/test_customer_scope.py)
    assert sorted(val(c, "CustomerID") for c in acu_customers_by_email(e2e, shared)) == sorted(
        new_id(c["id"]) for c in (site1, site2))
    for c in (site1, site2):
        bound = binder(e2e).by_magento_id("customer", c["id"])
        assert bound is not None and bound.acumatica_key == new_id(c["id"])
    # and the rest of the batch went on
    assert val(acu_customer(e2e, new_id(good["id"]))["MainContact"], "Email") == good["email"]
    # When the bad e-mail and the address are fixed in Magento, they sync on the next poll
    fixed_email = f"fixed-{uuid.uuid4().hex[:6]}@example.com"
    change_in_magento(e2e, bad_email, email=fixed_email)
    change_in_magento(e2e, bad_country, addresses=[_address(country="CA", city="Toronto")])
    poll(e2e)
    assert val(acu_customer(e2e, new_id(bad_email["id"]))["MainContact"], "Email") == fixed_email
    assert addr(acu_customer(e2e, new_id(bad_country["id"])), "MainContact")[1:] == ("Toronto", "TX", "78701", "CA")


def test_acumatica_order_for_a_customer_from_magento_uses_the_same_magento_customer(e2e: E2E) -> None:
    # Given a shopper who registered in Magento and became an Acumatica customer
    shopper = register(e2e)
    poll(e2e)
    cid = new_id(shopper["id"])
    # When an order for that customer is entered and paid in Acumatica
    nbr = e2e.acu.create_order(customer=cid)
    e2e.acu.record_payment(nbr, customer=cid)
    e2e.settle()
    # Then the Magento order belongs to the same Magento customer, and no second one was created
    orders = e2e.mag.orders_for(nbr)
    assert len(orders) == 1 and int(orders[0]["customer_id"]) == shopper["id"]
    m = e2e.world.magento
    found = httpx.get(f"{m.url}/rest/default/V1/customers/search", headers={"Authorization": f"Bearer {m.token}"},
                      params={"searchCriteria[filter_groups][0][filters][0][field]": "email",
                              "searchCriteria[filter_groups][0][filters][0][value]": shopper["email"]}).json()
    assert [c["id"] for c in found["items"]] == [shopper["id"]]


def test_customer_the_order_sync_created_in_magento_is_not_echoed_back(e2e: E2E) -> None:
    # Given a paid Acumatica order for BIGBOX, whose e-mail no Magento customer has: the order sync creates one
    before = acu_customer(e2e, "BIGBOX")
    nbr = e2e.acu.create_order(customer="BIGBOX")
    e2e.acu.record_payment(nbr, customer="BIGBOX")
    e2e.settle()
    order = e2e.mag.orders_for(nbr)[0]
    magento_id = int(order["customer_id"])
    bound = binder(e2e).get("customer", "BIGBOX")
    assert bound is not None and bound.magento_entity_id == magento_id
    # When the poller sees that new Magento customer
    poll(e2e)
    # Then it is recognised through the binding: no second Acumatica customer, BIGBOX's data untouched
    assert len(acu_customers_by_email(e2e, val(before["MainContact"], "Email"))) == 1
    after = acu_customer(e2e, "BIGBOX")
    assert after["MainContact"] == before["MainContact"] and val(after, "CustomerName") == val(before, "CustomerName")
    log = [r for r in rows(e2e, magento_id) if r.action != Action.PUBLISHER]
    assert [(r.action, r.result, r.entity_id) for r in log] == [(Action.UPDATE, Result.SUCCESS, "BIGBOX")]
    assert "by the order sync" in log[0].message
