"""Order sync in two steps: ``plan_order`` decides from reads alone, ``sync_order`` acts on the plan (and the
preview shows the plan). No I/O: fake ports that record every call."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from amsync.models.log import LogEntry, Result
from amsync.models.messages import Kind, MagentoOrderWrite, SyncRequest
from amsync.models.settings import (
    OrderMappingPreferences,
    OrderSyncPreferences,
    ReturnSyncPreferences,
    ShipViaMapping,
)
from amsync.services import order_sync
from amsync.services.exporting import Binding
from amsync.services.order_sync import OrderSyncPorts, plan_order, sync_order


def _record(nbr: str = "SOT00024", customer: str = "BIGBOX", ship_via: str = "LOCAL",
            lines: tuple[tuple[str, int], ...] = (("WATER2809", 2),), email: str = "orders@bigbox.example") -> Any:
    details = [{"LineNbr": {"value": n}, "InventoryID": {"value": sku}, "OrderQty": {"value": qty},
                "UnitPrice": {"value": Decimal("20.00")}} for n, (sku, qty) in enumerate(lines, start=1)]
    total = sum(Decimal("20.00") * qty for _, qty in lines)
    address = {"City": {"value": "Chicago"}, "Country": {"value": "US"}, "PostalCode": {"value": "60607"}}
    return {"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr}, "Status": {"value": "Open"},
            "CustomerID": {"value": customer}, "CurrencyID": {"value": "USD"}, "OrderTotal": {"value": total},
            "TaxTotal": {"value": Decimal("0")}, "Totals": {"UnpaidBalance": {"value": total}},
            "ShippingSettings": {"ShipVia": {"value": ship_via}}, "BillToAddress": address,
            "BillToContact": {"Attention": {"value": "Brian Boxer"}, "Email": {"value": email}},
            "Details": details}


@dataclass
class Fakes:
    """Every port of order sync; ``writes`` lists the calls that change something, in order."""

    record: dict[str, Any]
    customers: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, dict[str, Any]] = field(default_factory=lambda: {"WATER2809": {"id": 4861, "name": "W"}})
    ship_vias: dict[str, ShipViaMapping] = field(default_factory=lambda: {"LOCAL": ShipViaMapping(
        ship_via="LOCAL", carrier_code="freeshipping", method_code="freeshipping", title="Free Shipping - Free")})
    bindings: dict[str, Binding] = field(default_factory=dict)
    forwards: dict[str, dict[str, str]] = field(default_factory=dict)  # note_read's notes
    writes: list[tuple[str, Any]] = field(default_factory=list)

    # Acumatica
    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]:
        return self.record

    def customer(self, customer_id: str) -> dict[str, Any]:
        return {"CustomerID": {"value": customer_id}, "CustomerClass": {"value": "B2B"},
                "MainContact": {"FirstName": {"value": "Brian"}, "LastName": {"value": "Boxer"}}}

    def tax_category(self, category_id: str) -> dict[str, Any]:
        return {"TaxCategoryID": {"value": category_id}, "Details": []}

    # Magento
    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        return [c for c in self.customers if c["email"] == email]

    def products_by_skus(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        return {s: self.products[s] for s in skus if s in self.products}

    def create_customer(self, customer: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("create_customer", customer))
        created = {**customer, "id": 501}
        self.customers.append(created)
        return created

    # settings
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return OrderSyncPreferences()

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return ReturnSyncPreferences()

    def ship_via(self, ship_via: str, store_view: str, fresh: bool = False) -> ShipViaMapping | None:
        return self.ship_vias.get(ship_via)

    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        return []

    def order_mapping(self, fresh: bool = False) -> OrderMappingPreferences:
        return OrderMappingPreferences()

    # binder
    def get(self, kind: str, acumatica_key: str) -> Binding | None:
        return self.bindings.get(f"{kind}#{acumatica_key}")

    def get_with_read(self, kind: str, acumatica_key: str) -> tuple[Binding | None, dict[str, str] | None]:
        return self.get(kind, acumatica_key), self.forwards.get(f"{kind}#{acumatica_key}")

    def note_read(self, kind: str, acumatica_key: str, modified: str, read: str) -> None:
        self.forwards[f"{kind}#{acumatica_key}"] = {"modified": modified, "read": read}

    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None) -> Any:
        self.writes.append(("bind", (kind, acumatica_key, entity_id)))
        self.bindings[f"{kind}#{acumatica_key}"] = Binding(kind, acumatica_key, entity_id, increment_id, "bound", 0.0,
                                                           {})

    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None:
        binding = self.bindings[f"{kind}#{acumatica_key}"]
        extra = {**binding.extra, **{f"x_{k}": v for k, v in attrs.items()}}
        self.bindings[f"{kind}#{acumatica_key}"] = Binding(kind, acumatica_key, binding.magento_entity_id,
                                                           binding.magento_increment_id, binding.state, 0.0, extra)

    def ports(self) -> OrderSyncPorts:
        return OrderSyncPorts(acumatica=self, magento=self, settings=self, binder=self,
                              log=lambda rows: self.writes.append(("log", rows)),
                              forward=lambda msg: self.writes.append(("forward", msg)))


REQ = SyncRequest(kind=Kind.ORDER, key="SO/SOT00024", source="resync", correlation_id="SO/SOT00024")


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    order_sync.clear_caches()


def _logged(fakes: Fakes) -> list[LogEntry]:
    return [row for kind, rows in fakes.writes if kind == "log" for row in rows]


def test_the_plan_writes_nothing_and_the_sync_sends_the_planned_entity_with_the_customer_it_creates() -> None:
    # Given a B2B order whose customer is not in Magento
    fakes = Fakes(_record())
    # When it is planned (as the preview does, and as the sync does)
    plans = [plan_order(REQ, fakes.ports(), explain=explain) for explain in (True, False)]
    # Then nothing was written, and the plan says: create the customer, then create the order
    assert fakes.writes == []
    plan = plans[1]
    assert plan == plans[0]
    assert plan.outcome == "create" and plan.customer is not None and plan.customer.action == "create"
    assert plan.effects[0].startswith("create Magento customer orders@bigbox.example")
    assert plan.payload is not None and plan.payload["customer_id"] is None
    # When the sync acts on it
    assert sync_order(REQ, fakes.ports()) == "forwarded"
    # Then it created the customer, bound it, and sent the planned entity placed for that customer
    assert [w[0] for w in fakes.writes] == ["create_customer", "bind", "forward"]
    assert fakes.writes[0][1] == plan.customer.body
    sent: MagentoOrderWrite = fakes.writes[2][1]
    assert sent.payload == {**plan.payload, "customer_id": 501}
    # and the next plan finds that customer: nothing left to create or bind
    order_sync.clear_caches()
    again = plan_order(REQ, fakes.ports())
    assert again.customer is not None and again.customer.action == "use" and again.payload == sent.payload


@pytest.mark.parametrize(("external_ref", "write_back", "unclaimed"), [
    (None, "ExternalRef", True),  # nothing claims it: the writer's first attempt need not search Magento
    ("000000777", "ExternalRef", False),  # a Magento number is on it (ours, or an earlier connector's)
    (None, "none", False),  # no write-back: nothing in Acumatica would show a claim, so the writer searches
])
def test_the_create_says_whether_a_magento_order_may_claim_the_acumatica_order(
        external_ref: str | None, write_back: str, unclaimed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _record()
    record["ExternalRef"] = {"value": external_ref}
    fakes = Fakes(record, customers=[{"email": "orders@bigbox.example", "id": 77}])
    prefs = OrderSyncPreferences(write_back_field=write_back)
    monkeypatch.setattr(Fakes, "order_sync", lambda self, fresh=False: prefs)
    assert sync_order(REQ, fakes.ports()) == "forwarded"
    sent: MagentoOrderWrite = next(w[1] for w in fakes.writes if w[0] == "forward")
    assert sent.unclaimed is unclaimed


def test_explain_lists_every_blocker_while_the_sync_stops_at_the_first_as_before() -> None:
    # Given an order with an unmapped Ship Via and a SKU Magento does not have
    fakes = Fakes(_record(ship_via="WILLCALL", lines=(("WATER2809", 1), ("TEA42", 1))))
    # When it is explained
    explained = plan_order(REQ, fakes.ports(), explain=True)
    # Then both blockers are named, the Ship Via first, and no customer step would run
    assert explained.outcome == "failed" and len(explained.missing) == 2
    assert explained.missing[0].startswith("Ship Via 'WILLCALL' has no Magento shipping method for store view")
    assert explained.missing[1] == ("order SO/SOT00024: SKU TEA42 is not in Magento: create the product or map "
                                    "it (amsync mappings product set inventory_id=TEA42 magento_sku=<SKU>)")
    assert explained.customer is None and explained.payload is None
    # When it is synced: one Failure row with the first blocker, and no customer created
    assert sync_order(REQ, fakes.ports()) == "failed"
    [row] = _logged(fakes)
    assert (row.result, row.message) == (Result.FAILURE, explained.missing[0])
    assert [w[0] for w in fakes.writes] == ["log"]


def test_a_failure_after_the_customer_step_still_creates_the_customer_as_before() -> None:
    # Given a mapped Ship Via but a SKU Magento does not have (the mapper fails after the customer is resolved)
    fakes = Fakes(_record(lines=(("TEA42", 1),)))
    # When it is synced
    assert sync_order(REQ, fakes.ports()) == "failed"
    # Then, as before the plan existed, the customer was created and bound, then the Failure logged
    assert [w[0] for w in fakes.writes] == ["create_customer", "bind", "log"]
    assert "SKU TEA42 is not in Magento" in _logged(fakes)[0].message


def test_an_unpaid_order_is_skipped_and_explained_with_what_would_block_it() -> None:
    # Given an unpaid order of a DEFAULT customer with an unmapped Ship Via
    fakes = Fakes(_record(ship_via="WILLCALL"))
    fakes.customer = lambda customer_id: {"CustomerID": {"value": customer_id},  # type: ignore[method-assign]
                                          "CustomerClass": {"value": "DEFAULT"}}
    # When explained, then synced
    explained = plan_order(REQ, fakes.ports(), explain=True)
    assert sync_order(REQ, fakes.ports()) == "skipped"
    # Then skipped for the balance, and the preview also names the Ship Via to map before it is paid
    assert explained.outcome == "skipped" and explained.payload is None
    assert explained.verdict is not None and "unpaid balance is 40.00" in explained.verdict.reasons[0]
    assert len(explained.missing) == 1 and "WILLCALL" in explained.missing[0]
    [row] = _logged(fakes)
    assert row.result == Result.SKIPPED and row.message == explained.verdict.reasons[0]


@pytest.mark.parametrize(("key", "return_type"), [("RC/RC000001", "RC"), ("CR/CR000007", "RC"), ("RR/RR000002", "RR")])
def test_a_return_order_is_not_an_order_to_create_and_logs_no_skipped_row(key: str, return_type: str) -> None:
    # Given a push about a return order (Acumatica's RC / CR, or the return preferences' own type)
    fakes = Fakes(_record())
    fakes.return_sync = lambda fresh=False: ReturnSyncPreferences(  # type: ignore[method-assign]
        return_order_type=return_type)
    req = REQ.model_copy(update={"key": key})
    # When it is planned and synced
    plan = plan_order(req, fakes.ports(), explain=True)
    outcome = sync_order(req, fakes.ports())
    # Then it is recognised as a return: not read, nothing logged (no "add it to the order sync preferences")
    assert plan.outcome == "return" and outcome == "return" and plan.record is None
    assert plan.failure is not None and f"order type {key[:2]} is a return order type" in plan.failure
    assert "returns.md" in plan.effects[0] and fakes.writes == []


def test_an_order_type_that_is_not_a_return_is_still_skipped_with_its_reason() -> None:
    # Given an order of an unsynced type that is no return type (the return preferences name RC)
    fakes = Fakes(_record())
    req = REQ.model_copy(update={"key": "QT/QT000001"})
    fakes.record = {**_record(), "OrderType": {"value": "QT"}, "OrderNbr": {"value": "QT000001"}}
    # When it is synced, then the Skipped row still says how to sync it
    assert sync_order(req, fakes.ports()) == "skipped"
    assert "order type QT is not synced" in _logged(fakes)[0].message


def test_a_bound_order_sends_an_update_and_is_still_explained() -> None:
    fakes = Fakes(_record())
    fakes.bindings["order#SO/SOT00024"] = Binding("order", "SO/SOT00024", 1093, "000000995", "bound", 0.0, {})
    explained = plan_order(REQ, fakes.ports(), explain=True)
    assert explained.outcome == "update" and explained.verdict is not None and explained.verdict.eligible
    assert sync_order(REQ, fakes.ports()) == "update"
    assert [(w[0], w[1].action) for w in fakes.writes] == [("forward", "update")]
