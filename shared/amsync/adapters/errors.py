"""The typed error tree both API clients raise.

Retryable: timeouts, connection errors, 408, 429 (with ``Retry-After``), 5xx - the outcome of a write is then
unknown, so a caller never blindly repeats a non-idempotent write: it asks the binder / looks the record up first.
Fatal: any other 4xx, with the remote message kept verbatim.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A call to Acumatica or Magento did not succeed."""

    retryable = False

    def __init__(self, system: str, operation: str, message: str, *, status: int | None = None,
                 body: Any = None, retry_after: float | None = None) -> None:
        super().__init__(f"{system} {operation}: {message}" + (f" (HTTP {status})" if status else ""))
        self.system = system
        self.operation = operation
        self.remote_message = message
        self.status = status
        self.body = body
        self.retry_after = retry_after


class RetryableError(ApiError):
    retryable = True

    @property
    def may_have_committed(self) -> bool:
        """Whether the remote may have done (or may still be doing) the write: then nobody repeats it before
        the doubt has passed and a lookup has said it is absent."""
        return True


class TransportError(RetryableError):
    """Timeout or connection failure: the request may or may not have been processed."""

    def __init__(self, system: str, operation: str, message: str, *, sent: bool = True) -> None:
        super().__init__(system, operation, message)
        self.sent = sent

    @property
    def may_have_committed(self) -> bool:
        return self.sent  # a refused connection or a connect timeout never delivered the request


class OutOfTime(TransportError):
    """Not sent (or no licence seat waited for): the invocation has too little time left for it. Nothing was done;
    the record is handed back to come again at once, and this does not count as one of its failures."""

    def __init__(self, system: str, operation: str, message: str) -> None:
        super().__init__(system, operation, message, sent=False)


class RateLimited(RetryableError):
    """429 (or Acumatica's licence refusal "API Login Limit"): back off, honour Retry-After."""

    @property
    def may_have_committed(self) -> bool:
        return False  # refused before any work


class ServerError(RetryableError):
    """5xx: the remote failed; a write may still have committed (even a 503: Varnish answers 503 when Magento
    outlives its first-byte timeout, and Magento goes on to commit)."""


class FatalError(ApiError):
    """A 4xx business or validation refusal: retrying the same request cannot succeed."""


class NotFound(FatalError):
    pass


class AuthError(FatalError):
    """Credentials refused (after one fresh attempt)."""


def classify(system: str, operation: str, status: int, message: str, body: Any,
             retry_after: float | None = None) -> ApiError:
    if status == 429:
        return RateLimited(system, operation, message, status=status, body=body, retry_after=retry_after)
    if status == 408 or status >= 500:
        return ServerError(system, operation, message, status=status, body=body, retry_after=retry_after)
    if status in (401, 403):
        return AuthError(system, operation, message, status=status, body=body)
    if status == 404:
        return NotFound(system, operation, message, status=status, body=body)
    return FatalError(system, operation, message, status=status, body=body)


def parse_retry_after(value: str | None, cap: float = 60.0) -> float | None:
    if not value:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return None
