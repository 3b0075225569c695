"""searchCriteria: parse the query-string array syntax and apply it like Magento's collection processor.

Filters inside a group are ORed, groups are ANDed, ``condition_type`` defaults to ``eq``. Both snake_case and
camelCase spellings are accepted. String comparisons are case-insensitive (MySQL's default collation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from magento_sim.config import SimConfig
from magento_sim.errors import MSG_MAX_PAGE_SIZE, MagentoError

_KEY = re.compile(r"\[([^\]]*)\]")


def parse_query(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0][c]=v`` pairs to nested dicts (numeric keys stay strings; order is kept)."""
    root: dict[str, Any] = {}
    for key, value in items:
        head, _, rest = key.partition("[")
        parts = [head] + (_KEY.findall("[" + rest) if rest else [])
        node = root
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = value
    return root


def _pick(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in d:
            return d[n]
    return None


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, dict):
        return [v[k] for k in sorted(v, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))]
    if isinstance(v, list):
        return v
    return []


@dataclass
class Filter:
    field: str
    value: Any
    condition_type: str | None


@dataclass
class SearchCriteria:
    groups: list[list[Filter]] = field(default_factory=list)
    sort_orders: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` block Magento echoes back (unset keys omitted)."""
        groups = []
        for g in self.groups:
            fl = []
            for f in g:
                d: dict[str, Any] = {"field": f.field, "value": f.value}
                if f.condition_type is not None:
                    d["condition_type"] = f.condition_type
                fl.append(d)
            groups.append({"filters": fl})
        out: dict[str, Any] = {"filter_groups": groups}
        if self.sort_orders:
            out["sort_orders"] = [{"field": f, "direction": d} for f, d in self.sort_orders]
        if self.page_size is not None:
            out["page_size"] = self.page_size
        if self.current_page is not None:
            out["current_page"] = self.current_page
        return out


def _int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(str(v))
    except ValueError:
        return None


def parse_search_criteria(query: Iterable[tuple[str, str]]) -> SearchCriteria:
    sc_raw = parse_query(query).get("searchCriteria") or parse_query(query).get("search_criteria") or {}
    sc = SearchCriteria()
    if not isinstance(sc_raw, dict):
        return sc
    for g in _as_list(_pick(sc_raw, "filter_groups", "filterGroups")):
        filters = []
        for f in _as_list(g.get("filters") if isinstance(g, dict) else None):
            if not isinstance(f, dict) or "field" not in f:
                continue
            filters.append(Filter(f["field"], f.get("value"), _pick(f, "condition_type", "conditionType")))
        if filters:
            sc.groups.append(filters)
    for s in _as_list(_pick(sc_raw, "sort_orders", "sortOrders")):
        if isinstance(s, dict) and s.get("field"):
            sc.sort_orders.append((s["field"], str(s.get("direction") or "ASC").upper()))
    sc.page_size = _int(_pick(sc_raw, "pageSize", "page_size"))
    sc.current_page = _int(_pick(sc_raw, "currentPage", "current_page"))
    return sc


# -- comparison helpers -------------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _cmp(a: Any, b: Any) -> int:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    sa, sb = str(a).casefold(), str(b).casefold()
    return (sa > sb) - (sa < sb)


def _like(pattern: str, value: Any) -> bool:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(rx, str(value), re.IGNORECASE | re.DOTALL) is not None


def _split(v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    return [p.strip() for p in str(v).split(",")]


def _finset(needle: Any, hay: Any) -> bool:
    return str(needle) in str(hay).split(",")


_CONDITIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, x: v is not None and _cmp(v, x) == 0,
    "neq": lambda v, x: v is not None and _cmp(v, x) != 0,
    "like": lambda v, x: v is not None and _like(x, v),
    "nlike": lambda v, x: v is not None and not _like(x, v),
    "in": lambda v, x: v is not None and any(_cmp(v, y) == 0 for y in _split(x)),
    "nin": lambda v, x: v is not None and all(_cmp(v, y) != 0 for y in _split(x)),
    "gt": lambda v, x: v is not None and _cmp(v, x) > 0,
    "gteq": lambda v, x: v is not None and _cmp(v, x) >= 0,
    "moreq": lambda v, x: v is not None and _cmp(v, x) >= 0,
    "from": lambda v, x: v is not None and _cmp(v, x) >= 0,
    "lt": lambda v, x: v is not None and _cmp(v, x) < 0,
    "lteq": lambda v, x: v is not None and _cmp(v, x) <= 0,
    "to": lambda v, x: v is not None and _cmp(v, x) <= 0,
    "null": lambda v, x: v is None,
    "notnull": lambda v, x: v is not None,
    "finset": lambda v, x: v is not None and _finset(x, v),
    "nfinset": lambda v, x: v is not None and not _finset(x, v),
}
SUPPORTED_CONDITIONS = tuple(_CONDITIONS)


def _lookup(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, bool):
        return int(value)
    return value


def matches(item: dict[str, Any], sc: SearchCriteria) -> bool:
    for group in sc.groups:
        if not any(_CONDITIONS.get(f.condition_type or "eq", _CONDITIONS["eq"])(_lookup(item, f.field), f.value)
                   for f in group):
            return False
    return True


def _sort_key(v: Any) -> tuple[int, int, float, str]:
    if v is None:
        return (0, 0, 0.0, "")
    n = _num(v)
    if n is not None:
        return (1, 0, n, "")
    return (1, 1, 0.0, str(v).casefold())


def apply(items: list[dict[str, Any]], sc: SearchCriteria, config: SimConfig) -> tuple[list[dict[str, Any]], int]:
    """Filter, sort and page ``items``; returns (page, total_count)."""
    page_size = sc.page_size
    if config.input_limits:
        if page_size is not None and page_size > config.input_limit_max_page_size:
            raise MagentoError(400, MSG_MAX_PAGE_SIZE, {"max": config.input_limit_max_page_size})
        if page_size is None:
            page_size = config.input_limit_default_page_size
    found = [i for i in items if matches(i, sc)]
    for fld, direction in reversed(sc.sort_orders):
        found.sort(key=lambda i, f=fld: _sort_key(_lookup(i, f)), reverse=direction == "DESC")
    total = len(found)
    if page_size:
        page = max(sc.current_page or 1, 1)
        last = max((total + page_size - 1) // page_size, 1)
        if page > last and config.out_of_range_returns_last_page:
            page = last
        found = found[(page - 1) * page_size: page * page_size]
    return found, total


def search_result(items: list[dict[str, Any]], sc: SearchCriteria, config: SimConfig) -> dict[str, Any]:
    page, total = apply(items, sc, config)
    return {"items": page, "search_criteria": sc.echo(), "total_count": total}


def search_records(records: Iterable[dict[str, Any]], view: Callable[[dict[str, Any]], dict[str, Any]],
                   sc: SearchCriteria, config: SimConfig, derived: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``search_result`` over the REST views of stored ``records``, building a view only for a record that
    passes the filters (a collection grid filters in SQL before it loads a model): a filter whose field is a
    top-level stored field is tested on the record itself; one on a ``derived`` field (or a private ``_`` one)
    is tested on the view. Same answer as viewing every record first, in time linear in the matches."""
    raw_groups = [g for g in sc.groups if all(_stored(f.field, derived) for f in g)]
    view_groups = [g for g in sc.groups if g not in raw_groups]
    raw_sc, view_sc = SearchCriteria(groups=raw_groups), SearchCriteria(groups=view_groups)
    quick = [_equal_to(g[0]) for g in raw_groups if len(g) == 1 and (g[0].condition_type or "eq") == "eq"
             and "." not in g[0].field]
    if quick:
        records = [r for r in records if all(test(r) for test in quick)]
    paging = SearchCriteria(sort_orders=sc.sort_orders, page_size=sc.page_size, current_page=sc.current_page)
    if not view_groups and all(_stored(field, derived) for field, _ in sc.sort_orders):
        # filtered and sorted on stored fields alone: page the records, view only the page's (a grid loads the
        # models of its page, not of every match: a sweep of 10,000 orders a page of 100 at a time)
        page, total = apply([r for r in records if matches(r, raw_sc)], paging, config)
        return {"items": [view(r) for r in page], "search_criteria": sc.echo(), "total_count": total}
    views = [v for v in (view(r) for r in records if matches(r, raw_sc)) if matches(v, view_sc)]
    page, total = apply(views, paging, config)
    return {"items": page, "search_criteria": sc.echo(), "total_count": total}


def _equal_to(f: Filter) -> Callable[[dict[str, Any]], bool]:
    """The ``eq`` test of a top-level field, specialised for its value (the same answer as ``_cmp(v, x) == 0``,
    without its per-record parsing): what a grid filtered on an id or a number needs at every call."""
    name, target = f.field, f.value
    text, number = str(target).casefold(), _num(target)
    if number is None:
        return lambda r: (v := r.get(name)) is not None and str(v).casefold() == text
    return lambda r: (v := r.get(name)) is not None and (
        n == number if (n := _num(int(v) if isinstance(v, bool) else v)) is not None else str(v).casefold() == text)


def _stored(path: str, derived: frozenset[str]) -> bool:
    top = path.split(".", 1)[0]
    return not top.startswith("_") and top not in derived
