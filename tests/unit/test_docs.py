"""The operator guides stay in step with the code: names quoted in docs/*.md must exist, and vice versa."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer

from amsync.models.settings import DEFAULT_QUERIES, OrderMappingPreferences, OrderSyncPreferences, ProductMapping
from amsync_cli.main import app
from amsync_local.template import load_sam_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDES = ("acumatica-setup.md", "magento-setup.md", "deploy.md", "runbook.md", "architecture.md",
          "configuration.md", "local.md")
LEGACY_QUERY = "SALESORDER STATUS"  # the walkthrough's name, not one to configure in a real Acumatica


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _sim_queries() -> ModuleType:
    """local/acumatica_sim/queries.py loaded by file path (its package imports stay as they are)."""
    path = ROOT / "local" / "acumatica_sim" / "queries.py"
    spec = importlib.util.spec_from_file_location("acumatica_sim_queries_for_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_sam_template()


@pytest.mark.parametrize("name", GUIDES)
def test_every_guide_exists(name: str) -> None:
    assert (DOCS / name).is_file(), f"docs/{name} is missing"


def test_every_template_parameter_is_in_the_deploy_guide(template: dict[str, Any]) -> None:
    text = _doc("deploy.md")
    missing = [p for p in template["Parameters"] if f"`{p}`" not in text]
    assert not missing, f"docs/deploy.md does not mention the parameters {missing}"


def test_every_alarm_is_in_the_runbook(template: dict[str, Any]) -> None:
    alarms = [lid for lid, res in template["Resources"].items() if res["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) >= 7, alarms
    text = _doc("runbook.md")
    missing = [a for a in alarms if f"`{a}`" not in text]
    assert not missing, f"docs/runbook.md does not cover the alarms {missing}"


def test_every_push_query_name_and_column_is_in_the_acumatica_guide() -> None:
    text = _doc("acumatica-setup.md")
    names = [q for q in DEFAULT_QUERIES if q != LEGACY_QUERY]
    assert names
    missing = [q for q in names if f"`{q}`" not in text]
    assert not missing, f"docs/acumatica-setup.md does not name the push queries {missing}"
    queries = _sim_queries().QUERIES
    assert {q.name for q in queries} <= set(DEFAULT_QUERIES), "the simulator sends a query the connector ignores"
    for q in queries:
        absent = [c for c in q.columns if f"`{c}`" not in text]
        assert not absent, f"docs/acumatica-setup.md lacks the {q.name} columns {absent}"


def test_every_order_sync_preference_is_in_the_configuration_guide() -> None:
    text = _doc("configuration.md")
    missing = [f for f in OrderSyncPreferences.model_fields if f"`{f}`" not in text]
    assert not missing, f"docs/configuration.md does not describe the preferences {missing}"


def test_every_product_mapping_field_and_amounts_preference_is_in_the_configuration_guide() -> None:
    text = _doc("configuration.md")
    fields = [*ProductMapping.model_fields, *OrderMappingPreferences.model_fields]
    missing = [f for f in fields if f"`{f}`" not in text]
    assert not missing, f"docs/configuration.md does not describe {missing}"


def _cli_paths(group: typer.Typer, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every command path of the typer app: ("status",), ("dlq", "replay"), ("mappings", "ship-via", "set")..."""
    paths: set[tuple[str, ...]] = set()
    for cmd in group.registered_commands:
        name = cmd.name or (cmd.callback.__name__.replace("_", "-") if cmd.callback else "")
        paths.add((*prefix, name))
    for sub in group.registered_groups:
        assert sub.name and sub.typer_instance is not None
        paths.add((*prefix, sub.name))
        paths |= _cli_paths(sub.typer_instance, (*prefix, sub.name))
    return paths


_GLOBAL_OPTION = re.compile(r"^--(stack|profile|region)$")


def _command_words(invocation: str) -> list[str]:
    """The subcommand words of one `amsync ...` invocation (global options and their values skipped)."""
    words = invocation.split()
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if _GLOBAL_OPTION.match(w):
            skip = True
            continue
        if w.startswith("-") or any(c in w for c in "[]<>|/"):
            if out:
                break
            continue  # an option or a placeholder (`[--json]`, `<DLQ>`) before the command
        out.append(w)
    return out


def test_every_cli_command_in_the_runbook_exists() -> None:
    paths = _cli_paths(app)
    text = _doc("runbook.md")
    invocations = re.findall(r"`amsync ([^`]+)`", text) + re.findall(r"^\s*amsync (.+)$", text, re.MULTILINE)
    commands = [(inv, words) for inv in invocations if (words := _command_words(inv))]
    assert len(commands) >= 5, "docs/runbook.md shows too few amsync commands"
    for inv, words in commands:
        # the longest prefix that is a command path must end in a leaf or be followed by arguments only
        known = [tuple(words[:n]) for n in range(len(words), 0, -1) if tuple(words[:n]) in paths]
        assert known, f"`amsync {inv}` in docs/runbook.md: {words[0]!r} is not an amsync command"
        longest = known[0]
        children = {p for p in paths if len(p) == len(longest) + 1 and p[:len(longest)] == longest}
        nxt = words[len(longest)] if len(words) > len(longest) else None
        if children and nxt is not None and nxt.islower() and nxt.replace("-", "").isalpha():
            assert (*longest, nxt) in paths, f"`amsync {inv}` in docs/runbook.md: no subcommand {nxt!r}"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in _LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"
