"""Publishing messages to the pipeline's queues (FIFO group per sales order)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

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


def send_many(queue_url: str, items: Sequence[tuple[BaseModel, str | None, str | None]]) -> list[str]:
    """Send (message, group_id, dedup_key) tuples in batches of 10; raise if any entry failed."""
    ids: list[str] = []
    for start in range(0, len(items), 10):
        entries = []
        for n, (msg, group, dedup) in enumerate(items[start:start + 10]):
            body = msg.model_dump_json()
            entry: dict[str, object] = {"Id": str(n), "MessageBody": body}
            corr = json.loads(body).get("correlation_id")
            if corr:
                entry["MessageAttributes"] = {"correlation_id": {"DataType": "String", "StringValue": corr}}
            if queue_url.endswith(".fifo"):
                entry["MessageGroupId"] = group or "default"
                entry["MessageDeduplicationId"] = _dedup_id(dedup or body)
            entries.append(entry)
        resp = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        if resp.get("Failed"):
            raise RuntimeError(f"SQS refused {len(resp['Failed'])} message(s): {resp['Failed'][0].get('Message')}")
        ids.extend(s["MessageId"] for s in resp.get("Successful", []))
    return ids


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Hide a message for ``seconds`` (how a consumer backs off a record that is not ready yet)."""
    client("sqs").change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                            VisibilityTimeout=max(0, min(43200, seconds)))
