"""Inventory: Acumatica availability per warehouse becomes Magento MSI source-item quantities.

A stock request ("WATER2809/RETAIL", or "WATER2809" for every warehouse) is a hint: availability is read again with
``PUT InventorySummaryInquiry?$expand=Results``. Each warehouse goes to its Magento source(s) through the warehouse
mapping (SettingsStore kind "warehouse"): a warehouse feeding the stocks of several websites has a row per website,
each naming that website's source, and every one of them gets the warehouse's quantity; an unmapped warehouse is a
Skipped row naming the mapping to add, a SKU that is not in Magento a Skipped row. The quantity sent is
Acumatica's **QtyAvailable** (on hand minus what open orders have booked, never below 0; docs/inventory.md says
why). Source items are absolute (an idempotent upsert), saved in chunks of at most 20 (Magento's input limit) for
the whole batch of requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from amsync.adapters.errors import ApiError, FatalError
from amsync.models.acumatica import to_decimal, unwrap
from amsync.models.log import Action, Group, LogEntry, Result
from amsync.models.messages import SyncRequest
from amsync.services.log_rows import now, sync_row

CHUNK = 20
QTY_FIELD = "QtyAvailable"


class AcumaticaInquiry(Protocol):
    def inquiry(self, entity: str, body: dict[str, Any], expand: str = "Results") -> dict[str, Any]: ...


class MagentoStock(Protocol):
    def products_by_skus(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def save_source_items(self, items: list[dict[str, Any]]) -> None: ...


class SettingsReads(Protocol):
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...


@dataclass
class InventoryPorts:
    acumatica: AcumaticaInquiry
    magento: MagentoStock
    settings: SettingsReads
    log: Callable[[list[LogEntry]], None]
    chunk_size: int = CHUNK


@dataclass
class _Sku:
    sku: str
    message_ids: list[str] = field(default_factory=list)
    warehouses: set[str] | None = field(default_factory=set)  # None: every warehouse
    correlation_id: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None


def sync_stock_batch(requests: Mapping[str, SyncRequest], ports: InventoryPorts) -> dict[str, BaseException | None]:
    """Sync every SKU the requests name; returns, per message id, the error to retry it with (None: done)."""
    started = now()
    skus = _group(requests)
    rows: list[LogEntry] = []
    outcome: dict[str, BaseException | None] = dict.fromkeys(requests)
    try:
        products = ports.magento.products_by_skus(sorted(skus))
    except ApiError as exc:
        return dict.fromkeys(requests, exc)
    # cached against the settings stamp: a new mapping applies within its interval (CACHE_S), no read per batch
    mappings = ports.settings.mappings("warehouse")
    warehouses: dict[str, list[str]] = {}
    for m in mappings:
        sources = warehouses.setdefault(m.warehouse_id.strip().upper(), [])
        if m.source_code not in sources:
            sources.append(m.source_code)
    for s in skus.values():
        if s.sku not in products:
            rows.append(_row(Result.SKIPPED, s.sku, None, started, s, f"{s.sku} is not a Magento product: its stock "
                             "is not synced", Action.SKIP))
            continue
        try:
            availability = _read(s.sku, ports)
        except FatalError as exc:
            rows.append(_row(Result.SKIPPED, s.sku, None, started, s, f"{s.sku}: Acumatica has no availability for "
                             f"it ({exc.remote_message})", Action.SKIP))
            continue
        except ApiError as exc:
            s.error = exc
            continue
        rows.extend(_source_items(s, availability, warehouses, started))
    _save(skus, ports, products, rows, started)
    ports.log(rows)
    for s in skus.values():
        for mid in s.message_ids:
            outcome[mid] = s.error
    return outcome


def _group(requests: Mapping[str, SyncRequest]) -> dict[str, _Sku]:
    out: dict[str, _Sku] = {}
    for mid, req in requests.items():
        sku, _, warehouse = req.key.partition("/")
        s = out.setdefault(sku.strip().upper(), _Sku(sku.strip().upper(), correlation_id=req.correlation_id))
        s.message_ids.append(mid)
        if not warehouse.strip() or s.warehouses is None:
            s.warehouses = None
        else:
            s.warehouses.add(warehouse.strip().upper())
    return out


def _read(sku: str, ports: InventoryPorts) -> dict[str, Decimal]:
    """QtyAvailable per warehouse (rows per location are summed)."""
    result = ports.acumatica.inquiry("InventorySummaryInquiry", {"InventoryID": {"value": sku}})
    per_wh: dict[str, Decimal] = {}
    for row in result.get("Results") or []:
        wh = str(unwrap(row.get("WarehouseID")) or "").strip().upper()
        if wh:
            per_wh[wh] = per_wh.get(wh, Decimal(0)) + (to_decimal(unwrap(row.get(QTY_FIELD))) or Decimal(0))
    return per_wh


def _source_items(s: _Sku, availability: dict[str, Decimal], warehouses: dict[str, list[str]],
                  started: Any) -> list[LogEntry]:
    rows: list[LogEntry] = []
    touched: set[str] = set()
    wanted = availability.keys() if s.warehouses is None else s.warehouses
    for wh in sorted(wanted):
        if wh not in availability:
            continue
        sources = warehouses.get(wh)
        if not sources:
            rows.append(_row(Result.SKIPPED, s.sku, None, started, s, f"warehouse {wh} has no Magento source: add "
                             f"the mapping (amsync mappings warehouse set warehouse_id={wh} source_code=<source>) to "
                             "sync its stock", Action.SKIP))
            continue
        touched.update(sources)  # one per website whose stock the warehouse feeds
    # a source's quantity is absolute: the sum over every warehouse mapped to it, not only the ones asked about
    per_source = {src: sum((qty for wh, qty in availability.items() if src in warehouses.get(wh, ())), Decimal(0))
                  for src in touched}
    s.items = [{"sku": s.sku, "source_code": src, "quantity": max(qty, Decimal(0)), "status": 1 if qty > 0 else 0}
               for src, qty in sorted(per_source.items())]
    return rows


def _save(skus: dict[str, _Sku], ports: InventoryPorts, products: Mapping[str, Mapping[str, Any]],
          rows: list[LogEntry], started: Any) -> None:
    pending = [s for s in skus.values() if s.items and s.error is None]
    items = [(s, item) for s in pending for item in s.items]
    failed: dict[str, ApiError] = {}
    for i in range(0, len(items), ports.chunk_size):
        chunk = items[i:i + ports.chunk_size]
        try:
            ports.magento.save_source_items([item for _, item in chunk])
        except ApiError as exc:
            for s, _ in chunk:
                failed[s.sku] = exc
    for s in pending:
        product_id = products[s.sku].get("id")
        error = failed.get(s.sku)
        if error is None:
            summary = ", ".join(f"{it['source_code']}={_n(it['quantity'])}" for it in s.items)
            rows.append(_row(Result.SUCCESS, s.sku, product_id, started, s, f"source quantities ({QTY_FIELD}): "
                             f"{summary}", details={"sourceItems": s.items}))
            continue
        rows.append(_row(Result.FAILURE, s.sku, product_id, started, s, f"Magento did not save the source items: "
                         f"{error}" + ("; will retry" if error.retryable else ""), details={"sourceItems": s.items}))
        if error.retryable:
            s.error = error


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _row(result: Result, sku: str, product_id: Any, started: Any, s: _Sku, message: str,
         action: Action = Action.UPDATE, details: dict[str, Any] | None = None) -> LogEntry:
    return sync_row(Group.INVENTORY, action, result, notes=sku, started=started, entity_id=product_id,
                    message=message, details=details, correlation_id=s.correlation_id)
