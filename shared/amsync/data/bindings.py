"""The binder: Acumatica record <-> Magento record, plus the reconciler's markers and watermarks.

Items (pk, sk):
- ``("order#SO/SOT00024", "binding")``: magento_entity_id, magento_increment_id, synced_at, state
  (``creating`` while a create is in flight, ``bound`` after); gsi1pk ``"magento-order#1093"``;
- ``("shipment#005139#SO/SOT00024", "binding")`` / ``("invoice#Invoice/AR012116#SO/SOT00024", "binding")``;
- ``("push#<stream>#<version>", "seen")`` with ``expires_at``: a record version the reconciler handed on (the
  webhook keeps no marker: SQS FIFO deduplication drops a re-sent push within five minutes, the consumers are
  idempotent after);
- ``("watermark#<name>", "watermark")``;
- ``("order#SO/SOT00024", "read")``: the last read of an order not in Magento whose create was forwarded:
  ``modified``, the LastModifiedOn of the push row whose handling read it, and ``read``, the order's LastModified
  as read, with ``expires_at`` (order sync drops a later push that read covered).
Every bind is a conditional write: two writers can never bind one Acumatica record to two Magento records.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from amsync.data.aws import client, condition_failed, table
from amsync.services.exporting import AlreadyBound, Binding, LeaseHeld, LeaseLost

__all__ = ["AlreadyBound", "Binder", "Binding", "LeaseHeld", "LeaseLost"]

PUSH_MARKER_TTL_S = 3 * 86400
READ_NOTE_TTL_S = 3600  # the pushes of one change come within seconds of each other


# The hot paths (a binding's reads, its bookkeeping) go through the low-level client with the item typed here: the
# resource layer's Table would walk the operation's whole shape to convert (and deep-copy) the same few attributes.
_plain = TypeDeserializer().deserialize
_typed = TypeSerializer().serialize


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in raw.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _typed_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _typed(v) for k, v in item.items()}


# the names a binding's conditions use ("state" is a DynamoDB reserved word)
_NAMES = {"#pk": "pk", "#state": "state", "#until": "lease_until", "#token": "lease_token",
          "#entity": "magento_entity_id"}


def _to_binding(item: dict[str, Any]) -> Binding:
    kind, _, key = item["pk"].partition("#")
    ent = item.get("magento_entity_id")
    return Binding(
        kind=kind,
        acumatica_key=key,
        magento_entity_id=int(ent) if ent is not None else None,
        magento_increment_id=item.get("magento_increment_id"),
        state=item.get("state", "bound"),
        updated_at=float(item.get("updated_at", 0)),
        extra={k: v for k, v in item.items() if k.startswith("x_")},
    )


def _batch_get(table_name: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of up to 100 keys (one BatchGetItem, eventually consistent; the keys DynamoDB leaves unprocessed are
    asked again with a growing pause)."""
    request: dict[str, Any] = {table_name: {"Keys": keys}}
    items: list[dict[str, Any]] = []
    ddb = client("dynamodb")
    for attempt in range(8):
        resp = ddb.batch_get_item(RequestItems=request)
        items += map(_item, resp.get("Responses", {}).get(table_name, []))
        request = resp.get("UnprocessedKeys") or {}
        if not request:
            return items
        time.sleep(min(2.0, 0.05 * 2 ** attempt))
    raise RuntimeError(f"DynamoDB kept {len(request[table_name]['Keys'])} reads unprocessed")


class Binder:
    def __init__(self, table_name: str) -> None:
        self._name = table_name

    @property
    def _t(self) -> Any:
        return table(self._name)

    def get(self, kind: str, acumatica_key: str) -> Binding | None:
        item = client("dynamodb").get_item(TableName=self._name, Key=_key(f"{kind}#{acumatica_key}", "binding"),
                                           ConsistentRead=True).get("Item")
        return _to_binding(_item(item)) if item else None

    def get_with_read(self, kind: str, acumatica_key: str) -> tuple[Binding | None, dict[str, str] | None]:
        """The binding and the note of the record's last read handed on (``note_read``: ``modified`` and ``read``;
        None: none live), in one strongly consistent request (a Query of the record's items)."""
        resp = client("dynamodb").query(TableName=self._name, KeyConditionExpression="pk = :pk", ConsistentRead=True,
                                        ExpressionAttributeValues={":pk": {"S": f"{kind}#{acumatica_key}"}})
        binding: Binding | None = None
        note: dict[str, str] | None = None
        for item in map(_item, resp.get("Items", [])):
            if item["sk"] == "binding":
                binding = _to_binding(item)
            elif item["sk"] == "read" and int(item.get("expires_at", 0)) > time.time():
                note = {k: str(item.get(k) or "") for k in ("modified", "read")}
        return binding, note

    def get_pair(self, first: tuple[str, str], second: tuple[str, str]) -> tuple[Binding | None, Binding | None]:
        """Two bindings ((kind, key) each) in one strongly consistent request (BatchGetItem), e.g. a document's and
        its order's; a key DynamoDB leaves unprocessed is read on its own."""
        keys = [first, second]
        found: dict[str, Binding] = {}
        request: dict[str, Any] = {self._name: {"ConsistentRead": True, "Keys": [
            _key(f"{kind}#{key}", "binding") for kind, key in keys]}}
        resp = client("dynamodb").batch_get_item(RequestItems=request)
        for raw in resp.get("Responses", {}).get(self._name, []):
            item = _item(raw)
            found[item["pk"]] = _to_binding(item)
        if resp.get("UnprocessedKeys"):
            for kind, key in keys:
                if f"{kind}#{key}" not in found and (b := self.get(kind, key)) is not None:
                    found[f"{kind}#{key}"] = b
        return found.get(f"{first[0]}#{first[1]}"), found.get(f"{second[0]}#{second[1]}")

    def note_read(self, kind: str, acumatica_key: str, modified: str, read: str) -> None:
        """Note that the outcome of a read of the record (as last modified at ``read``), made while handling a push
        row stamped ``modified``, was handed on."""
        item = {"pk": f"{kind}#{acumatica_key}", "sk": "read", "modified": modified, "read": read,
                "expires_at": int(time.time()) + READ_NOTE_TTL_S}
        client("dynamodb").put_item(TableName=self._name, Item={k: _typed(v) for k, v in item.items()})

    def get_many(self, kind: str, acumatica_keys: Iterable[str]) -> dict[str, Binding]:
        """The bindings of many records by key (BatchGetItem, 100 keys a request; the keys DynamoDB leaves
        unprocessed are asked again). Eventually consistent: for reports (``amsync audit``) and the reconciler's
        weighing (a binding it misses costs one more idempotent request), not for writers."""
        wanted = list(dict.fromkeys(acumatica_keys))
        found: dict[str, Binding] = {}
        for start in range(0, len(wanted), 100):
            keys = [_key(f"{kind}#{k}", "binding") for k in wanted[start:start + 100]]
            for item in _batch_get(self._name, keys):
                binding = _to_binding(item)
                found[binding.acumatica_key] = binding
        return found

    def by_magento_id(self, kind: str, entity_id: int) -> Binding | None:
        resp = self._t.query(IndexName="by-magento-id", KeyConditionExpression="gsi1pk = :k",
                             ExpressionAttributeValues={":k": f"magento-{kind}#{entity_id}"})
        items = resp.get("Items", [])
        return _to_binding(items[0]) if items else None

    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding:
        """Take the create lease (unless bound, or another writer holds a live lease); the returned binding's
        ``lease`` is the lease's fencing token, which ``bind`` and ``release_creating`` then present.

        Raises ``AlreadyBound`` when bound, ``LeaseHeld`` while another writer's create may be in flight.
        """
        now = time.time()
        token = uuid.uuid4().hex
        ddb = client("dynamodb")
        try:
            old = ddb.put_item(
                TableName=self._name, ReturnValues="ALL_OLD",  # none: the record's first attempt
                Item=_typed_item({"pk": f"{kind}#{acumatica_key}", "sk": "binding", "state": "creating",
                                  "lease_token": token, "updated_at": Decimal(str(round(now, 3))),
                                  "lease_until": Decimal(str(round(now + lease_s, 3)))}),
                ConditionExpression="attribute_not_exists(#pk) OR (#state = :creating AND #until < :now)",
                ExpressionAttributeNames={k: _NAMES[k] for k in ("#pk", "#state", "#until")},
                ExpressionAttributeValues={":creating": {"S": "creating"}, ":now": _typed(Decimal(str(round(now, 3))))},
            )
        except ClientError as exc:
            if condition_failed(exc):
                raw = ddb.get_item(TableName=self._name, Key=_key(f"{kind}#{acumatica_key}", "binding"),
                                   ConsistentRead=True).get("Item")
                item = _item(raw) if raw else None
                existing = _to_binding(item) if item else None
                if item is not None and existing is not None and existing.state == "creating":
                    if item.get("in_doubt"):
                        left = max(0.0, float(item.get("lease_until", 0)) - now)
                        raise LeaseHeld(f"{kind} {acumatica_key}: an earlier create may still commit in Magento; "
                                        f"it is looked up in {left:.0f} s", retry_after=left + 1) from exc
                    raise LeaseHeld(f"{kind} {acumatica_key}: another create is in flight") from exc
                raise AlreadyBound(existing) from exc
            raise
        return Binding(kind, acumatica_key, None, None, "creating", now, {}, lease=token,
                       first_attempt=not old.get("Attributes"))

    def release_creating(self, kind: str, acumatica_key: str, hold_s: float = 0.0, lease: str | None = None) -> None:
        """Give the lease back after a failed attempt, now or after ``hold_s`` seconds (while a create Magento
        may still commit could land): the next attempt looks up first. With ``lease``: only if it is still ours."""
        until = Decimal(str(round(time.time() + hold_s, 3))) if hold_s > 0 else Decimal(0)
        cond: Any = Attr("state").eq("creating")
        if lease is not None:
            cond = cond & Attr("lease_token").eq(lease)
        try:
            self._t.update_item(Key={"pk": f"{kind}#{acumatica_key}", "sk": "binding"},
                                UpdateExpression="SET lease_until = :until, in_doubt = :doubt",
                                ConditionExpression=cond,
                                ExpressionAttributeValues={":until": until, ":doubt": hold_s > 0})
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None, lease: str | None = None) -> Binding:
        """Bind once. Fenced (``lease`` given): only while the binding is still ``creating`` under that lease's
        token, or already bound to the same Magento record; a lease taken over by another writer raises
        ``LeaseLost``. Unfenced (binding a record nobody creates, e.g. an existing customer): if unbound,
        creating, or already bound to the same record. ``AlreadyBound`` when bound to another record."""
        now = time.time()
        item: dict[str, Any] = {
            "pk": f"{kind}#{acumatica_key}", "sk": "binding", "state": "bound",
            "magento_entity_id": entity_id, "updated_at": Decimal(str(round(now, 3))),
            "gsi1pk": f"magento-{kind}#{entity_id}",
        }
        if increment_id:
            item["magento_increment_id"] = increment_id
        for k, v in (extra or {}).items():
            item[f"x_{k}"] = v
        values: dict[str, Any] = {":creating": {"S": "creating"}, ":entity": _typed(entity_id)}
        if lease is not None:
            cond = "(#state = :creating AND #token = :lease) OR #entity = :entity"
            values[":lease"] = {"S": lease}
        else:
            cond = "attribute_not_exists(#pk) OR #state = :creating OR #entity = :entity"
        try:
            client("dynamodb").put_item(TableName=self._name, Item=_typed_item(item), ConditionExpression=cond,
                                        ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k in cond},
                                        ExpressionAttributeValues=values)
        except ClientError as exc:
            if condition_failed(exc):
                existing = self.get(kind, acumatica_key)
                if existing is not None and existing.state == "creating":
                    raise LeaseLost(existing) from exc
                raise AlreadyBound(existing) from exc
            raise
        return _to_binding(item)

    def touch(self, kind: str, acumatica_key: str, **attrs: Any) -> None:
        """Update bookkeeping attributes of an existing binding (last status synced, last version...)."""
        names = {f"#a{i}": f"x_{k}" for i, k in enumerate(attrs)}
        values = {f":v{i}": _typed(v) for i, v in enumerate(attrs.values())}
        expr = ", ".join(f"#a{i} = :v{i}" for i in range(len(attrs)))
        client("dynamodb").update_item(TableName=self._name, Key=_key(f"{kind}#{acumatica_key}", "binding"),
                                       UpdateExpression=f"SET {expr}", ExpressionAttributeNames=names,
                                       ExpressionAttributeValues=values, ConditionExpression="attribute_exists(pk)")

    # ------------------------------------------------------------------ the reconciler's version markers
    def seen_many(self, query: str, push_ids: Iterable[str]) -> set[str]:
        """Which of these record versions the reconciler handed on (a live marker each), a hundred a request."""
        ids = list(dict.fromkeys(push_ids))
        seen: set[str] = set()
        prefix = f"push#{query}#"
        for start in range(0, len(ids), 100):
            keys = [_key(f"{prefix}{v}", "seen") for v in ids[start:start + 100]]
            for item in _batch_get(self._name, keys):
                if int(item.get("expires_at", 0)) > time.time():
                    seen.add(str(item["pk"])[len(prefix):])
        return seen

    def mark_seen_many(self, query: str, push_ids: Iterable[str]) -> None:
        """Mark these record versions handed on (boto3's batch writer: BatchWriteItem, 25 a request, what DynamoDB
        leaves unprocessed sent again), as the connector log writes its rows."""
        expires = int(time.time()) + PUSH_MARKER_TTL_S
        with self._t.batch_writer() as batch:
            for v in dict.fromkeys(push_ids):
                batch.put_item(Item={"pk": f"push#{query}#{v}", "sk": "seen", "expires_at": expires})

    # ------------------------------------------------------------------ watermarks
    def watermark(self, name: str) -> str | None:
        item = self._t.get_item(Key={"pk": f"watermark#{name}", "sk": "watermark"}, ConsistentRead=True).get("Item")
        return str(item["value"]) if item else None

    def set_watermark(self, name: str, value: str, previous: str | None) -> bool:
        """Advance a watermark only if nobody moved it meanwhile (overlapping schedules)."""
        cond = Attr("pk").not_exists() if previous is None else Attr("value").eq(previous)
        try:
            self._t.put_item(Item={"pk": f"watermark#{name}", "sk": "watermark", "value": value},
                             ConditionExpression=cond)
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
