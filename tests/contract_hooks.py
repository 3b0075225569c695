"""Hold the connector's own requests to the official schemas: httpx request hooks on its API clients.

Loaded from the copied schema subsets (tests/contracts/*), the same validators the simulators' contract tests use.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

CONTRACTS = Path(__file__).resolve().parent / "contracts"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_contract_for_connector", CONTRACTS / name / "contract.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


magento_contract = _load("magento")
acumatica_contract = _load("acumatica")


class ContractRecorder:
    """Collects every request the connector sent and every contract violation found in them."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.violations: list[str] = []

    def magento_hook(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        try:
            op = magento_contract.validate_request(request.method, str(request.url), body)
            self.checked.append(f"magento {op}")
        except Exception as exc:
            self.violations.append(f"Magento {request.method} {request.url.path}: {exc}")

    def acumatica_hook(self, request: httpx.Request) -> None:
        path = request.url.path
        if "/entity/" not in path or path.startswith("/entity/auth") or request.method not in ("PUT", "POST"):
            return
        parts = path.split("/entity/", 1)[1].split("/")  # Default, version, Entity[, Action]
        body = json.loads(request.content) if request.content else None
        try:
            if request.method == "PUT":
                acumatica_contract.validate_entity(parts[2], body, direction="request")
                self.checked.append(f"acumatica PUT {parts[2]}")
            elif len(parts) > 3:
                acumatica_contract.validate_entity(parts[3], body, direction="request")
                self.checked.append(f"acumatica action {parts[3]}")
        except Exception as exc:
            self.violations.append(f"Acumatica {request.method} {path}: {exc}")


def _clients(obj: Any, depth: int = 0) -> list[Any]:
    found = []
    if hasattr(obj, "_http") and isinstance(obj._http, httpx.Client):
        found.append(obj)
    elif is_dataclass(obj) and not isinstance(obj, type) and depth < 2:
        for f in fields(obj):
            found.extend(_clients(getattr(obj, f.name), depth + 1))
    return found


def install(runtime: Any, recorder: ContractRecorder) -> int:
    """Hook every API client of every function module; returns how many clients were hooked."""
    n = 0
    for fn in runtime.functions.values():
        for value in (v for module in fn.modules for v in vars(module).values()):
            for client in _clients(value):
                hook = recorder.magento_hook if "magento" in type(client).__name__.lower() else \
                    recorder.acumatica_hook
                hooks = client._http.event_hooks
                if hook not in hooks.get("request", []):
                    hooks.setdefault("request", []).append(hook)
                    client._http.event_hooks = hooks
                    n += 1
    return n
