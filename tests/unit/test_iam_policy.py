"""The local IAM gate's evaluator: AWS's rules for identity-based policies, and what each request asks for."""

from __future__ import annotations

import json

import pytest

from amsync_local.iam_policy import (
    Access,
    RequestFacts,
    Unmapped,
    denial_response,
    evaluate,
    parse_document,
    required_access,
    statements,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-BindingsTable-ABC"
LOG_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-ConnectorLogTable-DEF"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:amsync/webhook-*"


def allow(actions: list[str], resources: list[str] | str, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def facts(service: str, target: str | None = None, body: dict[str, object] | None = None,
          **kw: object) -> RequestFacts:
    headers = {"X-Amz-Target": target} if target else {}
    defaults: dict[str, object] = {"method": "POST", "path": "/", "query": "", "headers": headers,
                                   "body": json.dumps(body or {}).encode()}
    defaults.update(kw)
    return RequestFacts(service=service, region=REGION, account=ACCOUNT, **defaults)  # type: ignore[arg-type]


# ------------------------------------------------------------------ evaluation


def test_an_action_no_statement_names_is_refused_even_on_an_allowed_resource() -> None:
    # Given the role the template gave the functions before: everything but BatchGetItem on the bindings table
    policy = [allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], TABLE)]
    # Then the seat pool's batch read is refused, a get is allowed
    decision = evaluate(policy, [Access("dynamodb:BatchGetItem", TABLE)])
    assert not decision.allowed and decision.access == Access("dynamodb:BatchGetItem", TABLE)
    assert evaluate(policy, [Access("dynamodb:GetItem", TABLE)]).allowed


def test_a_table_grant_does_not_cover_its_indexes_and_index_star_does() -> None:
    index = f"{TABLE}/index/by-magento-id"
    assert not evaluate([allow(["dynamodb:Query"], TABLE)], [Access("dynamodb:Query", index)]).allowed
    assert evaluate([allow(["dynamodb:Query"], [TABLE, f"{TABLE}/index/*"])], [Access("dynamodb:Query", index)]).allowed


def test_the_secrets_manager_suffix_wildcard_matches_the_random_suffix_only_after_the_dash() -> None:
    policy = [allow(["secretsmanager:GetSecretValue"], SECRET)]
    ok = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:amsync/webhook-Ab12Cd"
    other = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:amsync/webhooks-Ab12Cd"
    assert evaluate(policy, [Access("secretsmanager:GetSecretValue", ok)]).allowed
    assert not evaluate(policy, [Access("secretsmanager:GetSecretValue", other)]).allowed


def test_actions_match_case_insensitively_and_resources_case_sensitively() -> None:
    policy = [allow(["DynamoDB:getitem", "sqs:Send*"], [TABLE, f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-*"])]
    assert evaluate(policy, [Access("dynamodb:GetItem", TABLE)]).allowed
    assert evaluate(policy, [Access("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-orders.fifo")]).allowed
    assert not evaluate(policy, [Access("dynamodb:GetItem", TABLE.lower())]).allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policy = [allow(["dynamodb:*"], "*"), {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE}]
    decision = evaluate(policy, [Access("dynamodb:DeleteItem", TABLE)])
    assert not decision.allowed and decision.explicit_deny
    assert evaluate(policy, [Access("dynamodb:PutItem", TABLE)]).allowed


def test_not_action_and_not_resource() -> None:
    policy = [{"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "NotResource": LOG_TABLE}]
    assert evaluate(policy, [Access("dynamodb:PutItem", TABLE)]).allowed
    assert not evaluate(policy, [Access("dynamodb:DeleteItem", TABLE)]).allowed
    assert not evaluate(policy, [Access("dynamodb:PutItem", LOG_TABLE)]).allowed


def test_every_part_of_a_request_must_be_allowed() -> None:
    policy = [allow(["dynamodb:BatchWriteItem"], LOG_TABLE)]
    assert not evaluate(policy, [Access("dynamodb:BatchWriteItem", LOG_TABLE),
                                 Access("dynamodb:BatchWriteItem", TABLE)]).allowed


def test_conditions_it_can_evaluate_apply_and_ones_it_cannot_are_never_lenient() -> None:
    ctx = {"aws:RequestedRegion": REGION}
    in_region = allow(["dynamodb:GetItem"], TABLE, Condition={"StringEquals": {"aws:RequestedRegion": REGION}})
    elsewhere = allow(["dynamodb:GetItem"], TABLE, Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert evaluate([in_region], [Access("dynamodb:GetItem", TABLE)], ctx).allowed
    assert not evaluate([elsewhere], [Access("dynamodb:GetItem", TABLE)], ctx).allowed
    # a key the gate cannot know: the Allow does not apply, and a Deny does
    unknown = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["push#*"]}}
    assert not evaluate([allow(["dynamodb:GetItem"], TABLE, Condition=unknown)],
                        [Access("dynamodb:GetItem", TABLE)], ctx).allowed
    deny = {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": TABLE, "Condition": unknown}
    assert not evaluate([allow(["dynamodb:*"], "*"), deny], [Access("dynamodb:GetItem", TABLE)], ctx).allowed


def test_policy_documents_in_every_form_iam_and_moto_store_them() -> None:
    doc = {"Version": "2012-10-17", "Statement": [allow(["sqs:SendMessage"], "*")]}
    assert parse_document(json.dumps(doc)) == doc
    assert parse_document(repr(doc)) == doc  # moto's CloudFormation path stores str(dict)
    assert parse_document("%7B%22Statement%22%3A%20%5B%5D%7D") == {"Statement": []}
    assert len(statements([doc, {"Statement": allow(["x:Y"], "*")}])) == 2


# ------------------------------------------------------------------ what a request needs


def test_dynamodb_requests_name_their_table_index_and_every_table_of_a_batch() -> None:
    q = required_access(facts("dynamodb", "DynamoDB_20120810.Query",
                              {"TableName": "stack-BindingsTable-ABC", "IndexName": "by-magento-id"}))
    assert q == [Access("dynamodb:Query", f"{TABLE}/index/by-magento-id")]
    b = required_access(facts("dynamodb", "DynamoDB_20120810.BatchWriteItem",
                              {"RequestItems": {"stack-BindingsTable-ABC": [], "stack-ConnectorLogTable-DEF": []}}))
    assert b == [Access("dynamodb:BatchWriteItem", TABLE), Access("dynamodb:BatchWriteItem", LOG_TABLE)]
    t = required_access(facts("dynamodb", "DynamoDB_20120810.TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "stack-BindingsTable-ABC"}},
        {"ConditionCheck": {"TableName": "stack-ConnectorLogTable-DEF"}}]}))
    assert t == [Access("dynamodb:PutItem", TABLE), Access("dynamodb:ConditionCheckItem", LOG_TABLE)]


def test_sqs_batch_operations_are_authorised_as_their_single_action_on_the_queue() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/stack-order-requests.fifo"
    needs = required_access(facts("sqs", "AmazonSQS.DeleteMessageBatch", {"QueueUrl": url, "Entries": []}))
    assert needs == [Access("sqs:DeleteMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-order-requests.fifo")]


def test_a_secret_is_authorised_on_its_full_arn_with_the_random_suffix() -> None:
    full = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:amsync/webhook-Ab12Cd"
    f = facts("secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "amsync/webhook"},
              secret_arn=lambda sid: full if sid == "amsync/webhook" else None)
    assert required_access(f) == [Access("secretsmanager:GetSecretValue", full)]
    # a secret that does not exist is checked on its bare name, which a `-*` grant does not match (AWS: denied)
    missing = facts("secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "amsync/nope"},
                    secret_arn=lambda sid: None)
    assert not evaluate([allow(["secretsmanager:GetSecretValue"], SECRET)], required_access(missing)).allowed  # type: ignore[arg-type]


def test_a_call_the_gate_cannot_map_is_refused_with_the_reason() -> None:
    needs = required_access(facts("kinesis", "Kinesis_20131202.PutRecord", {}))
    assert isinstance(needs, Unmapped) and "kinesis" in needs.reason


@pytest.mark.parametrize(("service", "target", "status", "code_field"), [
    ("dynamodb", True, 400, "__type"), ("secretsmanager", True, 400, "__type"), ("sqs", True, 403, "__type"),
    ("cloudformation", False, 403, None)])
def test_refusals_have_the_shape_botocore_parses_into_access_denied(
        service: str, target: bool, status: int, code_field: str | None) -> None:
    from botocore.model import ServiceModel
    from botocore.parsers import create_parser
    from botocore.session import get_session

    headers = {"X-Amz-Target": "x.Op"} if target else {}
    got_status, got_headers, body = denial_response(service, headers, "User: x is not authorized")
    assert got_status == status
    # parse it the way botocore does for that service's protocol
    model = ServiceModel(get_session().get_service_data(service))
    parsed = create_parser(model.metadata["protocol"]).parse(
        {"status_code": status, "headers": got_headers, "body": body}, None)
    expected = {"dynamodb": "AccessDeniedException", "secretsmanager": "AccessDeniedException",
                "sqs": "AccessDenied", "cloudformation": "AccessDenied"}[service]
    if service == "sqs":  # query-compatible JSON: botocore takes the code from x-amzn-query-error
        from botocore.parsers import JSONParser

        assert isinstance(create_parser(model.metadata["protocol"]), JSONParser)
        assert got_headers["x-amzn-query-error"].split(";")[0] == expected
    else:
        assert parsed["Error"]["Code"] == expected


def test_a_kms_key_operation_is_authorised_on_the_key_arn_and_an_alias_is_refused() -> None:
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
    # A key named by id or by ARN: the action on the key's ARN
    for key_id in (key, arn):
        assert required_access(facts("kms", "TrentService.Decrypt", {"KeyId": key_id})) == [
            Access("kms:Decrypt", arn)]
    assert evaluate([allow(["kms:Encrypt", "kms:Decrypt"], arn)],
                    required_access(facts("kms", "TrentService.Encrypt", {"KeyId": key})), {}).allowed
    # A key AWS would resolve itself (an alias, or a Decrypt that leaves it to the ciphertext) cannot be told here,
    # nor can an operation the gate does not map: refused, never more lenient
    for body in ({"KeyId": "alias/amsync-sessions"}, {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/x"}, {}):
        assert isinstance(required_access(facts("kms", "TrentService.Decrypt", body)), Unmapped)
    assert isinstance(required_access(facts("kms", "TrentService.ScheduleKeyDeletion", {"KeyId": key})), Unmapped)
