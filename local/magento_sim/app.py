"""Starlette app, control API (``/_sim/...``) and the :class:`MagentoSimulator` test helper."""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import traceback
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as HttpRoute

from magento_sim import catalog, composite, output, sales, stores
from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.routes import Ctx, authorize, resolve
from magento_sim.state import State
from sim_common import FaultInjector, ServerThread

log = logging.getLogger("magento_sim")
_REST = re.compile(r"^/rest(?:/(?P<store>[A-Za-z0-9_]+))?(?P<path>/V1(?:/.*)?)$")
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MagentoError(400, E.MSG_DECODING) from exc


def _dispatch(state: State, request_info: dict[str, Any]) -> Any:
    """Route, authorise, decode and run one REST call under the store lock (and the order mutex for documents)."""
    m = _REST.match(request_info["raw_path"])
    with state.lock:
        store_codes = stores.store_codes(state) | {"all"}
    if m is None or (m.group("store") and m.group("store") not in store_codes):
        raise MagentoError(404, E.MSG_NO_ROUTE)  # PathProcessor: an unknown code stays in the path, no route
    route, params = resolve(request_info["method"], m.group("path"), state.config.edition)
    with state.lock:
        token = authorize(state, route, request_info["authorization"])
        store = stores.current_store(state, m.group("store"))
    ctx = Ctx(state, params, request_info["query"], _decode(request_info["body"]), store["code"], token,
              store=store)
    shape = output.response_shape(route.method, route.template)
    order_id = sales.to_int(params.get("orderId"))
    if order_id:
        with state.order_lock(order_id), state.lock:
            result = output.render(route.handler(ctx), shape)
    else:
        with state.lock:
            result = output.render(route.handler(ctx), shape)
    fields = next((v for k, v in request_info["query"] if k == "fields"), None)
    tree = output.parse_fields(fields) if fields else None
    return output.apply_fields(result, tree) if tree and isinstance(result, dict | list) else result


def build_app(state: State, faults: FaultInjector) -> Any:
    async def rest(request: Request) -> Response:
        info = {"raw_path": request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?")[0],
                "method": request.method, "authorization": request.headers.get("authorization"),
                "query": request.query_params.multi_items(), "body": await request.body()}
        try:
            result = await run_in_threadpool(_dispatch, state, info)
        except MagentoError as exc:
            return exc.response()
        except Exception:  # any other PHP exception: Magento's opaque 500
            log.error("magento_sim internal error:\n%s", traceback.format_exc())
            return JSONResponse({"message": E.INTERNAL_ERROR % E.report_id()}, status_code=500)
        return JSONResponse(result)

    control = ControlApi(state, faults)
    routes = [
        HttpRoute("/_sim/state", control.get_state, methods=["GET"]),
        HttpRoute("/_sim/orders", control.get_orders, methods=["GET"]),
        HttpRoute("/_sim/reset", control.reset, methods=["POST"]),
        HttpRoute("/_sim/config", control.config, methods=["GET", "POST"]),
        HttpRoute("/_sim/customers/register", control.register_customer, methods=["POST"]),
        HttpRoute("/_sim/tokens", control.create_token, methods=["POST"]),
        HttpRoute("/_sim/carriers", control.carriers, methods=["GET", "POST"]),
        HttpRoute("/_sim/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        HttpRoute("/_sim/stores", control.stores, methods=["GET", "POST"]),
        HttpRoute("/_sim/currency", control.currency, methods=["GET", "POST"]),
        HttpRoute("/_sim/products", control.products, methods=["GET", "POST"]),
        HttpRoute("/{path:path}", rest, methods=ALL_METHODS),
    ]
    return faults.middleware(Starlette(routes=routes))


class ControlApi:
    """Test-only endpoints: inspect and reset state, flip config, inject faults."""

    def __init__(self, state: State, faults: FaultInjector) -> None:
        self.state, self.fi = state, faults

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        data = json.loads(raw) if raw.strip() else {}
        return data if isinstance(data, dict) else {}

    async def get_state(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse(snapshot(self.state, self.fi))

    async def get_orders(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse({"orders": copy.deepcopy(list(self.state.orders.values())),
                                 "shipments": copy.deepcopy(list(self.state.shipments.values())),
                                 "invoices": copy.deepcopy(list(self.state.invoices.values()))})

    async def reset(self, request: Request) -> Response:
        with self.state.lock:
            self.state.config = C.SimConfig()
            self.state.reset()
        self.fi.clear()
        self.fi.reset_stats()
        return JSONResponse({"reset": True})

    async def config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                with self.state.lock:
                    self.state.config.update(await self._json(request))
            except (KeyError, ValueError, TypeError) as exc:
                return JSONResponse({"error": f"unknown or invalid setting: {exc}"}, status_code=400)
        return JSONResponse(self.state.config.as_dict())

    async def register_customer(self, request: Request) -> Response:
        data = await self._json(request)
        try:
            with self.state.lock:
                return JSONResponse(catalog.create_customer(self.state, data, source="storefront"))
        except MagentoError as exc:
            return exc.response()

    async def create_token(self, request: Request) -> Response:
        data = await self._json(request)
        token = data.get("token") or secrets.token_hex(16)
        resources = data.get("resources")
        with self.state.lock:
            self.state.add_token(token, data.get("kind", "integration"),
                                 frozenset(resources) if resources is not None else None, data.get("ttl"))
        return JSONResponse({"token": token})

    async def carriers(self, request: Request) -> Response:
        with self.state.lock:
            if request.method == "POST":
                data = await self._json(request)
                for c in self.state.carriers:
                    if c["carrier_code"] == data.get("carrier_code"):
                        c.update({k: v for k, v in data.items() if k in ("active", "price")})
            return JSONResponse(copy.deepcopy(self.state.carriers))

    async def _seed(self, request: Request, seed: Any, view: Any) -> Response:
        """POST runs ``seed(state, body)`` (400 with the reason on bad input), GET returns ``view(state)``."""
        with self.state.lock:
            if request.method == "POST":
                try:
                    return JSONResponse(seed(self.state, await self._json(request)))
                except (KeyError, ValueError, TypeError) as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(view(self.state))

    async def stores(self, request: Request) -> Response:
        return await self._seed(request, stores.seed_stores, stores.stores_view)

    async def currency(self, request: Request) -> Response:
        return await self._seed(request, stores.set_currencies, lambda s: stores.set_currencies(s, {}))

    async def products(self, request: Request) -> Response:
        return await self._seed(request, composite.seed_products,
                                lambda s: [catalog.product_view(s, p) for p in s.products.values()])

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                rule = self.fi.add(await self._json(request))
            except (TypeError, ValueError, re.error) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"id": rule.id})
        if request.method == "DELETE":
            self.fi.clear()
        return JSONResponse({"rules": self.fi.rules(), "stats": dict(self.fi.stats),
                             "late_commits": self.fi.late_commits_view()})


def snapshot(state: State, faults: FaultInjector | None = None) -> dict[str, Any]:
    return {
        "seed": state.seed_name, "config": state.config.as_dict(), "counters": dict(state.counters),
        "counts": {"orders": len(state.orders), "shipments": len(state.shipments), "invoices": len(state.invoices),
                   "customers": len(state.customers), "products": len(state.products), "carts": len(state.carts)},
        "source_items": copy.deepcopy(list(state.source_items.values())),
        "reservations": copy.deepcopy(state.reservations),
        "fault_stats": dict(faults.stats) if faults else {},
    }


class MagentoSimulator:
    """A Magento 2.4 admin REST simulator on loopback: ``start() -> url``, ``stop()``, ``reset()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: str = "walkthrough",
                 fault_seed: int | None = 1234, hang_seconds: float = 30.0) -> None:
        self.state = State(seed)
        self.faults = FaultInjector(error_body=E.fault_body, hang_seconds=hang_seconds, seed=fault_seed)
        self.app = build_app(self.state, self.faults)
        self._server = ServerThread(self.app, host, port, name="magento-sim")
        self.token = C.INTEGRATION_TOKEN
        self.url = ""

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._server.stop()

    @property
    def rest_url(self) -> str:
        """Base for REST calls, e.g. ``f"{sim.rest_url}/orders"`` (the default store view)."""
        return f"{self.url}/rest/default/V1"

    def reset(self) -> None:
        with self.state.lock:
            self.state.config = C.SimConfig()
            self.state.reset()
        self.faults.clear()
        self.faults.reset_stats()

    # -- helpers for tests ---------------------------------------------------------------------------------
    def configure(self, **settings: Any) -> None:
        with self.state.lock:
            self.state.config.update(settings)

    def create_token(self, resources: set[str] | frozenset[str] | None, kind: str = "integration") -> str:
        token = secrets.token_hex(16)
        with self.state.lock:
            self.state.add_token(token, kind, frozenset(resources) if resources is not None else None)
        return token

    def order(self, entity_id: int) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.orders[entity_id])

    def source_qty(self, sku: str, source_code: str = C.DEFAULT_SOURCE) -> float:
        with self.state.lock:
            return float(self.state.source_items[(sku, source_code)]["quantity"])

    def register_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            return catalog.create_customer(self.state, data, source="storefront")

    def snapshot(self) -> dict[str, Any]:
        with self.state.lock:
            return snapshot(self.state, self.faults)

    def seed_stores(self, data: dict[str, Any]) -> dict[str, Any]:
        """Websites/groups/store views by code (see README, ``POST /_sim/stores``)."""
        with self.state.lock:
            return stores.seed_stores(self.state, data)

    def set_currencies(self, data: dict[str, Any]) -> dict[str, Any]:
        """Base currency and rates (see README, ``POST /_sim/currency``)."""
        with self.state.lock:
            return stores.set_currencies(self.state, data)

    def seed_products(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Simple, virtual, configurable and bundle products (see README, ``POST /_sim/products``)."""
        with self.state.lock:
            return composite.seed_products(self.state, {"products": products})
