"""Acumatica licence seats shared by every container of every function: a lease per seat in DynamoDB.

Acumatica refuses a login beyond the licence's API sessions ("API Login Limit"), and an abandoned session holds
its seat until it expires (10 idle minutes for a cookie, the token's hour for OAuth). Each container takes a seat
before it logs in and gives it back when it logs out; a lease that outlives its holder expires with the session.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from amsync.data.aws import table


class NoSeat(Exception):
    """Every seat is held: back off and try later."""


class SeatPool:
    def __init__(self, table_name: str, seats: int, lease_s: float) -> None:
        self._name = table_name
        self.seats = seats
        self.lease_s = lease_s
        self.owner = uuid.uuid4().hex  # this container
        self.held: int | None = None

    def _key(self, n: int) -> dict[str, str]:
        return {"pk": f"seat#acumatica#{n}", "sk": "seat"}

    def acquire(self) -> int:
        """Take a free (or expired) seat, or keep the one this container holds; raise NoSeat if none."""
        now = time.time()
        until = Decimal(str(round(now + self.lease_s, 3)))
        order = ([self.held] if self.held is not None else []) + [n for n in range(self.seats) if n != self.held]
        for n in order:
            try:
                table(self._name).put_item(
                    Item={**self._key(n), "owner": self.owner, "lease_until": until,
                          "expires_at": int(now + self.lease_s) + 3600},
                    ConditionExpression=Attr("pk").not_exists() | Attr("owner").eq(self.owner)
                    | Attr("lease_until").lt(Decimal(str(round(now, 3)))))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue
                raise
            self.held = n
            return n
        raise NoSeat(f"all {self.seats} Acumatica API seats are in use")

    def release(self) -> None:
        if self.held is None:
            return
        try:
            table(self._name).delete_item(Key=self._key(self.held), ConditionExpression=Attr("owner").eq(self.owner))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        self.held = None
