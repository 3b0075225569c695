"""Helpers for tests that are not fixtures."""

from __future__ import annotations

from conftest import default_secrets


def default_secrets_for_tests() -> dict[str, str]:
    return default_secrets()
