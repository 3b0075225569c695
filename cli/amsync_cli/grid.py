"""Grids that read in an 80-column terminal: the columns that do not fit are dropped by priority (the caption
names them; ``--wide`` shows all), text columns fold at words down to a readable width, never to a letter a line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

ROOM = 3  # a column's padding (one space each side) and its right border; the table adds one for its left border


@dataclass(frozen=True)
class Col:
    """A grid column. ``priority`` 1 is kept longest; ``fold`` (text) columns may be narrowed to ``min_width`` and
    fold there; other columns keep their natural width (up to ``max_width``, then an ellipsis)."""

    name: str
    priority: int = 1
    fold: bool = False
    min_width: int = 12
    max_width: int | None = None


def _cell(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _natural(col: Col, rows: Sequence[Mapping[str, Any]], wide: bool) -> int:
    cells = [line for r in rows for line in _cell(r, col.name).splitlines()] or [""]
    width = max(len(col.name), *(len(c) for c in cells))
    return width if wide or col.max_width is None else min(width, max(col.max_width, len(col.name)))


def _needed(col: Col, natural: int) -> int:
    return min(natural, max(col.min_width, 1)) if col.fold else natural


def choose(columns: Sequence[Col], rows: Sequence[Mapping[str, Any]], width: int,
           wide: bool = False) -> tuple[list[Col], list[Col], dict[str, int]]:
    """(shown, hidden, natural widths): every column when ``wide``, else the most important ones that fit."""
    natural = {c.name: _natural(c, rows, wide) for c in columns}
    if wide:
        return list(columns), [], natural
    kept: set[str] = set()
    used = 1
    for col in sorted(columns, key=lambda c: (c.priority, columns.index(c))):
        need = _needed(col, natural[col.name]) + ROOM
        if used + need <= width:
            kept.add(col.name)
            used += need
    return [c for c in columns if c.name in kept], [c for c in columns if c.name not in kept], natural


def grid(rows: Sequence[Mapping[str, Any]], columns: Sequence[Col | str], *, title: str | None, width: int,
         wide: bool = False) -> tuple[Table, int]:
    """The table for ``rows`` and the width it needs (wider than ``width`` only when ``wide``)."""
    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    shown, hidden, natural = choose(cols, rows, width, wide)
    caption = f"{len(hidden)} more column(s): {', '.join(c.name for c in hidden)} (--wide shows all)" if hidden \
        else None
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for c in shown:
        if c.fold:
            table.add_column(c.name, overflow="fold", min_width=_needed(c, natural[c.name]))
        else:
            table.add_column(c.name, no_wrap=True, overflow="ellipsis", min_width=natural[c.name],
                             max_width=natural[c.name])
    for r in rows:
        table.add_row(*[_cell(r, c.name) for c in shown])
    needed = 1 + sum(natural[c.name] + ROOM for c in shown)
    return table, needed


def print_grid(console: Console, rows: Sequence[Mapping[str, Any]], columns: Sequence[Col | str], *,
               title: str | None = None, wide: bool = False) -> None:
    table, needed = grid(rows, columns, title=title, width=console.width, wide=wide)
    if wide and needed > console.width:  # all of it: the terminal wraps what it must
        Console(width=needed, file=console.file, force_terminal=console.is_terminal,
                no_color=console.no_color).print(table)
        return
    console.print(table)
