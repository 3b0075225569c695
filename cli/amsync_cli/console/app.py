"""The console's Starlette application: pages, the change guard (CSRF token, read-only) and security headers."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amsync.redact import mask_pii, mask_text, redact
from amsync_cli.context import StackContext

HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 64 * 1024
NAV = [("/logs", "Connector log"), ("/timeline", "Order timeline"), ("/mappings", "Mappings"),
       ("/preferences", "Preferences"), ("/dlq", "DLQs"), ("/status", "Status"), ("/audit", "Audit"),
       ("/preview", "Preview")]
# The console's own script and style only: no inline script, no other origin, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def safe(value: Any) -> Any:
    """What the console may show of a structure: secrets removed, personal data masked (as CloudWatch gets it)."""
    return mask_pii(redact(value))


def safe_text(text: str) -> str:
    return str(mask_text(text))


@dataclass
class Console:
    """What every page needs: the stack, the mode, the CSRF token and the templates."""

    stack: StackContext
    read_only: bool = False
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
        env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
        env.filters["columns"] = _columns
        env.tests["table"] = _is_table
        self.templates = Jinja2Templates(env=env)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.update(stack=self.stack, read_only=self.read_only, csrf_token=self.csrf_token, nav=NAV,
                       path=request.url.path)
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def change(self, request: Request) -> dict[str, str]:
        """The form of a state-changing request, once it carries this console's CSRF token and the console may
        change things; else 403 (nothing is read or done)."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        sent = form.pop("csrf_token", "") or request.headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            raise HTTPException(403, "refused: the request does not carry this console's CSRF token "
                                     "(reload the page and try again)")
        if self.read_only:
            raise HTTPException(403, "refused: this console was started with --read-only")
        return form


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of a list of objects, in order of first appearance (a table's columns)."""
    seen: dict[str, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(r))
    return list(seen)


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


class SecurityHeaders:
    """CSP, no framing, no sniffing, no caching of pages (they show live operational data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)
        await self.app(scope, receive, with_headers)


def create_app(stack: StackContext, *, read_only: bool = False, port: int | None = None) -> Starlette:
    """The console for ``stack``. Host headers other than 127.0.0.1/localhost are refused (DNS rebinding)."""
    from amsync_cli.console import logs, operations, reports, settings_forms, status

    console = Console(stack, read_only=read_only)
    routes: list[Route | Mount] = [Route("/", lambda _: RedirectResponse("/logs", 303))]
    for module in (logs, settings_forms, operations, status, reports):
        routes += module.routes(console)
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return console.render(request, "error.html", exc.status_code, title=f"{exc.status_code}",
                              message=exc.detail)

    async def server_error(request: Request, exc: Exception) -> Response:
        # The operator sees what failed (masked), never a traceback.
        return console.render(request, "error.html", 500, title="Something failed",
                              message=safe_text(f"{type(exc).__name__}: {exc}"))

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error},
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
                                Middleware(SecurityHeaders)])
    app.state.console = console
    app.state.port = port
    return app

