"""Webhook intake without AWS: what each Acumatica push becomes (issues: order sync intake, webhook security)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest

from amsync.models.log import Action, LogEntry, Side
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import DEFAULT_QUERIES
from amsync.services import intake
from amsync.services.intake import UNAUTHENTICATED, Rejection, WebhookSecret, handle_push

HEADER = "X-AMSync-Key"
CURRENT = "test-webhook-secret-1"
PREVIOUS = "test-webhook-secret-0"
GOOD = {HEADER: CURRENT, "Content-Type": "application/json"}
NOW = 1_742_462_544.5
TICKS = 638780593445170000


class FakePorts:
    """IntakePorts in memory: what was published (with the log rows it carries) and refused."""

    def __init__(self, values: tuple[str, ...] = (CURRENT, PREVIOUS)) -> None:
        self._secret = WebhookSecret(HEADER, values)
        self.published: list[SyncRequest] = []
        self.publishes = 0  # SQS requests (the webhook's only AWS request per accepted post)
        self.rejections: list[Rejection] = []
        self.drops: list[tuple[str, list[str]]] = []
        self.publish_error: Exception | None = None

    def secret(self) -> WebhookSecret:
        return self._secret

    def query_kinds(self) -> Mapping[str, Kind]:
        return DEFAULT_QUERIES

    def publish(self, requests: list[SyncRequest]) -> None:
        self.publishes += 1
        if self.publish_error:
            raise self.publish_error
        self.published.extend(requests)

    @property
    def logged(self) -> list[LogEntry]:
        """The log rows the published requests carry (their consumer writes them), in order."""
        return [e for r in self.published for e in r.intake_log]

    def rejected(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def dropped(self, query: str, reasons: list[str]) -> None:
        self.drops.append((query, reasons))

    def wrote_nothing(self) -> bool:
        """Nothing published (so nothing logged either: the rows ride in the requests)."""
        return self.published == [] and self.publishes == 0


def _push(inserted: list[dict[str, Any]] | None = None, deleted: list[dict[str, Any]] | None = None, *,
          query: str = "AMSync-SalesOrders", push_id: str = "3f1c2a9e-7d41-4c55-9a3b-0c2e5d7f8a61") -> dict[str, Any]:
    return {"Inserted": inserted or [], "Deleted": deleted or [], "Query": query, "CompanyId": "MyStore",
            "Id": push_id, "TimeStamp": TICKS, "AdditionalInfo": {"PXPerformanceInfoStartTime": "03/20/2025 09:22:24"}}


def _post(ports: FakePorts, doc: Any, headers: Mapping[str, str] = GOOD, *, raw: bytes | None = None,
          max_bytes: int = 256 * 1024) -> intake.IntakeResult:
    body = raw if raw is not None else json.dumps(doc).encode()
    return handle_push(headers, body, ports, max_bytes=max_bytes, now=lambda: NOW)


def _order(nbr: str, status: str = "Open", order_type: str = "SO", **extra: Any) -> dict[str, Any]:
    return {"OrderType": order_type, "OrderNbr": nbr, "Status": status, "CustomerRefNbr": "MAG-100000123",
            "CuryOrderTotal": 129.90, **extra}


def _nested(depth: int) -> Any:
    inner: Any = 1
    for _ in range(depth):
        inner = {"k": inner}
    return inner


def _no_secret(entries: list[LogEntry]) -> None:
    for e in entries:
        text = e.model_dump_json()
        assert CURRENT not in text and PREVIOUS not in text, text[:300]


# ---------------------------------------------------------------------------------------------- accepted posts

def test_a_real_format_post_with_several_rows_gives_one_request_per_record_with_trimmed_keys() -> None:
    # Given Acumatica's own format: three rows, fixed-width keys padded with spaces, two of them the same order
    ports = FakePorts()
    doc = _push([_order("SOT00024  ", order_type="SO "), _order("SOT00025 "), _order("SOT00024", "Completed")])
    # When it is posted
    result = _post(ports, doc)
    # Then 202 with one request per changed record, keys trimmed, the push's identity carried along
    assert result.status == 202 and result.body == {"status": "accepted", "published": 2}
    assert ports.published == result.requests
    assert [(r.kind, r.key, r.order_key) for r in ports.published] == [
        (Kind.ORDER, "SO/SOT00024", None), (Kind.ORDER, "SO/SOT00025", None)]
    first = ports.published[0]
    assert first.source == "push" and first.push_id == doc["Id"] and first.query == "AMSync-SalesOrders"
    assert first.timestamp == TICKS and first.requested_at == NOW and first.correlation_id == "SO/SOT00024"
    assert not first.deleted_only and first.hint["OrderNbr"] == "SOT00024  "  # the row, as it came, is a hint
    # and all of it is one publish (one SQS request); the first request carries the raw row and its Publisher row,
    # the second its Publisher row
    assert ports.publishes == 1
    assert [[(e.side, e.action) for e in r.intake_log] for r in ports.published] == [
        [(Side.ACUMATICA, None), (Side.MAGENTO, Action.PUBLISHER)], [(Side.MAGENTO, Action.PUBLISHER)]]


def test_the_walkthrough_variant_is_read_as_inserted_rows() -> None:
    # Given the shape the walkthrough's connector log shows: a named row list, "ID" and a string "Time Stamp"
    ports = FakePorts()
    doc = {"orders": [{"OrderID": "SOT00024", "OrderType": "SO", "CustomerID": "AACUSTOMER", "Email": "ap@altaace.com",
                       "Status": "Open", "Branch": "PRODWHOLE", "LastModifiedOn": "2023-10-27T00:00:00",
                       "isB2B": False, "isStaffCustomer": False}],
           "Query": "SALESORDER STATUS", "CompanyId": "Company", "ID": "b5344897-027e-4d59-b5c3-1bd09f47b9f9",
           "Time Stamp": "133428739107273074",
           "AdditionalInfo": {"PPXPerformanceInfoStartTime": "10/27/2023 12:00:00 AM"}}
    result = _post(ports, doc)
    assert result.status == 202 and result.body["published"] == 1
    [req] = ports.published
    assert (req.kind, req.key, req.push_id, req.timestamp) == (
        Kind.ORDER, "SO/SOT00024", "b5344897-027e-4d59-b5c3-1bd09f47b9f9", 133428739107273074)


def test_an_update_pair_is_one_request_built_from_the_new_row() -> None:
    ports = FakePorts()
    result = _post(ports, _push([_order("SOT00024", "Completed")], [_order("SOT00024 ", "Open")]))
    assert result.body["published"] == 1
    [req] = ports.published
    assert req.key == "SO/SOT00024" and not req.deleted_only and req.hint["Status"] == "Completed"


def test_a_lone_deleted_row_is_a_re_read_not_a_deletion() -> None:
    # Given the Deleted half of an update pair that arrived in a post of its own
    ports = FakePorts()
    result = _post(ports, _push(deleted=[_order("SOT00024", "Open")]))
    # Then one request flagged deleted_only (consumers re-read the record), and its Publisher row says so
    [req] = ports.published
    assert result.status == 202 and req.key == "SO/SOT00024" and req.deleted_only
    publisher = [e for e in ports.logged if e.action is Action.PUBLISHER]
    assert [e.message for e in publisher] == ["re-read requested (Deleted row without its Inserted half)"]


def test_payment_rows_become_order_requests_for_the_applied_order() -> None:
    # Given a payment update pair applied to SOT00024, another payment on the same order, one applied to no order
    ports = FakePorts()
    pay = {"Type": "Payment", "ReferenceNbr": "AR005139 ", "OrderType": "SO", "OrderNbr": "SOT00024 ",
           "Status": "Closed"}
    doc = _push([pay, {**pay, "ReferenceNbr": "AR005140"}, {"Type": "Prepayment", "ReferenceNbr": "AR005141"},
                 {"DocType": "Payment", "ReferenceNbr": "AR005142", "OrderID": "SOT00030"}],
                [{**pay, "Status": "Open"}], query="AMSync-Payments")
    result = _post(ports, doc)
    # Then one order request per applied order (the order's eligibility may have changed), none for the loose one
    assert result.status == 202 and result.body["published"] == 2
    assert [(r.kind, r.key, r.order_key, r.deleted_only) for r in ports.published] == [
        (Kind.ORDER, "SO/SOT00024", None, False), (Kind.ORDER, "SO/SOT00030", None, False)]
    assert ports.published[0].hint["via"] == "payment"
    # and its Publisher row says it came from a payment (the timeline's "payment queued"), nothing more of the row
    publisher = next(e for e in ports.logged if e.action is Action.PUBLISHER)
    assert publisher.details["request"]["hint"] == {"via": "payment"}


@pytest.mark.parametrize(("query", "row", "kind", "key", "order_key"), [
    ("AMSync-Shipments", {"ShipmentNbr": "000123 ", "OrderType": "SO", "OrderNbr": "SOT00024"},
     Kind.SHIPMENT, "000123", "SO/SOT00024"),
    ("AMSync-SalesInvoices", {"Type": "Credit Memo", "ReferenceNbr": "AR012116", "OrderNbr": "SOT00024"},
     Kind.INVOICE, "Credit Memo/AR012116", "SO/SOT00024"),
    ("AMSync-StockAvailability", {"InventoryID": "WATER2809 ", "WarehouseID": "RETAIL    ", "QtyOnHand": 263},
     Kind.STOCK, "WATER2809/RETAIL", None),
    ("AMSync-StockAvailability", {"InventoryID": "AALEGO500 ", "SiteID": 7}, Kind.STOCK, "AALEGO500/7", None),
])
def test_each_query_maps_to_its_kind_and_key(query: str, row: dict[str, Any], kind: Kind, key: str,
                                             order_key: str | None) -> None:
    ports = FakePorts()
    assert _post(ports, _push([row], query=query)).status == 202
    [req] = ports.published
    assert (req.kind, req.key, req.order_key) == (kind, key, order_key)


def test_the_same_push_again_is_published_again_with_the_same_deduplication_ids() -> None:
    from amsync.composition import _dedup_key

    ports = FakePorts()
    doc = _push([_order("SOT00024"), _order("SOT00025")])
    assert _post(ports, doc).body == {"status": "accepted", "published": 2}
    first = list(ports.published)
    # When Acumatica resends it (its answer was lost): the webhook cannot tell without a read, and reads nothing
    again = _post(ports, doc)
    # Then it is accepted and published again, each request under the deduplication id of the first: SQS FIFO drops
    # the repeat within five minutes (after that the idempotent consumers absorb it: tests/e2e/test_order_sync.py)
    assert again.status == 202 and again.body == {"status": "accepted", "published": 2}
    assert [_dedup_key(r) for r in again.requests] == [_dedup_key(r) for r in first]
    # while the same Id under another query, or the lone Deleted half of the same record, is another message
    other = _post(ports, {**doc, "Query": "AMSync-Shipments", "Inserted": [{"ShipmentNbr": "000123"}]}).requests
    split = _post(ports, {**doc, "Inserted": [], "Deleted": [_order("SOT00024")]}).requests
    assert split[0].key == first[0].key and split[0].deleted_only
    assert {_dedup_key(other[0]), _dedup_key(split[0])}.isdisjoint(_dedup_key(r) for r in first)


def test_the_carried_rows_have_fixed_distinct_log_ids_in_the_order_of_the_post() -> None:
    ports = FakePorts()
    doc = _push([_order(f"SOT{n:05d}") for n in range(30)])
    result = _post(ports, doc)
    rows = [e for r in result.requests for e in r.intake_log]
    publishers = [e for e in rows if e.side is Side.MAGENTO]
    # Then each row's id starts with the time of receipt (the raw row first, then the requests in order) ...
    received_us = int(round(NOW * 1_000_000))
    assert [int(e.log_id[:16]) for e in rows if e.side is Side.ACUMATICA] == [received_us]
    assert [int(e.log_id[:16]) for e in publishers] == list(range(received_us + 1, received_us + 31))
    assert len({e.log_id for e in publishers}) == 30 and all(len(e.log_id) == 19 for e in rows)
    # ... and is the same when the same post is handled again at the same time (a redelivered message rewrites its
    # rows), but not for another push received in the same microsecond
    assert [e.log_id for r in _post(FakePorts(), doc).requests for e in r.intake_log] == [e.log_id for e in rows]
    other = _post(FakePorts(), {**doc, "Id": "0b6e3c1d-1111-4c55-9a3b-0c2e5d7f8a61"}).requests
    assert [e.log_id for r in other for e in r.intake_log] != [e.log_id for e in rows]
    # and every Publisher row is dated at the receipt
    assert {e.start_time.timestamp() for e in rows} == {NOW}


def test_a_failed_publish_raises_and_writes_nothing_so_the_resend_is_processed() -> None:
    ports = FakePorts()
    ports.publish_error = RuntimeError("SQS is down")
    with pytest.raises(RuntimeError):
        _post(ports, _push([_order("SOT00024")]))
    assert ports.published == []
    ports.publish_error = None
    assert _post(ports, _push([_order("SOT00024")])).body == {"status": "accepted", "published": 1}


# ---------------------------------------------------------------------------------------------- no-ops at the edge

@pytest.mark.parametrize(("query", "row", "why"), [
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderType": "SO", "OrderNbr": "SOT00024", "Status": "Open"},
     "shipment Open"),
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status ": "On Hold  "},
     "shipment On Hold"),
    ("AMSync-SalesInvoices", {"Type": "Invoice", "ReferenceNbr": "AR012116", "OrderNbr": "SOT00024",
                              "Status": "Balanced"}, "invoice Balanced"),
    ("AMSync-SalesInvoices", {"DocType": "Invoice", "ReferenceNbr": "AR012116", "OrderNbr": "SOT00024",
                              "Status": "On Hold"}, "invoice On Hold"),
])
def test_a_row_that_cannot_change_magento_is_dropped_at_the_edge_and_said_so(query: str, row: dict[str, Any],
                                                                            why: str) -> None:
    ports = FakePorts()
    result = _post(ports, _push([row], query=query))
    # Then answered 202 with nothing written at all (no log row, nothing published): the dropped port
    # (a metric and a sampled line) says what was dropped and why
    assert result.status == 202 and result.body == {"status": "dropped", "published": 0, "dropped": 1}
    assert ports.wrote_nothing()
    [(q, [reason])] = ports.drops
    assert q == query and why in reason
    # and its re-send is dropped the same way (a duplicate of a no-op is harmless)
    assert _post(ports, _push([row], query=query)).body["status"] == "dropped" and ports.wrote_nothing()


def test_a_post_mixing_a_no_op_row_and_a_live_one_hands_on_the_live_one_and_logs_the_drop() -> None:
    ports = FakePorts()
    not_ready = {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": "Open"}
    ready = {"ShipmentNbr": "000124", "OrderNbr": "SOT00025", "Status": "Confirmed"}
    result = _post(ports, _push([not_ready, ready], query="AMSync-Shipments"))
    assert result.body == {"status": "accepted", "published": 1, "dropped": 1}
    assert [r.key for r in ports.published] == ["000124"] and ports.drops == []
    raw_entry = next(e for e in ports.logged if e.side is Side.ACUMATICA)
    assert "shipment Open" in raw_entry.details["dropped"][0]


@pytest.mark.parametrize(("query", "row"), [
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": "Confirmed"}),
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": "Completed"}),
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderNbr": "SOT00024"}),  # no Status column: not known
    # a tracked Status that did not change may come back null (Acumatica's digest): not known either
    ("AMSync-Shipments", {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": None}),
    ("AMSync-SalesInvoices", {"Type": "Invoice", "ReferenceNbr": "AR1", "OrderNbr": "SOT00024", "Status": "Open"}),
    ("AMSync-SalesInvoices", {"Type": "Invoice", "ReferenceNbr": "AR1", "OrderNbr": "SOT00024", "Status": "Closed"}),
    ("AMSync-SalesInvoices", {"Type": "Credit Memo", "ReferenceNbr": "AR2", "OrderNbr": "SOT00024",
                              "Status": "Balanced"}),  # not an invoice: its consumer decides
    ("AMSync-SalesOrders", _order("SOT00024", "Open")),
    ("AMSync-StockAvailability", {"InventoryID": "WATER2809", "WarehouseID": "RETAIL", "QtyOnHand": 0}),
])
def test_a_row_that_may_change_magento_is_never_dropped(query: str, row: dict[str, Any]) -> None:
    ports = FakePorts()
    assert _post(ports, _push([row], query=query)).body == {"status": "accepted", "published": 1}


def test_a_lone_deleted_row_is_never_dropped_even_with_a_not_ready_status() -> None:
    ports = FakePorts()
    row = {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": "Open"}
    assert _post(ports, _push(deleted=[row], query="AMSync-Shipments")).body["published"] == 1
    assert ports.published[0].deleted_only


def test_an_update_pair_from_open_to_confirmed_is_handed_on() -> None:
    ports = FakePorts()
    old = {"ShipmentNbr": "000123", "OrderNbr": "SOT00024", "Status": "Open"}
    doc = _push([{**old, "Status": "Confirmed"}], [old], query="AMSync-Shipments")
    assert _post(ports, doc).body == {"status": "accepted", "published": 1}


_SHIP = {"ShipmentNbr": "000123", "ShipmentType": "Shipment", "OrderType": "SO", "OrderNbr": "SOT00024"}
_INV = {"Type": "Invoice", "ReferenceNbr": "AR012116", "OrderType": "SO", "OrderNbr": "SOT00024",
        "ShipmentNbr": "000123"}
_PAY = {"Type": "Payment", "ReferenceNbr": "AR005139", "OrderType": "SO", "OrderNbr": "SOT00024",
        "AppliedToOrder": 40.0}


@pytest.mark.parametrize(("query", "before", "after", "why"), [
    ("AMSync-Shipments", {**_SHIP, "Status": "Confirmed"}, {**_SHIP, "Status": "Invoiced"},
     "shipment Confirmed -> Invoiced: its confirmation was handed on already"),
    ("AMSync-Shipments", {**_SHIP, "Status": "Invoiced"}, {**_SHIP, "Status": "Completed"},
     "shipment Invoiced -> Completed"),
    ("AMSync-Shipments", {**_SHIP, "Status": "Confirmed"}, {**_SHIP, "Status": "Completed "}, "shipment Confirmed"),
    ("AMSync-SalesInvoices", {**_INV, "Status": "Open"}, {**_INV, "Status": "Closed"},
     "invoice Open -> Closed: its release was handed on already"),
    ("AMSync-Payments", {**_PAY, "Status": "Open"}, {**_PAY, "Status": "Closed", "AppliedToOrder": "40.00"},
     "payment Open -> Closed, 40.00 applied to the order as before"),
])
def test_a_document_ready_before_its_update_is_dropped_at_the_edge(query: str, before: dict[str, Any],
                                                                   after: dict[str, Any], why: str) -> None:
    # Given an update pair whose Deleted half shows the document ready (confirmed, released) already: the push that
    # made it so was handed on and synced
    ports = FakePorts()
    result = _post(ports, _push([after], [before], query=query))
    # Then nothing is handed on and nothing written: the later status is no news to Magento
    assert result.body == {"status": "dropped", "published": 0, "dropped": 1} and ports.wrote_nothing()
    [(_, [reason])] = ports.drops
    assert why in reason


@pytest.mark.parametrize(("query", "inserted", "deleted"), [
    # the Inserted half alone (its Deleted half in another post, or none): not known to have been ready
    ("AMSync-Shipments", [{**_SHIP, "Status": "Completed"}], []),
    ("AMSync-SalesInvoices", [{**_INV, "Status": "Closed"}], []),
    ("AMSync-Payments", [{**_PAY, "Status": "Closed"}], []),
    # not ready before: this push is the one that makes it so
    ("AMSync-Shipments", [{**_SHIP, "Status": "Completed"}], [{**_SHIP, "Status": "Open"}]),
    ("AMSync-SalesInvoices", [{**_INV, "Status": "Closed"}], [{**_INV, "Status": "Balanced"}]),
    ("AMSync-Payments", [{**_PAY, "Status": "Open"}], [{**_PAY, "Status": "Balanced"}]),
    # ready both times, but back to Confirmed (a correction), or a credit memo (its own consumer decides)
    ("AMSync-Shipments", [{**_SHIP, "Status": "Confirmed"}], [{**_SHIP, "Status": "Completed"}]),
    ("AMSync-SalesInvoices", [{**_INV, "Type": "Credit Memo", "Status": "Closed"}],
     [{**_INV, "Type": "Credit Memo", "Status": "Open"}]),
    # a payment closed with another amount applied to the order: the order's balance moved
    ("AMSync-Payments", [{**_PAY, "Status": "Closed", "AppliedToOrder": 30.0}], [{**_PAY, "Status": "Open"}]),
    # two payments of one order in one post, one of them live: the order's request goes on
    ("AMSync-Payments", [{**_PAY, "Status": "Closed"}, {**_PAY, "ReferenceNbr": "AR005140", "Status": "Open"}],
     [{**_PAY, "Status": "Open"}, {**_PAY, "ReferenceNbr": "AR005140", "Status": "Balanced"}]),
])
def test_an_update_that_may_change_magento_is_handed_on(query: str, inserted: list[dict[str, Any]],
                                                        deleted: list[dict[str, Any]]) -> None:
    ports = FakePorts()
    assert _post(ports, _push(inserted, deleted, query=query)).body == {"status": "accepted", "published": 1}
    assert not ports.published[0].deleted_only


def test_the_edge_statuses_are_the_consumers() -> None:
    from amsync.services import fulfilment

    assert intake.SHIPMENT_READY == fulfilment.SHIPPABLE and intake.INVOICE_READY == fulfilment.RELEASED


def test_the_accepted_post_is_logged_raw_with_its_json_and_a_publisher_row_per_request() -> None:
    ports = FakePorts()
    doc = _push([_order("SOT00024"), _order("SOT00025")])
    raw = json.dumps(doc).encode()
    _post(ports, doc, raw=raw)
    raw_entry, *publishers = ports.logged
    assert raw_entry.side is Side.ACUMATICA and raw_entry.level == "INFO" and raw_entry.action_type == "Order Sync"
    assert raw_entry.message == raw.decode() and json.loads(raw_entry.message) == doc and raw_entry.details == {}
    assert raw_entry.entity_key == "SOT00024"
    assert [(e.side, e.action, e.notes, e.message) for e in publishers] == [
        (Side.MAGENTO, Action.PUBLISHER, "SOT00024", "queued"), (Side.MAGENTO, Action.PUBLISHER, "SOT00025", "queued")]
    assert publishers[0].details["request"]["key"] == "SO/SOT00024"
    # the Publisher row does not repeat the push row (the raw row holds it; its e-mail would double the row)
    assert "hint" not in publishers[0].details["request"]
    _no_secret(ports.logged)


def test_a_post_longer_than_the_logged_head_keeps_its_json_in_the_details() -> None:
    ports = FakePorts()
    doc = _push([_order(f"SOT{n:05d}") for n in range(40)])
    raw = json.dumps(doc).encode()
    assert len(raw) > intake.LOG_HEAD
    _post(ports, doc, raw=raw)
    raw_entry = ports.logged[0]
    assert len(raw_entry.message) == intake.LOG_HEAD and raw_entry.details == {"push": doc}


# ---------------------------------------------------------------------------------------------- the secret

@pytest.mark.parametrize(("presented", "accepted"), [
    (CURRENT, True), (PREVIOUS, True), ("test-webhook-secret-2", False), ("", False), (CURRENT.upper(), False),
    (f" {CURRENT} ", False), (f"{CURRENT},{PREVIOUS}", False), ("tëst-webhook-secret-1", False),
])
def test_both_live_secrets_are_accepted_and_both_are_compared_every_time(
        monkeypatch: pytest.MonkeyPatch, presented: str, accepted: bool) -> None:
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(intake.hmac, "compare_digest", spy)
    ports = FakePorts()
    result = _post(ports, _push([_order("SOT00024")]), {HEADER.lower(): presented, "content-type": "application/json"})
    assert (result.status == 202) is accepted
    # every live value is compared, whichever matches (or none): timing tells nothing
    assert compared == [CURRENT.encode(), PREVIOUS.encode()]
    if not accepted:
        assert result.status == 401 and result.body == {"error": UNAUTHENTICATED}
        assert ports.wrote_nothing()


def test_one_live_secret_only_compares_that_one() -> None:
    secret = WebhookSecret.from_secret({"header": HEADER, "current": CURRENT, "previous": ""})
    assert secret.values == (CURRENT,)
    with pytest.raises(ValueError, match="needs 'header' and 'current'"):
        WebhookSecret.from_secret({"header": HEADER, "current": ""})


def test_every_authentication_failure_gets_the_same_answer_naming_no_header() -> None:
    # Given a stranger probing: no header, the header under other names, twice, with wrong values
    probes: list[dict[str, str]] = [{}, {"Authorization": f"Bearer {CURRENT}"}, {"X-Api-Key": CURRENT},
                                    {HEADER: "nope"}, {HEADER.lower(): "nope"},
                                    {HEADER: "nope", HEADER.lower(): CURRENT}]
    answers = set()
    for headers in probes:
        ports = FakePorts()
        result = _post(ports, _push([_order("SOT1")]), {**headers, "Content-Type": "application/json"})
        answers.add((result.status, json.dumps(result.body)))
        # Then nothing is written, and the operator's line says which check failed
        assert ports.wrote_nothing()
        [rejection] = ports.rejections
        assert rejection.status == 401 and HEADER in rejection.note
    # Then every probe gets one and the same 401: a right header name with a wrong value answers like a wrong name
    assert answers == {(401, json.dumps({"error": UNAUTHENTICATED}))}
    assert "key" not in UNAUTHENTICATED.lower() and "header" not in UNAUTHENTICATED.lower()


@pytest.mark.parametrize(("headers", "body", "status", "reason"), [
    ({}, None, 401, "not authenticated"),
    ({"Authorization": f"Bearer {CURRENT}"}, None, 401, "not authenticated"),
    ({HEADER: "nope"}, None, 401, "not authenticated"),
    ({HEADER: "nope", HEADER.lower(): CURRENT}, None, 401, "not authenticated"),
    ({HEADER: "nope"}, {**_push([_order("SOT1")]), HEADER: CURRENT}, 401, "not authenticated"),
    ({}, {"secret": CURRENT, "note": f"my key is {CURRENT} and {PREVIOUS}"}, 401, "not authenticated"),
    ({f"X-{CURRENT}": "1"}, None, 401, "not authenticated"),
    (GOOD, {**_push([_order("SOT1")]), "Query": f"q-{CURRENT}"}, 422, "unknown query 'q-***'"),
    (GOOD, {**_push([_order("SOT1")]), "Note": CURRENT}, 422, "Note: Extra inputs are not permitted"),
])
def test_a_rejected_post_writes_nothing_and_is_reported_without_the_secret(
        headers: dict[str, str], body: Any, status: int, reason: str) -> None:
    ports = FakePorts()
    result = _post(ports, body or _push([_order("SOT1")]), headers)
    assert result.status == status and reason in result.body["error"]
    assert CURRENT not in result.body["error"]
    # nothing goes to the connector log, the queues or the push markers (all DynamoDB / SQS)
    assert ports.wrote_nothing()
    # the report for the (sampled) CloudWatch line: the answer, the check, sizes and header names, no secret
    [rejection] = ports.rejections
    assert rejection.status == status and rejection.reason == result.body["error"]
    assert rejection.body_bytes == len(json.dumps(body or _push([_order("SOT1")])).encode())
    assert set(rejection.header_names) == {h.lower().replace(CURRENT, "***") for h in headers}
    assert not any(s in repr(rejection) for s in (CURRENT, PREVIOUS))


def test_the_secret_is_scrubbed_even_where_the_logged_head_of_the_body_is_cut() -> None:
    ports = FakePorts()
    # Given an accepted post whose raw text has a secret straddling the cut of the logged head (LOG_HEAD characters)
    doc = _push([_order("SOT1", Comment="")])
    prefix = json.dumps(doc).index('"Comment": ""') + len('"Comment": "')
    doc["Inserted"][0]["Comment"] = "x" * (intake.LOG_HEAD - 15 - prefix) + CURRENT + "y" * 500
    raw = json.dumps(doc).encode()
    assert raw.index(CURRENT.encode()) == intake.LOG_HEAD - 15
    assert _post(ports, doc, raw=raw).status == 202
    head = ports.logged[0].message
    assert "x***y" in head and len(head) == intake.LOG_HEAD
    assert "test-w" not in head


def test_the_secret_in_an_accepted_post_is_not_logged() -> None:
    ports = FakePorts()
    doc = _push([_order("SOT00024", Comment=f"key {CURRENT}")])
    assert _post(ports, doc).status == 202
    _no_secret(ports.logged)


# ---------------------------------------------------------------------------------------------- content type

@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
    'application/json; charset="utf-8"', "application/json ; charset=utf8",
])
def test_what_acumatica_sends_is_accepted(content_type: str) -> None:
    ports = FakePorts()
    result = _post(ports, _push([_order("SOT1")]), {HEADER: CURRENT, "content-type": content_type})
    assert result.status == 202 and result.body["published"] == 1


@pytest.mark.parametrize(("content_type", "reason"), [
    (None, "no Content-Type: push notifications are sent as application/json"),
    ("text/plain", "Content-Type 'text/plain' is not supported: push notifications are sent as application/json"),
    ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded' is not supported"),
    ("multipart/form-data; boundary=x", "'multipart/form-data; boundary=x' is not supported"),
    ("application/xml", "is not supported"),
    ("text/json", "is not supported"),
    ("application/jsonp", "is not supported"),
    ("application/json-patch+json", "is not supported"),
    ("", "Content-Type '' is not supported"),
    ("application/json, text/plain", "is not supported"),
    ("application/json; charset=iso-8859-1", "the body must be UTF-8"),
    ("application/json; charset=utf-16", "the body must be UTF-8"),
])
def test_any_other_content_type_is_415_with_the_reason_and_writes_nothing(content_type: str | None,
                                                                          reason: str) -> None:
    ports = FakePorts()
    headers = {HEADER: CURRENT} | ({"Content-Type": content_type} if content_type is not None else {})
    result = _post(ports, _push([_order("SOT1")]), headers)
    assert result.status == 415 and reason in result.body["error"], result.body
    assert ports.wrote_nothing() and [r.status for r in ports.rejections] == [415]


def test_the_content_type_is_checked_after_the_secret() -> None:
    # a stranger learns nothing from the content type: without the secret every post is 401
    ports = FakePorts()
    assert _post(ports, _push([_order("SOT1")]), {HEADER: "nope", "Content-Type": "text/plain"}).status == 401


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("raw", "status", "reason"), [
    (b"", 400, "not valid JSON"),
    (b'{"Query": "AMSync-SalesOrders", "Query": "x"}', 400, "duplicate key 'Query'"),
    (json.dumps(_push([_order("SOT1")])).replace('"Open"', "NaN").encode(), 400, "NaN is not a number"),
    (json.dumps(_push([_order("SOT1")])).replace('"Open"', "1e400").encode(), 400, "not finite"),
    (json.dumps(_push([_order("SOT1")])).replace('"Open"', "1" * 30).encode(), 400, "integer of 30 digits"),
    (json.dumps(_push([_order("SOT1")])).replace("Open", "\\udc00").encode(), 400, "lone surrogate (U+DC00)"),
    (json.dumps(_push([_order("SOT1")])).replace("Open", "\\u0007").encode(), 400,
     "control character (U+0007) at body.Inserted[0].Status"),
    (json.dumps(_push([_order("SOT1")])).encode().replace(b"Open", b"\xc3\x28"), 400, "body is not UTF-8"),
    (b"\xef\xbb\xbf{}", 400, "byte-order mark"),
    (b"[" * 5000 + b"]" * 5000, 400, "nested deeper than 10 levels"),
    (json.dumps({**_push([_order("SOT1")]), "AdditionalInfo": _nested(10)}).encode(), 400,
     "nested deeper than 10 levels (at body.AdditionalInfo.k.k.k.k.k.k.k.k.k)"),
    (b"[]", 422, "the body must be a JSON object"),
    (json.dumps(_push()).encode(), 422, "no Inserted or Deleted rows"),
    (json.dumps(_push([{"OrderType": "SO", "Status": "Open"}])).encode(), 422,
     "Inserted[0] has no OrderNbr or OrderID value (query 'AMSync-SalesOrders')"),
    (json.dumps(_push([_order("SO1' OR '1'='1")])).encode(), 422, "OrderNbr value \"SO1' OR '1'='1\" is not"),
    (json.dumps(_push([_order("SOT1", order_type="S/O")])).encode(), 422, "OrderType value 'S/O' is not"),
    (json.dumps(_push([_order("SOT1")], query="AMSync-Customers")).encode(), 422, "unknown query 'AMSync-Customers'"),
    (json.dumps(_push([_order("SOT1")], push_id="a b")).encode(), 422, "Id: String should match pattern"),
    (json.dumps({**_push([_order("SOT1")]), "TimeStamp": "１２３"}).encode(), 422, "TimeStamp must be an integer"),
    (json.dumps({**_push([_order("SOT1")]), "TimeStamp": 2**63}).encode(), 422, "TimeStamp"),
    (json.dumps(_push([_order(f"S{i}") for i in range(1001)])).encode(), 422, "more than 1000 rows"),
    (json.dumps(_push([_order("SOT1", Note="n" * 17_000)])).encode(), 422, "bytes (limit 16000 bytes)"),
    (json.dumps(_push([_order("SOT1", **{"Bad;Name": 1})])).encode(), 422, "invalid column name 'Bad;Name'"),
])
def test_bad_input_gets_a_4xx_with_a_clear_reason_and_writes_nothing(raw: bytes, status: int, reason: str) -> None:
    ports = FakePorts()
    result = _post(ports, None, raw=raw)
    assert result.status == status and reason in result.body["error"], result.body
    assert ports.wrote_nothing() and result.requests == []
    [rejection] = ports.rejections
    assert (rejection.status, rejection.reason, rejection.body_bytes) == (status, result.body["error"], len(raw))


def test_the_size_limit_is_checked_before_parsing() -> None:
    ports = FakePorts()
    raw = json.dumps(_push([_order("SOT1")])).encode()
    result = _post(ports, None, raw=raw, max_bytes=len(raw) - 1)
    assert result.status == 413 and result.body == {
        "error": f"body of {len(raw)} bytes is over the {len(raw) - 1}-byte limit"}
    assert ports.wrote_nothing()
    assert ports.rejections[0].body_bytes == len(raw)


def test_the_secret_is_checked_before_the_body() -> None:
    ports = FakePorts()
    result = _post(ports, None, {HEADER: "nope"}, raw=b"x" * 1000, max_bytes=10)
    assert result.status == 401


@pytest.mark.parametrize("rows", [100, 250])
def test_a_large_valid_post_fits_sqs_messages_and_batches(rows: int) -> None:
    from amsync.data.queues import BATCH_BYTES, _batches, _entry

    # Given a post of 100 or 250 rows of about 1 KB each (the second over the size a whole post rides along)
    ports = FakePorts()
    doc = _push([_order(f"SOT{i:05d}", Note="n" * 900) for i in range(rows)])
    raw = json.dumps(doc).encode()
    result = _post(ports, doc, max_bytes=10**7)
    assert result.status == 202 and result.body["published"] == rows
    # Then every message stays below SQS's 256 KiB, the first carrying the raw row: the whole post while it fits
    # CARRIED_POST_MAX, else its head and its size
    sizes = [len(r.model_dump_json().encode()) for r in ports.published]
    assert max(sizes) < 256 * 1024 and max(sizes[1:]) < 5_000
    raw_entry = ports.logged[0]
    assert len(raw_entry.message) == intake.LOG_HEAD
    if len(raw) <= intake.CARRIED_POST_MAX:
        assert raw_entry.details == {"push": doc}
    else:
        assert raw_entry.details["push_bytes"] == len(raw) and "push" not in raw_entry.details
    # and the SendMessageBatch calls hold at most 10 messages and 256 KiB each, all of them, in order
    entries = [_entry("https://sqs/q.fifo", n, r, r.group_id, "d") for n, r in enumerate(ports.published)]
    batches = _batches([dict(e) for e in entries])
    assert [e["MessageBody"] for b in batches for e in b] == [e["MessageBody"] for e in entries]
    assert all(len(b) <= 10 and sum(len(str(e["MessageBody"]).encode()) for e in b) <= BATCH_BYTES for b in batches)
    assert all([e["Id"] for e in b] == [str(i) for i in range(len(b))] for b in batches)
