"""The benchmark's meter in the moto server: every AWS request counted per principal, and DynamoDB's capacity
computed as DynamoDB bills it (``bench/``, README "The figures").

Off until switched on (``POST /_amsync/meter`` with ``{"enabled": true}``; ``{"reset": true}`` clears the
counters); while off it only passes requests on. ``GET /_amsync/meter`` answers the counters as one flat map,
``"<principal>\\t<channel>\\t<metric>": value``:

- principal: the function whose role signed the request (its STS session name: the physical function name), an IAM
  user (``user/<name>``), or ``root`` (the local world's own key: the harness, tests);
- channel: ``poller`` for the local runtime's event source mappings (their user agent ends with
  :data:`POLLER_AGENT`), else ``function``;
- metrics: ``request:<service>.<Operation>`` per request; for SQS ``sqs_billed:<fifo|standard>`` (requests as SQS
  bills them: one per 64 KB chunk of the request) and, for ReceiveMessage, ``receive:<with|empty>:<fifo|standard>``;
  for DynamoDB ``ddb:wru_table``, ``ddb:wru_index``, ``ddb:rru`` and ``ddb:estimated`` (items whose size had to be
  estimated).

DynamoDB units, from the items themselves (sizes per the DynamoDB developer guide, "Item sizes and formats"):
a write costs 1 WRU per started KB of the larger of the item before and after (a delete: the item deleted; a failed
conditional write: the existing item, at least 1); each index holding the item costs 1 WRU per started KB of its
projection (2 writes, delete and put, when the write changes the index key; 1 when the item enters or leaves it);
transactions cost twice. A read costs 1 RRU per started 4 KB (a Query: of all the items it read, summed, before
any filter), half that when eventually consistent (always, on a global index). Write after-images and reads are
worked out after the response has been sent, so the meter adds nothing to a request's latency but a key lookup.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

CONTROL_PATH = "/_amsync/meter"
POLLER_AGENT = "amsync-esm"  # the local runtime's event source mappings add this to their user agent
SQS_CHUNK = 64 * 1024
WRITE_UNIT, READ_UNIT = 1024, 4096


# ---------------------------------------------------------------------- item sizes (pure)
def number_size(text: str) -> int:
    """A number's size: 1 byte per two significant digits, plus 1 (leading and trailing zeroes trimmed)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = mantissa.strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def _raw_bytes(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value), validate=False))
    except ValueError:
        return len(str(value).encode())


def value_size(type_: str, value: Any) -> int:
    """The size of one attribute value (name excluded), ``type_`` its DynamoDB type (S, N, B, BOOL, NULL, SS, NS,
    BS, L, M); nested values may be wire dicts (``{"S": "x"}``) or objects with ``type`` and ``value``."""
    if type_ == "S":
        return len(str(value).encode())
    if type_ == "N":
        return number_size(str(value))
    if type_ == "B":
        return _raw_bytes(value)
    if type_ in ("BOOL", "NULL"):
        return 1
    if type_ == "SS":
        return sum(len(str(v).encode()) for v in value)
    if type_ == "NS":
        return sum(number_size(str(v)) for v in value)
    if type_ == "BS":
        return sum(_raw_bytes(v) for v in value)
    if type_ == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(_nested_size(v) + 1 for v in value)
    if type_ == "M":
        return 3 + sum(len(str(k).encode()) + _nested_size(v) + 1 for k, v in value.items())
    raise ValueError(f"unknown DynamoDB type {type_!r}")


def _nested_size(v: Any) -> int:
    if isinstance(v, dict):
        (type_, inner), = v.items()
        return value_size(type_, inner)
    return value_size(v.type, v.value)


def item_size(attrs: dict[str, Any]) -> int:
    """An item's size: each attribute's UTF-8 name plus its value (values as wire dicts or typed objects)."""
    return sum(len(name.encode()) + _nested_size(v) for name, v in attrs.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Image:
    """What a write's cost depends on, of one item at one moment: its size, and per index its key (None: not in
    the index) and the size of its projection there."""

    size: int
    index_keys: dict[str, tuple[Any, ...] | None]
    index_sizes: dict[str, int]


def index_write_units(before: Image | None, after: Image | None) -> int:
    """The index writes of one item's write, summed over the table's indexes."""
    names = set((before.index_keys if before else {}) | (after.index_keys if after else {}))
    units = 0
    for name in names:
        old = before.index_keys.get(name) if before else None
        new = after.index_keys.get(name) if after else None
        if old is None and new is None:
            continue
        if old is None:
            units += write_units(after.index_sizes[name])  # type: ignore[union-attr]
        elif new is None:
            units += write_units(before.index_sizes[name])  # type: ignore[union-attr]
        elif old != new:  # the index key changed: delete the old entry, put the new one
            units += write_units(before.index_sizes[name]) + write_units(after.index_sizes[name])  # type: ignore[union-attr]
        else:
            units += write_units(after.index_sizes[name])  # type: ignore[union-attr]
    return units


def table_write_units(before: Image | None, after: Image | None, kind: str) -> int:
    if kind == "delete":
        return write_units(before.size if before else 0)
    return write_units(max(before.size if before else 0, after.size if after else 0))


# ---------------------------------------------------------------------- the WSGI layer
class Meter:
    """WSGI layer in front of the moto server (outside the IAM gate): counts what it sees while enabled."""

    def __init__(self, app: Any, principal_of: Callable[[str], Any]) -> None:
        self.app = app
        self._principal_of = principal_of
        self.enabled = False
        self.counters: Counter[str] = Counter()
        self.errors = 0
        self._labels: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PATH):
            return self._control(environ, start_response)
        if not self.enabled:
            return self.app(environ, start_response)
        try:
            request = self._request(environ)
        except Exception:  # never let metering break a request
            self.errors += 1
            return self.app(environ, start_response)
        status: list[str] = []

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(status_line)
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        result = self.app(environ, capture)
        if not request.needs_answer:
            self._count(request, None, status)
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return _ThenClose(body, lambda: self._count(request, body, status))

    # -------------------------------------------------------------- control
    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            with self._lock:
                if "enabled" in data:
                    self.enabled = bool(data["enabled"])
                if data.get("reset"):
                    self.counters.clear()
                    self.errors = 0
        with self._lock:
            payload = json.dumps({"enabled": self.enabled, "errors": self.errors,
                                  "counters": dict(self.counters)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    # -------------------------------------------------------------- requests
    def _request(self, environ: dict[str, Any]) -> _Request:
        from amsync_local.iam_policy import credential_scope

        scope = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        label = self._label(scope[0]) if scope else "anonymous"
        channel = "poller" if POLLER_AGENT in environ.get("HTTP_USER_AGENT", "") else "function"
        service = scope[2] if scope else "unknown"
        region = scope[1] if scope else "us-east-1"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        data: dict[str, Any] = {}
        if target:
            operation = target.rsplit(".", 1)[-1]
            data = json.loads(body or b"{}")
        else:
            form = parse_qs(body.decode("utf-8", "replace")) if body else {}
            query = parse_qs(environ.get("QUERY_STRING", ""))
            action = (form.get("Action") or query.get("Action") or [None])[0]
            operation = action or f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
        req = _Request(label, channel, service, region, operation, len(body), data)
        if service == "dynamodb" and label != "root" and data:
            try:
                req.ddb_before = self._ddb_before(req)  # a write's items as they are before it
                req.needs_answer = True
            except Exception:  # e.g. no such table: the request is still counted, its units are not
                self.errors += 1
        if service == "sqs" and operation == "ReceiveMessage":
            req.needs_answer = True
        return req

    def _label(self, access_key: str) -> str:
        label = self._labels.get(access_key)
        if label is None:
            principal = self._principal_of(access_key)
            if principal is None:
                label = "root"
            elif ":assumed-role/" in principal.arn:
                label = principal.arn.rsplit("/", 1)[-1]  # the session name: the function's physical name
            elif ":user/" in principal.arn:
                label = "user/" + principal.arn.rsplit("/", 1)[-1]
            else:
                label = "unknown"
            self._labels[access_key] = label
        return label

    def _count(self, req: _Request, answer: bytes | None, status: list[str]) -> None:
        try:
            counts = self._measure(req, answer, status[0] if status else "500")
        except Exception:
            self.errors += 1
            counts = Counter({f"request:{req.service}.{req.operation}": 1})
        prefix = f"{req.label}\t{req.channel}\t"
        with self._lock:
            for metric, value in counts.items():
                self.counters[prefix + metric] += value

    def _measure(self, req: _Request, answer: bytes | None, status: str) -> Counter[str]:
        counts: Counter[str] = Counter({f"request:{req.service}.{req.operation}": 1})
        ok = status.startswith("2")
        if req.service == "sqs":
            kind = "fifo" if str(req.data.get("QueueUrl", "")).endswith(".fifo") else "standard"
            counts[f"sqs_billed:{kind}"] += max(1, math.ceil(req.body_bytes / SQS_CHUNK))
            if req.operation == "ReceiveMessage" and answer is not None:
                got = ok and bool(json.loads(answer or b"{}").get("Messages"))
                counts[f"receive:{'with' if got else 'empty'}:{kind}"] += 1
        if req.ddb_before is not None and answer is not None:
            counts.update(self._ddb_units(req, answer, ok))
        return counts

    # -------------------------------------------------------------- DynamoDB
    def _backend(self, region: str) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def _table(self, req: _Request, name: str) -> Any:
        return self._backend(req.region).get_table(name)

    def _image(self, table: Any, key: dict[str, Any]) -> Image | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_key, range_key)
        if item is None:
            return None
        attrs = dict(item.attrs)
        keys: dict[str, tuple[Any, ...] | None] = {}
        sizes: dict[str, int] = {}
        for index in table.all_indexes():
            names = index.schema_key_attrs
            values = [attrs.get(n) for n in names]
            keys[index.name] = None if any(v is None for v in values) else tuple(
                (v.type, json.dumps(v.value, sort_keys=True, default=str)) for v in values)
            sizes[index.name] = item_size(_projected(index, table, attrs))
        return Image(item_size(attrs), keys, sizes)

    def _writes(self, req: _Request) -> list[tuple[str, str, dict[str, Any], int]]:
        """(kind, table, key, factor) of each item a write request touches."""
        d, op = req.data, req.operation
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            kind = {"PutItem": "put", "UpdateItem": "update", "DeleteItem": "delete"}[op]
            return [(kind, d["TableName"], d.get("Key") or d.get("Item") or {}, 1)]
        if op == "BatchWriteItem":
            out = []
            for name, writes in d.get("RequestItems", {}).items():
                for w in writes:
                    if "PutRequest" in w:
                        out.append(("put", name, w["PutRequest"]["Item"], 1))
                    elif "DeleteRequest" in w:
                        out.append(("delete", name, w["DeleteRequest"]["Key"], 1))
            return out
        if op == "TransactWriteItems":
            out = []
            for part in d.get("TransactItems", []):
                (what, spec), = part.items()
                kind = {"Put": "put", "Update": "update", "Delete": "delete", "ConditionCheck": "check"}[what]
                out.append((kind, spec["TableName"], spec.get("Key") or spec.get("Item") or {}, 2))
            return out
        return []

    def _ddb_before(self, req: _Request) -> list[tuple[str, str, dict[str, Any], int, Image | None]]:
        out = []
        for kind, name, key, factor in self._writes(req):
            table = self._table(req, name)
            out.append((kind, name, _key_of(table, key), factor, self._image(table, _key_of(table, key))))
        return out

    def _ddb_units(self, req: _Request, answer: bytes, ok: bool) -> Counter[str]:
        if req.ddb_before:
            return self._write_units(req, answer, ok)
        return self._read_units(req, answer) if ok else Counter()

    def _write_units(self, req: _Request, answer: bytes, ok: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        assert req.ddb_before is not None
        if not ok:  # a failed condition still costs the item it read; any other refusal costs nothing
            if b"ConditionalCheckFailed" in answer or b"TransactionCanceled" in answer:
                for _kind, _name, _key, factor, before in req.ddb_before:
                    counts["ddb:wru_table"] += factor * write_units(before.size if before else 0)
            return counts
        for kind, name, key, factor, before in req.ddb_before:
            if kind == "check":
                counts["ddb:wru_table"] += factor * write_units(before.size if before else 0)
                continue
            after = None if kind == "delete" else self._image(self._table(req, name), key)
            counts["ddb:wru_table"] += factor * table_write_units(before, after, kind)
            counts["ddb:wru_index"] += factor * index_write_units(before, after)
        return counts

    def _read_units(self, req: _Request, answer: bytes) -> Counter[str]:
        counts: Counter[str] = Counter()
        d, op = req.data, req.operation
        if op == "GetItem":
            image = self._image(self._table(req, d["TableName"]), d["Key"])
            counts["ddb:rru"] += read_units(image.size if image else 0, bool(d.get("ConsistentRead")))
        elif op == "BatchGetItem":
            for name, spec in d.get("RequestItems", {}).items():
                table = self._table(req, name)
                for key in spec.get("Keys", []):
                    image = self._image(table, key)
                    counts["ddb:rru"] += read_units(image.size if image else 0, bool(spec.get("ConsistentRead")))
        elif op == "TransactGetItems":
            for part in d.get("TransactItems", []):
                spec = part["Get"]
                image = self._image(self._table(req, spec["TableName"]), spec["Key"])
                counts["ddb:rru"] += 2 * read_units(image.size if image else 0, True)
        elif op in ("Query", "Scan"):
            counts.update(self._query_units(req, json.loads(answer or b"{}")))
        return counts

    def _query_units(self, req: _Request, answer: dict[str, Any]) -> Counter[str]:
        """The items a Query or Scan read: those it returns, at their full size in the table (or index), plus those
        its filter dropped (``ScannedCount - Count``), estimated at the mean size of the others."""
        d = req.data
        table = self._table(req, d["TableName"])
        index = next((i for i in table.all_indexes() if i.name == d.get("IndexName")), None)
        sizes, estimated = [], 0
        for wire in answer.get("Items", []):
            image = self._image(table, wire) if _has_key(table, wire) else None
            if image is None:
                sizes.append(item_size(wire))
                estimated += 1
            else:
                sizes.append(image.index_sizes.get(index.name, image.size) if index is not None else image.size)
        dropped = max(0, int(answer.get("ScannedCount", len(sizes))) - int(answer.get("Count", len(sizes))))
        if dropped:
            sizes += [int(sum(sizes) / len(sizes)) if sizes else 1] * dropped
            estimated += dropped
        consistent = bool(d.get("ConsistentRead")) and (index is None or index not in table.global_indexes)
        counts: Counter[str] = Counter({"ddb:rru": read_units(sum(sizes), consistent)})
        if estimated:
            counts["ddb:estimated"] += estimated
        return counts


@dataclass
class _Request:
    label: str
    channel: str
    service: str
    region: str
    operation: str
    body_bytes: int
    data: dict[str, Any]
    needs_answer: bool = False
    ddb_before: list[tuple[str, str, dict[str, Any], int, Image | None]] | None = None


class _ThenClose:
    """A response body, and work to do once the server has sent it (WSGI servers call ``close()`` after)."""

    def __init__(self, body: bytes, then: Callable[[], None]) -> None:
        self.body = body
        self.then = then

    def __iter__(self) -> Iterator[bytes]:
        return iter([self.body])

    def close(self) -> None:
        self.then()


def _key_of(table: Any, item: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {n: item[n] for n in names}


def _has_key(table: Any, item: dict[str, Any]) -> bool:
    return table.hash_key_attr in item and (not table.range_key_attr or table.range_key_attr in item)


def _projected(index: Any, table: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    projection = (index.projection or {}).get("ProjectionType", "ALL")
    if projection == "ALL":
        return attrs
    keep = {table.hash_key_attr, table.range_key_attr, *index.schema_key_attrs}
    if projection == "INCLUDE":
        keep |= set(index.projection.get("NonKeyAttributes", []))
    return {k: v for k, v in attrs.items() if k in keep}
