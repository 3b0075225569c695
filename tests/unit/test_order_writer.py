"""The Magento writer's exactly-once rules with in-memory fakes (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from amsync.adapters.errors import FatalError, RateLimited, RetryableError, ServerError, TransportError
from amsync.models.acumatica import SalesOrderState
from amsync.models.log import LogEntry
from amsync.models.magento import MagentoOrderSummary
from amsync.models.messages import MagentoOrderWrite
from amsync.services.exporting import AlreadyBound, Binding, LeaseLost
from amsync.services.order_writer import WriterPorts, write_order


class FakeMagento:
    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.searches = 0

    def orders_by_ext_id(self, ext_order_id: str) -> list[dict[str, Any]]:
        self.searches += 1
        return [o for o in self.orders if o["ext_order_id"] == ext_order_id]

    def find_orders(self, ext_order_id: str) -> list[MagentoOrderSummary]:
        return [MagentoOrderSummary.from_api(o) for o in self.orders_by_ext_id(ext_order_id)]

    def create_order(self, entity: dict[str, Any]) -> MagentoOrderSummary:
        number = entity.get("increment_id") or f"{995 + len(self.orders):09d}"
        if any(o["increment_id"] == number and o.get("store_id") == entity.get("store_id") for o in self.orders):
            raise FatalError("magento", "create order", "Unique constraint violation found", status=400)
        order = {**entity, "entity_id": 1093 + len(self.orders), "increment_id": number}
        self.orders.append(order)
        return MagentoOrderSummary.from_api(order)

    def save_order_items(self, entity: dict[str, Any]) -> None:
        raise AssertionError("these orders have no child items to link")


class FakeAcumatica:
    def __init__(self) -> None:
        self.written: list[tuple[str, str, str]] = []
        self.status, self.hold = "Open", False  # the order as it is in Acumatica now
        self.reads = 0

    def write_back_external_ref(self, order_type: str, order_nbr: str, value: str) -> SalesOrderState:
        self.written.append((order_type, order_nbr, value))
        return SalesOrderState(order_type=order_type, order_nbr=order_nbr, status=self.status, hold=self.hold,
                               last_modified="2026-11-29T12:00:00+00:00")

    def sales_order_state(self, order_type: str, order_nbr: str) -> SalesOrderState:
        self.reads += 1
        return SalesOrderState(order_type=order_type, order_nbr=order_nbr, status=self.status, hold=self.hold)


class FakeBinder:
    """The binder's conditional writes, in memory: fenced binds and releases, as data/bindings.py does them."""

    def __init__(self) -> None:
        self.items: dict[str, Binding] = {}
        self.released: list[tuple[str, float]] = []
        self.tokens = 0

    def get(self, kind: str, key: str) -> Binding | None:
        return self.items.get(f"{kind}#{key}")

    def mark_creating(self, kind: str, key: str, lease_s: float = 60.0) -> Binding:
        existing = self.get(kind, key)
        if existing is not None and existing.state == "bound":
            raise AlreadyBound(existing)
        self.tokens += 1
        b = Binding(kind, key, None, None, "creating", 0, {}, lease=f"lease-{self.tokens}",
                    first_attempt=existing is None)  # a lease given back leaves its item (data/bindings.py)
        self.items[f"{kind}#{key}"] = b
        return b

    def release_creating(self, kind: str, key: str, hold_s: float = 0.0, lease: str | None = None) -> None:
        current = self.get(kind, key)
        if current is not None and current.state == "creating" and lease in (None, current.lease):
            self.released.append((key, hold_s))

    def bind(self, kind: str, key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None, lease: str | None = None) -> Binding:
        current = self.get(kind, key)
        if current is not None and current.magento_entity_id != entity_id:
            if current.state == "bound":
                raise AlreadyBound(current)
            if lease is not None and current.lease != lease:
                raise LeaseLost(current)
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


def _msg(write_back: bool = True, order_type: str = "SO", increment_id: str | None = None,
         status: str = "Open", unclaimed: bool = False) -> MagentoOrderWrite:
    from amsync.services.order_identity import ext_order_id

    payload: dict[str, Any] = {"ext_order_id": ext_order_id(order_type, "SOT00024"), "store_id": 1, "grand_total": 40}
    if increment_id:
        payload["increment_id"] = increment_id
    return MagentoOrderWrite.build(payload, order_key=f"{order_type}/SOT00024", order_nbr="SOT00024",
                                   action="create", acumatica_status=status, correlation_id=f"{order_type}/SOT00024",
                                   write_back=write_back, unclaimed=unclaimed)


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


def test_the_first_attempt_at_an_unclaimed_order_creates_without_a_search() -> None:
    # Given an order nothing claims (empty ExternalRef) and no attempt before this one
    ports, mag, acu, rows = _ports()
    # When it is written
    assert write_order(_msg(unclaimed=True), ports) == "created"
    # Then Magento saw the create alone: no search in the create's path
    assert mag.searches == 0 and len(mag.orders) == 1


def test_a_later_attempt_at_an_unclaimed_order_searches_and_finds_what_an_earlier_one_committed() -> None:
    # Given an attempt that committed in Magento, lost its answer and gave its lease back
    ports, mag, acu, rows = _ports()
    lease = ports.binder.mark_creating("order", "SO/SOT00024").lease
    mag.create_order({"ext_order_id": "SOT00024", "store_id": 1})
    ports.binder.release_creating("order", "SO/SOT00024", lease=lease)
    # When the next attempt runs
    assert write_order(_msg(unclaimed=True), ports) == "recovered"
    # Then it searched, found the order and bound it: still one order
    assert mag.searches == 1 and len(mag.orders) == 1


def test_the_first_attempt_at_a_claimed_order_searches_and_finds_an_earlier_connectors_order() -> None:
    # Given an order an earlier connector created in Magento (the Acumatica order carries its ExternalRef)
    ports, mag, acu, rows = _ports()
    mag.create_order({"ext_order_id": "SOT00024", "store_id": 1})
    # When this connector's first attempt runs
    assert write_order(_msg(unclaimed=False), ports) == "recovered"
    # Then the search found it: bound, not created again
    assert mag.searches == 1 and len(mag.orders) == 1


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


# ------------------------------------------------------------------ issue 13: the holes, each with its test


def test_two_order_types_sharing_a_number_become_two_magento_orders() -> None:
    # Given SO SOT00024 synced
    ports, mag, acu, rows = _ports()
    assert write_order(_msg(), ports) == "created"
    # When ST SOT00024 (another synced order type, same number) is written
    assert write_order(_msg(order_type="ST"), ports) == "created"
    # Then it is a Magento order of its own, not SO's bound to it; ext_order_id keeps SO's bare number
    assert [o["ext_order_id"] for o in mag.orders] == ["SOT00024", "ST/SOT00024"]
    so, st = ports.binder.get("order", "SO/SOT00024"), ports.binder.get("order", "ST/SOT00024")
    assert so is not None and st is not None and so.magento_entity_id != st.magento_entity_id


def test_with_acumatica_numbering_magentos_refusal_of_a_second_create_is_recognised_and_bound() -> None:
    # Given Acumatica numbering, and a create Magento committed after the writer's hold (nobody bound it)
    ports, mag, acu, rows = _ports()
    mag.create_order({"ext_order_id": "SOT00024", "store_id": 1, "increment_id": "SOT00024"})
    hidden = mag.orders_by_ext_id
    mag.orders_by_ext_id = lambda ext: []  # type: ignore[method-assign]  # the lookup ran before the commit landed
    calls = {"n": 0}

    def lookup(ext: str) -> list[dict[str, Any]]:
        calls["n"] += 1
        return [] if calls["n"] == 1 else hidden(ext)
    mag.orders_by_ext_id = lookup  # type: ignore[method-assign]
    # When the writer creates again: Magento refuses the taken increment_id
    assert write_order(_msg(increment_id="SOT00024"), ports) == "recovered"
    # Then the late order is bound, no second one exists, and the row says why
    assert len(mag.orders) == 1
    binding = ports.binder.get("order", "SO/SOT00024")
    assert binding is not None and binding.magento_entity_id == 1093 and binding.state == "bound"
    assert "committed late" in rows[-1].message


def test_an_increment_id_taken_by_someone_elses_order_is_a_failure_naming_the_prefix() -> None:
    ports, mag, acu, rows = _ports()
    mag.create_order({"ext_order_id": None, "store_id": 1, "increment_id": "SOT00024"})  # a storefront order
    assert write_order(_msg(increment_id="SOT00024"), ports) == "refused"
    assert "increment_id_prefixes" in rows[-1].message and len(mag.orders) == 1
    assert ports.binder.get("order", "SO/SOT00024").state == "creating"  # type: ignore[union-attr]
    assert ports.binder.released == [("SO/SOT00024", 0.0)]  # released: a resync after the fix may go at once


def test_a_lookup_that_fails_gives_the_lease_back_at_once() -> None:
    ports, mag, acu, rows = _ports()

    def down(ext: str) -> list[dict[str, Any]]:
        raise ServerError("magento", "search orders", "Service Unavailable", status=503)
    mag.orders_by_ext_id = down  # type: ignore[method-assign]
    with pytest.raises(ServerError):
        write_order(_msg(), ports)
    assert ports.binder.released == [("SO/SOT00024", 0.0)]  # nothing was created: the next try need not wait


def test_a_bind_that_fails_gives_the_lease_back_and_the_next_attempt_finds_the_order() -> None:
    ports, mag, acu, rows = _ports()
    binder = ports.binder
    assert isinstance(binder, FakeBinder)
    real_bind = binder.bind

    def flaky(*args: Any, **kwargs: Any) -> Binding:
        binder.bind = real_bind  # type: ignore[method-assign]
        raise RuntimeError("ProvisionedThroughputExceededException")
    binder.bind = flaky  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        write_order(_msg(), ports)
    assert binder.released == [("SO/SOT00024", 0.0)]
    assert write_order(_msg(), ports) == "recovered" and len(mag.orders) == 1


def test_a_writer_whose_lease_was_taken_over_does_not_bind_and_reports_its_order_as_a_double() -> None:
    # Given a writer that took the lease, then was so slow that its lease expired and another writer took it over
    ports, mag, acu, rows = _ports()
    binder = ports.binder
    assert isinstance(binder, FakeBinder)
    doubles: list[int] = []
    ports.on_double = lambda: doubles.append(1)
    real_create = mag.create_order

    def slow_create(entity: dict[str, Any]) -> dict[str, Any]:
        binder.mark_creating("order", "SO/SOT00024")  # the takeover: a new lease, a new token
        return real_create(entity)
    mag.create_order = slow_create  # type: ignore[method-assign]
    # When the slow writer's create returns and it binds with its old token
    assert write_order(_msg(), ports) == "lost-lease"
    # Then its order is not bound (the new lease holder's will be), and a Failure row and the metric name the double
    assert binder.get("order", "SO/SOT00024").state == "creating"  # type: ignore[union-attr]
    assert doubles == [1] and "second order" in rows[-1].message and rows[-1].result.value == "Failure"


def test_a_hold_made_while_the_create_was_in_flight_is_followed_after_the_bind_without_write_back() -> None:
    # Given write-back off (no echo push) and the order put on hold in Acumatica after order sync read it
    ports, mag, acu, rows = _ports()
    acu.hold, acu.status = True, "On Hold"
    followed: list[tuple[str, Binding]] = []
    ports.on_update = lambda msg, binding: followed.append((msg.acumatica_status, binding))
    # When the writer creates and binds
    assert write_order(_msg(write_back=False), ports) == "created"
    # Then the current state is read and the hold followed, from the state the order was created in
    assert acu.reads == 1 and [s for s, _ in followed] == ["On Hold"]
    assert followed[0][1].extra["x_status_synced"] == "Open"


def test_an_unchanged_order_costs_no_extra_read_when_the_write_back_answered() -> None:
    ports, mag, acu, rows = _ports()
    followed: list[str] = []
    ports.on_update = lambda msg, binding: followed.append(msg.acumatica_status)
    assert write_order(_msg(), ports) == "created"
    assert acu.reads == 0 and followed == []  # the write-back's answer carried the status


def test_a_create_request_for_a_bound_order_whose_status_changed_is_followed() -> None:
    ports, mag, acu, rows = _ports()
    followed: list[str] = []
    ports.on_update = lambda msg, binding: followed.append(msg.acumatica_status)
    assert write_order(_msg(), ports) == "created"
    # a second create forwarded before the bind, read after a cancel
    assert write_order(_msg(status="Canceled"), ports) == "updated"
    assert followed == ["Canceled"]
