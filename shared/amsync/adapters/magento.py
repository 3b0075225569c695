"""Magento 2.4 admin REST client (integration token as a bearer token).

Reads are retried on retryable errors. Writes that are not idempotent (create order, ship, invoice) are sent
once: after a timeout or 5xx the caller looks the record up (ext_order_id, the order's shipments/invoices)
before trying again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import httpx

from amsync.adapters.errors import ApiError, AuthError, NotFound, classify, parse_retry_after
from amsync.adapters.http import call_timeout_s, dumps, loads, make_client, retrying, send
from amsync.deadline import Deadline
from amsync.models.magento import MagentoOrderPage, MagentoOrderSummary

SYSTEM = "Magento"


def render_message(body: Any, fallback: str) -> str:
    """Magento's message with its %1 / %name placeholders filled from ``parameters``, plus any ``errors``."""
    if not isinstance(body, dict) or "message" not in body:
        return fallback if not isinstance(body, str) or not body.strip() else body.strip()[:500]
    text = str(body["message"])
    params = body.get("parameters")
    if isinstance(params, list):
        for i, p in enumerate(params, start=1):
            text = text.replace(f"%{i}", str(p))
    elif isinstance(params, dict):
        for k, p in params.items():
            text = text.replace(f"%{k}", str(p))
    for err in body.get("errors") or []:
        text += "\n" + render_message(err, "")
    return text


def search_params(filters: Iterable[tuple[str, Any, str]], *, page_size: int | None = None,
                  current_page: int | None = None, sort: tuple[str, str] | None = None) -> dict[str, str]:
    """searchCriteria query parameters: each (field, value, condition) is its own group, so they are ANDed."""
    params: dict[str, str] = {}
    for g, (field, value, cond) in enumerate(filters):
        prefix = f"searchCriteria[filter_groups][{g}][filters][0]"
        params[f"{prefix}[field]"] = field
        params[f"{prefix}[value]"] = str(value)
        params[f"{prefix}[condition_type]"] = cond
    if page_size is not None:
        params["searchCriteria[pageSize]"] = str(page_size)
    if current_page is not None:
        params["searchCriteria[currentPage]"] = str(current_page)
    if sort:
        params["searchCriteria[sort_orders][0][field]"] = sort[0]
        params["searchCriteria[sort_orders][0][direction]"] = sort[1]
    return params


class MagentoClient:
    def __init__(self, base_url: str, token: Callable[[bool], str], *, store_code: str = "default",
                 connect_timeout: float = 5.0, timeout: float = 10.0,
                 on_call: Callable[[str, str, int | None, float], None] | None = None,
                 deadline: Deadline | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.store_code = store_code
        self._token = token
        self._http = make_client(self.base_url, connect_timeout, timeout)
        self._on_call = on_call
        self.deadline = deadline  # the invocation's time left: no call or retry is started that cannot finish
        self.calls = 0
        # Run before each call: composition pauses the container's pooled Acumatica session here (lent back while
        # other containers wait for one, so no licence seat waits on Magento).
        self.before_call: Callable[[], None] | None = None

    @property
    def call_timeout_s(self) -> float:
        return call_timeout_s(self._http)

    # ------------------------------------------------------------------ transport
    def _request(self, operation: str, method: str, path: str, *, body: Any = None,
                 params: dict[str, str] | None = None) -> Any:
        url = f"/rest/{self.store_code}/V1/{path.lstrip('/')}"
        resp = self._exchange(operation, method, url, body, params, fresh_token=False)
        if resp.status_code == 401:  # the token may have been rotated: fetch it again once
            resp = self._exchange(operation, method, url, body, params, fresh_token=True)
            if resp.status_code == 401:
                raise AuthError(SYSTEM, operation, render_message(_body(resp), "unauthorized"), status=401,
                                body=_body(resp))
        if resp.status_code >= 400:
            b = _body(resp)
            raise classify(SYSTEM, operation, resp.status_code, render_message(b, resp.reason_phrase), b,
                           parse_retry_after(resp.headers.get("Retry-After")))
        return _body(resp)

    def _exchange(self, operation: str, method: str, url: str, body: Any, params: dict[str, str] | None,
                  fresh_token: bool) -> httpx.Response:
        if self.before_call is not None:
            self.before_call()
        headers = {"Authorization": f"Bearer {self._token(fresh_token)}"}
        kwargs: dict[str, Any] = {"headers": headers, "params": params or {}}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["content"] = dumps(body)
        t0 = time.perf_counter()
        self.calls += 1
        resp: httpx.Response | None = None
        try:
            resp = send(self._http, SYSTEM, operation, method, url, deadline=self.deadline, **kwargs)
            return resp
        finally:
            if self._on_call:
                self._on_call(SYSTEM, operation, resp.status_code if resp is not None else None,
                              time.perf_counter() - t0)

    # ------------------------------------------------------------------ reads (retried)
    @retrying()
    def search(self, resource: str, filters: Iterable[tuple[str, Any, str]], **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._request(f"search {resource}", "GET", resource,
                                               params=search_params(filters, **kw))
        return result

    @retrying()
    def get(self, path: str, operation: str) -> Any:
        return self._request(operation, "GET", path)

    def orders_by_ext_id(self, ext_order_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.search("orders", [("ext_order_id", ext_order_id, "eq")],
                                                  page_size=20)["items"]
        return items

    def orders_with_ext_id_since(self, since: str, page_size: int, current_page: int = 1) -> MagentoOrderPage:
        """One page of the orders created at or after ``since`` ("YYYY-MM-DD HH:MM:SS" UTC) that carry an
        ext_order_id, in entity id order (unique, so pages neither skip nor repeat an order)."""
        res = self.search("orders", [("created_at", since, "gteq"), ("ext_order_id", "", "notnull")],
                          page_size=page_size, current_page=current_page, sort=("entity_id", "ASC"))
        return MagentoOrderPage.from_api(res)

    def order(self, entity_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"orders/{entity_id}", "get order")
        return result

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.search("customers/search", [("email", email, "eq")], page_size=20)["items"]
        return items

    def products_by_skus(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(skus))
        res = self.search("products", [("sku", ",".join(wanted), "in")], page_size=max(20, len(wanted)))
        return {p["sku"]: p for p in res["items"]}

    def shipments_of(self, order_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.search("shipments", [("order_id", order_id, "eq")], page_size=100)["items"]
        return items

    def invoices_of(self, order_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.search("invoices", [("order_id", order_id, "eq")], page_size=100)["items"]
        return items

    # ------------------------------------------------------------------ writes
    def create_order(self, entity: dict[str, Any]) -> MagentoOrderSummary:
        """PUT /V1/orders/create: stores Acumatica's prices and totals as sent. Sent once (not idempotent)."""
        result: dict[str, Any] = self._request("create order", "PUT", "orders/create", body={"entity": entity})
        return MagentoOrderSummary.from_api(result)

    def save_order_items(self, entity: dict[str, Any]) -> None:
        """POST /V1/orders naming a saved order (entity_id) and some of its items (item_id): Magento updates the
        columns sent (the connector links a configurable's or bundle's children to their parent item this way)."""
        self._request("save order items", "POST", "orders", body={"entity": entity})

    def find_orders(self, ext_order_id: str) -> list[MagentoOrderSummary]:
        """The orders carrying ``ext_order_id`` (the writer's lookup before a create), parsed."""
        return [MagentoOrderSummary.from_api(o) for o in self.orders_by_ext_id(ext_order_id)]

    def create_customer(self, customer: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._request("create customer", "POST", "customers", body={"customer": customer})
        return result

    def ship(self, order_id: int, body: dict[str, Any]) -> int:
        return int(self._request("ship", "POST", f"order/{order_id}/ship", body=body))

    def invoice(self, order_id: int, body: dict[str, Any]) -> int:
        return int(self._request("invoice", "POST", f"order/{order_id}/invoice", body=body))

    def refund(self, order_id: int, body: dict[str, Any]) -> int:
        """POST /V1/order/{id}/refund: an offline credit memo. Sent once (a second call refunds twice)."""
        return int(self._request("refund", "POST", f"order/{order_id}/refund", body=body))

    def creditmemos_of(self, order_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.search("creditmemos", [("order_id", order_id, "eq")],
                                                  page_size=100)["items"]
        return items

    @retrying()
    def comment(self, order_id: int, comment: str, status: str, visible: bool = False) -> bool:
        history = {"comment": comment, "is_customer_notified": 0, "is_visible_on_front": int(visible),
                   "parent_id": order_id, "status": status}
        return bool(self._request("comment", "POST", f"orders/{order_id}/comments", body={"statusHistory": history}))

    def order_action(self, order_id: int, action: str) -> bool:
        """cancel / hold / unhold: Magento answers true, or false (cancel) when it refuses."""
        return bool(self._request(action, "POST", f"orders/{order_id}/{action}"))

    @retrying()
    def save_source_items(self, items: list[dict[str, Any]]) -> None:
        """Absolute quantities per source (idempotent upsert)."""
        self._request("source-items", "POST", "inventory/source-items", body={"sourceItems": items})

    def estimate_carriers(self, sku: str, country: str = "US", postcode: str = "10001") -> list[dict[str, Any]]:
        """Magento lists its carriers only per cart: a throw-away guest cart with one item asks for them."""
        cart = self._request("guest cart", "POST", "guest-carts")
        self._request("guest cart item", "POST", f"guest-carts/{quote(str(cart))}/items",
                      body={"cartItem": {"sku": sku, "qty": 1, "quote_id": cart}})
        methods: list[dict[str, Any]] = self._request(
            "estimate shipping", "POST", f"guest-carts/{quote(str(cart))}/estimate-shipping-methods",
            body={"address": {"country_id": country, "postcode": postcode}})
        return methods

    # ------------------------------------------------------------------ customers (Magento -> Acumatica)
    def customers_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]:
        """One page of customers with updated_at >= ``since`` ("YYYY-MM-DD HH:MM:SS" UTC), oldest change first."""
        res = self.search("customers/search", [("updated_at", since, "gteq")], page_size=page_size,
                          current_page=current_page, sort=("updated_at", "ASC"))
        items: list[dict[str, Any]] = res.get("items") or []
        return items

    # ------------------------------------------------------------------ credit memos (Magento -> Acumatica)
    def creditmemos_changed_since(self, since: str, page_size: int, current_page: int = 1) -> list[dict[str, Any]]:
        """One page of credit memos with updated_at >= ``since`` (UTC), oldest change first."""
        res = self.search("creditmemos", [("updated_at", since, "gteq")], page_size=page_size,
                          current_page=current_page, sort=("updated_at", "ASC"))
        items: list[dict[str, Any]] = res.get("items") or []
        return items

    def creditmemo(self, entity_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"creditmemo/{int(entity_id)}", "get creditmemo")
        return result

    def returns_of_order(self, order_id: int) -> list[dict[str, Any]] | None:
        """The Adobe Commerce returns (RMA, ``GET /V1/returns``) of an order; None when the store has no such route
        (Magento Open Source answers 404 "Request does not match any route."): the edition is detected, not set."""
        try:
            res = self.search("returns", [("order_id", int(order_id), "eq")], page_size=100)
        except NotFound:
            return None
        items: list[dict[str, Any]] = res.get("items") or []
        return items

    def customer(self, customer_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"customers/{int(customer_id)}", "get customer")
        return result


def _body(resp: httpx.Response) -> Any:
    try:
        return loads(resp.content)
    except ValueError:
        return resp.text


__all__ = ["ApiError", "MagentoClient", "render_message", "search_params"]

