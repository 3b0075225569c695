"""Finding a stack: the local world (.local/endpoints.json) or a deployed one (profile, region, stack name)."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from amsync.config import Settings

LOCAL_ENDPOINTS = Path(".local") / "endpoints.json"


class StackNotFound(Exception):
    pass


@dataclass
class StackContext:
    name: str
    region: str
    physical_ids: dict[str, str]
    settings: Settings
    endpoint_url: str | None
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def queue_urls(self) -> dict[str, str]:
        return {k: v for k, v in self.physical_ids.items() if k.endswith("Queue") or k.endswith("DLQ")}


def samconfig_stack(path: Path = Path("samconfig.toml"), env: str = "default") -> tuple[str | None, str | None]:
    if not path.exists():
        return None, None
    data = tomllib.loads(path.read_text())
    block = data.get(env, {})
    name = block.get("global", {}).get("parameters", {}).get("stack_name")
    region = block.get("deploy", {}).get("parameters", {}).get("region")
    return name, region


def resolve(stack: str | None, profile: str | None, region: str | None, local: bool | None,
            config_env: str = "default") -> StackContext:
    """The local world when asked (or when .local/endpoints.json exists and no stack is named), else AWS."""
    endpoint_url = None
    if local or (local is None and stack is None and LOCAL_ENDPOINTS.exists()):
        if not LOCAL_ENDPOINTS.exists():
            raise StackNotFound(f"{LOCAL_ENDPOINTS} not found: start the local world with `make local`")
        ep = json.loads(LOCAL_ENDPOINTS.read_text())["aws"]
        endpoint_url, region, stack = ep["endpoint_url"], ep["region"], stack or ep.get("stack_name", "amsync-local")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    else:
        default_name, default_region = samconfig_stack(env=config_env)
        stack, region = stack or default_name, region or default_region
    if not stack:
        raise StackNotFound("no stack: pass --stack or run inside the project (samconfig.toml)")
    if profile:
        os.environ["AWS_PROFILE"] = profile  # the connector's data layer uses the default session
    session = boto3.session.Session(profile_name=profile, region_name=region or "us-east-1")
    os.environ["AWS_DEFAULT_REGION"] = session.region_name
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    physical: dict[str, str] = {}
    try:
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            for r in page["StackResourceSummaries"]:
                physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    except Exception as exc:  # botocore ClientError / connection errors: say what to fix
        raise StackNotFound(f"stack {stack!r} not found in {session.region_name}: {exc}") from exc
    lam = session.client("lambda", endpoint_url=endpoint_url)
    env = lam.get_function_configuration(FunctionName=physical["OrderSyncFunction"])["Environment"]["Variables"]
    settings = Settings.from_env({k: str(v) for k, v in env.items()})
    return StackContext(stack, session.region_name, physical, settings, endpoint_url, session)
