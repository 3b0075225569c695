"""The connector log in DynamoDB, mirrored to CloudWatch as one structured JSON line per entry.

Table design (pk, sk = log id, which sorts by time):
- ``pk = "<side>#<yyyy-mm-dd>"``: newest first is a descending query of today's partition, then the day before;
- GSI ``by-entity`` (``entity_key``, sk): one entity's timeline across functions and both logs;
- GSI ``failures-by-day`` (``failure_day``, sk), sparse: failures in a time range;
- one entry by Log Id: the id encodes its time, hence its partition.
Entries expire through TTL (``expires_at``); reads filter on it too because TTL deletes lazily.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from amsync.data.aws import table
from amsync.models.log import LogEntry, Result, Side, log_id_time
from amsync.redact import redact

MAX_DETAILS_BYTES = 200_000


def _items(entry: LogEntry, ttl_days: int) -> list[dict[str, Any]]:
    """The entry's item, plus its View details in chunk items beside it when they are too large for one item."""
    details = json.dumps(redact(entry.details), default=str)
    expires = int(time.time()) + ttl_days * 86400
    beside: list[dict[str, Any]] = []
    if len(details) > MAX_DETAILS_BYTES:
        chunks = [details[i:i + MAX_DETAILS_BYTES] for i in range(0, len(details), MAX_DETAILS_BYTES)]
        beside = [{"pk": f"details#{entry.log_id}", "sk": f"{n:04d}", "chunk": c, "expires_at": expires}
                  for n, c in enumerate(chunks)]
        details = json.dumps({"stored_beside": len(chunks)})
    return [_to_item(entry, details, expires), *beside]


def _to_item(entry: LogEntry, details: str, expires: int) -> dict[str, Any]:
    day = entry.start_time.strftime("%Y-%m-%d")
    item: dict[str, Any] = {
        "pk": f"{entry.side.value}#{log_id_time(entry.log_id).strftime('%Y-%m-%d')}",
        "sk": entry.log_id,
        "side": entry.side.value,
        "start_time": entry.start_time.isoformat(),
        "direction": entry.direction,
        "notes": entry.notes,
        "message": entry.message,
        "level": entry.level,
        "action_type": entry.action_type,
        "correlation_id": entry.correlation_id,
        "details": details,
        "expires_at": expires,
    }
    for name in ("group", "action", "result"):
        value = getattr(entry, name)
        if value is not None:
            item[name] = value.value
    if entry.complete_time:
        item["complete_time"] = entry.complete_time.isoformat()
    if entry.entity_id:
        item["entity_id"] = entry.entity_id
    if entry.entity_key:
        item["entity_key"] = entry.entity_key
    if entry.latency_ms is not None:
        item["latency_ms"] = Decimal(str(entry.latency_ms))
    if entry.result == Result.FAILURE:
        item["failure_day"] = day
    return item


def _from_item(item: dict[str, Any]) -> LogEntry:
    data = {k: v for k, v in item.items() if k in LogEntry.model_fields and v is not None}
    data["side"] = item["side"]
    data["log_id"] = item["sk"]
    data["details"] = json.loads(item.get("details") or "{}")
    if "latency_ms" in item:
        data["latency_ms"] = float(item["latency_ms"])
    return LogEntry.model_validate(data)


class ConnectorLog:
    def __init__(self, table_name: str, ttl_days: int = 90) -> None:
        self._table_name = table_name
        self._ttl_days = ttl_days

    def write(self, entry: LogEntry) -> LogEntry:
        self.write_many([entry])
        return entry

    def write_many(self, entries: list[LogEntry]) -> None:
        items = [i for e in entries for i in _items(e, self._ttl_days)]
        if len(items) == 1:
            table(self._table_name).put_item(Item=items[0])
            return
        with table(self._table_name).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def get(self, log_id: str, side: Side) -> LogEntry | None:
        """One entry by Log Id, with its View details (reassembled when they were stored beside it)."""
        pk = f"{side.value}#{log_id_time(log_id).strftime('%Y-%m-%d')}"
        item = table(self._table_name).get_item(Key={"pk": pk, "sk": log_id}).get("Item")
        if not item:
            return None
        entry = _from_item(item)
        if "stored_beside" in entry.details:
            resp = table(self._table_name).query(KeyConditionExpression=Key("pk").eq(f"details#{log_id}"))
            text = "".join(str(c["chunk"]) for c in sorted(resp.get("Items", []), key=lambda c: str(c["sk"])))
            entry.details = json.loads(text)
        return entry

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
        return list(self._query(Key("entity_key").eq(entity_key), "by-entity", limit))

    def failures(self, day: str, limit: int = 200) -> list[LogEntry]:
        return list(self._query(Key("failure_day").eq(day), "failures-by-day", limit))

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
