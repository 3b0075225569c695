"""A configurable's or bundle's child items are linked to their parent item after Magento has saved the order.

Magento gives order items their ids when it saves them, and a child item sent in ``PUT /V1/orders/create`` with a
``parent_item`` object is saved with ``parent_item_id`` NULL (``Order\\Item::_beforeSave`` takes the id of an item
not saved yet). Until it is linked, Magento counts the child as an item of its own (to ship, to invoice, to
cancel). So once the order exists (created now, or found from an earlier attempt), the writer saves the links:
``POST /V1/orders`` with the order's ``entity_id`` and, per child, its ``item_id`` and its parent's as
``parent_item_id`` (the mapper's ``ext_order_item_id`` says which is which: ``<line>`` for the parent, ``<line>-<n>``
for its children). Saving the links again changes nothing, so a retry may do it again.
"""

from __future__ import annotations

from typing import Any

from amsync.models.magento import MagentoOrderSummary

# the fields Magento's order interface requires in any order save (sales-data-order-interface)
REQUIRED = ("base_grand_total", "grand_total", "customer_email")


def link_entity(payload: dict[str, Any], order: MagentoOrderSummary) -> dict[str, Any] | None:
    """The order save that links the children of ``payload`` (the create's entity) in ``order`` (as Magento has it),
    or None when there is nothing (left) to link."""
    children = [i for i in payload.get("items") or [] if isinstance(i.get("parent_item"), dict)]
    if not children:
        return None
    by_ext = {i.ext_order_item_id: i for i in order.items if i.ext_order_item_id}
    links = []
    for child in children:
        saved = by_ext.get(str(child.get("ext_order_item_id")))
        parent = by_ext.get(str(child["parent_item"].get("ext_order_item_id")))
        if saved is None or parent is None:
            raise LookupError(f"Magento order {order.entity_id} lacks item {child.get('ext_order_item_id')} or its "
                              "parent: it was saved without them")
        if saved.parent_item_id != parent.item_id:
            links.append({"item_id": saved.item_id, "parent_item_id": parent.item_id, "sku": child["sku"]})
    if not links:
        return None
    return {"entity_id": order.entity_id, **{k: payload[k] for k in REQUIRED if k in payload}, "items": links}
