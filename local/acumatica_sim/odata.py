"""OData v3 subset used by the contract-based API: ``$filter`` parsing/evaluation, ``$expand``/``$select`` shaping.

Entity "trees" are dicts: scalars are Python values, a linked entity is a nested dict, a detail is a list of dicts;
every entity dict carries ``id`` (GUID) and may carry ``note``/``custom``.

String comparisons are case-insensitive and ignore trailing spaces (SQL Server collation). Filtering on detail
fields is unsupported (as in Acumatica) and raises. Unknown ``$expand`` names are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from acumatica_sim.values import parse_datetime, to_json_scalar

SYSTEM_KEYS = ("id", "note", "custom", "_entity")


class FilterError(ValueError):
    """The $filter text cannot be parsed or refers to an unknown field."""


_TOKEN = re.compile(
    r"\s*(?:(?P<typed>(?:datetimeoffset|datetime|date|guid)'[^']*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<punc>[(),])|(?P<word>[A-Za-z_][\w./]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"substringof", "startswith", "endswith"}
Pred = Callable[[dict[str, Any]], bool]
Operand = Callable[[dict[str, Any]], Any]


def _tokenize(text: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "typed":
            prefix, lit = raw.split("'", 1)
            lit = lit[:-1]
            out.append(("lit", parse_datetime(lit) if prefix != "guid" else lit))
        elif kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", Decimal(raw)))
        elif kind == "punc":
            out.append((raw, raw))
        else:
            out.append(("word", raw))
    return out


class _Parser:
    def __init__(self, text: str, fields: Callable[[str], bool]) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.known = fields

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None) -> tuple[str, Any]:
        t = self.peek()
        if t is None or (kind and t[0] != kind):
            raise FilterError(f"Unexpected end or token {t!r} in $filter.")
        self.i += 1
        return t

    def is_word(self, w: str) -> bool:
        t = self.peek()
        return t is not None and t[0] == "word" and t[1].lower() == w

    def parse(self) -> Pred:
        p = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"Unexpected token {self.peek()!r} in $filter.")
        return p

    def or_expr(self) -> Pred:
        left = self.and_expr()
        while self.is_word("or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_expr(self) -> Pred:
        left = self.unary()
        while self.is_word("and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Pred:
        if self.is_word("not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        t = self.peek()
        if t is not None and t[0] == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return self._maybe_compare(lambda r: inner(r))
        return self.comparison()

    def _maybe_compare(self, left: Operand) -> Pred:
        t = self.peek()
        if t is not None and t[0] == "word" and t[1].lower() in _OPS:
            op = self.take()[1].lower()
            right = self.operand()
            return lambda r: compare(op, left(r), right(r))
        return lambda r: bool(left(r))

    def comparison(self) -> Pred:
        return self._maybe_compare(self.operand())

    def operand(self) -> Operand:
        kind, val = self.take()
        if kind == "lit":
            return lambda r: val
        if kind != "word":
            raise FilterError(f"Unexpected token {val!r} in $filter.")
        low = val.lower()
        if low in ("true", "false"):
            return lambda r: low == "true"
        if low == "null":
            return lambda r: None
        if low in _FUNCS:
            return self.function(low)
        if low.startswith("cf."):
            raise FilterError("Custom-field filters are not supported by the simulator.")
        if not self.known(val):
            raise FilterError(f"The field '{val}' is not found in the entity.")
        return lambda r: resolve(r, val)

    def function(self, name: str) -> Operand:
        self.take("(")
        a = self.operand()
        self.take(",")
        b = self.operand()
        self.take(")")
        if name == "substringof":
            return lambda r: _s(b(r)).find(_s(a(r))) >= 0
        if name == "startswith":
            return lambda r: _s(a(r)).startswith(_s(b(r)))
        return lambda r: _s(a(r)).endswith(_s(b(r)))


def _s(v: Any) -> str:
    return "" if v is None else str(v).rstrip().lower()


def resolve(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return None if isinstance(node, dict | list) else node


def compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return {"eq": a is b or (a is None and b is None), "ne": not (a is None and b is None)}.get(op, False)
    a, b = _coerce(a, b)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, datetime) or isinstance(b, datetime):
        try:
            return (a if isinstance(a, datetime) else parse_datetime(str(a)),
                    b if isinstance(b, datetime) else parse_datetime(str(b)))
        except ValueError:
            return str(a), str(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a, b
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return Decimal(a), Decimal(b)
    return _s(a), _s(b)


def compile_filter(text: str | None, sample_fields: Callable[[str], bool]) -> Pred | None:
    if not text:
        return None
    return _Parser(text, sample_fields).parse()


def field_checker(schema_fields: dict[str, Any]) -> Callable[[str], bool]:
    """``schema_fields``: nested dict of known names (``{"MainContact": {"Email": None, ...}, ...}``)."""

    def known(path: str) -> bool:
        node: Any = schema_fields
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return not isinstance(node, dict) and node != "detail"

    return known


def parse_list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def shape(tree: dict[str, Any], expand: list[str], select: list[str], custom: list[str],
          row_number: int = 1, prefix: str = "", links: dict[str, str] | None = None) -> dict[str, Any]:
    """Wrap a tree in Acumatica JSON, including only expanded linked/detail parts and selected fields."""
    out: dict[str, Any] = {"id": tree.get("id"), "rowNumber": row_number,
                           "note": {"value": tree.get("note") or ""}}
    for key, val in tree.items():
        if key in SYSTEM_KEYS:
            continue
        path = f"{prefix}{key}"
        if isinstance(val, dict | list):
            if path not in expand or not _selected(path, select, container=True):
                continue
            if isinstance(val, dict):
                out[key] = shape(val, expand, select, custom, 1, path + "/")
            else:
                out[key] = [shape(v, expand, select, custom, i + 1, path + "/") for i, v in enumerate(val)]
        elif _selected(path, select, container=False):
            out[key] = {} if val is None else {"value": to_json_scalar(val)}
    out["custom"] = _custom(tree.get("custom") or {}, custom, prefix)
    if links is not None:
        out["_links"] = links
    return out


def _selected(path: str, select: list[str], container: bool) -> bool:
    if not select:
        return True
    if path in select:
        return True
    if container:
        return any(s.startswith(path + "/") for s in select)
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    # a selected container with no selected sub-fields returns all its fields
    return bool(parent) and parent in select and not any(s.startswith(parent + "/") for s in select)


def _custom(stored: dict[str, dict[str, Any]], wanted: list[str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w in wanted:
        scope, _, name = w.rpartition("/")
        if (scope + "/" if scope else "") != prefix:
            continue
        view, _, fld = name.partition(".")
        if view in stored and fld in stored[view]:
            out.setdefault(view, {})[fld] = stored[view][fld]
    return out


def expand_set(text: str | None) -> list[str]:
    """``A/B`` also expands ``A``."""
    out: list[str] = []
    for p in parse_list(text):
        parts = p.split("/")
        for i in range(1, len(parts) + 1):
            q = "/".join(parts[:i])
            if q not in out:
                out.append(q)
    return out
