"""Project checks on template.yaml for what cfn-lint and `sam validate --lint` do not catch."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from amsync_local.stack import MOTO_SKIPPED_TYPES
from amsync_local.template import load_sam_template, package_code_uris, rate_seconds, transform_template

KNOWN_RUNTIMES = {"python3.11", "python3.12", "python3.13"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    packaged, _ = package_code_uris(sam, "amsync-code")
    return transform_template(packaged)


def _of_type(cfn: dict[str, Any], t: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == t}


def _logical(ref: Any) -> str:
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        return str(ref["Fn::GetAtt"][0])
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    raise AssertionError(f"unexpected reference {ref!r}")


def test_every_sqs_source_reports_partial_failures_with_bounded_concurrency(cfn: dict[str, Any]) -> None:
    # Given the transformed template's event source mappings
    mappings = _of_type(cfn, "AWS::Lambda::EventSourceMapping")
    # Then each reports batch item failures and caps concurrency at >= 2 (AWS' minimum)
    assert mappings, "no SQS event sources found"
    for lid, res in mappings.items():
        props = res["Properties"]
        assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], lid
        assert props.get("ScalingConfig", {}).get("MaximumConcurrency", 0) >= 2, lid


def test_every_queue_has_a_dlq_of_its_own_type(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    queues = _of_type(cfn, "AWS::SQS::Queue")
    dlqs = {_logical(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    for lid, q in queues.items():
        if lid in dlqs:
            assert "RedrivePolicy" not in q["Properties"], f"{lid} is a DLQ with its own redrive"
            assert q["Properties"].get("MessageRetentionPeriod") == 1209600, f"{lid} keeps messages < 14 days"
            continue
        policy = q["Properties"].get("RedrivePolicy")
        assert policy, f"{lid} has no DLQ"
        assert 3 <= policy["maxReceiveCount"] <= 5, lid
        # the consumers log a record's last receive before its DLQ: they are told the same count
        assert str(policy["maxReceiveCount"]) == sam["Globals"]["Function"]["Environment"]["Variables"][
            "MAX_RECEIVE_COUNT"], lid
        dlq = queues[_logical(policy["deadLetterTargetArn"])]
        assert bool(dlq["Properties"].get("FifoQueue")) == bool(q["Properties"].get("FifoQueue")), lid


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(cfn: dict[str, Any]) -> None:
    queues = _of_type(cfn, "AWS::SQS::Queue")
    functions = _of_type(cfn, "AWS::Lambda::Function")
    for lid, m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").items():
        queue = queues[_logical(m["Properties"]["EventSourceArn"])]
        fn = functions[_logical(m["Properties"]["FunctionName"])]
        visibility = queue["Properties"].get("VisibilityTimeout", 30)
        assert visibility >= 6 * fn["Properties"].get("Timeout", 3), lid


def _statements(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for res in _of_type(cfn, "AWS::IAM::Role").values():
        for pol in res["Properties"].get("Policies", []):
            out.extend(pol["PolicyDocument"]["Statement"])
    for res in _of_type(cfn, "AWS::IAM::Policy").values():
        out.extend(res["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_no_iam_statement_has_a_wildcard_action(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn)
    assert statements
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all("*" not in a for a in actions), st
        resources = st.get("Resource")
        assert resources not in ("*", ["*"]), f"statement on every resource: {st}"


def test_functions_have_a_service_name_a_known_runtime_and_a_log_group(cfn: dict[str, Any]) -> None:
    functions = _of_type(cfn, "AWS::Lambda::Function")
    log_groups = json.dumps(_of_type(cfn, "AWS::Logs::LogGroup"))
    for lid, fn in functions.items():
        props = fn["Properties"]
        assert props["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME"), lid
        assert props["Runtime"] in KNOWN_RUNTIMES, lid
        assert "${" + lid + "}" in log_groups, f"{lid} has no log group with retention"
    for lg in _of_type(cfn, "AWS::Logs::LogGroup").values():
        assert lg["Properties"].get("RetentionInDays"), lg


def test_tables_are_on_demand_with_pitr_and_ttl_where_data_expires(cfn: dict[str, Any]) -> None:
    tables = _of_type(cfn, "AWS::DynamoDB::Table")
    assert set(tables) == {"SettingsTable", "BindingsTable", "ConnectorLogTable"}
    for lid, t in tables.items():
        assert t["Properties"]["BillingMode"] == "PAY_PER_REQUEST", lid
        assert t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], lid
    for lid in ("BindingsTable", "ConnectorLogTable"):
        assert tables[lid]["Properties"]["TimeToLiveSpecification"]["Enabled"], lid


def test_the_connector_logs_indexes_project_the_grid_columns_not_the_details(cfn: dict[str, Any]) -> None:
    # (a row's details are KBs and a raw push's message up to 2,000 characters: an index copies what it projects on
    # every write, one write unit per started KB; the grid shows the message's summary, the readers that need more
    # read the base rows by key. The code's index names and projections are the template's.)
    from amsync.data.connector_log import GRID_ATTRIBUTES, INDEX_ATTRIBUTES, LEGACY_ATTRIBUTES

    props = cfn["Resources"]["ConnectorLogTable"]["Properties"]
    table_keys = {k["AttributeName"] for k in props["KeySchema"]}
    indexes = {g["IndexName"]: g for g in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == set(INDEX_ATTRIBUTES)
    for name, index in indexes.items():
        projection = index["Projection"]
        assert projection["ProjectionType"] == "INCLUDE", name
        included = projection["NonKeyAttributes"]
        assert set(included) == set(INDEX_ATTRIBUTES[name]), name
        assert not {"details", "details_z", "message", "message_rest", "message_rest_z"} & set(included), name
        keys = {k["AttributeName"] for k in index["KeySchema"]}
        assert not (set(included) & (keys | table_keys)), name  # DynamoDB projects the keys itself
        assert set(GRID_ATTRIBUTES) - set(LEGACY_ATTRIBUTES) <= set(included) | keys | table_keys, name


def test_types_moto_skips_are_checked_here(cfn: dict[str, Any]) -> None:
    # moto does not create these; the template must still declare them correctly.
    skipped = {lid: r for lid, r in cfn["Resources"].items() if r["Type"] in MOTO_SKIPPED_TYPES}
    urls = {lid: r for lid, r in skipped.items() if r["Type"] == "AWS::Lambda::Url"}
    assert list(urls) == ["WebhookFunctionUrl"]
    props = urls["WebhookFunctionUrl"]["Properties"]
    assert props["AuthType"] == "NONE"  # Acumatica cannot sign requests: the header secret authenticates
    assert _logical(props["TargetFunctionArn"]) == "WebhookFunction"
    perms = [r for r in _of_type(cfn, "AWS::Lambda::Permission").values()
             if r["Properties"].get("FunctionUrlAuthType") == "NONE"]
    assert perms, "no public invoke permission for the Function URL"


def test_schedule_is_a_rate_the_local_runtime_can_play(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    rules = _of_type(cfn, "AWS::Events::Rule")
    assert rules
    defaults = {k: v.get("Default") for k, v in sam["Parameters"].items()}
    for r in rules.values():
        expr = r["Properties"]["ScheduleExpression"]
        expr = defaults[expr["Ref"]] if isinstance(expr, dict) else expr
        assert rate_seconds(expr) >= 60


def test_every_dlq_has_an_alarm_and_alarms_notify_the_topic(cfn: dict[str, Any]) -> None:
    queues = _of_type(cfn, "AWS::SQS::Queue")
    dlqs = {_logical(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    alarms = _of_type(cfn, "AWS::CloudWatch::Alarm")
    watched = {_logical(a["Properties"]["Dimensions"][0]["Value"]) for a in alarms.values()
               if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"}
    assert dlqs and watched == dlqs
    for lid, a in alarms.items():
        # a person hears when it fires and when it is over
        assert a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], lid
        assert a["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], lid


def _alarmed(alarms: dict[str, dict[str, Any]], namespace: str, metric: str, dimension: str) -> set[str]:
    """Logical ids of the resources that have an alarm on ``namespace/metric`` by ``dimension``."""
    return {_logical(d["Value"]) for a in alarms.values() if a["Properties"].get("Namespace") == namespace
            and a["Properties"].get("MetricName") == metric
            for d in a["Properties"].get("Dimensions", []) if d["Name"] == dimension}


def test_every_function_has_error_and_throttle_alarms_and_every_work_queue_an_age_alarm(
        sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    alarms = _of_type(cfn, "AWS::CloudWatch::Alarm")
    functions = set(_of_type(cfn, "AWS::Lambda::Function"))
    assert len(functions) == 10  # ... + the credit memo poller and the return sync (issue 16)
    assert _alarmed(alarms, "AWS/Lambda", "Errors", "FunctionName") == functions
    assert _alarmed(alarms, "AWS/Lambda", "Throttles", "FunctionName") == functions
    queues = _of_type(cfn, "AWS::SQS::Queue")
    work = {lid for lid, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    assert work and _alarmed(alarms, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName") == work
    # the age threshold is the merchant's, and above the longest backoff between two tries (consumer.py)
    from amsync.consumer import MAX_BACKOFF_S

    for a in alarms.values():
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage":
            assert a["Properties"]["Threshold"] == {"Ref": "QueueAgeThresholdSeconds"}
    age = sam["Parameters"]["QueueAgeThresholdSeconds"]
    assert age["MinValue"] >= MAX_BACKOFF_S and age["Default"] >= 4 * MAX_BACKOFF_S


def _kms_problems(cfn: dict[str, Any]) -> list[str]:
    """Why CloudWatch alarms could not publish to AlarmTopic (empty: they can)."""
    topic = cfn["Resources"]["AlarmTopic"]["Properties"]
    key_ref = topic.get("KmsMasterKeyId")
    if isinstance(key_ref, str):  # an alias or ARN written out: AWS managed (alias/aws/...) or not ours to grant
        return [f"topic key {key_ref!r} is not a key of this template"]
    try:
        key = cfn["Resources"][_logical(key_ref)]
    except (AssertionError, KeyError):
        return [f"topic key {key_ref!r} is not a key of this template"]
    if key["Type"] != "AWS::KMS::Key":
        return [f"topic key {_logical(key_ref)} is a {key['Type']}"]
    problems = [] if key["Properties"].get("EnableKeyRotation") is True else ["key rotation is off"]
    grants: set[str] = set()
    for st in key["Properties"]["KeyPolicy"]["Statement"]:
        if st["Effect"] == "Allow" and st.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com":
            grants |= set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    missing = {"kms:Decrypt", "kms:GenerateDataKey*"} - grants
    return problems + ([f"key policy does not grant cloudwatch.amazonaws.com {sorted(missing)}"] if missing else [])


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(cfn: dict[str, Any]) -> None:
    # Given the template: alarms can publish to their encrypted topic
    assert _kms_problems(cfn) == []
    # and its topic policy lets CloudWatch publish for this account only (moto skips the type: checked here)
    (policy,) = _of_type(cfn, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    (st,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
             if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert st["Effect"] == "Allow" and st["Action"] in ("sns:Publish", ["sns:Publish"])
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


@pytest.mark.parametrize("managed", ["alias/aws/sns", "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"])
def test_the_alarm_topic_check_refuses_the_aws_managed_key(cfn: dict[str, Any], managed: str) -> None:
    import copy

    broken = copy.deepcopy(cfn)
    broken["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = managed
    assert _kms_problems(broken)
    stingy = copy.deepcopy(cfn)
    stingy_key = stingy["Resources"][_logical(cfn["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"])]
    for st in stingy_key["Properties"]["KeyPolicy"]["Statement"]:
        if st.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com":
            st["Action"] = ["kms:Decrypt"]
    assert _kms_problems(stingy) == ["key policy does not grant cloudwatch.amazonaws.com ['kms:GenerateDataKey*']"]


def test_bindings_and_settings_outlive_the_stack_and_every_queue_is_encrypted(
        sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    tables = _of_type(cfn, "AWS::DynamoDB::Table")
    for lid in ("BindingsTable", "SettingsTable"):
        assert tables[lid].get("DeletionPolicy") == "Retain", lid
        assert tables[lid].get("UpdateReplacePolicy") == "Retain", lid
        assert tables[lid]["Properties"]["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}, lid
    protection = sam["Parameters"]["TableDeletionProtection"]
    assert protection["Default"] == "true" and set(protection["AllowedValues"]) == {"true", "false"}
    for lid, q in _of_type(cfn, "AWS::SQS::Queue").items():
        assert q["Properties"].get("SqsManagedSseEnabled") is True, f"{lid} is not encrypted at rest"


def test_the_public_webhook_has_a_reserved_concurrency_of_its_own(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    functions = _of_type(cfn, "AWS::Lambda::Function")
    reserved = {lid for lid, fn in functions.items() if "ReservedConcurrentExecutions" in fn["Properties"]}
    assert reserved == {"WebhookFunction"}
    assert functions["WebhookFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "WebhookReservedConcurrency"}
    param = sam["Parameters"]["WebhookReservedConcurrency"]
    assert param["Type"] == "Number" and param["MinValue"] >= 1 and param["MinValue"] <= param["Default"] <= 100


def _emitted_metric_patterns() -> set[str]:
    """What the code passes as ``name`` to ``add_metric`` in shared/ and functions/: a literal, either branch of a
    conditional, an f-string (its literal parts, each placeholder one or more word characters; one that is all
    placeholders proves nothing and is left out) or a variable (the string values its function assigns to it, dict
    keys aside). A name that only appears elsewhere (a docstring, a comment, a dict) is not emitted."""
    root = Path(__file__).resolve().parents[2]
    patterns: set[str] = set()

    def of(node: ast.AST, scope: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [re.escape(node.value)]
        if isinstance(node, ast.IfExp):
            return of(node.body, scope) + of(node.orelse, scope)
        if isinstance(node, ast.JoinedStr):
            parts = [re.escape(v.value) if isinstance(v, ast.Constant) else r"\w+" for v in node.values]
            return ["".join(parts)] if any(isinstance(v, ast.Constant) for v in node.values) else []
        if isinstance(node, ast.Name):
            values = [a.value for a in ast.walk(scope) if isinstance(a, ast.Assign)
                      and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)]
            keys = {id(k) for v in values for d in ast.walk(v) if isinstance(d, ast.Dict) for k in d.keys if k}
            return [re.escape(c.value) for v in values for c in ast.walk(v)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str) and id(c) not in keys]
        return []

    for path in [*(root / "shared").rglob("*.py"), *(root / "functions").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "add_metric"):
                continue
            name = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
            # the innermost function holding the call is where a variable name gets its value
            scope = min((s for s in scopes if any(n is call for n in ast.walk(s))),
                        key=lambda s: (s.end_lineno or 0) - s.lineno, default=tree)
            if name is not None:
                patterns.update(of(name, scope))
    return patterns


def _metrics_read(cfn: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric) of every metric an alarm or the dashboard reads (dashboard "." / "..." resolved)."""
    read: set[tuple[str, str]] = set()
    for a in _of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = a["Properties"]
        if "MetricName" in p:
            read.add((p["Namespace"], p["MetricName"]))
        for m in p.get("Metrics", []):
            if "MetricStat" in m:
                read.add((m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"]))
    (dash,) = _of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    template, _ = dash["Properties"]["DashboardBody"]["Fn::Sub"]
    for w in json.loads(re.sub(r"\$\{[^}]+\}", "x", template))["widgets"]:
        previous: list[Any] = []
        for row in w["properties"].get("metrics", []):
            fields = [f for f in row if not isinstance(f, dict)]
            if fields[:1] == ["..."]:
                fields = previous
            fields = [previous[i] if f == "." else f for i, f in enumerate(fields)]
            read.add((fields[0], fields[1]))
            previous = fields
    return read


def _not_emitted(cfn: dict[str, Any], patterns: set[str]) -> set[str]:
    return {name for ns, name in _metrics_read(cfn) if ns == "amsync"
            and not any(re.fullmatch(p, name) for p in patterns)}


def test_alarms_and_dashboard_read_metrics_the_code_emits(cfn: dict[str, Any]) -> None:
    read = {name for ns, name in _metrics_read(cfn) if ns == "amsync"}
    assert read >= {"SyncFailed", "Synced", "Skipped", "Retried", "SyncLatency", "ReconcilerLagSeconds",
                    "CustomerPollLagSeconds", "WebhookRejected"}
    assert _not_emitted(cfn, _emitted_metric_patterns()) == set()
    # no order id (or any per-record value) as a metric dimension
    for a in _of_type(cfn, "AWS::CloudWatch::Alarm").values():
        for d in a["Properties"].get("Dimensions", []):
            assert d["Name"] in ("service", "QueueName", "FunctionName"), d


def test_dashboard_body_is_json_once_substituted(cfn: dict[str, Any]) -> None:
    (dash,) = _of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    template, _ = dash["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", template))
    assert {w["type"] for w in body["widgets"]} == {"metric", "log"}


def test_saved_queries_are_logs_insights_syntax_over_fields_we_log(cfn: dict[str, Any]) -> None:
    from amsync.models.log import LogEntry

    queries = _of_type(cfn, "AWS::Logs::QueryDefinition")
    assert len(queries) == 3
    commands = {"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup"}
    logged = set(LogEntry.model_fields) | {"correlation_id"}
    for lid, q in queries.items():
        lines = [ln.strip() for ln in q["Properties"]["QueryString"].strip().splitlines()]
        assert lines[0].split()[0] in commands, lid
        for ln in lines[1:]:
            assert ln.startswith("| ") and ln[2:].split()[0] in commands, (lid, ln)
        for name in re.findall(r"connector_log\.(\w+)", q["Properties"]["QueryString"]):
            assert name in logged, (lid, name)
        # a saved query takes no parameters: no walkthrough order baked in (the runbook names the placeholder)
        assert not re.search(r"SO[A-Z]?\d{5}", q["Properties"]["QueryString"]), lid
        assert q["Properties"]["LogGroupNames"], lid


def test_the_local_stack_refuses_parameters_cloudformation_would_refuse() -> None:
    import pytest

    from amsync_local.stack import ParameterRejected, check_parameters
    from amsync_local.template import load_sam_template, parameter_defaults

    sam = load_sam_template()
    check_parameters(sam, parameter_defaults(sam))  # the defaults pass
    for bad in ({"CreateLeaseSeconds": "1"}, {"AcumaticaSessionPolicy": "sometimes"},
                {"AcumaticaEndpoint": "/entity/Custom/1.0"}, {"AcumaticaSeatWaitSeconds": "21"},
                {"HttpTimeoutSeconds": "ten"}):
        with pytest.raises(ParameterRejected):
            check_parameters(sam, {**parameter_defaults(sam), **bad})


def test_the_session_token_key_leaves_access_to_the_functions_own_policies(sam: dict[str, Any]) -> None:
    # The local IAM gate evaluates identity policies only (docs/local.md): the pooled sessions' key must leave the
    # decision to them, as locally. Its policy grants the account alone, which delegates to IAM; no service or
    # other principal may use it, and it rotates.
    key = sam["Resources"]["AcumaticaTokenKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [stmt] = key["KeyPolicy"]["Statement"]
    assert stmt["Effect"] == "Allow" and set(stmt["Principal"]) == {"AWS"}
    assert stmt["Principal"]["AWS"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    # and exactly the functions that call Acumatica may seal and open its tokens, with the two actions they use
    users = {name for name, res in _of_type(sam, "AWS::Serverless::Function").items()
             for st in res["Properties"].get("Policies", [{}])[0].get("Statement", [])
             if st.get("Resource") == {"Fn::GetAtt": ["AcumaticaTokenKey", "Arn"]}
             and sorted(st["Action"]) == ["kms:Decrypt", "kms:Encrypt"]}
    callers = {name for name, res in _of_type(sam, "AWS::Serverless::Function").items()
               if any(st.get("Sid") == "AcumaticaSeats"
                      for st in res["Properties"].get("Policies", [{}])[0].get("Statement", []))}
    assert users == callers and len(users) == 7
