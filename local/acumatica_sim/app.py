"""The Starlette app and the ``AcumaticaSimulator`` facade (state, transactions, control API, Python helpers)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request

from acumatica_sim import commit, documents, errors, odata, oracle, seed
from acumatica_sim.auth import Session, SessionManager
from acumatica_sim.clock import Clock
from acumatica_sim.config import (
    DEFAULT_VERSION,
    ENDPOINT_NAME,
    NUMBER_FORMATS,
    ORDER_TYPES,
    SimConfig,
)
from acumatica_sim.model import Rec, Store, business_key
from acumatica_sim.push import PushEmitter
from acumatica_sim.registry import ENTITIES, EntityDef
from sim_common import FaultInjector, ServerThread

T = TypeVar("T")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {("|".join(k) if isinstance(k, tuple) else str(k)): jsonable(v) for k, v in x.items() if k != "_dest"}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, Decimal):
        return float(x)
    if isinstance(x, datetime):
        return x.isoformat()
    return x


class AcumaticaSimulator:
    """An Acumatica tenant on loopback: ``start() -> url``, ``stop()``, ``reset()`` and test helpers."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimConfig()
        self.clock = Clock()
        self.lock = threading.RLock()
        self.store = Store()
        self.sessions = SessionManager(self.clock, self.config.limits)
        self.push = PushEmitter(self.clock, self.config.push, self.config.push_faults)
        self.faults = FaultInjector(errors.fault_body, hang_seconds=self.config.hang_seconds,
                                    seed=self.config.fault_seed)
        self.operations: dict[str, dict[str, Any]] = {}
        self.last_commit = commit.CommitStats()  # what the last transaction cost
        self.stamp_lag = timedelta(0)  # long transactions: records stamped this long before their commit
        self.full_table_journals = 0  # tables iterated inside transactions since the last reset (should stay 0)
        self.host, self.port = host, port
        self._server: ServerThread | None = None
        self.url = ""
        self.reset()
        self.app = build_app(self)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> str:
        self.push.start()
        self._server = ServerThread(self.faults.middleware(self.app), self.host, self.port, name="acumatica-sim")
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.push.stop()

    def reset(self, seed_name: str | None = None) -> None:
        """Reseed data, drop sessions and push state; keeps destinations, limits and fault rules."""
        name = seed_name or self.config.seed
        with self.lock:
            self.store = Store()
            now = self.clock.now()
            if name == "walkthrough":
                seed.walkthrough(self.store, now)
                seed.seed_historic_order(self.store, documents.build_order, now)
            elif name != "empty":
                raise ValueError(f"unknown seed {name!r}; known: {seed.SEEDS}")
            commit.rebuild(self.store)  # the seeds write outside transactions
            self.last_commit = commit.CommitStats()
            self.full_table_journals = 0
            self.sessions.sessions.clear()
            self.sessions.grants.clear()
            self.operations.clear()
            self.push.clear()

    @property
    def entity_base(self) -> str:
        return f"{self.url}/entity/{ENDPOINT_NAME}/{DEFAULT_VERSION}"

    # -- transactions --------------------------------------------------------------------------------------------
    def transact(self, fn: Callable[[Store, datetime], T]) -> T:
        """Run ``fn`` atomically; on success stamp changed records and publish push notifications.

        The store journals the records ``fn`` reaches (rollback restores them); the commit then works from the
        journal, so a transaction costs O(records it touches), not O(store) (see ``tables.py``, ``commit.py``).
        With ``config.verify_transactions`` the whole-store algorithm checks every transaction (``oracle.py``)."""
        with self.lock:
            check = oracle.Check(self.store) if self.config.verify_transactions else None
            committed = self.clock.now()
            now = committed - self.stamp_lag
            journal = self.store.begin()
            try:
                result = fn(self.store, now)
            except BaseException:
                self.store.rollback(journal)
                self.full_table_journals += journal.full_tables
                if check is not None:
                    check.rolled_back(self.store)
                raise
            self.store.detach()
            if check is not None:
                check.expect(self.store, journal, now)
            diffs, self.last_commit = commit.commit(self.store, journal, now)
            self.full_table_journals += journal.full_tables
            if check is not None:
                check.verify(self.store, diffs, now)
            self.push.publish(diffs, committed)
            return result

    # -- python helpers -----------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    def set_stamp_lag(self, seconds: float) -> float:
        """Play long transactions (0 ends them): each later transaction stamps its records ``seconds`` before it
        commits. Acumatica takes LastModifiedDateTime when a row is written, inside the transaction; other
        sessions (a reconciler's query) see the record only at the commit, which a long transaction delays. Its
        push notification goes out at the commit."""
        if seconds < 0:
            raise ValueError("stamp lag must be >= 0 seconds")
        with self.lock:
            self.stamp_lag = timedelta(seconds=seconds)
        return seconds

    def set_limits(self, **kw: Any) -> dict[str, Any]:
        for k, v in kw.items():
            if not hasattr(self.config.limits, k):
                raise ValueError(f"unknown limit {k!r}")
            setattr(self.config.limits, k, v)
        return self.config.limits.to_dict()

    def set_push_destinations(self, dests: list[dict[str, Any]]) -> None:
        self.push.set_destinations(dests)

    def set_push_faults(self, **kw: Any) -> dict[str, Any]:
        return self.push.set_faults(**kw).to_dict()

    def wait_push_idle(self, timeout: float = 10.0) -> bool:
        return self.push.wait_idle(timeout)

    def set_next_number(self, order_type: str, next_number: int) -> dict[str, int]:
        """Set the next number an order type's numbering sequence issues (CS201010's Last Number + 1), e.g. ST's to
        SO's so the two types issue the same numbers. Refused (ValueError) for an unknown type, a number below 1,
        or one at or below a number the type already used (the sequence would issue it twice). Returns the store's
        next numbers."""
        otype = str(order_type).strip().upper()
        if otype not in ORDER_TYPES:
            raise ValueError(f"unknown order type {order_type!r}; known: {', '.join(ORDER_TYPES)}")
        if isinstance(next_number, bool) or not isinstance(next_number, int) or next_number < 1:
            raise ValueError(f"the next number must be a whole number from 1, not {next_number!r}")
        prefix = NUMBER_FORMATS[otype].split("{")[0]
        with self.lock:
            for (t, nbr) in dict.keys(self.store.orders):
                tail = nbr[len(prefix):] if t == otype and nbr.startswith(prefix) else ""
                if tail.isdigit() and int(tail) >= next_number:
                    raise ValueError(f"order type {otype} already has {nbr}: its sequence cannot issue "
                                     f"{NUMBER_FORMATS[otype].format(next_number)} again")

            def fn(store: Store, now: datetime) -> None:
                store.numbering[otype] = next_number
            self.transact(fn)
            return dict(self.store.numbering)

    def set_on_hand(self, inventory_id: str, warehouse_id: str, qty: Decimal | int | str) -> None:
        """Inventory adjustment (commits, so it emits a stock notification)."""
        def fn(store: Store, now: datetime) -> None:
            store.items[inventory_id]["warehouses"][warehouse_id]["QtyOnHand"] = Decimal(str(qty))
        self.transact(fn)

    def record(self, entity: str, *keys: str, expand: str = "") -> dict[str, Any]:
        """The record as the API would answer it (for assertions)."""
        ed = ENTITIES[entity]
        with self.lock:
            rec = find_by_keys(self.store, ed, list(keys))
            if rec is None:
                raise KeyError(keys)
            return odata.shape(ed.tree(self.store, rec), odata.expand_set(expand), [], [])

    def dump(self) -> dict[str, Any]:
        with self.lock:
            records = {k: v for k, v in vars(self.store).items() if k != "derived"}
            return jsonable({**records, "sessions": self.sessions.snapshot(),
                             "limits": self.config.limits.to_dict(), "push_faults": self.config.push_faults.to_dict(),
                             "destinations": [d.__dict__ for d in self.push.destinations], "now": self.clock.now()})


# ============================================================================================ lookups
def find_by_keys(store: Store, ed: EntityDef, keys: list[str]) -> Rec | None:
    if len(keys) == 1 and "|" in keys[0]:
        keys = keys[0].split("|")
    if len(keys) == 1 and GUID.match(keys[0]):
        return store.find_by_id(ed.table, keys[0])
    if len(keys) != len(ed.keys):
        return None
    return store.find_by_key(ed.table, business_key(keys))


def find_for_put(store: Store, ed: EntityDef, body: Rec) -> Rec | None:
    if body.get("id"):
        return store.find_by_id(ed.table, str(body["id"]))
    keys = [body.get(k) for k in ed.keys]
    if ed.name == "SalesOrder" and keys[0] is None:
        keys[0] = "SO"
    if ed.name == "Payment" and keys[0] is None:
        keys[0] = "Payment"
    if any(k is None or str(k).strip() == "" for k in keys):
        return None
    return find_by_keys(store, ed, [str(k) for k in keys])


# ============================================================================================ app
def build_app(sim: AcumaticaSimulator) -> Starlette:
    from acumatica_sim import routes

    app = Starlette(routes=routes.routes(sim), exception_handlers={404: routes.not_found, 405: routes.not_found})
    app.state.sim = sim
    return app


def session_of(sim: AcumaticaSimulator, request: Request) -> Session | None:
    return sim.sessions.find(dict(request.cookies), request.headers.get("authorization"))


def new_op(sim: AcumaticaSimulator, entity_url: str) -> str:
    op = str(uuid.uuid4())
    sim.operations[op] = {"polls": sim.config.action_polls, "entity_url": entity_url}
    return op
