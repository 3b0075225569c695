"""Acumatica's licence as a pool of OAuth sessions that every container borrows (policy ``pool``).

Acumatica counts an API session per OAuth grant until its access token expires or is revoked; a refresh
(``offline_access``) renews the same session without a new login. So the licence's seats become slots: slot *n*
holds one grant's tokens, at most ``seats`` grants ever live, and a container borrows a slot (a conditional write,
no login) and gives it back at the end of its invocation, or before its Magento calls while other containers wait
for one (``contended``). A slot's tokens are stored encrypted with the stack's KMS key (encryption context: the
slot), so neither the table nor its backups hold a usable token; a container decrypts a slot's tokens only when another
container has renewed them since it last saw them (the item's ``version``).

One item per slot in the bindings table: ``pk = token#acumatica#<n>``, ``sk = token``; ``owner`` and
``lease_until`` while lent. A lease that outlives its borrower (a crashed container) simply runs out: the tokens
stay valid and the next borrower uses them, so no session is ever lost to a crash.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from amsync.data.aws import client, condition_failed
from amsync.data.seats import LeasePool, NoSeat
from amsync.deadline import Deadline
from amsync.models.acumatica import PooledToken

REFRESH_LIFETIME_S = 30 * 24 * 3600  # Acumatica keeps an unused refresh token 30 days: the item ends with it
CONTENDED_S = 60.0  # how long a wait for a slot (this container's, or another's marked on the slot) counts
WANT_MARKS = 4  # slots a waiter marks as wanted (each one write)


class TokenPool(LeasePool):
    """``wait_s``: how long ``borrow`` keeps trying (short jittered naps) before NoSeat; a slot is lent for a
    record's Acumatica calls only, so one frees within a fraction of a second. ``lease_s`` bounds how long a
    crashed borrower keeps a slot from the others (longer than any invocation)."""

    def __init__(self, table_name: str, seats: int, key_id: str, *, lease_s: float = 120.0, wait_s: float = 0.0,
                 deadline: Deadline | None = None, then_s: float = 0.0) -> None:
        super().__init__(table_name, seats, lease_s, wait_s, deadline, then_s)
        self.key_id = key_id
        self._last: int | None = None  # the slot this container borrowed last: tried first (one write)
        self._seen: dict[int, tuple[int, PooledToken]] = {}  # slot -> (version, tokens) decrypted here
        self._contended_until = 0.0  # monotonic: until then slots are wanted, so lend back between API calls

    def _key(self, n: int) -> dict[str, Any]:
        return {"pk": {"S": f"token#acumatica#{n}"}, "sk": {"S": "token"}}

    # ------------------------------------------------------------------ borrow / give back
    def contended(self) -> bool:
        """Whether containers waited for a slot lately (this one, or others that marked the slot it borrowed):
        then a borrower lends its slot back before its Magento calls, not only at the end of its invocation. Two
        writes a spell of Acumatica calls when slots are scarce, two an invocation when they are not."""
        return time.monotonic() < self._contended_until

    def _contended_for(self, seconds: float) -> None:
        self._contended_until = max(self._contended_until, time.monotonic() + seconds)

    def borrow(self) -> PooledToken:
        """Take a free slot (this container's last one first) and return its tokens (empty ones for a slot no
        grant has filled yet); wait up to ``wait_s`` for one, then raise NoSeat."""
        if self.held is not None:
            return self._seen.get(self.held, (0, PooledToken(self.held)))[1]
        started = time.monotonic()
        wait_s = self._wait_budget()
        nap = 0.02
        if self._last is not None:  # the slot this container had last is usually free: one write
            item = self._take(self._last)
            if item is not None:
                return self._lent(self._last, item)
        marked = False
        while True:
            free = self._free()
            for n in free:
                item = self._take(n)
                if item is not None:
                    return self._lent(n, item)
            if not free and not marked:  # every slot is lent: tell their borrowers someone waits
                self._want()
                marked = True
            waited = time.monotonic() - started
            if waited >= wait_s:
                message = f"all {self.seats} Acumatica API sessions are lent to other containers"
                if wait_s < self.wait_s:
                    raise NoSeat(f"{message} (waited {waited:.1f} s of the {self.wait_s:g} s allowed: the "
                                 "invocation had no more time)", cut_short=True)
                raise NoSeat(message)
            nap = min(0.25, nap * 1.5)
            time.sleep(min(random.uniform(nap / 2, nap), wait_s - waited))  # noqa: S311 - jitter

    def _lent(self, n: int, item: dict[str, Any]) -> PooledToken:
        self.held = self._last = n
        wanted_ago = time.time() - float(item.get("wanted_at", {}).get("N", "0"))
        if wanted_ago < CONTENDED_S:
            self._contended_for(CONTENDED_S - wanted_ago)
        return self._tokens(n, item)

    def _want(self) -> None:
        """Mark the lent slots as wanted (their borrowers see it when they next borrow them) and count this
        container as contended."""
        self._contended_for(CONTENDED_S)
        slots = list(range(self.seats))
        random.shuffle(slots)
        for n in slots[:WANT_MARKS]:
            client("dynamodb").update_item(
                TableName=self._name, Key=self._key(n), UpdateExpression="SET wanted_at = :now",
                ExpressionAttributeValues={":now": {"N": f"{time.time():.3f}"}})

    def _free(self) -> list[int]:
        """Slots worth a conditional write (one consistent batch read, so a crowd of waiters reads): those holding
        a session first, so the connector opens no more sessions than its concurrency needs."""
        now = time.time()
        resp = client("dynamodb").batch_get_item(RequestItems={self._name: {
            "Keys": [self._key(n) for n in range(self.seats)], "ConsistentRead": True,
            "ProjectionExpression": "pk, lease_until, version"}})
        items = {int(i["pk"]["S"].rsplit("#", 1)[1]): i for i in resp.get("Responses", {}).get(self._name, [])}
        free = [n for n in range(self.seats)
                if float(items.get(n, {}).get("lease_until", {}).get("N", "0")) < now]
        random.shuffle(free)  # waiters spread over the slots instead of all racing for the first
        free.sort(key=lambda n: "version" not in items.get(n, {}))  # (stable: still shuffled within each kind)
        return free

    def _take(self, n: int) -> dict[str, Any] | None:
        now = time.time()
        try:
            resp = client("dynamodb").update_item(
                TableName=self._name, Key=self._key(n), ReturnValues="ALL_NEW",
                UpdateExpression="SET #o = :me, lease_until = :u",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}, ":u": {"N": f"{now + self.lease_s:.3f}"},
                                           ":now": {"N": f"{now:.3f}"}})
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        item: dict[str, Any] = resp["Attributes"]
        return item

    def give_back(self) -> None:
        """End the loan; the tokens stay in the slot for the next borrower (no logout: the session lives on)."""
        if self.held is None:
            return
        n, self.held = self.held, None
        try:
            client("dynamodb").update_item(
                TableName=self._name, Key=self._key(n), UpdateExpression="REMOVE #o, lease_until",
                ConditionExpression="#o = :me", ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}})
        except ClientError as exc:
            if not condition_failed(exc):
                raise  # (a lease that ran out and was taken by another container is theirs now)

    # ------------------------------------------------------------------ the slot's tokens
    def keep(self, token: PooledToken) -> None:
        """Store a renewed grant in the slot this container holds, at once (a refresh token is single-use: the
        old one no longer works, so the new one must not live only in this container's memory)."""
        if self.held is None or token.slot != self.held:
            raise RuntimeError("tokens kept for a slot this container does not hold")
        blob = json.dumps({"a": token.access_token, "r": token.refresh_token, "e": token.expires_at})
        sealed = client("kms").encrypt(KeyId=self.key_id, Plaintext=blob.encode(),
                                       EncryptionContext=self._context(token.slot))["CiphertextBlob"]
        resp = client("dynamodb").update_item(
            TableName=self._name, Key=self._key(token.slot), ReturnValues="UPDATED_NEW",
            UpdateExpression="SET sealed = :s, expires_at = :x ADD version :one",
            ConditionExpression="#o = :me", ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":s": {"B": sealed}, ":one": {"N": "1"}, ":me": {"S": self.owner},
                                       ":x": {"N": str(int(time.time()) + REFRESH_LIFETIME_S)}})
        self._seen[token.slot] = (int(resp["Attributes"]["version"]["N"]), token)

    def _tokens(self, n: int, item: dict[str, Any]) -> PooledToken:
        version = int(item.get("version", {}).get("N", "0"))
        seen = self._seen.get(n)
        if seen is not None and seen[0] == version:
            return seen[1]
        if "sealed" not in item:
            token = PooledToken(n)
        else:
            sealed = item["sealed"]["B"]
            plain = client("kms").decrypt(KeyId=self.key_id, CiphertextBlob=sealed,
                                          EncryptionContext=self._context(n))["Plaintext"]
            data = json.loads(plain)
            token = PooledToken(n, data.get("a", ""), data.get("r", ""), float(data.get("e", 0.0)))
        self._seen[n] = (version, token)
        return token

    def _context(self, n: int) -> dict[str, str]:
        return {"purpose": "acumatica-api-session", "table": self._name, "slot": str(n)}
