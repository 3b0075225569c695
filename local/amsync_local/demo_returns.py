"""`make demo`, returns Magento -> Acumatica: the walkthrough's order, Complete, is refunded in Magento.

The walkthrough's step 11 says returns take place in Magento. The merchant refunds 1 x WATER2809 with "return to
stock" (offline credit memo from the order); the CreditMemoPollerFunction's schedule (fired here instead of waiting)
hands it on and the ReturnSyncFunction makes one Acumatica return order (order type RC) linked to the original
invoice line, received back into the warehouse. The second unit comes back the other way: the merchant takes it back in
Acumatica (RC order from the invoice, receipt, credit memo released) and the connector makes the Magento credit
memo; the Magento order closes, and that credit memo is not sent back to Acumatica.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.table import Table

from amsync.models.log import Group, Side
from amsync_local.walkthrough import val

if TYPE_CHECKING:
    from amsync_local.demo import Demo


def _refund(demo: Demo, order: dict[str, Any], units: int, **arguments: Any) -> dict[str, Any]:
    items = [{"order_item_id": i["item_id"], "qty": units} for i in order["items"] if i["sku"] == "WATER2809"]
    arguments["extension_attributes"] = {"return_to_stock_items": [i["order_item_id"] for i in items]}
    r = demo.mag.http.post(f"order/{order['entity_id']}/refund", json={"items": items, "arguments": arguments})
    if r.status_code != 200:
        raise RuntimeError(f"Magento refused the credit memo: {r.text}")
    cm: dict[str, Any] = demo.mag.http.get(f"creditmemo/{r.json()}").json()
    return cm


def _on_hand(demo: Demo) -> Decimal:
    r = demo.acu.http.put(f"{demo.acu.base}/InventorySummaryInquiry", params={"$expand": "Results"},
                          json={"InventoryID": {"value": "WATER2809"}, "WarehouseID": {"value": "RETAIL"}})
    r.raise_for_status()
    return sum((Decimal(str(val(row, "QtyOnHand"))) for row in r.json()["Results"]), Decimal(0))


def _return_of(demo: Demo, cm: dict[str, Any]) -> dict[str, Any]:
    r = demo.acu.http.get(f"{demo.acu.base}/SalesOrder", params={
        "$filter": f"OrderType eq 'RC' and ExternalRef eq 'CM{cm['increment_id']}'", "$expand": "Details"})
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()
    if len(found) != 1:
        raise RuntimeError(f"credit memo #{cm['increment_id']}: {len(found)} Acumatica return order(s), not 1")
    return found[0]


def return_table(rc: dict[str, Any], cm: dict[str, Any]) -> Table:
    t = Table(title=f"Acumatica return order RC {val(rc, 'OrderNbr')} (Magento credit memo #{cm['increment_id']})")
    for c in ("Item", "Qty", "Unit price", "Warehouse", "Original invoice line"):
        t.add_column(c)
    for d in rc.get("Details") or []:
        t.add_row(str(val(d, "InventoryID")), str(val(d, "OrderQty")), str(val(d, "UnitPrice")),
                  str(val(d, "WarehouseID")),
                  f"{val(d, 'InvoiceType')} {val(d, 'InvoiceNbr')} line {val(d, 'InvoiceLineNbr')}")
    return t


def returns_step(demo: Demo, nbr: str) -> None:
    from amsync_local.demo import console

    console_print = console.print
    order = demo.mag.orders_for(nbr)[0]
    demo.step(14, "returns take place in Magento: refund 1 x WATER2809 with return to stock")
    before = _on_hand(demo)
    first = _refund(demo, order, 1, shipping_amount=0)
    console_print(f"  Magento credit memo #{first['increment_id']}: {first['grand_total']} refunded (offline)")
    demo.world.runtime.fire_schedule("CreditMemoPollerFunction")  # type: ignore[union-attr]
    demo.settle()
    rc = _return_of(demo, first)
    console_print(return_table(rc, first))
    console_print(f"  RC {val(rc, 'OrderNbr')}: status {val(rc, 'Status')}; WATER2809 on hand in RETAIL "
                  f"{before} -> {_on_hand(demo)}")
    demo.step(15, "the other unit comes back through Acumatica: RC order from the invoice, receipt, credit memo")
    invoice = str(val(rc["Details"][0], "InvoiceNbr"))
    memo = demo.acu.take_return(invoice, 1)
    console_print(f"  Acumatica RC order received, credit memo {memo} released")
    demo.settle()
    final = demo.mag.orders_for(nbr)[0]
    memos = demo.mag.http.get("creditmemos", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": str(order["entity_id"])}).json()["items"]
    for cm in memos:
        console_print(f"  Magento credit memo #{cm['increment_id']}: {cm['grand_total']} "
                      f"({', '.join(str(c.get('comment')) for c in cm.get('comments') or []) or 'made in Magento'})")
    console_print(f"  Magento order #{final['increment_id']}: state [bold]{final['state']}[/bold], refunded "
                  f"{final.get('total_refunded')}; the connector's own credit memo is not sent back to Acumatica")
    demo.world.runtime.fire_schedule("CreditMemoPollerFunction")  # type: ignore[union-attr]
    demo.settle()
    rows = [e for e in demo.log.newest(Side.MAGENTO, limit=50) if e.group == Group.RETURN][:6]
    for e in rows:
        console_print(f"  log: {e.group.value if e.group else ''} {e.action.value if e.action else ''} "
                      f"{e.result.value if e.result else ''} | Entity Id {e.entity_id or ''} | Notes {e.notes} | "
                      f"{e.direction}")
    if final["state"] != "closed":
        raise RuntimeError(f"the Magento order is {final['state']}, not closed")

