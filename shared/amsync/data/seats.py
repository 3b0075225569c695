"""Acumatica licence seats shared by every container of every function: a lease per seat in DynamoDB.

Acumatica refuses a login beyond the licence's API sessions ("API Login Limit"), and a session never closed holds
its seat until it expires (10 idle minutes for a cookie, the token's hour for OAuth). Each container takes a seat
before it logs in and gives it back when it logs out; a lease that outlives its holder expires with the session.
"""

from __future__ import annotations

import random
import time
import uuid
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from amsync.data.aws import client, condition_failed, table
from amsync.deadline import Deadline


class NoSeat(Exception):
    """Every seat is held: back off and try later. ``cut_short``: the wait was shortened by the invocation's
    deadline (the record comes back at once rather than counting a failure)."""

    def __init__(self, message: str, cut_short: bool = False) -> None:
        super().__init__(message)
        self.cut_short = cut_short


class LeasePool:
    """What the licence's two pools share (this seat pool, and the session pool of data/tokens.py): ``seats``
    items leased in one table by containers (``owner``), ``wait_s`` to wait for one, and with a ``deadline`` the
    wait also leaves the invocation ``then_s`` for what follows it."""

    def __init__(self, table_name: str, seats: int, lease_s: float, wait_s: float = 0.0,
                 deadline: Deadline | None = None, then_s: float = 0.0) -> None:
        self._name = table_name
        self.seats = seats
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.deadline = deadline
        self.then_s = then_s
        self.owner = uuid.uuid4().hex  # this container
        self.held: int | None = None

    def _wait_budget(self) -> float:
        return self.wait_s if self.deadline is None else self.deadline.budget(self.wait_s, self.then_s)


class SeatPool(LeasePool):
    """``wait_s``: how long ``acquire`` keeps trying (short jittered naps) before it gives up with NoSeat. With
    scarce seats and sessions given back after each invocation, a seat frees within a fraction of a second, so
    waiting here beats failing the record (which would spend one of its receives before the DLQ). With a
    ``deadline`` the wait also leaves the invocation ``then_s`` for the login that follows."""

    def __init__(self, table_name: str, seats: int, lease_s: float, wait_s: float = 0.0,
                 deadline: Deadline | None = None, then_s: float = 0.0) -> None:
        super().__init__(table_name, seats, lease_s, wait_s, deadline, then_s)
        self.waited_s = 0.0  # total time spent waiting for a seat (for the logs and the benchmark)

    def _key(self, n: int) -> dict[str, str]:
        return {"pk": f"seat#acumatica#{n}", "sk": "seat"}

    def acquire(self) -> int:
        """Take a free (or expired) seat, or keep the one this container holds; wait up to ``wait_s`` for one,
        then raise NoSeat."""
        started = time.monotonic()
        wait_s = self._wait_budget()
        nap = 0.05
        while True:
            try:
                return self._try_acquire()
            except NoSeat as exc:
                waited = time.monotonic() - started
                if waited >= wait_s:
                    self.waited_s += waited
                    if wait_s < self.wait_s:
                        raise NoSeat(f"{exc} (waited {waited:.1f} s of the {self.wait_s:g} s allowed: the "
                                     "invocation had no more time)", cut_short=True) from exc
                    raise
                nap = min(0.5, nap * 1.5)
                time.sleep(min(random.uniform(nap / 2, nap), wait_s - waited))  # noqa: S311 - jitter

    def _candidates(self, now: float) -> list[int]:
        """Seats worth a conditional write: this container's own, then free or expired ones (one batch read, so
        a crowd of waiters reads instead of writing)."""
        keys = [self._key(n) for n in range(self.seats)]
        leases: dict[int, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            resp = client("dynamodb").batch_get_item(RequestItems={self._name: {
                "Keys": [{k: {"S": v} for k, v in key.items()} for key in keys[start:start + 100]],
                "ConsistentRead": True, "ProjectionExpression": "pk, #o, lease_until",
                "ExpressionAttributeNames": {"#o": "owner"}}})
            for item in resp.get("Responses", {}).get(self._name, []):
                n = int(item["pk"]["S"].rsplit("#", 1)[1])
                leases[n] = {"owner": item.get("owner", {}).get("S"),
                             "lease_until": float(item.get("lease_until", {}).get("N", "0"))}
        own = [n for n, lease in leases.items() if lease["owner"] == self.owner]
        free = [n for n in range(self.seats) if n not in leases or leases[n]["lease_until"] < now]
        random.shuffle(free)  # waiters spread over the seats instead of all racing for the first
        return own + [n for n in free if n not in own]

    def _try_acquire(self) -> int:
        now = time.time()
        until = Decimal(str(round(now + self.lease_s, 3)))
        for n in self._candidates(now):
            try:
                table(self._name).put_item(
                    Item={**self._key(n), "owner": self.owner, "lease_until": until,
                          "expires_at": int(now + self.lease_s) + 3600},
                    ConditionExpression=Attr("pk").not_exists() | Attr("owner").eq(self.owner)
                    | Attr("lease_until").lt(Decimal(str(round(now, 3)))))
            except ClientError as exc:
                if condition_failed(exc):
                    continue
                raise
            self.held = n
            return n
        raise NoSeat(f"all {self.seats} Acumatica API seats are in use")

    def hold_until(self, session_left_s: float) -> None:
        """The session could not be closed (logout failed): Acumatica counts it until it expires, so the lease is
        stretched to then and nobody takes the seat early. This container keeps the seat (and the session: its
        next invocation uses it and tries the logout again); if that invocation never comes the lease simply
        ends with the session."""
        if self.held is None:
            return
        until = Decimal(str(round(time.time() + session_left_s, 3)))
        try:
            table(self._name).update_item(
                Key=self._key(self.held), UpdateExpression="SET lease_until = :u, expires_at = :e",
                ConditionExpression=Attr("owner").eq(self.owner),
                ExpressionAttributeValues={":u": until, ":e": int(time.time() + session_left_s) + 3600})
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            self.held = None  # the lease had run out and another container took the seat

    def release(self) -> None:
        if self.held is None:
            return
        try:
            table(self._name).delete_item(Key=self._key(self.held), ConditionExpression=Attr("owner").eq(self.owner))
        except ClientError as exc:
            if not condition_failed(exc):
                raise
        self.held = None
