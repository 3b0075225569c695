"""The local runtime's moto server (amsync_local.moto_server): its SQS unlocks a FIFO group once no message of
it is in flight, even when a handler's late delete (old receipt) meets a poller being handed the message again,
the interleaving that locked groups for good in plain moto (the chaos run's drain never ended). Each test forces
the interleaving in-process against moto's backend, repaired as the server repairs it; both fail on plain moto."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest


@pytest.fixture()
def backend() -> Any:
    """moto's SQS backend in this process, repaired as the runtime's server repairs it (each test its own queue)."""
    from moto.sqs.models import sqs_backends

    from amsync_local.moto_server import patch_sqs

    patch_sqs()
    return sqs_backends["123456789012"]["us-east-1"]


def test_a_deleted_message_left_pending_does_not_lock_its_fifo_group(backend: Any) -> None:
    # Given a FIFO group whose in-flight message was deleted while a receive put it back in the pending set
    name = f"stale-{time.monotonic_ns()}.fifo"
    queue = backend.create_queue(name, FifoQueue="true", VisibilityTimeout="30")
    backend.send_message(name, "first", group_id="g", deduplication_id="1")
    first = backend.receive_message(name, 1, 0, 30)[0]
    backend.delete_message(name, first.receipt_handle)
    queue.pending_messages.add(first)
    # When the group's next message arrives
    backend.send_message(name, "second", group_id="g", deduplication_id="2")
    # Then it is delivered: the group is locked only by a message really in flight
    assert [m.body for m in backend.receive_message(name, 1, 0, 30)] == ["second"]


def test_a_late_delete_racing_a_redelivery_leaves_the_fifo_group_open(backend: Any) -> None:
    import moto.sqs.models as sqs_models

    # Given a FIFO message whose visibility ran out while its handler still worked (visible again)
    name = f"race-{time.monotonic_ns()}.fifo"
    backend.create_queue(name, FifoQueue="true", VisibilityTimeout="30")
    backend.send_message(name, "first", group_id="g", deduplication_id="1")
    first = backend.receive_message(name, 1, 0, 30)[0]
    backend.change_message_visibility(name, first.receipt_handle, 0)
    # and a poller that is handed it again while the handler's delete (old receipt) arrives mid-receive
    visible = sqs_models.Message.visible
    paused = threading.Event()

    def slow_visible(self: Any) -> bool:
        if threading.current_thread().name == "poller" and not paused.is_set():
            paused.set()
            time.sleep(0.2)
        return bool(visible.fget(self))

    sqs_models.Message.visible = property(slow_visible)
    try:
        poller = threading.Thread(target=backend.receive_message, args=(name, 1, 0, 30), name="poller")
        poller.start()
        paused.wait(2)
        backend.delete_message(name, first.receipt_handle)
        poller.join()
    finally:
        sqs_models.Message.visible = visible
    # When the group's next message arrives
    backend.send_message(name, "second", group_id="g", deduplication_id="2")
    # Then it is delivered: the deleted message does not hold its group
    assert [m.body for m in backend.receive_message(name, 1, 0, 30)] == ["second"]


def _table_with_index(name: str, index_range: str | None = None) -> Any:
    """A DynamoDB client of moto's mock (AWS's own endpoint, which the mock answers: a local world in this process
    points the environment's endpoint at its server) and a table ``name`` keyed pk/sk with an index ``by-g`` on g
    (and ``index_range``)."""
    import boto3

    ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    index_key = [{"AttributeName": "g", "KeyType": "HASH"}]
    if index_range:
        index_key.append({"AttributeName": index_range, "KeyType": "RANGE"})
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"}, "KeySchema": index_key}])
    return ddb


def test_a_query_on_the_table_key_reads_only_its_partition_and_answers_as_before() -> None:
    from moto import mock_aws
    from moto.dynamodb.models.table import Table

    from amsync_local.moto_server import patch_dynamodb

    patch_dynamodb()
    with mock_aws():
        ddb = _table_with_index("t", index_range="sk")
        # Given a table of 40 partitions of 10 items
        for p in range(40):
            for k in range(10):
                ddb.put_item(TableName="t", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"{k:02d}"},
                                                  "g": {"S": f"g{k % 3}"}, "n": {"N": str(k)}})
        seen: list[int] = []
        original = Table.all_items

        def counting(self: Any) -> list[Any]:
            items: list[Any] = original(self)
            seen.append(len(items))
            return items

        Table.all_items = counting  # type: ignore[method-assign]
        try:
            # When one partition is queried (a range condition, newest first, a filter, pages of 3)
            got, start = [], None
            while True:
                kw: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
                resp = ddb.query(TableName="t", KeyConditionExpression="pk = :p AND sk >= :s", Limit=3,
                                 ExpressionAttributeValues={":p": {"S": "p7"}, ":s": {"S": "03"}, ":n": {"N": "8"}},
                                 FilterExpression="n <> :n", ScanIndexForward=False, **kw)
                got += [i["sk"]["S"] for i in resp["Items"]]
                start = resp.get("LastEvaluatedKey")
                if not start:
                    break
            # Then the answer is the partition's, and moto looked at that partition only
            assert got == ["09", "07", "06", "05", "04", "03"]
            assert seen and max(seen) <= 10
            # and an index query finds its items across partitions, reading only those once they are grouped
            def by_g(g: str) -> list[tuple[str, str]]:
                resp = ddb.query(TableName="t", IndexName="by-g", KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": {"S": g}})
                return sorted((i["pk"]["S"], i["sk"]["S"]) for i in resp["Items"])

            assert len(by_g("g1")) == 40 * 3
            seen.clear()
            assert len(by_g("g1")) == 40 * 3 and max(seen) <= 40 * 3
            # and a write that moves an item to another index key is seen by the next index query
            ddb.update_item(TableName="t", Key={"pk": {"S": "p3"}, "sk": {"S": "01"}}, UpdateExpression="SET g = :g",
                            ExpressionAttributeValues={":g": {"S": "g9"}})
            assert by_g("g9") == [("p3", "01")] and len(by_g("g1")) == 40 * 3 - 1
            # and a partition nobody wrote answers empty, without creating it
            resp = ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "nobody"}})
            assert resp["Items"] == [] and ddb.describe_table(TableName="t")["Table"]["ItemCount"] == 400
        finally:
            Table.all_items = original  # type: ignore[method-assign]


def test_an_index_query_after_writes_regroups_only_the_items_written(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    from amsync_local import moto_server

    moto_server.patch_dynamodb()
    walks: list[int] = []
    original_walk = moto_server._walk

    def counting_walk(table: Any) -> Any:
        walks.append(1)
        return original_walk(table)

    monkeypatch.setattr(moto_server, "_walk", counting_walk)
    with mock_aws():
        ddb = _table_with_index("b")
        model: dict[tuple[str, str], str | None] = {}  # what the index must answer: item -> its g

        def put(pk: str, g: str | None) -> None:
            item = {"pk": {"S": pk}, "sk": {"S": "binding"}} | ({"g": {"S": g}} if g else {})
            ddb.put_item(TableName="b", Item=item)
            model[(pk, "binding")] = g

        def by_g(g: str) -> list[str]:
            resp = ddb.query(TableName="b", IndexName="by-g", KeyConditionExpression="g = :g",
                             ExpressionAttributeValues={":g": {"S": g}})
            return sorted(i["pk"]["S"] for i in resp["Items"])

        def expected(g: str) -> list[str]:
            return sorted(pk for (pk, _), v in model.items() if v == g)

        # Given 200 items, a quarter of them without the index key (a lease not yet bound)
        for i in range(200):
            put(f"order#{i}", f"m#{i % 50}" if i % 4 else None)
        assert by_g("m#7") == expected("m#7")  # the first index query groups the table: one walk
        # When writes of every kind come between queries: a put that binds, an update that moves an item to
        # another key, a refused conditional update, a delete, a put that drops the key
        put("order#0", "m#7")
        ddb.update_item(TableName="b", Key={"pk": {"S": "order#7"}, "sk": {"S": "binding"}},
                        UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": {"S": "m#99"}})
        model[("order#7", "binding")] = "m#99"
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.update_item(TableName="b", Key={"pk": {"S": "order#57"}, "sk": {"S": "binding"}},
                            UpdateExpression="SET g = :g", ConditionExpression="attribute_not_exists(pk)",
                            ExpressionAttributeValues={":g": {"S": "m#99"}})
        ddb.delete_item(TableName="b", Key={"pk": {"S": "order#107"}, "sk": {"S": "binding"}})
        del model[("order#107", "binding")]
        put("order#157", None)
        # Then every index query answers what the items now say
        for g in ("m#7", "m#99", "m#0", "m#1"):
            assert by_g(g) == expected(g), g
        # and the table was walked once: each later query regrouped only the items written
        assert len(walks) == 1
        # and a transaction (which can put whole tables back) makes the next query group afresh
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "b", "Item": {
            "pk": {"S": "order#500"}, "sk": {"S": "binding"}, "g": {"S": "m#7"}}}}])
        model[("order#500", "binding")] = "m#7"
        assert by_g("m#7") == expected("m#7") and len(walks) == 2


def test_a_send_does_not_count_the_queue_and_content_deduplication_still_holds(backend: Any) -> None:
    import moto.sqs.models as sqs_models

    # Given a FIFO queue that dedupes by content, a hundred messages deep
    name = f"deep-{time.monotonic_ns()}.fifo"
    backend.create_queue(name, FifoQueue="true", ContentBasedDeduplication="true")
    for i in range(100):
        backend.send_message(name, f"m{i}", group_id=f"g{i % 5}")
    counted = []
    count = sqs_models.Queue.approximate_number_of_messages

    def counting(self: Any) -> int:
        counted.append(1)
        return int(count.fget(self))

    sqs_models.Queue.approximate_number_of_messages = property(counting)
    try:
        # When a message is sent, then the same body again
        backend.send_message(name, "again", group_id="g1")
        backend.send_message(name, "again", group_id="g1")
        # Then the send did not walk the queue to count it, the duplicate was dropped,
        assert counted == []
        # and the queue's attributes still carry the counts
        assert backend.get_queue_attributes(name, ["All"])["ApproximateNumberOfMessages"] == 101
        assert counted
    finally:
        sqs_models.Queue.approximate_number_of_messages = count


def test_named_attribute_reads_and_receives_do_not_walk_the_queue_and_answer_as_moto_does(backend: Any) -> None:
    import json

    import moto.sqs.models as sqs_models

    # Given a FIFO queue with a DLQ, fifty messages deep
    name = f"attrs-{time.monotonic_ns()}.fifo"
    dlq = backend.create_queue(f"dlq-{name}", FifoQueue="true")
    backend.create_queue(name, FifoQueue="true", ContentBasedDeduplication="true",
                         RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 5}))
    for i in range(50):
        backend.send_message(name, f"m{i}", group_id=f"g{i % 10}")
    walks: list[str] = []
    originals = {n: getattr(sqs_models.Queue, n) for n in ("approximate_number_of_messages",
                                                           "approximate_number_of_messages_not_visible",
                                                           "approximate_number_of_messages_delayed")}

    def walking(n: str) -> Any:
        return property(lambda self: (walks.append(n), originals[n].fget(self))[1])

    for n in originals:
        setattr(sqs_models.Queue, n, walking(n))
    try:
        # When ten messages are received, and the retention period and redrive policy are read
        got = backend.receive_message(name, 10, 0, 30, None)
        assert len(got) == 10
        named = backend.get_queue_attributes(name, ["MessageRetentionPeriod", "RedrivePolicy", "FifoQueue",
                                                    "KmsMasterKeyId"])
        # Then no count walked the queue
        assert walks == []
        # and what they answer is what moto's full map says (an absent KMS key left out, as moto does)
        full = backend.get_queue_attributes(name, ["All"])
        assert named == {k: full[k] for k in ("MessageRetentionPeriod", "RedrivePolicy", "FifoQueue")}
        # while the counts, asked by name, are counted as before
        walks.clear()
        depth = backend.get_queue_attributes(name, ["ApproximateNumberOfMessages",
                                                    "ApproximateNumberOfMessagesNotVisible"])
        assert depth == {"ApproximateNumberOfMessages": 40, "ApproximateNumberOfMessagesNotVisible": 10}
        assert sorted(walks) == ["approximate_number_of_messages", "approximate_number_of_messages_not_visible"]
    finally:
        for n, prop in originals.items():
            setattr(sqs_models.Queue, n, prop)


def test_deletes_and_visibility_changes_find_their_message_without_walking_the_queue(backend: Any) -> None:
    import moto.sqs.models as sqs_models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    # Given a queue two hundred messages deep, ten of them received, one of those received again (a new handle)
    name = f"handles-{time.monotonic_ns()}"
    backend.create_queue(name)
    for i in range(200):
        backend.send_message(name, f"m{i}")
    got = backend.receive_message(name, 10, 0, 30, None)
    first = got[0].receipt_handle
    backend.change_message_visibility(name, first, 0)
    [again] = [m for m in backend.receive_message(name, 10, 0, 30, None) if m.body == got[0].body]
    walks: list[int] = []
    had = sqs_models.Message.had_receipt_handle
    sqs_models.Message.had_receipt_handle = lambda self, h: (walks.append(1), had(self, h))[1]  # type: ignore
    try:
        # When messages are deleted (one by the handle it had before it was received again) and one hidden longer
        backend.delete_message(name, first)
        backend.delete_message(name, got[1].receipt_handle)
        backend.change_message_visibility(name, got[2].receipt_handle, 60)
        # Then no message's handles were listed to find them
        assert walks == []
    finally:
        sqs_models.Message.had_receipt_handle = had
    # and the queue holds what moto would hold: both deleted (the old handle counts), deleting again is accepted,
    # an unknown handle is refused
    bodies = [m.body for m in backend.get_queue(name)._messages]
    assert len(bodies) == 198 and got[0].body not in bodies and got[1].body not in bodies
    backend.delete_message(name, again.receipt_handle)
    with pytest.raises(ReceiptHandleIsInvalid):
        backend.delete_message(name, "not-a-handle")
    with pytest.raises(ReceiptHandleIsInvalid):
        backend.change_message_visibility(name, "not-a-handle", 5)


def test_sends_and_receives_on_a_deep_fifo_queue_do_not_walk_it(backend: Any) -> None:
    import moto.sqs.models as sqs_models

    # Given a FIFO queue 3,000 messages deep (a backlog), over 300 groups, one group in flight, and the event source
    # mapping the template's stack registers on it, disabled (the local runtime polls the queue itself)
    name = f"deep-{time.monotonic_ns()}.fifo"
    queue = backend.create_queue(name, FifoQueue="true", VisibilityTimeout="30")
    queue.lambda_event_source_mappings["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:x"] = \
        SimpleNamespace(enabled=False)
    for i in range(3000):
        backend.send_message(name, f"m{i}", group_id=f"g{i % 300}", deduplication_id=f"d{i}")
    first = backend.receive_message(name, 1, 0, 30)
    assert [m.body for m in first] == ["m0"]

    class Counting(list):  # type: ignore[type-arg]
        walks = 0

        def __iter__(self) -> Any:
            Counting.walks += 1
            return super().__iter__()

    tested: list[int] = []
    visible = sqs_models.Message.visible

    def counting_visible(self: Any) -> bool:
        tested.append(1)
        return bool(visible.fget(self))

    queue._messages = Counting(queue._messages)
    sqs_models.Message.visible = property(counting_visible)
    try:
        # When a new message is sent, a repeat of an old id is sent, and a batch of ten is received
        backend.send_message(name, "new", group_id="g0", deduplication_id="new")
        backend.send_message(name, "again", group_id="g1", deduplication_id="d1")
        got = backend.receive_message(name, 10, 0, 30)
    finally:
        sqs_models.Message.visible = visible
    # Then the sends compared no message (the dedupe window decided: the repeat was dropped, as SQS drops it)
    assert Counting.walks == 1  # the receive's one walk, which stopped at its batch
    assert len(tested) < 100
    # and the receive handed out the next ten, skipping the in-flight group g0
    assert [m.body for m in got] == [f"m{i}" for i in range(1, 11)]
    assert len(queue._messages) == 3001


def test_a_fifo_repeat_is_dropped_for_five_minutes_even_after_the_first_was_consumed(
        backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.sqs.models as sqs_models

    clock = [1_800_000_000_000.0]
    monkeypatch.setattr(sqs_models, "unix_time_millis", lambda dt=None: clock[0])
    # Given a FIFO message sent, received and deleted (its consumer is done with it)
    name = f"window-{time.monotonic_ns()}.fifo"
    backend.create_queue(name, FifoQueue="true", VisibilityTimeout="30")
    backend.send_message(name, "push", group_id="g", deduplication_id="d1")
    [first] = backend.receive_message(name, 10, 0, 30)
    backend.delete_message(name, first.receipt_handle)
    # When the same deduplication id is sent again 4 min 59 s later (alone, and in a batch)
    clock[0] += 299_000
    backend.send_message(name, "push", group_id="g", deduplication_id="d1")
    backend.send_message_batch(name, {"0": {"Id": "0", "MessageBody": "push", "MessageGroupId": "g",
                                             "MessageDeduplicationId": "d1", "MessageAttributes": {},
                                             "DelaySeconds": None}})
    # Then SQS drops it, as it does within its five-minute window
    assert backend.receive_message(name, 10, 0, 30) == []
    # and after the window (five minutes after the first send, not after the repeats) it is a new message
    clock[0] += 1_000
    backend.send_message(name, "push", group_id="g", deduplication_id="d1")
    assert [m.body for m in backend.receive_message(name, 10, 0, 30)] == ["push"]


def test_two_concurrent_conditional_puts_cannot_both_pass() -> None:
    import boto3
    from moto import mock_aws
    from moto.dynamodb.exceptions import ConditionalCheckFailed
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    from amsync_local.moto_server import patch_dynamodb

    patch_dynamodb()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        ddb.create_table(TableName="leases", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        backend = dynamodb_backends["123456789012"]["us-east-1"]
        # Given a writer whose "create if absent" is paused between reading the item and storing its own
        get_item = Table.get_item
        paused = threading.Event()

        def slow_get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
            current = get_item(self, *args, **kwargs)
            if threading.current_thread().name == "first" and not paused.is_set():
                paused.set()
                time.sleep(0.2)
            return current

        outcomes: dict[str, str] = {}

        def take(who: str) -> None:
            try:
                backend.put_item("leases", {"pk": {"S": "order#SO/1"}, "by": {"S": who}},
                                 condition_expression="attribute_not_exists(pk)")
                outcomes[who] = "taken"
            except ConditionalCheckFailed:
                outcomes[who] = "refused"

        Table.get_item = slow_get_item  # type: ignore[method-assign]
        try:
            first = threading.Thread(target=take, args=("first",), name="first")
            first.start()
            assert paused.wait(2)
            # When a second writer asks for the same item meanwhile
            take("second")
            first.join()
        finally:
            Table.get_item = get_item  # type: ignore[method-assign]
        # Then exactly one of them has it (DynamoDB applies a conditional write atomically), and it is the first
        assert outcomes == {"first": "taken", "second": "refused"}
        item = ddb.get_item(TableName="leases", Key={"pk": {"S": "order#SO/1"}})["Item"]
        assert item["by"]["S"] == "first"


def test_the_server_keeps_a_connection_open_across_requests_as_aws_does() -> None:
    import http.client

    from amsync_local.runtime import start_moto, stop_moto

    # Given the local world's moto server
    proc, port = start_moto("127.0.0.1")
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        url = f"http://127.0.0.1:{port}/"
        request = AWSRequest("POST", url, data=b"{}", headers={"Content-Type": "application/x-amz-json-1.0",
                                                                "X-Amz-Target": "DynamoDB_20120810.ListTables"})
        SigV4Auth(Credentials("testing", "testing"), "dynamodb", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
        # When a client sends two requests on one connection (botocore's pool keeps its connections)
        answers = []
        for _ in range(2):
            conn.request("POST", "/", body=b"{}", headers=headers)
            r = conn.getresponse()
            r.read()
            answers.append((r.status, r.getheader("Connection")))
            # Then the server answers without closing: the same socket carries the next request
            assert conn.sock is not None
        assert [status for status, _ in answers] == [200, 200]
        assert all((c or "").lower() != "close" for _, c in answers)
        conn.close()
    finally:
        stop_moto(proc)
