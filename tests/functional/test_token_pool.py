"""The licence's Acumatica sessions as a pool every container borrows (policy ``pool``), against the local AWS (KMS
and DynamoDB under the IAM gate) and the Acumatica simulator (its licence and OAuth grants).

What must hold: never more sessions than the pool's slots (a borrow is a conditional write, not a login); a
container's Acumatica calls borrow a session and its Magento calls lend it back; a grant renewed by one container
is what the next one uses (a refresh token is single-use); the tokens never sit in DynamoDB in the clear.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest
from acumatica_sessions_support import CREDS, ENDPOINT

from acumatica_sim import AcumaticaSimulator
from acumatica_sim import config as acu_config
from amsync.adapters.acumatica import AcumaticaClient
from amsync.adapters.errors import AuthError, RateLimited, TransportError
from amsync.composition import _Lender
from amsync.config import Settings
from amsync.data.seats import NoSeat
from amsync.data.tokens import TokenPool
from amsync.models.acumatica import PooledToken


@pytest.fixture(scope="module")
def acu(acu_sim: AcumaticaSimulator) -> AcumaticaSimulator:
    return acu_sim

@pytest.fixture()
def fresh(acu: AcumaticaSimulator) -> AcumaticaSimulator:
    acu.reset()
    acu.faults.clear()
    acu.sessions.counters = type(acu.sessions.counters)()  # reset() keeps the counters
    return acu


def _settings(rt: Any, seats: int) -> Settings:
    env = dict(rt.functions["OrderSyncFunction"].env)
    env.update(ACUMATICA_MAX_SESSIONS=str(seats), ACUMATICA_SESSION_POLICY="pool", ACUMATICA_SEAT_WAIT_S="0")
    return Settings.from_env(env)


def _clear_slots(settings: Settings) -> Settings:
    """The slots are keyed by number in the module's runtime: each test starts with empty ones."""
    ddb = boto3.client("dynamodb")
    for n in range(8):
        ddb.delete_item(TableName=settings.bindings_table,
                        Key={"pk": {"S": f"token#acumatica#{n}"}, "sk": {"S": "token"}})
    return settings


def _client(acu: AcumaticaSimulator, settings: Settings, creds: dict[str, Any] | None = None) -> AcumaticaClient:
    secret = json.loads(json.dumps(creds or CREDS))
    return AcumaticaClient(acu.url, ENDPOINT, credentials=lambda: secret, timeout=2.0,
                           lender=_Lender(settings, None, lambda: secret))


@pytest.fixture()
def settings(bare_runtime: Any) -> Settings:
    return _clear_slots(_settings(bare_runtime, seats=1))


def test_containers_share_one_session_without_logging_in_again(fresh: AcumaticaSimulator,
                                                               settings: Settings) -> None:
    # Given a licence of one API session and three containers of different functions
    fresh.set_limits(max_sessions=1)
    a, b, c = (_client(fresh, settings) for _ in range(3))
    # When each makes its Acumatica calls in turn, lending the session back at the end of its invocation
    for client in (a, b, c, a, b, c):
        assert client.ship_vias()
        client.end_invocation()
    # Then Acumatica saw one grant: one login for six invocations, and the session stays open for the next
    snap = fresh.sessions.snapshot()
    assert snap["logins"] == 1 and snap["login_limit_rejections"] == 0 and snap["active_sessions"] == 1


def test_a_container_waits_while_the_only_session_is_lent_and_gets_it_once_given_back(
        fresh: AcumaticaSimulator, settings: Settings) -> None:
    fresh.set_limits(max_sessions=1)
    a, b = _client(fresh, settings), _client(fresh, settings)
    a.ship_vias()  # a holds the session through its Acumatica calls
    # Then b cannot borrow it (no wait allowed here): its record backs off, nobody logs in past the licence
    with pytest.raises(RateLimited):
        b.ship_vias()
    assert fresh.sessions.snapshot()["login_limit_rejections"] == 0
    # When a turns to Magento (composition lends the session back before each Magento call)
    a.lend_back()
    # Then b works in the same session
    assert b.ship_vias()
    assert fresh.sessions.snapshot()["logins"] == 1
    b.end_invocation()


def test_magento_calls_lend_the_session_back_once_another_container_waits(
        bare_runtime: Any, fresh: AcumaticaSimulator, settings: Settings) -> None:
    from amsync.composition import api_clients

    fresh.set_limits(max_sessions=1)
    env = dict(bare_runtime.functions["OrderSyncFunction"].env)
    env.update(ACUMATICA_URL=fresh.url, ACUMATICA_ENDPOINT=ENDPOINT, ACUMATICA_MAX_SESSIONS="1",
               ACUMATICA_SESSION_POLICY="pool", ACUMATICA_SEAT_WAIT_S="0", MAGENTO_URL="http://127.0.0.1:9")
    acumatica, magento = api_clients(Settings.from_env(env))
    acumatica._credentials = lambda: CREDS
    acumatica._lender.credentials = lambda: CREDS  # type: ignore[union-attr]
    hook = magento.before_call
    assert hook is not None
    held_at_magento: list[bool] = []
    magento.before_call = lambda: (hook(), held_at_magento.append(acumatica._lent is not None))[0]

    def magento_call() -> None:
        with pytest.raises(TransportError):  # nothing listens on the Magento URL: the call fails after the hook
            magento.get("store/storeConfigs", "store configs")

    other = _client(fresh, settings)
    # Given nobody waits for a session: the container keeps the one it borrowed through its Magento calls (two
    # writes an invocation)
    acumatica.ship_vias()
    magento_call()
    assert held_at_magento[-1] is True
    # When another container finds every session lent, it marks them wanted and its record backs off
    with pytest.raises(RateLimited):
        other.ship_vias()
    acumatica.end_invocation()
    # Then the holder sees the mark when it next borrows, and lends the session back before its Magento calls
    acumatica.ship_vias()
    magento_call()
    assert held_at_magento[-1] is False
    # so the other container works in it while this one waits on Magento
    assert other.ship_vias()
    other.end_invocation()
    assert fresh.sessions.snapshot()["logins"] == 1


def test_a_grant_renewed_by_one_container_is_the_one_the_next_uses(fresh: AcumaticaSimulator,
                                                                   settings: Settings) -> None:
    fresh.set_limits(max_sessions=1)
    a, b = _client(fresh, settings), _client(fresh, settings)
    a.ship_vias()
    a.end_invocation()
    # Given the access token is about to run out (the simulator's clock 100 s before the token's hour, and the
    # slot's expiry a minute away)
    fresh.clock.advance(3500)
    pool = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key)
    near = pool.borrow()
    pool.keep(replace(near, expires_at=time.time() + 60))
    pool.give_back()
    # When a container borrows the session, it renews the grant with the refresh token (the same session)
    b.ship_vias()
    b.end_invocation()
    renewed = pool.borrow()
    pool.give_back()
    assert renewed.access_token != near.access_token and renewed.refresh_token != near.refresh_token
    # and the other container, which last saw the old tokens (no longer valid: Acumatica replaced both), works
    # with the renewed ones: no second grant, which the one-session licence would have refused
    a.ship_vias()
    a.end_invocation()
    snap = fresh.sessions.snapshot()
    assert snap["logins"] == 1 and snap["login_limit_rejections"] == 0


def test_a_refused_token_is_renewed_in_the_same_slot(fresh: AcumaticaSimulator, settings: Settings) -> None:
    fresh.set_limits(max_sessions=1)
    a = _client(fresh, settings)
    a.ship_vias()
    a.end_invocation()
    # Given Acumatica ended the session (an administrator signed the user out)
    for s in list(fresh.sessions.sessions.values()):
        fresh.sessions.sessions.pop(s.sid)
    # Then the next call's 401 renews the grant in the same slot and the call goes through
    assert a.ship_vias()
    a.end_invocation()
    assert fresh.sessions.snapshot()["active_sessions"] == 1


def test_a_login_limit_on_a_new_grant_backs_the_record_off_and_frees_the_slot(
        fresh: AcumaticaSimulator, settings: Settings) -> None:
    # Given someone else holds the licence's only session
    fresh.set_limits(max_sessions=1)
    person = httpx.post(f"{fresh.url}/entity/auth/login", json={"name": acu_config.ADMIN_USERNAME,
                                                                "password": acu_config.ADMIN_PASSWORD})
    assert person.status_code == 204
    a = _client(fresh, settings)
    # Then the grant is refused for the licence: the record backs off (RateLimited), the slot is lent back
    with pytest.raises(RateLimited):
        a.ship_vias()
    assert a._lent is None
    b = _client(fresh, settings)
    fresh.sessions.logout(next(iter(fresh.sessions.sessions.values())))
    assert b.ship_vias()  # and another container takes the slot once the licence has room
    b.end_invocation()


def test_the_pool_needs_an_oauth_client(fresh: AcumaticaSimulator, settings: Settings) -> None:
    cookie_only = {k: v for k, v in CREDS.items() if not k.startswith("client")}
    client = _client(fresh, settings, cookie_only)
    with pytest.raises(AuthError, match="client_id"):
        client.ship_vias()


def test_tokens_are_sealed_in_dynamodb_and_decrypted_only_when_renewed(settings: Settings) -> None:
    a = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key)
    b = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key)
    token = a.borrow()
    assert token == PooledToken(0)  # an empty slot
    a.keep(PooledToken(0, "access-secret-1", "refresh-secret-1", 1e10))
    a.give_back()
    raw = boto3.client("dynamodb").get_item(TableName=settings.bindings_table,
                                            Key={"pk": {"S": "token#acumatica#0"}, "sk": {"S": "token"}})["Item"]
    assert "secret-1" not in json.dumps({k: str(v) for k, v in raw.items()})
    # b decrypts the slot once, then reuses what it decrypted while nobody renews it
    assert b.borrow().access_token == "access-secret-1"
    b.give_back()
    kms_calls: list[str] = []
    original = b._tokens

    def counting(n: int, item: dict[str, Any]) -> PooledToken:
        before = dict(b._seen)
        out = original(n, item)
        if before.get(n) != b._seen.get(n):
            kms_calls.append("decrypt")
        return out
    b._tokens = counting  # type: ignore[method-assign]
    assert b.borrow().access_token == "access-secret-1"
    b.give_back()
    assert kms_calls == []
    # and a renewal by another container is seen
    a.borrow()
    a.keep(PooledToken(0, "access-secret-2", "refresh-secret-2", 1e10))
    a.give_back()
    assert b.borrow().access_token == "access-secret-2" and kms_calls == ["decrypt"]
    b.give_back()


def test_a_slot_is_never_lent_twice_and_a_crashed_borrower_s_lease_runs_out(settings: Settings) -> None:
    a = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key, lease_s=0.5)
    b = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key, wait_s=0.0)
    a.borrow()
    with pytest.raises(NoSeat):
        b.borrow()
    # a crashes without giving back: after its lease the slot is b's (the tokens stay valid for it)
    waiter = TokenPool(settings.bindings_table, 1, settings.acumatica_token_key, wait_s=3.0)
    assert waiter.borrow().slot == 0
    a.give_back()  # the late give-back of the crashed borrower does not free the slot from its new holder
    with pytest.raises(NoSeat):
        b.borrow()
    waiter.give_back()
    assert b.borrow().slot == 0
    b.give_back()


def test_a_slot_holding_a_session_is_lent_before_an_empty_one(settings: Settings) -> None:
    # Given a pool of four slots of which one holds a session
    a = TokenPool(settings.bindings_table, 4, settings.acumatica_token_key)
    slot = a.borrow().slot
    a.keep(PooledToken(slot, "access", "refresh", 1e10))
    a.give_back()
    # Then containers that never borrowed before get that slot, not an empty one (no new session opened)
    for _ in range(6):
        newcomer = TokenPool(settings.bindings_table, 4, settings.acumatica_token_key)
        assert newcomer.borrow() == PooledToken(slot, "access", "refresh", 1e10)
        newcomer.give_back()
    # and an empty slot is taken only while that one is lent
    a.borrow()
    other = TokenPool(settings.bindings_table, 4, settings.acumatica_token_key)
    assert other.borrow().slot != slot
    other.give_back()
    a.give_back()
