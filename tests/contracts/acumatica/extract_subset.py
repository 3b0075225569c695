"""Extract the schema subset the Acumatica simulator serves from the official 24.200.001 swagger.

Usage: python tests/contracts/acumatica/extract_subset.py /path/to/Default_24.200.001.swagger.json
Writes ``Default_24.200.001.subset.json`` next to this script: the paths of the served entities (list, by keys,
by id, actions) and every component (schemas, parameters, responses) they reference, transitively.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ENTITIES = ("SalesOrder", "Customer", "StockItem", "Shipment", "SalesInvoice", "Payment", "ShipVia",
            "InventorySummaryInquiry", "InventoryQuantityAvailable", "TaxCategory", "Invoice")
ACTIONS = ("SalesOrderCreateShipment", "PrepareSalesInvoice", "CancelSalesOrder", "ReopenSalesOrder", "OpenSalesOrder",
           "ReleaseFromCreditHoldSalesOrder", "ConfirmShipment", "CorrectShipment", "PrepareInvoice", "UpdateIN",
           "ReleaseSalesInvoice", "ReleasePayment", "SalesOrderCreateReceipt", "ReleaseInvoice")
EXTRA_SCHEMAS = ("HttpError",)
OUT = Path(__file__).with_name("Default_24.200.001.subset.json")


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            out.add(ref)
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def extract(doc: dict[str, Any]) -> dict[str, Any]:
    paths = {}
    for p, item in doc["paths"].items():
        parts = p.strip("/").split("/")
        if parts[0] in ENTITIES and (len(parts) == 1 or parts[1] in ("{ids}", "{id}") or parts[1] in ACTIONS):
            paths[p] = item
    pending: set[str] = set()
    _refs(paths, pending)
    pending |= {f"#/components/schemas/{n}" for n in (*ENTITIES, *EXTRA_SCHEMAS)}
    seen: set[str] = set()
    comps: dict[str, dict[str, Any]] = {}
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)
        node = doc["components"][section][name]
        comps.setdefault(section, {})[name] = node
        _refs(node, pending)
    return {"openapi": doc["openapi"], "info": doc["info"], "servers": doc.get("servers", []),
            "paths": dict(sorted(paths.items())),
            "components": {s: dict(sorted(v.items())) for s, v in sorted(comps.items())}}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    src = Path(argv[1])
    raw = src.read_bytes()
    subset = extract(json.loads(raw))
    OUT.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n")
    print(f"{src.name} sha256={hashlib.sha256(raw).hexdigest()} -> {OUT.name}: "
          f"{len(subset['paths'])} paths, {len(subset['components'].get('schemas', {}))} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
