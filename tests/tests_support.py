"""Helpers for tests that are not fixtures (a uniquely named module: safe to import from any test folder)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

WEBHOOK_SECRET = {"header": "X-AMSync-Key", "current": "test-webhook-secret-1", "previous": "test-webhook-secret-0"}


def default_secrets(acumatica: dict[str, str] | None = None, magento: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "amsync/webhook": json.dumps(WEBHOOK_SECRET),
        "amsync/acumatica": json.dumps(acumatica or {"username": "admin", "password": "x", "tenant": "Company"}),
        "amsync/magento": json.dumps(magento or {"token": "x"}),
    }


def default_secrets_for_tests() -> dict[str, str]:
    return default_secrets()


class FakeWatermarks:
    """The Binder's watermarks in memory: ``set_watermark`` moves a mark only from the value the caller read."""

    def __init__(self) -> None:
        self.marks: dict[str, str] = {}

    def watermark(self, name: str) -> str | None:
        return self.marks.get(name)

    def set_watermark(self, name: str, value: str, previous: str | None) -> bool:
        if self.marks.get(name) != previous:
            return False
        self.marks[name] = value
        return True


def wait_until(cond: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll ``cond`` every 50 ms until it holds; fail the test when it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
