"""Build ``output-2.4.8.json`` (what the REST serializer emits per record) from Magento's 2.4.8 admin schema.

Run by hand when the schema changes (the simulator never reads the source schema):

    python local/magento_sim/schema/extract.py <magento-2.4.8-admin-schema...swagger2.json>

Per operation (``"GET /V1/orders/{}"``, parameter names blanked) the 200 response's shape, and per definition its
properties (shape of each) and its ``required`` list. Magento's swagger generator marks a property required when
its getter's ``@return`` is not nullable (``TypeProcessor::getGetterReturnType`` -> ``isRequired``), and
``DataObjectProcessor::buildOutputDataArray`` emits exactly those getters when their value is NULL (as ``null``)
and skips every other NULL one. A shape is ``{"ref": name}``, ``{"array": shape}``, ``{"type": scalar}`` (the
declared type ``TypeCaster`` casts to) or ``{}`` (anything else).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "output-2.4.8.json"
SCALARS = ("integer", "number", "boolean", "string")


def shape(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"ref": schema["$ref"].rsplit("/", 1)[1]}
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return {"array": shape(schema["items"])}
    if schema.get("type") in SCALARS:
        return {"type": schema["type"]}
    return {}


def main(src: str) -> None:
    raw = Path(src).read_bytes()
    doc = json.loads(raw)
    operations = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            schema = (op.get("responses", {}).get("200") or {}).get("schema")
            if schema is not None:
                key = f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path.rstrip('/'))}"
                operations[key] = shape(schema)
    definitions = {name: {"properties": {k: shape(v) for k, v in d.get("properties", {}).items()},
                          "required": d.get("required", [])}
                   for name, d in doc["definitions"].items() if d.get("type", "object") == "object"}
    out = {"origin": f"{Path(src).name} sha256 {hashlib.sha256(raw).hexdigest()} (see extract.py)",
           "operations": dict(sorted(operations.items())), "definitions": dict(sorted(definitions.items()))}
    OUT.write_text(json.dumps(out, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(operations)} operations, {len(definitions)} definitions")


if __name__ == "__main__":
    main(sys.argv[1])
