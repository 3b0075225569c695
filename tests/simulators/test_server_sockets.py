"""The simulators' HTTP server turns Nagle's algorithm off, as production web servers do (so does the local
Function URL: ``disable_nagle_algorithm`` on its handler). With it on, each answer on a kept-alive connection
waited for the client's delayed ACK (~40 ms a call), a delay no real system has and the bench's simulated latency
did not count."""

from __future__ import annotations

import socket
from typing import Any

from sim_common.server import ServerThread


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_the_simulators_listener_is_tcp_with_nodelay_so_accepted_connections_are_too() -> None:
    server = ServerThread(_app)
    try:
        sock = server._socket
        # asyncio sets TCP_NODELAY only on accepted sockets whose proto is TCP; Linux hands the listener's on
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        server._socket.close()



def test_an_idle_kept_alive_connection_outlives_the_clients_pool_expiry() -> None:
    # httpx drops a pooled connection idle for 5 s; a server closing at the same 5 s races it (a request sent as the
    # server closes is reset), so the server keeps idle connections as long as nginx's default, 75 s
    server = ServerThread(_app)
    try:
        assert server._server.config.timeout_keep_alive == 75
    finally:
        server._socket.close()
