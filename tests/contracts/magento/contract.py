"""Validate Magento REST request/response bodies against the copied Swagger 2.0 schema (2.4.8).

Generic on purpose: the simulator tests use it, and the connector's own requests will be checked with it too.

    from contract import validate_request, validate_response   # or load by file path
    validate_request("PUT", "/rest/default/V1/orders/create", {"entity": {...}})
    validate_response("GET", "/rest/V1/orders/1093", 200, body)

``path`` may be a template (``/V1/orders/{id}``) or a concrete path, with or without ``/rest[/<store>]``,
scheme/host and query string. The operation is resolved from the files in this folder:
``magento-2.4.8-connector-subset.swagger2.json`` (as published for the connector) merged with
``magento-2.4.8-simulator-extras.swagger2.json`` (operations the subset lacks; see ORIGIN.md).
Raises :class:`ContractError` (an ``AssertionError``) on an unknown operation or a schema violation.

Void service methods (no 2xx response declared, e.g. ``POST /V1/inventory/source-items``) must answer ``200 []``.

Known schema-vs-runtime gap (patched in :func:`spec`, see ORIGIN.md): the generated ``error-parameters``
definition is an array, but Magento's ErrorProcessor emits an *object* for named placeholders
(``{"resources": "Magento_Sales::ship"}``, ``{"fieldName": "entity"}``) and a list of scalars for ``%1``
placeholders (``["ABC-1"]``). All three forms are accepted.
Also, required getters are serialised even when NULL (``stock_item.low_stock_date`` on every product,
``weight``/``qty``/``description`` on tracks, an order payment's ``account_status``/``cc_last4``...): the
generator marks a property required exactly when its getter's return is not nullable, and
``DataObjectProcessor`` emits those getters' NULLs; the schema types them as plain strings/numbers, so NULL is
accepted for every required property (``NULLABLE_REQUIRED`` lists the first ones seen).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

HERE = Path(__file__).resolve().parent
SCHEMA_FILES = ("magento-2.4.8-connector-subset.swagger2.json", "magento-2.4.8-simulator-extras.swagger2.json",
                "magento-2.4.8-refund-extras.swagger2.json", "magento-2.4.8-stores-catalog-extras.swagger2.json")
_REST_PREFIX = re.compile(r"^/rest(?:/[A-Za-z0-9_]+)?(?=/V\d+/)")


#: (definition, property) that Magento emits as null although the schema requires a string.
NULLABLE_REQUIRED = (("catalog-inventory-data-stock-item-interface", "low_stock_date"),
                     ("sales-data-shipment-track-interface", "weight"),
                     ("sales-data-shipment-track-interface", "qty"),
                     ("sales-data-shipment-track-interface", "description"))


class ContractError(AssertionError):
    """A request/response that the Magento schema does not allow (or an operation it does not define)."""


@functools.lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The merged document: ``{"paths": {...}, "definitions": {...}}``."""
    paths: dict[str, dict[str, Any]] = {}
    definitions: dict[str, Any] = {}
    for name in SCHEMA_FILES:
        doc = json.loads((HERE / name).read_text(encoding="utf-8"))
        for p, ops in doc.get("paths", {}).items():
            paths.setdefault(p, {}).update(ops)
        definitions.update(doc.get("definitions", {}))
    if "error-parameters" in definitions:  # runtime sends an object for %name placeholders
        definitions["error-parameters"] = {"anyOf": [definitions["error-parameters"], {"type": "object"},
                                                     {"type": "array"}]}
    for definition in definitions.values():  # a required getter's NULL is emitted as null (see NULLABLE_REQUIRED)
        props = definition.get("properties", {})
        for prop in definition.get("required", []):
            schema = props.get(prop)
            if isinstance(schema, dict) and isinstance(schema.get("type"), str):
                props[prop] = dict(schema, type=[schema["type"], "null"])  # keeps the item errors precise
            elif schema is not None:
                props[prop] = {"anyOf": [schema, {"type": "null"}]}
    return {"paths": paths, "definitions": definitions}


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        rx = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        out.append((re.compile("^" + rx + "/?$"), template))
    out.sort(key=lambda t: (t[1].count("{"), -len(t[1])))  # literal segments win over parameters
    return out


def normalise(path: str) -> str:
    """``http://h/rest/all/V1/orders?x=1`` -> ``/V1/orders``."""
    p = urlsplit(path).path if "://" in path else path.split("?", 1)[0]
    return _REST_PREFIX.sub("", p)


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """Resolve (template, operation object) for a verb and a path or template."""
    p = normalise(path)
    ops = spec()["paths"]
    if p in ops and method.lower() in ops[p]:
        return p, ops[p][method.lower()]
    for rx, template in _templates():
        if rx.match(p) and method.lower() in ops[template]:
            return template, ops[template][method.lower()]
    raise ContractError(f"no operation {method.upper()} {p} in {', '.join(SCHEMA_FILES)}")


def _validate(schema: dict[str, Any], body: Any, where: str) -> None:
    wrapped = {"allOf": [schema], "definitions": spec()["definitions"]}
    validator = jsonschema.Draft4Validator(wrapped)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5])
        raise ContractError(f"{where}: {detail}")


def validate_request(method: str, path_template_or_path: str, body: Any) -> str:
    """Check a request body against the operation's ``in: body`` parameter; returns the operationId."""
    template, op = operation(method, path_template_or_path)
    params = [p for p in op.get("parameters", []) if p.get("in") == "body"]
    where = f"request {method.upper()} {template} ({op.get('operationId')})"
    if not params:
        if body not in (None, {}, b"", ""):
            raise ContractError(f"{where}: the operation takes no body")
        return str(op.get("operationId"))
    if body is None:
        if params[0].get("required"):
            raise ContractError(f"{where}: body required")
        return str(op.get("operationId"))
    _validate(params[0]["schema"], body, where)
    return str(op.get("operationId"))


def validate_response(method: str, path: str, status: int, body: Any) -> str:
    """Check a response body against ``responses[status]`` (or ``default`` for error statuses)."""
    template, op = operation(method, path)
    responses = op.get("responses", {})
    where = f"response {status} to {method.upper()} {template} ({op.get('operationId')})"
    resp = responses.get(str(status)) or (responses.get("default") if status >= 400 else None)
    if resp is None and status == 200 and not any(k.startswith("2") for k in responses):
        if body != []:  # void service method: Magento answers 200 with []
            raise ContractError(f"{where}: a void operation answers [] (got {body!r})")
        return str(op.get("operationId"))
    if resp is None:
        raise ContractError(f"{where}: status not declared ({sorted(responses)})")
    if "schema" in resp:
        _validate(resp["schema"], body, where)
    return str(op.get("operationId"))
