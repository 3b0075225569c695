"""HTTP routes: auth, the contract-based entity endpoint, inquiries, actions, and the ``/_sim`` control API."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from acumatica_sim import errors, odata, openapi
from acumatica_sim.config import (
    BUILD_VERSION,
    ENDPOINT_NAME,
    ENDPOINT_VERSIONS,
    FIELDS_ABSENT_IN_23,
    OAUTH_CLIENTS,
    TENANT,
    USERS,
)
from acumatica_sim.errors import ActionRefused, ApiError, NotFound, ValidationFailed
from acumatica_sim.model import Rec
from acumatica_sim.registry import ENTITIES, INQUIRIES, EntityDef
from acumatica_sim.values import parse_datetime, unwrap
from acumatica_sim.views import summary_rows

if TYPE_CHECKING:
    from acumatica_sim.app import AcumaticaSimulator

COOKIE_ATTRS = "; path=/; HttpOnly; SameSite=Lax"


async def not_found(request: Request, exc: Exception) -> Response:
    return errors.no_route(str(request.url))


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in ctype:
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    return json.loads(raw)


# ================================================================================================ auth
async def login(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    try:
        body = await _body(request)
    except ValueError:
        return errors.bad_request("The request body is not valid JSON.")
    if sim.sessions.admit() is None:
        return throttled()
    name, pw = str(body.get("name") or ""), str(body.get("password") or "")
    tenant = body.get("tenant")
    if not name or USERS.get(name) != pw or (tenant not in (None, "", TENANT)):
        return errors.http_error(500, "Invalid credentials. Please try again.", "PX.Data.PXException", op="Login")
    s = sim.sessions.login_cookie(name)
    if s is None:
        return errors.login_limit()
    resp = Response(status_code=204)
    for cookie in (f".ASPXAUTH={s.aspxauth}", f"ASP.NET_SessionId={s.sid}", "UserBranch=16",
                   f"Locale=Culture={body.get('locale') or 'en-US'}&TimeZone=GMTM0000U",
                   f"CompanyID={TENANT}"):
        resp.headers.append("set-cookie", cookie + COOKIE_ATTRS)
    return resp

async def logout(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    sim.sessions.logout(session_of(sim, request))
    resp = Response(status_code=204)
    resp.headers.append("set-cookie", ".ASPXAUTH=; expires=Thu, 01 Jan 1970 00:00:00 GMT" + COOKIE_ATTRS)
    return resp

async def token(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if OAUTH_CLIENTS.get(form.get("client_id", "")) != form.get("client_secret"):
        return JSONResponse({"error": "invalid_client"}, status_code=400)
    grant = form.get("grant_type")
    if grant == "password":
        if USERS.get(form.get("username", "")) != form.get("password"):
            return JSONResponse({"error": "invalid_grant", "error_description": "invalid_username_or_password"},
                                status_code=400)
        scope = form.get("scope") or "api"
        s = sim.sessions.grant_token(form["username"], scope)
        if s is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "API Login Limit"}, status_code=400)
    elif grant == "refresh_token":
        s, err = sim.sessions.refresh(form.get("refresh_token", ""))
        if s is None:
            return JSONResponse({"error": "invalid_grant", **({"error_description": err} if err != "invalid_grant"
                                                               else {})}, status_code=400)
    else:
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    out = {"access_token": s.access_token, "expires_in": sim.config.limits.token_lifetime_seconds,
           "token_type": "Bearer", "scope": s.scope}
    if s.refresh_token:
        out["refresh_token"] = s.refresh_token
    return JSONResponse(out)

async def revoke(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    sim.sessions.revoke(form.get("token", ""))
    return Response(status_code=200)

async def discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/") + "/identity"
    return JSONResponse({"issuer": base, "token_endpoint": base + "/connect/token",
                         "revocation_endpoint": base + "/connect/revocation",
                         "grant_types_supported": ["authorization_code", "implicit", "password", "refresh_token",
                                                   "hybrid"],
                         "scopes_supported": ["api", "offline_access", "api:concurrent_access", "openid"]})

async def endpoints(request: Request) -> Response:
    return JSONResponse({"version": {"acumaticaBuildVersion": BUILD_VERSION, "databaseVersion": BUILD_VERSION},
                         "endpoints": [{"name": ENDPOINT_NAME, "version": v,
                                        "href": f"/entity/{ENDPOINT_NAME}/{v}/"} for v in ENDPOINT_VERSIONS]})


def auth_routes(sim: AcumaticaSimulator) -> list[Route]:
    return [Route("/entity/auth/login", login, methods=["POST"]),
            Route("/entity/auth/logout", logout, methods=["POST"]),
            Route("/identity/connect/token", token, methods=["POST"]),
            Route("/identity/connect/revocation", revoke, methods=["POST"]),
            Route("/identity/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/entity", endpoints, methods=["GET"])]


def session_of(sim: AcumaticaSimulator, request: Request) -> Any:
    return sim.sessions.find(dict(request.cookies), request.headers.get("authorization"))


def throttled() -> Response:
    return errors.http_error(429, "The request has been declined because the number of API requests exceeds the "
                             "limit imposed by the license.", "PX.Api.ContractBased.ApiRequestLimitException")


# ================================================================================================ entity endpoint
class Ctx:
    """One entity request."""

    def __init__(self, sim: AcumaticaSimulator, request: Request, version: str, parts: list[str]) -> None:
        self.sim, self.request, self.version, self.parts = sim, request, version, parts
        q = request.query_params
        self.expand = odata.expand_set(q.get("$expand"))
        self.select = odata.parse_list(q.get("$select"))
        self.custom = odata.parse_list(q.get("$custom"))
        self.base = f"/entity/{ENDPOINT_NAME}/{version}"

    def shape(self, ed: EntityDef, rec: Rec, row: int = 1) -> dict[str, Any]:
        tree = ed.tree(self.sim.store, rec)
        for f in FIELDS_ABSENT_IN_23.get(ed.name, ()) if self.version == "23.200.001" else ():
            tree.pop(f, None)
        links = {"self": f"{self.base}/{ed.name}/{rec['id']}",
                 "files:put": f"{self.base}/files/{ed.graph}/{rec['id']}/{{filename}}"}
        return odata.shape(tree, self.expand, self.select, self.custom, row, links=links)


def entity_route(sim: AcumaticaSimulator) -> Route:
    async def handler(request: Request) -> Response:
        p = request.path_params
        if p["endpoint"] != ENDPOINT_NAME or p["version"] not in ENDPOINT_VERSIONS:
            return errors.no_route(str(request.url))
        if session_of(sim, request) is None:
            return errors.not_logged_in()
        delay = sim.sessions.admit()
        if delay is None:
            return throttled()
        if delay > 0:
            sim.sessions.queued += 1
            try:
                await asyncio.sleep(delay)
            finally:
                sim.sessions.queued -= 1
        if request.method == "GET" and p["rest"].strip("/") == "swagger.json":
            return openapi.swagger(request, p["version"])
        try:
            body = await _body(request) if request.method in ("PUT", "POST") else None
        except ValueError:
            return errors.bad_request("The request body is not valid JSON.")
        ctx = Ctx(sim, request, p["version"], [x for x in p["rest"].split("/") if x])
        try:
            return dispatch(ctx, body)
        except ApiError as e:
            return e.response()
        except odata.FilterError as e:
            return errors.bad_request(str(e))
        except Exception as e:  # noqa: BLE001 - an unexpected bug answers like Acumatica's generic 500
            return errors.http_error(500, str(e), f"System.{type(e).__name__}")

    return Route("/entity/{endpoint}/{version}/{rest:path}", handler, methods=["GET", "PUT", "POST", "DELETE"])


def dispatch(ctx: Ctx, body: Any) -> Response:
    name, rest, method = ctx.parts[0] if ctx.parts else "", ctx.parts[1:], ctx.request.method
    if name in INQUIRIES:
        return inquiry(ctx, name, body)
    ed = ENTITIES.get(name)
    if ed is None:
        return errors.no_route(str(ctx.request.url))
    if method == "POST" and len(rest) == 1:
        return action(ctx, ed, rest[0], body)
    if method == "GET" and len(rest) == 3 and rest[1] == "status" and rest[0] in ed.actions:
        return op_status(ctx, rest[2])
    if method == "GET":
        return get_list(ctx, ed) if not rest else get_one(ctx, ed, rest)
    if method == "PUT" and not rest:
        return put(ctx, ed, body)
    if method == "DELETE" and rest:
        return delete(ctx, ed, rest)
    return errors.no_route(str(ctx.request.url))


def get_list(ctx: Ctx, ed: EntityDef) -> Response:
    q = ctx.request.query_params
    try:
        top = int(q["$top"]) if "$top" in q else None
        skip = int(q.get("$skip", "0"))
    except ValueError:
        return errors.bad_request("$top and $skip must be integers.")
    with ctx.sim.lock:
        recs = list(getattr(ctx.sim.store, ed.table).values())
        candidates = _changed_since(ed, recs, q.get("$filter"))
        if candidates is not None and recs:
            # each candidate's tree carries its stored stamp, so the filter passes them all: the page is cut before
            # any tree is built (a reconciler paging through a day's records built them all for every page)
            hits = candidates[skip:skip + top if top is not None else None]
            return JSONResponse([ctx.shape(ed, r, i + 1) for i, r in enumerate(hits)])
        narrowed = _stored_equals(recs, q.get("$filter"))
        if narrowed is not None and len(narrowed) < len(recs):
            # the filter is applied in full to the trees of the records it can match, plus one tree for the names
            # it may use (an unknown name is still refused); refused on those, it is tried on every record's tree
            sample = narrowed if narrowed else recs[:1]
            trees = [(r, ed.tree(ctx.sim.store, r)) for r in sample]
            try:
                pred = odata.compile_filter(q.get("$filter"), odata.field_checker(_field_names([t for _, t in trees])))
                hits = [r for r, t in trees if narrowed and (pred is None or pred(t))]
                hits = hits[skip:skip + top if top is not None else None]
                return JSONResponse([ctx.shape(ed, r, i + 1) for i, r in enumerate(hits)])
            except odata.FilterError:
                pass
        trees = [(r, ed.tree(ctx.sim.store, r)) for r in recs]
        if not trees:  # field names are learnt from the records; an empty table answers an empty list
            return JSONResponse([])
        known = odata.field_checker(_field_names([t for _, t in trees]))
        pred = odata.compile_filter(q.get("$filter"), known)
        hits = [r for r, t in trees if pred is None or pred(t)]
        hits = hits[skip:skip + top if top is not None else None]
        return JSONResponse([ctx.shape(ed, r, i + 1) for i, r in enumerate(hits)])


# Fields every entity keeps verbatim at the top of its stored record under the name its tree shows (never derived):
# an equality on one of them can pick the records worth building a tree for.
STORED_VERBATIM = frozenset({"OrderType", "OrderNbr", "CustomerOrder", "ExternalRef", "CustomerID"})
_EQUALS = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$")


def _stored_equals(recs: list[Rec], text: str | None) -> list[Rec] | None:
    """For a filter that is a conjunction ("and" only, no parentheses) with at least one "<field> eq '<text>'" on a
    field kept verbatim, the records whose stored field equals the text: the only ones the filter can match (so a
    list of returns by ExternalRef builds a handful of trees, not the whole table's). None when it cannot tell."""
    if not text or "(" in text or re.search(r"\s(or|not)\s", text, re.IGNORECASE):
        return None
    wanted = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _EQUALS.match(clause)
        if m and m.group(1) in STORED_VERBATIM:
            wanted.append((m.group(1), m.group(2).replace("''", "'")))
    if not wanted:
        return None
    norm = [(name, value.rstrip().lower()) for name, value in wanted]  # as odata.compare: case and trailing blanks
    return [r for r in recs if all(name not in r or (r[name] is not None and str(r[name]).rstrip().lower() == value)
                                   for name, value in norm)]


_CHANGED_SINCE = re.compile(r"^\s*(\w+)\s+(gt|ge)\s+datetimeoffset'([^']*)'\s*$", re.IGNORECASE)


def _changed_since(ed: EntityDef, recs: list[Rec], text: str | None) -> list[Rec] | None:
    """For a filter that is only "<the entity's own stamp> gt|ge datetimeoffset'...'" (what a poller or a
    reconciler asks: what changed since), the records whose stored stamp passes, so that only they are built into
    trees (the tree carries the stored stamp; the filter is still applied to them). None for any other filter."""
    m = _CHANGED_SINCE.match(text or "")
    if m is None or ed.stamp is None or m.group(1) != ed.stamp:
        return None
    try:
        since = parse_datetime(m.group(3))
    except ValueError:
        return None
    op = m.group(2).lower()
    return [r for r in recs if odata.compare(op, r.get(ed.stamp), since)]


def _field_names(trees: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in trees:
        for k, v in t.items():
            if isinstance(v, dict):
                out[k] = {**(out.get(k) or {}), **_field_names([v])} if isinstance(out.get(k, {}), dict) else out[k]
            elif isinstance(v, list):
                out[k] = "detail"
            else:
                out.setdefault(k, None)
    return out


def get_one(ctx: Ctx, ed: EntityDef, keys: list[str]) -> Response:
    from acumatica_sim.app import find_by_keys

    with ctx.sim.lock:
        rec = find_by_keys(ctx.sim.store, ed, keys)
        if rec is None:
            raise NotFound()
        return JSONResponse(ctx.shape(ed, rec))


def put(ctx: Ctx, ed: EntityDef, raw: Any) -> Response:
    from acumatica_sim.app import find_for_put

    if not isinstance(raw, dict):
        return errors.bad_request("The entity is expected in the request body.")
    try:
        body = unwrap(raw)
    except ValueError as e:
        return errors.bad_request(str(e))
    h = ctx.request.headers
    holder: dict[str, Rec] = {}

    def fn(store: Any, now: Any) -> Rec:
        existing = find_for_put(store, ed, body)
        if h.get("if-match") == "*" and existing is None:
            raise ApiError(412, "No entity satisfies the condition.",
                           "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException")
        if h.get("if-none-match") == "*" and existing is not None:
            raise ApiError(412, "The entity cannot be inserted because an entity with the same keys already exists.",
                           "PX.Api.ContractBased.EntityAlreadyExistsException")
        if ed.upsert is None:
            raise ActionRefused(f"Creating or updating {ed.name} records is not supported by the simulator.")
        holder["rec"] = ed.upsert(store, body, existing, now)
        return holder["rec"]

    try:
        rec = ctx.sim.transact(fn)
    except ValidationFailed as e:
        return JSONResponse(errors.with_field_errors(raw, e.errors, e.entity_error), status_code=422)
    except ActionRefused as e:
        return JSONResponse(errors.with_field_errors(raw, {}, e.exception_message), status_code=422)
    with ctx.sim.lock:
        return JSONResponse(ctx.shape(ed, rec))


def delete(ctx: Ctx, ed: EntityDef, keys: list[str]) -> Response:
    from acumatica_sim.app import find_by_keys

    def fn(store: Any, now: Any) -> None:
        rec = find_by_keys(store, ed, keys)
        if rec is None:
            raise NotFound()
        linked = ed.name == "SalesOrder" and (store.order_shipments(rec) or store.order_applications(rec))
        if not ed.deletable or linked:
            raise ActionRefused("The record cannot be deleted because it is referenced by other documents.", 500)
        del store.table(ed.table)[store.key_of(ed.table, rec)]

    ctx.sim.transact(fn)
    return Response(status_code=204)


def action(ctx: Ctx, ed: EntityDef, name: str, body: Any) -> Response:
    from acumatica_sim.app import find_for_put, new_op

    fn_action = ed.actions.get(name)
    if fn_action is None:
        return errors.no_route(str(ctx.request.url))
    if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
        return errors.bad_request("The action invocation must contain the 'entity' object.")
    try:
        target = unwrap(body["entity"])
        params = unwrap(body.get("parameters") or {})
    except ValueError as e:
        return errors.bad_request(str(e))
    with ctx.sim.lock:
        rec = find_for_put(ctx.sim.store, ed, target)
        if rec is None:
            raise NotFound()
        rid = rec["id"]

    def fn(store: Any, now: Any) -> None:
        fn_action(store, store.find_by_id(ed.table, rid), params, now)

    try:
        ctx.sim.transact(fn)
    except ActionRefused as e:
        with ctx.sim.lock:
            shaped = ctx.shape(ed, ctx.sim.store.find_by_id(ed.table, rid) or rec)
        shaped["error"] = e.exception_message
        return JSONResponse(shaped, status_code=e.status)
    except (ValueError, KeyError) as e:
        return errors.bad_request(f"Invalid action parameters: {e}")
    op = new_op(ctx.sim, f"{ctx.base}/{ed.name}/{rid}")
    return Response(status_code=202, headers={"Location": f"{ctx.base}/{ed.name}/{name}/status/{op}"})


def op_status(ctx: Ctx, op: str) -> Response:
    st = ctx.sim.operations.get(op)
    if st is None:
        return errors.no_route(str(ctx.request.url))
    if st["polls"] > 0:
        st["polls"] -= 1
        return Response(status_code=202, headers={"Location": str(ctx.request.url.path)})
    return Response(status_code=204, headers={"Location": st["entity_url"]})


def inquiry(ctx: Ctx, name: str, raw: Any) -> Response:
    if ctx.request.method != "PUT" or ctx.parts[1:]:
        if ctx.request.method == "GET":
            return errors.http_error(500, "Optimization cannot be performed. The following fields cause the error: "
                                     f"{name}.Results: View Filter has BQL delegate", "PX.Api.ContractBased."
                                     "Optimization.CannotOptimizeException")
        return errors.no_route(str(ctx.request.url))
    try:
        f = unwrap(raw if isinstance(raw, dict) else {})
    except ValueError as e:
        return errors.bad_request(str(e))
    store = ctx.sim.store
    with ctx.sim.lock:
        if name == "InventorySummaryInquiry":
            iid = str(f.get("InventoryID") or "").strip().upper()
            if iid not in store.items:
                return JSONResponse(errors.with_field_errors(raw, {"InventoryID": "'Inventory ID' cannot be found in "
                                                                   "the system."}, None), status_code=422)
            rows = summary_rows(store, iid, f.get("WarehouseID"))
            tree = {"id": store.items[iid]["id"], "InventoryID": iid, "WarehouseID": f.get("WarehouseID"),
                    "LocationID": f.get("LocationID"), "ExpandByLotSerialNbr": bool(f.get("ExpandByLotSerialNbr")),
                    "Results": rows}
        else:
            tree = _qty_available(store, f)
    return JSONResponse(odata.shape(tree, ctx.expand, ctx.select, []))


def _qty_available(store: Any, f: Rec) -> dict[str, Any]:
    since = parse_datetime(f["LastModifiedDateTime"]) if f.get("LastModifiedDateTime") else None
    rows = []
    for iid, it in store.items.items():
        if f.get("InventoryID") and iid != str(f["InventoryID"]).strip().upper():
            continue
        stamps = [store.site_modified.get((iid, wh)) for wh in it["warehouses"]]
        last = max((s for s in stamps if s is not None), default=it["LastModified"])
        if since is not None and last <= since:
            continue
        total = sum((store.availability(iid, wh)["QtyAvailable"] for wh in it["warehouses"]), start=0)
        rows.append({"id": it["id"], "InventoryID": iid, "QtyAvailable": total, "LastModifiedDateTime": last})
    return {"id": "00000000-0000-0000-0000-000000000000", "InventoryID": f.get("InventoryID"),
            "LastModifiedDateTime": since, "Results": rows}


def routes(sim: AcumaticaSimulator) -> list[Route]:
    from acumatica_sim import gi_odata
    from acumatica_sim.control import control_routes

    return [*auth_routes(sim), entity_route(sim), *gi_odata.routes(sim), *control_routes(sim)]
