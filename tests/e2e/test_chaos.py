"""A small chaos run (fixed seed): duplicates, shuffles, lost pushes, Magento and Acumatica faults, a tight
licence and handler crashes; then nothing may be missing, doubled or wrong. `make chaos` runs the full size.

20 orders keep `make test` under ten minutes on two cores (a 50-order run takes about four minutes alone)."""

from __future__ import annotations

import pytest

from amsync_local.chaos import run


@pytest.mark.timeout(900)
def test_orders_through_a_bad_day_end_exactly_right() -> None:
    # Given 20 orders with payments, shipments and invoices under every fault the connector handles
    report = run(orders=20, seed=11, quiet=True)
    # Then the faults really happened
    assert report.duplicates > 0 and report.lost > 0 and report.faults > 0 and report.crashes > 0
    assert report.retries > 0
    # and the simulators' state is exactly what the Acumatica documents say, nothing left in a DLQ
    assert report.missing == [] and report.doubled == [] and report.wrong == []
    assert report.dlq_left == []
    assert 0 < report.eligible < report.orders  # some orders stayed unpaid and were skipped with their reason
