"""The connector log table serves the access patterns an ops person needs (against moto, table from the template)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from amsync.data.connector_log import ConnectorLog
from amsync.models.log import Action, Group, LogEntry, Result, Side


def _log(rt: Any) -> ConnectorLog:
    return ConnectorLog(rt.functions["OrderSyncFunction"].env["CONNECTOR_LOG_TABLE"], ttl_days=1)


def test_newest_first_one_entitys_timeline_failures_of_a_day_and_one_entry_by_id(bare_runtime: Any) -> None:
    # Given rows for two orders, one of them failed
    log = _log(bare_runtime)
    rows = [LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=r, notes=n, entity_key=n,
                     message=f"{n} {r.value}") for n, r in (("SOTLOG1", Result.SUCCESS), ("SOTLOG2", Result.FAILURE),
                                                         ("SOTLOG1", Result.SUCCESS))]
    for r in rows:
        log.write(r)
    # Then newest first, per entity, failures by day, and by id all answer
    newest = [e.log_id for e in log.newest(Side.MAGENTO, limit=3)]
    assert newest == sorted(newest, reverse=True) and newest[0] == rows[-1].log_id
    assert [e.message for e in log.timeline("SOTLOG1")] == ["SOTLOG1 Success", "SOTLOG1 Success"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert [e.notes for e in log.failures(today) if e.notes.startswith("SOTLOG")] == ["SOTLOG2"]
    got = log.get(rows[1].log_id, Side.MAGENTO)
    assert got is not None and got.result == Result.FAILURE and got.message == "SOTLOG2 Failure"


def test_view_details_too_large_for_one_item_are_kept_beside_it_whole(bare_runtime: Any) -> None:
    # Given an entry whose request/response is far over DynamoDB's 400 KB item limit
    log = _log(bare_runtime)
    big = {"request": {"lines": [{"sku": f"SKU{i:05d}", "text": "x" * 100} for i in range(6000)]}}
    entry = log.write(LogEntry(side=Side.MAGENTO, group=Group.ORDER, action=Action.CREATE, result=Result.SUCCESS,
                               notes="SOTBIG", entity_key="SOTBIG", details=big))
    # Then reading it by Log Id gives the details back whole, and listings are not cluttered by the chunks
    got = log.get(entry.log_id, Side.MAGENTO)
    assert got is not None and got.details == big
    assert [e.notes for e in log.timeline("SOTBIG")] == ["SOTBIG"]


def test_secrets_are_removed_from_view_details(bare_runtime: Any) -> None:
    log = _log(bare_runtime)
    entry = log.write(LogEntry(side=Side.MAGENTO, notes="SOTSEC", entity_key="SOTSEC",
                               details={"request": {"headers": {"Authorization": "Bearer abc", "X-AMSync-Key": "k"},
                                                    "password": "p", "body": {"sku": "A"}}}))
    got = log.get(entry.log_id, Side.MAGENTO)
    assert got is not None
    headers = got.details["request"]["headers"]
    assert headers == {"Authorization": "***", "X-AMSync-Key": "***"} and got.details["request"]["password"] == "***"
    assert got.details["request"]["body"] == {"sku": "A"}
