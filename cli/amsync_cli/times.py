"""Times an operator types: an ISO time or an age, for the CLI and the console alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_time(text: str, field: str) -> datetime | None:
    """An ISO time (a datetime-local input's ``2026-11-29T10:00``, read as UTC) or an age (``30m``, ``24h``, ``7d``)."""
    text = text.strip()
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{field}: {text!r} is neither a time (2026-11-29T10:00) nor an age (30m, 24h, 7d)") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)
