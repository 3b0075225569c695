"""The local world's push notification is the one docs/acumatica-setup.md tells a merchant to set up: the same
inquiries with the same tracked fields (so what the tests and the bench prove is what a merchant's Acumatica does)."""

from __future__ import annotations

import re
from pathlib import Path

from acumatica_sim.queries import QUERIES
from amsync_local.world import PUSH_QUERIES, WorldOptions

DOC = Path(__file__).resolve().parents[2] / "docs" / "acumatica-setup.md"


def _tracking_table() -> dict[str, tuple[str, ...]]:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| inquiry | fields to track | why |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        name, fields = (cell.strip() for cell in line.strip("|").split("|")[:2])
        rows[name.strip("`")] = tuple(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", fields))
    return rows


def test_the_world_tracks_what_the_setup_guide_says() -> None:
    assert _tracking_table() == PUSH_QUERIES
    assert WorldOptions().push_queries == PUSH_QUERIES


def test_every_tracked_field_is_a_column_of_its_inquiry_and_payments_are_left_out() -> None:
    columns = {q.name: q.columns for q in QUERIES}
    for name, fields in PUSH_QUERIES.items():
        assert fields and set(fields) <= set(columns[name]), name
    assert "AMSync-Payments" not in PUSH_QUERIES and "AMSync-Payments" in columns
