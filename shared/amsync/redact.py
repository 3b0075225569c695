"""Removing secrets and masking personal data before anything is logged."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEYS = re.compile(r"(authorization|password|secret|token|cookie|api[-_]?key|x-amsync-key)", re.I)
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys replaced (for the stored View details)."""
    if isinstance(value, dict):
        return {k: "***" if isinstance(k, str) and _SECRET_KEYS.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def mask_email(text: str) -> str:
    """``ap@altaace.com`` -> ``a***@altaace.com`` (CloudWatch lines carry no full e-mail addresses)."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def mask_pii(value: Any) -> Any:
    if isinstance(value, str):
        return mask_email(value)
    if isinstance(value, dict):
        return {k: mask_pii(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_pii(v) for v in value]
    return value
