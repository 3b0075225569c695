"""What both clients share: the httpx client factory, JSON with exact decimals, and the retry policy."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

from amsync.adapters.errors import ApiError, TransportError
from amsync.jsonio import dumps, loads

__all__ = ["dumps", "loads", "make_client", "retrying", "send"]

T = TypeVar("T")
P = ParamSpec("P")


def make_client(base_url: str, connect_timeout: float, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=connect_timeout),
                        headers={"Accept": "application/json"}, follow_redirects=False)


def _wait(state: RetryCallState) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins when it says more."""
    exc = state.outcome.exception() if state.outcome else None
    base = min(8.0, 0.25 * 2 ** (state.attempt_number - 1))
    delay = random.uniform(0, base)  # noqa: S311 - jitter, not security
    if isinstance(exc, ApiError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    return delay


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def retrying(attempts: int = 3) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator for idempotent calls (reads, keyed PUTs): retry retryable errors in-process."""
    decorator: Callable[[Callable[P, T]], Callable[P, T]] = retry(
        retry=retry_if_exception(_is_retryable), stop=stop_after_attempt(attempts), wait=_wait, reraise=True)
    return decorator


def send(client: httpx.Client, system: str, operation: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange; transport failures become TransportError (outcome unknown)."""
    try:
        return client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # the request never left
        raise TransportError(system, operation, f"could not connect ({type(exc).__name__}: {exc})",
                             sent=False) from exc
    except httpx.TimeoutException as exc:
        raise TransportError(system, operation, f"timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransportError(system, operation, f"connection failed ({type(exc).__name__}: {exc})") from exc
