"""`make local` / `amsync-local up`: the local world in the foreground, until Ctrl-C.

Starts moto (resources from template.yaml), both simulators seeded with the walkthrough's data, the webhook,
the pollers and the schedules, then writes ``.local/endpoints.json`` for the demo, the tests, the benchmark, the
CLI and anyone with curl. Ports are configurable and printed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

import typer
from rich.console import Console

from amsync_local.template import PROJECT_ROOT
from amsync_local.world import LocalWorld, WorldOptions

app = typer.Typer(add_completion=False, help="The amsync local world (no Docker, no AWS account).")
console = Console(file=sys.__stdout__)


@app.command()
def up(
    aws_port: int = typer.Option(4566, help="moto server port (0 = any free port)"),
    webhook_port: int = typer.Option(8100, help="webhook (Function URL) port"),
    acumatica_port: int = typer.Option(8201, help="Acumatica simulator port"),
    magento_port: int = typer.Option(8301, help="Magento simulator port"),
    schedule_scale: float = typer.Option(0.1, help="multiply schedule rates (0.1: the 5-minute reconciler every 30 s)"),
    visibility_scale: float = typer.Option(0.02, help="multiply queue visibility timeouts"),
    endpoints_file: Path = typer.Option(PROJECT_ROOT / ".local" / "endpoints.json", help="where to write endpoints"),
) -> None:
    """Start everything on 127.0.0.1 and stay in the foreground."""
    options = WorldOptions(aws_port=aws_port, webhook_port=webhook_port, acumatica_port=acumatica_port,
                           magento_port=magento_port, schedule_scale=schedule_scale,
                           visibility_scale=visibility_scale,
                           function_log=PROJECT_ROOT / ".local" / "logs" / "functions.log")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    assert options.function_log is not None
    options.function_log.parent.mkdir(parents=True, exist_ok=True)
    # the functions' stdout (EMF metrics, JSON logs) goes to the log file, as Lambda sends it to CloudWatch
    with options.function_log.open("a") as sink, contextlib.redirect_stdout(sink), LocalWorld(options) as world:
        path = world.write_endpoints(endpoints_file)
        e = world.endpoints()
        console.print("[bold green]amsync local world is up[/bold green]")
        console.print(f"  AWS (moto)         {e['aws']['endpoint_url']}  (stack {e['aws']['stack_name']})")
        console.print(f"  webhook            {e['webhook']['url']}  header {e['webhook']['header']}")
        console.print(f"  Acumatica sim      {e['acumatica']['url']}{e['acumatica']['endpoint']}")
        console.print(f"  Magento sim        {e['magento']['url']}/rest/V1/")
        console.print(f"  endpoints          {path}")
        console.print(f"  function logs      {options.function_log}")
        console.print("Ctrl-C stops everything.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        console.print("stopping...")
    endpoints_file.unlink(missing_ok=True)
    console.print("stopped; nothing left running")


@app.command()
def demo() -> None:
    """The walkthrough, end to end (same as `make demo`)."""
    from amsync_local.demo import main as demo_main

    raise typer.Exit(demo_main())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
