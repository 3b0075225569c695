"""Read template.yaml and turn it into what CloudFormation would deploy (via aws-sam-translator).

The local runtime and the template tests both start here, so the local world is built from the same file
`sam deploy` ships and never from a second hand-written list.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _NoIamPolicyLoader(ManagedPolicyLoader):
    """The template names its policies inline; nothing needs looking up in IAM."""

    def __init__(self) -> None:  # no IAM client
        self._policy_map: dict[str, str] = {}

    def load(self) -> dict[str, str]:
        return self._policy_map


def load_sam_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(path.read_text())
    return parsed


def parameter_defaults(sam: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("Default") for k, v in sam.get("Parameters", {}).items() if "Default" in v}


def transform_template(
    sam: dict[str, Any], parameters: dict[str, Any] | None = None, region: str = "us-east-1"
) -> dict[str, Any]:
    """Expand the SAM template into plain CloudFormation, as `sam deploy` has CloudFormation do."""
    values = {**parameter_defaults(sam), **(parameters or {})}
    values.setdefault("AWS::Region", region)
    old = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        return transform(copy.deepcopy(sam), values, _NoIamPolicyLoader())
    finally:
        if old is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = old


@dataclass(frozen=True)
class SqsSource:
    """One SQS event source mapping as the template declares it."""

    function: str  # logical id of the function
    queue: str  # logical id of the queue
    batch_size: int
    batching_window_s: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    expression: str
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory: int
    has_url: bool
    sqs: list[SqsSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)


def _ref_logical(value: Any) -> str:
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return str(att[0] if isinstance(att, list) else att.split(".")[0])
    raise ValueError(f"cannot resolve a logical id from {value!r}")


def function_specs(sam: dict[str, Any]) -> dict[str, FunctionSpec]:
    """The functions of the SAM template with Globals applied, their SQS sources and schedules."""
    g = sam.get("Globals", {}).get("Function", {})
    params = parameter_defaults(sam)
    specs: dict[str, FunctionSpec] = {}
    for lid, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        p = res["Properties"]
        sqs, schedules = [], []
        for ev in p.get("Events", {}).values():
            ep = ev.get("Properties", {})
            if ev["Type"] == "SQS":
                sqs.append(SqsSource(
                    function=lid,
                    queue=_ref_logical(ep["Queue"]),
                    batch_size=int(ep.get("BatchSize", 10)),
                    batching_window_s=int(ep.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                    maximum_concurrency=(ep.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                ))
            elif ev["Type"] in ("Schedule", "ScheduleV2"):
                expr = ep.get("Schedule") or ep.get("ScheduleExpression")
                if isinstance(expr, dict) and "Ref" in expr:
                    expr = params[expr["Ref"]]
                schedules.append(ScheduleSource(function=lid, expression=str(expr), enabled=ep.get("Enabled", True)))
        specs[lid] = FunctionSpec(
            logical_id=lid,
            code_uri=p["CodeUri"],
            handler=p.get("Handler", g.get("Handler", "")),
            timeout=int(p.get("Timeout", g.get("Timeout", 3))),
            memory=int(p.get("MemorySize", g.get("MemorySize", 128))),
            has_url="FunctionUrlConfig" in p,
            sqs=sqs,
            schedules=schedules,
        )
    return specs


def rate_seconds(expression: str) -> float:
    """Seconds between firings of a `rate(...)` schedule expression (cron is not played locally)."""
    inner = expression.strip()
    if not (inner.startswith("rate(") and inner.endswith(")")):
        raise ValueError(f"only rate() schedules are played locally, got {expression!r}")
    amount, unit = inner[5:-1].split()
    per = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]
    return int(amount) * per


def package_code_uris(sam: dict[str, Any], bucket: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """Do what `sam package` does to local code paths: point them at S3 objects.

    Returns the rewritten template and, per S3 key, the local folder to zip and upload there.
    """
    packaged = copy.deepcopy(sam)
    uploads: dict[str, Path] = {}
    for lid, res in packaged["Resources"].items():
        prop = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(res["Type"])
        if prop is None:
            continue
        local = res["Properties"][prop]
        if isinstance(local, str) and not local.startswith("s3://"):
            key = f"{lid}.zip"
            uploads[key] = PROJECT_ROOT / local
            res["Properties"][prop] = f"s3://{bucket}/{key}"
    return packaged, uploads
