"""Exactly once when the timing is adversarial: Magento commits a create long after every hold, an order changes
while its create is in flight with no write-back echo. Delays are set past the holds, so the faults bite."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from world_support import WorldDriver

from amsync.models.messages import MagentoOrderWrite
from amsync.models.settings import OrderSyncPreferences
from amsync_local.walkthrough import wrap
from amsync_local.world import LocalWorld, WorldOptions

HTTP_TIMEOUT_S = 1.0
LEASE_S = 5.0  # CreateLeaseSeconds' minimum: the hold after a create in doubt
LATE_COMMIT_S = HTTP_TIMEOUT_S + 2.5 * LEASE_S  # Magento commits the first create 2.5 holds after the writer gave up


class Timing(WorldDriver):
    def prefs(self, **changes: Any) -> None:
        prefs = self.store.order_sync(fresh=True).model_copy(update=changes)
        self.store.put_preferences("order-sync", OrderSyncPreferences.model_validate(prefs.model_dump()))
        for fn in self.runtime.functions.values():  # every warm container sees it now, not after its cache expires
            for module in fn.modules:
                ports = getattr(module, "ports", None)
                for holder in (ports, getattr(ports, "settings", None)):
                    if hasattr(holder, "invalidate"):
                        holder.invalidate()

    def writer_ports(self) -> Any:
        return self.runtime.functions["MagentoWriterFunction"].module.ports

    def set_hold(self, nbr: str, hold: bool) -> None:
        body = wrap({"OrderType": "SO", "OrderNbr": nbr, "Hold": hold})
        self.acu._ok(self.acu.http.put(f"{self.acu.base}/SalesOrder", json=body))


@pytest.fixture(scope="module")
def t() -> Iterator[Timing]:
    opts = WorldOptions(start_schedules=False, stack_name=f"amsync-timing-{uuid.uuid4().hex[:6]}",
                        http_timeout_s=HTTP_TIMEOUT_S, create_lease_s=LEASE_S, magento_hang_s=LATE_COMMIT_S + 5)
    with LocalWorld(opts) as world:
        yield Timing(world)


def _write_until_done(msg: MagentoOrderWrite, ports: Any, within_s: float) -> str:
    """The writer's retries, as SQS would bring the record back: until an outcome, through every hold."""
    from amsync.adapters.errors import RetryableError
    from amsync.services.exporting import NotReady
    from amsync.services.order_writer import write_order

    deadline = time.monotonic() + within_s
    while True:
        try:
            return write_order(msg, ports)
        except (NotReady, RetryableError):
            assert time.monotonic() < deadline, "the writer never got past the hold"
            time.sleep(0.5)


def _create_with_a_late_first_commit(t: Timing, msg: MagentoOrderWrite) -> None:
    """Magento holds the writer's first create and commits it 2.5 holds after the writer gave up on it; meanwhile
    the writer waits out its hold, looks up (nothing yet) and creates again. Returns once the first create landed."""
    t.world.magento.faults.add({"path": r"/orders/create$", "latency_ms": LATE_COMMIT_S * 1000, "remaining": 1})
    started = time.monotonic()
    assert _write_until_done(msg, t.writer_ports(), within_s=LEASE_S * 3) == "created"
    time.sleep(max(0.0, started + LATE_COMMIT_S + 1 - time.monotonic()))
    assert not t.world.magento.faults.in_progress


def test_acumatica_numbering_a_create_committing_long_after_the_hold_is_refused_by_magento_itself(t: Timing) -> None:
    # Given Acumatica numbering, an eligible order, and Magento committing its first create 2.5 holds after the
    # writer gave up on it (long past the lease hold, when the writer has created again)
    t.prefs(magento_numbering="acumatica")
    try:
        nbr = t.acu.create_order(ship_via=t.ship_via)
        t.settle()
        msg = t.captured_create(lambda: t.acu.record_payment(nbr))
        assert msg.payload["increment_id"] == nbr
        # When the writer creates it again while its first create commits 2.5 holds late
        _create_with_a_late_first_commit(t, msg)
    finally:
        t.prefs(magento_numbering="magento")
    # Then Magento holds one order for it: the late commit was refused on its taken number
    orders = t.mag.orders_for(nbr)
    assert len(orders) == 1 and orders[0]["increment_id"] == nbr
    binding = t.writer_ports().binder.get("order", f"SO/{nbr}")
    assert binding.state == "bound" and binding.magento_entity_id == int(orders[0]["entity_id"])


def test_a_hold_made_while_the_create_is_in_flight_reaches_magento_without_a_write_back_echo(t: Timing) -> None:
    # Given write-back off (no echo push after the bind), and an order whose create order sync has forwarded
    t.prefs(write_back_field="none")
    try:
        nbr = t.acu.create_order(ship_via=t.ship_via)
        t.settle()
        msg = t.captured_create(lambda: t.acu.record_payment(nbr))
        # When the order is put on hold before the writer has bound it (its push finds no bound order: order
        # sync skips it, since On Hold is not a status that creates)
        t.set_hold(nbr, True)
        t.settle()
        assert any("On Hold" in r.message for r in t.log.timeline(nbr) if r.result and r.result.value == "Skipped")
        # and the writer then creates and binds it
        assert _write_until_done(msg, t.writer_ports(), within_s=30) == "created"
        t.settle()
    finally:
        t.prefs(write_back_field="ExternalRef")
    # Then the Magento order is on hold: the order's state after the bind was compared and followed
    orders = t.mag.orders_for(nbr)
    assert len(orders) == 1
    assert dict(t.world.magento.order(int(orders[0]["entity_id"])))["state"] == "holded"


def test_magento_numbering_a_create_committing_long_after_the_hold_is_cancelled_by_the_sweep(t: Timing) -> None:
    # Given Magento's own numbering (the default), an eligible order, and Magento committing its first create 2.5
    # holds after the writer gave up on it
    nbr = t.acu.create_order(ship_via=t.ship_via)
    t.settle()
    msg = t.captured_create(lambda: t.acu.record_payment(nbr))
    assert "increment_id" not in msg.payload
    # When the writer creates it again while its first create commits 2.5 holds late: a second order nobody binds
    _create_with_a_late_first_commit(t, msg)
    assert len(t.mag.orders_for(nbr)) == 2
    # When the reconciler's schedule fires
    t.runtime.fire_schedule("ReconcilerFunction")
    t.settle()
    # Then one live order remains, the bound one; the double is cancelled with a comment saying what it is
    binding = t.writer_ports().binder.get("order", f"SO/{nbr}")
    orders = {int(o["entity_id"]): dict(t.world.magento.order(int(o["entity_id"]))) for o in t.mag.orders_for(nbr)}
    live = [eid for eid, o in orders.items() if o["state"] != "canceled"]
    assert live == [binding.magento_entity_id]
    double = next(o for eid, o in orders.items() if eid != binding.magento_entity_id)
    assert any(f"a second Magento order for Acumatica SO {nbr}" in str(h.get("comment"))
               for h in double.get("status_histories") or [])
    failures = [r for r in t.log.timeline(nbr) if r.result and r.result.value == "Failure"
                and "second Magento order" in r.message]
    assert len(failures) == 1
