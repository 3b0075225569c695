"""The Magento writer's exactly-once rules with in-memory fakes (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from amsync.adapters.errors import RateLimited, RetryableError, ServerError, TransportError
from amsync.data.bindings import AlreadyBound, Binding
from amsync.models.log import LogEntry
from amsync.models.messages import MagentoOrderWrite
from amsync.services.order_writer import WriterPorts, write_order


class FakeMagento:
    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []

    def orders_by_ext_id(self, ext_order_id: str) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["ext_order_id"] == ext_order_id]

    def create_order(self, entity: dict[str, Any]) -> dict[str, Any]:
        order = {**entity, "entity_id": 1093 + len(self.orders), "increment_id": f"{995 + len(self.orders):09d}"}
        self.orders.append(order)
        return order


class FakeAcumatica:
    def __init__(self) -> None:
        self.written: list[tuple[str, str, str]] = []

    def write_back_external_ref(self, order_type: str, order_nbr: str, value: str) -> dict[str, Any]:
        self.written.append((order_type, order_nbr, value))
        return {"LastModified": {"value": "2026-11-29T12:00:00+00:00"}}


class FakeBinder:
    def __init__(self) -> None:
        self.items: dict[str, Binding] = {}
        self.released: list[tuple[str, float]] = []

    def get(self, kind: str, key: str) -> Binding | None:
        return self.items.get(f"{kind}#{key}")

    def mark_creating(self, kind: str, key: str, lease_s: float = 60.0) -> Binding:
        existing = self.get(kind, key)
        if existing is not None and existing.state == "bound":
            raise AlreadyBound(existing)
        b = Binding(kind, key, None, None, "creating", 0, {})
        self.items[f"{kind}#{key}"] = b
        return b

    def release_creating(self, kind: str, key: str, hold_s: float = 0.0) -> None:
        self.released.append((key, hold_s))

    def bind(self, kind: str, key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None) -> Binding:
        b = Binding(kind, key, entity_id, increment_id, "bound", 0, {})
        self.items[f"{kind}#{key}"] = b
        return b

    def touch(self, kind: str, key: str, **attrs: Any) -> None:
        b = self.items[f"{kind}#{key}"]
        self.items[f"{kind}#{key}"] = Binding(b.kind, b.acumatica_key, b.magento_entity_id, b.magento_increment_id,
                                              b.state, b.updated_at, {**b.extra, **{f"x_{k}": v for k, v in
                                                                                    attrs.items()}})


def _ports() -> tuple[WriterPorts, FakeMagento, FakeAcumatica, list[LogEntry]]:
    rows: list[LogEntry] = []
    mag, acu = FakeMagento(), FakeAcumatica()
    return WriterPorts(magento=mag, acumatica=acu, binder=FakeBinder(), log=rows.extend), mag, acu, rows


def _msg(write_back: bool = True) -> MagentoOrderWrite:
    return MagentoOrderWrite.build({"ext_order_id": "SOT00024", "store_id": 1, "grand_total": 40},
                                   order_key="SO/SOT00024", order_nbr="SOT00024", action="create",
                                   acumatica_status="Open", correlation_id="SO/SOT00024", write_back=write_back)


def test_create_binds_writes_the_number_back_and_a_second_delivery_creates_nothing() -> None:
    ports, mag, acu, rows = _ports()
    assert write_order(_msg(), ports) == "created"
    assert write_order(_msg(), ports) == "duplicate"
    assert len(mag.orders) == 1 and acu.written == [("SO", "SOT00024", "000000995")]
    binding = ports.binder.get("order", "SO/SOT00024")
    assert binding is not None and binding.extra["x_status_synced"] == "Open"  # status follow-up starts here


def test_an_order_already_in_magento_is_found_and_bound_not_created_again() -> None:
    ports, mag, acu, rows = _ports()
    mag.create_order({"ext_order_id": "SOT00024", "store_id": 1})  # an earlier attempt committed, answer lost
    assert write_order(_msg(), ports) == "recovered"
    assert len(mag.orders) == 1 and "found in Magento" in rows[-1].message


def test_write_back_none_leaves_the_acumatica_order_alone() -> None:
    ports, mag, acu, rows = _ports()
    assert write_order(_msg(write_back=False), ports) == "created"
    assert acu.written == []


@pytest.mark.parametrize(("error", "held"), [
    (TransportError("magento", "create order", "timed out (ReadTimeout)"), True),
    (ServerError("magento", "create order", "Bad Gateway", status=502), True),
    (ServerError("magento", "create order", "Backend fetch failed", status=503), True),
    (RateLimited("magento", "create order", "Too Many Requests", status=429), False),
    (TransportError("magento", "create order", "could not connect (ConnectError)", sent=False), False),
])
def test_a_failed_create_keeps_its_lease_while_magento_may_still_commit_it(error: RetryableError,
                                                                            held: bool) -> None:
    # Given Magento failing the create in a way that may (or surely may not) have left it committing
    ports, mag, acu, rows = _ports()
    ports.create_lease_s = 42.0

    def failing(entity: dict[str, Any]) -> dict[str, Any]:
        raise error

    mag.create_order = failing  # type: ignore[method-assign]
    # When the writer tries
    with pytest.raises(RetryableError):
        write_order(_msg(), ports)
    # Then the lease is held a full lease longer when the outcome is unknown, and freed at once otherwise
    binder = ports.binder
    assert isinstance(binder, FakeBinder)
    assert binder.released == [("SO/SOT00024", 42.0 if held else 0.0)]
    assert ("may still commit it" in rows[-1].message) is held
