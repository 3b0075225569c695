"""The event shapes Lambda hands a function, built the way the real event sources build them."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any


class LambdaContext:
    """What the Python runtime passes as ``context`` (the fields Powertools and our handlers read)."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: float, region: str,
                 account: str = "123456789012"):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Until the invocation's deadline: the function's (scaled) timeout from the invoke; the local runtime
        ends the invocation when this reaches 0."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event from a ReceiveMessage entry (attributes requested with All)."""
    attrs = message.get("Attributes", {})
    record_attrs = {k: v for k, v in attrs.items() if k in {
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
        "MessageGroupId", "MessageDeduplicationId", "SequenceNumber", "AWSTraceHeader", "DeadLetterQueueSourceArn",
    }}
    msg_attrs = {}
    for name, a in message.get("MessageAttributes", {}).items():
        msg_attrs[name] = {
            "stringValue": a.get("StringValue"),
            "binaryValue": base64.b64encode(a["BinaryValue"]).decode() if a.get("BinaryValue") else None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": a.get("DataType", "String"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": record_attrs,
        "messageAttributes": msg_attrs,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def function_url_event(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str, url_id: str, region: str
) -> dict[str, Any]:
    """A Function URL request (payload format 2.0, the same as an HTTP API's)."""
    now = datetime.now(UTC)
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    qs: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        k, _, v = part.partition("=")
        qs[k] = f"{qs[k]},{v}" if k in qs else v
    domain = f"{url_id}.lambda-url.{region}.on.aws"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lower,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": domain,
            "domainPrefix": url_id,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lower.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if qs:
        event["queryStringParameters"] = qs
    if body:
        event["body"] = text
    return event


def scheduled_event(rule_arn: str, region: str, account: str = "123456789012") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
