"""`make fidelity`: generated Acumatica orders of every shape the connector handles, synced through the local world,
each Magento order compared with its Acumatica order to the cent (``FIDELITY=N`` orders, 1,000 by default).

The shapes (``OrderShape``): one to five lines of stock items (WATER2809, MUG500, JUICE100 by the BOTTLE or by the
CASE of 12, which Magento sells by the bottle: the Product mapping's qty_factor 12), a non-stock service (INSTALL: a
Misc. Charge line) and a non-stock item that ships (GIFTWRAP: Non-Inventory Goods), both virtual products in
Magento; default or hand-entered prices, line discounts (percent or amount), tax categories per line (exempt, one
tax, two taxes, a reduced rate), freight, premium freight and the freight's tax category, a document discount
(percent or amount), prices with or without tax (TaxCalcMode Gross / TaxSetting) and the currency (USD, the base
currency, or EUR, GBP, CAD at the simulator's rates). Customers BIGBOX (B2B) and STAFF01 (staff): eligible unpaid.

``mismatches`` is the comparison, written from Acumatica's side only (it knows nothing of the connector's mapper):
every total in the order's and the base currency (base = amount x CurrencyRate, to the cent, as Acumatica keeps
its base amounts), and per line the quantity in Magento's unit, the price, the row total, the discount and the tax
(each line's tax is Acumatica's per-tax amounts spread over the lines its category carries: within a cent or two
of the line's exact share, and the lines' and freight's taxes add up to TaxTotal exactly).

Run: ``make fidelity`` (``FIDELITY=200 make fidelity``); the table goes to stdout, the world's logs to .local/logs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0")
STOCK = {"WATER2809": ("BOTTLE",), "MUG500": ("EA",), "JUICE100": ("BOTTLE", "CASE")}
NON_STOCK = ("INSTALL", "GIFTWRAP")
UOM_FACTORS: dict[tuple[str, str], Decimal] = {("JUICE100", "CASE"): Decimal(12)}  # the Acumatica item's conversion
CURRENCIES = ("USD", "EUR", "GBP", "CAD")
TAX_CATEGORIES = (None, "EXEMPT", "TAXABLE", "CITYTAX", "REDUCED")  # None: the item's own
FREIGHT_TAX = (None, "TAXABLE", "CITYTAX", "REDUCED")
MODES = ("TaxSetting", "Gross")
CUSTOMERS = ("BIGBOX", "STAFF01")
SHIP_VIA = "LOCAL"
# What the connector needs set for these shapes (docs/configuration.md): JUICE100 by the CASE is 12 bottles.
PRODUCT_MAPPINGS = [{"inventory_id": "JUICE100", "uom": "CASE", "qty_factor": "12"},
                    {"inventory_id": "JUICE100", "uom": "BOTTLE", "qty_factor": "1"}]
MAGENTO_PRODUCTS = [{"sku": "INSTALL", "name": "Installation service", "price": 45, "type_id": "virtual"},
                    {"sku": "GIFTWRAP", "name": "Gift wrapping", "price": 3.5, "type_id": "virtual"}]


def money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(x: Any) -> Decimal:
    return ZERO if x is None else Decimal(str(x))


# ------------------------------------------------------------------------------------------------ shapes
@dataclass(frozen=True)
class LineShape:
    sku: str
    qty: int
    uom: str | None = None  # None: the item's sales unit
    price: Decimal | None = None  # None: the item's default price (in the order's currency)
    discount_pct: Decimal | None = None
    discount_share: Decimal | None = None  # a line discount amount: this share of qty x price (needs a price)
    tax_category: str | None = None


@dataclass(frozen=True)
class OrderShape:
    lines: tuple[LineShape, ...]
    customer: str = "BIGBOX"
    currency: str = "USD"
    mode: str = "TaxSetting"
    freight: Decimal = ZERO
    premium: Decimal = ZERO
    freight_tax: str | None = None
    doc_pct: Decimal | None = None
    doc_share: Decimal | None = None  # a document discount amount: this share of the lines (needs every price)

    def body(self) -> dict[str, Any]:
        """The SalesOrder body (unwrapped: ``wrap`` each level for the REST API)."""
        details = []
        for ln in self.lines:
            row: dict[str, Any] = {"InventoryID": ln.sku, "OrderQty": ln.qty}
            if ln.uom:
                row["UOM"] = ln.uom
            if ln.price is not None:
                row["UnitPrice"] = ln.price
                if ln.discount_share is not None:
                    row["DiscountAmount"] = money(ln.qty * ln.price * ln.discount_share)
            if ln.discount_pct is not None and "DiscountAmount" not in row:
                row["DiscountPercent"] = ln.discount_pct
            if ln.tax_category:
                row["TaxCategory"] = ln.tax_category
            details.append(row)
        body: dict[str, Any] = {"OrderType": "SO", "CustomerID": self.customer, "CurrencyID": self.currency,
                                "TaxCalcMode": self.mode, "Details": details,
                                "ShippingSettings": {"ShipVia": SHIP_VIA, "FreightPrice": self.freight,
                                                     "PremiumFreight": self.premium,
                                                     "FreightTaxCategory": self.freight_tax}}
        if self.doc_pct is not None:
            body["DiscountDetails"] = [{"DiscountCode": "MANUAL", "DiscountPercent": self.doc_pct}]
        elif self.doc_share is not None and all(ln.price is not None for ln in self.lines):
            net = sum((money(ln.qty * (ln.price or ZERO)) - dec(d.get("DiscountAmount")) for ln, d in
                       zip(self.lines, details, strict=True) if d.get("DiscountPercent") is None), ZERO)
            if net > 0:
                body["DiscountDetails"] = [{"DiscountCode": "MANUAL", "DiscountAmount": money(net * self.doc_share)}]
        return body


def random_shape(rng: random.Random) -> OrderShape:
    """One order shape drawn from ``rng`` (the same space as the property tests' strategy)."""
    lines = []
    for _ in range(rng.randint(1, 5)):
        sku = rng.choice([*STOCK, *NON_STOCK])
        uom = rng.choice(STOCK[sku]) if sku in STOCK else None
        price = Decimal(rng.randint(1, 50000)) / 100 if rng.random() < 0.5 else None
        lines.append(LineShape(
            sku=sku, qty=rng.randint(1, 30), uom=uom, price=price,
            discount_pct=Decimal(rng.randint(0, 5000)) / 100 if rng.random() < 0.3 else None,
            discount_share=Decimal(rng.randint(1, 50)) / 100 if price is not None and rng.random() < 0.3 else None,
            tax_category=rng.choice(TAX_CATEGORIES)))
    doc = rng.random()
    return OrderShape(
        lines=tuple(lines), customer=rng.choice(CUSTOMERS), currency=rng.choice(CURRENCIES), mode=rng.choice(MODES),
        freight=Decimal(rng.randint(0, 5000)) / 100 if rng.random() < 0.6 else ZERO,
        premium=Decimal(rng.randint(0, 2000)) / 100 if rng.random() < 0.3 else ZERO,
        freight_tax=rng.choice(FREIGHT_TAX),
        doc_pct=Decimal(rng.randint(1, 3000)) / 100 if doc < 0.25 else None,
        doc_share=Decimal(rng.randint(1, 30)) / 100 if 0.25 <= doc < 0.45 else None)


# ------------------------------------------------------------------------------------------------ the comparison
@dataclass(frozen=True)
class Mismatch:
    order: str
    field: str
    expected: Any
    got: Any


def _v(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    return value.get("value") if isinstance(value, Mapping) else value


def _d(record: Mapping[str, Any], name: str) -> Decimal:
    return dec(_v(record, name))


def mismatches(acu: Mapping[str, Any], mag: Mapping[str, Any], tax_categories: Mapping[str, Sequence[str]],
               factors: Mapping[tuple[str, str], Decimal] = UOM_FACTORS) -> list[Mismatch]:
    """Every way the Magento order ``mag`` differs from the Acumatica order ``acu`` (as the REST APIs give them:
    ``acu`` read with Details, Totals, TaxDetails, DiscountDetails, ShippingSettings expanded)."""
    key = f"{_v(acu, 'OrderType')}/{_v(acu, 'OrderNbr')}"
    out: list[Mismatch] = []

    def check(name: str, expected: Any, got: Any) -> None:
        if expected != got:
            out.append(Mismatch(key, name, expected, got))

    totals = acu.get("Totals") or {}
    rate = _d(acu, "CurrencyRate") or Decimal(1)
    gross = _v(acu, "TaxCalcMode") == "Gross"
    lines = list(acu.get("Details") or [])
    doc_disc = _d(totals, "DiscountTotal")
    line_disc = sum((_d(ln, "DiscountAmount") for ln in lines), ZERO)
    shipping = _d(totals, "Freight") + _d(totals, "PremiumFreight")
    expected = {"grand_total": _d(acu, "OrderTotal"), "tax_amount": _d(acu, "TaxTotal"),
                "discount_amount": ZERO - (line_disc + doc_disc),
                "shipping_incl_tax" if gross else "shipping_amount": shipping,
                "subtotal_incl_tax" if gross else "subtotal": sum((_d(ln, "ExtendedPrice") for ln in lines), ZERO)}
    for name, value in expected.items():
        check(name, value, dec(mag.get(name)))
        check(f"base_{name}", money(value * rate), dec(mag.get(f"base_{name}")))
    check("order_currency_code", _v(acu, "CurrencyID"), mag.get("order_currency_code"))
    check("base_currency_code", _v(acu, "BaseCurrencyID") or _v(acu, "CurrencyID"), mag.get("base_currency_code"))
    check("base_to_order_rate", (1 / rate).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
          dec(mag.get("base_to_order_rate")).quantize(Decimal("0.0001")))
    check("grand_total = subtotal + discount + shipping + tax (+ tax in discounts)", dec(mag.get("grand_total")),
          sum((dec(mag.get(f)) for f in ("subtotal", "discount_amount", "shipping_amount", "tax_amount",
                                         "discount_tax_compensation_amount")), ZERO))
    items = {str(i.get("ext_order_item_id")): i for i in mag.get("items") or []
             if not i.get("parent_item_id") and not i.get("parent_item")}
    check("items", sorted(str(_v(ln, "LineNbr")) for ln in lines), sorted(items))
    rates = {str(_v(t, "TaxID")).upper(): _d(t, "TaxRate") for t in acu.get("TaxDetails") or []}
    keep = 1 - doc_disc / (_d(totals, "LineTotalAmount") + _d(totals, "MiscTotalAmount")) \
        if _d(totals, "LineTotalAmount") + _d(totals, "MiscTotalAmount") else Decimal(1)
    item_tax = ZERO
    for ln in lines:
        item = items.get(str(_v(ln, "LineNbr")))
        if item is None:
            continue
        out.extend(_line(key, ln, item, rate, gross, keep, rates, tax_categories, factors))
        item_tax += dec(item.get("tax_amount"))
    check("items' tax + shipping tax = TaxTotal", _d(acu, "TaxTotal"), item_tax + dec(mag.get("shipping_tax_amount")))
    check("items' discounts = line + document discounts", line_disc + doc_disc,
          sum((dec(i.get("discount_amount")) for i in items.values()), ZERO))
    return out


def _line(key: str, ln: Mapping[str, Any], item: Mapping[str, Any], rate: Decimal, gross: bool, keep: Decimal,
          rates: Mapping[str, Decimal], tax_categories: Mapping[str, Sequence[str]],
          factors: Mapping[tuple[str, str], Decimal]) -> list[Mismatch]:
    n = f"line {_v(ln, 'LineNbr')}"
    out: list[Mismatch] = []

    def check(name: str, expected: Any, got: Any) -> None:
        if expected != got:
            out.append(Mismatch(key, f"{n} {name}", expected, got))

    factor = factors.get((str(_v(ln, "InventoryID")), str(_v(ln, "UOM"))), Decimal(1))
    qty = _d(ln, "OrderQty") * factor
    check("qty (Magento units)", qty, dec(item.get("qty_ordered")))
    row, price = ("row_total_incl_tax", "price_incl_tax") if gross else ("row_total", "price")
    ext = _d(ln, "ExtendedPrice")
    check(row, ext, dec(item.get(row)))
    check(f"base_{row}", money(ext * rate), dec(item.get(f"base_{row}")))
    check(f"{price} x qty", ext, money(dec(item.get(price)) * qty))
    disc = dec(item.get("discount_amount"))
    if not _d(ln, "DiscountAmount") <= disc <= _d(ln, "DiscountAmount") + money(_d(ln, "Amount") * (1 - keep)) + CENT:
        out.append(Mismatch(key, f"{n} discount", f"{_d(ln, 'DiscountAmount')} + its document share", disc))
    check("base_discount_amount", money(disc * rate), dec(item.get("base_discount_amount")))
    taxes = {t.upper() for t in tax_categories.get(str(_v(ln, "TaxCategory") or "").upper(), ())}
    pct = sum((r for t, r in rates.items() if t in taxes), ZERO)
    net = _d(ln, "Amount") * keep
    exact = net * pct / (100 + pct) if gross else net * pct / 100
    tax = dec(item.get("tax_amount"))
    if abs(tax - exact) > Decimal("0.02"):
        out.append(Mismatch(key, f"{n} tax", money(exact), tax))
    check("base_tax_amount", money(tax * rate), dec(item.get("base_tax_amount")))
    return out


def must_wait(acu: Mapping[str, Any], factors: Mapping[tuple[str, str], Decimal] = UOM_FACTORS) -> str | None:
    """Why the order cannot be represented in Magento exactly (and must wait with a Failure row), or None: a line
    in a converted UOM whose row total no 4-decimal price per Magento unit gives to the cent."""
    for ln in acu.get("Details") or []:
        factor = factors.get((str(_v(ln, "InventoryID")), str(_v(ln, "UOM"))))
        if factor is None:
            continue
        qty, ext = _d(ln, "OrderQty") * factor, _d(ln, "ExtendedPrice")
        if qty and not any(money(Decimal(p) / 10000 * qty) == ext
                           for c in [int(ext * 10000 / qty)] for p in range(c - 2, c + 3)):
            return f"line {_v(ln, 'LineNbr')}: {ext} over {qty} Magento units has no 4-decimal unit price"
    return None


# ------------------------------------------------------------------------------------------------ the run
@dataclass
class Report:
    orders: int = 0
    synced: int = 0
    waited: int = 0  # could not be exact: waited with a Failure row naming why, as they must
    failed: list[str] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> str:
        by_field = Counter(m.field.split(" ", 2)[-1] if m.field.startswith("line ") else m.field
                           for m in self.mismatched)
        orders_off = len({m.order for m in self.mismatched})
        rows = [f"fidelity: {self.orders} generated orders, {self.synced} synced, {self.waited} waited as they must "
                f"(not exact in Magento: Failure row), {len(self.failed)} wrong outcome, {orders_off} with a mismatch "
                f"({self.seconds:.0f} s)", "", f"{'field':<60} {'mismatches':>10}"]
        rows += [f"{name:<60} {count:>10}" for name, count in by_field.most_common()] or [f"{'(none)':<60} {0:>10}"]
        rows += ["", f"total mismatches: {len(self.mismatched) + len(self.failed)}"]
        rows += [f"  wrong outcome: {f}" for f in self.failed[:20]]
        rows += [f"  {m.order} {m.field}: expected {m.expected}, got {m.got}" for m in self.mismatched[:20]]
        return "\n".join(rows)


def _nest(body: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a plain body as the contract-based API wants it (``{"value": x}`` leaves, lists of records)."""
    out: dict[str, Any] = {}
    for k, v in body.items():
        if isinstance(v, list):
            out[k] = [_nest(r) for r in v]
        elif isinstance(v, Mapping):
            out[k] = _nest(v)
        else:
            out[k] = {"value": float(v) if isinstance(v, Decimal) else v}
    return out


def configure(world: Any) -> dict[str, list[str]]:
    """The connector's settings and Magento's products these shapes need; the tax categories (Acumatica's)."""
    from amsync.data.settings_store import SettingsStore
    from amsync.models.settings import OrderMappingPreferences, ProductMapping

    env = world.runtime.functions["OrderSyncFunction"].env
    store = SettingsStore(env["SETTINGS_TABLE"])
    for row in PRODUCT_MAPPINGS:
        store.put_mapping("product", ProductMapping.model_validate(row))
    store.put_preferences("order-mapping", OrderMappingPreferences(allowed_currencies=list(CURRENCIES)))
    world.magento.seed_products(MAGENTO_PRODUCTS)
    cats = tax_categories(world)
    settings_settle()
    return cats


def settings_settle() -> None:
    """Wait until every warm container has seen a settings change (they check the change stamp every CACHE_S, as
    in AWS): orders entered earlier could meet the settings before it."""
    import time

    from amsync.data.settings_store import CACHE_S

    time.sleep(CACHE_S + 0.5)


def tax_categories(world: Any) -> dict[str, list[str]]:
    from amsync_local.walkthrough import AcumaticaUser

    user = AcumaticaUser.from_endpoints(world.endpoints())
    try:
        return {c: [str(_v(d, "TaxID")).upper() for d in user.get("TaxCategory", c, expand="Details")["Details"]]
                for c in ("EXEMPT", "TAXABLE", "CITYTAX", "REDUCED")}
    finally:
        user.close()


def sync_and_compare(world: Any, shapes: Sequence[OrderShape], cats: Mapping[str, Sequence[str]],
                     workers: int = 4) -> Report:
    """Enter the orders in Acumatica (several people at once), wait for the pipeline, compare each order."""
    from amsync.data.connector_log import ConnectorLog
    from amsync.models.log import Result
    from amsync_local.walkthrough import AcumaticaUser, MagentoViewer

    log = ConnectorLog(world.runtime.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"])
    started = time.monotonic()
    users = [AcumaticaUser.from_endpoints(world.endpoints()) for _ in range(workers)]
    mag = MagentoViewer.from_endpoints(world.endpoints())

    def enter(job: tuple[int, OrderShape]) -> str:
        n, shape = job
        r = users[n % workers]._ok(users[n % workers].http.put(f"{users[0].base}/SalesOrder", json=_nest(shape.body())))
        return str(_v(r.json(), "OrderNbr"))

    report = Report(orders=len(shapes))
    try:
        with ThreadPoolExecutor(workers) as pool:
            numbers = list(pool.map(enter, enumerate(shapes)))
        assert world.wait_settled(timeout=max(120.0, 1.0 * len(shapes))), "the pipeline did not settle"
        expand = "Details,Totals,TaxDetails,DiscountDetails,ShippingSettings"
        for nbr in numbers:
            acu = users[0].get("SalesOrder", "SO", nbr, expand=expand)
            found = mag.orders_for(nbr)
            wait = must_wait(acu)
            failures = [r.message for r in log.timeline(nbr) if r.result == Result.FAILURE]
            if wait is not None:
                if found or not any("cannot be sold in Magento" in (m or "") for m in failures):
                    report.failed.append(f"SO/{nbr} must wait ({wait}): {len(found)} Magento orders, "
                                         f"failures {failures[-1:]}")
                else:
                    report.waited += 1
                continue
            if len(found) != 1:
                report.failed.append(f"SO/{nbr}: {len(found)} Magento orders; failures {failures[-1:]}")
                continue
            report.synced += 1
            report.mismatched += mismatches(acu, found[0], cats)
    finally:
        for u in users:
            u.close()
    report.seconds = time.monotonic() - started
    return report


def run(n: int, seed: int) -> Report:
    from amsync_local.world import LocalWorld, WorldOptions

    rng = random.Random(seed)
    shapes = [random_shape(rng) for _ in range(n)]
    with LocalWorld(WorldOptions(start_schedules=False)) as world:
        cats = configure(world)
        return sync_and_compare(world, shapes, cats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    import contextlib
    from pathlib import Path

    log = Path(".local/logs/fidelity.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink, contextlib.redirect_stdout(sink):  # the functions' log lines
        report = run(args.orders, args.seed)
    print(report.table())
    return 0 if not report.mismatched and not report.failed else 1


if __name__ == "__main__":
    sys.exit(main())
