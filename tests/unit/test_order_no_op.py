"""Order sync drops a push about an order already in Magento that cannot change it, before reading Acumatica (the
binding's stamps decide); a push that may change it is never dropped. No I/O: order_sync's fake ports."""

from __future__ import annotations

from typing import Any

import pytest
from test_order_plan import Fakes, _record

from amsync.models.messages import Kind, SyncRequest
from amsync.services import order_sync
from amsync.services.exporting import Binding
from amsync.services.order_sync import bound_no_op, sync_order

WRITTEN_BACK = "2026-12-07T02:31:18.123+00:00"  # the write-back's answer (REST: with offset)
SYNCED = {"x_status_synced": "Open", "x_hold_synced": False, "x_total_synced": "40.00",
          "x_acumatica_modified": WRITTEN_BACK, "x_written_back": True}


class Counting(Fakes):
    reads = 0

    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]:
        self.reads += 1
        return super().sales_order(order_type, order_nbr)


def _push(hint: dict[str, Any], source: str = "push", deleted_only: bool = False) -> SyncRequest:
    return SyncRequest(kind=Kind.ORDER, key="SO/SOT00024", source=source, hint=hint, deleted_only=deleted_only,
                       correlation_id="SO/SOT00024")


def _bound(extra: dict[str, Any]) -> Counting:
    fakes = Counting(_record())
    fakes.bindings["order#SO/SOT00024"] = Binding("order", "SO/SOT00024", 1093, "000000995", "bound", 0.0, extra)
    return fakes


ROW = {"OrderType": "SO", "OrderID": "SOT00024", "Status": "Open", "OrderTotal": 40.0,
       "LastModifiedOn": "2026-12-07T02:40:00.5", "UnpaidBalance": 0.0}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    order_sync.clear_caches()


@pytest.mark.parametrize(("hint", "why"), [
    ({**ROW, "LastModifiedOn": "2026-12-07T02:31:18.123", "Status": "Shipping"}, "echo"),  # our write-back's echo
    ({"Type": "Payment", "ReferenceNbr": "AR1", "OrderNbr": "SOT00024", "Status": "Closed", "via": "payment"},
     "payment"),
    ({**ROW, "UnpaidBalance": 12.5}, "status 'Open' and total 40.00"),  # only columns Magento does not follow
    ({**{"Status ": "Open  ", "OrderTotal ": "40"}, "OrderID": "SOT00024"}, "status 'Open'"),  # padded names
])
def test_a_push_that_cannot_change_the_magento_order_is_dropped_without_reading_acumatica(
        hint: dict[str, Any], why: str) -> None:
    fakes = _bound(SYNCED)
    assert sync_order(_push(hint), fakes.ports()) == "unchanged"
    assert fakes.reads == 0 and fakes.writes == []  # nothing read, forwarded or logged
    assert why in str(bound_no_op(_push(hint), SYNCED))


@pytest.mark.parametrize(("hint", "source", "deleted_only", "extra"), [
    ({**ROW, "Status": "On Hold"}, "push", False, SYNCED),  # a status change
    ({**ROW, "Status": "Canceled"}, "push", False, SYNCED),
    ({**ROW, "OrderTotal": 44.0}, "push", False, SYNCED),  # a total change: reported as a divergence
    ({k: v for k, v in ROW.items() if k != "OrderTotal"}, "push", False, SYNCED),  # no total column: not known
    (ROW, "push", False, {k: v for k, v in SYNCED.items() if k != "x_total_synced"}),  # bound before the stamp
    (ROW, "push", True, SYNCED),  # a lone Deleted row: a re-read
    (ROW, "resync", False, SYNCED),  # an operator's resync, a replay, the reconciler: always followed
    (ROW, "reconciler", False, SYNCED),
    ({**ROW, "LastModifiedOn": "2026-12-07T02:31:18.124", "Status": "Shipping"}, "push", False, SYNCED),
    ({}, "push", False, SYNCED),
])
def test_a_push_that_may_change_the_magento_order_is_never_dropped(hint: dict[str, Any], source: str,
                                                                   deleted_only: bool, extra: dict[str, Any]) -> None:
    fakes = _bound(extra)
    assert sync_order(_push(hint, source, deleted_only), fakes.ports()) == "update"
    assert fakes.reads == 1 and [kind for kind, _ in fakes.writes] == ["forward"]


def test_an_order_not_in_magento_yet_is_always_read() -> None:
    fakes = Counting(_record())
    assert bound_no_op(_push({**ROW, "via": "payment"}), {}) is not None  # the rule alone would drop it...
    assert sync_order(_push({**ROW, "via": "payment"}), fakes.ports()) == "forwarded"  # ...but it is not bound
    assert fakes.reads == 1


def test_an_update_in_flight_counts_a_change_back_is_never_dropped() -> None:
    # Given an order in Magento as Open, put on hold in Acumatica: order sync forwards the update (not applied yet)
    fakes = _bound(SYNCED)
    fakes.record = {**_record(), "Status": {"value": "On Hold"}, "Hold": {"value": True}}
    assert sync_order(_push({**ROW, "Status": "On Hold"}), fakes.ports()) == "update"
    [(_, update)] = fakes.writes
    assert update.payload["order"] == fakes.record  # the writer follows the order as read: no second read
    # When it is taken off hold again before the writer followed the first change
    fakes.record = _record()
    back = _push({**ROW, "Status": "Open", "LastModifiedOn": "2026-12-07T02:41:00"})
    # Then the push back to Open is followed (Magento will be on hold once the first update is applied)
    assert sync_order(back, fakes.ports()) == "update" and fakes.reads == 2
    # and a push showing what was forwarded last is the no-op
    assert sync_order(_push({**ROW, "Status": "Open", "UnpaidBalance": 3}), fakes.ports()) == "unchanged"
    assert fakes.reads == 2


PAYMENT = {"Type": "Payment", "ReferenceNbr": "AR1", "OrderType": "SO", "OrderNbr": "SOT00024", "Status": "Closed",
           "LastModifiedOn": "2026-12-07T02:40:00.5", "via": "payment"}


def test_the_payment_push_and_order_push_of_one_transaction_read_the_order_once() -> None:
    # Given an order not in Magento: its order push is read and its create forwarded (the row's stamp noted)
    fakes = Counting(_record())
    assert sync_order(_push(ROW), fakes.ports()) == "forwarded" and fakes.reads == 1
    assert fakes.forwards["order#SO/SOT00024"]["modified"] == ROW["LastModifiedOn"]
    # When the payment push of the same transaction (same stamp) follows in the FIFO group
    # Then it is covered by that read: nothing read, nothing forwarded a second time
    assert sync_order(_push(PAYMENT), fakes.ports()) == "unchanged"
    assert fakes.reads == 1 and [kind for kind, _ in fakes.writes].count("forward") == 1


def test_a_later_change_the_read_already_showed_is_covered_by_the_read_stamp() -> None:
    # Given the first transaction's push handled after the second committed: the read shows the later change
    fakes = Counting({**_record(), "LastModified": {"value": "2026-12-07T02:40:01.25+00:00"}})
    assert sync_order(_push(ROW), fakes.ports()) == "forwarded"
    # Then the second transaction's pushes (stamped as the order read) need no read
    later = {**ROW, "LastModifiedOn": "2026-12-07T02:40:01.25"}
    assert sync_order(_push(later), fakes.ports()) == "unchanged"
    assert sync_order(_push({**PAYMENT, "LastModifiedOn": "2026-12-07T02:40:01.25"}), fakes.ports()) == "unchanged"
    # but a change stamped between the two, or after the read, is read
    for stamp in ("2026-12-07T02:40:01.1", "2026-12-07T02:40:01.3"):
        assert sync_order(_push({**ROW, "LastModifiedOn": stamp}), fakes.ports()) == "forwarded"
    assert fakes.reads == 3


def test_a_skipped_read_notes_nothing() -> None:
    # Given an unpaid order of a DEFAULT customer: its push is read and skipped
    fakes = Counting(_record())
    fakes.customer = lambda customer_id: {"CustomerID": {"value": customer_id},  # type: ignore[method-assign]
                                          "CustomerClass": {"value": "DEFAULT"}}
    assert sync_order(_push(ROW), fakes.ports()) == "skipped" and fakes.forwards == {}
    # the payment push of the same transaction is read (and skipped) again
    assert sync_order(_push(PAYMENT), fakes.ports()) == "skipped" and fakes.reads == 2


@pytest.mark.parametrize(("source", "hint", "deleted_only"), [
    ("push", {**PAYMENT, "LastModifiedOn": "2026-12-07T02:40:00.501"}, False),  # a later change: read
    ("push", {k: v for k, v in PAYMENT.items() if k != "LastModifiedOn"}, False),  # no stamp: not known
    ("push", PAYMENT, True),  # a lone Deleted row shows the order as it was
    ("resync", PAYMENT, False),  # a resync, replay or reconciler request is always read
])
def test_a_push_a_forwarded_create_did_not_cover_is_read(source: str, hint: dict[str, Any],
                                                          deleted_only: bool) -> None:
    fakes = Counting(_record())
    assert sync_order(_push(ROW), fakes.ports()) == "forwarded"
    assert sync_order(_push(hint, source, deleted_only), fakes.ports()) == "forwarded" and fakes.reads == 2


def test_a_failed_forward_notes_nothing_so_its_retry_reads_again() -> None:
    fakes = Counting(_record())
    ports = fakes.ports()

    def down(_: Any) -> None:
        raise RuntimeError("SQS down")
    ports.forward = down
    with pytest.raises(RuntimeError):
        sync_order(_push(ROW), ports)
    assert fakes.forwards == {}
    assert sync_order(_push(ROW), fakes.ports()) == "forwarded" and fakes.reads == 2
