"""`amsync`: did order X sync, and if not why; what failed today; how do I fix and replay it.

Works against the local world (`make local`; found through .local/endpoints.json) or a deployed stack
(`--stack`, `--profile`, `--region`; defaults from samconfig.toml). Exit codes: 0 done, 1 the operation failed
(or found failures when asked to), 2 wrong input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version as installed_version
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import Progress

from amsync.data import queues
from amsync.data.bindings import Binder
from amsync.data.connector_log import ConnectorLog
from amsync.data.settings_store import MAPPINGS, SettingsStore
from amsync.models.log import LogEntry, Side
from amsync.models.messages import Kind
from amsync.models.settings import OrderMappingPreferences, OrderSyncPreferences, ReturnSyncPreferences
from amsync.services.operations import DLQ_SOURCES, message_entities, message_group, message_notes, resync
from amsync_cli.context import StackContext, StackNotFound, resolve
from amsync_cli.grid import Col, print_grid
from amsync_cli.times import parse_time

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
logs_app = typer.Typer(no_args_is_help=False, invoke_without_command=True, help="The connector log.")
mappings_app = typer.Typer(no_args_is_help=True,
                           help="Mapping tables (ship-via, order-status, payment, warehouse, store, product).")
prefs_app = typer.Typer(no_args_is_help=True, help="A->M order sync preferences.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead-letter queues: list and replay.")
app.add_typer(logs_app, name="logs")
app.add_typer(mappings_app, name="mappings")
app.add_typer(prefs_app, name="preferences")
app.add_typer(dlq_app, name="dlq")
console = Console()
err = Console(stderr=True)
_state: dict[str, Any] = {}


def _print_version(value: bool) -> None:
    if value:
        console.print(f"amsync {installed_version('amsync')}")
        raise typer.Exit()


@app.callback()
def _options(stack: str = typer.Option(None, help="stack name (default: samconfig.toml, or the local world)"),
             profile: str = typer.Option(None, help="AWS profile"),
             region: str = typer.Option(None, help="AWS region"),
             local: bool = typer.Option(None, "--local/--aws", help="the local world (make local) or AWS"),
             as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
             wide: bool = typer.Option(False, "--wide", help="every column of every table (80-column terminals "
                                       "get the most important ones)"),
             _version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                           help="print the installed version and exit")) -> None:
    global console, err
    console, err = Console(), Console(stderr=True)  # the terminal's width now (COLUMNS, or the terminal's own)
    _state.update(stack=stack, profile=profile, region=region, local=local, json=as_json, wide=wide)


def ctx() -> StackContext:
    if "ctx" not in _state:
        try:
            _state["ctx"] = resolve(_state.get("stack"), _state.get("profile"), _state.get("region"),
                                    _state.get("local"))
        except StackNotFound as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    result: StackContext = _state["ctx"]
    return result


def _out(rows: list[dict[str, Any]], title: str | None, columns: Sequence[Col | str]) -> None:
    """A grid that fits the terminal (``--wide``: every column), or with ``--json`` the rows."""
    if _state.get("json"):
        _json(rows)
        return
    print_grid(console, rows, columns, title=title, wide=bool(_state.get("wide")))


def _json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def _since(text: str | None) -> datetime | None:
    try:
        return parse_time(text or "", "time")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


# ---------------------------------------------------------------------- logs
# the walkthrough's grid; in 80 columns: Log Id, Group, Result, Notes and the Message (folded)
LOG_COLUMNS = [Col("Log Id"), Col("Start Time", 4), Col("Complete Time", 6), Col("Group", 3), Col("Action", 4),
               Col("Sync Direction", 7), Col("Result"), Col("Entity Id", 5), Col("Notes"),
               Col("Message", 2, fold=True, min_width=16)]
RAW_LOG_COLUMNS = [Col("Log Id"), Col("Start Time", 2), Col("Level", 3), Col("Action Type", 2),
                   Col("Message", 1, fold=True, min_width=20)]


def _log_row(e: LogEntry) -> dict[str, Any]:
    return {"Log Id": e.log_id, "Start Time": e.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            "Complete Time": e.complete_time.strftime("%H:%M:%S") if e.complete_time else "",
            "Group": e.group.value if e.group else "", "Action": e.action.value if e.action else "",
            "Sync Direction": e.direction, "Result": e.result.value if e.result else "",
            "Entity Id": e.entity_id or "", "Notes": e.notes, "Message": e.message[:200],
            "Level": e.level, "Action Type": e.action_type}


@logs_app.callback(invoke_without_command=True)
def logs(typer_ctx: typer.Context,
         side: str = typer.Option("magento", help="magento (sync actions) or acumatica (raw pushes)"),
         group: str = typer.Option(None, help="Order, Orderstatus, Shipment, Invoice, Inventory, Customer"),
         action: str = typer.Option(None, help="Publisher, Create, Update, Skip"),
         direction: str = typer.Option(None, help='"Acumatica to Magento" or "Magento to Acumatica"'),
         result: str = typer.Option(None, help="Success, Failure, Skipped"),
         entity: str = typer.Option(None, help="an Acumatica order number, a Magento increment id, a SKU"),
         since: str = typer.Option(None, help="ISO time or age (30m, 24h, 7d)"),
         until: str = typer.Option(None, help="ISO time or age"),
         limit: int = typer.Option(50, min=1, max=1000)) -> None:
    """The connector log, newest first, with the walkthrough grid's filters."""
    if typer_ctx.invoked_subcommand:
        return
    if side not in ("magento", "acumatica"):
        raise typer.BadParameter("--side is magento or acumatica")
    start, end = _since(since), _since(until)
    log = ConnectorLog(ctx().settings.connector_log_table)
    days = max(1, (datetime.now(UTC) - start).days + 1) if start else 7
    if entity:
        entries = log.timeline(entity, limit=limit * 4)
    elif result and result.lower() == "failure" and start:
        entries = [e for d in range(days) for e in log.failures(
            (datetime.now(UTC) - timedelta(days=d)).strftime("%Y-%m-%d"), limit=limit * 4)]
    else:
        entries = log.newest(Side.MAGENTO if side == "magento" else Side.ACUMATICA, limit=limit * 4, days=days)

    def keep(e: LogEntry) -> bool:
        checks = [(group, e.group.value if e.group else ""), (action, e.action.value if e.action else ""),
                  (direction, e.direction), (result, e.result.value if e.result else "")]
        return (all(w is None or w.lower() == v.lower() for w, v in checks)
                and (start is None or e.start_time >= start) and (end is None or e.start_time <= end)
                and (entity is not None or e.side.value == ("M" if side == "magento" else "A")))

    rows = [_log_row(e) for e in entries if keep(e)][:limit]
    cols = LOG_COLUMNS if side == "magento" else RAW_LOG_COLUMNS
    _out(rows, f"Connector log ({side})", cols)


@logs_app.command("show")
def logs_show(log_id: str, side: str = typer.Option("magento", help="magento or acumatica")) -> None:
    """One entry with its View details (request/response, secrets removed); once they expired
    (ConnectorLogDetailTtlDays), the row's summary with personal data masked."""
    if not log_id.isdigit() or len(log_id) != 19:
        raise typer.BadParameter("a Log Id is 19 digits")
    view = ConnectorLog(ctx().settings.connector_log_table).view(
        log_id, Side.MAGENTO if side == "magento" else Side.ACUMATICA)
    if view is None:
        err.print(f"[red]no log entry {log_id} on the {side} side[/red]")
        raise typer.Exit(1)
    if view.details_expired_after_days is not None:
        err.print(f"[yellow]details expired after {view.details_expired_after_days} days[/yellow] (personal data "
                  "is not kept longer): shown is the row's summary, personal data masked")
    console.print_json(view.entry.model_dump_json())


# ---------------------------------------------------------------------- resync
@app.command("resync")
def resync_cmd(kind: Kind = typer.Argument(..., help="order, shipment, invoice, stock"),
               keys: list[str] = typer.Argument(..., help="SOT00024 / SO/SOT00024, 005139, AR012116, SKU/WAREHOUSE"),
               ) -> None:
    """Make the connector look at Acumatica records again (idempotent: nothing is created twice)."""
    from amsync.composition import acumatica_client, publish_requests

    c = ctx()
    acumatica = acumatica_client(c.settings) if kind in (Kind.SHIPMENT, Kind.INVOICE) else None
    published = 0
    try:
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("resync", total=len(keys))
            for key in keys:
                reqs = resync(kind, key, lambda r: publish_requests(c.settings, r), acumatica)
                published += len(reqs)
                progress.advance(task)
    finally:
        if acumatica is not None:
            acumatica.logout()  # give the licence seat back at once
    console.print(f"queued {published} sync request(s) for {len(keys)} {kind.value}(s)")


# ---------------------------------------------------------------------- mappings
def _store() -> SettingsStore:
    return SettingsStore(ctx().settings.settings_table)


def _mapping_commands(kind: str, cli_name: str) -> None:
    sub = typer.Typer(no_args_is_help=True, help=f"The {cli_name} mapping.")
    mappings_app.add_typer(sub, name=cli_name)
    model = MAPPINGS[kind]

    @sub.command("list")
    def _list() -> None:
        rows = [m.model_dump() for m in _store().mappings(kind, fresh=True)]
        _out(rows, f"{cli_name} mapping", [Col(f, 1 if n < 2 else n, fold=f in ("title", "comment"))
                                           for n, f in enumerate(model.model_fields)])

    @sub.command("set", help=f"Add or replace a row: field=value ... ({', '.join(model.model_fields)})")
    def _set(fields: list[str]) -> None:
        try:
            data = dict(f.split("=", 1) for f in fields)
            mapping = model.model_validate(data)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        _store().put_mapping(kind, mapping)
        console.print(f"saved: {mapping.model_dump()}")

    @sub.command("rm", help="Remove a row by its key (e.g. LOCAL#all for ship-via, PRODRETAIL#*#* for store)")
    def _rm(key: str) -> None:
        if not _store().delete_mapping(kind, key):
            err.print(f"[red]no {cli_name} mapping {key!r}[/red]")
            raise typer.Exit(1)
        console.print(f"removed {key}")


for _kind, _name in (("shipvia", "ship-via"), ("orderstatus", "order-status"), ("payment", "payment"),
                     ("warehouse", "warehouse"), ("store", "store"), ("product", "product")):
    _mapping_commands(_kind, _name)


@mappings_app.command("update-schema")
def update_schema(sku: str = typer.Option("WATER2809", help="an in-stock SKU for Magento's carrier estimate")) -> None:
    """List the Ship Vias Acumatica has and the carriers Magento offers, so the gaps show."""
    from amsync.composition import acumatica_client, magento_client

    c = ctx()
    acumatica = acumatica_client(c.settings)
    try:
        ship_vias = acumatica.ship_vias()
    finally:
        acumatica.logout()  # give the licence seat back at once
    carriers = magento_client(c.settings).estimate_carriers(sku)
    offered = {(m["carrier_code"], m["method_code"]) for m in carriers}
    mapped = {m.ship_via.upper(): m for m in _store().mappings("shipvia", fresh=True)}
    rows = []
    for sv in ship_vias:
        code = str((sv.get("CarrierID") or {}).get("value", "")).strip()
        m = mapped.get(code.upper())
        status = "unmapped" if m is None else (
            "ok" if (m.carrier_code, m.method_code) in offered else "carrier not offered by Magento")
        rows.append({"Acumatica Ship Via": code, "Description": (sv.get("Description") or {}).get("value", ""),
                     "Magento carrier": f"{m.carrier_code}_{m.method_code}" if m else "", "Title": m.title if m else "",
                     "Status": status})
    offers = [{"carrier": f"{m['carrier_code']}_{m['method_code']}", "title": f"{m.get('carrier_title')} - "
               f"{m.get('method_title')}"} for m in carriers]
    if _state.get("json"):
        _json({"ship_vias": rows, "carriers": offers})
    else:
        _out(rows, "Ship Via -> Magento shipping method", [
            Col("Acumatica Ship Via"), Col("Description", 3, fold=True), Col("Magento carrier", 2),
            Col("Title", 4, fold=True), Col("Status", fold=True)])
        _out(offers, "Carriers Magento offers", [Col("carrier"), Col("title", fold=True)])
    if any(r["Status"] != "ok" for r in rows):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- preferences
@prefs_app.command("show")
def prefs_show() -> None:
    console.print_json(_store().order_sync(fresh=True).model_dump_json())


def _set_preferences(model: type[BaseModel], current: dict[str, Any], fields: list[str], sk: str,
                     upper_lists: bool = False) -> None:
    """``field=value`` pairs (lists as a,b) over the current preferences, validated by their model, then stored."""
    for f in fields:
        k, sep, v = f.partition("=")
        if not sep or k not in model.model_fields:
            raise typer.BadParameter(f"{f!r}: use field=value ({', '.join(model.model_fields)})")
        if isinstance(current[k], list):
            current[k] = [x.strip().upper() if upper_lists else x.strip() for x in v.split(",") if x.strip()]
        else:  # an empty value clears a preference that may be unset (None)
            current[k] = None if v == "" and model.model_fields[k].default is None else v
    try:
        prefs = model.model_validate(current)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _store().put_preferences(sk, prefs)
    console.print_json(prefs.model_dump_json())


@prefs_app.command("set", help=f"field=value ... ({', '.join(OrderSyncPreferences.model_fields)}); lists as a,b")
def prefs_set(fields: list[str]) -> None:
    _set_preferences(OrderSyncPreferences, _store().order_sync(fresh=True).model_dump(), fields, "order-sync")


@prefs_app.command("amounts-show", help="The order amounts preferences (Magento's base and allowed currencies)")
def amounts_show() -> None:
    console.print_json(_store().order_mapping(fresh=True).model_dump_json())


@prefs_app.command("amounts-set", help=f"field=value ... ({', '.join(OrderMappingPreferences.model_fields)}); "
                                       "lists as a,b")
def amounts_set(fields: list[str]) -> None:
    _set_preferences(OrderMappingPreferences, _store().order_mapping(fresh=True).model_dump(), fields,
                     "order-mapping", upper_lists=True)


@prefs_app.command("returns-show", help="The M->A return preferences (docs/returns.md)")
def returns_show() -> None:
    console.print_json(_store().return_sync(fresh=True).model_dump_json())


@prefs_app.command("returns-set", help=f"field=value ... ({', '.join(ReturnSyncPreferences.model_fields)})")
def returns_set(fields: list[str]) -> None:
    _set_preferences(ReturnSyncPreferences, _store().return_sync(fresh=True).model_dump(), fields, "return-sync")


# ---------------------------------------------------------------------- DLQs
def _dlqs() -> dict[str, str]:
    return {k: v for k, v in ctx().queue_urls().items() if k.endswith("DLQ")}


@dlq_app.command("list")
def dlq_list(queue: str = typer.Argument(None, help="a DLQ's logical name (default: all)"),
             limit: int = typer.Option(20, min=1, max=500)) -> None:
    """What waits in the DLQs, with the entity each message is about and its last error in the log."""
    dlqs = _dlqs()
    if queue and queue not in dlqs:
        raise typer.BadParameter(f"unknown DLQ {queue!r}; known: {', '.join(sorted(dlqs))}")
    log = ConnectorLog(ctx().settings.connector_log_table)
    rows = []
    for name, url in sorted(dlqs.items()):
        if queue and name != queue:
            continue
        for m in queues.peek(url, limit):
            body = str(m["body"])
            notes = message_notes(body)
            last = next((e for e in log.timeline(notes, limit=20) if e.result and e.result.value == "Failure"),
                        None) if notes else None
            attrs: Any = m["attributes"]
            rows.append({"DLQ": name, "Message": m["id"], "Entity": notes, "Receives":
                         attrs.get("ApproximateReceiveCount", ""), "Last error": last.message[:160] if last else ""})
    _out(rows, "Dead-letter queues", [Col("DLQ"), Col("Message", 4), Col("Entity"), Col("Receives", 3),
                                      Col("Last error", 2, fold=True, min_width=20)])


@dlq_app.command("replay")
def dlq_replay(queue: str = typer.Argument(..., help="a DLQ's logical name, e.g. MagentoOrderDLQ"),
               entity: str = typer.Option(None, help="only the messages about this entity (order number, SKU...)"),
               limit: int = typer.Option(None, min=1)) -> None:
    """Move messages back to the queue they came from (idempotent: replaying twice creates nothing twice)."""
    dlqs = _dlqs()
    if queue not in dlqs:
        raise typer.BadParameter(f"unknown DLQ {queue!r}; known: {', '.join(sorted(dlqs))}")
    target = ctx().queue_urls()[DLQ_SOURCES[queue]]
    select = (lambda body: entity in message_entities(body)) if entity else None
    total = queues.depth(dlqs[queue])["visible"]
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"replay {queue}", total=total or None)
        moved = queues.move_messages(dlqs[queue], target, select=select, group_of=message_group, limit=limit,
                                     progress=lambda n: progress.update(task, completed=n))
    console.print(f"replayed {moved} message(s) from {queue} to {DLQ_SOURCES[queue]}")


# ---------------------------------------------------------------------- status
@app.command("status")
def status(fail_on_dlq: bool = typer.Option(False, help="exit 1 if any DLQ holds messages")) -> None:
    """Queue depths, DLQs, the reconciler's watermarks and today's failures."""
    c = ctx()
    rows = [{"Queue": k, **queues.depth(v)} for k, v in sorted(c.queue_urls().items())]
    binder = Binder(c.settings.bindings_table)
    marks = [{"Stream": s, "Watermark": binder.watermark(s) or "(never ran)"}
             for s in ("orders", "shipments", "invoices", "payments", "stock", "doubles")]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    failures = ConnectorLog(c.settings.connector_log_table).failures(today, limit=1000)
    if _state.get("json"):
        _json({"stack": c.name, "queues": rows, "reconciliation": marks, "failures_today": len(failures)})
    else:
        _out(rows, f"Queues of {c.name}", [Col("Queue"), Col("visible"), Col("in_flight")])
        _out(marks, "Last reconciliation", [Col("Stream"), Col("Watermark", fold=True)])
        console.print(f"failures today: {len(failures)}")
    if fail_on_dlq and any(r["visible"] for r in rows if str(r["Queue"]).endswith("DLQ")):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- timeline, audit, preview
def _order_arg(first: str, second: str | None) -> str:
    """``SO SOT00024`` / ``SOT00024`` / ``ST/SOT00024`` -> the order as the functions take it."""
    if second:
        if "/" in first or "/" in second:
            raise typer.BadParameter(f"{first} {second}: give TYPE NUMBER (SO SOT00024) or one order (ST/SOT00024)")
        return f"{first}/{second}"
    return first


def _yes(value: bool) -> str:
    return "yes" if value else "no"


@app.command("timeline")
def timeline_cmd(first: str = typer.Argument(..., help="the order type (SO) or the order (SOT00024, ST/SOT00024)"),
                 second: str | None = typer.Argument(None, help="the order number, after its type")) -> None:
    """One order's story: its log rows and those of its payments, shipments and invoices, each hop's latency, the
    order as Acumatica and Magento hold it now, and where it is stuck."""
    from amsync_cli.timeline import order_timeline

    try:
        tl = order_timeline(ctx(), _order_arg(first, second))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if _state.get("json"):
        _json(tl.to_json())
        return
    console.print(f"[bold]{tl.order}[/bold]: stuck at [bold]{tl.stuck_at}[/bold]")
    console.print(tl.why, highlight=False)
    if tl.push_to_magento_ms is not None:
        console.print(f"push received -> Magento order created: {tl.push_to_magento_ms / 1000:.1f} s")
    rows = [{"Time": s.at.strftime("%H:%M:%S.%f")[:12], "Hop": _hop(s.hop_ms), "Log": s.log, "Step": s.label,
             "Result": s.result, "Entity Id": s.entity_id, "Log Id": s.log_id, "Message": s.message} for s in tl.steps]
    _out(rows, "Connector log (oldest first; Hop: time since the row before)", [
        Col("Time"), Col("Hop", 2), Col("Log", 5), Col("Step"), Col("Result", 3), Col("Entity Id", 4),
        Col("Log Id", 6), Col("Message", 2, fold=True, min_width=16)])
    _out(_live_rows(tl), "Now", [Col("System"), Col("What"), Col("Value", fold=True, min_width=20)])


def _hop(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"+{ms:.0f} ms" if ms < 1000 else f"+{ms / 1000:.1f} s"


def _live_rows(tl: Any) -> list[dict[str, Any]]:
    a, m = tl.acumatica, tl.magento
    rows: list[dict[str, Any]] = []
    if a.error or not a.found:
        rows.append({"System": "Acumatica", "What": "order", "Value": a.error or "not found"})
    else:
        rows.append({"System": "Acumatica", "What": "order", "Value": f"{a.status}{' (Hold)' if a.hold else ''}, "
                     f"total {a.order_total}, unpaid {a.unpaid_balance}, ExternalRef {a.external_ref or '-'}"})
        rows += [{"System": "Acumatica", "What": f"shipment {s['nbr']}", "Value": f"{s['status']}, qty {s['qty']}"
                  + (f", tracking {', '.join(s['tracking'])}" if s["tracking"] else "")} for s in a.shipments]
        rows += [{"System": "Acumatica", "What": f"{i['type']} {i['nbr']}", "Value": f"{i['status']}, {i['amount']}"}
                 for i in a.invoices]
    if m.error or not m.found:
        rows.append({"System": "Magento", "What": "order", "Value": m.error or "none" + (
            f" (binding {m.binding})" if m.binding else "")})
        return rows
    rows.append({"System": "Magento", "What": f"order #{m.increment_id}", "Value": f"{m.state}/{m.status}, total "
                 f"{m.grand_total}, entity {m.entity_id}, found by {m.found_by}"})
    rows += [{"System": "Magento", "What": f"shipment #{d['increment_id']}", "Value": f"qty {d['qty']}"
              + (f", tracking {', '.join(d['tracking'])}" if d["tracking"] else "")
              + (f" (Acumatica {d['acumatica']})" if d["acumatica"] else "")} for d in m.shipments]
    rows += [{"System": "Magento", "What": f"invoice #{d['increment_id']}", "Value": d["grand_total"]
              + (f" (Acumatica {d['acumatica']})" if d["acumatica"] else "")} for d in m.invoices]
    rows += [{"System": "Magento", "What": "another order", "Value": o} for o in m.others]
    return rows


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{option} {text!r}: use a date, 2026-12-01") from exc


@app.command("audit")
def audit_cmd(start: str = typer.Option(..., "--from", help="first order date (2026-12-01)"),
              end: str | None = typer.Option(None, "--to", help="last order date, included (default: --from)"),
              workers: int = typer.Option(8, min=1, max=32, help="Magento searches at once")) -> None:
    """Compare the Acumatica orders of a date range (order Date) with the Magento orders the connector made:
    existence and binding, totals, status, shipments, invoices, credit memos. Exit 1 when anything differs."""
    from amsync_cli.audit import audit

    first = _date(start, "--from")
    last = _date(end, "--to") if end else first
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}")
    with Progress(console=err, transient=True) as progress:
        progress.add_task(f"audit {first} .. {last}", total=None)
        report = audit(ctx(), first, last, workers=workers)
    if _state.get("json"):
        _json(report.to_json())
    else:
        _out([{"Order": d.order, "Kind": d.kind, "What": d.what, "Acumatica": d.acumatica, "Magento": d.magento}
              for d in report.differences], f"Differences, orders dated {first} .. {last}", [
            Col("Order"), Col("Kind"), Col("What", 2, fold=True, min_width=14),
            Col("Acumatica", 3, fold=True, min_width=14), Col("Magento", 3, fold=True, min_width=14)])
        s = report.summary
        counts = [("Acumatica orders in the range", s.acumatica_orders), ("eligible", s.eligible),
                  ("bound", s.bound), ("Magento orders by the connector", s.magento_orders),
                  ("of orders outside the range", s.outside_range),
                  *((f"differences: {k}", n) for k, n in s.differences.items()),
                  ("orders with differences", s.orders_with_differences),
                  ("calls: Acumatica / Magento / DynamoDB", f"{s.acumatica_calls} / {s.magento_calls} / "
                   f"{s.binding_reads}"), ("seconds", s.seconds)]
        _out([{"Count": k, "Value": v} for k, v in counts], "Summary", [Col("Count"), Col("Value")])
        for note in report.notes:
            console.print(f"note: {note}", highlight=False)
    if not report.clean:
        raise typer.Exit(1)


@app.command("preview")
def preview_cmd(first: str = typer.Argument(..., help="the order type (SO) or the order (SOT00024, ST/SOT00024)"),
                second: str | None = typer.Argument(None, help="the order number, after its type")) -> None:
    """What syncing an order would do now, writing nothing: each preference's verdict, what blocks it, the
    writes a sync would make and the Magento order it would send (--json: the whole entity)."""
    from amsync_cli.preview import preview_order
    from amsync_cli.timeline import order_key

    try:
        order_type, _, nbr = order_key(_order_arg(first, second)).partition("/")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    p = preview_order(ctx(), order_type, nbr)
    if _state.get("json"):
        _json(p.to_json())
    else:
        _print_preview(p)
    if not p.found:
        raise typer.Exit(1)


def _print_preview(p: Any) -> None:
    console.print(f"[bold]{p.order}[/bold]: a sync now: [bold]{p.outcome}[/bold]; eligible: {_yes(p.eligible)}")
    _out([{"Condition": v.condition, "Preference": "required" if v.required else ("on" if v.switched_on else "off"),
           "Holds": _yes(v.holds), "Reason": v.reason} for v in p.verdicts], "Eligibility", [
        Col("Condition"), Col("Preference"), Col("Holds"), Col("Reason", fold=True, min_width=20)])
    if p.missing:
        _out([{"What blocks it": m} for m in p.missing], None, [Col("What blocks it", fold=True)])
    if p.effects:
        _out([{"A sync now would": e} for e in p.effects], None, [Col("A sync now would", fold=True)])
    if p.payload is not None:
        _out(_payload_rows(p.payload), "The Magento order it sends (--json: the whole entity)",
             [Col("Field"), Col("Value", fold=True, min_width=20)])
    for note in p.notes:
        console.print(f"note: {note}", highlight=False)


def _payload_rows(e: dict[str, Any]) -> list[dict[str, Any]]:
    customer = "guest" if e.get("customer_is_guest") else f"customer {e.get('customer_id') or '(new)'}"
    method = ((e.get("extension_attributes") or {}).get("shipping_assignments") or [{}])[0].get("shipping", {})
    rows = [("ext_order_id", e.get("ext_order_id")), ("increment_id", e.get("increment_id") or "(Magento's)"),
            ("customer", f"{e.get('customer_email')} ({customer}, group {e.get('customer_group_id')})"),
            ("store", e.get("store_id")), ("shipping", f"{method.get('method')} ({e.get('shipping_description')})"),
            ("payment", (e.get("payment") or {}).get("method")),
            *((f"item {i.get('ext_order_item_id')}", f"{i.get('sku')} x {i.get('qty_ordered')} @ {i.get('price')}"
               f" = {i.get('row_total')}") for i in e.get("items") or []),
            ("subtotal", e.get("subtotal")), ("discount", e.get("discount_amount")),
            ("shipping amount", e.get("shipping_amount")), ("tax", e.get("tax_amount")),
            ("grand total", e.get("grand_total"))]
    return [{"Field": k, "Value": v} for k, v in rows]


app.command("console")(__import__("amsync_cli.console.command", fromlist=["console"]).console)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
