"""The walkthrough's clicks in Acumatica and looks in Magento, as REST calls a user's screen would make.

Used by `make demo`, the end-to-end tests, the chaos harness and the benchmark. It talks to the simulators
through their public REST APIs only (as a person would through the UI), never to the connector.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx


def val(record: dict[str, Any], field: str) -> Any:
    v = record.get(field)
    return v.get("value") if isinstance(v, dict) else v


def wrap(data: dict[str, Any]) -> dict[str, Any]:
    return {k: {"value": v} for k, v in data.items()}


class AcumaticaUser:
    """A logged-in Acumatica user (cookie session) clicking through the walkthrough."""

    def __init__(self, url: str, endpoint: str, username: str, password: str, tenant: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = f"{url.rstrip('/')}{endpoint}"
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30, transport=transport)
        r = self.http.post("/entity/auth/login", json={"name": username, "password": password, "tenant": tenant})
        r.raise_for_status()

    @classmethod
    def from_endpoints(cls, endpoints: dict[str, Any], transport: httpx.BaseTransport | None = None) -> AcumaticaUser:
        a = endpoints["acumatica"]
        return cls(a["url"], a["endpoint"], a["username"], a["password"], a["tenant"], transport)

    def close(self) -> None:
        self.http.post("/entity/auth/logout")
        self.http.close()

    def _ok(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            raise RuntimeError(f"Acumatica {r.request.method} {r.request.url.path}: {r.status_code} {r.text[:500]}")
        return r

    def action(self, entity: str, action: str, keys: dict[str, Any], params: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"entity": wrap(keys), "parameters": wrap(params or {})}
        r = self._ok(self.http.post(f"{self.base}/{entity}/{action}", json=body))
        deadline = time.monotonic() + 30
        while r.status_code == 202 and time.monotonic() < deadline:
            r = self._ok(self.http.get(r.headers["Location"]))

    def get(self, entity: str, *keys: str, expand: str | None = None) -> dict[str, Any]:
        params = {"$expand": expand} if expand else {}
        result: dict[str, Any] = self._ok(self.http.get(f"{self.base}/{entity}/" + "/".join(keys),
                                                        params=params)).json()
        return result

    # ------------------------------------------------------------------ the walkthrough's steps
    def create_order(self, customer: str = "AACUSTOMER", lines: list[tuple[str, int]] | None = None,
                     ship_via: str = "LOCAL", warehouse: str = "RETAIL", hold: bool = False,
                     extra: dict[str, Any] | None = None, order_type: str = "SO") -> str:
        """Step 1: a sales order (2 x WATER2809, Ship Via LOCAL by default). Returns the order number."""
        body: dict[str, Any] = {
            **wrap({"OrderType": order_type, "CustomerID": customer, "Hold": hold, **(extra or {})}),
            "ShippingSettings": wrap({"ShipVia": ship_via}),
            "Details": [wrap({"InventoryID": sku, "OrderQty": qty, "WarehouseID": warehouse})
                        for sku, qty in (lines or [("WATER2809", 2)])],
        }
        r = self._ok(self.http.put(f"{self.base}/SalesOrder", json=body))
        return str(val(r.json(), "OrderNbr"))

    def order(self, order_nbr: str, expand: str = "Totals,Details,Shipments,Payments",
              order_type: str = "SO") -> dict[str, Any]:
        return self.get("SalesOrder", order_type, order_nbr, expand=expand)

    def unpaid_balance(self, order_nbr: str, order_type: str = "SO") -> Decimal:
        return Decimal(str(val(self.order(order_nbr, "Totals", order_type)["Totals"], "UnpaidBalance")))

    def record_payment(self, order_nbr: str, amount: Decimal | None = None, customer: str = "AACUSTOMER",
                       order_type: str = "SO") -> str:
        """Step 5: a payment applied to the order, released: its unpaid balance drops to 0.00."""
        amount = amount if amount is not None else self.unpaid_balance(order_nbr, order_type)
        body = {**wrap({"Type": "Payment", "CustomerID": customer, "PaymentMethod": "CHECK",
                        "PaymentAmount": float(amount), "PaymentRef": f"CHK-{order_nbr}"}),
                "OrdersToApply": [wrap({"OrderType": order_type, "OrderNbr": order_nbr,
                                        "AppliedToOrder": float(amount)})]}
        p = self._ok(self.http.put(f"{self.base}/Payment", json=body)).json()
        self.action("Payment", "ReleasePayment", {"Type": val(p, "Type"), "ReferenceNbr": val(p, "ReferenceNbr")})
        return str(val(p, "ReferenceNbr"))

    def create_shipment(self, order_nbr: str, warehouse: str = "RETAIL", date: str = "2023-10-27",
                        order_type: str = "SO") -> str:
        """Step 9: Create Shipment from the order. Returns the shipment number."""
        before = {val(s, "ShipmentNbr") for s in self.order(order_nbr, "Shipments", order_type).get("Shipments", [])}
        self.action("SalesOrder", "SalesOrderCreateShipment", {"OrderType": order_type, "OrderNbr": order_nbr},
                    {"ShipmentDate": date, "WarehouseID": warehouse})
        after = [val(s, "ShipmentNbr") for s in self.order(order_nbr, "Shipments", order_type).get("Shipments", [])]
        return str(next(s for s in after if s not in before))

    def add_package(self, shipment_nbr: str, tracking: str, box: str = "SMALL", weight: float = 1.0) -> None:
        body = {**wrap({"ShipmentNbr": shipment_nbr}),
                "Packages": [wrap({"BoxID": box, "TrackingNbr": tracking, "Weight": weight})]}
        self._ok(self.http.put(f"{self.base}/Shipment", json=body))

    def set_shipped_qty(self, shipment_nbr: str, line_nbr: int, qty: float) -> None:
        shp = self.get("Shipment", shipment_nbr, expand="Details")
        line = next(d for d in shp["Details"] if val(d, "LineNbr") == line_nbr)
        body = {**wrap({"ShipmentNbr": shipment_nbr}), "Details": [{"id": line["id"], **wrap({"ShippedQty": qty})}]}
        self._ok(self.http.put(f"{self.base}/Shipment", json=body))

    def confirm_shipment(self, shipment_nbr: str) -> None:
        """Step 10: Confirm Shipment."""
        self.action("Shipment", "ConfirmShipment", {"ShipmentNbr": shipment_nbr})

    def prepare_invoice(self, shipment_nbr: str) -> str:
        self.action("Shipment", "PrepareInvoice", {"ShipmentNbr": shipment_nbr})
        shp = self.get("Shipment", shipment_nbr, expand="Orders")
        return str(val(shp["Orders"][0], "InvoiceNbr"))

    def release_invoice(self, invoice_nbr: str, doc_type: str = "Invoice") -> None:
        """Step 12: Release the invoice."""
        self.action("SalesInvoice", "ReleaseSalesInvoice", {"Type": doc_type, "ReferenceNbr": invoice_nbr})

    def take_return(self, invoice_nbr: str, qty: int, sku: str = "WATER2809", line_nbr: int = 1,
                    price: str | None = None, customer: str = "AACUSTOMER", warehouse: str = "RETAIL") -> str:
        """A customer return in Acumatica: an RC order whose line is added from the original invoice (Add Invoice),
        received (Create Receipt, Confirm), its credit memo prepared from the receipt and released. Returns the
        credit memo's number."""
        line: dict[str, Any] = {"InventoryID": sku, "OrderQty": qty, "WarehouseID": warehouse,
                                "InvoiceType": "Invoice", "InvoiceNbr": invoice_nbr, "InvoiceLineNbr": line_nbr}
        if price is not None:
            line["UnitPrice"] = price
        body = {**wrap({"OrderType": "RC", "CustomerID": customer}), "Details": [wrap(line)]}
        rc = str(val(self._ok(self.http.put(f"{self.base}/SalesOrder", json=body)).json(), "OrderNbr"))
        self.action("SalesOrder", "SalesOrderCreateReceipt", {"OrderType": "RC", "OrderNbr": rc})
        [receipt] = self.order(rc, "Shipments", order_type="RC")["Shipments"]
        self.confirm_shipment(str(val(receipt, "ShipmentNbr")))
        memo = self.prepare_invoice(str(val(receipt, "ShipmentNbr")))
        self.release_invoice(memo, doc_type="Credit Memo")
        return memo

    def take_credit_memo_order(self, invoice_nbr: str, qty: int, sku: str = "WATER2809", line_nbr: int = 1,
                               customer: str = "AACUSTOMER", warehouse: str = "RETAIL") -> str:
        """A return on the credit memo order type: a CR order whose line is added from the original invoice, billed
        at once (Prepare Invoice: a Credit Memo, no receipt) and released. Returns the credit memo's number."""
        line = {"InventoryID": sku, "OrderQty": qty, "WarehouseID": warehouse, "InvoiceType": "Invoice",
                "InvoiceNbr": invoice_nbr, "InvoiceLineNbr": line_nbr}
        body = {**wrap({"OrderType": "CR", "CustomerID": customer}), "Details": [wrap(line)]}
        cr = str(val(self._ok(self.http.put(f"{self.base}/SalesOrder", json=body)).json(), "OrderNbr"))
        self.action("SalesOrder", "PrepareSalesInvoice", {"OrderType": "CR", "OrderNbr": cr})
        memos = self._ok(self.http.get(f"{self.base}/SalesInvoice", params={
            "$filter": "Type eq 'Credit Memo'", "$expand": "Details"})).json()
        [memo] = [str(val(m, "ReferenceNbr")) for m in memos
                  if any(val(d, "OrderType") == "CR" and val(d, "OrderNbr") == cr for d in m.get("Details") or [])]
        self.release_invoice(memo, doc_type="Credit Memo")
        return memo

    def enter_credit_memo(self, invoice_nbr: str, qty: int, sku: str = "WATER2809", line_nbr: int = 1,
                          customer: str = "AACUSTOMER") -> str:
        """A credit memo entered on its own (Invoices, SO303000, type Credit Memo), its line naming the original
        invoice line (Orig. Inv. Nbr. / Line Nbr.), released. Returns its number."""
        line = {"InventoryID": sku, "Qty": qty, "OrigInvType": "Invoice", "OrigInvNbr": invoice_nbr,
                "OrigInvLineNbr": line_nbr}
        body = {**wrap({"Type": "Credit Memo", "CustomerID": customer}), "Details": [wrap(line)]}
        memo = str(val(self._ok(self.http.put(f"{self.base}/SalesInvoice", json=body)).json(), "ReferenceNbr"))
        self.release_invoice(memo, doc_type="Credit Memo")
        return memo


class MagentoViewer:
    """What the merchant looks at in the Magento admin, read through the REST API."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=f"{url.rstrip('/')}/rest/default/V1",
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)

    @classmethod
    def from_endpoints(cls, endpoints: dict[str, Any]) -> MagentoViewer:
        return cls(endpoints["magento"]["url"], endpoints["magento"]["token"])

    def _search(self, resource: str, field: str, value: Any) -> list[dict[str, Any]]:
        params = {"searchCriteria[filter_groups][0][filters][0][field]": field,
                  "searchCriteria[filter_groups][0][filters][0][value]": str(value)}
        r = self.http.get(resource, params=params)
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    def orders_for(self, acumatica_nbr: str) -> list[dict[str, Any]]:
        return self._search("orders", "ext_order_id", acumatica_nbr)

    def shipments_of(self, order_id: int) -> list[dict[str, Any]]:
        return self._search("shipments", "order_id", order_id)

    def invoices_of(self, order_id: int) -> list[dict[str, Any]]:
        return self._search("invoices", "order_id", order_id)

    def source_items(self, sku: str) -> list[dict[str, Any]]:
        return self._search("inventory/source-items", "sku", sku)
