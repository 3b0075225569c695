"""The `amsync console` command. Light on imports: the web stack loads only when the console starts."""

from __future__ import annotations

import socket
import sys

import typer
from rich.console import Console

from amsync_cli.context import StackNotFound, resolve

DEFAULT_PORT = 8400


def console(typer_ctx: typer.Context,
            port: int = typer.Option(DEFAULT_PORT, min=0, max=65535, help="port on 127.0.0.1 (0: any free port)"),
            read_only: bool = typer.Option(False, "--read-only", help="look only: every change is refused")) -> None:
    """The web console on 127.0.0.1: connector log grid, order timeline, mappings and preferences, DLQs, status,
    audit and preview. Uses the stack the global options name (the local world or AWS), as the CLI does."""
    import uvicorn

    from amsync_cli.console.app import create_app

    out, err = Console(), Console(stderr=True)
    options = typer_ctx.find_root().params
    try:
        stack = resolve(options.get("stack"), options.get("profile"), options.get("region"), options.get("local"))
    except StackNotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot listen on 127.0.0.1:{port}: {exc.strerror}; try --port 0")
        raise typer.Exit(1) from exc
    sock.listen(64)
    bound = sock.getsockname()[1]
    app = create_app(stack, read_only=read_only, port=bound)
    mode = " (read-only)" if read_only else ""
    out.print(f"amsync console for {stack.name} ({stack.region}){mode}: http://127.0.0.1:{bound}/", soft_wrap=True)
    out.print("Ctrl-C stops it.")
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.run(sockets=[sock])
