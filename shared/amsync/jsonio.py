"""JSON with exact money: Decimals are written with their own digits and read back as Decimals."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\u2063amsync-decimal:"  # an invisible separator no real value starts with
_MARKED = re.compile(r'"\u2063amsync-decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


class _DecimalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"not a JSON number: {o}")
            # marked here, written below as the bare number with exactly its own digits (never through float)
            return _MARK + format(o, "f")
        return super().default(o)


def dumps(body: Any) -> bytes:
    text = json.dumps(body, cls=_DecimalEncoder, separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text).encode()


def loads(text: bytes | str) -> Any:
    """Parse JSON keeping every non-integer number as Decimal (money never passes through float)."""
    if not text:
        return None
    return json.loads(text, parse_float=Decimal)
