"""Fixtures shared by every test folder: the local world started from template.yaml."""

from __future__ import annotations

import json
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

WEBHOOK_SECRET = {"header": "X-AMSync-Key", "current": "test-webhook-secret-1", "previous": "test-webhook-secret-0"}


@pytest.fixture(scope="session")
def webhook_secret() -> dict[str, str]:
    return dict(WEBHOOK_SECRET)


def default_secrets(acumatica: dict[str, str] | None = None, magento: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "amsync/webhook": json.dumps(WEBHOOK_SECRET),
        "amsync/acumatica": json.dumps(acumatica or {"username": "admin", "password": "x", "tenant": "Company"}),
        "amsync/magento": json.dumps(magento or {"token": "x"}),
    }


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
