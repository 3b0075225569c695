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
