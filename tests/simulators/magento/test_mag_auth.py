"""Auth: bearer integration token, ACL per route, integration-as-bearer setting, admin token + 2FA."""

from __future__ import annotations

from mag_support import Api

UNAUTH = "The consumer isn't authorized to access %resources."


def test_missing_token_names_route_resource(sim):
    # Given a client without a token
    anon = Api(sim, None)
    # When it ships an order
    resp = anon.post("/order/1093/ship", {"items": []})
    # Then 401 with the template and the route's ACL resource
    assert resp.status_code == 401
    assert resp.json() == {"message": UNAUTH, "parameters": {"resources": "Magento_Sales::ship"}}


def test_wrong_token_is_401(sim):
    # Given a wrong token
    bad = Api(sim, "nope")
    # When reading products
    resp = bad.get("/products/WATER2809")
    # Then 401 naming Magento_Catalog::products
    assert resp.status_code == 401
    assert resp.json()["parameters"] == {"resources": "Magento_Catalog::products"}


def test_integration_bearer_setting_off_refuses_token(sim, api):
    # Given the store does not allow integration tokens as standalone bearer tokens
    sim.configure(integration_as_bearer=False)
    # When the connector calls with its integration token
    resp = api.get("/orders/1093/statuses")
    # Then 401 with the route's resource
    assert resp.status_code == 401
    assert resp.json()["parameters"]["resources"] == "Magento_Sales::actions_view"


def test_token_with_fewer_resources_is_refused_per_route(sim):
    # Given an integration allowed to read orders only
    limited = Api(sim, sim.create_token({"Magento_Sales::actions_view"}))
    # When it reads orders (allowed) and invoices an order (not allowed)
    ok = limited.get("/orders")
    refused = limited.post("/order/1093/invoice", {"capture": True})
    # Then the first passes and the second names Magento_Sales::invoice
    assert ok.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["parameters"] == {"resources": "Magento_Sales::invoice"}


def test_unknown_route_and_wrong_verb_are_404_before_auth(sim):
    # Given no token at all
    anon = Api(sim, None)
    # When calling an unknown route and a known route with the wrong verb
    unknown = anon.get("/nothing/here", check=False)
    wrong_verb = anon.call("DELETE", "/orders/1093", check=False)
    # Then both are 404 "Request does not match any route."
    for resp in (unknown, wrong_verb):
        assert resp.status_code == 404
        assert resp.json() == {"message": "Request does not match any route."}


def test_admin_token_refused_while_2fa_enabled(sim):
    # Given 2FA enabled (default) and the right admin credentials
    anon = Api(sim, None)
    # When requesting an admin token
    resp = anon.post("/integration/admin/token", {"username": "admin", "password": "admin123"})
    # Then 401 with the 2FA message and active providers
    assert resp.status_code == 401
    assert resp.json() == {"message": "Please use the 2fa provider-specific endpoints to obtain a token.",
                           "parameters": {"active_providers": ["google"]}}


def test_admin_token_without_2fa_works_and_wrong_password_is_refused(sim):
    # Given 2FA disabled
    sim.configure(two_factor_auth=False)
    anon = Api(sim, None)
    # When requesting tokens with right and wrong passwords
    good = anon.post("/integration/admin/token", {"username": "admin", "password": "admin123"})
    bad = anon.post("/integration/admin/token", {"username": "admin", "password": "x"})
    # Then the good one yields a usable bearer token and the bad one the sign-in message
    assert good.status_code == 200 and isinstance(good.json(), str)
    assert Api(sim, good.json()).get("/orders").status_code == 200
    assert bad.status_code == 401
    assert bad.json()["message"].startswith("The account sign-in was incorrect")


def test_store_code_prefixes(sim):
    # Given the seeded store code, "all" and the bare /rest/V1 form
    # When reading a product through each
    codes = [Api(sim, sim.token, s).get("/products/WATER2809").status_code for s in ("default", "all")]
    bare = Api(sim, sim.token)
    bare.http.base_url = f"{sim.url}/rest/V1"
    # Then all work, and an unknown store code does not match any route
    assert codes == [200, 200]
    assert bare.get("/products/WATER2809").status_code == 200
    assert Api(sim, sim.token, "nostore").get("/products/WATER2809", check=False).status_code == 404
