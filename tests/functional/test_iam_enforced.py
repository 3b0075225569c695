"""IAM in the local world: every function's AWS calls are signed as its own role and allowed or refused by that
role's policies as AWS would (amsync_local.iam_policy, the moto server's IAM gate); the operator policy in
docs/deploy.md is checked the same way."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from world_support import WorldDriver

from amsync_local.template import PROJECT_ROOT, TEMPLATE_PATH
from amsync_local.world import LocalWorld, WorldOptions


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def test_each_function_signs_as_its_own_role_and_gets_only_what_its_policy_grants(bare_runtime: Any) -> None:
    stack = bare_runtime.stack
    webhook = bare_runtime.functions["WebhookFunction"].role
    writer = bare_runtime.functions["MagentoWriterFunction"].role
    sqs, ddb = bare_runtime.boto("sqs", webhook), bare_runtime.boto("dynamodb", webhook)
    sm = bare_runtime.boto("secretsmanager", webhook)
    # Given the webhook's role: it may queue requests and read its own secret
    sqs.send_message(QueueUrl=stack.physical_ids["InventoryQueue"], MessageBody="{}", DelaySeconds=900)
    assert "SecretString" in sm.get_secret_value(SecretId="amsync/webhook")
    # Then a consumer's action, another table's write and another secret are refused, as AWS refuses them
    with pytest.raises(ClientError) as sqs_denied:
        sqs.receive_message(QueueUrl=stack.physical_ids["OrderQueue"])
    assert _code(sqs_denied.value) == "AccessDenied"
    with pytest.raises(ClientError) as ddb_denied:
        ddb.delete_item(TableName=stack.physical_ids["SettingsTable"], Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert _code(ddb_denied.value) == "AccessDeniedException"
    assert "is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:" in str(ddb_denied.value)
    with pytest.raises(ClientError) as sm_denied:
        sm.get_secret_value(SecretId="amsync/acumatica")
    assert _code(sm_denied.value) == "AccessDeniedException"
    # and the writer's role may no longer queue follow-ups or stock (the grants no code used are gone)
    with pytest.raises(ClientError) as requeue:
        bare_runtime.boto("sqs", writer).send_message(QueueUrl=stack.physical_ids["FulfilmentQueue"],
                                                      MessageBody="{}", MessageGroupId="g",
                                                      MessageDeduplicationId=uuid.uuid4().hex)
    assert _code(requeue.value) == "AccessDenied"
    bare_runtime.boto("sqs").purge_queue(QueueUrl=stack.physical_ids["InventoryQueue"])


def test_code_running_in_a_function_is_signed_as_that_function(bare_runtime: Any) -> None:
    # Given every container of a function runs a probe that asks STS who its calls are made as
    seen: list[str] = []

    def probe(event: Any, context: Any) -> Any:
        import boto3  # the default chain, as the connector's data layer builds its clients

        seen.append(boto3.client("sts").get_caller_identity()["Arn"])
        return {"batchItemFailures": []}
    fn = bare_runtime.functions["InventoryFunction"]
    originals = {id(m): m.handler for m in fn.modules}
    for m in fn.modules:
        m.handler = probe
    try:
        # When the function is invoked as its event source would
        bare_runtime.invoke("InventoryFunction", {"Records": []})
    finally:
        for m in fn.modules:
            m.handler = originals[id(m)]
    # Then the call was the function's role's, not the local world's root
    assert seen and re.search(r":assumed-role/[^/]*InventoryFunctionRole[^/]*/", seen[0]), seen


# ------------------------------------------------------------------ a permission taken away stops the flow


def _without_action(template: str, function: str, action: str) -> str:
    """template.yaml with ``action`` removed from ``function``'s policy statements only."""
    start = template.index(f"\n  {function}:\n")
    end = template.index("\n\n", template.index("      Policies:", start))
    block = template[start:end]
    assert action in block, f"{function} does not grant {action}"
    cut = re.sub(rf"(\[|, ){re.escape(action)}(, |\])",
                 lambda m: "[" if m.group(1) == "[" and m.group(2) == ", " else
                 ("]" if m.group(2) == "]" and m.group(1) == ", " else ", "), block)
    assert action not in cut
    return template[:start] + cut + template[end:]


@pytest.fixture(params=["committed", "without BatchGetItem"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, WorldDriver, Path]]:
    log = tmp_path / "functions.log"
    template = TEMPLATE_PATH
    if request.param != "committed":
        template = tmp_path / "template.yaml"
        template.write_text(_without_action(TEMPLATE_PATH.read_text(), "OrderSyncFunction", "dynamodb:BatchGetItem"))
    opts = WorldOptions(start_schedules=False, stack_name=f"amsync-iam-{uuid.uuid4().hex[:6]}",
                        function_log=log, template_path=template)
    with LocalWorld(opts) as w:
        yield request.param, WorldDriver(w), log


def test_a_permission_removed_from_one_function_stops_its_part_of_the_flow(
        world: tuple[str, WorldDriver, Path]) -> None:
    case, driver, log = world
    # Given an order placed and paid in Acumatica
    nbr = driver.acu.create_order(ship_via=driver.ship_via)
    driver.acu.record_payment(nbr)
    if case == "committed":
        # Then with the template as committed it reaches Magento
        driver.settle()
        assert len(driver.mag.orders_for(nbr)) == 1
        assert "AccessDenied" not in log.read_text()
        return
    # When OrderSync's role lacks dynamodb:BatchGetItem (its licence-seat read before each Acumatica login)
    deadline = time.monotonic() + 60
    denied: list[str] = []
    while time.monotonic() < deadline and not denied:
        time.sleep(0.2)
        denied = [line for line in log.read_text().splitlines()
                  if "AccessDeniedException" in line and "BatchGetItem" in line]
    # Then OrderSync's records fail with AWS's refusal, naming the action and the role, and nothing reaches Magento
    assert denied, "OrderSync was never refused"
    assert "OrderSyncFunctionRole" in denied[0] and "not authorized to perform: dynamodb:BatchGetItem" in denied[0]
    assert driver.mag.orders_for(nbr) == []


# ------------------------------------------------------------------ the operator policy of docs/deploy.md


def _operator_policy(stack: str, token_key: str) -> dict[str, Any]:
    text = (PROJECT_ROOT / "docs/deploy.md").read_text()
    section = text[text.index("## 9. The operator's IAM policy"):]
    block = section[section.index("```json") + 7:]
    raw = block[:block.index("```")]
    raw = raw.replace("REGION", "us-east-1").replace("ACCOUNT", "123456789012").replace("STACK", stack)
    raw = raw.replace("TOKEN_KEY_ARN", token_key)  # the stack's output AcumaticaTokenKeyArn
    doc: dict[str, Any] = json.loads(raw)
    return doc


@pytest.fixture(scope="module")
def operator_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorldDriver, Path]]:
    folder = tmp_path_factory.mktemp("operator")
    with LocalWorld(WorldOptions(start_schedules=False, stack_name=f"amsync-op-{uuid.uuid4().hex[:6]}")) as w:
        w.write_endpoints(folder / ".local" / "endpoints.json")
        yield WorldDriver(w), folder


def _operator(driver: WorldDriver, policy: dict[str, Any]) -> dict[str, str]:
    iam = driver.runtime.boto("iam")
    name = f"operator-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="amsync-operator", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _amsync(folder: Path, creds: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | creds
    return subprocess.run([sys.executable, "-m", "amsync_cli.main", "--local", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


OPERATOR_COMMANDS: list[tuple[str, ...]] = [
    ("status",), ("logs", "--limit", "5"), ("logs", "--entity", "{nbr}"), ("logs", "--result", "Failure",
                                                                          "--since", "1h"),
    ("dlq", "list"), ("dlq", "replay", "OrderDLQ", "--entity", "{nbr}"), ("resync", "order", "{nbr}"),
    ("mappings", "ship-via", "list"), ("preferences", "show"),
    ("mappings", "ship-via", "set", "ship_via=OPS", "carrier_code=flatrate", "method_code=flatrate",
     "title=Flat Rate"), ("mappings", "ship-via", "rm", "OPS#all"), ("mappings", "update-schema"),
    # (audit: a week before the world's orders, so that it finds nothing and exits 0; the world's seeded standing
    # order, eligible but with no Ship Via, is a difference on any day that holds it)
    ("timeline", "SO", "{nbr}"), ("preview", "SO", "{nbr}"), ("audit", "--from", "2020-01-01", "--to", "2020-01-07"),
]


def test_the_documented_operator_policy_runs_every_command_and_no_less_would(
        operator_world: tuple[WorldDriver, Path]) -> None:
    driver, folder = operator_world
    nbr, _ = driver.paid_order()
    policy = _operator_policy(driver.world.options.stack_name,
                              driver.runtime.functions["OrderSyncFunction"].env["ACUMATICA_TOKEN_KEY"])
    creds = _operator(driver, policy)
    # When an operator holding exactly the documented policy runs every command
    for args in OPERATOR_COMMANDS:
        done = _amsync(folder, creds, *(a.format(nbr=nbr) for a in args))
        # Then each succeeds
        assert done.returncode == 0 and "AccessDenied" not in done.stdout + done.stderr, (args, done.stderr[-2000:])
    # And with Query taken from the log statement, reading the log fails with AWS's refusal
    narrowed = json.loads(json.dumps(policy))
    for stmt in narrowed["Statement"]:
        if stmt["Sid"] == "ReadTheConnectorLog":
            stmt["Action"].remove("dynamodb:Query")
    done = _amsync(folder, _operator(driver, narrowed), "logs", "--entity", nbr)
    assert done.returncode != 0 and "AccessDeniedException" in done.stdout + done.stderr
    # And with BatchGetItem taken from it, an entity's timeline (whose rows' details the index does not hold) fails
    narrowed = json.loads(json.dumps(policy))
    for stmt in narrowed["Statement"]:
        if stmt["Sid"] == "ReadTheConnectorLog":
            stmt["Action"].remove("dynamodb:BatchGetItem")
    done = _amsync(folder, _operator(driver, narrowed), "logs", "--entity", nbr)
    assert done.returncode != 0 and "not authorized to perform: dynamodb:BatchGetItem" in done.stdout + done.stderr
