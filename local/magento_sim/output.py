"""The REST serializer: a handler's record becomes what ``ServiceOutputProcessor`` would emit for it.

``DataObjectProcessor::buildOutputDataArray`` walks the getters the Data interface declares, in declaration order:
a getter whose ``@return`` is not nullable is emitted even when NULL (as ``null``); any other NULL getter is left
out; an empty ``custom_attributes`` is left out; extension attributes never emit NULLs
(``ExtensionAttributesProcessor``); keys the interface does not declare do not exist. The declared getters and
their nullability come from the 2.4.8 schema (``schema/output-2.4.8.json``, built by ``schema/extract.py``: the
swagger generator's ``required`` list is the same ``isRequired`` flag). A route without a declared response
shape falls back to dropping NULLs and private ``_`` keys.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "output-2.4.8.json"


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for d in data["definitions"].values():
        d["required"] = frozenset(d["required"])
    return data


def response_shape(method: str, template: str) -> dict[str, Any] | None:
    """The declared 200 shape of an operation (``GET``, ``/V1/orders/{id}``), or None when it has none."""
    key = f"{method.upper()} {re.sub(r'{[^}]+}', '{}', template.rstrip('/'))}"
    shape: dict[str, Any] | None = schema()["operations"].get(key)
    return shape


def strip_nulls(value: Any) -> Any:
    """Fallback for undeclared shapes: no NULLs, no private ``_`` keys."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None and not str(k).startswith("_")}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def render(value: Any, shape: dict[str, Any] | None) -> Any:
    """``value`` as the serializer emits it for ``shape`` (``{"ref": definition}``, ``{"array": shape}``, ``{}``)."""
    if shape is None or value is None:
        return strip_nulls(value)
    if "ref" in shape:
        definition = schema()["definitions"].get(shape["ref"])
        if definition is None or not isinstance(value, dict):
            return strip_nulls(value)
        nulls = frozenset() if shape["ref"].endswith("-extension-interface") else definition["required"]
        mixed = shape["ref"] == "framework-attribute-interface"  # a custom attribute's value is `mixed`: no cast
        out: dict[str, Any] = {}
        for key, sub in definition["properties"].items():
            item = value.get(key)
            if item is None:
                if key in nulls:
                    out[key] = None
            elif not (key == "custom_attributes" and item == []):
                out[key] = strip_nulls(item) if mixed else cast(render(item, sub), sub)
        return out
    if "array" in shape and isinstance(value, list):
        return [cast(render(v, shape["array"]), shape["array"]) for v in value]
    return strip_nulls(value)


_LEADING_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _php_float(value: str) -> float:
    m = _LEADING_NUMBER.match(value)
    return float(m.group(0)) if m else 0.0


def cast(value: Any, shape: dict[str, Any]) -> Any:
    """``TypeCaster::castValueToType`` for a getter declared int/float/bool/string (PHP's casts); arrays, objects
    and NULL pass unchanged."""
    kind = shape.get("type")
    if kind is None or value is None or isinstance(value, dict | list):
        return value
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return int(_php_float(value)) if isinstance(value, str) else int(value)
    if kind == "number" and not isinstance(value, float):
        return _php_float(value) if isinstance(value, str) else float(value)
    if kind == "boolean" and not isinstance(value, bool):
        return value not in ("", "0", 0, 0.0)
    if kind == "string" and not isinstance(value, str):
        if isinstance(value, bool):
            return "1" if value else ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    return value


# -- ?fields= (Webapi\Rest\Response\FieldsFilter) ---------------------------------------------------------------
def parse_fields(text: str) -> dict[str, Any] | None:
    """``items[sku,name],total_count`` -> ``{"items": {"sku": True, "name": True}, "total_count": True}``;
    None for an unbalanced filter (the response then goes out unfiltered)."""
    stack: list[dict[str, Any]] = [{}]
    token = ""
    for ch in text.replace(" ", ""):
        if ch == "[":
            if not token:
                return None
            node: dict[str, Any] = {}
            stack[-1][token] = node
            stack.append(node)
            token = ""
        elif ch in ",]":
            if token:
                stack[-1][token] = True
            token = ""
            if ch == "]":
                if len(stack) == 1:
                    return None
                stack.pop()
        else:
            token += ch
    if token:
        stack[-1][token] = True
    return stack[0] if len(stack) == 1 and stack[0] else None


def apply_fields(value: Any, tree: dict[str, Any]) -> Any:
    """``FieldsFilter::applyFilter``: a list filters each element, a dict keeps the named keys (recursively)."""
    if isinstance(value, list):
        return [apply_fields(v, tree) if isinstance(v, dict | list) else v for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in tree.items():
        if key in value:
            item = value[key]
            out[key] = apply_fields(item, sub) if isinstance(sub, dict) and isinstance(item, dict | list) else item
    return out
