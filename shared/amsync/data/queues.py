"""Publishing messages to the pipeline's queues (FIFO group per sales order)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from amsync.data.aws import client


def _dedup_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:64]


def send(queue_url: str, message: BaseModel, *, group_id: str | None = None, dedup_key: str | None = None,
         delay_s: int = 0, correlation_id: str | None = None) -> str:
    """Send one message; FIFO queues get ``group_id`` and a deduplication id from ``dedup_key`` (or the body)."""
    body = message.model_dump_json()
    kwargs: dict[str, object] = {"QueueUrl": queue_url, "MessageBody": body}
    if correlation_id:
        kwargs["MessageAttributes"] = {"correlation_id": {"DataType": "String", "StringValue": correlation_id}}
    if queue_url.endswith(".fifo"):
        kwargs["MessageGroupId"] = group_id or "default"
        kwargs["MessageDeduplicationId"] = _dedup_id(dedup_key or body)
    elif delay_s:
        kwargs["DelaySeconds"] = min(900, delay_s)
    resp = client("sqs").send_message(**kwargs)
    return str(resp["MessageId"])


BATCH_BYTES = 256 * 1024  # SQS: the sum of a SendMessageBatch's message sizes (bodies and attributes)


def send_many(queue_url: str, items: Sequence[tuple[BaseModel, str | None, str | None]]) -> list[str]:
    """Send (message, group_id, dedup_key) tuples in batches of at most 10 messages and ``BATCH_BYTES``; raise if
    any entry failed."""
    ids: list[str] = []
    for entries in _batches([_entry(queue_url, n, msg, group, dedup) for n, (msg, group, dedup) in enumerate(items)]):
        resp = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        if resp.get("Failed"):
            raise RuntimeError(f"SQS refused {len(resp['Failed'])} message(s): {resp['Failed'][0].get('Message')}")
        ids.extend(s["MessageId"] for s in resp.get("Successful", []))
    return ids


def _entry(queue_url: str, n: int, msg: BaseModel, group: str | None, dedup: str | None) -> dict[str, object]:
    body = msg.model_dump_json()
    entry: dict[str, object] = {"Id": str(n), "MessageBody": body}
    corr = json.loads(body).get("correlation_id")
    if corr:
        entry["MessageAttributes"] = {"correlation_id": {"DataType": "String", "StringValue": corr}}
    if queue_url.endswith(".fifo"):
        entry["MessageGroupId"] = group or "default"
        entry["MessageDeduplicationId"] = _dedup_id(dedup or body)
    return entry


def _size(entry: Mapping[str, Any]) -> int:
    """What SQS counts of a message: its body and each attribute's name, type and value."""
    attrs = entry.get("MessageAttributes") or {}
    return len(str(entry["MessageBody"]).encode()) + sum(
        len(name.encode()) + len(str(a["DataType"]).encode()) + len(str(a.get("StringValue", "")).encode())
        for name, a in attrs.items())


def _batches(entries: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """Entries in order, in batches of at most 10 and ``BATCH_BYTES`` (a message is never over it on its own)."""
    out: list[list[dict[str, object]]] = []
    size = 0
    for entry in entries:
        n = _size(entry)
        if not out or len(out[-1]) == 10 or size + n > BATCH_BYTES:
            out.append([])
            size = 0
        entry["Id"] = str(len(out[-1]))
        out[-1].append(entry)
        size += n
    return out


def resend(queue_url: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Send Lambda SQS records to ``queue_url`` again as new messages (same body, message attributes and FIFO
    group, in the order given; a fresh deduplication id, else SQS would drop the copy as a repeat of the
    original). Returns, per original message id, None when sent or what went wrong."""
    outcome: dict[str, str | None] = {}
    sqs = client("sqs")
    for start in range(0, len(records), 10):
        chunk = list(records[start:start + 10])
        entries = []
        for n, rec in enumerate(chunk):
            entry: dict[str, object] = {"Id": str(n), "MessageBody": rec["body"]}
            attrs = _message_attributes(rec.get("messageAttributes") or {})
            if attrs:
                entry["MessageAttributes"] = attrs
            if queue_url.endswith(".fifo"):
                entry["MessageGroupId"] = (rec.get("attributes") or {}).get("MessageGroupId") or "default"
                entry["MessageDeduplicationId"] = _dedup_id(f"resend|{rec['messageId']}")
            entries.append(entry)
        try:
            resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            outcome.update((rec["messageId"], f"{type(exc).__name__}: {exc}") for rec in chunk)
            continue
        for ok in resp.get("Successful", []):
            outcome[chunk[int(ok["Id"])]["messageId"]] = None
        for bad in resp.get("Failed", []):
            outcome[chunk[int(bad["Id"])]["messageId"]] = f"{bad.get('Code')}: {bad.get('Message')}"
    return outcome


def _message_attributes(lambda_attrs: Mapping[str, Any]) -> dict[str, dict[str, object]]:
    """A Lambda record's messageAttributes back in SendMessage's shape."""
    out: dict[str, dict[str, object]] = {}
    for name, a in lambda_attrs.items():
        kind = a.get("dataType") or "String"
        if a.get("stringValue") is not None:
            out[name] = {"DataType": kind, "StringValue": a["stringValue"]}
        elif a.get("binaryValue") is not None:
            out[name] = {"DataType": kind, "BinaryValue": base64.b64decode(a["binaryValue"])}
    return out


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Hide a message for ``seconds`` (how a consumer backs off a record that is not ready yet)."""
    client("sqs").change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                            VisibilityTimeout=max(0, min(43200, seconds)))


def depth(queue_url: str) -> dict[str, int]:
    a = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return {"visible": int(a["ApproximateNumberOfMessages"]),
            "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}


def peek(queue_url: str, limit: int = 100) -> list[dict[str, object]]:
    """Read up to ``limit`` messages without consuming them (they become visible again at once)."""
    out: list[dict[str, object]] = []
    sqs = client("sqs")
    seen: set[str] = set()
    while len(out) < limit:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=5,
                                   MessageSystemAttributeNames=["All"], AttributeNames=["All"])
        got = resp.get("Messages", [])
        for m in got:  # every message received goes back at once, including ones seen before
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        msgs = [m for m in got if m["MessageId"] not in seen]
        if not msgs:
            break
        for m in msgs:
            seen.add(m["MessageId"])
            out.append({"id": m["MessageId"], "body": m["Body"], "attributes": m.get("Attributes", {})})
    return out[:limit]


def move_messages(source_url: str, target_url: str, *, select: Callable[[str], bool] | None = None,
                  group_of: Callable[[str], str] | None = None, limit: int | None = None,
                  progress: Callable[[int], None] | None = None) -> int:
    """Replay: move messages (all, or those ``select`` accepts) from a DLQ back to its source queue.

    Send first, delete after: a crash between the two leaves a copy in both, which the idempotent consumers
    absorb; nothing is ever lost. (AWS' StartMessageMoveTask does the same for whole queues; moto lacks it.)
    """
    sqs = client("sqs")
    moved = 0
    skipped: set[str] = set()
    while limit is None or moved < limit:
        resp = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                   VisibilityTimeout=30, MessageAttributeNames=["All"])
        got = resp.get("Messages", [])
        batch = [m for m in got if m["MessageId"] not in skipped]
        for m in got:  # a message passed over before, received again: visible again at once, not in 30 s
            if m["MessageId"] in skipped:
                sqs.change_message_visibility(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
        if not batch:
            break
        for m in batch:
            if select is not None and not select(m["Body"]):
                skipped.add(m["MessageId"])
                sqs.change_message_visibility(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
                continue
            kwargs: dict[str, object] = {"QueueUrl": target_url, "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                kwargs["MessageAttributes"] = m["MessageAttributes"]
            if target_url.endswith(".fifo"):
                kwargs["MessageGroupId"] = group_of(m["Body"]) if group_of else "replay"
                kwargs["MessageDeduplicationId"] = _dedup_id(f"replay|{m['MessageId']}")
            sqs.send_message(**kwargs)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
            if progress:
                progress(moved)
            if limit is not None and moved >= limit:
                break
    return moved
