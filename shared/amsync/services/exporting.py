"""The exactly-once contract every exporter (order, shipment, invoice, customer writers) follows, in one place.

An exporter writes a record to the other system once, whatever the timing:

1. **Bound?** The binding (Acumatica key -> Magento id) is the first thing asked; bound means done.
2. **Lease.** ``mark_creating`` takes the create lease with a conditional write and returns its **fencing
   token** (a fresh id per lease): while the lease lives nobody else creates; an expired lease may be taken over.
3. **Look up before create.** An earlier attempt may have committed and lost its answer. Every attempt leaves
   the binding item behind (a lease given back stays as ``creating``), so ``mark_creating`` knows the record's
   first attempt (``first_attempt``): no attempt of this connector can have committed before it. The order writer
   skips the lookup then when nothing else claims the order either (its Acumatica ExternalRef is empty).
4. **Create once**, then **bind at once**, fenced: ``bind(..., lease=token)`` succeeds only while the binding is
   still ``creating`` under *this* token (or is already bound to the same Magento id). A writer whose lease was
   taken over loses the bind: its Magento record is a double, reported, and handled by the reconciler's sweep.
5. **Doubt.** After a timeout or 5xx Magento may still commit: the lease is held one more lease in doubt
   (``give_back_lease``); the next attempt looks up first. What commits even later than that is caught by two
   further guards: Acumatica numbering (Magento refuses a second ``increment_id``) and the sweep.
6. **Any other failure between lease and bind gives the lease back at once** (``release_creating``), so one
   transient error does not burn the record's receives waiting for a lease nobody holds.

The adapters raise the typed ``ApiError`` tree; the data layer implements :class:`CreateBinder`; the SQS consumer
catches :class:`NotReady`. Services import this module, never the consumer or boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from amsync.adapters.errors import RetryableError


@dataclass(frozen=True)
class Binding:
    kind: str
    acumatica_key: str
    magento_entity_id: int | None
    magento_increment_id: str | None
    state: str  # "creating" | "bound"
    updated_at: float
    extra: dict[str, Any]
    lease: str | None = None  # the fencing token of the create lease this writer holds (mark_creating's answer)
    first_attempt: bool = False  # mark_creating's answer: the record had no binding item (no attempt before this)


class AlreadyBound(Exception):
    """The record is bound already (the conditional write refused); ``existing`` is what it is bound to."""

    def __init__(self, existing: Binding | None) -> None:
        super().__init__(f"already bound: {existing}")
        self.existing = existing


class LeaseHeld(Exception):
    """Another writer holds the create lease, or an earlier create's outcome is in doubt: try again after it ends
    or expires. ``retry_after``: the seconds left of a lease held in doubt (None for a live writer's lease, which
    usually ends much sooner, with a bind)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LeaseLost(AlreadyBound):
    """A fenced bind found the lease taken over by another writer (its token is not ours): our Magento record, if
    we made one, is a double."""


class NotReady(Exception):
    """The record cannot be handled yet (e.g. a shipment whose order is not in Magento, a lease held): try again
    later, not before ``retry_after`` seconds when that is known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CreateBinder(Protocol):
    """The create lease and the binding: what every writer of a Magento document needs."""

    def get(self, kind: str, acumatica_key: str) -> Binding | None: ...
    def mark_creating(self, kind: str, acumatica_key: str, lease_s: float = 60.0) -> Binding: ...
    def release_creating(self, kind: str, acumatica_key: str, hold_s: float = 0.0,
                         lease: str | None = None) -> None: ...
    def bind(self, kind: str, acumatica_key: str, entity_id: int, increment_id: str | None,
             extra: dict[str, Any] | None = None, lease: str | None = None) -> Binding: ...


def give_back_lease(binder: CreateBinder, kind: str, key: str, exc: RetryableError, hold_s: float,
                    lease: str | None = None) -> str:
    """After a create that failed retryably: free the lease now if Magento surely did nothing (429, no
    connection), else hold it ``hold_s`` more seconds, so that a create still running in Magento (a timeout, a
    5xx from a proxy) commits before anyone looks it up and creates it again. Returns what happens next."""
    if exc.may_have_committed:
        binder.release_creating(kind, key, hold_s, lease=lease)
        exc.retry_after = max(exc.retry_after or 0.0, hold_s + 1)  # the record's next attempt comes after the doubt
        return f"Magento may still commit it: it is looked up, not created again, after {hold_s:g} s"
    binder.release_creating(kind, key, lease=lease)
    return "Magento did not take the request: it is looked up and retried"


def release_quietly(binder: CreateBinder, kind: str, key: str, lease: str | None) -> None:
    """Give the lease back after a failure that created nothing (a lookup or a bind that failed): the next attempt
    need not wait for the lease to expire. A failure to give it back is left to the lease's expiry."""
    try:
        binder.release_creating(kind, key, lease=lease)
    except Exception:  # noqa: BLE001 - the original failure is what the caller reports
        return
