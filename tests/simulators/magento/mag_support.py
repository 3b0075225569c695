"""Fixtures: one simulator per session on port 0 (reset before each test) and a contract-checking client."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "local") not in sys.path:  # the editable install may predate local/magento_sim
    sys.path.insert(0, str(ROOT / "local"))

from magento_sim import MagentoSimulator  # noqa: E402


def _load_contract() -> ModuleType:
    path = ROOT / "tests" / "contracts" / "magento" / "contract.py"
    spec = importlib.util.spec_from_file_location("magento_contract", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["magento_contract"] = module
    spec.loader.exec_module(module)
    return module


contract = _load_contract()
SEEN_OPERATIONS: set[str] = set()


class Api:
    """httpx client on ``/rest/<store>/V1`` that checks every request and response against the swagger."""

    def __init__(self, sim: MagentoSimulator, token: str | None, store: str = "default") -> None:
        self.sim, self.store = sim, store
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=f"{sim.url}/rest/{store}/V1", headers=headers, timeout=5.0)

    def call(self, method: str, path: str, body: Any = None, params: Any = None, *, check: bool = True,
             check_request: bool | None = None, timeout: float | None = None) -> httpx.Response:
        """``check=False`` skips both validations; ``check_request=False`` only the request's."""
        if (check if check_request is None else check_request) and body is not None:
            SEEN_OPERATIONS.add(contract.validate_request(method, "/V1" + path, body))
        kw: dict[str, Any] = {"params": params}
        if body is not None:
            kw["json"] = body
        if timeout is not None:
            kw["timeout"] = timeout
        resp = self.http.request(method, path, **kw)
        if check and resp.headers.get("content-type", "").startswith("application/json"):
            SEEN_OPERATIONS.add(contract.validate_response(method, "/V1" + path, resp.status_code, resp.json()))
        return resp

    def get(self, path: str, params: Any = None, **kw: Any) -> httpx.Response:
        return self.call("GET", path, params=params, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("PUT", path, body, **kw)


@pytest.fixture(scope="session")
def _sim() -> Iterator[MagentoSimulator]:
    sim = MagentoSimulator(hang_seconds=1.5)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(_sim: MagentoSimulator) -> MagentoSimulator:
    _sim.reset()
    return _sim


@pytest.fixture
def api(sim: MagentoSimulator) -> Iterator[Api]:
    client = Api(sim, sim.token)
    yield client
    client.http.close()


def sc(*groups: list[tuple[str, Any, str | None]], sort: list[tuple[str, str]] | None = None,
       page_size: int | None = None, page: int | None = None, camel: bool = False) -> dict[str, str]:
    """searchCriteria query params: ``sc([("email", "a@b", "eq")], [("x", 1, None), ...])``."""
    fg, cond = ("filterGroups", "conditionType") if camel else ("filter_groups", "condition_type")
    out: dict[str, str] = {}
    for g, filters in enumerate(groups):
        for i, (fld, value, ctype) in enumerate(filters):
            base = f"searchCriteria[{fg}][{g}][filters][{i}]"
            out[f"{base}[field]"] = fld
            out[f"{base}[value]"] = str(value)
            if ctype:
                out[f"{base}[{cond}]"] = ctype
    for i, (fld, direction) in enumerate(sort or []):
        out[f"searchCriteria[sort_orders][{i}][field]"] = fld
        out[f"searchCriteria[sort_orders][{i}][direction]"] = direction
    if page_size is not None:
        out["searchCriteria[pageSize]"] = str(page_size)
    if page is not None:
        out["searchCriteria[currentPage]"] = str(page)
    return out


ADDRESS = {"city": "Seattle", "country_id": "US", "firstname": "Alta", "lastname": "Ace", "postcode": "98104",
           "telephone": "+1 206 555 0101", "street": ["3933 Ace Ave"], "region_code": "WA", "email": "ap@altaace.com"}


def order_body(items: list[tuple[str, float, float]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A realistic PUT /orders/create body (Acumatica's prices; items = (sku, qty, price))."""
    lines = items or [("WATER2809", 2, 20.0)]
    subtotal = sum(q * p for _, q, p in lines)
    entity: dict[str, Any] = {
        "ext_order_id": "SOT00024", "store_id": 1, "state": "new", "status": "pending",
        "customer_email": "ap@altaace.com", "customer_firstname": "Alta", "customer_lastname": "Ace",
        "customer_id": 101, "customer_is_guest": 0, "customer_group_id": 1,
        "base_currency_code": "USD", "order_currency_code": "USD", "global_currency_code": "USD",
        "store_currency_code": "USD", "base_to_global_rate": 1, "base_to_order_rate": 1,
        "subtotal": subtotal, "base_subtotal": subtotal, "shipping_amount": 5.0, "base_shipping_amount": 5.0,
        "tax_amount": 0, "base_tax_amount": 0, "discount_amount": 0, "grand_total": subtotal + 5.0,
        "base_grand_total": subtotal + 5.0, "total_qty_ordered": sum(q for _, q, _ in lines),
        "shipping_description": "Flat Rate - Fixed",
        "items": [{"sku": s, "name": s + "_", "product_type": "simple", "qty_ordered": q, "price": p,
                   "base_price": p, "original_price": p, "row_total": q * p, "base_row_total": q * p,
                   "is_virtual": 0, "store_id": 1} for s, q, p in lines],
        "billing_address": dict(ADDRESS, address_type="billing"),
        "payment": {"method": "checkmo", "account_status": None, "additional_information": [], "cc_last4": None},
        "extension_attributes": {"shipping_assignments": [{
            "shipping": {"address": dict(ADDRESS, address_type="shipping"), "method": "flatrate_flatrate"},
            "items": []}]},
    }
    entity["payment"] = {"method": "checkmo", "account_status": "", "additional_information": [], "cc_last4": ""}
    entity.update(overrides)
    return {"entity": entity}


def create_order(api: Api, items: list[tuple[str, float, float]] | None = None, **overrides: Any) -> dict[str, Any]:
    resp = api.put("/orders/create", order_body(items, **overrides))
    assert resp.status_code == 200, resp.text
    return resp.json()
