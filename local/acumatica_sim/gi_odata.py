"""Generic inquiries over OData v4: ``/t/<tenant>/api/odata/gi/$metadata`` and ``/t/<tenant>/api/odata/gi/<GI>``.

The simulator's inquiries are the push queries (``queries.py``), exposed via OData as a GI with "Expose via OData"
is. Authentication as Acumatica's OData interface takes it: HTTP Basic with a user's name and password (the
tenant comes from the path), or an OAuth bearer token; anything else is 401 with a Basic challenge. The feed
answers ``{"@odata.context": ..., "value": [rows]}`` with ``$filter``, ``$select``, ``$top``, ``$skip`` and
``$count``. Row values are the GI's: decimals as numbers, dates as ISO 8601 with offset.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from acumatica_sim import odata
from acumatica_sim.config import TENANT, USERS
from acumatica_sim.queries import QUERIES, QueryDef, Row

if TYPE_CHECKING:
    from acumatica_sim.app import AcumaticaSimulator

#: Edm type per GI column (the columns' DAC field types).
DECIMALS = {"UnpaidBalance", "OrderTotal", "AppliedToOrder", "QtyOnHand", "QtyAvailable"}
BOOLEANS = {"isB2B", "isStaffCustomer"}
DATES = {"LastModifiedOn"}


def _type_name(q: QueryDef) -> str:
    return re.sub(r"\W", "_", q.name)


def _edm(column: str) -> str:
    if column in DECIMALS:
        return "Edm.Decimal"
    if column in BOOLEANS:
        return "Edm.Boolean"
    if column in DATES:
        return "Edm.DateTimeOffset"
    return "Edm.String"


def metadata_xml() -> str:
    types = "".join(
        f'<EntityType Name="{_type_name(q)}">'
        + "".join(f'<Property Name="{c}" Type="{_edm(c)}" />' for c in q.columns)
        + "</EntityType>" for q in QUERIES)
    sets = "".join(f'<EntitySet Name={quoteattr(q.name)} EntityType="Default.{_type_name(q)}" />' for q in QUERIES)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
            f'<Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">{types}'
            f'<EntityContainer Name="Default">{sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>')


def _authorised(sim: AcumaticaSimulator, request: Request) -> bool:
    header = request.headers.get("authorization") or ""
    if header.lower().startswith("basic "):
        try:
            name, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return USERS.get(name.split("@", 1)[0]) == password
    return header.lower().startswith("bearer ") and sim.sessions.find({}, header) is not None


def _value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return v


def _rows(sim: AcumaticaSimulator, q: QueryDef) -> list[Row]:
    with sim.lock:
        store = sim.store
        return [r for key, rec in store.table(q.table).raw_items() for r in q.rows(store, key, rec)]


def routes(sim: AcumaticaSimulator) -> list[Route]:
    def challenge() -> Response:
        return Response("", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Acumatica"'})

    async def metadata(request: Request) -> Response:
        if request.path_params["tenant"].casefold() != TENANT.casefold() or not _authorised(sim, request):
            return challenge()
        return Response(metadata_xml(), media_type="application/xml")

    async def feed(request: Request) -> Response:
        if request.path_params["tenant"].casefold() != TENANT.casefold() or not _authorised(sim, request):
            return challenge()
        q = next((x for x in QUERIES if x.name == request.path_params["name"]), None)
        if q is None:
            return JSONResponse({"error": {"code": "", "message": f"The entity set '{request.path_params['name']}'"
                                           " was not found."}}, status_code=404)
        params = request.query_params
        columns = set(q.columns)
        try:
            pred = odata.compile_filter(params.get("$filter"), lambda path: path in columns)
        except odata.FilterError as exc:
            return JSONResponse({"error": {"code": "", "message": str(exc)}}, status_code=400)
        rows = [r for r in _rows(sim, q) if pred is None or pred(r)]
        total = len(rows)
        skip, top = int(params.get("$skip") or 0), params.get("$top")
        rows = rows[skip:skip + int(top)] if top else rows[skip:]
        select = odata.parse_list(params.get("$select")) or list(q.columns)
        base = f"{str(request.base_url).rstrip('/')}/t/{request.path_params['tenant']}/api/odata/gi"
        out: dict[str, Any] = {"@odata.context": f"{base}/$metadata#{q.name}"}
        if params.get("$count") == "true":
            out["@odata.count"] = total
        out["value"] = [{c: _value(r.get(c)) for c in select if c in columns} for r in rows]
        return JSONResponse(out)

    return [Route("/t/{tenant}/api/odata/gi/$metadata", metadata, methods=["GET"]),
            Route("/t/{tenant}/api/odata/gi/{name}", feed, methods=["GET"])]
