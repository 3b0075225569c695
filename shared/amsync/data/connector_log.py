"""The connector log in DynamoDB, mirrored to CloudWatch as one compact JSON line per entry.

Table design (pk, sk = log id, which sorts by time):
- ``pk = "<side>#<yyyy-mm-dd>"``: newest first is a descending query of today's partition, then the day before;
- GSI ``by-entity-v3`` (``entity_key``, sk): one entity's timeline across functions and both logs;
- GSI ``failures-by-day-v3`` (``failure_day``, sk), sparse: failures in a time range;
  both project the grid's columns only (``INDEX_ATTRIBUTES``): the message's ``summary`` (its first
  ``SUMMARY_CHARS``), never the rest of it nor the details, so an index entry stays under 1 KB (one write unit); a
  reader that needs the whole row (the timeline's hops, a DLQ reason) gets the base rows by key (``BatchGetItem``);
- one entry by Log Id: the id encodes its time, hence its partition;
- the View details (``pk = "details#<log id>"``, ``sk = 0000, 0001, ...``): beside the row when they hold personal
  data (kept ``detail_ttl_days``, shorter than the row) or are too large for it. The row keeps a masked summary.
A row stores the message as ``summary`` + ``message_rest``; a long text (the rest, the details, a chunk beside)
is stored zlib-compressed as a binary ``<name>_z`` when that is smaller (JSON compresses 3-5x: a create's
details fit one write unit instead of six). Values equal to the entry's defaults are not stored.
Entries expire through TTL (``expires_at``); reads filter on it too because TTL deletes lazily (days later).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from amsync.data.aws import table
from amsync.models.log import DIRECTION_A2M, LogEntry, LogView, Result, Side, log_id_time
from amsync.redact import mask_pii, mask_text, redact

MAX_DETAILS_BYTES = 200_000  # of the row's summary + message, and of one detail chunk (an item holds 400 KB)
DAY = 86400
RAW_ROW_HEAD = 300  # characters of a raw push's (masked) message its row keeps when the whole post is kept beside
SUMMARY_CHARS = 200  # the head of a message the grids show (the Acumatica grid cuts at 160), the indexes copy
PACK_MIN = 200  # bytes: a longer text is stored compressed when that makes it smaller
# What a grid row shows: a page never reads the rows' details (up to 200 KB each) off the wire. ``message``: rows
# written before the summary (they hold the whole message; the indexes project the summary only).
GRID_ATTRIBUTES = ("pk", "sk", "side", "start_time", "complete_time", "group", "action", "direction", "result",
                   "entity_id", "entity_key", "notes", "summary", "message", "level", "action_type", "expires_at")
LEGACY_ATTRIBUTES = ("message",)
# The indexes, and the grid columns each projects beyond its keys and the table's (template.yaml says the same;
# tests/unit/test_template_rules.py holds them together). A projection cannot change in place: a new one is a new name.
ENTITY_INDEX = "by-entity-v3"
FAILURES_INDEX = "failures-by-day-v3"
INDEX_ATTRIBUTES = {
    ENTITY_INDEX: tuple(a for a in GRID_ATTRIBUTES if a not in ("pk", "sk", "entity_key", *LEGACY_ATTRIBUTES)),
    FAILURES_INDEX: tuple(a for a in GRID_ATTRIBUTES if a not in ("pk", "sk", "failure_day", *LEGACY_ATTRIBUTES)),
}


class BadCursor(ValueError):
    """A page cursor this table did not hand out."""


@dataclass(frozen=True)
class LogQuery:
    """What the connector log grid asks for: one side, newest first, optional filters and a time range."""

    side: Side = Side.MAGENTO
    group: str | None = None
    action: str | None = None
    direction: str | None = None
    result: str | None = None
    entity: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    cursor: str | None  # where the next, older page starts; None: nothing older matches
    reads: int  # Query requests this page cost
    stopped_at: str | None = None  # the partition the read budget ran out in (the page may be short)


def _items(entry: LogEntry, ttl_days: int, detail_ttl_days: int) -> list[dict[str, Any]]:
    """The entry's row, plus its View details beside it when they hold personal data or do not fit the row.

    The row keeps the details and message with personal data masked (what listings show, for ``ttl_days``); the
    items beside it keep them whole for ``detail_ttl_days`` (or as long as the row when nothing was masked)."""
    now = int(time.time())
    expires = now + ttl_days * DAY
    full = json.dumps(redact(entry.details), default=str, separators=(",", ":"))
    summary = json.dumps(mask_pii(json.loads(full)), separators=(",", ":"))
    message = mask_text(entry.message)
    personal = summary != full or message != entry.message
    fits = len(summary) + len(message) <= MAX_DETAILS_BYTES
    if not personal and fits:
        return [_to_item(entry, message, full, expires)]
    kept_days = detail_ttl_days if personal else ttl_days
    kept_until = now + kept_days * DAY
    payload = json.dumps({"details": json.loads(full), **({"message": entry.message} if personal else {})},
                         separators=(",", ":")).encode()
    packed = zlib.compress(payload, 6)
    chunks = [packed[i:i + MAX_DETAILS_BYTES] for i in range(0, len(packed), MAX_DETAILS_BYTES)]
    if personal and entry.side is Side.ACUMATICA and len(message) > RAW_ROW_HEAD:
        # a raw push whose whole post goes beside anyway: the row keeps the head a listing shows, as the
        # walkthrough's Acumatica log cuts it, not a second masked copy of the post
        message = message[:RAW_ROW_HEAD] + "..."
    row = _to_item(entry, message, summary if fits else "{}", expires)
    row.update(details_beside=len(chunks), details_expires_at=kept_until, details_ttl_days=kept_days)
    beside = [{"pk": f"details#{entry.log_id}", "sk": f"{n:04d}", "chunk_z": c, "expires_at": kept_until}
              for n, c in enumerate(chunks)]
    return [row, *beside]


def _pack(item: dict[str, Any], name: str, text: str) -> None:
    """``text`` as ``name``, or zlib-compressed as the binary ``<name>_z`` when long and smaller so."""
    if len(text) >= PACK_MIN:
        packed = zlib.compress(text.encode(), 6)
        if len(packed) < len(text.encode()) * 0.9:
            item[f"{name}_z"] = packed
            return
    item[name] = text


def _unpack(item: dict[str, Any], name: str) -> str | None:
    if f"{name}_z" in item:
        return zlib.decompress(_bytes(item[f"{name}_z"])).decode()
    value = item.get(name)
    return None if value is None else str(value)


def _bytes(value: Any) -> bytes:
    """A binary attribute as boto3 hands it back (``Binary``) or as written (``bytes``)."""
    return bytes(getattr(value, "value", value))


def _to_item(entry: LogEntry, message: str, details: str, expires: int) -> dict[str, Any]:
    """The row, without what the entry holds by default (an empty note, an A row's direction, an M row's level)."""
    day = entry.start_time.strftime("%Y-%m-%d")
    item: dict[str, Any] = {
        "pk": f"{entry.side.value}#{log_id_time(entry.log_id).strftime('%Y-%m-%d')}",
        "sk": entry.log_id,
        "side": entry.side.value,
        "start_time": entry.start_time.isoformat(),
        "summary": message[:SUMMARY_CHARS],
        "expires_at": expires,
    }
    if len(message) > SUMMARY_CHARS:
        _pack(item, "message_rest", message[SUMMARY_CHARS:])
    if details != "{}":
        _pack(item, "details", details)
    defaults = {"direction": DIRECTION_A2M if entry.side is Side.ACUMATICA else None,
                "level": "INFO" if entry.side is Side.MAGENTO else None}
    for name in ("direction", "notes", "level", "action_type", "correlation_id", "entity_id", "entity_key"):
        value = getattr(entry, name)
        if value and value != defaults.get(name):
            item[name] = value
    for name in ("group", "action", "result"):
        value = getattr(entry, name)
        if value is not None:
            item[name] = value.value
    if entry.complete_time:
        item["complete_time"] = entry.complete_time.isoformat()
    if entry.latency_ms is not None:
        item["latency_ms"] = Decimal(str(entry.latency_ms))
    if entry.result == Result.FAILURE:
        item["failure_day"] = day
    return item


def _from_item(item: dict[str, Any]) -> LogEntry:
    """An entry from a row, an index entry or a grid projection (those hold the message's summary only)."""
    data = {k: v for k, v in item.items() if k in LogEntry.model_fields and v is not None}
    data["side"] = item["side"]
    data["log_id"] = item["sk"]
    data["details"] = json.loads(_unpack(item, "details") or "{}")
    if "summary" in item:
        data["message"] = str(item["summary"]) + (_unpack(item, "message_rest") or "")
    if "latency_ms" in item:
        data["latency_ms"] = float(item["latency_ms"])
    return LogEntry.model_validate(data)


class ConnectorLog:
    def __init__(self, table_name: str, ttl_days: int = 90, detail_ttl_days: int = 14) -> None:
        self._table_name = table_name
        self._ttl_days = ttl_days
        self._detail_ttl_days = min(detail_ttl_days, ttl_days)

    def write(self, entry: LogEntry) -> LogEntry:
        self.write_many([entry])
        return entry

    def write_many(self, entries: list[LogEntry]) -> None:
        """One request for up to 25 items (a row and its details go in the same BatchWriteItem)."""
        items = [i for e in entries for i in _items(e, self._ttl_days, self._detail_ttl_days)]
        if len(items) == 1:
            table(self._table_name).put_item(Item=items[0])
            return
        with table(self._table_name).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def get(self, log_id: str, side: Side) -> LogEntry | None:
        """One entry by Log Id, with its View details while they are kept (else the row's masked summary)."""
        view = self.view(log_id, side)
        return view.entry if view else None

    def view(self, log_id: str, side: Side) -> LogView | None:
        """One entry by Log Id with its View details reassembled from beside it; once they expired (an expired
        item may still be there: TTL deletes lazily), the row's masked summary and after how many days."""
        now = int(time.time())
        pk = f"{side.value}#{log_id_time(log_id).strftime('%Y-%m-%d')}"
        item = table(self._table_name).get_item(Key={"pk": pk, "sk": log_id}).get("Item")
        if not item or int(item.get("expires_at", now + 1)) <= now:
            return None
        entry = _from_item(item)
        if "details_beside" in item:
            chunks = self._chunks(log_id, now)
            if len(chunks) < int(item["details_beside"]):
                return LogView(entry=entry, details_expired_after_days=int(item["details_ttl_days"]))
            payload = json.loads(_joined(chunks))
            entry.details = payload["details"]
            entry.message = payload.get("message", entry.message)
        elif "stored_beside" in entry.details:  # a row written before details had their own TTL
            entry.details = json.loads(_joined(self._chunks(log_id, now)))
        return LogView(entry=entry)

    def _chunks(self, log_id: str, now: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"details#{log_id}"),
                                  "FilterExpression": Attr("expires_at").gt(now)}
        items: list[dict[str, Any]] = []
        while True:
            resp = table(self._table_name).query(**kwargs)
            items.extend(resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return sorted(items, key=lambda c: str(c["sk"]))
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def newest(self, side: Side, limit: int = 100, days: int = 7) -> list[LogEntry]:
        """Newest first, walking back day partitions until ``limit`` entries."""
        out: list[LogEntry] = []
        now = datetime.now(UTC)
        for d in range(days):
            pk = f"{side.value}#{(now - timedelta(days=d)).strftime('%Y-%m-%d')}"
            out.extend(self._query(Key("pk").eq(pk), None, limit - len(out)))
            if len(out) >= limit:
                break
        return out

    def timeline(self, entity_key: str, limit: int = 200) -> list[LogEntry]:
        """An entity's rows, newest first, whole (the index holds the grid's columns only: the rows it finds are
        read from the table by key)."""
        return self._whole(list(self._query(Key("entity_key").eq(entity_key), ENTITY_INDEX, limit)))

    def failures(self, day: str, limit: int = 200) -> list[LogEntry]:
        """The failures of ``day``, newest first, whole (as ``timeline``)."""
        return self._whole(list(self._query(Key("failure_day").eq(day), FAILURES_INDEX, limit)))

    def _whole(self, found: list[LogEntry]) -> list[LogEntry]:
        """The base rows of entries an index found, in the same order (BatchGetItem, 100 keys a request; the keys
        DynamoDB leaves unprocessed are asked again). A row gone meanwhile (TTL) keeps what the index held."""
        keys = [{"pk": f"{e.side.value}#{log_id_time(e.log_id).strftime('%Y-%m-%d')}", "sk": e.log_id} for e in found]
        rows: dict[str, LogEntry] = {}
        resource = table(self._table_name).meta.client
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self._table_name: {"Keys": keys[start:start + 100]}}
            for attempt in range(8):
                resp = resource.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table_name, []):
                    rows[str(item["sk"])] = _from_item(item)
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
            else:
                raise RuntimeError(f"DynamoDB kept {len(request[self._table_name]['Keys'])} log reads unprocessed")
        return [rows.get(e.log_id, e) for e in found]

    def failure_count(self, day: str) -> int:
        """How many sync actions failed on ``day`` (the sparse ``failures-by-day-v3`` index, counted server-side)."""
        kwargs: dict[str, Any] = {"IndexName": FAILURES_INDEX, "KeyConditionExpression": Key("failure_day").eq(day),
                                  "FilterExpression": Attr("expires_at").gt(int(time.time())), "Select": "COUNT"}
        count = 0
        while True:
            resp = table(self._table_name).query(**kwargs)
            count += int(resp.get("Count", 0))
            if "LastEvaluatedKey" not in resp:
                return count
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def page(self, q: LogQuery, size: int = 50, cursor: str | None = None, max_reads: int = 8,
             default_days: int = 7) -> LogPage:
        """One page of the grid, newest first, by index: an entity's rows through ``by-entity-v3``, failures through
        ``failures-by-day-v3``, anything else through the side's day partitions; the time range is a key condition on
        the Log Id (it sorts by time). At most ``max_reads`` Query requests of a bounded size, whatever the table
        holds: a rare filter over many rows gives a short page and a cursor to go on from."""
        now = datetime.now(UTC)
        end = min(q.end or now, now)
        start = q.start or (None if q.entity else end - timedelta(days=default_days))
        index, hash_key, values = _partitions(q, start, end)
        resume = _decode(cursor, hash_key) if cursor else None
        if resume is not None:
            if resume[0] not in values:
                raise BadCursor("the cursor belongs to another query")
            values = values[values.index(resume[0]):]
        bounds = Key("sk").between(_bound(start, "000") if start else "0" * 19, _bound(end, "999"))
        filtered = any((q.group, q.action, q.direction, q.result))
        wanted = GRID_ATTRIBUTES if index is None else ("pk", "sk", hash_key, *INDEX_ATTRIBUTES[index])
        kwargs: dict[str, Any] = {"ScanIndexForward": False, "FilterExpression": _filters(q, index is not None),
                                  "ProjectionExpression": ", ".join(f"#g{i}" for i in range(len(wanted))),
                                  "ExpressionAttributeNames": {f"#g{i}": a for i, a in enumerate(wanted)},
                                  "Limit": min(1000, size * 8) if filtered else size}
        if index:
            kwargs["IndexName"] = index
        key_names = ("pk", "sk") if index is None else ("pk", "sk", hash_key)
        out: list[LogEntry] = []
        legacy: list[LogEntry] = []  # index entries of rows written before the summary: their message is in the row
        reads = 0
        for n, value in enumerate(values):
            start_key = resume[1] if resume is not None and n == 0 else None
            while True:
                if reads >= max_reads:
                    return self._summarised(LogPage(out, _encode(value, start_key), reads, stopped_at=value), legacy)
                call = dict(kwargs, KeyConditionExpression=Key(hash_key).eq(value) & bounds,
                            ExpressionAttributeNames=dict(kwargs["ExpressionAttributeNames"]))
                if start_key:
                    call["ExclusiveStartKey"] = start_key
                resp = table(self._table_name).query(**call)
                reads += 1
                items = resp.get("Items", [])
                for i, item in enumerate(items):
                    out.append(_from_item(item))
                    if "summary" not in item and "message" not in item:
                        legacy.append(out[-1])
                    if len(out) == size:
                        done = i == len(items) - 1 and "LastEvaluatedKey" not in resp and n == len(values) - 1
                        last = {k: str(item[k]) for k in key_names}
                        return self._summarised(LogPage(out, None if done else _encode(value, last), reads), legacy)
                if "LastEvaluatedKey" not in resp:
                    break
                start_key = resp["LastEvaluatedKey"]
        return self._summarised(LogPage(out, None, reads), legacy)

    def _summarised(self, page: LogPage, legacy: list[LogEntry]) -> LogPage:
        """The page, its legacy index entries given their message's summary from their rows (one BatchGetItem)."""
        for entry, whole in zip(legacy, self._whole(legacy), strict=True):
            entry.message = whole.message[:SUMMARY_CHARS]
        return page

    def _query(self, key_cond: Any, index: str | None, limit: int) -> Iterator[LogEntry]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key_cond,
            "ScanIndexForward": False,
            "FilterExpression": Attr("expires_at").gt(int(time.time())),
        }
        if index:
            kwargs["IndexName"] = index
        seen = 0
        while seen < limit:
            resp = table(self._table_name).query(**kwargs)
            for item in resp.get("Items", []):
                yield _from_item(item)
                seen += 1
                if seen >= limit:
                    return
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _joined(chunks: list[dict[str, Any]]) -> str:
    """The text the detail items beside a row hold: compressed parts (``chunk_z``) or, written before, text."""
    if chunks and "chunk_z" in chunks[0]:
        return zlib.decompress(b"".join(_bytes(c["chunk_z"]) for c in chunks)).decode()
    return "".join(str(c["chunk"]) for c in chunks)


def _bound(at: datetime, tail: str) -> str:
    """The Log Id at ``at`` (16 digits of microseconds, then 3 random digits: ``000`` or ``999`` as a bound)."""
    return f"{int(at.timestamp() * 1_000_000):016d}{tail}"


def _partitions(q: LogQuery, start: datetime | None, end: datetime) -> tuple[str | None, str, list[str]]:
    """(index, its hash key, the hash key values to read, newest first) for a query."""
    if q.entity:
        return ENTITY_INDEX, "entity_key", [q.entity]
    assert start is not None
    days = [(end - timedelta(days=d)).strftime("%Y-%m-%d") for d in range((end.date() - start.date()).days + 1)]
    if q.result and q.result.lower() == "failure":
        return FAILURES_INDEX, "failure_day", days
    return None, "pk", [f"{q.side.value}#{d}" for d in days]


def _filters(q: LogQuery, on_index: bool) -> Any:
    cond: Any = Attr("expires_at").gt(int(time.time()))
    if on_index:  # an index holds both sides' rows
        cond &= Attr("side").eq(q.side.value)
    for name, want in (("group", q.group), ("action", q.action), ("direction", q.direction), ("result", q.result)):
        if want:
            cond &= Attr(name).eq(want)
    return cond


def _encode(value: str, key: dict[str, Any] | None) -> str:
    raw = json.dumps({"v": value, "k": {k: str(v) for k, v in key.items()} if key else None}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, hash_key: str) -> tuple[str, dict[str, str] | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadCursor("not a cursor") from exc
    if not isinstance(data, dict) or not isinstance(data.get("v"), str):
        raise BadCursor("not a cursor")
    key = data.get("k")
    if key is not None:
        allowed = {"pk", "sk", hash_key}
        if not isinstance(key, dict) or not set(key) <= allowed or not all(isinstance(v, str) for v in key.values()):
            raise BadCursor("not a cursor")
    return data["v"], key
