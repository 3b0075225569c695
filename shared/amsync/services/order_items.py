"""Which Magento product(s) and quantities an Acumatica order line becomes (the Product mapping, docs/configuration.md).

- No mapping row for an item: the Magento SKU is the InventoryID, one Acumatica unit is one Magento unit.
- Rows for an item (``ProductMapping``): the row for the line's UOM, else the item's ``*`` row; an item with rows
  but none for the line's UOM waits (the UOM is unmapped). ``qty_factor`` converts: an order of 5 CASEs of 12 is 60
  pieces in Magento at the case price / 12, its row total unchanged. Magento keeps prices to 4 decimals: when no
  4-decimal unit price gives the row total to the cent, the order waits.
- ``configurable``: the line becomes the configurable (``parent_sku``: the item Magento prices and totals, carrying
  the child's SKU as Magento does) and its ordered child (``magento_sku``, qty, no amounts). ``bundle``: a
  fixed-price bundle (``magento_sku``) priced as the line, with its ``components`` as children (qty per bundle x
  bundles, no amounts).
- Non-stock lines (LineType "Non-Inventory Goods" or "Misc. Charge") whose item is not in Magento become the
  placeholder product (the ``*`` row: a virtual Magento product, the line's description as its name) if one is
  mapped; otherwise the order waits with the reason. A stock item is never replaced by the placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from amsync.models.acumatica import SalesOrderLine, to_decimal
from amsync.models.settings import ProductMapping

PRICE = Decimal("0.0001")  # Magento's price columns: decimal(20,4)
CENT = Decimal("0.01")
VIRTUAL_TYPES = frozenset({"virtual", "downloadable"})
PLACEHOLDER = "*"


@dataclass(frozen=True)
class MagentoProductRef:
    id: int
    sku: str
    name: str
    weight: Decimal | None = None
    type_id: str = "simple"

    def __post_init__(self) -> None:
        # Magento's JSON may bring the weight as a float or a string: keep it an exact Decimal
        if self.weight is not None and not isinstance(self.weight, Decimal):
            object.__setattr__(self, "weight", to_decimal(self.weight))


@dataclass(frozen=True)
class ChildItem:
    product: MagentoProductRef
    qty: Decimal


@dataclass(frozen=True)
class ResolvedLine:
    """An Acumatica line as Magento will hold it: the priced item (``product``, ``product_type``) and its children."""

    product: MagentoProductRef
    product_type: str  # simple, virtual, configurable, bundle
    qty: Decimal  # in Magento units
    factor: Decimal
    sku: str  # the SKU on the priced item (a configurable's item carries its child's SKU)
    name: str
    children: tuple[ChildItem, ...] = ()

    @property
    def is_virtual(self) -> bool:
        return self.product_type == "virtual"


def magento_skus(lines: Sequence[SalesOrderLine], mappings: Sequence[ProductMapping]) -> list[str]:
    """Every Magento SKU the lines may need (to look them up in one search)."""
    skus = {ln.inventory_id for ln in lines if ln.inventory_id}
    for m in mappings:
        if m.inventory_id == PLACEHOLDER or m.inventory_id.upper() in {s.upper() for s in skus}:
            skus.update(s for s in (m.magento_sku, m.parent_sku) if s)
            skus.update(sku for sku, _ in m.component_list())
    return sorted(skus)


def find_product(products: Mapping[str, MagentoProductRef], sku: str) -> MagentoProductRef | None:
    found = products.get(sku)
    if found is None:  # Magento looks SKUs up case-insensitively
        found = next((p for k, p in products.items() if k.upper() == sku.upper()), None)
    return found


def _row_for(line: SalesOrderLine, mappings: Sequence[ProductMapping]) -> tuple[ProductMapping | None, bool]:
    """(the row, whether the item has rows at all)."""
    rows = [m for m in mappings if m.inventory_id.upper() == line.inventory_id.upper()]
    uom = (line.uom or "").upper()
    exact = next((m for m in rows if m.uom.upper() == uom), None)
    return exact or next((m for m in rows if m.uom == "*"), None), bool(rows)


def qty_factor(inventory_id: str, uom: str | None, mappings: Sequence[ProductMapping]) -> Decimal:
    """Magento units per Acumatica unit of ``uom`` (1 without a row): what a shipped or invoiced quantity in the
    line's unit is in Magento's."""
    row, _ = _row_for(SalesOrderLine(inventory_id=inventory_id, uom=uom), mappings)
    return row.qty_factor if row is not None else Decimal(1)


def unit_price(line: SalesOrderLine, factor: Decimal, row_total: Decimal) -> Decimal | None:
    """The price per Magento unit (4 decimals, Magento's price scale) whose row total is ``row_total`` to the cent,
    or None when there is none (the order then waits: a price no Magento unit price can carry)."""
    if factor == 1:
        return line.unit_price
    qty = line.order_qty * factor
    if not qty:
        return (line.unit_price / factor).quantize(PRICE, rounding=ROUND_HALF_UP)
    nearest = (row_total / qty).quantize(PRICE, rounding=ROUND_HALF_UP)
    for price in (nearest, nearest - PRICE, nearest + PRICE):
        if (price * qty).quantize(CENT, rounding=ROUND_HALF_UP) == row_total:
            return price
    return None


def resolve_line(line: SalesOrderLine, position: int, products: Mapping[str, MagentoProductRef],
                 mappings: Sequence[ProductMapping]) -> ResolvedLine | str:
    """The Magento side of one line, or the reason it cannot be placed (an operator can act on it)."""
    label = f"line {line.line_nbr or position}"
    if not line.inventory_id:
        return f"{label} has no InventoryID: give it a stock item"
    row, has_rows = _row_for(line, mappings)
    if row is None and has_rows:
        return (f"{label}: item {line.inventory_id} is ordered in UOM {line.uom or '(none)'}, which has no product "
                f"mapping: add one (amsync mappings product set inventory_id={line.inventory_id} "
                f"uom={line.uom or '<UOM>'} qty_factor=<Magento units per {line.uom or 'unit'}>)")
    sku = (row.magento_sku if row else "") or line.inventory_id
    factor = row.qty_factor if row else Decimal(1)
    product = find_product(products, sku)
    non_stock = line.is_misc_charge or (line.line_type or "").casefold() == "non-inventory goods"
    if product is None and row is None and non_stock:
        placeholder = next((m for m in mappings if m.inventory_id == PLACEHOLDER), None)
        if placeholder is None or find_product(products, placeholder.magento_sku) is None:
            return (f"{label} is a non-stock {line.line_type or 'item'} {line.inventory_id}, which is not in "
                    "Magento: create it there as a virtual product, map it (amsync mappings product set "
                    f"inventory_id={line.inventory_id} magento_sku=<SKU> kind=virtual), or map the placeholder "
                    "for such lines (amsync mappings product set inventory_id=* magento_sku=<SKU> kind=virtual)")
        found = find_product(products, placeholder.magento_sku)
        assert found is not None
        return ResolvedLine(found, "virtual", line.order_qty, Decimal(1), found.sku,
                            line.description or found.name)
    if product is None:
        return f"SKU {sku} is not in Magento: create the product or map it (amsync mappings product set " \
               f"inventory_id={line.inventory_id} magento_sku=<SKU>)"
    qty = line.order_qty * factor
    kind = row.kind if row else "simple"
    virtual = kind == "virtual" or line.is_misc_charge or product.type_id in VIRTUAL_TYPES
    if kind == "configurable":
        parent = find_product(products, row.parent_sku) if row and row.parent_sku else None
        if parent is None:
            return (f"{label}: the configurable product {row.parent_sku if row else ''!r} of {sku} is not in "
                    "Magento: fix the product mapping's parent_sku")
        return ResolvedLine(parent, "configurable", qty, factor, product.sku, parent.name,
                            (ChildItem(product, qty),))
    if kind == "bundle":
        children: list[ChildItem] = []
        assert row is not None
        for comp_sku, per_bundle in row.component_list():
            comp = find_product(products, comp_sku)
            if comp is None:
                return f"{label}: component {comp_sku} of bundle {sku} is not in Magento: fix its components"
            children.append(ChildItem(comp, per_bundle * qty))
        if not children:
            return f"{label}: bundle {sku} has no components in its product mapping"
        return ResolvedLine(product, "bundle", qty, factor, product.sku, product.name, tuple(children))
    return ResolvedLine(product, "virtual" if virtual else "simple", qty, factor, product.sku,
                        product.name or line.description or product.sku)


def product_ref(sku: str, record: Mapping[str, Any]) -> MagentoProductRef:
    return MagentoProductRef(id=int(record["id"]), sku=sku, name=str(record.get("name") or sku),
                             weight=record.get("weight"), type_id=str(record.get("type_id") or "simple"))
