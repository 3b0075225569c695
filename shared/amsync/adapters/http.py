"""What both clients share: the httpx client factory, JSON with exact decimals, the retry policy, and the
invocation's deadline (a call or a retry that cannot finish in the time left is not started)."""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from functools import cache
from typing import Any, ParamSpec, TypeVar

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from amsync.adapters.errors import ApiError, OutOfTime, TransportError
from amsync.deadline import Deadline
from amsync.jsonio import dumps, loads

__all__ = ["dumps", "loads", "make_client", "retrying", "send"]

T = TypeVar("T")
P = ParamSpec("P")
MIN_CALL_S = 0.1  # the shortest timeout a call that may be shortened is still sent with


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default verification (certifi's CAs, SSL_CERT_FILE / SSL_CERT_DIR honoured), built once per container:
    each client would load the CA bundle again (~25 ms of cold start apiece)."""
    return httpx.create_ssl_context()


def make_client(base_url: str, connect_timeout: float, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=connect_timeout),
                        headers={"Accept": "application/json"}, follow_redirects=False, verify=_tls())


def _wait(state: RetryCallState) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins when it says more."""
    exc = state.outcome.exception() if state.outcome else None
    base = min(8.0, 0.25 * 2 ** (state.attempt_number - 1))
    delay = random.uniform(0, base)  # noqa: S311 - jitter, not security
    if isinstance(exc, ApiError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    return delay


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable and not isinstance(exc, OutOfTime)


class _NoTimeForAnother(stop_base):
    """The wait before the next attempt and that attempt's whole timeout no longer fit in the invocation: give up
    now with the last error (the record comes back later) rather than sleep into the deadline. The deadline is
    the one of the client whose method is retried (its ``deadline`` and ``call_timeout_s``)."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        owner = retry_state.args[0] if retry_state.args else None
        deadline = getattr(owner, "deadline", None)
        if not isinstance(deadline, Deadline):
            return False
        return not deadline.fits(retry_state.upcoming_sleep + float(getattr(owner, "call_timeout_s", 0.0)))


def retrying(attempts: int = 3) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator for idempotent calls (reads, keyed PUTs) of a client method: retry retryable errors in-process,
    while the client's ``deadline`` leaves time for the wait and another whole call (``call_timeout_s``)."""
    decorator: Callable[[Callable[P, T]], Callable[P, T]] = retry(
        retry=retry_if_exception(_is_retryable), stop=stop_after_attempt(attempts) | _NoTimeForAnother(),
        wait=_wait, reraise=True)
    return decorator


def call_timeout_s(client: httpx.Client) -> float:
    """How long one call may take: its read timeout (HttpTimeoutSeconds, "the total timeout of one call")."""
    return float(client.timeout.read or 0.0)


def send(client: httpx.Client, system: str, operation: str, method: str, url: str, *,
         deadline: Deadline | None = None, may_shorten: bool = False, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange; transport failures become TransportError (outcome unknown).

    With a ``deadline``, a call is sent only when its whole timeout fits in the time the invocation has left;
    otherwise OutOfTime and nothing is sent. A timeout shortened to fit would turn a slow but good answer into a
    write in doubt (a create that may have committed), which costs far more than coming back. ``may_shorten``:
    an idempotent call whose failure costs more than a short try (closing a session) runs with what is left."""
    if deadline is not None:
        need = call_timeout_s(client)
        if may_shorten:
            allowed = deadline.budget(need)
            if allowed < MIN_CALL_S:
                raise OutOfTime(system, operation, "not sent: " + deadline.shortfall(MIN_CALL_S, "a call"))
            if allowed < need:
                kwargs["timeout"] = httpx.Timeout(allowed)
        elif not deadline.fits(need):
            raise OutOfTime(system, operation, "not sent: " + deadline.shortfall(need, "a call"))
    try:
        return client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # the request never left
        raise TransportError(system, operation, f"could not connect ({type(exc).__name__}: {exc})",
                             sent=False) from exc
    except httpx.TimeoutException as exc:
        raise TransportError(system, operation, f"timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransportError(system, operation, f"connection failed ({type(exc).__name__}: {exc})") from exc
