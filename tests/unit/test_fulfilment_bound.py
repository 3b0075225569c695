"""A later push of a shipment or invoice already in Magento is answered by its binding, without reading Acumatica;
one not bound yet is read as before. No I/O: fake ports."""

from __future__ import annotations

from typing import Any

import pytest

from amsync.adapters.errors import NotFound
from amsync.models.log import LogEntry
from amsync.models.messages import Kind, SyncRequest
from amsync.services.exporting import Binding
from amsync.services.fulfilment import FulfilmentPorts, handle_fulfilment


class Fakes:
    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.reads: list[tuple[str, ...]] = []
        self.logged: list[LogEntry] = []

    def get(self, entity: str, *keys: str, expand: str | None = None, select: str | None = None) -> dict[str, Any]:
        self.reads.append((entity, *keys))
        raise NotFound("Acumatica", f"GET {entity}", "No entity satisfies the condition", status=500)

    def binder_get(self, kind: str, acumatica_key: str) -> Binding | None:
        if f"{kind}#{acumatica_key}" in self.bound:
            return Binding(kind, acumatica_key, 458, None, "bound", 0.0, {})
        return None

    def ports(self) -> FulfilmentPorts:
        binder: Any = type("B", (), {
            "get": lambda _s, kind, key: self.binder_get(kind, key),
            "get_pair": lambda _s, a, b: (self.binder_get(*a), self.binder_get(*b)),
        })()
        return FulfilmentPorts(acumatica=self, magento=None, settings=None, binder=binder,
                               log=self.logged.extend)


@pytest.mark.parametrize(("kind", "key", "bound"), [
    (Kind.SHIPMENT, "005139", "shipment#005139#SO/SOT00024"),
    (Kind.INVOICE, "Invoice/AR012116", "invoice#Invoice/AR012116#SO/SOT00024"),
])
def test_a_document_bound_already_is_done_without_a_read(kind: Kind, key: str, bound: str) -> None:
    fakes = Fakes({bound})
    req = SyncRequest(kind=kind, key=key, order_key="SO/SOT00024", correlation_id="SO/SOT00024")
    assert handle_fulfilment(req, fakes.ports()) == "duplicate"
    assert fakes.reads == []


@pytest.mark.parametrize(("kind", "key", "order_key"), [
    (Kind.SHIPMENT, "005139", "SO/SOT00024"),  # not bound yet
    (Kind.SHIPMENT, "005139", None),  # which order is not known: its lines say
    (Kind.INVOICE, "Invoice/AR012116", "SO/SOT00025"),  # bound for another order only
])
def test_a_document_not_bound_for_its_order_is_read(kind: Kind, key: str, order_key: str | None) -> None:
    fakes = Fakes({"shipment#005139#SO/SOT00025", "invoice#Invoice/AR012116#SO/SOT00024"})
    req = SyncRequest(kind=kind, key=key, order_key=order_key, correlation_id=order_key or key)
    assert handle_fulfilment(req, fakes.ports()) == "gone"
    assert len(fakes.reads) == 1


class _Exporting:
    """Ports for one released invoice of a bound order: Acumatica has the invoice, Magento the order; the binder
    remembers which documents had an attempt (a lease given back leaves its item, as data/bindings.py does)."""

    def __init__(self, attempted: set[str]) -> None:
        self.attempted = attempted
        self.magento_calls: list[str] = []
        self.logged: list[LogEntry] = []

    # Acumatica
    def get(self, entity: str, *keys: str, expand: str | None = None, select: str | None = None) -> dict[str, Any]:
        return {"Type": {"value": "Invoice"}, "ReferenceNbr": {"value": "AR012116"}, "Status": {"value": "Open"},
                "Details": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": "SOT00024"},
                             "OrderLineNbr": {"value": 1}, "InventoryID": {"value": "WATER2809"},
                             "Qty": {"value": 2}}]}

    # Magento
    def order(self, entity_id: int) -> dict[str, Any]:
        self.magento_calls.append("GET orders/{id}")
        return {"entity_id": entity_id, "increment_id": "000000458", "store_id": 1,
                "items": [{"item_id": 901, "sku": "WATER2809", "ext_order_item_id": "1"}]}

    def invoices_of(self, order_id: int) -> list[dict[str, Any]]:
        self.magento_calls.append("GET invoices")
        return []

    def invoice(self, order_id: int, body: dict[str, Any]) -> int:
        self.magento_calls.append("POST invoice")
        return 77

    # settings
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]:
        return []

    # binder
    def binder_get(self, kind: str, key: str) -> Binding | None:
        if kind == "order":
            return Binding(kind, key, 458, "000000458", "bound", 0.0, {})
        return None

    def mark_creating(self, kind: str, key: str, lease_s: float = 60.0) -> Binding:
        first = f"{kind}#{key}" not in self.attempted
        self.attempted.add(f"{kind}#{key}")
        return Binding(kind, key, None, None, "creating", 0.0, {}, lease="t", first_attempt=first)

    def ports(self) -> FulfilmentPorts:
        binder: Any = type("B", (), {
            "get": lambda _s, kind, key: self.binder_get(kind, key),
            "get_pair": lambda _s, a, b: (self.binder_get(*a), self.binder_get(*b)),
            "mark_creating": lambda _s, kind, key, lease_s=60.0: self.mark_creating(kind, key, lease_s),
            "bind": lambda _s, *a, **k: None,
        })()
        return FulfilmentPorts(acumatica=self, magento=self, settings=self,  # type: ignore[arg-type]
                               binder=binder, log=self.logged.extend)


@pytest.mark.parametrize(("attempted", "calls"), [
    (set(), ["GET orders/{id}", "POST invoice"]),  # the first attempt: our marker cannot be on Magento yet
    ({"invoice#Invoice/AR012116#SO/SOT00024"}, ["GET orders/{id}", "GET invoices", "POST invoice"]),  # a retry
])
def test_only_a_retry_looks_for_the_marker_of_an_earlier_attempt(attempted: set[str], calls: list[str]) -> None:
    fakes = _Exporting(attempted)
    req = SyncRequest(kind=Kind.INVOICE, key="Invoice/AR012116", order_key="SO/SOT00024", correlation_id="SO/SOT00024")
    assert handle_fulfilment(req, fakes.ports()) == "created"
    assert fakes.magento_calls == calls
