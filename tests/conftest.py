"""Fixtures shared by every test folder: the local world started from template.yaml."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "tests",):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "amsync-tests")
os.environ.setdefault("POWERTOOLS_DEV", "false")
# Every Acumatica-simulator transaction in the suite (the worlds' too) is checked against the whole-store algorithm
# (acumatica_sim/oracle.py): the incremental one the chaos and benchmark runs rely on answers the same.
os.environ.setdefault("ACUMATICA_SIM_VERIFY", "1")

from hypothesis import HealthCheck, settings  # noqa: E402
from tests_support import WEBHOOK_SECRET, default_secrets  # noqa: E402

# Four workers share two cores with the local worlds: generation speed is no property of the code under test.
settings.register_profile("amsync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("amsync")


@pytest.fixture(scope="session")
def webhook_secret() -> dict[str, str]:
    return dict(WEBHOOK_SECRET)


@pytest.fixture(scope="module")
def bare_runtime() -> Iterator[object]:
    """The local AWS alone (no simulators), pollers on, visibility timeouts scaled to ~1 s, no schedules."""
    from amsync_local.runtime import LocalRuntime

    rt = LocalRuntime(secrets=default_secrets(), visibility_scale=0.005, start_schedules=False,
                      stack_name=f"amsync-bare-{uuid.uuid4().hex[:6]}")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.hookimpl(tryfirst=True)  # before xdist turns the xdist_group marks into scheduling scopes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `-n 4 --dist loadgroup` (four workers on two cores: much of a test's time is spent waiting on the
    pipeline): each module stays on one worker (its world starts once); the Magento simulator's modules share one
    worker, since their last test checks every served operation was validated."""
    for item in items:
        path = item.nodeid.split("::")[0]
        group = "magento-simulator" if path.startswith("tests/simulators/magento/") else path
        item.add_marker(pytest.mark.xdist_group(group))
