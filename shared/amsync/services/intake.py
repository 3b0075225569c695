"""Webhook intake: authenticate, parse, log, dedupe and publish Acumatica push notifications.

It answers fast (Acumatica re-sends on any non-2xx or timeout, up to five times): nothing here calls Acumatica
or Magento. Every post is logged in the Acumatica connector log, accepted or not.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from amsync.models.log import Action, Group, LogEntry, Result, Side
from amsync.models.messages import Kind, SyncRequest
from amsync.models.push import PushNotification, Row, clean

ACTION_TYPE = {Kind.ORDER: "Order Sync", Kind.PAYMENT: "Payment Sync", Kind.SHIPMENT: "Shipment Sync",
               Kind.INVOICE: "Invoice Sync", Kind.STOCK: "Inventory Sync"}
LOG_GROUP = {Kind.ORDER: Group.ORDER, Kind.PAYMENT: Group.ORDER, Kind.SHIPMENT: Group.SHIPMENT,
             Kind.INVOICE: Group.INVOICE, Kind.STOCK: Group.INVENTORY}


class PushRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WebhookSecret:
    """The destination's custom header and its accepted values (two during a rotation)."""

    header: str
    values: tuple[str, ...]

    @classmethod
    def from_secret(cls, data: Mapping[str, Any]) -> WebhookSecret:
        values = tuple(str(v) for v in (data.get("current"), data.get("previous")) if v)
        if not data.get("header") or not values:
            raise ValueError("webhook secret needs 'header' and 'current' (and optionally 'previous')")
        return cls(str(data["header"]), values)

    def matches(self, presented: str) -> bool:
        # compare against every live value, always, so timing says nothing about which one (or none) matched
        results = [hmac.compare_digest(presented.encode(), v.encode()) for v in self.values]
        return any(results)


class IntakePorts(Protocol):
    def secret(self) -> WebhookSecret: ...
    def query_kinds(self) -> Mapping[str, Kind]: ...
    def push_seen(self, query: str, push_id: str) -> bool: ...
    def mark_push_seen(self, query: str, push_id: str) -> None: ...
    def publish(self, requests: list[SyncRequest]) -> None: ...
    def log(self, entries: list[LogEntry]) -> None: ...


@dataclass
class IntakeResult:
    status: int
    body: dict[str, Any]
    requests: list[SyncRequest] = field(default_factory=list)


def _key_of(kind: Kind, row: Row) -> tuple[str, str | None]:
    """(record key, sales order key) of a push row; raises KeyError naming a missing column."""
    def col(*names: str) -> str:
        for n in names:
            if clean(row.get(n)):
                return clean(row.get(n))
        raise KeyError(" or ".join(names))

    def order_key() -> str | None:
        nbr = next((clean(row.get(n)) for n in ("OrderNbr", "OrderID") if clean(row.get(n))), "")
        return f"{clean(row.get('OrderType')) or 'SO'}/{nbr}" if nbr else None

    if kind is Kind.ORDER:
        return f"{col('OrderType')}/{col('OrderNbr', 'OrderID')}", None
    if kind is Kind.PAYMENT:
        return f"{col('Type', 'DocType')}/{col('ReferenceNbr')}", order_key()
    if kind is Kind.SHIPMENT:
        return col("ShipmentNbr"), order_key()
    if kind is Kind.INVOICE:
        return f"{col('Type', 'DocType')}/{col('ReferenceNbr')}", order_key()
    return f"{col('InventoryID')}/{col('WarehouseID', 'SiteID')}", None


def _requests(push: PushNotification, kind: Kind, received: float) -> list[SyncRequest]:
    """One request per changed record; an update's Deleted+Inserted pair is one record, a lone Deleted a re-read."""
    out: dict[tuple[str, str | None], SyncRequest] = {}
    for rows, deleted in ((push.inserted, False), (push.deleted, True)):
        for n, row in enumerate(rows):
            try:
                key, order_key = _key_of(kind, row)
            except KeyError as exc:
                side = "Deleted" if deleted else "Inserted"
                raise PushRejected(422, f"{side}[{n}] has no {exc.args[0]} value (query {push.query!r})") from None
            if (key, order_key) in out:
                continue
            req_kind = kind
            if kind is Kind.PAYMENT:
                if order_key is None:
                    continue  # a payment applied to no order changes no order's eligibility
                req_kind, key, order_key = Kind.ORDER, order_key, None
            out[(key, order_key)] = SyncRequest(
                kind=req_kind, key=key, order_key=order_key, source="push", push_id=push.id, query=push.query,
                timestamp=push.timestamp, deleted_only=deleted,
                hint=dict(row) | ({"via": "payment"} if kind is Kind.PAYMENT else {}),
                correlation_id=order_key or key, requested_at=received,
            )
    return list(out.values())


def _notes(req: SyncRequest) -> str:
    return (req.order_key or req.key).split("/")[-1] if req.kind is not Kind.STOCK else req.key.split("/")[0]


def _authenticate(headers: Mapping[str, str], secret: WebhookSecret) -> None:
    presented = next((v for k, v in headers.items() if k.lower() == secret.header.lower()), None)
    if presented is None:
        raise PushRejected(401, f"missing the {secret.header} header configured on the Acumatica push destination")
    if not secret.matches(presented):
        raise PushRejected(401, f"the {secret.header} header does not match the configured secret")


def _parse(raw: bytes, max_bytes: int) -> PushNotification:
    if len(raw) > max_bytes:
        raise PushRejected(413, f"body of {len(raw)} bytes is over the {max_bytes}-byte limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PushRejected(400, f"body is not valid JSON: {exc}") from None
    try:
        return PushNotification.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PushRejected(422, f"not an Acumatica push notification: {where}: {first['msg']}") from None


def handle_push(headers: Mapping[str, str], raw: bytes, ports: IntakePorts, *, max_bytes: int,
                now: Callable[[], float]) -> IntakeResult:
    """Answer one webhook post: 202 with what was published, or a 4xx with the reason."""
    received = now()
    try:
        _authenticate(headers, ports.secret())
        push = _parse(raw, max_bytes)
        kind = ports.query_kinds().get(push.query.strip())
        if kind is None:
            raise PushRejected(422, f"unknown query {push.query!r}: map it to an entity kind in the push-queries "
                                    f"preference (known: {', '.join(sorted(ports.query_kinds()))})")
        requests = _requests(push, kind, received)
    except PushRejected as rej:
        ports.log([_rejection_entry(rej, raw)])
        return IntakeResult(rej.status, {"error": rej.reason})

    raw_entry = LogEntry(side=Side.ACUMATICA, level="INFO", action_type=ACTION_TYPE[kind],
                         message=raw.decode("utf-8", "replace")[:2000], entity_key=_entity(requests),
                         correlation_id=_entity(requests), details={"push": json.loads(raw)})
    if ports.push_seen(push.query, push.id):
        raw_entry.message = f"duplicate of an accepted push (Query {push.query!r}, Id {push.id}); nothing published"
        ports.log([raw_entry])
        return IntakeResult(202, {"status": "duplicate", "published": 0})
    ports.publish(requests)
    stamp = datetime.fromtimestamp(received, UTC)
    publisher_rows = [
        LogEntry(side=Side.MAGENTO, group=LOG_GROUP[kind], action=Action.PUBLISHER, result=Result.SUCCESS,
                 start_time=stamp, complete_time=stamp, notes=_notes(r), entity_key=_notes(r),
                 correlation_id=r.correlation_id,
                 message="re-read requested (Deleted row without its Inserted half)" if r.deleted_only else "queued",
                 details={"request": r.model_dump(mode="json")})
        for r in requests
    ]
    ports.log([raw_entry, *publisher_rows])
    ports.mark_push_seen(push.query, push.id)
    return IntakeResult(202, {"status": "accepted", "published": len(requests)}, requests)


def _entity(requests: list[SyncRequest]) -> str:
    return _notes(requests[0]) if requests else ""


def _rejection_entry(rej: PushRejected, raw: bytes) -> LogEntry:
    text = raw[:2000].decode("utf-8", "replace")
    return LogEntry(side=Side.ACUMATICA, level="ERROR", action_type="Rejected push",
                    message=f"HTTP {rej.status}: {rej.reason}", details={"status": rej.status, "body_head": text})
