"""template.yaml deploys into moto's CloudFormation, and `sam build` builds it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from amsync_local.stack import MOTO_SKIPPED_TYPES

ROOT = Path(__file__).resolve().parents[2]


def test_every_resource_of_the_transformed_template_is_created_in_moto(bare_runtime) -> None:  # type: ignore[no-untyped-def]
    # Given the stack the local runtime deployed from template.yaml
    stack = bare_runtime.stack
    # Then everything was created but the types moto is known to skip (checked in tests/unit instead)
    assert set(stack.skipped.values()) <= MOTO_SKIPPED_TYPES, stack.skipped
    assert "WebhookFunctionUrl" in stack.skipped
    sqs = bare_runtime.boto("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=stack.physical_ids["OrderQueue"], AttributeNames=["All"])["Attributes"]
    # (the runtime scales the template's 180 s visibility timeout by its visibility_scale)
    assert attrs["FifoQueue"] == "true"
    assert attrs["VisibilityTimeout"] == str(round(180 * bare_runtime.visibility_scale))
    assert '"maxReceiveCount":5' in attrs["RedrivePolicy"].replace(" ", "")
    ddb = bare_runtime.boto("dynamodb")
    desc = ddb.describe_table(TableName=stack.physical_ids["ConnectorLogTable"])["Table"]
    assert {g["IndexName"] for g in desc["GlobalSecondaryIndexes"]} == {"by-entity-v3", "failures-by-day-v3"}
    lam = bare_runtime.boto("lambda")
    esm = lam.list_event_source_mappings(FunctionName=stack.physical_ids["OrderSyncFunction"])["EventSourceMappings"]
    assert esm[0]["BatchSize"] == 10 and esm[0]["ScalingConfig"]["MaximumConcurrency"] == 2


def test_bindings_and_settings_resist_deletion_unless_told(bare_runtime) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from botocore.exceptions import ClientError

    from amsync_local.stack import deploy_stack

    ddb = bare_runtime.boto("dynamodb")
    # Given the stack deployed with the template's defaults: the connector's memory cannot be deleted
    for lid in ("BindingsTable", "SettingsTable"):
        name = bare_runtime.stack.physical_ids[lid]
        assert ddb.describe_table(TableName=name)["Table"]["DeletionProtectionEnabled"] is True, lid
        with pytest.raises(ClientError, match="DeletionProtectionEnabled"):
            ddb.delete_table(TableName=name)
    # When a stack is deployed with TableDeletionProtection=false (a test stack that is to be torn down)
    other = deploy_stack(bare_runtime.endpoint_url, f"{bare_runtime.stack_name}-teardown", bare_runtime.stack.region,
                         {"TableDeletionProtection": "false"})
    # Then its tables go (moto alone would read the parameter's string "false" as true)
    for lid in ("BindingsTable", "SettingsTable", "ConnectorLogTable"):
        assert ddb.describe_table(TableName=other.physical_ids[lid])["Table"]["DeletionProtectionEnabled"] is False
        ddb.delete_table(TableName=other.physical_ids[lid])


def test_functions_get_their_own_environment_from_the_template(bare_runtime) -> None:  # type: ignore[no-untyped-def]
    names = {lid: fn.env["POWERTOOLS_SERVICE_NAME"] for lid, fn in bare_runtime.functions.items()}
    assert names["WebhookFunction"] == "webhook" and names["OrderSyncFunction"] == "order_sync"
    env = bare_runtime.functions["OrderSyncFunction"].env
    assert env["ORDER_QUEUE_URL"] == bare_runtime.stack.physical_ids["OrderQueue"]
    assert env["BINDINGS_TABLE"] == bare_runtime.stack.physical_ids["BindingsTable"]


def _sam() -> str:
    candidate = os.environ.get("SAM_BIN") or str(ROOT / ".tools/sam/bin/sam")
    assert Path(candidate).exists() or shutil.which(candidate), "aws-sam-cli missing: run `make setup`"
    return candidate


def test_sam_build_builds_every_function_and_the_layer(tmp_path: Path) -> None:
    # When sam build runs without a container
    out = tmp_path / "build"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    proc = subprocess.run([_sam(), "build", "--build-dir", str(out), "--template", str(ROOT / "template.yaml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Then the layer carries the connector package and its pinned dependencies, and every function its handler
    layer = next(p for p in out.iterdir() if p.name.startswith("ConnectorLayer"))
    assert (layer / "python/amsync/services/intake.py").exists()
    assert (layer / "python/pydantic").exists() and (layer / "python/httpx").exists()
    for fn in ("WebhookFunction", "OrderSyncFunction", "MagentoWriterFunction", "FulfilmentFunction",
               "InventoryFunction", "ReconcilerFunction"):
        assert (out / fn / "app.py").exists(), fn
    # and everything packaged is built for arm64, the functions' architecture (tests/build_check.py: every ELF
    # file's machine, every wheel's tag)
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from build_check import check
    finally:
        sys.path.pop(0)
    report = check(out, "arm64")
    assert report.elf_files > 0 and report.wheels > 0 and not report.problems, report
