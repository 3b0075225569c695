"""Acumatica licence seats shared by every container: never more sessions than the licence gives."""

from __future__ import annotations

import threading
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


def test_a_waiting_container_gets_the_seat_as_soon_as_it_is_given_back(bare_runtime: Any) -> None:
    # Given the only seat held, and a container that may wait up to 5 s for one
    holder, waiter = _pool(bare_runtime, 1), _pool(bare_runtime, 1)
    waiter.wait_s = 5.0
    holder.acquire()
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(waiter.acquire()))
    thread.start()
    # When the holder gives it back a moment later
    time.sleep(0.3)
    holder.release()
    thread.join(timeout=5)
    # Then the waiter has it, without failing its work first
    assert got == [0] and waiter.held == 0
    waiter.release()


def test_a_seat_whose_session_could_not_be_closed_stays_taken_until_the_session_expires(bare_runtime: Any) -> None:
    # Given a container whose logout failed: Acumatica still counts its session for a while
    stuck = _pool(bare_runtime, 1, lease_s=0.2)
    stuck.acquire()
    stuck.hold_until(session_left_s=1.0)
    # Then the seat is not handed out before the session's end, even past the original lease
    time.sleep(0.4)
    with pytest.raises(NoSeat):
        _pool(bare_runtime, 1).acquire()
    # and the container keeps it (its next invocation uses the session and gives the seat back when it closes)
    assert stuck.held == 0
    # If that invocation never comes, the seat is free once the session has expired
    time.sleep(0.8)
    late = _pool(bare_runtime, 1)
    assert late.acquire() == 0
    # and the container that lost it no longer claims it
    stuck.hold_until(session_left_s=1.0)
    assert stuck.held is None
    late.release()
