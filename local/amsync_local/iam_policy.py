"""IAM as AWS applies it to one request, for the local world: which action on which resources a request asks
for, and whether identity-based policies allow it.

moto's own IAM check (``INITIAL_NO_AUTH_ACTION_COUNT``) matches actions but authorises most requests against the
resource ``*``: a policy scoped to one table's ARN, an ``/index/*`` suffix or the Secrets Manager ``-*`` suffix is
never really tested. This module is what the local moto server (``amsync_local.moto_server``, the IAM gate)
evaluates instead, with AWS's rules for identity-based policies:

- an explicit ``Deny`` in any statement wins; else an ``Allow`` whose Action, Resource and Condition all match;
  else the request is refused (implicit deny);
- ``Action``/``NotAction`` match case-insensitively, ``Resource``/``NotResource`` case-sensitively; ``*`` and ``?``
  are wildcards in both, and ``*`` crosses ``:`` and ``/`` (``table/T/index/*``, ``secret:amsync/webhook-*``);
- a request that touches several resources (BatchWriteItem over two tables, TransactWriteItems) must be allowed
  on each, with the action AWS authorises for each part (a transaction's Put needs ``dynamodb:PutItem``);
- conditions: the operators and keys listed in :data:`CONDITION_KEYS` / :func:`_condition_holds`. A condition this
  module cannot evaluate makes an Allow statement not apply and a Deny statement apply: never more lenient.

A request whose action or resource this module cannot tell (a service or operation not mapped below) is refused
for a role or user under the gate, with a message saying so: a function that starts calling a new API fails
locally until the mapping (and the template's policy) says what it needs.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


@dataclass(frozen=True)
class Access:
    """One authorisation a request needs: ``action`` on ``resource``."""

    action: str  # "dynamodb:PutItem"
    resource: str  # an ARN, or "*"


@dataclass(frozen=True)
class Unmapped:
    """The request's action or resources cannot be told: refused under the gate, with this reason."""

    reason: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    access: Access | None = None  # the first access refused
    explicit_deny: bool = False
    reason: str = ""


@dataclass
class RequestFacts:
    """What the gate knows of one request."""

    service: str  # the SigV4 credential scope's service: dynamodb, sqs, secretsmanager, ...
    region: str
    account: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    # resolves a Secrets Manager SecretId (name or partial ARN) to the secret's full ARN, when it exists
    secret_arn: Any = None
    context: dict[str, str] = field(default_factory=dict)  # condition context keys (aws:PrincipalArn, ...)


# ------------------------------------------------------------------ matching


@lru_cache(maxsize=4096)
def _pattern(glob: str, case_insensitive: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts) + r"\Z", re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


def glob_match(glob: str, value: str, *, case_insensitive: bool = False) -> bool:
    return _pattern(glob, case_insensitive).match(value) is not None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def parse_document(raw: Any) -> dict[str, Any]:
    """A policy document as IAM (or moto) stores it: a dict, JSON text, URL-encoded JSON, or (moto's CloudFormation
    path stores this) a Python literal of the dict."""
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    for candidate in (text, unquote(text)):
        try:
            doc = json.loads(candidate)
        except ValueError:
            try:
                doc = ast.literal_eval(candidate)
            except (ValueError, SyntaxError):
                continue
        if isinstance(doc, dict):
            return doc
    raise ValueError(f"not a policy document: {text[:80]!r}")


def statements(documents: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in documents:
        stmts = parse_document(raw).get("Statement", [])
        out.extend(stmts if isinstance(stmts, list) else [stmts])
    return out


CONDITION_KEYS = frozenset({"aws:PrincipalArn", "aws:PrincipalAccount", "aws:RequestedRegion",
                            "aws:SecureTransport", "aws:PrincipalType"})


def _condition_holds(block: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """True/False when every condition can be evaluated; None when one cannot (unknown operator or key)."""
    string_ops = {
        "StringEquals": lambda v, p: v == p,
        "StringNotEquals": lambda v, p: v != p,
        "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
        "StringLike": lambda v, p: glob_match(p, v),
        "StringNotLike": lambda v, p: not glob_match(p, v),
        "ArnEquals": lambda v, p: v == p,
        "ArnLike": lambda v, p: glob_match(p, v),
        "ArnNotEquals": lambda v, p: v != p,
        "ArnNotLike": lambda v, p: not glob_match(p, v),
        "Bool": lambda v, p: v.lower() == p.lower(),
    }
    negated = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
    for operator, pairs in block.items():
        check = string_ops.get(operator)
        if check is None or not isinstance(pairs, Mapping):
            return None
        for key, wanted in pairs.items():
            if key not in CONDITION_KEYS:
                return None
            value = context.get(key)
            if value is None:  # a missing key: only negated operators match (AWS), unless ...IfExists (unsupported)
                if operator not in negated:
                    return False
                continue
            patterns = _as_list(wanted)
            if operator in negated:
                if not all(check(value, p) for p in patterns):
                    return False
            elif not any(check(value, p) for p in patterns):
                return False
    return True


def _statement_applies(stmt: Mapping[str, Any], access: Access, context: Mapping[str, str]) -> bool:
    effect_deny = stmt.get("Effect") == "Deny"
    if "Action" in stmt:
        if not any(glob_match(p, access.action, case_insensitive=True) for p in _as_list(stmt["Action"])):
            return False
    elif "NotAction" in stmt:
        if any(glob_match(p, access.action, case_insensitive=True) for p in _as_list(stmt["NotAction"])):
            return False
    else:
        return False
    if "Resource" in stmt:
        if not any(glob_match(p, access.resource) for p in _as_list(stmt["Resource"])):
            return False
    elif "NotResource" in stmt:
        if any(glob_match(p, access.resource) for p in _as_list(stmt["NotResource"])):
            return False
    else:
        return False
    if "Condition" in stmt:
        holds = _condition_holds(stmt["Condition"], context)
        if holds is None:  # cannot tell: never more lenient than AWS
            return effect_deny
        return holds
    return True


def evaluate(policy_statements: list[dict[str, Any]], needs: list[Access],
             context: Mapping[str, str] | None = None) -> Decision:
    """AWS's evaluation of identity-based policies for every access a request needs."""
    ctx = context or {}
    for access in needs:
        applying = [s for s in policy_statements if _statement_applies(s, access, ctx)]
        if any(s.get("Effect") == "Deny" for s in applying):
            return Decision(False, access, explicit_deny=True)
        if not any(s.get("Effect") == "Allow" for s in applying):
            return Decision(False, access)
    return Decision(True)


# ------------------------------------------------------------------ what a request asks for

_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
_DDB_TABLE_OPS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "Query", "Scan",
                            "DescribeTimeToLive", "DescribeContinuousBackups", "UpdateTable",
                            "UpdateTimeToLive", "CreateTable", "DeleteTable"})
_DDB_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_DDB_ACCOUNT_OPS = frozenset({"ListTables", "DescribeLimits", "DescribeEndpoints"})


def _json_body(facts: RequestFacts) -> dict[str, Any]:
    try:
        data = json.loads(facts.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _table_arn(facts: RequestFacts, table: str, index: str | None = None) -> str:
    if table.startswith("arn:"):
        base = table
    else:
        base = f"arn:aws:dynamodb:{facts.region}:{facts.account}:table/{table}"
    return f"{base}/index/{index}" if index else base


def _dynamodb(facts: RequestFacts, op: str) -> list[Access] | Unmapped:
    body = _json_body(facts)
    if op in _DDB_TABLE_OPS:
        if "TableName" not in body:
            return Unmapped(f"dynamodb:{op} without a TableName")
        return [Access(f"dynamodb:{op}", _table_arn(facts, body["TableName"], body.get("IndexName")))]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Access(f"dynamodb:{op}", _table_arn(facts, t)) for t in sorted(body.get("RequestItems", {}))]
    if op in ("TransactWriteItems", "TransactGetItems"):
        out: list[Access] = []
        for item in body.get("TransactItems", []):
            for kind, part in item.items():
                action = _DDB_TRANSACT.get(kind)
                if action is None or "TableName" not in part:
                    return Unmapped(f"dynamodb:{op} item {kind!r}")
                out.append(Access(f"dynamodb:{action}", _table_arn(facts, part["TableName"])))
        return out
    if op in _DDB_ACCOUNT_OPS:
        return [Access(f"dynamodb:{op}", "*")]
    return Unmapped(f"dynamodb:{op} is not mapped by the local IAM gate")


def _queue_arn(facts: RequestFacts, queue_url: str) -> str:
    parts = [p for p in urlparse(queue_url).path.split("/") if p]
    if len(parts) < 2:
        return f"arn:aws:sqs:{facts.region}:{facts.account}:{parts[-1] if parts else queue_url}"
    return f"arn:aws:sqs:{facts.region}:{parts[-2]}:{parts[-1]}"


def _sqs(facts: RequestFacts, op: str, params: Mapping[str, Any]) -> list[Access] | Unmapped:
    action = f"sqs:{_SQS_BATCH.get(op, op)}"
    if op in ("ListQueues",):
        return [Access(action, "*")]
    if op == "GetQueueUrl" or op == "CreateQueue":
        owner = params.get("QueueOwnerAWSAccountId") or facts.account
        return [Access(action, f"arn:aws:sqs:{facts.region}:{owner}:{params.get('QueueName', '')}")]
    url = params.get("QueueUrl")
    if not url:
        return Unmapped(f"{action} without a QueueUrl")
    return [Access(action, _queue_arn(facts, str(url)))]


def _secretsmanager(facts: RequestFacts, op: str) -> list[Access] | Unmapped:
    body = _json_body(facts)
    if op == "ListSecrets":
        return [Access("secretsmanager:ListSecrets", "*")]
    secret_id = body.get("SecretId") or body.get("Name")
    if not secret_id:
        return Unmapped(f"secretsmanager:{op} without a SecretId")
    arn = facts.secret_arn(str(secret_id)) if facts.secret_arn else None
    if arn is None:
        arn = secret_id if str(secret_id).startswith("arn:") else \
            f"arn:aws:secretsmanager:{facts.region}:{facts.account}:secret:{secret_id}"
    return [Access(f"secretsmanager:{op}", str(arn))]


def _cloudformation(facts: RequestFacts, params: Mapping[str, Any]) -> list[Access] | Unmapped:
    op = str(params.get("Action", ""))
    stack = params.get("StackName")
    if op in ("ListStackResources", "DescribeStacks", "DescribeStackResources", "DescribeStackResource",
              "GetTemplate", "DescribeStackEvents") and stack:
        stack = str(stack)
        arn = stack if stack.startswith("arn:") else \
            f"arn:aws:cloudformation:{facts.region}:{facts.account}:stack/{stack}/*"
        return [Access(f"cloudformation:{op}", arn)]
    if op == "DescribeStacks":
        return [Access("cloudformation:DescribeStacks", "*")]
    return Unmapped(f"cloudformation:{op or '?'} is not mapped by the local IAM gate")


_KMS_KEY_OPS = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
                "DescribeKey"}


def _kms(facts: RequestFacts, op: str) -> list[Access] | Unmapped:
    """Key operations are authorised on the key's ARN. A request naming the key by alias, or a Decrypt that
    leaves the key to the ciphertext, cannot be told here (AWS resolves both): refused, never more lenient."""
    key = str(_json_body(facts).get("KeyId") or "")
    if op not in _KMS_KEY_OPS:
        return Unmapped(f"kms:{op} is not mapped by the local IAM gate")
    if not key or key.startswith("alias/") or ":alias/" in key:
        return Unmapped(f"kms:{op} without a key id or ARN (by alias or from the ciphertext)")
    arn = key if key.startswith("arn:") else f"arn:aws:kms:{facts.region}:{facts.account}:key/{key}"
    return [Access(f"kms:{op}", arn)]


_LAMBDA_CONFIG = re.compile(r"^/2015-03-31/functions/([^/]+)/configuration/?$")


def _lambda(facts: RequestFacts) -> list[Access] | Unmapped:
    m = _LAMBDA_CONFIG.match(facts.path)
    if m and facts.method == "GET":
        name = unquote(m.group(1))
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{facts.region}:{facts.account}:function:{name}"
        return [Access("lambda:GetFunctionConfiguration", arn)]
    return Unmapped(f"lambda {facts.method} {facts.path} is not mapped by the local IAM gate")


def _form(facts: RequestFacts) -> dict[str, str]:
    pairs = parse_qs(facts.body.decode("utf-8", "replace"), keep_blank_values=True)
    pairs.update(parse_qs(facts.query, keep_blank_values=True))
    return {k: v[0] for k, v in pairs.items()}


def required_access(facts: RequestFacts) -> list[Access] | Unmapped:
    """The authorisations AWS checks for this request (every part of a batch or transaction)."""
    target = next((v for k, v in facts.headers.items() if k.lower() == "x-amz-target"), "")
    op = target.rpartition(".")[2] if target else ""
    if facts.service == "dynamodb" and op:
        return _dynamodb(facts, op)
    if facts.service == "sqs":
        if op:
            return _sqs(facts, op, _json_body(facts))
        form = _form(facts)
        return _sqs(facts, form.get("Action", ""), form)
    if facts.service == "secretsmanager" and op:
        return _secretsmanager(facts, op)
    if facts.service == "kms" and op:
        return _kms(facts, op)
    if facts.service == "cloudformation":
        return _cloudformation(facts, _form(facts))
    if facts.service == "lambda":
        return _lambda(facts)
    if facts.service == "sts" and _form(facts).get("Action") == "GetCallerIdentity":
        return []  # needs no permission in AWS
    return Unmapped(f"{facts.service}:{op or facts.method + ' ' + facts.path} is not mapped by the local IAM gate")


# ------------------------------------------------------------------ AWS's refusal, per protocol


def denial_message(principal_arn: str, decision: Decision) -> str:
    if decision.access is None:
        return f"User: {principal_arn} is not authorized to perform this operation: {decision.reason}"
    a = decision.access
    why = ("with an explicit deny in an identity-based policy" if decision.explicit_deny
           else f"because no identity-based policy allows the {a.action} action")
    return f"User: {principal_arn} is not authorized to perform: {a.action} on resource: {a.resource} {why}"


def denial_response(service: str, headers: Mapping[str, str], message: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of AWS's access-denied answer for the service and protocol the request used."""
    target = any(k.lower() == "x-amz-target" for k in headers)
    if service == "sqs" and target:  # JSON protocol, query-compatible: botocore reads the code from the header
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message})
        return 403, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "AccessDenied;Sender"}, \
            body.encode()
    if target:  # DynamoDB, Secrets Manager, ...: AWS JSON 1.0/1.1
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": message})
        return 400, {"Content-Type": "application/x-amz-json-1.1"}, body.encode()
    if service == "lambda":
        body = json.dumps({"Type": "User", "Message": message})
        return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"}, body.encode()
    code = "AccessDenied"
    xml = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>'
           f"</Error><RequestId>local-iam-gate</RequestId></ErrorResponse>")
    return 403, {"Content-Type": "text/xml"}, xml.encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def credential_scope(authorization: str) -> tuple[str, str, str] | None:
    """(access key id, region, service) from a SigV4 Authorization header."""
    m = _SCOPE.search(authorization or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None
