"""`amsync preview`: what syncing an order would do now, written nowhere.

The same plan the order sync function acts on (``amsync.services.order_sync.plan_order``), computed from reads
only: no Magento customer is created, nothing is bound, logged or queued. The one write is the Acumatica licence
seat, taken for the reads and given back at once (as ``resync`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amsync.adapters.acumatica import AcumaticaClient
from amsync.adapters.magento import MagentoClient
from amsync.data.bindings import Binder
from amsync.data.settings_store import SettingsStore
from amsync.jsonio import dumps, loads
from amsync.models.messages import Kind, SyncRequest
from amsync.services.eligibility import ConditionVerdict, explain
from amsync.services.order_sync import OrderPlan, plan_order
from amsync_cli.context import StackContext


@dataclass(frozen=True)
class _Reads:
    """The order sync's reads, and nothing it could write with."""

    acumatica: AcumaticaClient
    magento: MagentoClient
    settings: SettingsStore
    binder: Binder


@dataclass
class Preview:
    order: str  # SO/SOT00024
    found: bool
    outcome: str  # what a sync now does: create, update (already in Magento), skipped, failed, gone
    eligible: bool
    verdicts: list[ConditionVerdict] = field(default_factory=list)  # per preference, with its reason
    reasons: list[str] = field(default_factory=list)  # the eligibility verdict as the Skipped row words it
    payload: dict[str, Any] | None = None  # the Magento entity a create sends (None: no create now)
    missing: list[str] = field(default_factory=list)  # what blocks the create (a mapping, SKU, e-mail...)
    effects: list[str] = field(default_factory=list)  # what a sync now would write, in order
    bound_to: str | None = None  # the Magento order it is bound to
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        payload = loads(dumps(self.payload)) if self.payload is not None else None  # Decimals kept exact
        return {"order": self.order, "found": self.found, "outcome": self.outcome, "eligible": self.eligible,
                "verdicts": [v.to_json() for v in self.verdicts], "reasons": self.reasons,
                "payload": _json_safe(payload), "missing": self.missing, "effects": self.effects,
                "bound_to": self.bound_to, "notes": self.notes}


def _json_safe(value: Any) -> Any:
    """Decimal amounts as strings (their exact digits), everything else as JSON has it."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def preview_of(plan: OrderPlan) -> Preview:
    """The preview of an order sync plan (``plan_order(..., explain=True)``)."""
    if plan.order is None:
        return Preview(plan.key, False, plan.outcome, False, missing=[plan.failure or "not found"],
                       effects=plan.effects)
    prefs, verdict = plan.preferences, plan.verdict
    customer = plan.acumatica_customer
    verdicts = list(explain(plan.order, prefs, push_flags=None,
                            customer_class=customer.customer_class if customer else None)) if prefs else []
    notes = []
    if prefs is not None and prefs.customer_flags_source == "push_row":
        notes.append("B2B and staff come from the push row (preference customer_flags_source): a preview has no "
                     "push row, so they are read from the customer's class here, as in a resync")
    if plan.store is not None:
        notes.append(f"goes to {plan.store.describe()}")
    if plan.customer is not None and plan.customer.action == "create" and plan.payload is not None:
        notes.append("customer_id is null in the payload: it is the id Magento gives the customer created first")
    b = plan.binding
    bound = f"Magento order #{b.magento_increment_id} (entity {b.magento_entity_id})" \
        if b is not None and b.state == "bound" else None
    if bound:
        notes.append(f"already in Magento as {bound}: a sync now sends its status to that order, not a create")
    return Preview(plan.key, True, plan.outcome, bool(verdict and verdict.eligible), verdicts,
                   list(verdict.reasons) if verdict else [], plan.payload, list(plan.missing), plan.effects, bound,
                   notes)


def preview_order(c: StackContext, order_type: str, order_nbr: str) -> Preview:
    """What syncing the order would do now: eligibility per preference, the exact Magento entity a create sends,
    what blocks it, and the writes a sync would make. Writes nothing (the licence seat aside, given back)."""
    from amsync.composition import acumatica_client, magento_client

    key = f"{order_type.strip().upper()}/{order_nbr.strip().upper()}"
    acumatica = acumatica_client(c.settings)
    reads = _Reads(acumatica, magento_client(c.settings), SettingsStore(c.settings.settings_table),
                   Binder(c.settings.bindings_table))
    try:
        plan = plan_order(SyncRequest(kind=Kind.ORDER, key=key, source="resync", correlation_id=key), reads,
                          explain=True)
    finally:
        acumatica.logout()  # give the licence seat back at once
    return preview_of(plan)
