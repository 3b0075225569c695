"""Settings cached per container with a change stamp (against moto, table from the template): a change made through
the store (CLI, console) takes effect in every container within CACHE_S seconds, at once for a fresh read, and a
cached read costs no request."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from amsync.data import settings_store
from amsync.data.aws import client, table
from amsync.data.settings_store import CACHE_S, MAX_AGE_S, SettingsStore
from amsync.models.settings import OrderSyncPreferences, ShipViaMapping


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(bare_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Clock, Counter[str]]:
    name = bare_runtime.functions["OrderSyncFunction"].env["SETTINGS_TABLE"]
    clock = Clock()
    monkeypatch.setattr(settings_store.time, "monotonic", clock)
    calls: Counter[str] = Counter()

    class Counted:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, op: str) -> Any:
            calls[op] += 1
            return getattr(self.inner, op)

    monkeypatch.setattr(settings_store, "table", lambda n: Counted(table(n)))  # writes
    monkeypatch.setattr(settings_store, "client", lambda service: Counted(client(service)))  # reads
    return name, clock, calls


def _prefs(store: SettingsStore, **changes: Any) -> None:
    prefs = store.order_sync(fresh=True).model_copy(update=changes)
    store.put_preferences("order-sync", OrderSyncPreferences.model_validate(prefs.model_dump()))


def test_a_change_takes_effect_within_the_stamp_interval_and_at_once_for_a_fresh_read(
        env: tuple[str, Clock, Counter[str]]) -> None:
    name, clock, calls = env
    container, cli = SettingsStore(name), SettingsStore(name)
    _prefs(cli, store_view="before")
    assert container.order_sync().store_view == "before"
    # When the CLI changes a preference
    _prefs(cli, store_view="after")
    # Then a container that read it just now may still answer from its cache...
    assert container.order_sync().store_view == "before"
    # ...but never longer than CACHE_S
    clock.now += CACHE_S
    assert container.order_sync().store_view == "after"
    # and a fresh read (a resync, a replay) sees the next change at once
    _prefs(cli, store_view="third")
    assert container.order_sync(fresh=True).store_view == "third"


def test_a_mapping_change_and_a_delete_bump_the_stamp_too(env: tuple[str, Clock, Counter[str]]) -> None:
    name, clock, _ = env
    container, cli = SettingsStore(name), SettingsStore(name)
    mapping = ShipViaMapping(ship_via="STAMPTEST", carrier_code="flatrate", method_code="flatrate", title="Flat")
    assert container.ship_via("STAMPTEST", "default") is None
    cli.put_mapping("shipvia", mapping)
    clock.now += CACHE_S
    assert container.ship_via("STAMPTEST", "default") == mapping
    assert cli.delete_mapping("shipvia", "STAMPTEST#all")
    clock.now += CACHE_S
    assert container.ship_via("STAMPTEST", "default") is None


def test_cached_reads_cost_no_request_and_an_unchanged_stamp_reloads_nothing(
        env: tuple[str, Clock, Counter[str]]) -> None:
    name, clock, calls = env
    container = SettingsStore(name)
    container.order_sync()
    container.mappings("payment")
    calls.clear()
    # Within the interval: nothing is read
    for _ in range(50):
        container.order_sync()
        container.mappings("payment")
    assert sum(calls.values()) == 0
    # After it: one stamp read, and nothing reloaded while nobody changed anything
    clock.now += CACHE_S
    container.order_sync()
    container.mappings("payment")
    assert calls == Counter({"get_item": 1})
    # A value is reloaded after MAX_AGE_S whatever the stamp says
    calls.clear()
    clock.now += MAX_AGE_S
    container.order_sync()
    assert calls == Counter({"get_item": 2})  # the stamp, then the preference
