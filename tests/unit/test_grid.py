"""The CLI's grids in an 80-column terminal: columns dropped by priority, text folded at words, --wide all."""

from __future__ import annotations

import io

from rich.console import Console

from amsync_cli.grid import Col, choose, print_grid

ROWS = [{"Log Id": "1796605926599428204", "Start Time": "2026-12-07 01:12:06", "Group": "Orderstatus",
         "Sync Direction": "Acumatica to Magento", "Result": "Failure", "Notes": "SOT00024",
         "Message": "Acumatica status 'Canceled': Magento refused to cancel the order (it answered false): the "
                    "Magento order is fully invoiced: refund it with a credit memo instead"}]
COLUMNS = [Col("Log Id"), Col("Start Time", 4), Col("Group", 3), Col("Sync Direction", 7), Col("Result"),
           Col("Notes"), Col("Message", 2, fold=True, min_width=16)]


def _render(width: int, wide: bool = False) -> list[str]:
    out = io.StringIO()
    print_grid(Console(width=width, file=out), ROWS, COLUMNS, title="Connector log", wide=wide)
    return out.getvalue().splitlines()


def test_80_columns_keep_the_important_columns_and_fold_the_message_at_words() -> None:
    lines = _render(80)
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "Log Id" in line)
    assert all(name in header for name in ("Log Id", "Group", "Result", "Notes", "Message"))
    assert "Sync Direction" not in header and "Start Time" not in header
    assert any("Start Time, Sync Direction (--wide shows all)" in line for line in lines)
    message = [line.split("│")[-2].strip() for line in lines if line.startswith("│")]
    assert len(message) > 1 and min(len(m) for m in message[:-1]) >= 10  # words a line, not letters
    assert " ".join(message) == ROWS[0]["Message"]


def test_wide_shows_every_column_unfolded() -> None:
    lines = _render(80, wide=True)
    header = next(line for line in lines if "Log Id" in line)
    assert all(c.name in header for c in COLUMNS)
    assert any(ROWS[0]["Message"] in line for line in lines)


def test_choose_drops_by_priority_then_keeps_the_order() -> None:
    # 60 columns: the priority-1 columns (44 with borders), then Message (19 more) does not fit; Group (14) does
    shown, hidden, _ = choose(COLUMNS, ROWS, 60)
    assert [c.name for c in shown] == ["Log Id", "Group", "Result", "Notes"]
    assert [c.name for c in hidden] == ["Start Time", "Sync Direction", "Message"]
