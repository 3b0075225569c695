"""The orders the benchmark drives, and the people who enter, pay, ship and invoice them (as chaos.py's do, through
the Acumatica simulator's REST API), phase by phase.

Each order lives its whole life: entered unpaid (its customer's class, DEFAULT, needs payment) -> a payment is
applied and released (the order becomes eligible: the create) -> shipped and confirmed (a third of the orders in
two shipments: part of the lines or of the quantity, then the rest) -> each shipment invoiced and the invoice
released; each confirmation moves stock (availability pushes). About a third of the orders meet cold caches: a
customer and a product the connector has never seen (new in Acumatica, the product also in Magento); the others
draw from customers and products the warm-up has already taken through the connector.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from amsync_local.walkthrough import AcumaticaUser, MagentoViewer, wrap

WARM_CUSTOMERS = ["AACUSTOMER", "BNCW01", "BNCW02", "BNCW03", "BNCW04"]  # AACUSTOMER: the walkthrough's
WARM_SKUS = ["WATER2809", "JUICE100", "MUG500", "BNCSKUW1", "BNCSKUW2", "BNCSKUW3"]
SHIP_VIAS = ["UPSGROUND", "FEDEXGROUND", "WILLCALL", "LOCAL"]
COLD_SHARE = 3  # every third order meets cold caches
PARTIAL_SHARE = 3  # about one order in three is shipped in two shipments
ON_HAND = 1_000_000

T = TypeVar("T")


@dataclass
class OrderPlan:
    index: int
    customer: str
    lines: list[tuple[str, int]]
    ship_via: str
    cold: bool
    partial: bool
    nbr: str = ""
    shipments: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)


def plan_orders(n: int, seed: int, prefix: str = "BNCC") -> list[OrderPlan]:
    """``n`` orders: every third (index 2, 5, ...) with a new customer and a new product; the rest from the warm
    customers and products, 1-3 lines of 1-4 each."""
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        cold = i % COLD_SHARE == COLD_SHARE - 1
        skus = rng.sample(WARM_SKUS, rng.randint(1, 3))
        if cold:
            skus = [f"{prefix}SKU{i:04d}", *skus[:rng.randint(0, 1)]]
        lines = [(sku, rng.randint(1, 4)) for sku in skus]
        customer = f"{prefix}{i:04d}" if cold else rng.choice(WARM_CUSTOMERS)
        partial = rng.random() < 1 / PARTIAL_SHARE and (len(lines) > 1 or lines[0][1] > 1)
        plans.append(OrderPlan(i, customer, lines, rng.choice(SHIP_VIAS), cold, partial))
    return plans


def warmup_plans() -> list[OrderPlan]:
    """One order per warm customer, together covering every warm product (not measured)."""
    return [OrderPlan(-1 - k, c, [(WARM_SKUS[k % len(WARM_SKUS)], 1), (WARM_SKUS[(k + 1) % len(WARM_SKUS)], 2)],
                      "LOCAL", False, k == 0)
            for k, c in enumerate(WARM_CUSTOMERS)]


# ---------------------------------------------------------------------- the catalogue
def add_customer(user: AcumaticaUser, cid: str) -> None:
    """A customer of class DEFAULT (orders wait for payment) with an e-mail of its own, entered in Acumatica."""
    body = {**wrap({"CustomerID": cid, "CustomerName": f"Bench customer {cid}", "CustomerClass": "DEFAULT"}),
            "MainContact": {**wrap({"FirstName": "Bench", "LastName": cid.title(),
                                    "Email": f"{cid.lower()}@bench.example", "Phone1": "+1 (206) 555-0100"}),
                            "Address": wrap({"AddressLine1": "1 Bench Way", "City": "Seattle", "State": "WA",
                                             "PostalCode": "98101", "Country": "US"})}}
    user._ok(user.http.put(f"{user.base}/Customer", json=body))


def add_product(world: Any, user: AcumaticaUser, sku: str, product_id: int) -> None:
    """A stock item in Acumatica (with stock at RETAIL) and the same SKU in Magento's catalogue."""
    body = {**wrap({"InventoryID": sku, "Description": f"Bench item {sku}", "DefaultPrice": 9.95, "BaseUOM": "EA",
                    "SalesUOM": "EA", "PurchaseUOM": "EA", "DefaultWarehouseID": "RETAIL", "TaxCategory": "EXEMPT"}),
            "WarehouseDetails": [wrap({"WarehouseID": "RETAIL"})]}
    user._ok(user.http.put(f"{user.base}/StockItem", json=body))
    world.acumatica.set_on_hand(sku, "RETAIL", ON_HAND)
    # The Magento simulator has no product-create route (the connector never creates products): the catalogue is
    # set up as its seed does.
    from magento_sim.state import _product

    state = world.magento.state
    with state.lock:
        state.products[sku] = _product(product_id, sku, f"Bench item {sku}", 9.95, 0.5)
        state.source_items[(sku, "default")] = {"sku": sku, "source_code": "default", "quantity": 0.0, "status": 1}


def set_up_catalogue(world: Any, user: AcumaticaUser, plans: Iterable[OrderPlan]) -> None:
    """The warm customers and products, and every cold order's new ones, before anything is measured."""
    for cid in WARM_CUSTOMERS:
        if cid != "AACUSTOMER":
            add_customer(user, cid)
    next_id = 90_000
    for sku in WARM_SKUS:
        if sku.startswith("BNC"):
            add_product(world, user, sku, next_id)
            next_id += 1
        else:
            world.acumatica.set_on_hand(sku, "RETAIL", ON_HAND)
    for p in plans:
        if p.cold:
            add_customer(user, p.customer)
            add_product(world, user, p.lines[0][0], next_id)
            next_id += 1


# ---------------------------------------------------------------------- the people
def in_parallel(workers: int, fn: Callable[[OrderPlan], T], plans: list[OrderPlan]) -> list[T]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, plans))


def paced(workers: int, rate: float, fn: Callable[[OrderPlan], T], plans: list[OrderPlan]) -> list[T]:
    """``fn`` for each plan, the i-th started no earlier than i / ``rate`` seconds after the first (at most
    ``workers`` at once): orders arriving at a steady rate rather than in one burst."""
    t0 = time.monotonic()

    def at_its_time(item: tuple[int, OrderPlan]) -> T:
        i, p = item
        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        return fn(p)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(at_its_time, enumerate(plans)))


def enter(user: AcumaticaUser, p: OrderPlan) -> None:
    p.nbr = user.create_order(customer=p.customer, lines=p.lines, ship_via=p.ship_via)


def pay(user: AcumaticaUser, p: OrderPlan) -> None:
    user.record_payment(p.nbr, customer=p.customer)


def fulfil(user: AcumaticaUser, p: OrderPlan) -> None:
    """Ship (in two shipments when planned partial), confirm, invoice and release each shipment."""
    first = user.create_shipment(p.nbr)
    if p.partial:
        if len(p.lines) > 1:  # the first line now, the other lines later
            for line_nbr in range(2, len(p.lines) + 1):
                user.set_shipped_qty(first, line_nbr, 0)
        else:  # part of the quantity now, the rest later
            user.set_shipped_qty(first, 1, p.lines[0][1] // 2)
    _ship_and_invoice(user, p, first)
    if p.partial:
        _ship_and_invoice(user, p, user.create_shipment(p.nbr))


def _ship_and_invoice(user: AcumaticaUser, p: OrderPlan, shipment: str) -> None:
    user.add_package(shipment, f"1Z{p.nbr}{len(p.shipments)}")
    user.confirm_shipment(shipment)
    invoice = user.prepare_invoice(shipment)
    user.release_invoice(invoice)
    p.shipments.append(shipment)
    p.invoices.append(invoice)


def check_lives(world: Any, plans: list[OrderPlan]) -> list[str]:
    """What did not happen as planned: one Magento order per order, complete, with its shipments and invoices."""
    mag = MagentoViewer.from_endpoints(world.endpoints())
    problems = []
    try:
        for p in plans:
            orders = mag.orders_for(p.nbr)
            if len(orders) != 1:
                problems.append(f"{p.nbr}: {len(orders)} Magento orders")
                continue
            entity = int(orders[0]["entity_id"])
            shipments, invoices = len(mag.shipments_of(entity)), len(mag.invoices_of(entity))
            if shipments != len(p.shipments) or invoices != len(p.invoices):
                problems.append(f"{p.nbr}: {shipments} shipments / {invoices} invoices in Magento, "
                                f"{len(p.shipments)} / {len(p.invoices)} in Acumatica")
            elif orders[0].get("state") != "complete":
                problems.append(f"{p.nbr}: Magento state {orders[0].get('state')}")
    finally:
        mag.http.close()
    return problems

