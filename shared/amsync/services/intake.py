"""Webhook intake: authenticate, parse and publish Acumatica push notifications (one SQS request per post).

It answers fast (Acumatica re-sends on any non-2xx or timeout, up to five times): nothing here calls Acumatica
or Magento, and nothing here touches DynamoDB. An accepted post is one ``publish`` (a SendMessageBatch): one
request per record, each with a FIFO deduplication id of (query, push Id, record, Inserted or lone-Deleted half),
so SQS drops Acumatica's re-send of a post within its five-minute window; a later repeat is absorbed by the
idempotent consumers (docs/architecture.md, "Exactly once"). The post's connector-log rows (the raw post on the
Acumatica side, a Publisher row per request on the Magento side) ride in the requests (``intake_log``) with log
ids fixed here, and the consumer writes them in its invocation's one log write.

A refused post writes nothing anywhere in DynamoDB or SQS (the Function URL is public: a flood of junk must cost
little): it is answered 4xx with the reason and reported to the ``rejected`` port (a sampled CloudWatch line and a
metric). A post whose every row cannot change Magento (``no_op``) is answered 202 and writes nothing either, only
the ``dropped`` port's metric and sampled line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from pydantic import ValidationError

from amsync.models.log import Action, Group, LogEntry, Result, Side
from amsync.models.messages import Kind, SyncRequest
from amsync.models.push import PushNotification, Row, clean

ACTION_TYPE = {Kind.ORDER: "Order Sync", Kind.PAYMENT: "Payment Sync", Kind.SHIPMENT: "Shipment Sync",
               Kind.INVOICE: "Invoice Sync", Kind.STOCK: "Inventory Sync"}
LOG_GROUP = {Kind.ORDER: Group.ORDER, Kind.PAYMENT: Group.ORDER, Kind.SHIPMENT: Group.SHIPMENT,
             Kind.INVOICE: Group.INVOICE, Kind.STOCK: Group.INVENTORY}

MAX_DEPTH = 10  # object > row list > row is 3 deep; AdditionalInfo may nest a little, never more
MAX_INT_DIGITS = 20
LOG_HEAD = 2000  # characters of a raw post kept in the connector log
# A post up to this size rides whole in its first request when its head was cut (the raw row's details); a larger
# one keeps its head and its size only: an SQS message holds 256 KiB, and the request carries its push row too.
CARRIED_POST_MAX = 128 * 1024
# Acumatica key values (order, shipment and document numbers, types, inventory and warehouse IDs) once trimmed:
# ASCII letters, digits, inner spaces and a little punctuation. "/" joins key parts; quotes, ";", "$", braces,
# "<>", backslash, "|" and "%" only ever serve injection; anything outside ASCII cannot name an SQS FIFO group.
KEY_VALUE = re.compile(r"[A-Za-z0-9 _.,#&+():@*!=~^\[\]-]{1,64}")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


# One answer for every authentication failure: a stranger learns neither the header's name nor whether a guess
# came closer (the CloudWatch line says which check failed).
UNAUTHENTICATED = "not authenticated: the request does not carry this destination's credentials"
# What Acumatica's webhook destinations send (set by Acumatica, not configurable on SM302000); the charset, if
# given, must be UTF-8 since the body is read as UTF-8.
JSON_MEDIA_TYPE = "application/json"
_UTF8 = {"utf-8", "utf8"}


class PushRejected(Exception):
    def __init__(self, status: int, reason: str, note: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.note = note  # for the operator's log only, never in the answer


class BadKeyValue(ValueError):
    """A key column holds something that is no Acumatica key."""


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
        given = presented.encode("utf-8", "surrogateescape")
        results = [hmac.compare_digest(given, v.encode()) for v in self.values]
        return any(results)

    def scrub(self, text: str) -> str:
        """``text`` with every live secret value replaced (what goes to the connector log)."""
        for v in self.values:
            text = text.replace(v, "***")
        return text


@dataclass(frozen=True)
class Rejection:
    """What is kept of a refused post (no body, no header values): the answer, and for the operator which check
    failed, the body's size and the header names."""

    status: int
    reason: str
    note: str
    body_bytes: int
    header_names: tuple[str, ...]


class IntakePorts(Protocol):
    def secret(self) -> WebhookSecret: ...
    def query_kinds(self) -> Mapping[str, Kind]: ...
    def publish(self, requests: list[SyncRequest]) -> None: ...
    def rejected(self, rejection: Rejection) -> None: ...
    def dropped(self, query: str, reasons: list[str]) -> None: ...


@dataclass
class IntakeResult:
    status: int
    body: dict[str, Any]
    requests: list[SyncRequest] = field(default_factory=list)


def _key_value(row: Row, name: str) -> str:
    """The trimmed value of key column ``name`` ("" when absent or blank); BadKeyValue when it is no key."""
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadKeyValue(f"{name} value must be text, not {type(value).__name__}")
    text = clean(value)
    if text and not KEY_VALUE.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise BadKeyValue(f"{name} value {shown!r} is not an Acumatica key (1-64 ASCII letters, digits, inner "
                          "spaces and - _ . , # & + ( ) : @ * ! = ~ ^ [ ] only)")
    return text


def _key_of(kind: Kind, row: Row) -> tuple[str, str | None]:
    """(record key, sales order key) of a push row; KeyError names a missing column, BadKeyValue a bad value."""
    def col(*names: str) -> str:
        for n in names:
            if value := _key_value(row, n):
                return value
        raise KeyError(" or ".join(names))

    def order_key() -> str | None:
        nbr = next((v for n in ("OrderNbr", "OrderID") if (v := _key_value(row, n))), "")
        return f"{_key_value(row, 'OrderType') or 'SO'}/{nbr}" if nbr else None

    if kind is Kind.ORDER:
        return f"{col('OrderType')}/{col('OrderNbr', 'OrderID')}", None
    if kind is Kind.PAYMENT:
        return f"{col('Type', 'DocType')}/{col('ReferenceNbr')}", order_key()
    if kind is Kind.SHIPMENT:
        return col("ShipmentNbr"), order_key()
    if kind is Kind.INVOICE:
        return f"{col('Type', 'DocType')}/{col('ReferenceNbr')}", order_key()
    return f"{col('InventoryID')}/{col('WarehouseID', 'SiteID')}", None


@dataclass
class _Record:
    """One request to publish, and the push rows it was made from: each Inserted row merged into it with its
    Deleted half (None: none in this post); a lone Deleted row (a re-read) has no rows here."""

    request: SyncRequest
    rows: list[tuple[Row, Row | None]] = field(default_factory=list)


def _keyed(push: PushNotification, kind: Kind, rows: list[Row], deleted: bool) -> list[tuple[Row, str, str | None]]:
    """(row, record key, sales order key) of each row; PushRejected names the first bad one."""
    out = []
    for n, row in enumerate(rows):
        side = "Deleted" if deleted else "Inserted"
        try:
            key, order_key = _key_of(kind, row)
        except KeyError as exc:
            raise PushRejected(422, f"{side}[{n}] has no {exc.args[0]} value (query {push.query!r})") from None
        except BadKeyValue as exc:
            raise PushRejected(422, f"{side}[{n}] {exc} (query {push.query!r})") from None
        out.append((row, key, order_key))
    return out


def _records(push: PushNotification, kind: Kind, received: float) -> list[_Record]:
    """One request per changed record; an update's Deleted+Inserted pair is one record, a lone Deleted a re-read."""
    inserted, deleted = _keyed(push, kind, push.inserted, False), _keyed(push, kind, push.deleted, True)
    halves: dict[tuple[str, str | None], Row] = {}  # the record's own key (a payment's, not its order's) -> old row
    for row, key, order_key in deleted:
        halves.setdefault((key, order_key), row)
    out: dict[tuple[str, str | None], _Record] = {}
    for rows, lone in ((inserted, False), (deleted, True)):
        for row, key, order_key in rows:
            partner = None if lone else halves.get((key, order_key))
            req_kind = kind
            if kind is Kind.PAYMENT:
                if order_key is None:
                    continue  # a payment applied to no order changes no order's eligibility
                req_kind, key, order_key = Kind.ORDER, order_key, None
            record = out.get((key, order_key))
            if record is None:
                record = out[(key, order_key)] = _Record(SyncRequest(
                    kind=req_kind, key=key, order_key=order_key, source="push", push_id=push.id, query=push.query,
                    timestamp=push.timestamp, deleted_only=lone,
                    hint=dict(row) | ({"via": "payment"} if kind is Kind.PAYMENT else {}),
                    correlation_id=order_key or key, requested_at=received))
            if not lone:
                record.rows.append((row, partner))
    return list(out.values())


def _authenticate(headers: Mapping[str, str], secret: WebhookSecret) -> None:
    presented = [v for k, v in headers.items() if k.lower() == secret.header.lower()]
    if not presented:
        raise PushRejected(401, UNAUTHENTICATED, f"no {secret.header} header")
    if len(presented) > 1:
        raise PushRejected(401, UNAUTHENTICATED, f"the {secret.header} header sent {len(presented)} times")
    if not isinstance(presented[0], str) or not secret.matches(presented[0]):
        raise PushRejected(401, UNAUTHENTICATED, f"the {secret.header} value matches no live secret")


def _check_content_type(headers: Mapping[str, str]) -> None:
    """Acumatica posts ``application/json`` (a charset parameter, if any, must be UTF-8); anything else is 415.
    A missing Content-Type is refused too: Acumatica always sets it."""
    given = [v for k, v in headers.items() if k.lower() == "content-type"]
    if not given:
        raise PushRejected(415, f"no Content-Type: push notifications are sent as {JSON_MEDIA_TYPE}")
    value = given[0] if len(given) == 1 and isinstance(given[0], str) else ", ".join(map(str, given))
    media_type, *params = (part.strip() for part in value.split(";"))
    shown = value if len(value) <= 80 else value[:80] + "..."
    if media_type.lower() != JSON_MEDIA_TYPE:
        raise PushRejected(415, f"Content-Type {shown!r} is not supported: push notifications are sent as "
                                f"{JSON_MEDIA_TYPE}")
    for param in params:
        name, _, arg = param.partition("=")
        if name.strip().lower() == "charset" and arg.strip().strip('"').lower() not in _UTF8:
            raise PushRejected(415, f"Content-Type {shown!r} is not supported: the body must be UTF-8")


def _no_constant(name: str) -> Any:
    raise PushRejected(400, f"body is not valid JSON: {name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PushRejected(400, f"body is not valid JSON: the number {text[:40]} is not finite")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise PushRejected(400, f"body is not valid JSON: an integer of {len(text)} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if k in obj:
            raise PushRejected(400, f"body is not valid JSON for a push: duplicate key {k[:60]!r}")
        obj[k] = v
    return obj


def _bad_text(text: str) -> str | None:
    m = _BAD_TEXT.search(text)
    if m is None:
        return None
    code = ord(m.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X})"
    if code >= 0xFFFE:
        return f"the noncharacter U+{code:04X}"
    return f"a control character (U+{code:04X})"


def _check_tree(data: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings no text field holds (walked without recursion)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "body")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise PushRejected(400, f"body is nested deeper than {MAX_DEPTH} levels (at {where})")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(k, str) and (bad := _bad_text(k)):
                    raise PushRejected(400, f"body has {bad} in a key at {where}")
                stack.append((v, depth + 1, f"{where}.{k}" if isinstance(k, str) else f"{where}[{k}]"))
        elif isinstance(value, str) and (bad := _bad_text(value)):
            raise PushRejected(400, f"body has {bad} at {where}")


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PushRejected(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise PushRejected(400, "body starts with a byte-order mark: send UTF-8 JSON without one")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int,
                          object_pairs_hook=_unique_keys)
    except RecursionError:
        raise PushRejected(400, f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise PushRejected(400, f"body is not valid JSON: {exc}") from None


def _parse(raw: bytes, max_bytes: int) -> tuple[PushNotification, Any]:
    """The notification and the JSON it came from, or PushRejected (413 size, 400 not JSON, 422 not a push)."""
    if len(raw) > max_bytes:
        raise PushRejected(413, f"body of {len(raw)} bytes is over the {max_bytes}-byte limit")
    data = _decode(raw)
    _check_tree(data)
    try:
        return PushNotification.model_validate(data), data
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PushRejected(422, f"not an Acumatica push notification: {where}: {first['msg']}") from None


def handle_push(headers: Mapping[str, str], raw: bytes, ports: IntakePorts, *, max_bytes: int,
                now: Callable[[], float]) -> IntakeResult:
    """Answer one webhook post: 202 with what was published, or a 4xx with the reason."""
    received = now()
    secret = ports.secret()
    try:
        _authenticate(headers, secret)
        _check_content_type(headers)
        push, data = _parse(raw, max_bytes)
        kind = ports.query_kinds().get(push.query.strip())
        if kind is None:
            raise PushRejected(422, f"unknown query {push.query!r}: map it to an entity kind in the push-queries "
                                    f"preference (known: {', '.join(sorted(ports.query_kinds()))})")
        records = _records(push, kind, received)
    except PushRejected as rej:
        reason = secret.scrub(rej.reason)
        ports.rejected(Rejection(rej.status, reason, secret.scrub(rej.note), len(raw),
                                 tuple(sorted({secret.scrub(k.lower()[:64]) for k in headers})[:50])))
        return IntakeResult(rej.status, {"error": reason})

    dropped = {id(r): why for r in records if (why := no_op(kind, r.request, r.rows))}
    if len(dropped) == len(records):
        # nothing to hand on: nothing written anywhere (a re-send of a no-op is a no-op too)
        ports.dropped(push.query, [secret.scrub(f"{r.request.kind.value} {r.request.key}: {dropped[id(r)]}")
                                   for r in records] or ["no row names a record that is synced (a payment applied "
                                                         "to no order)"])
        return IntakeResult(202, {"status": "dropped", "published": 0, "dropped": len(dropped)})
    live = [r.request for r in records if id(r) not in dropped]
    raw_entry = _raw_entry(raw, data, secret, kind, [r.request for r in records], received)
    if dropped:
        raw_entry.details["dropped"] = [secret.scrub(f"{r.request.kind.value} {r.request.key}: {dropped[id(r)]}")
                                        for r in records if id(r) in dropped]
    requests = _carrying(push.id, kind, raw_entry, live, received, secret)
    # one request to SQS (a SendMessageBatch per queue and ten records); if it fails the post is answered 5xx and
    # Acumatica sends it again: what was sent meanwhile is dropped by SQS as a repeat (same deduplication ids)
    ports.publish(requests)
    # a re-send inside SQS's window is accepted here too (it cannot be told apart without a read): SQS drops it
    return IntakeResult(202, {"status": "accepted", "published": len(requests),
                              **({"dropped": len(dropped)} if dropped else {})}, requests)


# Push rows that cannot change Magento, dropped at the edge (no queue message, no consumer invocation), judged from
# the post's own rows alone (no state read). Every rule is conservative: a lone Deleted row (a re-read request) and
# a row without a Status column are always handed on, and so is an Inserted row whose rule needs its Deleted half
# when that half is not in the same post. A change one of these rules drops wrongly (none known) would be a lost
# push, which the reconciler catches as any other.
# - Not ready: the fulfilment consumer would read the row only to find it not ready (SHIPPABLE / RELEASED in
#   services/fulfilment.py, kept equal by tests/unit/test_intake.py); its confirmation / release is a later push.
# - Ready already: a shipment that was Confirmed / Invoiced / Completed and now reads Invoiced / Completed, an
#   invoice that was released (Open) and is now Closed: the push that made it ready was handed on and synced (the
#   consumer would find its binding and do nothing); the later status is no news to Magento.
# - A released payment (Open) now Closed with the same amount applied to the same order: the order's unpaid
#   balance is unchanged by it (the application, not the payment's status, moves it; a change of the order's own
#   row is a push of its own).
SHIPMENT_READY = ("Confirmed", "Invoiced", "Completed")
SHIPMENT_LATER = ("Invoiced", "Completed")  # statuses a shipment moves on to after its confirmation
INVOICE_READY = ("Open", "Closed")
PAYMENT_RELEASED = ("Open", "Closed")


def _column(row: Mapping[str, Any], name: str) -> str:
    """A row's column by name (GI column names may come with trailing spaces), trimmed; "" when absent."""
    for k, v in row.items():
        if k.strip() == name:
            return clean(v) if isinstance(v, str | int | float | bool) else ""
    return ""


def _amount(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def no_op_row(kind: Kind, row: Row, before: Row | None) -> str | None:
    """Why an Inserted push row (with its Deleted half, when in the post) cannot change Magento (None: it may)."""
    status = _column(row, "Status")
    if not status:
        return None
    was = _column(before, "Status") if before is not None else ""
    if kind is Kind.SHIPMENT:
        if status not in SHIPMENT_READY:
            return f"shipment {status}: nothing goes to Magento before it is confirmed"
        if status in SHIPMENT_LATER and was in SHIPMENT_READY:
            return f"shipment {was} -> {status}: its confirmation was handed on already"
        return None
    if kind is Kind.INVOICE and (_column(row, "Type") or _column(row, "DocType")) == "Invoice":
        if status not in INVOICE_READY:
            return f"invoice {status}: nothing goes to Magento before it is released"
        if status == "Closed" and was in INVOICE_READY:
            return f"invoice {was} -> {status}: its release was handed on already"
        return None
    if kind is Kind.PAYMENT and before is not None and status == "Closed" and was in PAYMENT_RELEASED:
        applied, applied_before = _column(row, "AppliedToOrder"), _column(before, "AppliedToOrder")
        if applied and _amount(applied) == _amount(applied_before):
            return f"payment {was} -> {status}, {applied} applied to the order as before: the order's balance " \
                   "is unchanged"
    return None


def no_op(kind: Kind, r: SyncRequest, rows: list[tuple[Row, Row | None]]) -> str | None:
    """Why the request cannot change Magento (None: it may, hand it on): every push row merged into it is a no-op
    (``no_op_row``). ``kind``: the push's (a payment's request is an order request)."""
    if r.source != "push" or r.deleted_only or not rows:
        return None
    reasons = [no_op_row(kind, row, before) for row, before in rows]
    if any(why is None for why in reasons):
        return None
    return "; ".join(dict.fromkeys(str(why) for why in reasons))


def _raw_entry(raw: bytes, data: Any, secret: WebhookSecret, kind: Kind, requests: list[SyncRequest],
               received: float) -> LogEntry:
    """The Acumatica side's row of the post. The message is the raw post (as the walkthrough's Acumatica log shows
    it); its JSON goes to the details only when the message had to be cut (half its weight is not written twice),
    and only while it fits a queue message (``CARRIED_POST_MAX``). Correlation id: the first record's key with its
    type (SO/SOT00024), which tells the timeline of SO/SOT00024 from that of ST/SOT00024 without reading the post."""
    if len(raw) <= LOG_HEAD:
        details: dict[str, Any] = {}
    elif len(raw) <= CARRIED_POST_MAX:
        details = {"push": _scrubbed(data, secret)}
    else:
        details = {"push_bytes": len(raw), "cut": f"the post was {len(raw)} bytes: its first {LOG_HEAD} characters "
                                                  "are kept"}
    stamp = datetime.fromtimestamp(received, UTC)
    return LogEntry(side=Side.ACUMATICA, level="INFO", action_type=ACTION_TYPE[kind], message=_head(raw, secret),
                    start_time=stamp, entity_key=_entity(requests),
                    correlation_id=requests[0].correlation_id if requests else "", details=details)


def _carrying(push_id: str, kind: Kind, raw_entry: LogEntry, requests: list[SyncRequest], received: float,
              secret: WebhookSecret) -> list[SyncRequest]:
    """The requests with the post's log rows: each its Publisher row, the first the raw row too. Log ids: the
    time of receipt in microseconds, plus 0 for the raw row and 1 + n for the n-th request (the grid's order as
    before: the post, then its requests), then three digits of a hash of the push Id and the record (two posts
    received in the same microsecond keep apart); fixed here, so a redelivered message rewrites its rows."""
    micros = int(round(received * 1_000_000))
    stamp = datetime.fromtimestamp(received, UTC)
    raw_entry.log_id = _log_id(micros, push_id, "raw")
    out = []
    for n, r in enumerate(requests):
        publisher = LogEntry(
            side=Side.MAGENTO, group=LOG_GROUP[kind], action=Action.PUBLISHER, result=Result.SUCCESS,
            log_id=_log_id(micros + 1 + n, push_id, f"{r.key}|{r.order_key}|{r.deleted_only}"),
            start_time=stamp, complete_time=stamp, notes=r.notes, entity_key=r.notes,
            correlation_id=r.correlation_id,
            message="re-read requested (Deleted row without its Inserted half)" if r.deleted_only else "queued",
            details={"request": _published(r)})
        rows = [raw_entry, publisher] if n == 0 else [publisher]
        out.append(r.model_copy(update={"intake_log": [_scrub(e, secret) for e in rows]}))
    return out


def _log_id(micros: int, push_id: str, record: str) -> str:
    digest = hashlib.sha256(f"{push_id}|{record}".encode()).digest()
    return f"{micros:016d}{int.from_bytes(digest[:4], 'big') % 1000:03d}"


def _published(r: SyncRequest) -> dict[str, Any]:
    """What a Publisher row keeps of the request: all but the push row it was made from (the raw row beside it
    holds the whole post), except whether it came from a payment."""
    request = r.model_dump(mode="json", exclude={"hint", "intake_log"})
    if "via" in r.hint:
        request["hint"] = {"via": r.hint["via"]}
    return request


def _entity(requests: list[SyncRequest]) -> str:
    return requests[0].notes if requests else ""


def _head(raw: bytes, secret: WebhookSecret) -> str:
    """The start of a raw post for the log, secret values removed before cutting (none survives in part)."""
    margin = max((len(v) for v in secret.values), default=0) * 4
    return secret.scrub(raw[:LOG_HEAD * 4 + margin].decode("utf-8", "replace"))[:LOG_HEAD]


def _scrub(entry: LogEntry, secret: WebhookSecret) -> LogEntry:
    """An entry with every live secret value removed from its message and details (wherever it came from)."""
    return entry.model_copy(update={"message": secret.scrub(entry.message),
                                    "details": _scrubbed(entry.details, secret)})


def _scrubbed(value: Any, secret: WebhookSecret) -> Any:
    if isinstance(value, str):
        return secret.scrub(value)
    if isinstance(value, dict):
        return {secret.scrub(k): _scrubbed(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secret) for v in value]
    return value
