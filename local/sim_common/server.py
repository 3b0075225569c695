"""Run an ASGI app with uvicorn in a background thread, on loopback, with a clean stop."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class ServerThread:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one) until :meth:`stop`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "sim") -> None:
        # Bound here and handed to uvicorn: a free port looked up first and bound later could be taken meanwhile.
        # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets whose proto says
        # TCP, and with Nagle on, each answer on a kept-alive connection waited ~40 ms for the client's delayed ACK.
        # NODELAY on the listener too (Linux hands it on to the sockets it accepts).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.host, self.port, self.name = host, int(self._socket.getsockname()[1]), name
        # An idle kept-alive connection is closed after 75 s, as nginx in front of Magento does by default (IIS in
        # front of Acumatica: 120 s); uvicorn's own 5 s equals httpx's pool expiry, and a request sent on a
        # connection the server was closing at that moment was reset (httpcore.ReadError) under a loaded machine.
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1, access_log=False, timeout_keep_alive=75)
        self._server = uvicorn.Server(config)
        # uvicorn installs signal handlers only on the main thread; we run it elsewhere.
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"{name}-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: server did not start on {self.url}")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()
