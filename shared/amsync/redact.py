"""Removing secrets and masking personal data before anything is logged.

``redact`` removes secrets (the stored View details keep everything else). ``mask_pii`` masks personal data:
e-mail addresses (valid or not, quoted, unicode, URL-encoded), phone numbers, and the values of personal fields
(names, addresses, phones, e-mails: ``firstname``, ``street``, ``Phone1``, ...) in structures and in text that
quotes them (``'street': ['1 Main St']``, ``"Email": {"value": "..."}``). Every CloudWatch line goes through it
(``observability.MaskingFormatter``), and so do a connector log row's details and message (the row keeps them masked;
the whole details are kept beside it for a shorter time, ``data/connector_log.py``).
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEYS = re.compile(r"(authorization|password|secret|token|cookie|api[-_]?key|x-amsync-key)", re.I)

# Field names (lower case, letters and digits only) whose values are personal data, in Magento's and Acumatica's
# spelling: ``customer_email``, ``firstname``, ``street``, ``telephone``; ``Email``, ``Phone1``, ``AddressLine1``.
PERSONAL_FIELDS = frozenset({
    "email", "emailaddress", "customeremail",
    "firstname", "lastname", "middlename", "fullname", "displayname", "attention", "contactname",
    "customerfirstname", "customerlastname", "customermiddlename", "customername", "billingname", "shippingname",
    "telephone", "phone", "phone1", "phone2", "phone3", "mobile", "fax",
    "street", "addressline1", "addressline2", "addressline3", "city", "postcode", "postalcode", "zip", "zipcode",
    "dob", "taxvat",
})
_NOT_ALNUM = re.compile(r"[^a-z0-9]")

# An e-mail address as people type them, valid or not: ``jane@example.com``, ``jane@@example``, ``jane@example``,
# ``"jane"@example.com``, ``jöhn@exämple.de``, ``jane%40example.com`` / ``jane%2540example.com`` (URL-encoded).
# Found from its "@" backwards (the local part is at most 64 characters, as RFC 5321 has it), so a long line costs
# linear time whatever it holds.
_AT = re.compile(r"(?:@|%40|%2540|\uff20)+")
_EMAIL_STOP = frozenset("@<>()[]{},;:'\"`/\\=&?#|")
_DOMAIN = re.compile(r"[^\s@<>()\[\]{},;:'\"`/\\=&?#|]{0,253}")
# A phone-number candidate: digits with spaces, dashes or parentheses, optionally after "+"; _phone() decides.
_PHONE = re.compile(r"(?<![\w+.:/-])\+?[\d(][\d ()-]*\d(?!\w|[.:/-]\d)")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
# A field name in text, quoted (JSON, a Python repr) or before "=" (a query string), and, for a personal field, its
# value one level deep. Prose ("email: is not valid") is left to the e-mail and phone patterns.
_KEY_IN_TEXT = re.compile(r"""(?P<q>["'])(?P<name>[A-Za-z_]{1,40}[0-9]?)(?P=q)\s*:\s*"""
                          r"""|(?<![A-Za-z0-9_%])(?P<param>[A-Za-z_]{1,40}[0-9]?)=""")
_VALUE_IN_TEXT = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\{[^{}]*\}|[^\s,;&}\]]+""")
MASK = "***"


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys replaced (for the stored View details)."""
    if isinstance(value, dict):
        return {k: "***" if isinstance(k, str) and _SECRET_KEYS.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def is_personal_field(name: str) -> bool:
    return _NOT_ALNUM.sub("", name.lower()) in PERSONAL_FIELDS


def _local_start(text: str, at: int, floor: int) -> int | None:
    """Where the local part before the separator at ``at`` begins (not before ``floor``), or None if it has none."""
    if at - 1 >= floor and text[at - 1] == '"':  # a quoted local part: "jane"@example.com
        for i in range(at - 2, max(floor, at - 67) - 1, -1):
            c = text[i]
            if c == '"':
                return i if i < at - 2 else None
            if c.isspace() or c == "@":
                return None
        return None
    i = at
    while i > max(floor, at - 64) and not (text[i - 1].isspace() or text[i - 1] in _EMAIL_STOP):
        i -= 1
    return i if i < at else None


def mask_email(text: str) -> str:
    """``ap@altaace.com`` -> ``a***@altaace.com``; invalid addresses too (``jane@@example`` -> ``j***@example``)."""
    if "@" not in text and "%40" not in text and "%2540" not in text and "\uff20" not in text:
        return text  # most lines: no scan at all
    out: list[str] = []
    pos = 0
    for m in _AT.finditer(text):
        start = _local_start(text, m.start(), pos) if m.start() >= pos else None
        if start is None:
            continue
        domain = _DOMAIN.match(text, m.end())
        kept = domain.group() if domain else ""
        out += [text[pos:start], text[start], MASK, "@", kept]
        pos = m.end() + len(kept)
    out.append(text[pos:])
    return "".join(out)


def _phone(m: re.Match[str]) -> str:
    text = m.group(0)
    groups = re.findall(r"\d+", text)
    digits = sum(len(g) for g in groups)
    plus = text.startswith("+")
    # A bare run of digits is an id (Log Id, Acumatica time stamp, entity id), not a phone; so is a date.
    if not 7 <= digits <= 15 or (len(groups) == 1 and not plus) or _DATE.match(text):
        return text
    if any(len(g) < 2 for g in groups[1:]) or (len(groups[0]) < 2 and not plus):
        return text  # "1 234 567" is an amount, "+1 555 010 2030" a phone
    return MASK


def mask_phones(text: str) -> str:
    """``+1 (555) 010-2030`` / ``555-010-2030`` -> ``***``; ids, amounts, dates and times stay."""
    return _PHONE.sub(_phone, text)


def _mask_fields_in_text(text: str) -> str:
    out: list[str] = []
    pos = 0
    for key in _KEY_IN_TEXT.finditer(text):
        if key.start() < pos or not is_personal_field(key.group("name") or key.group("param")):
            continue
        value = _VALUE_IN_TEXT.match(text, key.end())
        if value is None:
            continue
        raw = value.group()
        if raw[0] in "\"'" and "@" in raw:
            masked = mask_email(raw)  # an address keeps its first character and domain, as everywhere
        else:  # a list or an Acumatica {"value": ...} becomes one quoted mask (JSON text stays JSON)
            quote = raw[0] if raw[0] in "\"'" else key.group("q") or ""
            masked = f"{quote}{MASK}{quote}"
        out += [text[pos:key.end()], masked]
        pos = value.end()
    out.append(text[pos:])
    return "".join(out)


def mask_text(text: str) -> str:
    """Free text (a message, an exception, a stack trace, a raw body) with its personal data masked."""
    if ":" in text or "=" in text:
        text = _mask_fields_in_text(text)
    return mask_phones(mask_email(text))


def _mask_field_value(value: Any) -> Any:
    """The value of a personal field: every scalar in it masked, its shape kept (lists, Acumatica's {"value": ...})."""
    if isinstance(value, dict):
        return {k: _mask_field_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_field_value(v) for v in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    if isinstance(value, str) and "@" in value:
        return mask_email(value)  # keeps the domain, as elsewhere
    return f"{str(value)[0]}{MASK}" if isinstance(value, str) else MASK


def mask_pii(value: Any) -> Any:
    """A copy of ``value`` with personal data masked: personal fields by name, e-mails and phones anywhere."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_field_value(v) if isinstance(k, str) and is_personal_field(k) else mask_pii(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii(v) for v in value]
    return value
