"""``GET /entity/<endpoint>/<version>/swagger.json[?company=<tenant>]``: the endpoint's OpenAPI document.

Served from the stored copies in ``specs/`` (see ``specs/ORIGIN.md``), with the server address the instance's own.
As on a real instance it needs a signed-in session (cookie or bearer; the entity route checks it first) and counts
as an API request; ``company`` names the tenant (default: the session's); another tenant's document is refused as
that tenant has no session (401 "You are not logged in.").
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from acumatica_sim import errors
from acumatica_sim.config import ENDPOINT_NAME, TENANT

SPECS = Path(__file__).resolve().parent / "specs"


@functools.lru_cache(maxsize=4)
def stored(version: str) -> dict[str, Any]:
    with gzip.open(SPECS / f"{ENDPOINT_NAME}_{version}.swagger.json.gz", "rt", encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


@functools.lru_cache(maxsize=8)
def rendered(version: str, base_url: str) -> bytes:
    """The document as this instance serves it (its own address), encoded once per version and address."""
    doc = dict(stored(version))
    base = f"{base_url.rstrip('/')}/entity/{ENDPOINT_NAME}/{version}"
    if "openapi" in doc:
        doc["servers"] = [{"url": base}]
    else:
        parts = urlsplit(base)
        doc.update({"host": parts.netloc, "basePath": parts.path, "schemes": [parts.scheme]})
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def swagger(request: Request, version: str) -> Response:
    company = request.query_params.get("company")
    if company not in (None, "") and company.casefold() != TENANT.casefold():
        return errors.not_logged_in()
    return Response(rendered(version, str(request.base_url)), media_type="application/json; charset=utf-8")


__all__ = ["swagger"]
