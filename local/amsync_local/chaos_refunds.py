"""The chaos run's refunds (issue 16): a share of the completed orders is refunded in Magento, partly or fully,
under Acumatica faults (429s, answers lost after the return order committed), overlapping credit memo polls and
duplicated requests; then each Magento credit memo must have exactly one Acumatica return order (RC, ExternalRef
``CM<credit memo number>``) with its quantities and its total to the cent.

Through the simulators' public REST APIs only (as the merchant and Acumatica's screens would), never the connector's
code, except the queue a duplicated request is put on.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from amsync_local.walkthrough import AcumaticaUser, MagentoViewer, val

if TYPE_CHECKING:
    from amsync_local.chaos import ChaosReport, OrderPlan
    from amsync_local.world import LocalWorld

SHARE = 0.3  # of the completed orders, refunded
CENT = Decimal("0.01")


@dataclass
class Refund:
    order_key: str
    increment_id: str  # the credit memo's
    entity_id: int
    grand_total: Decimal
    qty: dict[str, Decimal]


def _refund(mag: MagentoViewer, order: dict[str, Any], items: list[dict[str, Any]] | None,
            arguments: dict[str, Any]) -> dict[str, Any] | None:
    body = {"items": items or [], "arguments": arguments}
    r = mag.http.post(f"order/{order['entity_id']}/refund", json=body)
    if r.status_code != 200:
        return None  # e.g. nothing left to refund: Magento says so; not a credit memo
    cm: dict[str, Any] = mag.http.get(f"creditmemo/{r.json()}").json()
    return cm


def refund_some(world: LocalWorld, plans: list[OrderPlan], rng: random.Random, workers: int = 4) -> list[Refund]:
    """Refund a share of the complete orders in Magento: one unit of the first line (with return to stock), the
    whole order, or one unit then the rest (two credit memos). Which orders and how are drawn in sequence from
    ``rng``; the refunds are then made by several people at once."""
    mag = MagentoViewer.from_endpoints(world.endpoints())
    drawn = [(p, rng.choice(("one", "all", "one-then-rest"))) for p in plans
             if p.eligible and rng.random() < SHARE]

    def refund(item: tuple[OrderPlan, str]) -> list[Refund]:
        p, how = item
        live = [o for o in mag.orders_for(p.nbr) if o.get("state") == "complete"]
        if len(live) != 1:
            return []
        order = live[0]
        first = next(i for i in order["items"] if not i.get("parent_item_id"))
        steps: list[tuple[list[dict[str, Any]] | None, dict[str, Any]]] = []
        if how in ("one", "one-then-rest"):
            back = {"return_to_stock_items": [first["item_id"]]}
            steps.append(([{"order_item_id": first["item_id"], "qty": 1}],
                          {"shipping_amount": 0, "extension_attributes": back}))
        if how in ("all", "one-then-rest"):
            steps.append((None, {}))
        made: list[Refund] = []
        for items, arguments in steps:
            cm = _refund(mag, order, items, arguments)
            if cm is not None:
                qty: dict[str, Decimal] = {}
                for it in cm["items"]:
                    qty[it["sku"]] = qty.get(it["sku"], Decimal(0)) + Decimal(str(it["qty"]))
                made.append(Refund(p.key, str(cm["increment_id"]), int(cm["entity_id"]),
                                   Decimal(str(cm["grand_total"])).quantize(CENT), qty))
        return made

    try:
        with ThreadPoolExecutor(workers) as pool:
            return [r for made in pool.map(refund, drawn) for r in made]
    finally:
        mag.http.close()


def sync_under_faults(world: LocalWorld, refunds: list[Refund], timeout: float) -> None:
    """Acumatica answers 429 to some return creates and loses the answer of others after committing; two polls
    overlap; every request is delivered twice more. Then the faults stop and the queues drain."""
    from amsync.data import queues
    from amsync.models.messages import Kind, SyncRequest

    assert world.runtime is not None
    world.acumatica.faults.add({"path": r"/SalesOrder$", "method": "PUT", "error_rate": 0.15, "error_status": 429,
                                "retry_after": 1})
    world.acumatica.faults.add({"path": r"/SalesOrder$", "method": "PUT", "drop_after_commit_rate": 0.15})
    try:
        polls = [threading.Thread(target=world.runtime.fire_schedule, args=("CreditMemoPollerFunction",))
                 for _ in range(2)]
        for t in polls:
            t.start()
        url = world.runtime.functions["ReturnSyncFunction"].env["RETURN_QUEUE_URL"]
        again = [SyncRequest(kind=Kind.RETURN, key=str(r.entity_id), source="reconciler",
                             correlation_id=f"creditmemo/{r.entity_id}") for r in refunds]
        queues.send_many(url, [(q, None, None) for q in again + again])
        for t in polls:
            t.join()
        world.wait_settled(timeout)
    finally:
        world.acumatica.faults.clear()
    world.runtime.fire_schedule("CreditMemoPollerFunction")
    world.wait_settled(timeout)
    ids = world.runtime.stack.physical_ids  # type: ignore[union-attr]
    if queues.depth(ids["ReturnDLQ"])["visible"]:  # as `amsync dlq replay ReturnDLQ`
        queues.move_messages(ids["ReturnDLQ"], ids["ReturnQueue"])
        world.wait_settled(timeout)


def verify(world: LocalWorld, refunds: list[Refund], report: ChaosReport) -> None:
    """One RC order per credit memo, its quantities and total the credit memo's; no RC order for no credit memo."""
    user = AcumaticaUser.from_endpoints(world.endpoints())
    try:
        r = user.http.get(f"{user.base}/SalesOrder", params={"$filter": "OrderType eq 'RC'",
                                                             "$expand": "Details"})
        r.raise_for_status()
        by_ref: dict[str, list[dict[str, Any]]] = {}
        for rc in r.json():
            by_ref.setdefault(str(val(rc, "ExternalRef")), []).append(rc)
    finally:
        user.close()
    for ref in set(by_ref) - {f"CM{x.increment_id}" for x in refunds}:
        report.wrong.append(f"RC {ref}: {len(by_ref[ref])} return order(s) for no Magento credit memo")
    for x in refunds:
        found = by_ref.get(f"CM{x.increment_id}", [])
        what = f"{x.order_key} credit memo #{x.increment_id}"
        if not found:
            report.missing.append(f"{what}: no Acumatica return order")
            continue
        if len(found) > 1:
            report.doubled.append(f"{what}: {len(found)} Acumatica return orders")
        rc = found[0]
        qty: dict[str, Decimal] = {}
        for d in rc.get("Details") or []:
            qty[str(val(d, "InventoryID"))] = qty.get(str(val(d, "InventoryID")), Decimal(0)) + Decimal(
                str(val(d, "OrderQty")))
        total = Decimal(str(val(rc, "OrderTotal"))).quantize(CENT)
        if qty != x.qty or total != x.grand_total:
            report.wrong.append(f"{what}: RC {val(rc, 'OrderNbr')} has {dict(qty)} for {total}, the credit memo "
                                f"{dict(x.qty)} for {x.grand_total}")
