"""Acumatica licence seats shared by every container: never more sessions than the licence gives."""

from __future__ import annotations

import time
from typing import Any

import pytest

from amsync.data.seats import NoSeat, SeatPool


def _pool(rt: Any, seats: int, lease_s: float = 60.0) -> SeatPool:
    return SeatPool(rt.functions["OrderSyncFunction"].env["BINDINGS_TABLE"], seats, lease_s)


def test_a_container_beyond_the_licence_waits_until_a_seat_is_given_back(bare_runtime: Any) -> None:
    # Given a licence of two seats held by two containers
    a, b, c = _pool(bare_runtime, 2), _pool(bare_runtime, 2), _pool(bare_runtime, 2)
    assert {a.acquire(), b.acquire()} == {0, 1}
    # Then a third container gets none
    with pytest.raises(NoSeat):
        c.acquire()
    # and a container asking again keeps the seat it holds
    assert a.acquire() == a.held
    # When one gives its seat back, the third gets it
    b.release()
    assert c.acquire() in (0, 1)
    a.release()
    c.release()


def test_a_seat_whose_holder_died_is_taken_over_after_its_lease(bare_runtime: Any) -> None:
    dead, alive = _pool(bare_runtime, 1, lease_s=0.5), _pool(bare_runtime, 1)
    dead.acquire()  # and never releases it
    with pytest.raises(NoSeat):
        alive.acquire()
    time.sleep(0.7)
    assert alive.acquire() == 0
    dead.release()  # a late release by the old holder does not free the new holder's seat
    with pytest.raises(NoSeat):
        _pool(bare_runtime, 1).acquire()
    alive.release()
