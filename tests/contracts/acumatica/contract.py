"""Validate Acumatica entity JSON against the copied 24.200.001 component schemas.

    from contract import validate_entity
    validate_entity("SalesOrder", body, direction="request")   # raises ContractError listing every violation

OpenAPI 3.0 -> JSON Schema 2020-12 conversion: ``nullable: true`` adds ``null`` to ``type``; ``discriminator``,
``example``, ``xml``, ``x-*`` keys are dropped; ``format`` is kept as an annotation.

Strict by default (the swagger declares no ``additionalProperties``, so a plain validator would accept typos):
- every entity object (``allOf: [Entity, {...}]``) rejects properties the contract does not define
  (``unevaluatedProperties: false``), and value wrappers (``StringValue``...) accept only ``value`` and ``error``;
- direction ``"request"`` additionally allows ``delete: true`` on detail rows (documented way to delete a line)
  and rejects the response-only ``_links``; direction ``"response"`` allows ``_links``.
Pass ``strict=False`` to get the plain OpenAPI semantics.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator

SUBSET = Path(__file__).with_name("Default_24.200.001.subset.json")
DROP = {"discriminator", "example", "xml", "externalDocs"}
WRAPPERS = {"StringValue", "DecimalValue", "IntValue", "ShortValue", "LongValue", "ByteValue", "DoubleValue",
            "BooleanValue", "DateTimeValue", "GuidValue"}


class ContractError(AssertionError):
    """The body does not match the contract; ``errors`` lists "path: message" strings."""

    def __init__(self, entity: str, errors: list[str]) -> None:
        super().__init__(f"{entity}: {len(errors)} contract violation(s):\n  " + "\n  ".join(errors))
        self.errors = errors


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in DROP and not k.startswith("x-")}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@lru_cache(maxsize=4)
def _components(strict: bool, direction: str) -> dict[str, Any]:
    doc = json.loads(SUBSET.read_text())
    schemas = copy.deepcopy(_convert(doc["components"]["schemas"]))
    if strict:
        entity_props = schemas["Entity"]["properties"]
        if direction == "response":
            entity_props["_links"] = {"type": "object", "additionalProperties": {"type": "string"}}
        else:
            entity_props["delete"] = {"type": "boolean"}
        for name, s in schemas.items():
            if "allOf" in s:
                s["unevaluatedProperties"] = False
            elif name in WRAPPERS:
                s["additionalProperties"] = False
    return {"components": {"schemas": schemas}}


def schema_names() -> list[str]:
    return sorted(json.loads(SUBSET.read_text())["components"]["schemas"])


def _validate(name: str, body: Any, strict: bool, direction: str) -> None:
    root = _components(strict, direction)
    if name not in root["components"]["schemas"]:
        raise KeyError(f"schema {name!r} is not in the copied subset")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"#/components/schemas/{name}",
              **root}
    errs = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errs:
        raise ContractError(name, [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errs])


def validate_entity(entity_name: str, body: dict[str, Any] | list[Any], *,
                    direction: Literal["request", "response"], strict: bool = True) -> None:
    """Validate an entity body (or a list of them, as a list GET answers) against ``components/schemas/<entity>``."""
    if direction not in ("request", "response"):
        raise ValueError("direction must be 'request' or 'response'")
    for item in body if isinstance(body, list) else [body]:
        _validate(entity_name, item, strict, direction)


def validate_error(body: dict[str, Any]) -> None:
    """Validate an ``HttpError`` body (401/412/500...)."""
    _validate("HttpError", body, False, "response")
