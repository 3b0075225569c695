"""The binder's fenced create lease against DynamoDB's conditional writes (moto): a writer whose lease was taken
over can neither bind nor give the new holder's lease away."""

from __future__ import annotations

import time
from typing import Any

import pytest

from amsync.data.bindings import AlreadyBound, Binder, LeaseLost


def test_a_bind_is_fenced_by_the_lease_token(bare_runtime: Any) -> None:
    binder = Binder(bare_runtime.stack.physical_ids["BindingsTable"])
    key = f"SO/FENCE{time.time_ns()}"
    # Given writer A took the lease, and it expired while A was creating
    first = binder.mark_creating("order", key, lease_s=0.05)
    time.sleep(0.1)
    # When writer B takes it over
    second = binder.mark_creating("order", key, lease_s=60)
    assert first.lease and second.lease and first.lease != second.lease
    assert first.first_attempt and not second.first_attempt  # B knows an attempt came before it (A's item)
    # Then A's bind and A's release are refused, and B's lease stands
    with pytest.raises(LeaseLost):
        binder.bind("order", key, 2001, "000002001", lease=first.lease)
    binder.release_creating("order", key, lease=first.lease)
    from amsync.data.bindings import LeaseHeld

    with pytest.raises(LeaseHeld):  # still B's: A's release did not free it
        binder.mark_creating("order", key)
    # and B binds with its own token; A's order can never replace B's
    bound = binder.bind("order", key, 2002, "000002002", lease=second.lease)
    assert bound.magento_entity_id == 2002
    with pytest.raises(AlreadyBound):
        binder.bind("order", key, 2001, "000002001", lease=first.lease)
    assert binder.get("order", key).magento_entity_id == 2002  # type: ignore[union-attr]
    # a repeated bind of the same Magento order is accepted (an idempotent retry)
    assert binder.bind("order", key, 2002, "000002002", lease=second.lease).state == "bound"


def test_the_read_note_is_read_with_the_binding_in_one_query(bare_runtime: Any) -> None:
    binder = Binder(bare_runtime.stack.physical_ids["BindingsTable"])
    key = f"SO/FWD{time.time_ns()}"
    assert binder.get_with_read("order", key) == (None, None)
    # Given a create forwarded from a push row stamped 02:40:00.5, the order read as modified at 02:40:01
    binder.note_read("order", key, "2026-12-07T02:40:00.5", "2026-12-07T02:40:01+00:00")
    note = {"modified": "2026-12-07T02:40:00.5", "read": "2026-12-07T02:40:01+00:00"}
    assert binder.get_with_read("order", key) == (None, note)
    # When the writer takes the lease and binds (the note is another item: neither the lease nor the bind minds it)
    lease = binder.mark_creating("order", key)
    binder.bind("order", key, 3001, "000003001", lease=lease.lease)
    binding, seen = binder.get_with_read("order", key)
    assert binding is not None and binding.magento_entity_id == 3001 and seen == note
    assert binder.get("order", key) == binding


def test_the_reconcilers_markers_and_bindings_are_read_and_written_in_batches(bare_runtime: Any) -> None:
    binder = Binder(bare_runtime.stack.physical_ids["BindingsTable"])
    run = time.time_ns()
    # Given 130 record versions the reconciler handed on (more than one batch write of 25, one batch read of 100)
    versions = [f"order|SO/M{run}-{i}|@2026-12-07T10:00:00.000+00:00" for i in range(130)]
    binder.mark_seen_many("reconciler-orders", versions[:120])
    # Then a batch read names exactly the marked ones, across its 100-key requests
    assert binder.seen_many("reconciler-orders", versions) == set(versions[:120])
    assert binder.seen_many("reconciler-payments", versions[:5]) == set()  # markers are per stream
    # and bindings are read many at a time: 150 keys, the bound ones found
    keys = [f"SO/B{run}-{i}" for i in range(150)]
    for k in keys[::30]:
        binder.bind("order", k, 4000 + keys.index(k), None, lease=binder.mark_creating("order", k).lease)
    found = binder.get_many("order", keys)
    assert sorted(found) == sorted(keys[::30]) and all(b.state == "bound" for b in found.values())


def test_the_bench_counts_the_pool_slots_that_hold_a_session(bare_runtime: Any) -> None:
    from types import SimpleNamespace

    from bench.run import _pooled_sessions

    # Given the session pool's slots as data/tokens.py keeps them: filled ones carry a version, a slot only ever
    # leased does not; and a binding beside them
    table = bare_runtime.stack.physical_ids["BindingsTable"]
    ddb = bare_runtime.boto("dynamodb")
    world = SimpleNamespace(runtime=bare_runtime)
    before = _pooled_sessions(world)
    for n, item in ((900, {"version": {"N": "3"}}), (901, {"version": {"N": "1"}}), (902, {"owner": {"S": "c1"}})):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"token#acumatica#{n}"}, "sk": {"S": "token"}, **item})
    ddb.put_item(TableName=table, Item={"pk": {"S": "order#SO/X1"}, "sk": {"S": "binding"}, "version": {"N": "1"}})
    # Then the filled slots are counted, and nothing else
    assert _pooled_sessions(world) - before == 2
