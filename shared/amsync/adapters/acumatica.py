"""Acumatica contract-based REST client (endpoint Default/24.200.001 by default).

One instance per warm container holds one API session (a licence seat): OAuth 2.0 password grant when the
secret carries a client id (the token's session closes itself after an hour), otherwise a cookie login that is
re-established when it expires and logged out on shutdown. With a ``lender`` (session policy ``pool``) it holds no
session of its own: it borrows one of the licence's OAuth sessions for its Acumatica calls and lends it back at the
end of each invocation, and before the container's Magento calls (``pause``) while other containers wait for one.
Reads and keyed PUTs are retried on retryable errors; actions (create shipment, release...) are not, since they
are not idempotent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from amsync.adapters.errors import ApiError, AuthError, OutOfTime, RateLimited, classify, parse_retry_after
from amsync.adapters.http import call_timeout_s, dumps, loads, make_client, retrying, send
from amsync.deadline import Deadline
from amsync.models.acumatica import PooledToken, SalesOrderState

SYSTEM = "Acumatica"
COOKIE_IDLE_S = 600.0  # a cookie session nobody closes ends after 10 idle minutes


class SeatGuard(Protocol):
    """Licence seats shared by every container (raises RateLimited when none is free)."""

    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def hold_until(self, session_left_s: float) -> None: ...


class TokenLender(Protocol):
    """The licence's OAuth sessions shared by every container (``data/tokens.py``); ``borrow`` raises
    RateLimited (or OutOfTime) when every session is lent."""

    def borrow(self) -> PooledToken: ...
    def keep(self, token: PooledToken) -> None: ...
    def give_back(self) -> None: ...
    def contended(self) -> bool: ...


LOGIN_LIMIT_TEXT = "API Login Limit"
REFRESH_MARGIN_S = 120.0  # a pooled access token this close to its end is renewed before it is used


def _error_message(body: Any, fallback: str) -> str:
    """Acumatica's words: the HttpError's exceptionMessage, or the per-field errors of a 422 record."""
    if isinstance(body, dict):
        if "error_description" in body or (isinstance(body.get("error"), str) and len(body) <= 3):
            # the OAuth token endpoint's shape: {"error": "invalid_grant", "error_description": "..."}
            return f"{body.get('error')}: {body.get('error_description', '')}".strip(": ")
        if body.get("exceptionMessage") or body.get("message"):
            return str(body.get("exceptionMessage") or body.get("message"))
        fields = list(_field_errors(body))
        if fields:
            return "; ".join(f"{path}: {msg}" for path, msg in fields)
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


def _oauth_client(creds: Mapping[str, Any]) -> dict[str, str]:
    """The OAuth client's id (with Acumatica's "@<Tenant>" suffix) and secret, from the connector's secret."""
    tenant = creds.get("tenant", "")
    client_id = creds["client_id"] if "@" in creds["client_id"] or not tenant else f"{creds['client_id']}@{tenant}"
    return {"client_id": client_id, "client_secret": creds.get("client_secret", "")}


def _invalid_grant(resp: httpx.Response) -> bool:
    """A refresh token Acumatica no longer honours ({"error": "invalid_grant"} with no other reason)."""
    try:
        body = resp.json()
    except ValueError:
        return False
    return (isinstance(body, dict) and body.get("error") == "invalid_grant"
            and LOGIN_LIMIT_TEXT.lower() not in str(body.get("error_description", "")).lower())


def _field_errors(record: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(record, dict):
        if isinstance(record.get("error"), str) and record["error"]:
            yield path or "record", record["error"]
        for k, v in record.items():
            if k != "error":
                yield from _field_errors(v, f"{path}.{k}" if path else k)
    elif isinstance(record, list):
        for i, v in enumerate(record):
            yield from _field_errors(v, f"{path}[{i}]")


class AcumaticaClient:
    def __init__(self, base_url: str, endpoint: str, credentials: Callable[[], dict[str, Any]], *,
                 connect_timeout: float = 5.0, timeout: float = 10.0,
                 on_call: Callable[[str, str, int | None, float], None] | None = None,
                 seats: SeatGuard | None = None, keep_session: bool = True,
                 deadline: Deadline | None = None, lender: TokenLender | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline  # the invocation's time left: no call or retry is started that cannot finish
        self._seats = seats
        self._lender = lender
        self._lent: PooledToken | None = None  # the pooled session borrowed for the current Acumatica calls
        self.keep_session = keep_session
        self.endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._http = make_client(self.base_url, connect_timeout, timeout)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self._cookie_session = False
        self._on_call = on_call
        self.calls = 0

    @property
    def call_timeout_s(self) -> float:
        return call_timeout_s(self._http)

    # ------------------------------------------------------------------ session
    def _login(self) -> None:
        if self._seats is not None:
            self._seats.acquire()  # raises RateLimited when every licence seat is held
        try:
            self._sign_in()
        except ApiError:
            if self._seats is not None:
                self._seats.release()
            raise

    def _sign_in(self) -> None:
        creds = self._credentials()
        if creds.get("client_id"):
            self._oauth(creds)
            return
        body = {"name": creds["username"], "password": creds["password"], "tenant": creds.get("tenant", "")}
        if creds.get("branch"):
            body["branch"] = creds["branch"]
        resp = self._exchange("login", "POST", "/entity/auth/login", content=dumps(body),
                              headers={"Content-Type": "application/json"}, authenticated=False)
        if resp.status_code != 204 and resp.status_code != 200:
            raise self._error("login", resp)
        self._cookie_session = True

    def _oauth(self, creds: dict[str, Any]) -> None:
        form = {**_oauth_client(creds), "grant_type": "password", "username": creds["username"],
                "password": creds["password"], "scope": "api"}
        resp = self._exchange("token", "POST", "/identity/connect/token", data=form, authenticated=False)
        if resp.status_code != 200:
            raise self._error("token", resp)
        data = resp.json()
        self._token = data["access_token"]
        self._token_expires = time.monotonic() + float(data.get("expires_in", 3600)) - 60

    def _ensure_session(self) -> None:
        with self._lock:
            if self._token and time.monotonic() < self._token_expires:
                return
            if self._cookie_session:
                return
            self._token = None
            if self._lender is not None:
                self._borrow()
            else:
                self._login()

    def _borrow(self) -> None:
        """Use a pooled session: its access token while it has time left, else renew the grant (refresh token,
        the same session and seat) or, for an empty slot or a chain that no longer refreshes, a new grant. A
        renewed grant goes back into the slot at once."""
        assert self._lender is not None
        if self._lent is None:
            self._lent = self._lender.borrow()
        lent = self._lent
        if not lent.access_token or lent.expires_at - time.time() < REFRESH_MARGIN_S:
            try:
                lent = self._grant(lent)
            except ApiError:
                self._lend_back_unlocked()
                raise
            self._lender.keep(lent)
            self._lent = lent
        self._token = lent.access_token
        self._token_expires = time.monotonic() + (lent.expires_at - time.time()) - 60

    def _grant(self, lent: PooledToken) -> PooledToken:
        creds = self._credentials()
        base = _oauth_client(creds)
        resp: httpx.Response | None = None
        if lent.refresh_token:
            resp = self._exchange("token refresh", "POST", "/identity/connect/token", authenticated=False,
                                  data={**base, "grant_type": "refresh_token", "refresh_token": lent.refresh_token})
            if resp.status_code != 200 and not (resp.status_code == 400 and _invalid_grant(resp)):
                raise self._error("token refresh", resp)
        if resp is None or resp.status_code != 200:  # an empty slot, or a refresh token Acumatica no longer knows
            resp = self._exchange("token", "POST", "/identity/connect/token", authenticated=False,
                                  data={**base, "grant_type": "password", "username": creds["username"],
                                        "password": creds["password"], "scope": "api offline_access"})
            if resp.status_code != 200:
                raise self._error("token", resp)
        data = resp.json()
        return PooledToken(lent.slot, data["access_token"], data.get("refresh_token") or lent.refresh_token,
                           time.time() + float(data.get("expires_in", 3600)))

    def pause(self) -> None:
        """Before the container's Magento calls: lend the pooled session back if other containers want one
        (contended); otherwise it is kept until the invocation ends (two writes an invocation, not a spell)."""
        if self._lender is not None and self._lent is not None and self._lender.contended():
            self.lend_back()

    def lend_back(self) -> None:
        """Give the pooled session back (at the end of an invocation, or when paused); no-op otherwise."""
        if self._lender is None or self._lent is None:
            return
        with self._lock:
            self._lend_back_unlocked()

    def _lend_back_unlocked(self) -> None:
        if self._lender is not None and self._lent is not None:
            self._token = None
            self._lent = None
            self._lender.give_back()

    def _drop_session(self) -> None:
        with self._lock:
            if self._lent is not None:  # Acumatica refused the pooled token: renew it before the next call
                self._lent = PooledToken(self._lent.slot, "", self._lent.refresh_token, 0.0)
            self._token = None
            self._cookie_session = False
            self._http.cookies.clear()

    def logout(self) -> None:
        """Give the licence seat back: log a cookie session out, revoke a token. Both are idempotent, so a failed
        attempt is tried again. A session that still cannot be closed stays this container's: its seat lease is
        stretched to the session's end, the next invocation uses the session and tries the logout again."""
        if self._lender is not None:
            self.lend_back()  # pooled sessions live on for the other containers
            return
        had_session = self._cookie_session or self._token is not None
        if not had_session:
            return
        for attempt in range(3):
            try:
                self._close_session()
            except OutOfTime:
                break  # the invocation ends: the lease is stretched instead (sleeping on would outlive it)
            except ApiError:
                pause = 0.2 * (attempt + 1)
                if self.deadline is not None and not self.deadline.fits(pause):
                    break
                time.sleep(pause)
                continue
            self._drop_session()
            if self._seats is not None:
                self._seats.release()
            return
        session_left = (max(0.0, self._token_expires - time.monotonic()) + 60.0 if self._token is not None
                        else COOKIE_IDLE_S)
        if self._seats is not None:
            self._seats.hold_until(session_left)

    def _close_session(self) -> None:
        if self._cookie_session:
            resp = self._exchange("logout", "POST", "/entity/auth/logout", authenticated=False, may_shorten=True)
        else:
            creds = self._credentials()
            resp = self._exchange("revoke", "POST", "/identity/connect/revocation", authenticated=False,
                                  may_shorten=True, data={"token": self._token, "token_type_hint": "access_token",
                                        "client_id": creds.get("client_id", ""),
                                        "client_secret": creds.get("client_secret", "")})
        if resp.status_code >= 500 or resp.status_code == 429:
            raise self._error("logout", resp)

    def end_invocation(self) -> None:
        """Called after each invocation: with scarce seats the session is given back at once."""
        if self._lender is not None:
            self.lend_back()
        elif not self.keep_session:
            self.logout()

    # ------------------------------------------------------------------ transport
    def _exchange(self, operation: str, method: str, url: str, *, authenticated: bool = True,
                  **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if authenticated and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        t0 = time.perf_counter()
        self.calls += 1
        resp: httpx.Response | None = None
        try:
            resp = send(self._http, SYSTEM, operation, method, url, headers=headers, deadline=self.deadline,
                        **kwargs)
            return resp
        finally:
            if self._on_call:
                self._on_call(SYSTEM, operation, resp.status_code if resp is not None else None,
                              time.perf_counter() - t0)

    def _error(self, operation: str, resp: httpx.Response) -> ApiError:
        try:
            body: Any = loads(resp.content)
        except ValueError:
            body = resp.text
        message = _error_message(body, resp.reason_phrase)
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if LOGIN_LIMIT_TEXT.lower() in message.lower():
            return RateLimited(SYSTEM, operation, message, status=resp.status_code, body=body,
                               retry_after=retry_after or 5.0)
        return classify(SYSTEM, operation, resp.status_code, message, body, retry_after)

    def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authenticated call; one fresh login if the session has expired (401)."""
        self._ensure_session()
        resp = self._exchange(operation, method, path, **kwargs)
        if resp.status_code == 401:
            self._drop_session()
            self._ensure_session()
            resp = self._exchange(operation, method, path, **kwargs)
            if resp.status_code == 401:
                raise AuthError(SYSTEM, operation, "credentials refused", status=401)
        if resp.status_code >= 400:
            raise self._error(operation, resp)
        return resp

    def _entity_url(self, entity: str, *keys: str) -> str:
        return "/".join([self.endpoint, entity, *(quote(k.strip(), safe="") for k in keys)])

    # ------------------------------------------------------------------ generic operations
    @retrying()
    def get(self, entity: str, *keys: str, expand: str | None = None, select: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("$expand", expand), ("$select", select)) if v}
        resp = self._call(f"GET {entity}", "GET", self._entity_url(entity, *keys), params=params)
        result: dict[str, Any] = loads(resp.content)
        return result

    @retrying()
    def list_records(self, entity: str, *, filter: str | None = None, expand: str | None = None,
             select: str | None = None, top: int | None = None, skip: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {k: v for k, v in (("$filter", filter), ("$expand", expand), ("$select", select),
                                                    ("$top", top), ("$skip", skip)) if v is not None}
        resp = self._call(f"LIST {entity}", "GET", self._entity_url(entity), params=params)
        result: list[dict[str, Any]] = loads(resp.content) or []
        return result

    @retrying()
    def put(self, entity: str, body: dict[str, Any], *, select: str | None = None,
            update_only: bool = False) -> dict[str, Any]:
        """Create-or-update (idempotent for a body that names its keys); ``update_only`` sends If-Match: *."""
        headers = {"Content-Type": "application/json"}
        if update_only:
            headers["If-Match"] = "*"
        params = {"$select": select} if select else {}
        resp = self._call(f"PUT {entity}", "PUT", self._entity_url(entity), content=dumps(body), headers=headers,
                          params=params)
        result: dict[str, Any] = loads(resp.content) or {}
        return result

    @retrying()
    def inquiry(self, entity: str, body: dict[str, Any], expand: str = "Results") -> dict[str, Any]:
        """Inquiries are read with PUT (the filter in the body, rows in Results)."""
        resp = self._call(f"INQUIRY {entity}", "PUT", self._entity_url(entity), content=dumps(body),
                          headers={"Content-Type": "application/json"}, params={"$expand": expand})
        result: dict[str, Any] = loads(resp.content) or {}
        return result

    def action(self, entity: str, action: str, keys: dict[str, Any], parameters: dict[str, Any] | None = None,
               poll_timeout: float = 60.0) -> None:
        """Run an action; 202 + Location is polled until 204. Not retried (not idempotent)."""
        body = {"entity": keys, "parameters": parameters or {}}
        resp = self._call(f"ACTION {entity}.{action}", "POST", f"{self._entity_url(entity)}/{action}",
                          content=dumps(body), headers={"Content-Type": "application/json"})
        location = resp.headers.get("Location")
        deadline = time.monotonic() + poll_timeout
        pause = 0.05  # a quick action is seen done at once; a long one is polled every second, not hammered
        while resp.status_code == 202 and location:
            if time.monotonic() > deadline:
                raise ApiError(SYSTEM, action, f"still running after {poll_timeout:.0f}s")
            time.sleep(pause)
            pause = min(1.0, pause * 2)
            resp = self._call(f"POLL {action}", "GET", location)

    # ------------------------------------------------------------------ named reads the connector uses
    ORDER_EXPAND = ("Details,Totals,ShippingSettings,BillToAddress,ShipToAddress,BillToContact,ShipToContact,Payments,"
                    "TaxDetails")

    def sales_order(self, order_type: str, order_nbr: str) -> dict[str, Any]:
        return self.get("SalesOrder", order_type, order_nbr, expand=self.ORDER_EXPAND)

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self.get("Customer", customer_id, expand="MainContact")

    def tax_category(self, category_id: str) -> dict[str, Any]:
        """A tax category with the taxes it carries (Details: TaxID; ExcludeListedTaxes inverts the list)."""
        return self.get("TaxCategory", category_id, expand="Details")

    def ship_vias(self) -> list[dict[str, Any]]:
        return self.list_records("ShipVia", select="CarrierID,Description")

    def write_back_external_ref(self, order_type: str, order_nbr: str, value: str) -> SalesOrderState:
        """Put ``value`` on the order's ExternalRef; returns the order's state as Acumatica answered the write."""
        body = {"OrderType": {"value": order_type}, "OrderNbr": {"value": order_nbr}, "ExternalRef": {"value": value}}
        return SalesOrderState.from_api(self.put("SalesOrder", body, update_only=True,
                                                 select="OrderType,OrderNbr,ExternalRef,Status,Hold,LastModified"))

    def sales_order_state(self, order_type: str, order_nbr: str) -> SalesOrderState:
        """The order's status and hold now (a narrow read)."""
        return SalesOrderState.from_api(self.get("SalesOrder", order_type, order_nbr,
                                                 select="OrderType,OrderNbr,Status,Hold,LastModified"))

    # ------------------------------------------------------------------ customers (Magento -> Acumatica)
    CUSTOMER_EXPAND = "MainContact/Address,BillingContact/Address,ShippingContact/Address"

    def customer_by_id(self, customer_id: str) -> dict[str, Any] | None:
        """The customer with its contacts, or None (a filtered list: GET by key answers 500 when it is missing)."""
        found = self.list_records("Customer", filter=f"CustomerID eq '{odata_text(customer_id)}'",
                                  expand=self.CUSTOMER_EXPAND)
        return found[0] if found else None

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        """Customers whose main contact has this e-mail (Acumatica compares case-insensitively)."""
        return self.list_records("Customer", filter=f"MainContact/Email eq '{odata_text(email)}'",
                                 expand=self.CUSTOMER_EXPAND)

    def save_customer(self, body: dict[str, Any], update_only: bool = False) -> dict[str, Any]:
        """PUT Customer keyed by CustomerID: idempotent (the same body twice leaves one customer)."""
        return self.put("Customer", body, update_only=update_only)

    # ------------------------------------------------------------------ returns (Magento credit memos)
    def returns_by_ref(self, order_type: str, external_ref: str) -> list[dict[str, Any]]:
        """Return orders of ``order_type`` carrying this ExternalRef (the lookup before create)."""
        return self.list_records("SalesOrder", filter=f"OrderType eq '{odata_text(order_type)}' and "
                                                      f"ExternalRef eq '{odata_text(external_ref)}'")

    def order_invoices(self, order_type: str, order_nbr: str) -> list[dict[str, Any]]:
        """The invoices (with their lines) billing the order's shipments: what a return line links to."""
        o = self.get("SalesOrder", order_type, order_nbr, expand="Shipments")
        refs = sorted({(str((s.get("InvoiceType") or {}).get("value") or "Invoice"),
                        str((s.get("InvoiceNbr") or {}).get("value")))
                       for s in o.get("Shipments") or [] if (s.get("InvoiceNbr") or {}).get("value")})
        return [self.get("SalesInvoice", t, n, expand="Details") for t, n in refs]

    def returns_for(self, order_type: str, customer_order: str) -> list[dict[str, Any]]:
        """Return orders of ``order_type`` made for this customer order (the Magento order number), with lines."""
        return self.list_records("SalesOrder", expand="Details",
                                 filter=f"OrderType eq '{odata_text(order_type)}' and "
                                        f"CustomerOrder eq '{odata_text(customer_order)}'")

    def create_return(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT a new return order: not retried (a body without OrderNbr creates one more order each time)."""
        resp = self._call("PUT SalesOrder (return)", "PUT", self._entity_url("SalesOrder"), content=dumps(body),
                          headers={"Content-Type": "application/json"}, params={"$expand": "Details"})
        result: dict[str, Any] = loads(resp.content) or {}
        return result

    def receive_return(self, order_type: str, order_nbr: str) -> list[str]:
        """Receipt of a return order into stock: SalesOrderCreateReceipt when it has no receipt yet, then
        ConfirmShipment of each open receipt (so a retry after a lost answer neither doubles nor skips one)."""
        def receipts() -> list[dict[str, Any]]:
            o = self.get("SalesOrder", order_type, order_nbr, expand="Shipments")
            return [s for s in o.get("Shipments") or [] if (s.get("ShipmentType") or {}).get("value") == "Receipt"]
        found = receipts()
        if not found:
            self.action("SalesOrder", "SalesOrderCreateReceipt",
                        {"OrderType": {"value": order_type}, "OrderNbr": {"value": order_nbr}})
            found = receipts()
        done = []
        for s in found:
            nbr = str((s.get("ShipmentNbr") or {}).get("value"))
            if (s.get("Status") or {}).get("value") == "Open":
                self.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}})
            done.append(nbr)
        return done

    def receive_return_units(self, order_type: str, order_nbr: str, units: Mapping[str, Decimal]) -> list[str]:
        """A receipt of some units of a return order (``units``: item -> quantity): its open receipt (an earlier
        attempt's) or a new one (SalesOrderCreateReceipt, for every open quantity), its lines set to ``units``
        (``ShippedQty`` by line id, the other lines removed: idempotent), then ConfirmShipment."""
        def open_receipts() -> list[str]:
            o = self.get("SalesOrder", order_type, order_nbr, expand="Shipments")
            return [str((s.get("ShipmentNbr") or {}).get("value")) for s in o.get("Shipments") or []
                    if (s.get("ShipmentType") or {}).get("value") == "Receipt"
                    and (s.get("Status") or {}).get("value") == "Open"]
        found = open_receipts()
        if not found:
            self.action("SalesOrder", "SalesOrderCreateReceipt",
                        {"OrderType": {"value": order_type}, "OrderNbr": {"value": order_nbr}})
            found = open_receipts()
        for nbr in found:
            left = {k.upper(): v for k, v in units.items()}
            rows: list[dict[str, Any]] = []
            for ln in self.get("Shipment", nbr, expand="Details").get("Details") or []:
                sku = str((ln.get("InventoryID") or {}).get("value") or "").upper()
                have = Decimal(str((ln.get("ShippedQty") or {}).get("value") or 0))
                take = min(left.get(sku, Decimal(0)), have)
                left[sku] = left.get(sku, Decimal(0)) - take
                rows.append({"id": ln["id"], "ShippedQty": {"value": take}} if take > 0
                            else {"id": ln["id"], "delete": True})
            self.put("Shipment", {"ShipmentNbr": {"value": nbr}, "Details": rows})
            self.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}})
        return found


def odata_text(value: str) -> str:
    """A string literal's inside for $filter (single quotes doubled)."""
    return value.replace("'", "''")


def changed_since(client: AcumaticaClient, entity: str, stamp_field: str, since: str, *, select: str | None = None,
                  expand: str | None = None, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Records of ``entity`` modified after ``since`` (ISO 8601 with offset), page by page."""
    skip = 0
    while True:
        page = client.list_records(entity, filter=f"{stamp_field} gt datetimeoffset'{since}'", select=select,
                                   expand=expand, top=page_size, skip=skip)
        yield from page
        if len(page) < page_size:
            return
        skip += page_size


def quantities_changed_since(client: AcumaticaClient, since: str) -> list[dict[str, Any]]:
    """Items whose available quantity changed after ``since`` (the InventoryQuantityAvailable inquiry)."""
    result = client.inquiry("InventoryQuantityAvailable", {"LastModifiedDateTime": {"value": since}})
    rows: list[dict[str, Any]] = result.get("Results", [])
    return rows
