"""The chaos run's drain: a record that waits for one in a DLQ keeps its queue busy (it is put back, never
dropped), so settling must do what the operator does (replay the DLQs) instead of waiting for ever. The 10,000-order
run on 4d4bb97 waited 15 minutes on three order creates in the DLQ with their shipments and invoices put back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from amsync_local import chaos


class _World:
    """Queues that stay busy until the DLQs have been replayed ``busy_until_replays`` times."""

    def __init__(self, busy_until_replays: int | None) -> None:
        self.busy_until_replays = busy_until_replays
        self.replays = 0
        self.waits: list[float] = []

    def wait_settled(self, timeout: float = 60.0) -> bool:
        self.waits.append(timeout)
        if self.busy_until_replays is None:
            time.sleep(timeout)  # busy queues: the wait takes its whole timeout
        return self.busy_until_replays is not None and self.replays >= self.busy_until_replays


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def replay(world: _World, report: chaos.ChaosReport) -> int:
        world.replays += 1
        calls.append(report)
        return 1

    monkeypatch.setattr(chaos, "_replay_dlqs", replay)
    return calls


def test_settled_queues_replay_nothing(replays: list[Any]) -> None:
    world = _World(busy_until_replays=0)
    assert chaos._settle(world, chaos.ChaosReport(orders=1), timeout=600, look_s=120)  # type: ignore[arg-type]
    assert replays == [] and world.waits == [120]


def test_queues_busy_past_a_look_get_the_dlqs_replayed_then_settle(replays: list[Any]) -> None:
    world = _World(busy_until_replays=1)
    report = chaos.ChaosReport(orders=1)
    assert chaos._settle(world, report, timeout=600, look_s=120)  # type: ignore[arg-type]
    assert replays == [report]  # counted in the run's report, as the replay step's are
    assert len(world.waits) == 2


def test_queues_that_never_settle_give_up_at_the_timeout(replays: list[Any]) -> None:
    world = _World(busy_until_replays=None)
    assert not chaos._settle(world, chaos.ChaosReport(orders=1), timeout=0.3, look_s=0.1)  # type: ignore[arg-type]
    assert replays  # the operator looked, in vain
    assert sum(world.waits) <= 0.3 + 1e-6  # no wait past the deadline
