"""magento_writer: declared in template.yaml; its logic lands with the order sync and follow-up issues."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Fail loudly: every record goes back to its queue (and on to the DLQ) instead of being dropped.
    raise RuntimeError("magento_writer has no logic yet")
