"""Which Acumatica orders get created in Magento: order type, status, then B2B / staff / paid (any one)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from amsync.models.acumatica import SalesOrder
from amsync.models.settings import OrderSyncPreferences
from amsync.services.eligibility import evaluate, flag_value


def _order(*, order_type: str = "SO", status: str = "Open", unpaid: Any = Decimal("40.00"),
           customer: str = "AACUSTOMER") -> SalesOrder:
    totals = {} if unpaid is None else {"UnpaidBalance": {"value": unpaid}}
    return SalesOrder.from_api({"OrderType": {"value": order_type}, "OrderNbr": {"value": "SOT00024"},
                                "Status": {"value": status}, "CustomerID": {"value": customer},
                                "OrderTotal": {"value": Decimal("40.00")}, "Totals": totals})


def _prefs(**changes: Any) -> OrderSyncPreferences:
    """Preferences reading B2B / staff from the customer class (most tests here are about the class lists); the
    push-row tests ask for ``customer_flags_source="push_row"``, the default, explicitly."""
    return OrderSyncPreferences(**{"customer_flags_source": "customer_class", **changes})


def test_the_default_reads_the_flags_from_the_push_row_as_the_walkthrough_does() -> None:
    # Given the default preferences, a push row saying B2B and a class that says nothing
    prefs = OrderSyncPreferences()
    # When
    result = evaluate(_order(), prefs, push_flags={"isB2B": True, "isStaffCustomer": False},
                      customer_class="DEFAULT")
    # Then
    assert prefs.customer_flags_source == "push_row"
    assert result.eligible and result.reasons == ("customer AACUSTOMER is B2B (push row isB2B=true)",)


def test_walkthrough_order_of_a_default_customer_with_a_balance_is_not_eligible() -> None:
    # Given AACUSTOMER (class DEFAULT) with 40.00 unpaid, default preferences
    order = _order()
    # When
    result = evaluate(order, _prefs(), push_flags=None, customer_class="DEFAULT")
    # Then the reason says what would make it eligible
    assert not result.eligible
    assert result.reasons == (
        "not eligible: customer AACUSTOMER is not B2B (class DEFAULT), not staff, and the unpaid balance is 40.00 "
        "(a payment that brings it to 0.00 makes it eligible)",)


def test_paid_order_is_eligible() -> None:
    # Given the same order once a payment brings the balance to 0
    order = _order(unpaid=Decimal("0.0"))
    # When
    result = evaluate(order, _prefs(), push_flags=None, customer_class="DEFAULT")
    # Then
    assert result.eligible
    assert result.reasons == ("the unpaid balance is 0.00 (paid in full)",)


@pytest.mark.parametrize(("customer_class", "expected"), [
    ("B2B", "customer AACUSTOMER is B2B (class B2B)"),
    ("wholesale", "customer AACUSTOMER is B2B (class wholesale)"),
    ("STAFF", "customer AACUSTOMER is staff (class STAFF)"),
    (" staff ", "customer AACUSTOMER is staff (class staff)")])
def test_customer_class_makes_an_unpaid_order_eligible(customer_class: str, expected: str) -> None:
    # Given an unpaid order of a customer in a B2B or staff class (any case, padded)
    order = _order()
    # When
    result = evaluate(order, _prefs(), push_flags=None, customer_class=customer_class)
    # Then
    assert result.eligible
    assert result.reasons == (expected,)


def test_every_matching_condition_is_listed() -> None:
    # Given a class that is both B2B and staff, and a paid order
    prefs = _prefs(b2b_classes=["INTERNAL"], staff_classes=["INTERNAL"])
    # When
    result = evaluate(_order(unpaid=0), prefs, push_flags=None, customer_class="INTERNAL")
    # Then
    assert result.eligible
    assert len(result.reasons) == 3


@pytest.mark.parametrize(("switch", "customer_class", "unpaid"), [
    ("sync_if_b2b", "B2B", Decimal("40")),
    ("sync_if_staff", "STAFF", Decimal("40")),
    ("sync_if_paid", "DEFAULT", Decimal("0")),
])
def test_a_switched_off_condition_does_not_count(switch: str, customer_class: str, unpaid: Decimal) -> None:
    # Given an order that meets exactly one condition, and that condition switched off
    prefs = _prefs(**{switch: False})
    # When
    result = evaluate(_order(unpaid=unpaid), prefs, push_flags=None, customer_class=customer_class)
    # Then
    assert not result.eligible
    assert any("switched off" in r for r in result.reasons)


def test_switching_off_b2b_names_the_staff_class_instead() -> None:
    # Given B2B switched off / When
    result = evaluate(_order(), _prefs(sync_if_b2b=False), push_flags=None, customer_class="DEFAULT")
    # Then the sentence stays readable and complete
    assert result.reasons[0] == (
        "not eligible: customer AACUSTOMER is not staff (class DEFAULT), and the unpaid balance is 40.00 "
        "(a payment that brings it to 0.00 makes it eligible)")
    assert result.reasons[1] == "switched off in the preferences: B2B"


def test_all_conditions_switched_off_says_so() -> None:
    # Given every condition switched off, even a paid B2B order
    prefs = _prefs(sync_if_b2b=False, sync_if_staff=False, sync_if_paid=False)
    # When
    result = evaluate(_order(unpaid=0), prefs, push_flags=None, customer_class="B2B")
    # Then
    assert not result.eligible
    assert "all three sync conditions" in result.reasons[0]


def test_no_customer_class_is_named() -> None:
    # Given the customer's class is unknown / When
    result = evaluate(_order(), _prefs(), push_flags=None, customer_class=None)
    # Then
    assert not result.eligible
    assert "not B2B (no customer class)" in result.reasons[0]


def test_unknown_unpaid_balance_is_not_paid() -> None:
    # Given an order read without Totals / When
    result = evaluate(_order(unpaid=None), _prefs(), push_flags=None, customer_class="DEFAULT")
    # Then
    assert not result.eligible
    assert "unpaid balance is unknown" in result.reasons[0]


@pytest.mark.parametrize("raw", [True, "true", "True", " TRUE ", "1", 1, Decimal("1"), "yes"])
def test_push_row_true_flags(raw: Any) -> None:
    # Given a push row value meaning yes / When / Then
    assert flag_value(raw) is True


@pytest.mark.parametrize("raw", [False, "false", "0", 0, None, "", "maybe", 2])
def test_push_row_false_flags(raw: Any) -> None:
    # Given a push row value meaning no (or nonsense) / When / Then
    assert flag_value(raw) is False


@pytest.mark.parametrize(("flags", "expected_reason"), [
    ({"isB2B": "true", "isStaffCustomer": "false"}, "customer AACUSTOMER is B2B (push row isB2B=true)"),
    ({"isB2B": 0, "isStaffCustomer": 1}, "customer AACUSTOMER is staff (push row isStaffCustomer=true)"),
    ({"isB2B": True}, "customer AACUSTOMER is B2B (push row isB2B=true)")])
def test_push_row_source_reads_the_push_flags(flags: dict[str, Any], expected_reason: str) -> None:
    # Given flags from the push row, and a class that would say nothing
    prefs = _prefs(customer_flags_source="push_row")
    # When
    result = evaluate(_order(), prefs, push_flags=flags, customer_class="DEFAULT")
    # Then
    assert result.eligible
    assert result.reasons == (expected_reason,)


def test_push_row_source_ignores_the_customer_class_when_the_row_has_the_columns() -> None:
    # Given push flags that say no, and a B2B class
    prefs = _prefs(customer_flags_source="push_row")
    # When
    result = evaluate(_order(), prefs, push_flags={"isB2B": "false", "isStaffCustomer": "0"}, customer_class="B2B")
    # Then the class is not consulted
    assert not result.eligible
    assert "not B2B (push row isB2B=false), not staff (push row isStaffCustomer=false)" in result.reasons[0]


def test_push_row_columns_are_found_with_trailing_spaces_in_any_case() -> None:
    # Given a GI row whose column names come padded (as Acumatica may send them)
    prefs = _prefs(customer_flags_source="push_row")
    # When
    result = evaluate(_order(), prefs, push_flags={"ISB2B ": "true", "isStaffCustomer  ": False},
                      customer_class="DEFAULT")
    # Then
    assert result.reasons == ("customer AACUSTOMER is B2B (push row isB2B=true)",)


@pytest.mark.parametrize("flags", [None, {}, {"via": "payment"}, {"Status": "Open"}])
def test_push_row_source_without_the_columns_falls_back_to_the_class(flags: dict[str, Any] | None) -> None:
    # Given a request with no push row columns (reconciler, resync, a payment's push) and a B2B class
    prefs = _prefs(customer_flags_source="push_row")
    # When
    result = evaluate(_order(), prefs, push_flags=flags, customer_class="B2B")
    # Then the class decides, and the reason says why it was read
    assert result.eligible
    assert result.reasons == ("customer AACUSTOMER is B2B (class B2B; no push row column to read it from)",)
    # and a class in no list is named the same way
    result = evaluate(_order(), prefs, push_flags=flags, customer_class="DEFAULT")
    assert result.reasons[0].startswith(
        "not eligible: customer AACUSTOMER is not B2B (class DEFAULT; no push row column to read it from), not staff,")


def test_a_row_with_one_column_reads_that_one_and_the_class_for_the_other() -> None:
    # Given a row with isB2B only, and a staff class
    prefs = _prefs(customer_flags_source="push_row")
    # When
    result = evaluate(_order(), prefs, push_flags={"isB2B": False}, customer_class="STAFF")
    # Then
    assert result.reasons == ("customer AACUSTOMER is staff (class STAFF; no push row column to read it from)",)


@pytest.mark.parametrize(("source", "flags", "b2b", "staff", "needed"), [
    ("push_row", {"isB2B": 1, "isStaffCustomer": 0}, True, True, False),
    ("push_row", {"isB2B": 1}, True, True, True),
    ("push_row", {"isB2B": 1}, True, False, False),
    ("push_row", None, False, False, False),
    ("push_row", None, True, False, True),
    ("customer_class", {"isB2B": 1, "isStaffCustomer": 0}, True, True, True),
    ("customer_class", None, False, False, False)])
def test_the_customer_class_is_read_only_when_a_switched_on_flag_needs_it(
        source: str, flags: dict[str, Any] | None, b2b: bool, staff: bool, needed: bool) -> None:
    from amsync.services.eligibility import needs_customer_class

    # Given / When / Then
    prefs = _prefs(customer_flags_source=source, sync_if_b2b=b2b, sync_if_staff=staff)
    assert needs_customer_class(prefs, flags) is needed


def test_customer_class_source_ignores_push_flags() -> None:
    # Given push flags saying B2B, but the class source configured
    result = evaluate(_order(), _prefs(), push_flags={"isB2B": "true", "isStaffCustomer": "true"},
                      customer_class="DEFAULT")
    # When / Then
    assert not result.eligible


def test_excluded_order_type_is_not_eligible_even_when_paid() -> None:
    # Given a paid quote (QT), SO the only synced type / When
    result = evaluate(_order(order_type="QT", unpaid=0), _prefs(), push_flags=None, customer_class="B2B")
    # Then
    assert not result.eligible
    assert len(result.reasons) == 1
    assert "order type QT is not synced (synced types: SO)" in result.reasons[0]


def test_excluded_status_is_not_eligible_even_for_b2b() -> None:
    # Given a B2B order On Hold (not a syncing status) / When
    result = evaluate(_order(status="On Hold"), _prefs(), push_flags=None, customer_class="B2B")
    # Then
    assert not result.eligible
    assert "status On Hold does not create Magento orders" in result.reasons[0]


def test_configured_types_and_statuses_are_honoured() -> None:
    # Given preferences that also sync IN orders On Hold
    prefs = _prefs(order_types=["SO", "IN"], statuses=["On Hold"])
    # When
    result = evaluate(_order(order_type="IN", status="On Hold", unpaid=0), prefs, push_flags=None,
                      customer_class=None)
    # Then
    assert result.eligible


def test_explain_gives_each_preference_its_verdict_and_agrees_with_evaluate() -> None:
    from amsync.services.eligibility import explain

    # Given the walkthrough's unpaid order, with staff switched off
    order, prefs = _order(), _prefs(sync_if_staff=False)
    # When each preference is explained
    verdicts = {v.condition: v for v in explain(order, prefs, push_flags=None, customer_class="DEFAULT")}
    # Then each says whether it holds and why, in the words of the Skipped row
    assert [(c, v.required, v.switched_on, v.holds) for c, v in verdicts.items()] == [
        ("order type", True, True, True), ("status", True, True, True), ("B2B", False, True, False),
        ("staff", False, False, False), ("paid", False, True, False)]
    assert verdicts["B2B"].reason == "customer AACUSTOMER is not B2B (class DEFAULT)"
    assert verdicts["paid"].reason == ("the unpaid balance is 40.00 (a payment that brings it to 0.00 makes it "
                                       "eligible)")
    # and a paid order of a type that is not synced: paid holds, the type does not, and evaluate agrees
    other = _order(order_type="QT", unpaid=Decimal("0"))
    verdicts = {v.condition: v for v in explain(other, prefs, push_flags=None, customer_class="DEFAULT")}
    assert (verdicts["order type"].holds, verdicts["paid"].holds) == (False, True)
    assert verdicts["order type"].reason == "order type QT is not synced (synced types: SO)"
    assert not evaluate(other, prefs, push_flags=None, customer_class="DEFAULT").eligible
