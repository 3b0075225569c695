"""A simulator in a process of its own, driven through a pipe.

In one process the whole local world shares one GIL: the runtime's handlers, the webhook server and both simulators
take turns on one core while the second waits. The chaos run (and any long run) starts each simulator in a spawned
process instead and talks to it through :class:`RemoteSimulator`, which offers the same surface the run uses:

- ``sim.set_limits(max_sessions=3)`` and ``sim.faults.add({...})`` call the method in the simulator's process;
- ``len(sim.push.sent)``, ``sim.store.numbering["SO"]``, ``while sim.faults.in_progress:`` read the attribute's
  value there and use it here (values cross the pipe pickled: plain data only; views and generators as lists).

Tests keep the in-process simulators (they reach into the simulators' state with closures, which cannot cross a
process boundary); ``WorldOptions.sims_in_processes`` chooses.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

_VIEWS = (type({}.keys()), type({}.values()), type({}.items()), types.GeneratorType, map, filter)


class RemoteError(RuntimeError):
    """An exception raised in the simulator's process (its type and text)."""


def _build(kind: str, kwargs: dict[str, Any]) -> Any:
    if kind == "acumatica":
        from acumatica_sim import AcumaticaSimulator

        return AcumaticaSimulator(**kwargs)
    if kind == "magento":
        from magento_sim import MagentoSimulator

        return MagentoSimulator(**kwargs)
    raise ValueError(f"unknown simulator {kind!r}")


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    target = root
    for name in path:
        target = getattr(target, name)
    return target


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, _VIEWS) else value


def _serve(conn: Connection, kind: str, kwargs: dict[str, Any]) -> None:
    """The simulator's process: build it, start it, answer calls until told to stop (or the parent goes)."""
    sim = _build(kind, kwargs)
    try:
        conn.send(("ok", sim.start()))
        while True:
            try:
                msg = conn.recv()
            except EOFError:  # the parent went away
                return
            if msg is None:
                return
            op, path, args, kw = msg
            try:
                if op == "call":
                    result = _resolve(sim, path)(*args, **kw)
                else:  # "get"
                    result = _resolve(sim, path)
                conn.send(("ok", _plain(result)))
            except Exception as exc:  # the caller re-raises it
                conn.send(("err", f"{type(exc).__name__}: {exc}"))
    finally:
        sim.stop()


class _Path:
    """``sim.a.b``: a call runs ``a.b(...)`` remotely; the value dunders fetch ``a.b``'s value once."""

    def __init__(self, owner: RemoteSimulator, path: tuple[str, ...]) -> None:
        self._owner, self._path = owner, path

    def __getattr__(self, name: str) -> _Path:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Path(self._owner, (*self._path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._owner.request("call", self._path, args, kwargs)

    def value(self) -> Any:
        return self._owner.request("get", self._path, (), {})

    def __len__(self) -> int:
        return len(self.value())

    def __bool__(self) -> bool:
        return bool(self.value())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.value())

    def __getitem__(self, key: Any) -> Any:
        return self.value()[key]

    def __format__(self, spec: str) -> str:
        return format(self.value(), spec)

    def __str__(self) -> str:
        return str(self.value())

    def __int__(self) -> int:
        return int(self.value())

    def __eq__(self, other: object) -> bool:
        return bool(self.value() == other)

    def __lt__(self, other: Any) -> bool:
        return bool(self.value() < other)

    def __gt__(self, other: Any) -> bool:
        return bool(self.value() > other)

    __hash__ = None  # type: ignore[assignment]


class RemoteSimulator:
    """``RemoteSimulator("magento", host=..., port=0, hang_seconds=2.5)``: the simulator of that kind, built with those
    arguments, in a spawned process; ``start()`` returns its URL as the in-process simulator's does."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind, self._kwargs = kind, kwargs
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: Any = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> str:
        ctx = mp.get_context("spawn")  # no fork of a threaded parent
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self.kind, self._kwargs), daemon=True,
                                    name=f"{self.kind}-sim")
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(timeout):
            self.stop()
            raise RuntimeError(f"the {self.kind} simulator did not start within {timeout} s")
        status, url = parent.recv()
        if status != "ok":
            raise RemoteError(url)
        self.url = url
        return str(url)

    def request(self, op: str, path: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            if self._conn is None:
                raise RuntimeError(f"the {self.kind} simulator is not running")
            self._conn.send((op, path, args, kwargs))
            status, value = self._conn.recv()
        if status != "ok":
            raise RemoteError(f"{self.kind} simulator: {value}")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Path(self, (name,))

    @property
    def token(self) -> str:
        return str(self.request("get", ("token",), (), {}))

    def stop(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                conn.close()
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
            self._process = None
