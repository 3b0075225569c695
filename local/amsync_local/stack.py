"""Deploy template.yaml into moto's CloudFormation and describe what got created.

This is `sam package` + `sam deploy` for the local world: code folders are zipped to (moto) S3, the SAM
template is transformed with aws-sam-translator and created as a CloudFormation stack. Queues, tables,
roles, functions, layers, event source mappings, log groups and the schedule rule are then real moto
resources with the template's own names and settings.

moto 5.2.5 silently skips some resource types while the stack still reports CREATE_COMPLETE
(``MOTO_SKIPPED_TYPES``); :func:`deploy_stack` reports them and tests/unit check those resources in the
transformed template instead (the Function URL is played by the local runtime's HTTP server).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from amsync_local.template import (
    load_sam_template,
    package_code_uris,
    parameter_defaults,
    transform_template,
)

CODE_BUCKET = "amsync-local-code"
# Resource types moto's CloudFormation accepts but never creates (seen with moto 5.2.5).
MOTO_SKIPPED_TYPES = frozenset({
    "AWS::Lambda::Url",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::QueryDefinition",
    "AWS::Logs::MetricFilter",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",  # the topic stays with moto's default policy; the template's is checked in tests/unit
    "AWS::Scheduler::Schedule",
})


@dataclass
class DeployedStack:
    name: str
    region: str
    transformed: dict[str, Any]
    physical_ids: dict[str, str]  # logical id -> physical id (queue URL, table name, function name...)
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> type moto did not create
    function_env: dict[str, dict[str, str]] = field(default_factory=dict)  # function logical id -> env vars

    def queue_url(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def outputs_env(self) -> dict[str, str]:
        return {}


def _zip_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def _without_outputs_on_skipped(template: dict[str, Any]) -> dict[str, Any]:
    """moto fails validating an Output that reads an attribute of a type it skipped; leave those out locally."""
    skipped = {lid for lid, r in template["Resources"].items() if r["Type"] in MOTO_SKIPPED_TYPES}
    outputs = {
        k: v for k, v in template.get("Outputs", {}).items()
        if not any(f'"{lid}"' in json.dumps(v) for lid in skipped)
    }
    return {**template, "Outputs": outputs}


def _set_deletion_protection(ddb: Any, transformed: dict[str, Any], physical: dict[str, str],
                             values: dict[str, Any]) -> None:
    """moto 5.2.5 keeps a table's DeletionProtectionEnabled as the template passes it: from a String parameter
    that is the string "false", which moto takes for true (CloudFormation turns it into the boolean). Set what
    CloudFormation would set."""
    for lid, res in transformed["Resources"].items():
        value = res.get("Properties", {}).get("DeletionProtectionEnabled")
        if res["Type"] != "AWS::DynamoDB::Table" or value is None or lid not in physical:
            continue
        if isinstance(value, dict) and "Ref" in value:
            value = values[value["Ref"]]
        ddb.update_table(TableName=physical[lid], DeletionProtectionEnabled=str(value).lower() == "true")


class ParameterRejected(ValueError):
    """A parameter value CloudFormation would refuse (moto does not check the template's constraints)."""


def check_parameters(sam: dict[str, Any], values: dict[str, Any]) -> None:
    """CloudFormation's parameter constraints: AllowedValues, AllowedPattern, MinValue/MaxValue (Number),
    MinLength/MaxLength (String). moto creates the stack whatever the values, so the local world checks them."""
    import re

    for name, spec in sam.get("Parameters", {}).items():
        if name not in values:
            continue
        raw = str(values[name])
        why = None
        if "AllowedValues" in spec and raw not in [str(v) for v in spec["AllowedValues"]]:
            why = f"must be one of {spec['AllowedValues']}"
        elif "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), raw):
            why = f"must match pattern {spec['AllowedPattern']}"
        elif spec.get("Type") == "Number":
            try:
                number = float(raw)
            except ValueError:
                why = "must be a number"
            else:
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    why = f"must be no less than {spec['MinValue']}"
                elif "MaxValue" in spec and number > float(spec["MaxValue"]):
                    why = f"must be no greater than {spec['MaxValue']}"
        elif "MinLength" in spec and len(raw) < int(spec["MinLength"]) or \
                "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
            why = "has a length outside MinLength/MaxLength"
        if why:
            raise ParameterRejected(f"Parameter '{name}' {why} (value {raw!r}): CloudFormation refuses the stack")


def deploy_stack(
    endpoint_url: str,
    stack_name: str = "amsync-local",
    region: str = "us-east-1",
    parameters: dict[str, str] | None = None,
    template_path: Path | None = None,
) -> DeployedStack:
    """Package, transform and create the stack in moto (from ``template_path``, template.yaml by default);
    return its resources."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    lam = session.client("lambda", endpoint_url=endpoint_url)

    sam = load_sam_template(template_path) if template_path is not None else load_sam_template()
    packaged, uploads = package_code_uris(sam, CODE_BUCKET)
    try:
        s3.create_bucket(Bucket=CODE_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for key, folder in uploads.items():
        s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=_zip_dir(folder))

    values = {**parameter_defaults(sam), **(parameters or {})}
    check_parameters(sam, values)
    transformed = transform_template(packaged, values, region)
    # moto logs "No Moto CloudFormation support for ..." for the types in MOTO_SKIPPED_TYPES: reported below instead
    logging.getLogger("moto.cloudformation.parsing").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(_without_outputs_on_skipped(transformed)),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} ended {status}")

    physical: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for r in page["StackResourceSummaries"]:
            physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    skipped = {lid: r["Type"] for lid, r in transformed["Resources"].items() if lid not in physical}
    _set_deletion_protection(session.client("dynamodb", endpoint_url=endpoint_url), transformed, physical, values)

    # moto would play the event source mappings itself (one record per invocation, through Docker, ignoring
    # batchItemFailures) and swallow the messages: switch its player off; the local runtime plays them.
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for esm in page["EventSourceMappings"]:
            lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)

    env: dict[str, dict[str, str]] = {}
    for lid, res in transformed["Resources"].items():
        if res["Type"] == "AWS::Lambda::Function" and lid in physical:
            cfg = lam.get_function_configuration(FunctionName=physical[lid])
            env[lid] = dict(cfg.get("Environment", {}).get("Variables", {}))
    return DeployedStack(stack_name, region, transformed, physical, skipped, env)
