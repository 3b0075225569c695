"""Project checks on template.yaml for what cfn-lint and `sam validate --lint` do not catch."""

from __future__ import annotations

import json
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
        assert a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], lid


def _emitted_metric_names() -> set[str]:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = "".join(p.read_text() for d in ("shared/amsync", "functions") for p in (root / d).rglob("*.py"))
    return set(re.findall(r'"(\w+)"', text))


def test_alarms_and_dashboard_read_metrics_the_code_emits(cfn: dict[str, Any]) -> None:
    emitted = _emitted_metric_names()
    names = set()
    for a in _of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = a["Properties"]
        if p.get("Namespace") == "amsync":
            names.add(p["MetricName"])
        for m in p.get("Metrics", []):
            if "MetricStat" in m:
                names.add(m["MetricStat"]["Metric"]["MetricName"])
    assert names >= {"SyncFailed", "Synced", "ReconcilerLagSeconds"}
    assert names <= emitted, names - emitted
    # no order id (or any per-record value) as a metric dimension
    for a in _of_type(cfn, "AWS::CloudWatch::Alarm").values():
        for d in a["Properties"].get("Dimensions", []):
            assert d["Name"] in ("service", "QueueName"), d


def test_dashboard_body_is_json_once_substituted(cfn: dict[str, Any]) -> None:
    import re

    (dash,) = _of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    template, _ = dash["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", template))
    assert {w["type"] for w in body["widgets"]} == {"metric", "log"}
    emitted = _emitted_metric_names()
    for w in body["widgets"]:
        for m in w["properties"].get("metrics", []):
            if m[0] == "amsync":
                assert m[1] in emitted, m


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
        import re

        for name in re.findall(r"connector_log\.(\w+)", q["Properties"]["QueryString"]):
            assert name in logged, (lid, name)
        assert q["Properties"]["LogGroupNames"], lid
