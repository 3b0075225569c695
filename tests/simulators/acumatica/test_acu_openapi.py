"""The endpoint's OpenAPI document at /entity/Default/<version>/swagger.json, as a real instance serves it."""

from __future__ import annotations

import httpx
from acu_sim_helpers import login

from acumatica_sim import AcumaticaSimulator


def test_swagger_json_needs_a_session_and_names_this_instance(acu: AcumaticaSimulator) -> None:
    # Given an anonymous client and a signed-in one
    anon = httpx.get(acu.url + "/entity/Default/24.200.001/swagger.json")
    c = login(acu.url, timeout=30)
    # When the signed-in one reads both versions' documents, with and without ?company=
    v24 = c.get("/entity/Default/24.200.001/swagger.json")
    v24_company = c.get("/entity/Default/24.200.001/swagger.json", params={"company": "Company"})
    v23 = c.get("/entity/Default/23.200.001/swagger.json").json()
    other = c.get("/entity/Default/24.200.001/swagger.json", params={"company": "Elsewhere"})
    unknown = c.get("/entity/Default/21.200.001/swagger.json")
    # Then the anonymous call is refused like any entity call
    assert anon.status_code == 401 and anon.json() == {"message": "You are not logged in."}
    # and the documents are the stored ones (OpenAPI 3.0.1 / Swagger 2.0) with this instance's address
    doc = v24.json()
    assert v24.status_code == 200 and v24.headers["content-type"].startswith("application/json")
    assert doc["openapi"] == "3.0.1" and doc["info"]["title"] == "Default/24.200.001"
    assert doc["servers"] == [{"url": acu.url.rstrip("/") + "/entity/Default/24.200.001"}]
    assert "/SalesOrder" in doc["paths"] and "SalesOrder" in doc["components"]["schemas"]
    assert v24_company.json() == doc
    assert v23["swagger"] == "2.0" and v23["basePath"] == "/entity/Default/23.200.001"
    assert v23["host"] == acu.url.split("://", 1)[1].rstrip("/")
    # and another tenant's document, or a version the instance does not serve, is not there
    assert other.status_code == 401
    assert unknown.status_code == 404


def test_generic_inquiries_over_odata_v4(acu: AcumaticaSimulator) -> None:
    # Given Basic credentials of the seeded user
    from acumatica_sim.config import ADMIN_PASSWORD, ADMIN_USERNAME
    good, bad = (ADMIN_USERNAME, ADMIN_PASSWORD), (ADMIN_USERNAME, "nope")
    gi = acu.url.rstrip("/") + "/t/Company/api/odata/gi"
    # When reading the metadata and a feed, with good, bad and no credentials, and another tenant
    meta = httpx.get(gi + "/$metadata", auth=good)
    feed = httpx.get(gi + "/AMSync-StockAvailability", auth=good,
                     params={"$filter": "InventoryID eq 'WATER2809'", "$top": "1", "$count": "true"})
    refused = [httpx.get(gi + "/$metadata", auth=bad), httpx.get(gi + "/AMSync-Payments"),
               httpx.get(acu.url.rstrip("/") + "/t/Other/api/odata/gi/$metadata", auth=good)]
    missing = httpx.get(gi + "/NoSuchInquiry", auth=good)
    # Then the metadata lists every inquiry as an entity set of the Default container
    assert meta.status_code == 200 and meta.headers["content-type"].startswith("application/xml")
    assert '<EntitySet Name="AMSync-SalesOrders" EntityType="Default.AMSync_SalesOrders" />' in meta.text
    assert '<Property Name="OrderTotal" Type="Edm.Decimal" />' in meta.text
    # and the feed is OData v4 JSON with the filtered rows
    body = feed.json()
    assert body["@odata.context"].endswith("/$metadata#AMSync-StockAvailability")
    assert body["@odata.count"] >= 1 and len(body["value"]) == 1
    assert body["value"][0]["InventoryID"] == "WATER2809" and isinstance(body["value"][0]["QtyOnHand"], float)
    # and bad, missing or other-tenant credentials are challenged, an unknown inquiry is 404
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert refused[1].headers["www-authenticate"].startswith("Basic")
    assert missing.status_code == 404
