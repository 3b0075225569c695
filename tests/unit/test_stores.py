"""Several stores: branch / order type / customer class -> Magento website and store view (services/stores.py), and
what order sync does with it (the store id, the Ship Via of that store view, the customer per account sharing
scope), plus the eligibility flags when a request has no push row. No I/O: fake ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from amsync.models.acumatica import SalesOrder
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import (
    OrderMappingPreferences,
    OrderSyncPreferences,
    ReturnSyncPreferences,
    ShipViaMapping,
    StoreMapping,
)
from amsync.services import order_sync
from amsync.services.order_sync import plan_order
from amsync.services.stores import resolve_store, store_view_of, website_of

ROWS = [
    StoreMapping(branch="PRODRETAIL", website_id=2, store_id=2, store_view="retail_us"),
    StoreMapping(order_type="ST", website_id=3, store_id=3, store_view="st_view"),
    StoreMapping(customer_class="wholesale", website_id=4, store_id=4, store_view="b2b"),
    StoreMapping(branch="PRODRETAIL", order_type="ST", website_id=5, store_id=5, store_view="retail_st"),
]


def _order(branch: str | None = "PRODWHOLE", order_type: str = "SO") -> SalesOrder:
    record: dict[str, Any] = {"OrderType": {"value": order_type}, "OrderNbr": {"value": "000001"},
                              "CustomerID": {"value": "C1"}}
    if branch is not None:
        record["Branch"] = {"value": branch}
    return SalesOrder.from_api(record)


@pytest.mark.parametrize(("branch", "order_type", "cls", "expected"), [
    ("PRODWHOLE", "SO", "DEFAULT", (1, 1, "default")),  # nothing matches: the preferences' store
    (None, "SO", None, (1, 1, "default")),
    ("PRODRETAIL", "SO", "DEFAULT", (2, 2, "retail_us")),
    ("prodretail ", "SO", "WHOLESALE", (2, 2, "retail_us")),  # the branch beats the class
    ("PRODWHOLE", "ST", "WHOLESALE", (3, 3, "st_view")),  # the order type beats the class
    ("PRODWHOLE", "SO", "Wholesale", (4, 4, "b2b")),
    ("PRODRETAIL", "ST", "WHOLESALE", (5, 5, "retail_st")),  # branch + type beats branch alone
])
def test_the_most_specific_row_wins_branch_then_order_type_then_class(
        branch: str | None, order_type: str, cls: str | None, expected: tuple[int, int, str]) -> None:
    # Given the rows above and the default preferences / When
    target = resolve_store(_order(branch, order_type), cls, OrderSyncPreferences(), ROWS)
    # Then
    assert (target.website_id, target.store_id, target.store_view) == expected


def test_without_rows_every_order_goes_to_the_preferences_store() -> None:
    prefs = OrderSyncPreferences(website_id=7, store_id=9, store_view="main")
    target = resolve_store(_order("PRODRETAIL", "ST"), "WHOLESALE", prefs, [])
    assert (target.website_id, target.store_id, target.store_view) == (7, 9, "main")
    assert "default store" in target.chosen_by


def test_a_catch_all_row_overrides_the_preferences_but_loses_to_any_named_criterion() -> None:
    rows = [StoreMapping(website_id=8, store_id=8, store_view="everything"), *ROWS]
    assert resolve_store(_order(), "DEFAULT", OrderSyncPreferences(), rows).store_view == "everything"
    assert resolve_store(_order("PRODRETAIL"), "DEFAULT", OrderSyncPreferences(), rows).store_view == "retail_us"


def test_a_magento_store_id_is_named_by_the_rows_or_the_preferences() -> None:
    prefs = OrderSyncPreferences()
    assert store_view_of(2, prefs, ROWS) == "retail_us"
    assert store_view_of(1, prefs, ROWS) == "default"
    assert store_view_of(None, prefs, ROWS) == "default"
    assert store_view_of(42, prefs, ROWS) == "all"  # unknown: only All Store Views rows apply
    assert website_of(3, prefs, ROWS) == 3
    assert website_of(1, prefs, ROWS) == 1
    assert website_of(42, prefs, ROWS) is None


def test_the_settings_key_of_a_row_is_unique_per_criteria() -> None:
    from amsync.data.settings_store import mapping_sort_key

    assert [mapping_sort_key("store", m) for m in ROWS] == [
        "PRODRETAIL#*#*", "*#ST#*", "*#*#WHOLESALE", "PRODRETAIL#ST#*"]
    assert StoreMapping(branch="*", order_type="", website_id=1, store_id=1, store_view="x").branch is None
    with pytest.raises(ValueError):
        StoreMapping(website_id=1, store_id=1, store_view="9 bad")


# ---------------------------------------------------------------------------------------------- order sync
def _record(branch: str = "PRODRETAIL", email: str = "shop@example.com", unpaid: str = "40.00") -> dict[str, Any]:
    address = {"City": {"value": "Chicago"}, "Country": {"value": "US"}, "PostalCode": {"value": "60607"}}
    return {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "000001"}, "Status": {"value": "Open"},
            "CustomerID": {"value": "C1"}, "CurrencyID": {"value": "USD"}, "Branch": {"value": branch},
            "OrderTotal": {"value": Decimal("40.00")}, "TaxTotal": {"value": Decimal("0")},
            "Totals": {"UnpaidBalance": {"value": Decimal(unpaid)}},
            "ShippingSettings": {"ShipVia": {"value": "LOCAL"}}, "BillToAddress": address,
            "BillToContact": {"Attention": {"value": "Sam Shopper"}, "Email": {"value": email}},
            "Details": [{"LineNbr": {"value": 1}, "InventoryID": {"value": "WATER2809"}, "OrderQty": {"value": 2},
                         "UnitPrice": {"value": Decimal("20.00")}}]}


@dataclass
class Fakes:
    record: dict[str, Any]
    prefs: OrderSyncPreferences = field(default_factory=OrderSyncPreferences)
    stores: list[StoreMapping] = field(default_factory=lambda: list(ROWS))
    customer_class: str = "DEFAULT"
    customers: list[dict[str, Any]] = field(default_factory=list)
    ship_vias: list[ShipViaMapping] = field(default_factory=lambda: [
        ShipViaMapping(ship_via="LOCAL", carrier_code="freeshipping", method_code="freeshipping",
                       title="Free Shipping - Free"),
        ShipViaMapping(ship_via="LOCAL", store_view="retail_us", carrier_code="flatrate", method_code="flatrate",
                       title="Flat Rate - Retail")])
    customer_reads: int = 0

    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]:
        return self.record

    def customer(self, customer_id: str) -> dict[str, Any]:
        self.customer_reads += 1
        return {"CustomerID": {"value": customer_id}, "CustomerClass": {"value": self.customer_class}}

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        return [c for c in self.customers if c["email"] == email]

    def products_by_skus(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        return {"WATER2809": {"id": 4861, "name": "Water"}}

    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return self.prefs

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return ReturnSyncPreferences()

    def order_mapping(self, fresh: bool = False) -> OrderMappingPreferences:
        return OrderMappingPreferences()

    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None:
        # as SettingsStore.ship_via: the store view's row, else the All Store Views one
        rows = {(m.ship_via, m.store_view): m for m in self.ship_vias}
        return rows.get((ship_via, store_view)) or rows.get((ship_via, "all"))

    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        return list(self.stores) if kind == "store" else []

    def get(self, kind: str, acumatica_key: str) -> Any:
        return None

    def get_with_read(self, kind: str, acumatica_key: str) -> tuple[Any, dict[str, str] | None]:
        return None, None

    @property
    def acumatica(self) -> Fakes:
        return self

    @property
    def magento(self) -> Fakes:
        return self

    @property
    def settings(self) -> Fakes:
        return self

    @property
    def binder(self) -> Fakes:
        return self


def _req(source: str = "push", hint: dict[str, Any] | None = None) -> SyncRequest:
    return SyncRequest(kind=Kind.ORDER, key="SO/000001", source=source, correlation_id="SO/000001",  # type: ignore[arg-type]
                       hint={"isB2B": True, "isStaffCustomer": False} if hint is None else hint)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    order_sync.clear_caches()


def test_an_order_of_a_mapped_branch_lands_in_that_store_with_that_store_views_ship_via() -> None:
    # Given branch PRODRETAIL -> website 2 / store 2 (retail_us), and a LOCAL row for retail_us
    fakes = Fakes(_record("PRODRETAIL"))
    # When
    plan = plan_order(_req(), fakes)
    # Then the order is for store 2, shipped with the retail_us row, its new customer on website 2
    assert plan.outcome == "create" and plan.payload is not None
    assert plan.store is not None and plan.store.store_view == "retail_us"
    assert plan.payload["store_id"] == 2 and all(i["store_id"] == 2 for i in plan.payload["items"])
    assert plan.payload["shipping_description"] == "Flat Rate - Retail"
    assert plan.payload["extension_attributes"]["shipping_assignments"][0]["shipping"]["method"] == "flatrate_flatrate"
    assert plan.customer is not None and plan.customer.body is not None
    assert (plan.customer.body["website_id"], plan.customer.body["store_id"]) == (2, 2)
    # and no store row names a class here... except one does: the class was read once to choose the store
    assert fakes.customer_reads == 1


def test_an_order_of_an_unmapped_branch_keeps_the_default_store_and_the_all_store_views_ship_via() -> None:
    fakes = Fakes(_record("PRODWHOLE"), stores=[ROWS[0]])
    plan = plan_order(_req(), fakes)
    assert plan.payload is not None and plan.payload["store_id"] == 1
    assert plan.payload["shipping_description"] == "Free Shipping - Free"
    # no row names a class and the push row has both flags: Acumatica's customer is not read
    assert fakes.customer_reads == 0


def test_a_ship_via_without_a_row_for_the_store_view_or_all_names_the_store_view_to_map() -> None:
    fakes = Fakes(_record("PRODRETAIL"), ship_vias=[ShipViaMapping(
        ship_via="LOCAL", store_view="default", carrier_code="flatrate", method_code="flatrate", title="x")])
    plan = plan_order(_req(), fakes)
    assert plan.outcome == "failed"
    assert "for store view 'retail_us'" in str(plan.failure) and "store_view=retail_us" in str(plan.failure)


@pytest.mark.parametrize(("scope", "expected"), [("website", "create"), ("global", "bind")])
def test_the_customer_is_looked_up_in_the_account_sharing_scope(scope: str, expected: str) -> None:
    # Given the order's e-mail is an account on website 1 only, and the order goes to website 2
    fakes = Fakes(_record("PRODRETAIL"), prefs=OrderSyncPreferences(account_share_scope=scope),  # type: ignore[arg-type]
                  customers=[{"id": 77, "email": "shop@example.com", "website_id": 1, "group_id": 1}])
    # When
    plan = plan_order(_req(), fakes)
    # Then per website a new account is created on website 2; globally the one account is used
    assert plan.customer is not None and plan.customer.action == expected
    if expected == "bind":
        assert plan.customer.ref.id == 77
    else:
        assert plan.customer.body is not None and plan.customer.body["website_id"] == 2


def test_global_scope_prefers_the_account_of_the_orders_website() -> None:
    fakes = Fakes(_record("PRODRETAIL"), prefs=OrderSyncPreferences(account_share_scope="global"),
                  customers=[{"id": 5, "email": "shop@example.com", "website_id": 1},
                             {"id": 9, "email": "shop@example.com", "website_id": 2}])
    plan = plan_order(_req(), fakes)
    assert plan.customer is not None and plan.customer.ref.id == 9


def test_per_website_scope_uses_the_account_of_the_orders_website() -> None:
    fakes = Fakes(_record("PRODRETAIL"),
                  customers=[{"id": 5, "email": "shop@example.com", "website_id": 1},
                             {"id": 9, "email": "shop@example.com", "website_id": 2}])
    plan = plan_order(_req(), fakes)
    assert plan.customer is not None and (plan.customer.action, plan.customer.ref.id) == ("bind", 9)


# ---------------------------------------------------------------------------------------------- eligibility
def test_a_push_row_decides_b2b_and_the_class_is_not_read() -> None:
    # Given a push row saying not B2B / not staff, and a B2B class the push row overrides
    fakes = Fakes(_record("PRODWHOLE"), stores=[], customer_class="B2B")
    # When
    plan = plan_order(_req(hint={"isB2B": False, "isStaffCustomer": False}), fakes)
    # Then
    assert plan.outcome == "skipped" and fakes.customer_reads == 0
    assert plan.verdict is not None and "push row isB2B=false" in plan.verdict.reasons[0]


@pytest.mark.parametrize(("source", "hint"), [("reconciler", {}), ("resync", {}), ("push", {"via": "payment"})])
def test_a_request_without_the_push_row_columns_reads_the_customer_class(source: str, hint: dict[str, Any]) -> None:
    # Given the reconciler's (or a resync's, or a payment push's) request for an unpaid order of a B2B customer
    fakes = Fakes(_record("PRODWHOLE"), stores=[], customer_class="B2B")
    # When
    plan = plan_order(_req(source, hint), fakes)
    # Then the class is read and decides, and the reason says it came from the class
    assert fakes.customer_reads == 1
    assert plan.outcome == "create" and plan.verdict is not None
    assert plan.verdict.reasons == ("customer C1 is B2B (class B2B; no push row column to read it from)",)
    # and a DEFAULT class on the same path is not eligible, saying so
    order_sync.clear_caches()
    plan = plan_order(_req(source, hint), Fakes(_record("PRODWHOLE"), stores=[], customer_class="DEFAULT"))
    assert plan.outcome == "skipped" and plan.verdict is not None
    assert "not B2B (class DEFAULT; no push row column to read it from)" in plan.verdict.reasons[0]


def test_a_store_row_with_its_own_base_currency_takes_orders_in_it() -> None:
    # Given branch PRODEU -> a website whose base currency is EUR, and an EUR order of that branch
    row = StoreMapping(branch="PRODEU", website_id=6, store_id=6, store_view="eu", base_currency="EUR",
                       allowed_currencies=["EUR"])
    record = {**_record("PRODEU"), "CurrencyID": {"value": "EUR"}}
    # When
    plan = plan_order(_req(), Fakes(record, stores=[row]))
    # Then it goes to that store in its base currency
    assert plan.outcome == "create" and plan.payload is not None, plan.failure
    assert (plan.payload["store_id"], plan.payload["base_currency_code"], plan.payload["order_currency_code"]) == (
        6, "EUR", "EUR")
    # while the same order to the default (USD) store waits, naming the currency
    order_sync.clear_caches()
    plan = plan_order(_req(), Fakes({**record, "Branch": {"value": "PRODWHOLE"}}, stores=[row]))
    assert plan.outcome == "failed" and "EUR" in str(plan.failure)


# ---------------------------------------------------------------------------------------------- after the create
@dataclass
class _Settings:
    """Settings for fulfilment, order updates and inventory: the store rows, a Ship Via per store view, a warehouse
    feeding one source per website."""

    stores: list[StoreMapping] = field(default_factory=lambda: list(ROWS))

    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return OrderSyncPreferences()

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return ReturnSyncPreferences()

    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None:
        return Fakes(_record()).ship_via(ship_via, store_view)

    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        from amsync.models.settings import OrderStatusMapping, WarehouseMapping

        return {"store": self.stores,
                "warehouse": [WarehouseMapping(warehouse_id="RETAIL", source_code="default"),
                              WarehouseMapping(warehouse_id="RETAIL", source_code="retail_us_src", website_id=2)],
                "orderstatus": [OrderStatusMapping(acumatica_status="Back Order", comment="all views"),
                                OrderStatusMapping(acumatica_status="Back Order", store_view="retail_us",
                                                   comment="retail")]}.get(kind, [])


@pytest.mark.parametrize(("store_id", "carrier", "source"), [(2, "flatrate", "retail_us_src"),
                                                            (1, "freeshipping", "default"),
                                                            (42, "freeshipping", "default")])
def test_a_shipment_uses_the_ship_via_row_and_the_source_of_its_orders_store(store_id: int, carrier: str,
                                                                             source: str) -> None:
    from amsync.services import fulfilment

    # Given the shipment of a Magento order of store ``store_id``
    ports: Any = type("P", (), {"settings": _Settings()})()
    record = {"ShipVia": {"value": "LOCAL"}, "Packages": [{"TrackingNbr": {"value": "1Z9"}}]}
    # When / Then
    tracks = fulfilment._tracks(record, {"store_id": store_id}, ports)
    assert [t["title"] for t in tracks] == ["Flat Rate - Retail" if carrier == "flatrate" else "Free Shipping - Free"]
    assert fulfilment._source_code("RETAIL", {"store_id": store_id}, ports) == source


def test_a_status_change_uses_the_order_status_row_of_the_orders_store_view() -> None:
    from amsync.services.order_updates import _mapping

    ports: Any = type("P", (), {"settings": _Settings()})()
    assert _mapping("Back Order", {"store_id": 2}, ports).comment == "retail"
    assert _mapping("Back Order", {"store_id": 1}, ports).comment == "all views"


def test_a_warehouse_feeding_two_websites_stocks_sets_both_sources() -> None:
    from amsync.services.inventory import InventoryPorts, sync_stock_batch

    # Given RETAIL mapped to "default" (every website) and to "retail_us_src" (website 2), 7 available
    saved: list[dict[str, Any]] = []

    class _Acu:
        def inquiry(self, entity: str, body: dict[str, Any], expand: str = "Results") -> dict[str, Any]:
            return {"Results": [{"WarehouseID": {"value": "RETAIL"}, "QtyAvailable": {"value": 7}}]}

    class _Mag:
        def products_by_skus(self, skus: Any) -> dict[str, dict[str, Any]]:
            return {s: {"id": 1} for s in skus}

        def save_source_items(self, items: list[dict[str, Any]]) -> None:
            saved.extend(items)

    ports = InventoryPorts(acumatica=_Acu(), magento=_Mag(), settings=_Settings(), log=lambda rows: None)
    # When
    sync_stock_batch({"m": SyncRequest(kind=Kind.STOCK, key="WATER2809/RETAIL", correlation_id="x")}, ports)
    # Then both sources get the warehouse's quantity
    assert sorted((i["source_code"], i["quantity"]) for i in saved) == [
        ("default", Decimal(7)), ("retail_us_src", Decimal(7))]


def test_a_lone_deleted_row_is_not_read_for_the_flags() -> None:
    # Given a Deleted row (the order as it was) saying B2B, and the customer's class now DEFAULT
    fakes = Fakes(_record("PRODWHOLE"), stores=[], customer_class="DEFAULT")
    req = SyncRequest(kind=Kind.ORDER, key="SO/000001", correlation_id="SO/000001", deleted_only=True,
                      hint={"isB2B": True, "isStaffCustomer": False})
    # When / Then the class decides
    plan = plan_order(req, fakes)
    assert plan.outcome == "skipped" and fakes.customer_reads == 1


def test_a_source_fed_by_two_warehouses_gets_their_sum_even_when_one_warehouse_changed() -> None:
    from amsync.models.settings import WarehouseMapping
    from amsync.services.inventory import InventoryPorts, sync_stock_batch

    # Given RETAIL (7) and WHOLESALE (5) both mapped to retail_store, RETAIL also to default
    saved: list[dict[str, Any]] = []

    class _Acu:
        def inquiry(self, entity: str, body: dict[str, Any], expand: str = "Results") -> dict[str, Any]:
            return {"Results": [{"WarehouseID": {"value": "RETAIL"}, "QtyAvailable": {"value": 7}},
                                {"WarehouseID": {"value": "WHOLESALE"}, "QtyAvailable": {"value": 5}}]}

    class _Mag:
        def products_by_skus(self, skus: Any) -> dict[str, dict[str, Any]]:
            return {s: {"id": 1} for s in skus}

        def save_source_items(self, items: list[dict[str, Any]]) -> None:
            saved.extend(items)

    class _Rows:
        def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
            return [WarehouseMapping(warehouse_id="RETAIL", source_code="default"),
                    WarehouseMapping(warehouse_id="RETAIL", source_code="retail_store", website_id=2),
                    WarehouseMapping(warehouse_id="WHOLESALE", source_code="retail_store")]

    ports = InventoryPorts(acumatica=_Acu(), magento=_Mag(), settings=_Rows(), log=lambda rows: None)
    # When only RETAIL's row was pushed
    sync_stock_batch({"m": SyncRequest(kind=Kind.STOCK, key="WATER2809/RETAIL", correlation_id="x")}, ports)
    # Then retail_store is set to both warehouses' sum, not to RETAIL's alone (source items are absolute)
    assert sorted((i["source_code"], i["quantity"]) for i in saved) == [
        ("default", Decimal(7)), ("retail_store", Decimal(12))]


def test_a_store_row_set_from_the_cli_or_the_console_reads_its_text() -> None:
    # Given the text the CLI (field=value) or the console's form sends / When / Then
    row = StoreMapping.model_validate({"branch": "prodretail", "order_type": "*", "website_id": "2", "store_id": "2",
                                       "store_view": "retail_us", "base_currency": "eur",
                                       "allowed_currencies": "EUR, usd"})
    assert (row.branch, row.order_type, row.base_currency, row.allowed_currencies) == (
        "PRODRETAIL", None, "EUR", ["EUR", "USD"])
    empty = StoreMapping.model_validate({"website_id": 1, "store_id": 1, "store_view": "default",
                                         "base_currency": "", "allowed_currencies": []})
    assert (empty.base_currency, empty.allowed_currencies) == (None, None)


@pytest.mark.parametrize(("store_id", "differs"), [(2, True), (1, False)])
def test_the_audit_expects_the_status_of_the_order_status_row_of_the_orders_store_view(store_id: int,
                                                                                      differs: bool) -> None:
    from amsync.models.settings import OrderStatusMapping
    from amsync.services.order_audit import MagOrder, OrderFacts, compare_order

    # Given "Back Order" holds the order in retail_us only, and a bound Magento order that is not on hold
    rows = [OrderStatusMapping(acumatica_status="Back Order", store_view="retail_us", action="hold")]
    order = SalesOrder.from_api({"OrderType": {"value": "SO"}, "OrderNbr": {"value": "000001"},
                                 "CustomerID": {"value": "C1"}, "Status": {"value": "Back Order"}})
    magento = MagOrder.from_api({"entity_id": 9, "increment_id": "000000009", "ext_order_id": "000001",
                                 "state": "processing", "status": "processing", "store_id": store_id})
    facts = OrderFacts(order, True, None, [magento])
    # When the audit compares them, naming the view by the order's store id
    found = compare_order(facts, rows, lambda sid: store_view_of(sid, OrderSyncPreferences(), ROWS))
    # Then only the retail_us order is expected on hold
    assert any(d.kind == "status" for d in found) is differs
