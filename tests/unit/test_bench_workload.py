"""The bench's create phase: payments at a steady rate, not in one burst (bench/workload.py ``paced``)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is a folder of the checkout, not a package

from bench import workload  # noqa: E402


def test_paced_starts_the_ith_order_no_earlier_than_i_over_the_rate_and_keeps_the_order_of_results() -> None:
    plans = workload.plan_orders(6, seed=1)
    started: dict[int, float] = {}
    lock = threading.Lock()

    def pay(p: workload.OrderPlan) -> int:
        with lock:
            started[p.index] = time.monotonic()
        return p.index

    t0 = time.monotonic()
    assert workload.paced(4, 20.0, pay, plans) == [p.index for p in plans]
    # each start at or after its slot (1/20 s apart), though four workers could have taken them all at once
    assert all(started[p.index] - t0 >= i / 20.0 - 0.001 for i, p in enumerate(plans))
