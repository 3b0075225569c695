"""Personal data is masked before it reaches CloudWatch or outlives its retention: e-mails valid or not, phones,
personal fields, inside exception texts and stack traces; the ids, dates and amounts ops need stay readable."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from amsync.observability import logger
from amsync.redact import mask_pii, mask_text

EMAILS = [
    "jane.doe@example.com",  # valid
    "jane@@example",  # Magento: Invalid email address 'jane@@example'
    "jane@example",  # no TLD
    '"jane"@example.com',  # quoted local part
    "jöhn.dœ@exämple.de",  # unicode
    "jane%40example.com",  # URL-encoded, in a query string
    "jane%2540example.com",  # encoded twice
    "jane＠example.com",  # fullwidth at sign
]
PHONES = ["+1 (555) 010-2030", "555-010-2030", "(555) 010 2030", "+44 20 7946 0958", "+15550102030", "555 0102"]


@pytest.mark.parametrize("email", EMAILS)
def test_an_email_valid_or_not_is_masked_in_text(email: str) -> None:
    # Given an error message that quotes the customer's address, as Magento's do
    text = f"Magento refused the order: Invalid email address '{email}'. (query ?email={email}&website_id=1)"
    # When it is masked
    masked = mask_text(text)
    # Then the address is gone (its first character and domain may stay), the rest of the message stays
    local = email.split("@")[0].split("%40")[0].split("%2540")[0].split("＠")[0].strip('"')
    assert email not in masked and local not in masked
    assert masked.startswith("Magento refused the order: Invalid email address '") and "website_id=1" in masked


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_number_is_masked_in_text(phone: str) -> None:
    masked = mask_text(f"customer AACUSTOMER, telephone {phone}, rejected")
    assert phone not in masked and "0102" not in masked and "2030" not in masked and "0958" not in masked
    assert masked.startswith("customer AACUSTOMER, telephone ") and masked.endswith(", rejected")


@pytest.mark.parametrize("text", [
    "Log Id 1733000000000000123 for SO/SOT00024, Magento #000000995 (entity 1093)",
    "2026-11-29T10:00:00.123456+00:00 and 2026-11-29 10:00:00,123+0000 and 10/27/2023 12:00:00 AM",
    "unpaid balance is 40.00; totals 1 234 567; 2 x WATER2809; time stamp 133428739107273074",
    "/entity/Default/24.200.001 at http://127.0.0.1:8201, request c6af9ac6-7b61-11e6-9a41-93e812345678",
    '    @logger.inject_lambda_context\nFile "/var/task/amsync/consumer.py", line 86, in record_handler',
])
def test_ids_dates_amounts_and_code_stay_readable(text: str) -> None:
    assert mask_text(text) == text


def test_personal_fields_are_masked_by_name_in_structures_and_in_text() -> None:
    # Given a Magento order address and an Acumatica contact (values wrapped), and the same quoted in an error
    details = {"billing_address": {"firstname": "Jane", "lastname": "Doe", "street": ["1 Main St", "Apt 2"],
                                   "city": "Springfield", "postcode": "62704", "telephone": "5550102",
                                   "region_code": "IL", "country_id": "US"},
               "Contact": {"Email": {"value": "jane@example.com"}, "Phone1": {"value": "+1 555 0102"}},
               "ext_order_id": "SOT00024", "items": [{"sku": "WATER2809", "qty": 2}]}
    text = f"validation failed for {details!r} / {json.dumps(details)}"
    # When masked
    masked, masked_text = mask_pii(details), mask_text(text)
    # Then no personal value is left, and the business fields and the shape are kept
    for secret in ("Jane", "Doe", "1 Main St", "Apt 2", "Springfield", "62704", "5550102", "jane@", "555 0102"):
        assert secret not in json.dumps(masked) and secret not in masked_text, secret
    assert masked["ext_order_id"] == "SOT00024" and masked["items"] == details["items"]
    assert masked["billing_address"]["region_code"] == "IL" and len(masked["billing_address"]["street"]) == 2
    assert "SOT00024" in masked_text and "WATER2809" in masked_text
    json.loads(masked_text.split(" / ", 1)[1])  # JSON text stays JSON


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_pii({"message": "jane@@example, +1 555 010 2030", "email": "a@b.c", "street": ["x"]})
    assert mask_pii(once) == once


def _raise_quoting(email: str, invalid: str) -> None:
    try:
        raise ValueError(f"Magento answered 400: Invalid email address '{invalid}' (customer {email})")
    except ValueError as exc:
        raise RuntimeError(f"could not create the customer {email}") from exc


def test_an_exception_and_its_traceback_are_masked_in_the_formatted_text() -> None:
    # Given a traceback whose exception texts quote an address and an invalid one
    try:
        _raise_quoting("jane.doe@example.com", "jane@@example")
    except RuntimeError:
        text = traceback.format_exc()
    # When masked, then neither is left anywhere in it
    masked = mask_text(text)
    assert "jane.doe@example.com" not in masked and "jane@@example" not in masked and "jane" not in masked
    assert "RuntimeError: could not create the customer j***@example.com" in masked


@contextmanager
def connector_logger_to_stdout() -> Iterator[None]:
    """The connector's own logger (its handler and formatter) writing to the stdout capsys captures now."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    before, handler.stream = handler.stream, sys.stdout  # not setStream: it flushes the stream of import time
    try:
        yield
    finally:
        handler.stream = before


def test_the_connector_logger_masks_exceptions_extra_fields_and_stack_traces(
        capsys: pytest.CaptureFixture[str]) -> None:
    # When the connector logs a failed record the way the consumer does: logger.exception, and a warning with extra
    with connector_logger_to_stdout():
        try:
            _raise_quoting("jane.doe@example.com", "jane@@example")
        except RuntimeError as exc:
            logger.exception("record failed unexpectedly; it comes back after its backoff")
            logger.warning("record failed; it comes back after its backoff",
                           extra={"error": f"{type(exc).__name__}: {exc} / {exc.__cause__}",
                                  "customer": {"firstname": "Jane", "telephone": "+1 555 010 2030"}})
    out = capsys.readouterr().out
    # Then CloudWatch gets two JSON lines with the exception, its stack trace and the extra fields, no personal data
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [line["level"] for line in lines] == ["ERROR", "WARNING"]
    assert lines[0]["exception_name"] == "RuntimeError" and "stack_trace" in lines[0]
    assert "j***@example.com" in lines[0]["exception"] and lines[1]["customer"] == {"firstname": "J***",
                                                                                    "telephone": "+***"}
    for leaked in ("jane.doe@example.com", "jane@@example", "jane.doe", "Jane", "555 010 2030"):
        assert leaked not in out, leaked
