"""A batch larger than its invocation's time: records that cannot be done in time are handed back, none lost, none
doubled, none in a DLQ for time alone (issue 12, Lambda's limits)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from world_support import WorldDriver

from amsync.composition import order_sync_ports
from amsync.config import Settings
from amsync.data import queues
from amsync.models.messages import Kind, MagentoOrderWrite, fifo_group
from amsync.services.operations import resync_requests
from amsync.services.order_sync import sync_order
from amsync_local.world import LocalWorld, WorldOptions

HTTP_TIMEOUT_S = 1.0  # HttpTimeoutSeconds (its least): every call's timeout, and half a record's budget
MAGENTO_LATENCY_MS = 800  # Magento answers every call in just under that timeout
ORDERS = 10


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldDriver]:
    # 30 s functions played in 9 s: with 1 s kept for the end and 2 s a record, three or four records of the ten
    # fit in one invocation; visibility 180 s played in 14 s (longer than the timeout, as Lambda wants)
    options = WorldOptions(start_schedules=False, stack_name=f"amsync-time-{uuid.uuid4().hex[:6]}",
                           timeout_scale=0.3, visibility_scale=0.08, http_timeout_s=HTTP_TIMEOUT_S,
                           function_log=tmp_path_factory.mktemp("time") / "functions.log")
    with LocalWorld(options) as world:
        yield WorldDriver(world)


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def _mapped_orders(w: WorldDriver, orders: list[str]) -> list[MagentoOrderWrite]:
    """The writer's messages for ``orders``, mapped by the order sync service here (so that all of them can reach
    the writer's queue at once: from the order sync function they would trickle in as each is mapped)."""
    settings = Settings.from_env(w.runtime.functions["OrderSyncFunction"].env)
    mapped: list[MagentoOrderWrite] = []
    ports = dataclasses.replace(order_sync_ports(settings), forward=mapped.append)
    try:
        for nbr in orders:
            for request in resync_requests(Kind.ORDER, nbr):
                assert sync_order(request, ports) == "forwarded"
    finally:
        ports.acumatica.logout()  # type: ignore[attr-defined]
    return mapped


def test_a_batch_of_ten_against_a_slow_magento_ends_with_every_order_once_and_nothing_in_a_dlq(
        w: WorldDriver) -> None:
    # Given ten paid orders mapped for Magento (their pushes held back), and a Magento answering every call in
    # 0.8 s (timeout 1 s): a writer record (look the order up, create it) needs about 1.7 s
    w.world.acumatica.push.pause()
    try:
        orders = [w.acu.create_order(lines=[("WATER2809", 1)]) for _ in range(ORDERS)]
        for nbr in orders:
            w.acu.record_payment(nbr)
        writes = _mapped_orders(w, orders)
        w.world.magento.faults.add({"path": "^/rest/", "latency_ms": MAGENTO_LATENCY_MS})
        # When all ten reach the Magento writer's queue together
        queues.send_many(w.runtime.functions["MagentoWriterFunction"].env["MAGENTO_ORDER_QUEUE_URL"],
                         [(m, fifo_group(m.order_key), None) for m in writes])
        assert w.runtime.wait_idle(timeout=120, settle=1.0), "pipeline did not settle"
    finally:
        w.world.magento.faults.clear()
        w.world.acumatica.push.clear()
        w.world.acumatica.push.resume()
    # Then every order is in Magento exactly once
    assert {nbr: len(w.mag.orders_for(nbr)) for nbr in orders} == dict.fromkeys(orders, 1)
    # and no DLQ holds anything
    depths = w.runtime.queue_depths()
    assert {q: d for q, d in depths.items() if "DLQ" in q and (d["visible"] or d["in_flight"])} == {}
    # and the time limit bit: invocations handed records back, each with the reason on its log line
    path = w.world.options.function_log
    assert path is not None
    handed_back = [line for line in _log_lines(path) if str(line.get("message", "")).startswith(
        "record handed back for time")]
    assert handed_back
    assert all(line.get("reason", "").startswith(("not started: ", "cut short: ")) for line in handed_back)
    assert any("ms left of the invocation, a record needs up to" in line["reason"] for line in handed_back)
    # and every invocation ended in time by itself: none had to be cut at its deadline
    assert [i.error for i in w.runtime.invocations if i.error] == []
    # and the batch really was one: the writer received the ten together
    assert max(i.records for i in w.runtime.invocations if i.function == "MagentoWriterFunction") == ORDERS
