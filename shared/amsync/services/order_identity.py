"""Who a Magento order belongs to: the Acumatica order's identity as Magento carries it.

- ``ext_order_id``: the order number for Acumatica's standard order type ``SO`` (the walkthrough's ``SOT00024``),
  ``TYPE/NBR`` for every other type (``ST/SOT00024``), so two Acumatica orders that share a number under different
  types are two Magento orders. Magento's ``sales_order.ext_order_id`` holds 32 characters: an Acumatica type (2)
  and number (15) fit with the slash.
- ``increment_id`` (only with the ``magento_numbering = "acumatica"`` preference): the type's prefix and the order
  number (``SOT00024``, ``ST-SOT00024``); Magento keeps ``increment_id`` unique per store, so a second create of
  the same order is refused by Magento itself.
"""

from __future__ import annotations

from collections.abc import Mapping

BARE_ORDER_TYPE = "SO"  # the order type whose ext_order_id is the bare number
EXT_ORDER_ID_MAX = 32


def ext_order_id(order_type: str, order_nbr: str) -> str:
    value = order_nbr if order_type == BARE_ORDER_TYPE else f"{order_type}/{order_nbr}"
    if len(value) > EXT_ORDER_ID_MAX:
        raise ValueError(f"{order_type} {order_nbr}: ext_order_id {value!r} is longer than Magento's "
                         f"{EXT_ORDER_ID_MAX} characters")
    return value


def order_key_of(ext_id: str | None) -> str | None:
    """The Acumatica order key (``SO/SOT00024``) an ext_order_id stands for; None when it is empty."""
    if not ext_id:
        return None
    order_type, sep, nbr = ext_id.partition("/")
    return f"{order_type}/{nbr}" if sep else f"{BARE_ORDER_TYPE}/{ext_id}"


def increment_id(order_type: str, order_nbr: str, prefixes: Mapping[str, str]) -> str:
    """Magento's order number under Acumatica numbering: the type's prefix (default: none for SO, ``TYPE-``
    otherwise) and the Acumatica number."""
    prefix = prefixes.get(order_type, "" if order_type == BARE_ORDER_TYPE else f"{order_type}-")
    return f"{prefix}{order_nbr}"
