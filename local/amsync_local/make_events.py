"""Regenerate events/: one realistic event per function and scenario, built the way Lambda builds them.

Run: `.venv/bin/python -m amsync_local.make_events`. `sam local invoke -e events/<file> <Function>` takes them
on a machine with Docker; tests/unit/test_events.py checks each parses into its function's model.
"""

from __future__ import annotations

import json

from amsync.models.messages import Kind, MagentoOrderWrite, SyncRequest
from amsync_local.lambda_events import function_url_event, scheduled_event, sqs_record
from amsync_local.template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:amsync-{}"

PUSH_ORDER = {
    "Inserted": [{"OrderType": "SO", "OrderID": "SOT00024", "CustomerID": "AACUSTOMER", "Email": "ap@altaace.com",
                  "Status": "Open", "Branch": "PRODWHOLE", "LastModifiedOn": "2023-10-27T04:51:51.2",
                  "isB2B": False, "isStaffCustomer": False, "UnpaidBalance": 0.0, "OrderTotal": 40.0}],
    "Deleted": [{"OrderType": "SO", "OrderID": "SOT00024", "CustomerID": "AACUSTOMER", "Email": "ap@altaace.com",
                 "Status": "Open", "Branch": "PRODWHOLE", "LastModifiedOn": "2023-10-27T04:50:44.1",
                 "isB2B": False, "isStaffCustomer": False, "UnpaidBalance": 40.0, "OrderTotal": 40.0}],
    "Query": "AMSync-SalesOrders", "CompanyId": "Company", "Id": "b5344897-027e-4d59-b5c3-1bd09f47b9f9",
    "TimeStamp": 638340163112730740, "AdditionalInfo": {"PXPerformanceInfoStartTime": "10/27/2023 04:51:51"},
}
PUSH_WALKTHROUGH_VARIANT = {
    "orders": [{"OrderID": "SOT00024", "OrderType": "SO", "CustomerID": "AACUSTOMER", "Email": "ap@altaace.com",
                "Status": "Open", "Branch": "PRODWHOLE", "LastModifiedOn": "2023-10-27T00:00:00", "isB2B": False,
                "isStaffCustomer": False}],
    "Query": "SALESORDER STATUS", "CompanyId": "Company", "ID": "b5344897-027e-4d59-b5c3-1bd09f47b9f9",
    "Time Stamp": "133428739107273074", "AdditionalInfo": {"PPXPerformanceInfoStartTime": "10/27/2023 12:00:00 AM"},
}


def _url(body: dict[str, object]) -> dict[str, object]:
    return function_url_event("POST", "/", "", {"Content-Type": "application/json", "X-AMSync-Key": "<secret>",
                                                "User-Agent": "Acumatica PushNotifications"},
                              json.dumps(body).encode(), "203.0.113.10", "abcdefghijklmnopqrstuvwxyz012345",
                              "us-east-1")


def _sqs(queue: str, bodies: list[str], group: str | None) -> dict[str, object]:
    records = []
    for n, body in enumerate(bodies):
        attrs = {"ApproximateReceiveCount": "1", "SentTimestamp": "1698382311273", "SenderId": "AROAEXAMPLE",
                 "ApproximateFirstReceiveTimestamp": "1698382311280"}
        if group:
            attrs |= {"MessageGroupId": group, "MessageDeduplicationId": f"dedup-{n}"}
        records.append(sqs_record({"MessageId": f"059f36b4-87a3-44ab-83d2-66197573{n:04d}",
                                   "ReceiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{n}", "Body": body,
                                   "Attributes": attrs}, QUEUE_ARN.format(queue), "us-east-1"))
    return {"Records": records}


def build() -> dict[str, object]:
    order_req = SyncRequest(kind=Kind.ORDER, key="SO/SOT00024", push_id=PUSH_ORDER["Id"], query="AMSync-SalesOrders",
                            timestamp=638340163112730740, hint=PUSH_ORDER["Inserted"][0],  # type: ignore[index]
                            correlation_id="SO/SOT00024", requested_at=1698382311.0)
    shipment_req = SyncRequest(kind=Kind.SHIPMENT, key="005139", order_key="SO/SOT00024", push_id="3f1c2a9e-1",
                               query="AMSync-Shipments", timestamp=638340164970000000,
                               hint={"ShipmentNbr": "005139", "Status": "Confirmed", "OrderType": "SO",
                                     "OrderNbr": "SOT00024"}, correlation_id="SO/SOT00024")
    invoice_req = SyncRequest(kind=Kind.INVOICE, key="Invoice/AR012116", order_key="SO/SOT00024",
                              push_id="3f1c2a9e-2", query="AMSync-SalesInvoices", timestamp=638340166560000000,
                              hint={"Type": "Invoice", "ReferenceNbr": "AR012116", "Status": "Open"},
                              correlation_id="SO/SOT00024")
    stock_req = SyncRequest(kind=Kind.STOCK, key="WATER2809/RETAIL", push_id="3f1c2a9e-3",
                            query="AMSync-StockAvailability", timestamp=638340160440000000,
                            hint={"InventoryID": "WATER2809 ", "WarehouseID": "RETAIL    ", "QtyAvailable": 137.0},
                            correlation_id="WATER2809/RETAIL")
    write = MagentoOrderWrite.build(
        {"ext_order_id": "SOT00024", "store_id": 1, "grand_total": 40.0, "base_grand_total": 40.0,
         "customer_email": "ap@altaace.com", "items": [{"sku": "WATER2809", "qty_ordered": 2, "price": 20.0}]},
        order_key="SO/SOT00024", order_nbr="SOT00024", action="create", acumatica_status="Open",
        correlation_id="SO/SOT00024")
    return {
        "webhook_push_order.json": _url(PUSH_ORDER),
        "webhook_push_walkthrough_variant.json": _url(PUSH_WALKTHROUGH_VARIANT),
        "order_sync_request.json": _sqs("order-requests.fifo", [order_req.model_dump_json()], "SO/SOT00024"),
        "magento_writer_create.json": _sqs("magento-orders.fifo", [write.model_dump_json()], "SO/SOT00024"),
        "fulfilment_shipment.json": _sqs("fulfilment.fifo", [shipment_req.model_dump_json()], "SO/SOT00024"),
        "fulfilment_invoice.json": _sqs("fulfilment.fifo", [invoice_req.model_dump_json()], "SO/SOT00024"),
        "inventory_stock.json": _sqs("inventory", [stock_req.model_dump_json()], None),
        "reconciler_schedule.json": scheduled_event(
            "arn:aws:events:us-east-1:123456789012:rule/amsync-ReconcilerFunctionReconcile", "us-east-1"),
    }


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, event in build().items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")
        print(f"events/{name}")


if __name__ == "__main__":
    main()
