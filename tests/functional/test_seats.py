"""Acumatica licence seats shared by every container: never more sessions than the licence gives.

Leases are moved through time by a clock the test holds (``Clock``), not by sleeping: "not yet expired" and
"expired" are then exact instants, on a loaded machine too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from amsync.data import seats
from amsync.data.seats import NoSeat, SeatPool


class Clock:
    """The wall clock the seat leases are written and read with, moved by the test; monotonic time and naps stay
    real (they only pace a waiter)."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(seats, "time", c)
    return c


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


def test_a_seat_whose_holder_died_is_taken_over_after_its_lease(bare_runtime: Any, clock: Clock) -> None:
    dead, alive = _pool(bare_runtime, 1, lease_s=30), _pool(bare_runtime, 1)
    dead.acquire()  # and never releases it
    with pytest.raises(NoSeat):
        alive.acquire()
    # the lease holds to its last moment
    clock.advance(29)
    with pytest.raises(NoSeat):
        alive.acquire()
    # and is taken over once it is over
    clock.advance(2)
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
    refused = threading.Event()
    try_acquire = waiter._try_acquire

    def attempt() -> int:
        try:
            return try_acquire()
        except NoSeat:
            refused.set()
            raise

    waiter._try_acquire = attempt  # type: ignore[method-assign]
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(waiter.acquire()))
    thread.start()
    # When the holder gives it back once the waiter has been refused (it is waiting, not failed)
    assert refused.wait(timeout=5)
    assert thread.is_alive() and got == []
    holder.release()
    thread.join(timeout=5)
    # Then the waiter has it, without failing its work first
    assert got == [0] and waiter.held == 0
    waiter.release()


def test_a_seat_whose_session_could_not_be_closed_stays_taken_until_the_session_expires(
        bare_runtime: Any, clock: Clock) -> None:
    # Given a container whose logout failed: Acumatica still counts its session for a while
    stuck = _pool(bare_runtime, 1, lease_s=20)
    stuck.acquire()
    stuck.hold_until(session_left_s=600)
    # Then the seat is not handed out before the session's end, even well past the original lease
    clock.advance(590)
    with pytest.raises(NoSeat):
        _pool(bare_runtime, 1).acquire()
    # and the container keeps it (its next invocation uses the session and gives the seat back when it closes)
    assert stuck.held == 0
    # If that invocation never comes, the seat is free once the session has expired
    clock.advance(11)
    late = _pool(bare_runtime, 1)
    assert late.acquire() == 0
    # and the container that lost it no longer claims it
    stuck.hold_until(session_left_s=600)
    assert stuck.held is None
    late.release()
