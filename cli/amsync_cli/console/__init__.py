"""`amsync console`: the operator's web console, server-rendered (Starlette + Jinja2 + htmx, served by uvicorn).

It binds 127.0.0.1 only, uses the operator's AWS credentials exactly as the CLI does (amsync_cli.context), and
reads the connector log by its indexes, a bounded page at a time. Every change is a POST carrying the console's
CSRF token; ``--read-only`` refuses every change.
"""
