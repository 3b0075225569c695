"""What each way of installing the project brings: a plain `pip install .` runs `amsync`; the Lambda layer ships
only what the connector imports (tests/packaging/test_install.py does the install for real)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The Lambda Python runtime has these: the layer does not ship them (shared/requirements.txt says why).
PROVIDED_BY_LAMBDA = {"boto3", "botocore"}
FIRST_PARTY = {"amsync", "amsync_cli", "amsync_local", "acumatica_sim", "magento_sim", "sim_common", "bench"}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    """{distribution: the requirement as written} of requirement lines (comments and blanks skipped)."""
    reqs = [Requirement(line) for line in (x.split("#")[0].strip() for x in lines) if line]
    return {_name(r.name): str(r.specifier) for r in reqs}


def _imported_distributions(*folders: Path) -> set[str]:
    """The distributions whose modules the .py files under ``folders`` import (top level or inside functions)."""
    modules: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | FIRST_PARTY | {"__future__"}
    found = packages_distributions()
    unknown = sorted(m for m in modules if m not in found)
    assert not unknown, f"imported but installed by no distribution: {unknown}"
    return {_name(d) for m in modules for d in found[m]}


@cache
def _closure(names: frozenset[str]) -> frozenset[str]:
    """``names`` and everything they require when installed without extras (from the installed metadata)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    return frozenset(seen)


MAIN = _pins(PYPROJECT["dependencies"])
DEV = _pins(PYPROJECT["optional-dependencies"]["dev"])


def test_the_layer_ships_the_distributions_the_connector_imports_at_the_projects_pins() -> None:
    # Given what the connector package and the handlers import, less what the Lambda runtime provides
    needed = _imported_distributions(ROOT / "shared" / "amsync", ROOT / "functions") - PROVIDED_BY_LAMBDA
    # Then the layer's requirements are exactly those (no CLI or dev tool rides along to every cold start)
    layer = _pins((ROOT / "shared" / "requirements.txt").read_text().splitlines())
    assert set(layer) == needed, f"shared/requirements.txt: add {needed - set(layer)}, drop {set(layer) - needed}"
    # pinned as pyproject.toml pins them
    assert {name: MAIN.get(name) for name in layer} == layer


def test_a_plain_install_brings_everything_the_cli_and_the_connector_import() -> None:
    # Given what `amsync` and the connector import
    needed = _imported_distributions(ROOT / "cli" / "amsync_cli", ROOT / "shared" / "amsync")
    # Then the main dependencies (not the dev extras) bring each of them
    missing = needed - _closure(frozenset(MAIN))
    assert not missing, f"`pip install .` lacks {sorted(missing)}: move them from the dev extras to dependencies"
    assert not set(MAIN) & set(DEV), "a distribution both in dependencies and in the dev extras"


def test_the_cli_runs_without_any_dev_tool_or_the_local_world(tmp_path: Path) -> None:
    # Given a Python where every module of the dev extras (moto, the SAM translator, pytest...) and of the local
    # world (amsync_local, the simulators) is missing
    dev_only = _closure(frozenset(DEV)) - _closure(frozenset(MAIN))
    blocked = sorted({m for m, dists in packages_distributions().items() if {_name(d) for d in dists} & dev_only}
                     | (FIRST_PARTY - {"amsync", "amsync_cli"}))
    assert {"moto", "pytest", "yaml", "amsync_local"} <= set(blocked)
    script = f"""
import sys
BLOCKED = set({blocked!r})

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is a dev tool: a plain install does not have it")

sys.meta_path.insert(0, Block())
from amsync_cli.main import main
sys.argv = ["amsync", *sys.argv[1:]]
main()
"""
    def amsync(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env={**os.environ, "COLUMNS": "200"})  # no line breaks in messages

    # When the help of its commands is asked for, Then it is given
    for args in (["--help"], ["logs", "--help"], ["resync", "--help"], ["dlq", "--help"]):
        result = amsync(*args)
        assert result.returncode == 0 and "Usage: amsync" in result.stdout, result.stderr[-2000:]
    # and a command run where there is no stack says what to do, not a traceback
    result = amsync("--local", "status")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "start the local world with `make local`" in result.stderr and "Traceback" not in result.stderr
