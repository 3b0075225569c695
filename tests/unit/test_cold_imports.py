"""Cold start: each function's module loads what its own work needs, and the bench times it as on Lambda (only the
layer's distributions and the runtime's boto3 importable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout, not an installed package

from bench import cold  # noqa: E402

ENV = {"ACUMATICA_URL": "http://127.0.0.1:1", "ACUMATICA_ENDPOINT": "/entity/Default/24.200.001",
       "ACUMATICA_SECRET_NAME": "a", "MAGENTO_URL": "http://127.0.0.1:2", "MAGENTO_SECRET_NAME": "m",
       "WEBHOOK_SECRET_NAME": "w", "SETTINGS_TABLE": "s", "BINDINGS_TABLE": "b", "CONNECTOR_LOG_TABLE": "c",
       "ORDER_QUEUE_URL": "q1", "MAGENTO_ORDER_QUEUE_URL": "q2.fifo", "FULFILMENT_QUEUE_URL": "q3.fifo",
       "INVENTORY_QUEUE_URL": "q4", "CUSTOMER_QUEUE_URL": "q5", "RETURN_QUEUE_URL": "q6",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
LOADED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler_under_test", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(function: str) -> set[str]:
    """The modules a fresh interpreter holds once the function's module is imported (its INIT phase), as on Lambda."""
    code = cold.AS_ON_LAMBDA.format(blocked=sorted(cold.not_shipped())) + LOADED.format(
        path=str(ROOT / "functions" / function / "app.py"))
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT / "shared")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,  # noqa: S603
                          timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", ["order_sync", "magento_writer", "fulfilment", "inventory"])
def test_a_queue_consumer_never_loads_the_webhooks_intake(function: str) -> None:
    loaded = _loaded(function)
    assert "amsync.consumer" in loaded  # it did load (its own work)
    assert not {"amsync.services.intake", "amsync.models.push"} & loaded


def test_the_webhook_loads_no_api_client_and_no_service_but_intake() -> None:
    loaded = _loaded("webhook")
    assert "amsync.services.intake" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("httpx", "tenacity")}
    assert not {m for m in loaded if m.startswith("amsync.services.") and m not in (
        "amsync.services", "amsync.services.intake", "amsync.services.log_rows", "amsync.services.exporting")}


def test_the_bench_imports_as_lambda_does_the_layer_and_boto3_only() -> None:
    blocked = cold.not_shipped()
    # the CLI's and the tests' distributions are not on Lambda (httpx imports its CLI, rich and click, if it finds them)
    assert {"rich", "click", "pygments", "typer", "moto", "pytest"} <= blocked
    # the layer's (shared/requirements.txt and what they require), the runtime's boto3 and the connector itself are
    assert not blocked & {"httpx", "httpcore", "h11", "anyio", "certifi", "idna", "pydantic", "pydantic_core",
                          "aws_lambda_powertools", "tenacity", "boto3", "botocore", "jmespath", "urllib3",
                          "s3transfer", "dateutil", "amsync"}


@pytest.mark.parametrize("function", ["order_sync", "magento_writer", "fulfilment", "inventory", "customer_sync",
                                      "return_sync"])
def test_a_queue_consumer_loads_the_batch_utilities_without_the_parser_models(function: str) -> None:
    # Powertools builds its parser's record models when pydantic is loaded before its batch utilities; the
    # consumer never uses them (~30 ms of cold start)
    loaded = _loaded(function)
    assert "aws_lambda_powertools.utilities.batch" in loaded
    assert not {m for m in loaded if m.startswith("aws_lambda_powertools.utilities.parser")}


def test_the_webhook_loads_neither_the_binder_nor_the_connector_log_nor_the_seat_pool() -> None:
    loaded = _loaded("webhook")
    assert "amsync.composition" in loaded
    assert not {"amsync.data.bindings", "amsync.data.connector_log", "amsync.data.seats"} & loaded


def test_the_credit_memo_poller_loads_no_queue_consumer() -> None:
    loaded = _loaded("credit_memo_poller")
    assert "amsync.composition_returns" in loaded
    assert not {m for m in loaded if m == "amsync.consumer" or m.startswith("aws_lambda_powertools.utilities.batch")}


def test_a_function_the_bench_did_not_invoke_is_measured_with_the_clients_of_its_like() -> None:
    log = cold.ClientLog()
    log.clients = {"CustomerPollerFunction": {"sqs", "dynamodb"}, "OrderSyncFunction": {"dynamodb"}}
    log.tables = {"CustomerPollerFunction": {"Bindings"}}
    secrets = {"CustomerPollerFunction": True, "CreditMemoPollerFunction": False, "ReturnSyncFunction": False}
    assert cold.clients_for("CreditMemoPollerFunction", log, secrets) == (
        "CustomerPollerFunction", ["dynamodb", "sqs"], ["Bindings"], True)
    # its like not invoked either: nothing to borrow, measured bare; a function invoked keeps its own clients
    assert cold.clients_for("ReturnSyncFunction", log, secrets) == ("ReturnSyncFunction", [], [], False)
    log.clients["CreditMemoPollerFunction"] = {"dynamodb"}
    assert cold.clients_for("CreditMemoPollerFunction", log, secrets) == (
        "CreditMemoPollerFunction", ["dynamodb"], [], False)
    assert cold.clients_for("OrderSyncFunction", log, secrets) == ("OrderSyncFunction", ["dynamodb"], [], False)


def test_the_customer_poller_loads_no_customer_sync() -> None:
    loaded = _loaded("customer_poller")
    assert "amsync.services.customer_poller" in loaded
    assert not {"amsync.services.customer_sync", "amsync.services.order_writer", "amsync.consumer"} & loaded
