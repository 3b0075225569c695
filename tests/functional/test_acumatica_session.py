"""The Acumatica client's licence seat through a session's life, against the Acumatica simulator: a logout that
fails is tried again; a session that cannot be closed stays the container's (its seat taken, nobody logs in over
it) and the next invocation works in it and closes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from acumatica_sessions_support import CREDS, ENDPOINT

from acumatica_sim import AcumaticaSimulator
from amsync.adapters.acumatica import AcumaticaClient
from amsync.adapters.errors import RateLimited
from amsync.composition import _Seats
from amsync.data.seats import NoSeat, SeatPool


@pytest.fixture(scope="module")
def acu(acu_sim: AcumaticaSimulator) -> AcumaticaSimulator:
    return acu_sim

def _client(acu: AcumaticaSimulator, pool: SeatPool, creds: dict[str, Any] | None = None) -> AcumaticaClient:
    secret = json.loads(json.dumps(creds or CREDS))
    return AcumaticaClient(acu.url, ENDPOINT, credentials=lambda: secret, seats=_Seats(pool), keep_session=False,
                           timeout=2.0)


def _pool(rt: Any, seats: int = 1) -> SeatPool:
    return SeatPool(rt.functions["OrderSyncFunction"].env["BINDINGS_TABLE"], seats, lease_s=60.0)


@pytest.mark.parametrize("creds", [CREDS, {k: v for k, v in CREDS.items() if not k.startswith("client")}],
                         ids=["oauth", "cookie"])
def test_a_logout_refused_once_is_tried_again_and_the_seat_given_back(
        bare_runtime: Any, acu: AcumaticaSimulator, creds: dict[str, Any]) -> None:
    acu.faults.clear()
    acu.set_limits(max_sessions=1)
    pool = _pool(bare_runtime)
    client = _client(acu, pool, creds)
    client.ship_vias()
    assert acu.sessions.active() == 1 and pool.held == 0
    # Given Acumatica answers the first logout / revocation with 503
    acu.faults.add({"path": r"^/(entity/auth/logout|identity/connect/revocation)$", "error_rate": 1.0,
                    "error_status": 503, "remaining": 1})
    # When the invocation ends
    client.end_invocation()
    # Then the session is closed on the second try and the seat is free for the next container
    assert acu.sessions.active() == 0 and pool.held is None
    other = _pool(bare_runtime)
    assert other.acquire() == 0
    other.release()


def test_a_session_that_cannot_be_closed_keeps_its_seat_and_is_closed_by_the_next_invocation(
        bare_runtime: Any, acu: AcumaticaSimulator) -> None:
    acu.faults.clear()
    acu.set_limits(max_sessions=1)
    pool = _pool(bare_runtime)
    client = _client(acu, pool)
    client.ship_vias()
    logins = acu.sessions.counters.logins
    # Given Acumatica refuses every revocation while the invocation ends
    acu.faults.add({"path": r"^/identity/connect/revocation$", "error_rate": 1.0, "error_status": 503})
    client.end_invocation()
    acu.faults.clear()
    # Then Acumatica still counts the session, and so does the seat pool: no other container logs in over it
    assert acu.sessions.active() == 1 and pool.held == 0
    with pytest.raises(NoSeat):
        _pool(bare_runtime).acquire()
    late = _client(acu, _pool(bare_runtime))
    with pytest.raises(RateLimited):
        late._ensure_session()  # what every call does first (the call itself would retry after Retry-After)
    assert acu.sessions.active() == 1  # nobody went past the licence
    # When the container's next invocation comes, it works in the session it kept (no new login)
    client.ship_vias()
    assert acu.sessions.counters.logins == logins
    # and its end closes the session and gives the seat back
    client.end_invocation()
    assert acu.sessions.active() == 0 and pool.held is None
    assert late.ship_vias()
    late.end_invocation()
    acu.reset()
