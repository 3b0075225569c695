"""JSON with exact money: Decimals are written with their own digits and read back as Decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class _DecimalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            # float's repr round-trips: a 2-decimal amount is written with exactly its own digits
            return float(o)
        return super().default(o)


def dumps(body: Any) -> bytes:
    return json.dumps(body, cls=_DecimalEncoder, separators=(",", ":")).encode()


def loads(text: bytes | str) -> Any:
    """Parse JSON keeping every non-integer number as Decimal (money never passes through float)."""
    if not text:
        return None
    return json.loads(text, parse_float=Decimal)
