"""The benchmark's arithmetic on fixed inputs: DynamoDB item sizes and units as DynamoDB bills them, the cost per
order at the listed prices, the per-order usage drawn from the meter's counters, and the results file's schema
(also of bench/results.json as committed). No timing is asserted."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from amsync_local.metering import Image, index_write_units, item_size, number_size, read_units, write_units

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout, not an installed package

from bench.instruments import Phase, operation_of  # noqa: E402
from bench.prices import cost_per_order, gb_seconds  # noqa: E402
from bench.results import TARGETS, Functions, check_schema, platform_log_bytes, summarise, usage  # noqa: E402


def test_item_size_follows_the_dynamodb_guide() -> None:
    # Given an item with a string, a number, a boolean, a list and a map
    item = {"pk": {"S": "ab"}, "n": {"N": "123.450"}, "b": {"BOOL": True},
            "l": {"L": [{"S": "x"}, {"N": "1"}]}, "m": {"M": {"k": {"S": "v"}}}}
    # When sized
    size = item_size(item)
    # Then: names + values; a number is 1 byte per two significant digits + 1; a list or map 3 bytes + 1 per element
    assert number_size("123.450") == 4 and number_size("-0.001") == 2 and number_size("1E+10") == 2
    assert size == (2 + 2) + (1 + 4) + (1 + 1) + (1 + 3 + (1 + 1) + (2 + 1)) + (1 + 3 + (1 + 1 + 1))


def test_units_round_up_per_started_kilobyte_and_four_kilobytes() -> None:
    assert [write_units(s) for s in (0, 1, 1024, 1025, 3000)] == [1, 1, 1, 2, 3]
    assert [read_units(s, True) for s in (0, 4096, 4097)] == [1.0, 1.0, 2.0]
    assert [read_units(s, False) for s in (0, 4096, 4097)] == [0.5, 0.5, 1.0]


def test_an_index_costs_a_write_per_entry_put_or_deleted() -> None:
    def image(key: str | None, size: int = 1500) -> Image:
        return Image(size, {"gsi": (key,) if key else None}, {"gsi": size})

    assert index_write_units(None, image("a")) == 2  # enters the index: a put of 1,500 bytes
    assert index_write_units(image("a"), None) == 2  # leaves it (delete): the old entry
    assert index_write_units(image("a"), image("b")) == 4  # its index key changes: delete + put
    assert index_write_units(image("a"), image("a", 900)) == 1  # updated in place: the new entry
    assert index_write_units(image(None), image(None)) == 0  # never in the (sparse) index


def test_cost_per_order_at_the_listed_prices() -> None:
    # Given one order's usage
    use = {"lambda_invocations": 10, "lambda_gb_s": 2.0, "sqs_fifo_requests": 20, "sqs_standard_requests": 5,
           "dynamodb_wru": 100, "dynamodb_rru": 40, "log_bytes": 2**30 / 1000, "secretsmanager_calls": 0.5}
    # When priced
    cost = cost_per_order(use)
    # Then each item is usage x its us-east-1 list price
    expected = {"lambda_requests": 10 * 0.20e-6, "lambda_duration": 2.0 * 0.0000133334,
                "sqs": 20 * 0.50e-6 + 5 * 0.40e-6, "dynamodb": 100 * 0.625e-6 + 40 * 0.125e-6,
                "cloudwatch_logs": 0.50 / 1000, "secrets_manager": 0.5 * 0.05 / 10_000}
    for k, v in expected.items():
        assert cost[k] == pytest.approx(v), k
    assert cost["total"] == pytest.approx(sum(expected.values()))
    assert gb_seconds(10.2, 256) == pytest.approx(11 / 1000 * 0.25)  # billed per started ms, 256 MB = 0.25 GB


def _inv(function: str, cpu: float, ms: float) -> SimpleNamespace:
    return SimpleNamespace(function=function, cpu_ms=cpu, duration_ms=ms)


def _phases() -> tuple[Functions, list[Phase]]:
    fns = Functions({"OrderSyncFunction": 256, "WebhookFunction": 256},
                    {"stack-OrderSync-1": "OrderSyncFunction", "stack-Webhook-1": "WebhookFunction"})
    meter = Counter({
        "stack-OrderSync-1\tfunction\trequest:dynamodb.GetItem": 4,
        "stack-OrderSync-1\tfunction\trequest:secretsmanager.GetSecretValue": 1,
        "stack-OrderSync-1\tfunction\tddb:rru": 2.0,
        "stack-OrderSync-1\tfunction\tddb:wru_table": 3,
        "stack-OrderSync-1\tfunction\tddb:wru_index": 2,
        "stack-Webhook-1\tfunction\trequest:sqs.SendMessageBatch": 2,
        "stack-Webhook-1\tfunction\tsqs_billed:fifo": 2,
        "stack-OrderSync-1\tpoller\trequest:sqs.ReceiveMessage": 6,
        "stack-OrderSync-1\tpoller\treceive:empty:fifo": 4,
        "stack-OrderSync-1\tpoller\treceive:with:fifo": 2,
        "stack-OrderSync-1\tpoller\tsqs_billed:fifo": 6 + 2,  # 6 receives, 2 deletes
        "stack-OrderSync-1\tpoller\trequest:sqs.DeleteMessageBatch": 2,
        "root\tfunction\trequest:dynamodb.Scan": 50,  # the harness: not the functions'
    })
    api = Counter({("OrderSyncFunction", "Acumatica", "GET SalesOrder"): 2,
                   ("OrderSyncFunction", "Acumatica", "login"): 1,
                   ("MagentoWriterFunction", "Magento", "PUT orders/create"): 2})
    invs = [_inv("WebhookFunction", 5.0, 10.0), _inv("OrderSyncFunction", 7.0, 120.4)]
    create = Phase("create", 1.0, api, meter, invs, 1000)
    entry = Phase("entry", 1.0, Counter(), Counter(), [_inv("WebhookFunction", 3.0, 4.0)], 500)
    return fns, [entry, create]


def test_usage_counts_the_functions_requests_and_leaves_out_the_harness_and_idle_polls() -> None:
    fns, (_, create) = _phases()
    u = usage([create], fns)
    assert u["aws_requests"] == 4 + 1 + 2  # root's 50 and the pollers' are not the functions'
    assert u["runtime_polling_requests"] == 6 + 2
    assert u["sqs_fifo_requests"] == 2 + (8 - 4)  # the webhook's sends + the mapping's receives with messages, deletes
    assert (u["dynamodb_wru"], u["dynamodb_rru"], u["secretsmanager_calls"]) == (5, 2.0, 1)
    assert (u["acumatica_calls"], u["acumatica_logins"], u["magento_calls"]) == (3, 1, 2)
    assert u["lambda_invocations"] == 2 and u["cpu_ms"] == 12.0
    assert u["log_bytes"] == 1000 + platform_log_bytes(10.0, 256) + platform_log_bytes(120.4, 256)


def _summary() -> dict:
    fns, phases = _phases()
    hops = [{"queue": "OrderQueue", "p50_ms": 20.0}, {"queue": "MagentoOrderQueue", "p50_ms": 30.0}]
    calls = [{"system": "Acumatica", "operation": "GET SalesOrder", "share_of_creates": 1.0},
             {"system": "Magento", "operation": "PUT orders/create", "share_of_creates": 1.0}]
    cold = {"OrderSyncFunction": {"ratio": 1.4}, "WebhookFunction": {"ratio": 1.6}}
    return summarise(meta={"commit": "abc", "machine": "test", "acumatica_login_latency_ms": 600,
                           "session_policy": "keep"},
                     orders=2, latency_ms=50, latencies=[150.0, 160.0, 400.0], floor_calls=calls, hops=hops,
                     life=phases, create=phases[1], cold=cold, fns=fns, problems=[], phases=phases)


def test_the_summary_has_every_key_of_the_schema_and_judges_each_target() -> None:
    result = _summary()
    assert check_schema(result) == []
    # the floor: the two calls the create path makes x 50 ms + the measured hops
    assert result["floor_ms"] == 150.0 and result["ratio_to_floor"]["p50"] == round(160.0 / 150.0, 2)
    assert set(result["targets_met"]) == set(TARGETS)
    assert result["targets_met"]["cold_init_vs_baseline"] is False  # the worst function decides (1.6 > 1.5)
    assert result["targets_met"]["create_magento_calls"] is True  # 2 creates / 2 orders
    assert result["per_order"]["create_acumatica_calls"] == 1.5
    del result["per_order"]["cpu_ms"]
    assert check_schema(result) == ["per_order.cpu_ms: missing"]


def test_a_call_the_create_path_does_not_make_is_left_out_of_the_floor() -> None:
    fns, phases = _phases()
    calls = [{"system": "Acumatica", "operation": "GET SalesOrder", "share_of_creates": 0.0},
             {"system": "Magento", "operation": "PUT orders/create", "share_of_creates": 1.0}]
    result = summarise(meta={}, orders=2, latency_ms=50, latencies=[100.0], floor_calls=calls,
                       hops=[{"p50_ms": 10.0}], life=phases, create=phases[1], cold={}, fns=fns, problems=[],
                       phases=phases)
    assert result["floor_ms"] == 60.0


def test_a_pool_slots_first_grant_is_counted_apart_from_the_steady_states_logins() -> None:
    fns, phases = _phases()
    calls = [{"system": "Acumatica", "operation": "GET SalesOrder", "share_of_creates": 1.0}]

    def logins(first_grants: int) -> dict:
        return summarise(meta={}, orders=2, latency_ms=50, latencies=[100.0], floor_calls=calls,
                         hops=[{"p50_ms": 10.0}], life=phases, create=phases[1], cold={}, fns=fns, problems=[],
                         phases=phases, first_grants=first_grants)
    # Given the measured phases' one login (2 orders): 500 per 1,000 orders
    assert logins(0)["acumatica_logins_per_1000_orders"] == 500.0
    # When that login filled a pool slot for the first time, it is not a steady-state login, and is shown apart
    result = logins(1)
    assert result["acumatica_logins_per_1000_orders"] == 0.0
    assert result["acumatica_logins"] == {"measured": 1, "first_grants": 1, "per_1000_orders_with_first_grants": 500.0}


def test_operations_are_named_without_keys() -> None:
    assert operation_of("Acumatica", "GET", "/entity/Default/24.200.001/SalesOrder/SO/SOT00024") == "GET SalesOrder"
    assert operation_of("Acumatica", "POST", "/entity/Default/24.200.001/Shipment/ConfirmShipment") \
        == "POST Shipment/ConfirmShipment"
    assert operation_of("Acumatica", "POST", "/identity/connect/token") == "login"
    assert operation_of("Magento", "GET", "/rest/default/V1/orders/1093") == "GET orders/{id}"
    assert operation_of("Magento", "PUT", "/rest/default/V1/orders/create") == "PUT orders/create"


def test_the_committed_results_file_keeps_the_schema() -> None:
    path = ROOT / "bench" / "results.json"
    assert path.exists(), "bench/results.json is committed from the last full run (make bench writes it)"
    assert check_schema(json.loads(path.read_text())) == []
