"""Secrets from Secrets Manager through Powertools Parameters (cached; refetched on demand)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

CACHE_SECONDS = 300


def get_json_secret(name: str, *, force: bool = False) -> dict[str, Any]:
    value = parameters.get_secret(name, transform="json", max_age=CACHE_SECONDS, force_fetch=force)
    if not isinstance(value, dict):
        raise ValueError(f"secret {name} is not a JSON object")
    return value
