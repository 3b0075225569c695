"""Mappings (every kind SettingsStore knows) and the sync preferences, edited through forms validated by their
pydantic models: a bad value re-renders the form with the error and saves nothing."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from amsync.data.settings_store import MAPPINGS, SettingsStore, mapping_sort_key
from amsync.models.settings import (
    CustomerSyncPreferences,
    OrderMappingPreferences,
    OrderSyncPreferences,
    ReturnSyncPreferences,
)
from amsync_cli.console.app import Console

MAPPING_TITLES = {"shipvia": "Ship Via (A→M)", "payment": "Payment method (A→M)",
                  "orderstatus": "Order status (A→M)", "warehouse": "Warehouse → Magento source (A→M)",
                  "customerclass": "Customer class (M→A)", "product": "Product / UOM (A→M)",
                  "store": "Branch / order type / class → Magento store (A→M)"}
PREFERENCES: dict[str, tuple[str, type[BaseModel]]] = {
    "order-sync": ("A→M order sync", OrderSyncPreferences),
    "customer-sync": ("M→A customer sync", CustomerSyncPreferences),
    "order-mapping": ("A→M order amounts (currencies)", OrderMappingPreferences),
    "return-sync": ("M→A returns (credit memos)", ReturnSyncPreferences),
}
LABELS = {"ship_via": "Acumatica Ship Via", "store_view": "Store View", "carrier_code": "Magento carrier",
          "method_code": "Magento method", "title": "Magento shipping title",
          "tracking_carrier_code": "Tracking carrier", "acumatica_method": "Acumatica payment method",
          "magento_method": "Magento payment method", "acumatica_status": "Acumatica status",
          "magento_status": "Magento status", "warehouse_id": "Acumatica warehouse", "source_code": "Magento source",
          "magento_group_id": "Magento customer group",
          "magento_website_id": "Magento website", "customer_class": "Acumatica customer class",
          "branch": "Acumatica branch", "order_type": "Acumatica order type", "website_id": "Magento website",
          "store_id": "Magento store id"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: Literal["text", "number", "select", "list", "pairs"]
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""


def _spec(name: str, annotation: Any, required: bool, default: Any) -> FieldSpec:
    label = LABELS.get(name, name.replace("_", " ").capitalize())
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    nullable = origin in (typing.Union, types.UnionType) and len(args) == 1
    base = args[0] if nullable else annotation
    hint = "empty = any" if nullable else ("" if required else f"empty = {default!r}")
    if typing.get_origin(base) is Literal:
        return FieldSpec(name, label, "select", tuple(str(a) for a in typing.get_args(base)), required)
    if base is bool:
        return FieldSpec(name, label, "select", ("true", "false"), required)
    if base is int:
        return FieldSpec(name, label, "number", required=required, hint=hint)
    if typing.get_origin(base) is list:
        return FieldSpec(name, label, "list", required=required, hint="comma-separated")
    if typing.get_origin(base) is dict:
        return FieldSpec(name, label, "pairs", required=required, hint="KEY=VALUE, comma-separated")
    return FieldSpec(name, label, "text", required=required, hint=hint)


def fields_of(model: type[BaseModel]) -> list[FieldSpec]:
    return [_spec(n, f.annotation, f.is_required(), f.default) for n, f in model.model_fields.items()]


def as_form(value: BaseModel) -> dict[str, str]:
    """A model's values as the form shows them."""
    out: dict[str, str] = {}
    for name, v in value.model_dump().items():
        if isinstance(v, bool):
            out[name] = "true" if v else "false"
        elif isinstance(v, list):
            out[name] = ", ".join(str(x) for x in v)
        elif isinstance(v, dict):
            out[name] = ", ".join(f"{k}={x}" for k, x in v.items())
        else:
            out[name] = "" if v is None else str(v)
    return out


def parse(model: type[BaseModel], form: dict[str, str]) -> tuple[BaseModel | None, dict[str, str]]:
    """(the validated model, None) or (None, {field: what is wrong}). An empty text field takes the field's default
    ("" where that is the default, None where None is allowed); a required one is then missing."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, f in model.model_fields.items():
        spec = _spec(name, f.annotation, f.is_required(), f.default)
        text = form.get(name, "").strip()
        if spec.kind == "list":
            data[name] = [x.strip() for x in text.split(",") if x.strip()]
        elif spec.kind == "pairs":
            pairs = [p.strip() for p in text.split(",") if p.strip()]
            bad = [p for p in pairs if "=" not in p]
            if bad:
                errors[name] = f"{bad[0]!r}: write KEY=VALUE"
            data[name] = {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs if "=" in p)}
        elif text:
            data[name] = text
        elif f.default == "":
            data[name] = ""
        elif not f.is_required() and f.default is None:
            data[name] = None
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(str(e["loc"][0]) if e["loc"] else "form", e["msg"])
        return None, errors
    return (None, errors) if errors else (value, {})


class SettingsPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def store(self) -> SettingsStore:
        return SettingsStore(self.console.stack.settings.settings_table)

    # ------------------------------------------------------------------ mappings
    def _mapping_rows(self) -> dict[str, list[tuple[str, dict[str, str]]]]:
        s = self.store()
        return {kind: sorted(((mapping_sort_key(kind, m), as_form(m)) for m in s.mappings(kind, fresh=True)),
                             key=lambda r: r[0]) for kind in MAPPINGS}

    async def mappings(self, request: Request, status: int = 200, failed: str | None = None,
                       entered: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
        rows = await run_in_threadpool(self._mapping_rows)
        edit = request.query_params.get("edit", "")
        forms: dict[str, dict[str, str]] = {}
        if ":" in edit:
            kind, key = edit.split(":", 1)
            forms[kind] = next((values for k, values in rows.get(kind, []) if k == key), {})
        if failed:
            forms[failed] = entered or {}
        return self.console.render(request, "mappings.html", status, rows=rows, titles=MAPPING_TITLES,
                                   fields={k: fields_of(m) for k, m in MAPPINGS.items()}, forms=forms,
                                   failed=failed, errors=errors or {}, saved=request.query_params.get("saved", ""),
                                   removed=request.query_params.get("removed", ""))

    async def mappings_page(self, request: Request) -> Response:
        return await self.mappings(request)

    async def save_mapping(self, request: Request) -> Response:
        kind = _known(request.path_params["kind"], MAPPINGS, "mapping kind")
        form = await self.console.change(request)
        value, errors = parse(MAPPINGS[kind], form)
        if value is None:
            return await self.mappings(request, 422, failed=kind, entered=form, errors=errors)
        await run_in_threadpool(self.store().put_mapping, kind, value)
        key = mapping_sort_key(kind, value)
        return RedirectResponse(f"/mappings?{urlencode({'saved': f'{kind}:{key}'})}#{kind}", 303)

    async def delete_mapping(self, request: Request) -> Response:
        kind = _known(request.path_params["kind"], MAPPINGS, "mapping kind")
        form = await self.console.change(request)
        key = form.get("key", "")
        if form.get("confirmed") != "yes":
            return self.console.render(
                request, "confirm.html", action=f"/mappings/{kind}/delete", fields={"key": key}, cancel="/mappings",
                what=f"Remove the {MAPPING_TITLES[kind]} mapping {key}? Orders that need it fail with a Failure row "
                     "until it is mapped again.")
        if not await run_in_threadpool(self.store().delete_mapping, kind, key):
            raise HTTPException(404, f"no {MAPPING_TITLES[kind]} mapping {key!r}")
        return RedirectResponse(f"/mappings?{urlencode({'removed': f'{kind}:{key}'})}#{kind}", 303)

    # ------------------------------------------------------------------ preferences
    def _preference_values(self) -> dict[str, dict[str, str]]:
        s = self.store()
        return {"order-sync": as_form(s.order_sync(fresh=True)), "customer-sync": as_form(s.customer_sync(fresh=True)),
                "order-mapping": as_form(s.order_mapping(fresh=True)),
                "return-sync": as_form(s.return_sync(fresh=True))}

    async def preferences(self, request: Request, status: int = 200, failed: str | None = None,
                          entered: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
        values = await run_in_threadpool(self._preference_values)
        if failed:
            values[failed] = entered or {}
        return self.console.render(request, "preferences.html", status, prefs=PREFERENCES, values=values,
                                   fields={k: fields_of(m) for k, (_, m) in PREFERENCES.items()}, failed=failed,
                                   errors=errors or {}, saved=request.query_params.get("saved", ""))

    async def preferences_page(self, request: Request) -> Response:
        return await self.preferences(request)

    async def save_preferences(self, request: Request) -> Response:
        name = _known(request.path_params["name"], PREFERENCES, "preferences")
        form = await self.console.change(request)
        value, errors = parse(PREFERENCES[name][1], form)
        if value is None:
            return await self.preferences(request, 422, failed=name, entered=form, errors=errors)
        await run_in_threadpool(self.store().put_preferences, name, value)
        return RedirectResponse(f"/preferences?saved={name}#{name}", 303)


def _known(name: str, known: dict[str, Any], what: str) -> str:
    if name not in known:
        raise HTTPException(404, f"no {what} {name!r}")
    return name


def routes(console: Console) -> list[Route]:
    pages = SettingsPages(console)
    return [Route("/mappings", pages.mappings_page), Route("/mappings/{kind}", pages.save_mapping, methods=["POST"]),
            Route("/mappings/{kind}/delete", pages.delete_mapping, methods=["POST"]),
            Route("/preferences", pages.preferences_page),
            Route("/preferences/{name}", pages.save_preferences, methods=["POST"])]
