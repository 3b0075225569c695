"""Lambda's per-invocation timeout, played on a thread that cannot be killed.

At the deadline an exception of its own (``InvocationCut``, a BaseException: a handler's ``except Exception``
does not stop it) is raised in the handler's thread with ``PyThreadState_SetAsyncExc``. It takes effect at the
thread's next Python bytecode: a blocking call already under way (a socket read, a sleep) finishes first, as a
request Lambda had already sent completes at the server, and nothing after it runs. It is raised again every
``RETRY_S`` until the handler has left, so code that catches it (``finally`` blocks, ``except BaseException``) gets
it again. The invocation then fails with Lambda's "Task timed out after N seconds", whatever the handler returned
or raised meanwhile.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

RETRY_S = 0.05  # between two raises in a handler that caught the first


class InvocationTimeout(Exception):
    """The invocation outlived its function's timeout (the message is Lambda's)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"Task timed out after {timeout_s:.2f} seconds")
        self.timeout_s = timeout_s


class InvocationCut(BaseException):
    """Raised inside a handler's thread at its deadline. Never seen outside :func:`call_with_timeout`."""


def call_with_timeout(handler: Callable[[Any, Any], Any], event: Any, context: Any, seconds: float,
                      timeout_s: float) -> Any:
    """``handler(event, context)`` in this thread, cut ``seconds`` from now; raises InvocationTimeout (reporting
    the function's ``timeout_s``) if it was."""
    watch = _Watchdog(threading.get_ident(), seconds)
    result: Any = None
    raised: BaseException | None = None
    try:
        try:
            result = handler(event, context)
        except BaseException as exc:  # decided below, once the watchdog is off
            raised = exc
    except InvocationCut:  # raised again while the first was being caught
        pass
    if watch.disarm():
        raise InvocationTimeout(timeout_s) from None
    if raised is not None:
        raise raised
    return result


class _Watchdog:
    def __init__(self, thread_id: int, seconds: float) -> None:
        self._thread_id = thread_id
        self._off = threading.Event()
        self._lock = threading.Lock()
        self.fired = False
        threading.Thread(target=self._watch, args=(seconds,), name="invocation-timeout", daemon=True).start()

    def _watch(self, seconds: float) -> None:
        if self._off.wait(max(0.0, seconds)):
            return
        while True:
            with self._lock:
                if self._off.is_set():
                    return
                self.fired = True
                _raise_in(self._thread_id, InvocationCut)
            if self._off.wait(RETRY_S):
                return

    def disarm(self) -> bool:
        """Stop the watchdog (called from the handler's thread); True if the deadline had passed. A cut raised but
        not yet taken is withdrawn, so none reaches the runtime's own code."""
        while True:
            try:
                with self._lock:
                    self._off.set()
                    if self.fired:
                        _raise_in(self._thread_id, None)
                    return self.fired
            except InvocationCut:
                continue


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in the thread at its next bytecode (None: withdraw one not yet raised)."""
    target = ctypes.py_object(exc) if exc is not None else None
    if ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target) > 1:  # never: one thread id
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
