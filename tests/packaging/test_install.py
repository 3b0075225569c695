"""A plain `pip install .` (no extras) into a fresh virtualenv gives a working `amsync` command.

The project is copied first (pip builds in the source tree: build/ and *.egg-info would land in the checkout).
pip resolves the real dependencies from its index or its cache; the dev extras are not installed, so a CLI that
needed moto or the local world at import time fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _copy_project(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("shared", "local", "cli"):
        shutil.copytree(ROOT / folder, dest / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc", ".*"))
    return dest


@pytest.mark.install
def test_a_plain_pip_install_gives_a_working_amsync_command(tmp_path: Path) -> None:
    # Given the project installed without extras into a new virtualenv
    source = _copy_project(tmp_path / "project")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)], env=env,
                               capture_output=True, text=True, timeout=240)
    assert installed.returncode == 0, installed.stderr[-3000:]
    # (and no dev tool came with it)
    for module in ("moto", "pytest", "yaml"):
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0, f"{module} is installed: the check below would prove nothing"

    def amsync(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "amsync"), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)

    # When `amsync` runs, Then it answers
    version = amsync("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"amsync {VERSION}", version.stderr[-2000:]
    for args in (["--help"], ["logs", "--help"], ["dlq", "replay", "--help"]):
        result = amsync(*args)
        assert result.returncode == 0 and "Usage: amsync" in result.stdout, result.stderr[-2000:]
    # and a command where there is no stack says what to do, not a traceback
    status = amsync("--local", "status")
    assert status.returncode == 1, status.stderr[-2000:]
    assert "start the local world with `make local`" in status.stderr and "Traceback" not in status.stderr
    # and the web console came with its templates, stylesheet and vendored htmx (package data)
    assert amsync("console", "--help").returncode == 0
    console = amsync("--local", "console")
    assert console.returncode == 1 and "start the local world with `make local`" in console.stderr
    served = subprocess.run([str(venv / "bin" / "python"), "-c", CONSOLE_FILES], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert served.returncode == 0 and served.stdout.strip() == "served", served.stderr[-2000:]


# A console for a stack it never calls: the static files and a rendered page (404) need no AWS.
CONSOLE_FILES = """
from starlette.testclient import TestClient
from amsync.config import Settings
from amsync_cli.console.app import create_app
from amsync_cli.context import StackContext

app = create_app(StackContext("demo", "us-east-1", {}, Settings.model_construct(), None, None))
web = TestClient(app, base_url="http://127.0.0.1:8400")
assert "htmx 2.0.11" in web.get("/static/htmx.min.js").text[:100]
assert web.get("/static/console.css").status_code == 200
page = web.get("/no-such-page")
assert page.status_code == 404 and "amsync console" in page.text, page.text
print("served")
"""
