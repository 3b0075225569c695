"""The benchmark's meter in the local world's moto server (amsync_local.metering): requests counted per principal
with the event source mappings' polling apart, and DynamoDB units computed from the items as DynamoDB bills
them (a table write by the larger item image, each index entry put or deleted, reads per 4 KB, eventual at half)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from amsync_local.metering import POLLER_AGENT
from amsync_local.runtime import start_moto, stop_moto

USER = "bench-meter-user"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    proc, port = start_moto("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_moto(proc)


def _client(url: str, service: str, key: tuple[str, str] = ("testing", "testing"), agent: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key[0],
                        aws_secret_access_key=key[1], config=Config(user_agent_extra=agent) if agent else None)


@pytest.fixture(scope="module")
def user_key(moto_url: str) -> tuple[str, str]:
    """An IAM user allowed everything: its requests are a principal's, metered as the functions' are."""
    iam = _client(moto_url, "iam")
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName="all", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))
    k = iam.create_access_key(UserName=USER)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


def _meter(url: str, want: dict[str, float], timeout: float = 5.0) -> dict[str, float]:
    """The meter's counters once they show ``want`` (a read's units are worked out after its answer is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        counters = httpx.get(f"{url}/_amsync/meter").json()["counters"]
        if all(counters.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return counters
        time.sleep(0.05)


def test_dynamodb_units_follow_the_items_and_the_index(moto_url: str, user_key: tuple[str, str]) -> None:
    # Given a table with an index projecting everything, and the meter switched on
    root = _client(moto_url, "dynamodb")
    root.create_table(TableName="metered", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gx")],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}],
                      GlobalSecondaryIndexes=[{"IndexName": "by-gx", "KeySchema": [{"AttributeName": "gx",
                                                                                     "KeyType": "HASH"}],
                                               "Projection": {"ProjectionType": "ALL"}}])
    httpx.post(f"{moto_url}/_amsync/meter", json={"enabled": True, "reset": True}).raise_for_status()
    ddb = _client(moto_url, "dynamodb", user_key)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    # When a 1,514-byte item is put (2 KB started: 2 WRU, and 2 for its index entry),
    ddb.put_item(TableName="metered", Item={**key, "gx": {"S": "k1"}, "blob": {"S": "x" * 1500}})
    # its index key changed (table 2; index: delete the old entry 2 + put the new one 2),
    ddb.update_item(TableName="metered", Key=key, UpdateExpression="SET gx = :v",
                    ExpressionAttributeValues={":v": {"S": "k2"}})
    # read consistently (1 RRU), eventually (0.5), through the index (always eventual: 0.5),
    ddb.get_item(TableName="metered", Key=key, ConsistentRead=True)
    ddb.get_item(TableName="metered", Key=key)
    ddb.query(TableName="metered", IndexName="by-gx", KeyConditionExpression="gx = :v",
              ExpressionAttributeValues={":v": {"S": "k2"}})
    # put again only if absent (refused: still costs the item it read, 2),
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName="metered", Item={**key, "gx": {"S": "k3"}},
                     ConditionExpression="attribute_not_exists(pk)")
    # and deleted (table 2, index entry 2); the harness's own write is not the principal's
    ddb.delete_item(TableName="metered", Key=key)
    root.put_item(TableName="metered", Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    # Then the units are DynamoDB's
    p = f"user/{USER}\tfunction\t"
    want = {p + "ddb:wru_table": 2 + 2 + 2 + 2, p + "ddb:wru_index": 2 + 4 + 2, p + "ddb:rru": 1 + 0.5 + 0.5,
            p + "request:dynamodb.PutItem": 2, p + "request:dynamodb.GetItem": 2,
            "root\tfunction\trequest:dynamodb.PutItem": 1}
    counters = _meter(moto_url, want)
    assert {k: counters.get(k) for k in want} == want
    assert not any(k.startswith("root\t") and "ddb:" in k for k in counters)


def test_polling_is_counted_apart_and_sqs_as_billed(moto_url: str, user_key: tuple[str, str]) -> None:
    # Given a FIFO queue, the meter on, a function's client and its event source mapping's (marked) client
    httpx.post(f"{moto_url}/_amsync/meter", json={"enabled": True, "reset": True}).raise_for_status()
    url = _client(moto_url, "sqs").create_queue(QueueName="metered.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs, poller = _client(moto_url, "sqs", user_key), _client(moto_url, "sqs", user_key, POLLER_AGENT)
    # When the mapping polls an empty queue, the function sends, and the mapping receives and deletes it
    poller.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="1")
    got = poller.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    poller.delete_message_batch(QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": got[0]["ReceiptHandle"]}])
    # Then the function's request and the mapping's are counted apart, each as SQS bills it
    fn, esm = f"user/{USER}\tfunction\t", f"user/{USER}\tpoller\t"
    want = {fn + "request:sqs.SendMessage": 1, fn + "sqs_billed:fifo": 1, esm + "request:sqs.ReceiveMessage": 2,
            esm + "receive:empty:fifo": 1, esm + "receive:with:fifo": 1, esm + "request:sqs.DeleteMessageBatch": 1,
            esm + "sqs_billed:fifo": 3}
    counters = _meter(moto_url, want)
    assert {k: counters.get(k) for k in want} == want
