"""moto's server as the local runtime runs it: in a process of its own, with repairs to its SQS and DynamoDB.

`python -m amsync_local.moto_server HOST PORT [PORT_FILE]` (PORT 0: any free port, written to PORT_FILE)

1. One queue operation at a time. moto's SQS backend mutates a queue's message list and its set of in-flight
   ("pending") messages from whichever server thread handles a request, without a lock. Under a real load
   (pollers, a handler deleting a message whose visibility just ran out while a poller receives it again) two
   requests interleave: a delete can put back a list that misses a message sent meanwhile (the message is lost),
   or leave a deleted message in the pending set, which locks its FIFO group for good. Real SQS does neither, so
   every backend operation here holds one lock; a long poll gives it up while it waits for messages.
2. A FIFO group is locked only while one of its messages is in flight (received, not deleted, not yet visible
   again), as SQS documents; a pending entry that no longer stands for such a message is ignored.
3. "Now" from ``time.time()``: moto computes every message's visibility with datetime arithmetic on each send,
   receive and attribute read; the same clock from ``time.time()`` keeps deep queues fast.

4. A send reads only the attribute it needs. moto validated and stored each message by computing the queue's
   full attribute map several times, its approximate message counts included (three walks over every message
   in the queue per computation): a send's cost grew with the queue's depth.
8. A FIFO queue drops a repeat of a deduplication id for five minutes after its first send, as SQS does, also
   once the first message was received and deleted. moto compared the id only with the messages still in the
   queue, so a repeat sent after its first was consumed was delivered again (the webhook's dedupe of Acumatica's
   re-sends rests on this window: services/intake.py). The window is per queue, or per message group with
   ``DeduplicationScope=messageGroup``; a message moved to a DLQ is no send and is not deduplicated.

9. An attribute read computes what it names. moto built a queue's whole attribute map (its approximate message
   counts walk every message three times) three times per attribute asked, and a receive asks for the retention
   period once per message it hands out: a receive's cost grew with the queue's depth times the messages it
   received, quadratic in a backlog (the 10,000-order chaos run's queues).
10. A delete or a visibility change finds its message through an index of receipt handles. moto walked every
   message of the queue for each (twice for a delete): quadratic in a backlog too.
11. No walk of the queue per send or receive. A FIFO send compared its deduplication id with every message in the
   queue (repair 8's five-minute window now decides alone); a receive listed every visible message before taking
   its batch (now a lazy walk that stops at the batch); the FIFO groups in flight were found by listing the queue
   (now through repair 10's index).

And two to its DynamoDB:

5. A Query reads its partition. moto's ``Table.query`` gathers (and sorts) every item of the table, then keeps
   the partition's: a Query's cost grew with the table (the connector log and the bindings grow with every
   order). A Query on the table's key now starts from the partition's items; one on an index from the items
   with that index key, grouped once and kept write by write: a put, an update or a delete regroups the item it
   wrote, a transaction or a PartiQL statement (which can put whole tables back) groups afresh.
6. One table operation at a time. moto's conditional write reads the current item, tests the condition, then
   stores, from whichever server thread handles the request, without a lock: two concurrent
   ``attribute_not_exists`` puts could both pass (the connector's create lease was then taken twice and an
   order created twice). DynamoDB applies each conditional write atomically, so every backend operation here
   holds a lock of its own (not SQS's: a table write never waits on a queue).

And IAM, as AWS applies it:

7. The IAM gate. moto checks no IAM by default, and its optional check authorises most requests against the
   resource ``*``. Every request signed with credentials of a role (assumed through STS: the local runtime signs
   each function's calls as the function's own role, created by CloudFormation from template.yaml) or of an IAM
   user (the operator policy test) is evaluated here against that principal's policies with AWS's rules
   (``amsync_local.iam_policy``), and refused as AWS refuses it (``AccessDeniedException`` / ``AccessDenied``).
   Requests signed with the local world's root key (the harness, tests inspecting state, the CLI by default)
   pass, as the account root does.

Apart from the repairs, a meter for the benchmark (``amsync_local.metering``): off unless switched on through
``/_amsync/meter``; it then counts every request per principal and computes DynamoDB's capacity units.

Plus: no access log line per request, the list of moto's service packages (which its dispatcher reads from
disk on every request) is read once, and so is each handler class's list of methods (moto listed it with
``inspect.getmembers`` on every request). The server is waitress, not werkzeug's development server: werkzeug answers
every request with ``Connection: close``, so each AWS call paid a new TCP connection (and the server a new
thread); AWS keeps the connections of botocore's pool alive, and so does waitress (HTTP/1.1 keep-alive, a fixed
pool of worker threads sized for the runtime's long polls). A DynamoDB GetItem measured 1.39 ms of client CPU
with a connection per call, 0.93 ms kept alive.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_LOCK = threading.Lock()
_HELD = threading.local()


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_HELD, "depth", 0):
            _HELD.depth += 1
            try:
                return method(*args, **kwargs)
            finally:
                _HELD.depth -= 1
        with _LOCK:
            _HELD.depth = 1
            try:
                return method(*args, **kwargs)
            finally:
                _HELD.depth = 0
    return wrapper


class _Visible:
    """Repair 11: a queue's visible messages as moto's ``Queue.messages`` lists them, but walked lazily. moto built
    the whole list (every message's visibility and delay tested) for each receive, which then stops at its batch:
    a receive cost the queue's depth, quadratic in a backlog. Counting (``len``) still walks it all."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[Any]:
        return (m for m in self._queue._messages if m.visible and not m.delayed)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None


def patch_sqs() -> None:
    import moto.sqs.models as sqs_models

    if getattr(sqs_models, "_amsync_patched", False):
        return
    sqs_models._amsync_patched = True  # type: ignore[attr-defined]
    original_unix_time = sqs_models.unix_time

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(original_unix_time(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    sqs_models.unix_time, sqs_models.unix_time_millis = unix_time, unix_time_millis

    backend = sqs_models.SQSBackend
    for name, member in list(vars(backend).items()):
        if callable(member) and not name.startswith("_"):
            setattr(backend, name, _locked(member))

    queue = sqs_models.Queue
    original_wait = queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        depth = getattr(_HELD, "depth", 0)
        if not depth:
            original_wait(self, timeout)
            return
        _HELD.depth = 0
        _LOCK.release()
        try:
            original_wait(self, timeout)
        finally:
            _LOCK.acquire()
            _HELD.depth = depth

    queue.wait_for_messages = wait_for_messages

    def pending_message_groups(self: Any) -> set[str]:
        # in flight: received, not visible again, and still in the queue (its receipt handle still names it in
        # repair 10's index, which a delete empties; moto walked the whole queue to know)
        return {m.group_id for m in self._pending_messages
                if m.group_id is not None and not m.visible and _BY_HANDLE.get(m.receipt_handle) is m}

    queue.pending_message_groups = property(pending_message_groups)
    queue.messages = property(lambda self: _Visible(self))  # repair 11: walked only as far as a receive reads

    _cheap_sends(sqs_models)
    _cheap_attribute_reads(sqs_models)
    _receipt_index(sqs_models)
    _dedupe_window(sqs_models)


DEDUPLICATION_WINDOW_S = 300.0


def _dedupe_window(sqs_models: Any) -> None:
    """Repair 8: every send to a FIFO queue is checked against the ids sent in the last five minutes."""
    sending = threading.local()
    queue, backend = sqs_models.Queue, sqs_models.SQSBackend
    original_add = queue.add_message

    def add_message(self: Any, message: Any) -> None:
        dedup = getattr(message, "deduplication_id", None)
        if self.fifo_queue and dedup and getattr(sending, "depth", 0):
            window: dict[tuple[str | None, str], float] = self.__dict__.setdefault("_amsync_dedup", {})
            scoped = message.group_id if getattr(self, "deduplication_scope", "queue") == "messageGroup" else None
            now = float(message.sent_timestamp) / 1000.0
            first = window.get((scoped, dedup))
            if first is not None and now - first < DEDUPLICATION_WINDOW_S:
                return  # accepted, not delivered (SQS answers a repeat with success)
            if len(window) > 50_000:  # ids past the window are forgotten
                for key in [k for k, t in window.items() if now - t >= DEDUPLICATION_WINDOW_S]:
                    del window[key]
            window[(scoped, dedup)] = now
            if not any(esm.enabled for esm in self.lambda_event_source_mappings.values()):  # the runtime polls
                # repair 11: the window has decided (moto's add would walk the queue, comparing the id with every
                # message in it: a send cost the queue's depth)
                with self._messages_lock:
                    self._messages.append(message)
                    self._messages_lock.notify_all()
                return
        original_add(self, message)

    queue.add_message = add_message
    method = backend.send_message

    @functools.wraps(method)
    def send_message(*args: Any, **kwargs: Any) -> Any:
        sending.depth = getattr(sending, "depth", 0) + 1
        try:
            return method(*args, **kwargs)
        finally:
            sending.depth -= 1

    backend.send_message = send_message


def _cheap_sends(sqs_models: Any) -> None:
    """Repair 4: while a send runs, ``Queue.attributes`` answers only what a send reads."""
    sending = threading.local()
    queue, backend = sqs_models.Queue, sqs_models.SQSBackend
    full_attributes = queue.attributes.fget

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "depth", 0):  # what a send reads: whether the FIFO queue dedupes by content
            return {"ContentBasedDeduplication": "true" if self.content_based_deduplication else "false"} \
                if self.fifo_queue else {}
        result: dict[str, Any] = full_attributes(self)
        return result

    queue.attributes = property(attributes)
    for name in ("send_message", "send_message_batch"):
        method = getattr(backend, name)

        def send(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            sending.depth = getattr(sending, "depth", 0) + 1
            try:
                return _method(*args, **kwargs)
            finally:
                sending.depth -= 1

        setattr(backend, name, functools.wraps(method)(send))


def _cheap_attribute_reads(sqs_models: Any) -> None:
    """Repair 9: ``GetQueueAttributes`` with named attributes computes only those. moto built the queue's whole
    attribute map (three walks over every message, for the approximate counts) three times per name asked, and
    ``ReceiveMessage`` asks for ``MessageRetentionPeriod`` once per message it hands out: a receive's cost grew
    with the queue's depth times the messages received (quadratic in a backlog). ``All`` and names moto refuses
    take moto's own path."""
    from moto.core.utils import camelcase_to_underscores

    backend = sqs_models.SQSBackend
    original = backend.get_queue_attributes

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = self.get_queue(queue_name)
        known = [*queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        if not attribute_names or any(name not in known for name in attribute_names):
            result: dict[str, Any] = original(self, queue_name, attribute_names)  # "All", or moto's refusal
            return result
        present = {*queue.BASE_ATTRIBUTES, *(queue.FIFO_ATTRIBUTES if queue.fifo_queue else ()),
                   *(queue.KMS_ATTRIBUTES if queue.kms_master_key_id else ())}
        out: dict[str, Any] = {}
        for name in attribute_names:
            if name not in present:
                continue
            if name == "Policy":
                value: Any = queue.policy or None
            elif name == "RedrivePolicy":
                value = json.dumps(queue.redrive_policy) if queue.redrive_policy else None
            else:
                value = getattr(queue, camelcase_to_underscores(name))
            if value is None:
                continue
            out[name] = str(value).lower() if isinstance(value, bool) else value
        return out

    backend.get_queue_attributes = _locked(get_queue_attributes)


_BY_HANDLE: dict[str, Any] = {}  # repair 10: every receipt handle a message in a queue was given -> the message


def _receipt_index(sqs_models: Any) -> None:
    """Repair 10: a delete or a visibility change finds its message through an index of receipt handles. moto
    walked every message of the queue, listing each one's handles (twice for a delete), so each cost the queue's
    depth: quadratic in a backlog. The index maps every handle a message was given (old ones too, as moto honours
    them) to the message; the message is then found in the queue by identity (moto's messages compare by
    identity), and a delete drops its handles from the index."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    message_cls, queue_cls = sqs_models.Message, sqs_models.Queue
    by_handle = _BY_HANDLE
    original_mark = message_cls.mark_received

    def mark_received(self: Any, visibility_timeout: int | None = None) -> None:
        original_mark(self, visibility_timeout)
        by_handle[self.receipt_handle] = self

    message_cls.mark_received = mark_received

    def holder(queue: Any, receipt_handle: str) -> tuple[int, Any] | None:
        message = by_handle.get(receipt_handle)
        if message is None:
            return None
        try:
            return queue._messages.index(message), message
        except ValueError:  # the message is in another queue (a DLQ) or gone
            return None

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: moto (and SQS) accept it again
        found = holder(self, receipt_handle)
        if found is None:
            raise ReceiptHandleIsInvalid()
        i, message = found
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)
        self._messages = self._messages[:i] + self._messages[i + 1:]
        for handle in message.all_receipt_handles:
            by_handle.pop(handle, None)

    queue_cls.delete_message = delete_message

    _indexed_visibility(sqs_models, holder)


def _indexed_visibility(sqs_models: Any, holder: Callable[[Any, str], tuple[int, Any] | None]) -> None:
    """Repair 10's visibility change: moto's own, its message found through the index."""
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        found = holder(queue, receipt_handle)
        if found is None:
            raise ReceiptHandleIsInvalid
        message = found[1]
        given = sqs_models.unix_time_millis() + int(visibility_timeout) * 1000
        if given - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]")
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)

    sqs_models.SQSBackend.change_message_visibility = _locked(change_message_visibility)


def patch_dispatch() -> None:
    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    # every request listed its handler class's methods afresh (inspect.getmembers over the class and its bases):
    # about 5% of the server's time; a class's methods do not change while it runs
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)


# writes that can touch any item of a table (a transaction rolls back by putting copies of whole tables back)
_DDB_WHOLESALE = ("transact_write_items", "execute_statement", "batch_execute_statement", "create_table",
                  "delete_table", "update_table", "update_table_global_indexes", "restore_table_from_backup",
                  "restore_table_to_point_in_time")


class _IndexBucket:
    """One index's items grouped by its hash key, kept up to date write by write (repair 5)."""

    def __init__(self, table: Any, attr: str, epoch: int) -> None:
        self.table, self.attr, self.epoch = table, attr, epoch
        self.grouped: dict[Any, dict[Any, Any]] = {}  # index hash value -> {item key: item}
        self.where: dict[Any, Any] = {}  # item key -> its index hash value
        self.pending: set[Any] = set()  # keys of the items written since they were grouped
        for item in _walk(table):
            self._place((item.hash_key, item.range_key), item)

    def _place(self, key: Any, item: Any) -> None:
        value = item.attrs.get(self.attr) if item is not None else None
        if value is not None:
            self.grouped.setdefault(value, {})[key] = item
            self.where[key] = value

    def refresh(self) -> None:
        for key in self.pending:
            old = self.where.pop(key, None)
            if old is not None:
                group = self.grouped[old]
                group.pop(key, None)
                if not group:
                    del self.grouped[old]
            self._place(key, self.table.get_item(*key))  # (hash, range), range None for a hash-only table
        self.pending.clear()

    def items(self, value: Any) -> list[Any]:
        found = list(self.grouped.get(value, {}).values())
        return sorted(found, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)  # moto's order


def _walk(table: Any) -> Iterator[Any]:
    for part in table.items.values():
        if table.range_key_attr:
            yield from part.values()
        else:
            yield part


class _Partitions:
    """Repair 5: the items a Query may match, by table key or by index key (see the module's docstring).

    An index's grouping is built once and then kept: each write of an item (a put, an update, a delete, whichever
    request made it) marks that item's key, and the next Query on the index regroups only the marked items. A write
    that can touch anything (a transaction's rollback, PartiQL, a table's creation or change) starts a new epoch:
    every grouping is built again. Every DynamoDB call runs under one lock, so no write runs during a Query."""

    def __init__(self) -> None:
        self.epoch = 0
        self.buckets: dict[tuple[int, str], _IndexBucket] = {}

    def of_table(self, table: Any, hash_key: Any) -> list[Any]:
        part = table.items.get(hash_key)  # .get: items is a defaultdict, a miss must not create the partition
        if part is None:
            return []
        items = list(part.values()) if table.range_key_attr else [part]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def of_index(self, table: Any, index_name: str, hash_key: Any) -> list[Any] | None:
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
        if len(hashes) != 1:
            return None  # a multi-attribute key: moto's own walk
        key = (id(table), index_name)
        bucket = self.buckets.get(key)
        if bucket is None or bucket.table is not table or bucket.epoch != self.epoch or bucket.attr != hashes[0]:
            bucket = self.buckets[key] = _IndexBucket(table, hashes[0], self.epoch)
        else:
            bucket.refresh()
        return bucket.items(hash_key)

    def touched(self, table: Any, hash_key: Any, range_key: Any) -> None:
        for bucket in self.buckets.values():
            if bucket.table is table:
                bucket.pending.add((hash_key, range_key))

    def wholesale(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def write(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                self.epoch += 1
        return write


def _track_item_writes(partitions: _Partitions, Table: Any, DynamoDBBackend: Any) -> None:  # noqa: N803 - moto's
    """Tell the index groupings which item each put, update and delete wrote (repair 5)."""
    original_put, original_delete, original_update = Table.put_item, Table.delete_item, DynamoDBBackend.update_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        partitions.touched(self, item.hash_key, item.range_key)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original_delete(self, hash_key, range_key)
        finally:
            partitions.touched(self, hash_key, range_key)

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:  # updated in place (or refused part way): its item is regrouped either way
            with contextlib.suppress(Exception):  # a key moto refused names no item
                table = self.get_table(table_name)
                partitions.touched(table, *self.get_keys_value(table, key))

    Table.put_item = put_item
    Table.delete_item = delete_item
    DynamoDBBackend.update_item = update_item


def patch_dynamodb() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_amsync_patched", False):
        return
    Table._amsync_patched = True  # type: ignore[attr-defined]
    scope = threading.local()
    original_all_items, original_query = Table.all_items, Table.query
    partitions = _Partitions()

    def all_items(self: Any) -> list[Any]:
        only = getattr(scope, "only", None)
        return original_all_items(self) if only is None or only[0] is not self else list(only[1])

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)  # moto passes it 8th
        only = None
        if hash_key is not None and index_name:
            only = partitions.of_index(self, index_name, hash_key)
        elif hash_key is not None:
            only = partitions.of_table(self, hash_key)
        if only is None:
            return original_query(self, hash_key, *args, **kwargs)
        scope.only = (self, only)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            scope.only = None

    Table.all_items = all_items
    Table.query = query
    _track_item_writes(partitions, Table, DynamoDBBackend)
    for name in _DDB_WHOLESALE:
        setattr(DynamoDBBackend, name, partitions.wholesale(getattr(DynamoDBBackend, name)))
    lock = threading.RLock()
    for name, member in list(vars(DynamoDBBackend).items()):
        if callable(member) and not name.startswith("_"):
            setattr(DynamoDBBackend, name, _serialised(member, lock))


def _serialised(method: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)
    return wrapper


class IamGate:
    """Repair 7: a WSGI layer in front of moto that refuses what the request's principal may not do."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.checked = 0
        self.denied = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        from amsync_local.iam_policy import credential_scope

        scope = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        principal = _principal(scope[0]) if scope else None
        if scope is None or principal is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        refusal = _refusal(principal, scope[1], scope[2], environ, body)
        self.checked += 1
        if refusal is None:
            return self.app(environ, start_response)
        self.denied += 1
        status, headers, payload = refusal
        start_response(f"{status} {'Forbidden' if status == 403 else 'Bad Request'}",
                       [*headers.items(), ("Content-Length", str(len(payload))),
                        ("x-amzn-RequestId", "local-iam-gate")])
        return [payload]


@dataclass(frozen=True)
class _Principal:
    arn: str
    account: str
    documents: tuple[Any, ...]


def _principal(access_key: str) -> _Principal | None:
    """The role (assumed through STS) or IAM user an access key belongs to (a key of either kind that moto does
    not know is allowed nothing); None for any other key: the local world's root."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if access_key.startswith("ASIA"):
        for partition in sts_backends.get(DEFAULT_ACCOUNT_ID, {}).values():
            assumed = partition.get_assumed_role_from_access_key(access_key)
            if assumed is None:
                continue
            iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
            role = next((r for r in iam.roles.values() if r.arn == assumed.role_arn), None)
            docs = () if role is None else (*role.policies.values(), *_managed(role.managed_policies))
            return _Principal(assumed.arn, DEFAULT_ACCOUNT_ID, docs)
        return _Principal(f"unknown session key {access_key}", DEFAULT_ACCOUNT_ID, ())  # allowed nothing
    if access_key.startswith("AKIA"):
        iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
        user = iam.get_user_from_access_key_id(access_key)
        if user is None:
            return _Principal(f"unknown access key {access_key}", DEFAULT_ACCOUNT_ID, ())
        docs: list[Any] = [*user.policies.values(), *_managed(user.managed_policies)]
        for group in iam.get_groups_for_user(user.name):
            docs += [*group.policies.values(), *_managed(group.managed_policies)]
        return _Principal(user.arn, DEFAULT_ACCOUNT_ID, tuple(docs))
    return None


def _managed(policies: dict[str, Any]) -> list[Any]:
    return [v.document for p in policies.values() for v in p.versions if v.is_default]


def _refusal(principal: _Principal, region: str, service: str, environ: dict[str, Any],
             body: bytes) -> tuple[int, dict[str, str], bytes] | None:
    from amsync_local.iam_policy import (
        Decision,
        RequestFacts,
        Unmapped,
        denial_message,
        denial_response,
        evaluate,
        required_access,
        statements,
    )

    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    facts = RequestFacts(service=service, region=region, account=principal.account,
                         method=environ.get("REQUEST_METHOD", "GET"), path=environ.get("PATH_INFO", "/"),
                         query=environ.get("QUERY_STRING", ""), headers=headers, body=body,
                         secret_arn=lambda sid: _secret_arn(principal.account, region, sid),
                         context={"aws:PrincipalArn": principal.arn, "aws:PrincipalAccount": principal.account,
                                  "aws:RequestedRegion": region, "aws:SecureTransport": "true"})
    needs = required_access(facts)
    if isinstance(needs, Unmapped):
        decision = Decision(False, reason=needs.reason)
    else:
        decision = evaluate(statements(principal.documents), needs, facts.context)
    _audit(principal, needs, decision)
    if decision.allowed:
        return None
    return denial_response(service, headers, denial_message(principal.arn, decision))


_AUDIT_LOCK = threading.Lock()


def _audit(principal: _Principal, needs: Any, decision: Any) -> None:
    """With AMSYNC_IAM_AUDIT=<file>: one line per access checked (principal, action, resource, verdict), so the
    grants the code really uses can be compared with the template's (docs/local.md, "IAM")."""
    path = os.environ.get("AMSYNC_IAM_AUDIT")
    if not path or not isinstance(needs, list):
        return
    verdict = "allow" if decision.allowed else "deny"
    with _AUDIT_LOCK, open(path, "a") as f:
        for access in needs:
            f.write(f"{principal.arn}\t{access.action}\t{access.resource}\t{verdict}\n")


def _secret_arn(account: str, region: str, secret_id: str) -> str | None:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    return None if secret is None else str(secret.arn)


SERVER_THREADS = 48


def main(argv: list[str]) -> None:
    """``HOST PORT [PORT_FILE]``: serve moto on HOST:PORT; PORT 0 takes any free port, written to PORT_FILE once
    the server listens (a port picked by the parent and bound later could be taken meanwhile)."""
    logging.disable(logging.WARNING)
    patch_sqs()
    patch_dynamodb()
    patch_dispatch()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    app = IamGate(DomainDispatcherApplication(create_backend_app))
    # the benchmark's meter (amsync_local.metering): off until bench/ switches it on through /_amsync/meter
    from amsync_local.metering import Meter

    metered = Meter(app, principal_of=_principal)
    # threads: every SQS event source of the runtime holds one in a long poll (up to 20 s), plus the functions'
    # own calls; connection_limit: botocore keeps up to 10 connections per client, one client per service per
    # container
    server = create_server(metered, host=argv[0], port=int(argv[1]), threads=SERVER_THREADS,
                           connection_limit=1000, channel_timeout=300, ident="moto", clear_untrusted_proxy_headers=True)
    port = int(server.effective_port)  # type: ignore[union-attr]
    os.environ["MOTO_PORT"] = str(port)  # as moto's own main sets it
    if len(argv) > 2:
        tmp = f"{argv[2]}.tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, argv[2])
    server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
