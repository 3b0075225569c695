"""Auth: cookie login/logout, OAuth ROPC + refresh, expiry, the seat limit and 401s."""

from __future__ import annotations

import httpx
from acu_sim_helpers import BASE, login

from acumatica_sim import AcumaticaSimulator
from acumatica_sim.config import ADMIN_PASSWORD, ADMIN_USERNAME, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET


def _token(acu: AcumaticaSimulator, scope: str = "api offline_access") -> httpx.Response:
    return httpx.post(acu.url + "/identity/connect/token", data={
        "grant_type": "password", "client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET,
        "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "scope": scope})


def test_cookie_login_sets_session_cookies_and_grants_access(acu: AcumaticaSimulator) -> None:
    # Given a fresh simulator
    c = httpx.Client(base_url=acu.url)
    # When logging in with the seeded admin
    r = c.post("/entity/auth/login", json={"name": "admin", "password": "setup-admin-pw", "tenant": "Company"})
    # Then 204 with the ASP.NET cookies, and entity calls succeed with them
    assert r.status_code == 204
    assert {".ASPXAUTH", "ASP.NET_SessionId"} <= set(c.cookies.keys())
    assert c.get(f"{BASE}/StockItem/WATER2809").status_code == 200


def test_form_encoded_login_is_accepted(acu: AcumaticaSimulator) -> None:
    # Given / When a form-encoded login
    r = httpx.post(acu.url + "/entity/auth/login", data={"name": "admin", "password": "setup-admin-pw"})
    # Then it succeeds like the JSON one
    assert r.status_code == 204


def test_wrong_password_is_rejected_with_invalid_credentials(acu: AcumaticaSimulator) -> None:
    # Given / When logging in with a bad password
    r = httpx.post(acu.url + "/entity/auth/login", json={"name": "admin", "password": "nope"})
    # Then Acumatica's 500 PXException "Invalid credentials" body
    assert r.status_code == 500
    assert "Invalid credentials" in r.json()["exceptionMessage"]


def test_entity_call_without_auth_is_401(acu: AcumaticaSimulator) -> None:
    # Given no session / When calling an entity
    r = httpx.get(acu.url + f"{BASE}/SalesOrder")
    # Then 401
    assert r.status_code == 401


def test_seat_limit_gives_api_login_limit_and_logout_frees_a_seat(acu: AcumaticaSimulator) -> None:
    # Given the trial licence (2 seats) fully used
    a, b = login(acu.url), login(acu.url)
    # When a third client logs in
    r = httpx.post(acu.url + "/entity/auth/login", json={"name": "admin", "password": "setup-admin-pw"})
    # Then it fails with 429 "API Login Limit"
    assert r.status_code == 429 and r.json()["exceptionMessage"] == "API Login Limit"
    # When one client logs out
    assert a.post("/entity/auth/logout").status_code == 204
    # Then the seat is free again, and the logged-out cookies no longer work
    assert login(acu.url).get(f"{BASE}/Customer/AACUSTOMER").status_code == 200
    assert a.get(f"{BASE}/Customer/AACUSTOMER").status_code == 401
    assert acu.sessions.snapshot()["peak_sessions"] == 2
    b.close()


def test_idle_cookie_session_expires_after_ten_minutes(acu: AcumaticaSimulator) -> None:
    # Given a logged-in client
    c = login(acu.url)
    # When the clock passes the 10-minute idle timeout
    acu.advance(601)
    # Then the session is gone (401) and its seat is released
    assert c.get(f"{BASE}/Customer/AACUSTOMER").status_code == 401
    assert acu.sessions.active() == 0


def test_oauth_ropc_token_refresh_and_expiry(acu: AcumaticaSimulator) -> None:
    # Given a ROPC grant with offline_access
    r = _token(acu)
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600 and "refresh_token" in tok
    headers = {"Authorization": f"Bearer {tok['access_token']}"}
    # When calling with the bearer token
    # Then it works
    assert httpx.get(acu.url + f"{BASE}/Customer/AACUSTOMER", headers=headers).status_code == 200
    # When the hour passes
    acu.advance(3601)
    # Then the token is rejected, and a refresh issues a new one that works
    assert httpx.get(acu.url + f"{BASE}/Customer/AACUSTOMER", headers=headers).status_code == 401
    r2 = httpx.post(acu.url + "/identity/connect/token", data={
        "grant_type": "refresh_token", "client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET,
        "refresh_token": tok["refresh_token"]})
    assert r2.status_code == 200
    new = {"Authorization": f"Bearer {r2.json()['access_token']}"}
    assert httpx.get(acu.url + f"{BASE}/Customer/AACUSTOMER", headers=new).status_code == 200


def test_oauth_without_offline_access_has_no_refresh_token_and_bad_client_fails(acu: AcumaticaSimulator) -> None:
    # Given / When a grant with scope api only, and one with a wrong secret
    r = _token(acu, scope="api")
    bad = httpx.post(acu.url + "/identity/connect/token", data={
        "grant_type": "password", "client_id": OAUTH_CLIENT_ID, "client_secret": "x", "username": "admin",
        "password": "setup-admin-pw", "scope": "api"})
    # Then no refresh token; the wrong client gets invalid_client
    assert "refresh_token" not in r.json()
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"


def test_oauth_grant_takes_a_seat(acu: AcumaticaSimulator) -> None:
    # Given two grants holding both seats
    assert _token(acu).status_code == 200 and _token(acu).status_code == 200
    # When a third is requested
    r = _token(acu)
    # Then it fails with API Login Limit
    assert r.status_code == 400 and r.json()["error_description"] == "API Login Limit"
