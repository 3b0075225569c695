"""Does an Acumatica sales order get created in Magento? (the A->M order sync preferences)

The order type and status must be synced ones; then any one of three switchable conditions suffices:
the customer is B2B, the customer is staff, or the order's unpaid balance is 0.00. Reasons are written for
an operations person: what matched, or what would have to change.

Where B2B and staff come from (preference ``customer_flags_source``): by default the push row's ``isB2B`` /
``isStaffCustomer`` columns (the generic inquiry docs/acumatica-setup.md builds computes them from the customer's
class). A request that carries no such column (the reconciler's sweep, a resync, a replay of a request without a row,
a payment's push, whose row is the payment's) reads the flag from the customer's class instead, with the class
lists of the preferences (the same lists the inquiry's formulas encode), and the reason says so. With
``customer_class`` the class lists are used for every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from amsync.models.acumatica import SalesOrder
from amsync.models.settings import OrderSyncPreferences

_CENT = Decimal("0.01")
_TRUE = {"true", "1", "yes", "y"}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Flag:
    value: bool
    detail: str  # where the value came from, e.g. "class DEFAULT" or "push row isB2B=false"


def flag_value(raw: Any) -> bool:
    """A push-row boolean: bools, 1/0, "true"/"false" (any case); anything else (or missing) is False."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float | Decimal):
        return raw == 1
    if isinstance(raw, str):
        return raw.strip().lower() in _TRUE
    return False


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


B2B_COLUMN, STAFF_COLUMN = "isB2B", "isStaffCustomer"


def push_column(row: Mapping[str, Any] | None, column: str) -> tuple[bool, Any]:
    """(present, raw value) of a push-row column; GI column names may come with trailing spaces, in any case."""
    for name, value in (row or {}).items():
        if isinstance(name, str) and name.strip().lower() == column.lower():
            return True, value
    return False, None


def needs_customer_class(prefs: OrderSyncPreferences, push_flags: Mapping[str, Any] | None) -> bool:
    """Whether deciding B2B / staff needs the customer's class: a switched-on flag not read from the push row."""
    wanted = [c for c, on in ((B2B_COLUMN, prefs.sync_if_b2b), (STAFF_COLUMN, prefs.sync_if_staff)) if on]
    if prefs.customer_flags_source == "customer_class":
        return bool(wanted)
    return any(not push_column(push_flags, c)[0] for c in wanted)


def _class_flags(prefs: OrderSyncPreferences, customer_class: str | None, note: str) -> tuple[_Flag, _Flag]:
    cls = (customer_class or "").strip()
    detail = (f"class {cls}" if cls else "no customer class") + note
    # an empty class never matches (even if a preference list holds a blank entry)
    b2b_classes = {c.strip().upper() for c in prefs.b2b_classes if c.strip()}
    staff_classes = {c.strip().upper() for c in prefs.staff_classes if c.strip()}
    return _Flag(cls.upper() in b2b_classes, detail), _Flag(cls.upper() in staff_classes, detail)


def _flags(prefs: OrderSyncPreferences, push_flags: Mapping[str, Any] | None,
           customer_class: str | None) -> tuple[_Flag, _Flag]:
    if prefs.customer_flags_source == "customer_class":
        return _class_flags(prefs, customer_class, "")
    by_class = _class_flags(prefs, customer_class, "; no push row column to read it from")
    out = []
    for column, fallback in ((B2B_COLUMN, by_class[0]), (STAFF_COLUMN, by_class[1])):
        present, raw = push_column(push_flags, column)
        value = flag_value(raw)
        out.append(_Flag(value, f"push row {column}={str(value).lower()}") if present else fallback)
    return out[0], out[1]


#: Acumatica's return order types out of the box: RC (RMA order: Receipt lines) and CR (credit memo order)
RETURN_ORDER_TYPES = ("RC", "CR")


def return_order(order_type: str, return_order_type: str) -> str | None:
    """Why an order of ``order_type`` is a return, not an order to create in Magento (None: it is not one).

    A return order (the return preferences' ``return_order_type``, or Acumatica's RC / CR) takes goods back on a
    sales order already synced: the return sync carries it as a Magento credit memo (docs/returns.md), and the
    order sync leaves it alone, whatever the order sync preferences' order types say."""
    kind = order_type.strip().upper()
    if kind != return_order_type.strip().upper() and kind not in RETURN_ORDER_TYPES:
        return None
    return (f"order type {kind} is a return order type: it creates no Magento order; its credit memo, once "
            "released, becomes a Magento credit memo of the original order (docs/returns.md)")


def _excluded(order: SalesOrder, prefs: OrderSyncPreferences) -> str | None:
    if order.order_type not in prefs.order_types:
        return (f"not eligible: order type {order.order_type} is not synced (synced types: "
                f"{', '.join(prefs.order_types) or 'none'}); add it to the order sync preferences to sync it")
    if order.status not in prefs.statuses:
        return (f"not eligible: status {order.status or '(none)'} does not create Magento orders (statuses that do: "
                f"{', '.join(prefs.statuses) or 'none'}); the order is looked at again when its status changes")
    return None


def _is_paid(order: SalesOrder) -> bool:
    return order.unpaid_balance is not None and order.unpaid_balance.quantize(_CENT, rounding=ROUND_HALF_UP) <= 0


def _matches(order: SalesOrder, prefs: OrderSyncPreferences, b2b: _Flag, staff: _Flag) -> list[str]:
    who = f"customer {order.customer_id}"
    matched = []
    if prefs.sync_if_b2b and b2b.value:
        matched.append(f"{who} is B2B ({b2b.detail})")
    if prefs.sync_if_staff and staff.value:
        matched.append(f"{who} is staff ({staff.detail})")
    if prefs.sync_if_paid and _is_paid(order):
        matched.append("the unpaid balance is 0.00 (paid in full)")
    return matched


def _why_not(order: SalesOrder, prefs: OrderSyncPreferences, b2b: _Flag, staff: _Flag) -> str:
    predicates: list[str] = []
    if prefs.sync_if_b2b:
        predicates.append(f"not B2B ({b2b.detail})")
    if prefs.sync_if_staff:
        # the class was already named for B2B; a push row has a separate column worth naming
        same_source = prefs.sync_if_b2b and b2b.detail == staff.detail
        predicates.append("not staff" if same_source else f"not staff ({staff.detail})")
    clauses = []
    if predicates:
        clauses.append(f"customer {order.customer_id} is " + ", ".join(predicates))
    if prefs.sync_if_paid:
        if order.unpaid_balance is None:
            clauses.append("the unpaid balance is unknown (the order was read without Totals)")
        else:
            clauses.append(f"the unpaid balance is {_money(order.unpaid_balance)} "
                           "(a payment that brings it to 0.00 makes it eligible)")
    if not clauses:
        return ("not eligible: all three sync conditions (B2B, staff, paid) are switched off in the order sync "
                "preferences")
    return "not eligible: " + ", and ".join(clauses)


def _switched_off(prefs: OrderSyncPreferences) -> list[str]:
    names = [("B2B", prefs.sync_if_b2b), ("staff", prefs.sync_if_staff), ("paid", prefs.sync_if_paid)]
    off = [name for name, on in names if not on]
    if not off or len(off) == len(names):
        return []
    return [f"switched off in the preferences: {', '.join(off)}"]


def evaluate(order: SalesOrder, prefs: OrderSyncPreferences, *, push_flags: Mapping[str, Any] | None,
             customer_class: str | None) -> Eligibility:
    """Whether ``order`` should be created in Magento, and why (or why not)."""
    excluded = _excluded(order, prefs)
    if excluded:
        return Eligibility(False, (excluded,))
    b2b, staff = _flags(prefs, push_flags, customer_class)
    matched = _matches(order, prefs, b2b, staff)
    if matched:
        return Eligibility(True, tuple(matched))
    return Eligibility(False, (_why_not(order, prefs, b2b, staff), *_switched_off(prefs)))


@dataclass(frozen=True)
class ConditionVerdict:
    """One preference's verdict on an order: ``required`` conditions (order type, status) must hold; of the
    ``switched_on`` optional ones (B2B, staff, paid) any one suffices."""

    condition: str
    required: bool
    switched_on: bool
    holds: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "required": self.required, "switched_on": self.switched_on,
                "holds": self.holds, "reason": self.reason}


def explain(order: SalesOrder, prefs: OrderSyncPreferences, *, push_flags: Mapping[str, Any] | None,
            customer_class: str | None) -> tuple[ConditionVerdict, ...]:
    """Each preference's verdict on ``order``, with its reason (what ``evaluate`` decides from, one by one)."""
    type_ok, status_ok = order.order_type in prefs.order_types, order.status in prefs.statuses
    type_reason = (f"order type {order.order_type} is synced" if type_ok else
                   f"order type {order.order_type} is not synced (synced types: "
                   f"{', '.join(prefs.order_types) or 'none'})")
    status_reason = (f"status {order.status} creates Magento orders" if status_ok else
                     f"status {order.status or '(none)'} does not create Magento orders (statuses that do: "
                     f"{', '.join(prefs.statuses) or 'none'})")
    b2b, staff = _flags(prefs, push_flags, customer_class)
    who = f"customer {order.customer_id}"
    if order.unpaid_balance is None:
        paid_reason = "the unpaid balance is unknown (the order was read without Totals)"
    else:
        paid_reason = f"the unpaid balance is {_money(order.unpaid_balance)}" + (
            " (paid in full)" if _is_paid(order) else " (a payment that brings it to 0.00 makes it eligible)")
    return (
        ConditionVerdict("order type", True, True, type_ok, type_reason),
        ConditionVerdict("status", True, True, status_ok, status_reason),
        ConditionVerdict("B2B", False, prefs.sync_if_b2b, b2b.value,
                         f"{who} is {'' if b2b.value else 'not '}B2B ({b2b.detail})"),
        ConditionVerdict("staff", False, prefs.sync_if_staff, staff.value,
                         f"{who} is {'' if staff.value else 'not '}staff ({staff.detail})"),
        ConditionVerdict("paid", False, prefs.sync_if_paid, _is_paid(order), paid_reason),
    )
