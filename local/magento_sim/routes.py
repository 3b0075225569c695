"""The REST route table: verb, path template, ACL resource (None = anonymous) and handler."""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from magento_sim import catalog, composite, documents, refunds, sales, stores
from magento_sim import config as C
from magento_sim import errors as E
from magento_sim.documents import arg
from magento_sim.errors import MagentoError
from magento_sim.search import Filter, SearchCriteria, parse_search_criteria, search_records, search_result
from magento_sim.state import State


@dataclass
class Ctx:
    state: State
    params: dict[str, str]
    query: list[tuple[str, str]]
    body: Any
    store_code: str
    token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The store view the call runs in (``stores.current_store``: the path's code, admin for ``all``).
    store: dict[str, Any] = field(default_factory=dict)

    @property
    def sc(self) -> SearchCriteria:
        return parse_search_criteria(self.query)

    def obj(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


Handler = Callable[[Ctx], Any]


@dataclass
class Route:
    method: str
    template: str
    resource: str | None
    handler: Handler
    #: only served by this edition (``SimConfig.edition``); None = every edition
    edition: str | None = None
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template.rstrip("/")))
        self.regex = re.compile("^" + pattern + "/?$")


def _list(ctx: Ctx, items: list[dict[str, Any]]) -> dict[str, Any]:
    return search_result(items, ctx.sc, ctx.state.config)


# -- handlers ----------------------------------------------------------------------------------------------------
def admin_token(ctx: Ctx) -> str:
    body = ctx.obj()
    if body.get("username") != C.ADMIN_USERNAME or body.get("password") != C.ADMIN_PASSWORD:
        raise MagentoError(401, E.MSG_SIGN_IN)
    if ctx.state.config.two_factor_auth:
        raise MagentoError(401, E.MSG_2FA, {"active_providers": ["google"]})
    token = secrets.token_hex(16)
    ctx.state.add_token(token, "admin", None, C.ADMIN_TOKEN_TTL_SECONDS)
    return token


View = Callable[[dict[str, Any]], dict[str, Any]]


def _search(ctx: Ctx, records: Iterable[dict[str, Any]], view: View = copy.deepcopy,
            derived: frozenset[str] = frozenset()) -> dict[str, Any]:
    return search_records(records, view, ctx.sc, ctx.state.config, derived)


def orders_list(ctx: Ctx) -> Any:
    # the view rebuilds extension_attributes (shipping assignments); every other field is the stored one
    return _search(ctx, ctx.state.orders.values(), sales.order_view, frozenset({"extension_attributes"}))


def order_items(ctx: Ctx) -> Any:
    return _list(ctx, [i for o in ctx.state.orders.values() for i in sales.items_view(o.get("items", []))])


def order_get(ctx: Ctx) -> Any:
    return sales.order_view(sales.get_order(ctx.state, ctx.params["id"]))


def order_save(ctx: Ctx) -> Any:
    return sales.save_order(ctx.state, ctx.obj().get("entity"))


def order_status(ctx: Ctx) -> Any:
    return sales.get_order(ctx.state, ctx.params["id"]).get("status")


def order_comments(ctx: Ctx) -> Any:
    order = sales.get_order(ctx.state, ctx.params["id"])
    sc = SearchCriteria()
    sc.groups = [[Filter("parent_id", str(order["entity_id"]), "eq")]]
    return {"items": copy.deepcopy(order.get("status_histories", [])), "search_criteria": sc.echo(),
            "total_count": len(order.get("status_histories", []))}


def order_add_comment(ctx: Ctx) -> Any:
    return documents.add_comment(ctx.state, ctx.params["id"], arg(ctx.obj(), "statusHistory"))




def shipment_get(ctx: Ctx) -> Any:
    shp = ctx.state.shipments.get(sales.to_int(ctx.params["id"]) or 0)
    if shp is None:
        raise E.not_found()
    return documents.shipment_view(shp)


def invoice_get(ctx: Ctx) -> Any:
    inv = ctx.state.invoices.get(sales.to_int(ctx.params["id"]) or 0)
    if inv is None:
        raise E.not_found()
    return copy.deepcopy(inv)


def products_list(ctx: Ctx) -> Any:
    return _list(ctx, [catalog.product_view(ctx.state, p) for p in ctx.state.products.values()])


def source_items_list(ctx: Ctx) -> Any:
    return _list(ctx, [copy.deepcopy(s) for s in ctx.state.source_items.values()])


def sources_list(ctx: Ctx) -> Any:
    return _list(ctx, catalog.sources_view(ctx.state))


def store_configs(ctx: Ctx) -> Any:
    """``storeCodes[]=a&storeCodes[]=b`` (or indexed) narrows the list."""
    codes = [v for k, v in ctx.query if k == "storeCodes" or k.startswith("storeCodes[")]
    return stores.store_configs(ctx.state, codes or None)


S = "Magento_Sales::"
ROUTES: list[Route] = [
    Route("POST", "/V1/integration/admin/token", None, admin_token),
    # orders
    Route("GET", "/V1/orders/items", S + "actions_view", order_items),
    Route("PUT", "/V1/orders/create", S + "create", order_save),
    Route("POST", "/V1/orders", S + "create", order_save),
    Route("GET", "/V1/orders", S + "actions_view", orders_list),
    Route("GET", "/V1/orders/{id}", S + "actions_view", order_get),
    Route("GET", "/V1/orders/{id}/statuses", S + "actions_view", order_status),
    Route("GET", "/V1/orders/{id}/comments", S + "actions_view", order_comments),
    Route("POST", "/V1/orders/{id}/comments", S + "comment", order_add_comment),
    Route("POST", "/V1/orders/{id}/cancel", S + "cancel", lambda c: documents.cancel(c.state, c.params["id"])),
    Route("POST", "/V1/orders/{id}/hold", S + "hold", lambda c: documents.hold(c.state, c.params["id"])),
    Route("POST", "/V1/orders/{id}/unhold", S + "unhold", lambda c: documents.unhold(c.state, c.params["id"])),
    # documents
    Route("POST", "/V1/order/{orderId}/ship", S + "ship",
          lambda c: documents.ship(c.state, c.params["orderId"], c.obj())),
    Route("POST", "/V1/order/{orderId}/invoice", S + "invoice",
          lambda c: documents.invoice(c.state, c.params["orderId"], c.obj())),
    Route("GET", "/V1/shipments", S + "shipment",
          lambda c: _search(c, c.state.shipments.values(), documents.shipment_view)),
    Route("POST", "/V1/shipment/track", S + "ship", lambda c: documents.save_track(c.state, c.obj().get("entity"))),
    Route("GET", "/V1/shipment/{id}", S + "shipment", shipment_get),
    Route("POST", "/V1/shipment/", S + "ship", lambda c: documents.save_shipment(c.state, c.obj().get("entity"))),
    Route("GET", "/V1/invoices", S + "sales_invoice",
          lambda c: _search(c, c.state.invoices.values())),
    Route("GET", "/V1/invoices/{id}", S + "sales_invoice", invoice_get),
    # credit memos (RefundOrder, RefundInvoice, CreditmemoRepository)
    Route("POST", "/V1/order/{orderId}/refund", S + "creditmemo",
          lambda c: refunds.refund_order(c.state, c.params["orderId"], c.obj())),
    Route("POST", "/V1/invoice/{invoiceId}/refund", S + "creditmemo",
          lambda c: refunds.refund_invoice(c.state, c.params["invoiceId"], c.obj())),
    Route("GET", "/V1/creditmemos", S + "sales_creditmemo", lambda c: _search(c, c.state.creditmemos.values())),
    Route("GET", "/V1/creditmemo/{id}", S + "sales_creditmemo",
          lambda c: refunds.get_creditmemo(c.state, c.params["id"])),
    # Adobe Commerce returns (Magento_Rma): absent from Open Source
    Route("GET", "/V1/returns", "Magento_Rma::magento_rma",
          lambda c: _search(c, c.state.returns.values(), refunds.return_view), "adobe_commerce"),
    Route("POST", "/V1/returns", "Magento_Rma::magento_rma",
          lambda c: refunds.create_return(c.state, arg(c.obj(), "rmaDataObject")), "adobe_commerce"),
    Route("GET", "/V1/returns/{id}", "Magento_Rma::magento_rma",
          lambda c: refunds.get_return(c.state, c.params["id"]), "adobe_commerce"),
    Route("PUT", "/V1/returns/{id}", "Magento_Rma::magento_rma",
          lambda c: refunds.update_return(c.state, c.params["id"], arg(c.obj(), "rmaDataObject")), "adobe_commerce"),
    # catalog and customers
    Route("GET", "/V1/products", "Magento_Catalog::products", products_list),
    Route("GET", "/V1/products/{sku}", "Magento_Catalog::products",
          lambda c: catalog.get_product(c.state, c.params["sku"])),
    Route("GET", "/V1/customers/search", "Magento_Customer::customer",
          lambda c: _search(c, c.state.customers.values())),
    Route("GET", "/V1/customers/{customerId}", "Magento_Customer::customer",
          lambda c: catalog.get_customer(c.state, c.params["customerId"])),
    Route("POST", "/V1/customers", "Magento_Customer::manage",
          lambda c: catalog.create_customer(c.state, c.obj().get("customer"))),
    Route("PUT", "/V1/customers/{customerId}", "Magento_Customer::manage",
          lambda c: catalog.update_customer(c.state, c.params["customerId"], c.obj().get("customer"))),
    Route("GET", "/V1/configurable-products/{sku}/children", "Magento_Catalog::products",
          lambda c: composite.configurable_children(c.state, c.params["sku"])),
    Route("GET", "/V1/configurable-products/{sku}/options/all", "Magento_Catalog::products",
          lambda c: composite.configurable_options(c.state, c.params["sku"])),
    Route("GET", "/V1/bundle-products/{sku}/options/all", "Magento_Catalog::products",
          lambda c: composite.bundle_options(c.state, c.params["sku"])),
    # stores and currencies
    Route("GET", "/V1/store/storeViews", "Magento_Backend::store", lambda c: stores.store_views(c.state)),
    Route("GET", "/V1/store/storeGroups", "Magento_Backend::store", lambda c: stores.store_groups(c.state)),
    Route("GET", "/V1/store/storeConfigs", "Magento_Backend::store", store_configs),
    Route("GET", "/V1/store/websites", "Magento_Backend::store", lambda c: stores.websites(c.state)),
    Route("GET", "/V1/directory/currency", None, lambda c: stores.currency_info(c.state, c.store)),
    # inventory
    Route("POST", "/V1/inventory/source-items", "Magento_InventoryApi::source",
          lambda c: catalog.save_source_items(c.state, arg(c.obj(), "sourceItems"))),
    Route("GET", "/V1/inventory/source-items", "Magento_InventoryApi::source", source_items_list),
    Route("POST", "/V1/inventory/source-items-delete", "Magento_InventoryApi::source",
          lambda c: catalog.delete_source_items(c.state, arg(c.obj(), "sourceItems"))),
    Route("GET", "/V1/inventory/sources", "Magento_InventoryApi::source", sources_list),
    Route("GET", "/V1/inventory/get-product-salable-quantity/{sku}/{stockId}", "Magento_InventoryApi::stock",
          lambda c: catalog.salable_qty(c.state, c.params["sku"], c.params["stockId"])),
    Route("GET", "/V1/stockItems/{productSku}", "Magento_CatalogInventory::cataloginventory",
          lambda c: catalog.get_stock_item(c.state, c.params["productSku"])),
    Route("PUT", "/V1/products/{productSku}/stockItems/{itemId}", "Magento_CatalogInventory::cataloginventory",
          lambda c: catalog.update_stock_item(c.state, c.params["productSku"], c.obj())),
    # guest carts (anonymous)
    Route("POST", "/V1/guest-carts", None, lambda c: catalog.create_guest_cart(c.state, c.store.get("id"))),
    Route("POST", "/V1/guest-carts/{cartId}/items", None,
          lambda c: catalog.add_cart_item(c.state, c.params["cartId"], arg(c.obj(), "cartItem"))),
    Route("POST", "/V1/guest-carts/{cartId}/estimate-shipping-methods", None,
          lambda c: catalog.estimate_shipping(c.state, c.params["cartId"], c.obj().get("address"))),
]


def resolve(method: str, raw_path: str, edition: str | None = None) -> tuple[Route, dict[str, str]]:
    """Match ``/V1/...`` (still percent-encoded, so a ``%2F`` inside a SKU stays one segment); routes of another
    edition do not exist."""
    for route in ROUTES:
        if route.method != method or (route.edition is not None and route.edition != edition):
            continue
        m = route.regex.match(raw_path)
        if m:
            return route, {k: unquote(v) for k, v in m.groupdict().items()}
    raise MagentoError(404, E.MSG_NO_ROUTE)


def authorize(state: State, route: Route, authorization: str | None) -> str | None:
    """Bearer check: unknown/expired token, refused integration bearer, or missing ACL -> 401 naming the resource."""
    if route.resource is None:
        return None
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    info = state.tokens.get(token or "")
    if info is None or (info["expires_at"] is not None and info["expires_at"] < time.time()):
        raise E.unauthorized(route.resource)
    if info["kind"] == "integration" and not state.config.integration_as_bearer:
        raise E.unauthorized(route.resource)
    if info["resources"] is not None and route.resource not in info["resources"]:
        raise E.unauthorized(route.resource)
    return token
