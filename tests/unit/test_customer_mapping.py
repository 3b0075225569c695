"""Magento customer -> Acumatica Customer: the ID rule, the class mapping, the PUT body, what an update may send,
and the poller's watermark (keyset paging, one request per customer, conditional advance)."""

from __future__ import annotations

from typing import Any

import pytest
from tests_support import FakeWatermarks

from amsync.data.bindings import Binding, LeaseHeld
from amsync.models.magento import MagentoCustomer
from amsync.models.messages import SyncRequest
from amsync.models.settings import CustomerClassMapping, CustomerSyncPreferences
from amsync.services.customer_poller import (
    CustomerPollerPorts,
    changed_customers,
    format_watermark,
    parse_watermark,
    poll_customers,
)
from amsync.services.customer_sync import (
    CustomerDataError,
    changed_fields,
    customer_class_for,
    customer_id_for,
    flatten,
    map_customer,
    update_body,
)

PREFS = CustomerSyncPreferences()


def _address(**kw: Any) -> dict[str, Any]:
    base = {"id": 301, "firstname": "Sam", "lastname": "Shopper", "street": ["1 Main St", "Apt 4"], "city": "Austin",
            "region": {"region_code": "TX", "region": "Texas", "region_id": 57}, "postcode": "78701",
            "country_id": "US", "telephone": "+1 512 555 0101", "default_billing": True, "default_shipping": True}
    return base | kw


def _customer(**kw: Any) -> MagentoCustomer:
    data = {"id": 102, "email": "sam@example.com", "firstname": "Sam", "lastname": "Shopper", "group_id": 1,
            "website_id": 1, "store_id": 1, "updated_at": "2024-05-01 10:00:00", "default_billing": "301",
            "default_shipping": "301", "addresses": [_address()]} | kw
    return MagentoCustomer.from_api(data)


def val(body: dict[str, Any], path: str) -> Any:
    node: Any = body
    for part in path.split("/"):
        node = node[part]
    return node["value"]


def test_customer_id_rule_is_prefix_plus_zero_padded_magento_id() -> None:
    assert customer_id_for(102, PREFS) == "MAG0000102"
    assert customer_id_for(7, CustomerSyncPreferences(customer_id_prefix="WEB", customer_id_digits=5)) == "WEB00007"
    with pytest.raises(ValueError):
        CustomerSyncPreferences(customer_id_prefix="bad prefix")


def test_class_mapping_most_specific_wins_with_a_default() -> None:
    mappings = [CustomerClassMapping(magento_group_id=2, customer_class="WHOLESALE"),
                CustomerClassMapping(magento_group_id=2, magento_website_id=2, customer_class="B2B"),
                CustomerClassMapping(magento_website_id=3, customer_class="RETAIL")]
    assert customer_class_for(_customer(group_id=2), mappings, "DEFAULT") == "WHOLESALE"
    assert customer_class_for(_customer(group_id=2, website_id=2), mappings, "DEFAULT") == "B2B"
    assert customer_class_for(_customer(group_id=1, website_id=3), mappings, "DEFAULT") == "RETAIL"
    assert customer_class_for(_customer(group_id=1), mappings, "DEFAULT") == "DEFAULT"


def test_new_customer_body_has_id_class_main_contact_and_billing_address() -> None:
    body = map_customer(_customer(), "MAG0000102", customer_class="DEFAULT", owns_name=True)
    assert val(body, "CustomerID") == "MAG0000102" and val(body, "CustomerClass") == "DEFAULT"
    assert val(body, "CustomerName") == "Sam Shopper"
    assert [val(body, f"MainContact/{f}") for f in ("FirstName", "LastName", "Email", "Phone1")] == [
        "Sam", "Shopper", "sam@example.com", "+1 512 555 0101"]
    assert [val(body, f"MainContact/Address/{f}") for f in ("AddressLine1", "AddressLine2", "City", "State",
                                                             "PostalCode", "Country")] == [
        "1 Main St", "Apt 4", "Austin", "TX", "78701", "US"]
    # one address for both: shipping follows the main contact
    assert val(body, "ShippingContactOverride") is False and "ShippingContact" not in body
    # Acumatica-owned fields are never in the body
    assert not {"Terms", "CreditLimit", "Status", "CurrencyID", "PriceClassID"} & set(body)


def test_separate_shipping_address_overrides_the_shipping_contact() -> None:
    ship = _address(id=302, street=["9 Dock Rd"], city="Dallas", postcode="75201", default_billing=False,
                    telephone="+1 214 555 0199")
    bill = _address(default_shipping=False)
    body = map_customer(_customer(addresses=[bill, ship], default_shipping="302"), "MAG0000102",
                        customer_class=None, owns_name=False)
    assert val(body, "ShippingContactOverride") is True and val(body, "ShippingAddressOverride") is True
    assert val(body, "ShippingContact/Address/City") == "Dallas"
    assert val(body, "ShippingContact/Phone1") == "+1 214 555 0199"
    assert val(body, "MainContact/Address/City") == "Austin"
    assert "CustomerClass" not in body and "CustomerName" not in body


def test_customer_without_addresses_never_clears_acumatica_addresses() -> None:
    body = map_customer(_customer(addresses=[], default_billing=None, default_shipping=None), "MAG0000102",
                        customer_class="DEFAULT", owns_name=True)
    assert "Address" not in body["MainContact"] and "Phone1" not in body["MainContact"]
    assert "ShippingContactOverride" not in body


@pytest.mark.parametrize(("kw", "field"), [
    ({"lastname": None}, "lastname"), ({"lastname": "  "}, "lastname"),
    ({"email": "not-an-email"}, "email"), ({"email": "a@b"}, "email"), ({"email": None}, "email")])
def test_bad_data_names_the_magento_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(CustomerDataError) as exc:
        map_customer(_customer(**kw), "MAG0000102", customer_class="DEFAULT", owns_name=True)
    assert exc.value.field == field and str(exc.value).startswith(f"{field}: ")


def _record(body: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica record holding exactly ``body`` plus Acumatica's own fields."""
    return {**body, "id": "guid", "Terms": {"value": "30D"}, "CustomerClass": {"value": "B2B"}}


def test_update_sends_only_what_changed_in_magento_and_whole_addresses() -> None:
    before = map_customer(_customer(), "MAG0000102", customer_class=None, owns_name=True)
    record = _record(before)
    after = map_customer(_customer(lastname="Shopper-Smith", addresses=[_address(postcode="78702")]), "MAG0000102",
                         customer_class=None, owns_name=True)
    changed = changed_fields(after, record, flatten(before))
    assert sorted(changed) == ["CustomerName", "MainContact/Address/PostalCode", "MainContact/LastName"]
    body = update_body(after, changed)
    assert val(body, "CustomerID") == "MAG0000102" and val(body, "MainContact/LastName") == "Shopper-Smith"
    assert val(body, "MainContact/Address/City") == "Austin"  # the whole address goes
    assert "FirstName" not in body["MainContact"] and "CustomerClass" not in body and "Terms" not in body


def test_acumatica_edit_of_a_field_magento_did_not_change_is_kept() -> None:
    synced = map_customer(_customer(), "MAG0000102", customer_class=None, owns_name=True)
    record = _record(synced)
    record["MainContact"] = {**record["MainContact"], "Phone1": {"value": "+1 512 555 9999"}}  # edited in Acumatica
    after = map_customer(_customer(firstname="Samuel"), "MAG0000102", customer_class=None, owns_name=True)
    changed = changed_fields(after, record, flatten(synced))
    assert "MainContact/Phone1" not in changed and "MainContact/FirstName" in changed
    # without a remembered sync (a binding made by the order sync), Acumatica is compared as it is
    assert "MainContact/Phone1" in changed_fields(after, record, None)
    assert changed_fields(synced, _record(synced), flatten(synced)) == []


# ---------------------------------------------------------------------------------------------- the poller
class FakeMagento:
    def __init__(self, customers: list[dict[str, Any]]) -> None:
        self.customers = customers
        self.calls: list[tuple[str, int, int]] = []

    def customers_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]:
        self.calls.append((since, page_size, current_page))
        rows = sorted((c for c in self.customers if c["updated_at"] >= since), key=lambda c: c["updated_at"])
        return [dict(c) for c in rows[(current_page - 1) * page_size:current_page * page_size]]


class FakeBinder(FakeWatermarks):
    def __init__(self) -> None:
        super().__init__()
        self.leased = False

    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding:
        if self.leased:
            raise LeaseHeld("poll running")
        self.leased = True
        return Binding(kind, acumatica_key, None, None, "creating", 0.0, {})

    def release_creating(self, kind: str, acumatica_key: str) -> None:
        self.leased = False


class FakeSettings:
    def __init__(self, prefs: CustomerSyncPreferences) -> None:
        self.prefs = prefs

    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences:
        return self.prefs


def _c(cid: int, stamp: str, website: int = 1) -> dict[str, Any]:
    return {"id": cid, "email": f"c{cid}@example.com", "updated_at": stamp, "website_id": website}


def _poller(magento: FakeMagento, binder: FakeBinder, prefs: CustomerSyncPreferences | None = None,
            sent: list[SyncRequest] | None = None) -> CustomerPollerPorts:
    out = sent if sent is not None else []
    return CustomerPollerPorts(magento=magento, settings=FakeSettings(prefs or PREFS), binder=binder,
                               publish=out.extend, log=lambda rows: None)


def test_watermark_round_trip() -> None:
    assert parse_watermark(None, "1970-01-01 00:00:00") == ("1970-01-01 00:00:00", set())
    assert parse_watermark(format_watermark("2024-05-01 10:00:00", {7, 3}), "x") == ("2024-05-01 10:00:00", {3, 7})


def test_keyset_paging_hands_every_customer_once_even_many_in_one_second() -> None:
    rows = [_c(i, "2024-05-01 10:00:00") for i in range(1, 6)] + [_c(i, f"2024-05-01 10:00:{i:02d}")
                                                                   for i in range(6, 14)]
    prefs = CustomerSyncPreferences(poll_page_size=3)
    got = changed_customers(FakeMagento(rows), "1970-01-01 00:00:00", set(), prefs)
    assert sorted(int(r["id"]) for r in got) == list(range(1, 14))


def test_repoll_publishes_nothing_and_a_change_publishes_once_with_latest_data() -> None:
    magento, binder, sent = FakeMagento([_c(101, "2024-05-01 09:00:00"), _c(102, "2024-05-01 10:00:00")]), \
        FakeBinder(), []
    ports = _poller(magento, binder, sent=sent)
    first = poll_customers(ports)
    assert first.outcome == "published" and first.published == [101, 102]
    assert binder.marks["magento-customers"] == "2024-05-01 10:00:00|102"
    # Given nothing changed, a re-poll publishes nothing
    assert poll_customers(ports).outcome == "nothing" and len(sent) == 2
    # When 103 is saved in the same second as the watermark and 101 changes twice in one window
    magento.customers += [_c(103, "2024-05-01 10:00:00")]
    magento.customers[0] = _c(101, "2024-05-01 10:05:00")
    magento.customers.append(_c(101, "2024-05-01 10:06:00"))
    third = poll_customers(ports)
    # Then 103 (same second, not handed before) and 101 (once) go, 102 does not go again
    assert third.published == [103, 101]
    assert [r.key for r in sent[2:]] == ["103", "101"]
    assert all(r.kind == "customer" for r in sent)
    assert binder.marks["magento-customers"] == "2024-05-01 10:06:00|101"


def test_overlapping_runs_do_not_both_poll_and_a_moved_watermark_is_not_overwritten() -> None:
    magento, binder = FakeMagento([_c(101, "2024-05-01 09:00:00")]), FakeBinder()
    binder.leased = True  # another run holds the poll lease
    assert poll_customers(_poller(magento, binder)).outcome == "busy" and magento.calls == []
    binder.leased = False

    class Racing(FakeBinder):
        def watermark(self, name: str) -> str | None:
            value = super().watermark(name)
            self.marks[name] = "2024-06-01 00:00:00|999"  # another run advanced it meanwhile
            return value

    racing = Racing()
    result = poll_customers(_poller(magento, racing))
    assert result.outcome == "moved" and racing.marks["magento-customers"] == "2024-06-01 00:00:00|999"


def test_poll_keeps_only_the_configured_websites_and_caps_one_run() -> None:
    rows = [_c(1, "2024-05-01 10:00:01", 1), _c(2, "2024-05-01 10:00:02", 2), _c(3, "2024-05-01 10:00:03", 1)]
    sent: list[SyncRequest] = []
    binder = FakeBinder()
    poll_customers(_poller(FakeMagento(rows), binder, CustomerSyncPreferences(website_ids=[1]), sent))
    assert [r.key for r in sent] == ["1", "3"]
    sent.clear()
    capped = CustomerSyncPreferences(poll_max_customers=2, poll_page_size=2)
    binder2 = FakeBinder()
    poll_customers(_poller(FakeMagento(rows), binder2, capped, sent))
    assert [r.key for r in sent] == ["1", "2"]
    poll_customers(_poller(FakeMagento(rows), binder2, capped, sent))
    assert [r.key for r in sent] == ["1", "2", "3"]


def test_poll_lag_is_zero_when_caught_up_and_the_watermark_age_when_a_run_is_capped() -> None:
    import time
    from calendar import timegm

    rows = [_c(1, "2024-05-01 10:00:01"), _c(2, "2024-05-01 10:00:02"), _c(3, "2024-05-01 10:00:03")]
    # Given a run that reads every change: it is not behind, however old the changes (a quiet store is not late)
    caught_up = poll_customers(_poller(FakeMagento(rows), FakeBinder()))
    assert caught_up.lag_seconds == 0.0
    # When a run is capped at poll_max_customers: the rest waits, and the lag is the age of the watermark it leaves
    binder = FakeBinder()
    capped = CustomerSyncPreferences(poll_max_customers=2, poll_page_size=2)
    behind = poll_customers(_poller(FakeMagento(rows), binder, capped))
    expected = time.time() - timegm(time.strptime("2024-05-01 10:00:02", "%Y-%m-%d %H:%M:%S"))
    assert behind.watermark == "2024-05-01 10:00:02|2"
    assert behind.lag_seconds is not None and abs(behind.lag_seconds - expected) < 60
    # and a run that finds the poll lease taken did not poll: it reports no lag at all
    binder.leased = True
    assert poll_customers(_poller(FakeMagento(rows), binder)).lag_seconds is None


def test_a_full_page_of_other_websites_customers_does_not_stop_the_poll() -> None:
    # Given more changed customers of an excluded website than one run reads, then one of the synced website
    rows = [_c(i, f"2024-05-01 10:00:{i:02d}", website=2) for i in range(1, 5)] + [_c(9, "2024-05-01 10:00:09", 1)]
    capped = CustomerSyncPreferences(website_ids=[1], poll_max_customers=2, poll_page_size=2)
    binder, sent = FakeBinder(), []
    ports = _poller(FakeMagento(rows), binder, capped, sent)
    # When the poll runs a few times
    for _ in range(3):
        poll_customers(ports)
    # Then the watermark moved past the excluded ones and the synced website's customer was handed on
    assert [r.key for r in sent] == ["9"]
