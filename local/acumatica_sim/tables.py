"""Journaled tables and link indexes: what lets a transaction cost O(records it touches), not O(store).

A ``Table`` is a dict of records (key -> record dict) that, while a ``Journal`` is attached (during
``AcumaticaSimulator.transact``), keeps a before-image of every record the transaction reaches through it:
``t[key]``, ``t.get(key)``, ``t.setdefault``, ``t.pop``, ``del t[key]`` and ``t[key] = rec`` journal that one key
(a key absent before is journaled as new). Records are only ever mutated after being fetched from their table, so
the journal holds every record the transaction may have changed; rollback puts the before-images back and commit
compares them with the records now (see ``commit.py``). Iterating a table (``values()``, ``items()``, keys) inside a
transaction journals the whole table: correct, but O(n), so it is counted (``Journal.full_tables``) and no request
path does it.

A table also numbers its keys in insertion order (``seq``): dict order is what the API lists, pushes rows in and
applies payments in, and the link indexes answer in it.

A ``LinkIndex`` maps a target (an order key, a customer id, a business key...) to the keys of one table's records
that link to it (``links(record)`` gives a record's targets). It is kept in step at commit from the journal's
before-images; inside a transaction, a lookup also checks the records the transaction has reached (their links may
have changed), so it answers for the store as it is now.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

Rec = dict[str, Any]
K = TypeVar("K", bound=Hashable)
Before = tuple[Rec | None, int | None]  # (before-image or None when the key was absent, its seq then)


def deep_copy(rec: Rec) -> Rec:
    """A deep copy of a record (a pickle round trip: several times faster than ``copy.deepcopy``)."""
    copied: Rec = pickle.loads(pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    return copied


class Journal:
    """What one transaction reached: per table, the before-image of each record; the small dicts whole."""

    def __init__(self, numbering: dict[str, int], site_modified: dict[Any, Any]) -> None:
        self.before: dict[str, dict[Any, Before]] = {}
        self.next_seq: dict[str, int] = {}
        self.numbering = dict(numbering)
        self.site_modified = dict(site_modified)
        self.full_tables = 0  # whole-table journals (a table iterated inside the transaction)
        self.reconciled = False  # documents.reconcile ran (it settled the orders the store had left pending)

    def records(self) -> int:
        return sum(len(b) for b in self.before.values())


def _rebuild_table(name: str, items: list[tuple[Any, Rec]]) -> Table[Any]:
    return Table(name, items)


class Table(dict[K, Rec], Generic[K]):
    """A dict of records that journals what a transaction reaches and numbers keys in insertion order."""

    def __init__(self, name: str = "", items: Iterable[tuple[K, Rec]] = ()) -> None:
        super().__init__()
        self.name = name
        self.seq: dict[K, int] = {}
        self.next_seq = 0
        self.journal: Journal | None = None
        for k, v in items:
            self[k] = v

    def __reduce__(self) -> tuple[Any, ...]:  # pickle/deepcopy: the records, never a journal
        return _rebuild_table, (self.name, list(dict.items(self)))

    # -- journaling ------------------------------------------------------------------------------------------
    def _touch(self, key: K) -> None:
        j = self.journal
        if j is None:
            return
        seen = j.before.setdefault(self.name, {})
        if key in seen:
            return
        if dict.__contains__(self, key):
            seen[key] = (deep_copy(dict.__getitem__(self, key)), self.seq[key])
        else:
            seen[key] = (None, None)

    def _touch_all(self) -> None:
        if self.journal is not None:
            self.journal.full_tables += 1
            for key in list(dict.keys(self)):
                self._touch(key)

    def journaled(self) -> dict[K, Before]:
        """Records the attached transaction has reached (empty outside a transaction)."""
        if self.journal is None:
            return {}
        return self.journal.before.get(self.name, {})

    def raw_items(self) -> Iterable[tuple[K, Rec]]:
        """Iterate without journaling (for the derived state, computed outside transactions or at commit)."""
        return dict.items(self)

    def restore(self, before: dict[K, Before], next_seq: int) -> None:
        """Rollback: put the before-images back and drop keys the transaction added."""
        reorder = False
        for key, (rec, seq) in before.items():
            if rec is None:
                if dict.__contains__(self, key):
                    dict.__delitem__(self, key)
                self.seq.pop(key, None)
                continue
            assert seq is not None
            # a key deleted (or deleted and added again) by the transaction lost its place in the dict order
            reorder = reorder or not dict.__contains__(self, key) or self.seq.get(key) != seq
            dict.__setitem__(self, key, rec)
            self.seq[key] = seq
        self.next_seq = next_seq
        if reorder:  # rare (a failed transaction that deleted a record): O(n) to restore the order
            items = sorted(dict.items(self), key=lambda kv: self.seq[kv[0]])
            dict.clear(self)
            dict.update(self, items)

    # -- dict API ------------------------------------------------------------------------------------------------
    def __getitem__(self, key: K) -> Rec:
        rec = dict.__getitem__(self, key)
        self._touch(key)
        return rec

    def get(self, key: K, default: Any = None) -> Any:
        if not dict.__contains__(self, key):
            return default
        self._touch(key)
        return dict.__getitem__(self, key)

    def __setitem__(self, key: K, rec: Rec) -> None:
        self._touch(key)
        if not dict.__contains__(self, key):
            self.seq[key] = self.next_seq
            self.next_seq += 1
        dict.__setitem__(self, key, rec)

    def __delitem__(self, key: K) -> None:
        if not dict.__contains__(self, key):
            raise KeyError(key)
        self._touch(key)
        dict.__delitem__(self, key)
        del self.seq[key]

    def pop(self, key: K, *default: Any) -> Any:
        if not dict.__contains__(self, key):
            if default:
                return default[0]
            raise KeyError(key)
        rec = self[key]
        del self[key]
        return rec

    def popitem(self) -> tuple[K, Rec]:
        if not dict.__len__(self):
            raise KeyError("popitem(): table is empty")
        key = next(reversed(dict.keys(self)))
        return key, self.pop(key)

    def setdefault(self, key: K, default: Rec) -> Rec:
        if dict.__contains__(self, key):
            return self[key]
        self[key] = default
        return default

    def update(self, *args: Any, **kw: Any) -> None:
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def __ior__(self, other: Any) -> Table[K]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        for key in list(dict.keys(self)):
            del self[key]

    def copy(self) -> dict[K, Rec]:
        self._touch_all()
        return dict(dict.items(self))

    def values(self) -> Any:
        self._touch_all()
        return dict.values(self)

    def items(self) -> Any:
        self._touch_all()
        return dict.items(self)

    def keys(self) -> Any:
        self._touch_all()
        return dict.keys(self)

    def __iter__(self) -> Iterator[K]:
        self._touch_all()
        return dict.__iter__(self)


class LinkIndex(Generic[K]):
    """target -> keys of the records of one table that link to it (``links(record)`` gives its targets)."""

    def __init__(self, links: Callable[[Rec], Iterable[Hashable]]) -> None:
        self.links = links
        self.map: dict[Hashable, set[K]] = {}

    def add(self, key: K, rec: Rec) -> None:
        for target in set(self.links(rec)):
            self.map.setdefault(target, set()).add(key)

    def discard(self, key: K, rec: Rec) -> None:
        for target in set(self.links(rec)):
            keys = self.map.get(target)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.map[target]

    def lookup(self, table: Table[K], target: Hashable) -> list[K]:
        """Keys linking to ``target`` now, in table order: the committed index, corrected for the records the
        running transaction has reached (O(those records), not O(table))."""
        keys = set(self.map.get(target, ()))
        for key in table.journaled():
            keys.discard(key)
            rec = dict.get(table, key)
            if rec is not None and target in set(self.links(rec)):
                keys.add(key)
        return sorted(keys, key=table.seq.__getitem__)
