"""Magento -> Acumatica customers under Magento's account sharing scope (order sync preference
``account_share_scope``): per website, one e-mail on two websites is two accounts, each its own Acumatica customer;
globally, a shared e-mail is refused. Fake ports, the real ``sync_customer``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from amsync.adapters.errors import NotFound
from amsync.models.log import LogEntry, Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import CustomerSyncPreferences, OrderSyncPreferences, ReturnSyncPreferences
from amsync.services.customer_sync import CustomerSyncPorts, sync_customer
from amsync.services.exporting import AlreadyBound, Binding

EMAIL = "pat@example.com"


def _magento(cid: int, website: int) -> dict[str, Any]:
    return {"id": cid, "email": EMAIL, "firstname": "Pat", "lastname": "Lee", "website_id": website,
            "store_id": website, "group_id": 1, "updated_at": "2026-01-01 10:00:00", "addresses": []}


@dataclass
class World:
    scope: str
    magento: dict[int, dict[str, Any]] = field(default_factory=dict)
    acumatica: dict[str, dict[str, Any]] = field(default_factory=dict)
    bindings: dict[str, Binding] = field(default_factory=dict)
    rows: list[LogEntry] = field(default_factory=list)

    # Magento
    def customer(self, customer_id: int) -> dict[str, Any]:
        if customer_id not in self.magento:
            raise NotFound("magento", "customer", "No such entity.", status=404)
        return self.magento[customer_id]

    # Magento and Acumatica both look customers up by e-mail
    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        return [c for c in self.magento.values() if c["email"] == email]

    # settings
    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences:
        return CustomerSyncPreferences()

    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences:
        return OrderSyncPreferences(account_share_scope=self.scope)  # type: ignore[arg-type]

    def return_sync(self, fresh: bool = False) -> ReturnSyncPreferences:
        return ReturnSyncPreferences()

    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        return []

    # binder
    def get(self, kind: str, acumatica_key: str) -> Binding | None:
        return self.bindings.get(acumatica_key)

    def by_magento_id(self, kind: str, entity_id: int) -> Binding | None:
        return next((b for b in self.bindings.values() if b.magento_entity_id == entity_id), None)

    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding:
        if acumatica_key in self.bindings:
            raise AlreadyBound(self.bindings[acumatica_key])
        return Binding(kind, acumatica_key, None, None, "creating", 0.0, {})

    def release_creating(self, kind: str, acumatica_key: str, hold_s: float = 0.0, lease: str | None = None) -> None:
        pass

    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None, lease: str | None = None) -> Binding:
        if acumatica_key in self.bindings and self.bindings[acumatica_key].magento_entity_id != entity_id:
            raise AlreadyBound(self.bindings[acumatica_key])
        self.bindings[acumatica_key] = Binding(kind, acumatica_key, entity_id, None, "bound", 0.0, dict(extra or {}))
        return self.bindings[acumatica_key]

    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None:
        pass

    def ports(self) -> CustomerSyncPorts:
        world = self

        class _Acumatica:
            def customer_by_id(self, customer_id: str) -> dict[str, Any] | None:
                return world.acumatica.get(customer_id)

            def customers_by_email(self, email: str) -> list[dict[str, Any]]:
                return [c for c in world.acumatica.values()
                        if c.get("MainContact", {}).get("Email", {}).get("value") == email]

            def save_customer(self, body: dict[str, Any], update_only: bool = False) -> dict[str, Any]:
                world.acumatica[body["CustomerID"]["value"]] = body
                return body

        return CustomerSyncPorts(magento=self, acumatica=_Acumatica(), settings=self, binder=self,
                                 log=self.rows.extend)


def _sync(world: World, cid: int) -> str:
    return sync_customer(SyncRequest(kind=Kind.CUSTOMER, key=str(cid), source="reconciler",
                                     correlation_id=f"magento-customer-{cid}"), world.ports())


def test_per_website_one_email_on_two_websites_becomes_two_acumatica_customers() -> None:
    # Given pat@ has an account on website 1 and another on website 2 (Magento's default sharing scope)
    world = World("website", magento={11: _magento(11, 1), 12: _magento(12, 2)})
    # When both are synced
    outcomes = [_sync(world, 11), _sync(world, 12)]
    # Then each is its own Acumatica customer, bound to its own account
    assert outcomes == ["created", "created"]
    assert {k: b.magento_entity_id for k, b in world.bindings.items()} == {"MAG0000011": 11, "MAG0000012": 12}
    assert all(r.result == Result.SUCCESS for r in world.rows)


def test_per_website_the_second_account_does_not_take_the_first_ones_acumatica_customer() -> None:
    # Given an Acumatica customer with pat@'s e-mail, matched (and bound) by the website-1 account
    world = World("website", magento={11: _magento(11, 1), 12: _magento(12, 2)},
                  acumatica={"PAT": {"CustomerID": {"value": "PAT"}, "MainContact": {"Email": {"value": EMAIL}}}})
    assert _sync(world, 11) == "matched"
    # When the website-2 account syncs
    outcome = _sync(world, 12)
    # Then it gets its own customer rather than a Failure about a shared e-mail
    assert outcome == "created"
    assert world.bindings["PAT"].magento_entity_id == 11 and world.bindings["MAG0000012"].magento_entity_id == 12


@pytest.mark.parametrize("cid", [11, 12])
def test_global_scope_refuses_an_email_shared_by_two_accounts(cid: int) -> None:
    # Given global sharing (one account per e-mail), and two accounts with one e-mail (made before the switch)
    world = World("global", magento={11: _magento(11, 1), 12: _magento(12, 2)})
    # When / Then neither syncs, and the Failure names both
    assert _sync(world, cid) == "failed"
    assert world.bindings == {}
    assert "is shared by Magento customers" in world.rows[-1].message


def test_per_website_a_customer_the_connector_made_for_the_other_account_is_never_matched() -> None:
    # Given the website-1 account's Acumatica customer exists (MAG0000011) but its binding is not written yet
    # (both accounts sync at the same time)
    world = World("website", magento={11: _magento(11, 1), 12: _magento(12, 2)},
                  acumatica={"MAG0000011": {"CustomerID": {"value": "MAG0000011"},
                                            "MainContact": {"Email": {"value": EMAIL}}}})
    # When the website-2 account syncs
    outcome = _sync(world, 12)
    # Then it is not bound to the other account's customer: it gets its own
    assert outcome == "created" and world.bindings["MAG0000012"].magento_entity_id == 12
    assert "MAG0000011" not in world.bindings
