"""Value conversions: Acumatica JSON wrappers, dates, money.

Money is ``Decimal`` internally and rounded to 2 places with ROUND_HALF_UP on the absolute value
(i.e. half away from zero), as Acumatica's ``PXDBCurrency`` rounding does with the default
"Mathematical" rounding rule. Amounts are serialised as JSON numbers.

Dates on the REST API carry an offset (the simulated server runs in UTC, so ``+00:00``); dates inside push
notification rows carry none (``2024-05-05T15:16:23.1``), as the digest describes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def money(x: Decimal | int | float | str) -> Decimal:
    """Round to 2 places, half away from zero."""
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def qty(x: Decimal | int | float | str) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize() + Decimal("0.00")


def to_decimal(v: Any) -> Decimal:
    """Parse a JSON number (or numeric string) into Decimal; raise ValueError otherwise."""
    if isinstance(v, bool) or v is None:
        raise ValueError(f"'{v}' is not a valid decimal")
    try:
        return Decimal(str(v))
    except InvalidOperation as e:
        raise ValueError(f"'{v}' is not a valid decimal") from e


def parse_datetime(v: Any) -> datetime:
    """Parse an ISO date/datetime (with or without offset; naive means server time = UTC)."""
    if not isinstance(v, str):
        raise ValueError(f"'{v}' is not a valid date")
    s = v.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        t = datetime.fromisoformat(s)
    except ValueError as e:
        raise ValueError(f"'{v}' is not a valid date") from e
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def fmt_api_datetime(t: datetime) -> str:
    """REST representation: ``2023-10-27T04:52:39.123+00:00``."""
    t = t.astimezone(UTC)
    ms = t.microsecond // 1000
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}+00:00" if ms else f"{base}+00:00"


def fmt_push_datetime(t: datetime) -> str:
    """Push-row representation: no offset, fraction trimmed (``2024-05-05T15:16:23.1``)."""
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond // 1000:03d}".rstrip("0")
    return f"{base}.{frac}" if frac else base


def day(t: datetime) -> datetime:
    """Midnight of ``t`` (document dates have no time part)."""
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


def to_json_scalar(v: Any) -> Any:
    """Python value -> JSON scalar for the REST API."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return fmt_api_datetime(v)
    return v


def to_push_scalar(v: Any) -> Any:
    """Python value -> JSON scalar for a push-notification row."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return fmt_push_datetime(v)
    return v


def unwrap(body: Any) -> Any:
    """Acumatica JSON (``{"value": x}`` wrappers, nested linked objects, detail arrays) -> plain structure.

    Scalars become their value; linked entities stay dicts; details stay lists of dicts. System keys
    (``id``, ``delete``, ``custom``, ``note``) are kept (``note`` unwrapped).
    """
    if isinstance(body, list):
        return [unwrap(x) for x in body]
    if not isinstance(body, dict):
        return body
    out: dict[str, Any] = {}
    for k, v in body.items():
        if k in ("id", "delete", "custom", "rowNumber", "_links", "files", "error"):
            out[k] = v
        elif isinstance(v, dict) and ("value" in v or not v):
            out[k] = v.get("value")
        elif isinstance(v, dict | list):
            out[k] = unwrap(v)
        else:
            raise ValueError(f"Field '{k}' must be an object with a 'value' property")
    return out
