"""AddPermission and RemovePermission as AWS answers them, in front of moto's.

moto stores what AddPermission sends but accepts anything: a StatementId twice, an Action of
"invoke", a policy of any size. AWS refuses those with its own errors, and writes each statement
in IAM's own form: an account principal as {"AWS": "arn:aws:iam::<account>:root"}, every
condition (SourceArn, SourceAccount, PrincipalOrgID, EventSourceToken, FunctionUrlAuthType,
InvokedViaFunctionUrl) under Condition. GetPolicy then shows what AWS would show, and
permissions.allows() reads one form only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.awslambda.models import LambdaBackend

from ..aws.moto_glue import ApiException, api_error, wrap
from .services import CloudServices

POLICY_LIMIT_BYTES = 20_480

# AddPermission's members: (request key, name in AWS's validation message, pattern)
_PATTERNS = (
    ("StatementId", "statementId", r"([a-zA-Z0-9-_]+)"),
    ("Action", "action", r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"),
    ("Principal", "principal", r"[^\s]+"),
    ("SourceAccount", "sourceAccount", r"\d{12}"),
    ("SourceArn", "sourceArn",
     r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"),
    ("EventSourceToken", "eventSourceToken", r"[a-zA-Z0-9._\-]+"),
    ("PrincipalOrgID", "principalOrgID", r"o-[a-z0-9]{10,32}"),
)
_AUTH_TYPES = ("AWS_IAM", "NONE")



def install(cloud: CloudServices) -> None:
    """The checks need nothing of the cloud: they are the same for every cloud in the process."""
    wrap(LambdaBackend, "add_permission", _checked_add_permission)
    wrap(LambdaBackend, "remove_permission", _checked_remove_permission)


def _error(code: str, message: str, status: int = 400) -> ApiException:
    return api_error(code, message, status)


def _checked_add_permission(original: Any, backend: Any, function_name: str, qualifier: str | None,
                            raw: str) -> dict[str, Any]:
    request = json.loads(raw or "{}")
    _validate(request)
    fn = backend.get_function(function_name, qualifier)
    sid = request["StatementId"]
    if any(statement.get("Sid") == sid for statement in fn.policy.statements):
        raise _error("ResourceConflictException", f"The statement id ({sid}) provided already exists. Please "
                     "provide a new statement id, or remove the existing statement.", 409)
    statement = original(backend, function_name, qualifier, raw)
    _write_as_aws_does(statement, request, fn.account_id)
    size = policy_size(fn.policy.statements)
    if size > POLICY_LIMIT_BYTES:
        fn.policy.statements.remove(statement)
        raise _error("PolicyLengthExceededException",
                     f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT_BYTES}).")
    return statement


def _validate(request: dict[str, Any]) -> None:
    for key, member, pattern in _PATTERNS:
        value = request.get(key)
        if value is not None and not re.fullmatch(pattern, str(value)):
            raise _error("ValidationException", f"1 validation error detected: Value '{value}' at '{member}' failed "
                         f"to satisfy constraint: Member must satisfy regular expression pattern: {pattern}")
    auth_type = request.get("FunctionUrlAuthType")
    if auth_type is not None and auth_type not in _AUTH_TYPES:
        raise _error("ValidationException", f"1 validation error detected: Value '{auth_type}' at "
                     "'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: "
                     f"[{', '.join(_AUTH_TYPES)}]")


def _write_as_aws_does(statement: dict[str, Any], request: dict[str, Any], account_id: str) -> None:
    """Rewrite moto's statement (in place: it is the one the policy keeps) in AWS's form."""
    principal = request.get("Principal")
    if isinstance(principal, str) and re.fullmatch(r"\d{12}", principal):
        statement["Principal"] = {"AWS": f"arn:aws:iam::{principal}:root"}
    for moto_only in ("FunctionUrlAuthType", "InvokedViaFunctionUrl", "PrincipalOrgID", "EventSourceToken"):
        statement.pop(moto_only, None)
    condition = conditions_of(request)
    if condition:
        statement["Condition"] = condition
    else:
        statement.pop("Condition", None)


def conditions_of(request: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The Condition block AWS writes for an AddPermission request."""
    condition: dict[str, dict[str, str]] = {}

    def add(operator: str, key: str, value: str) -> None:
        condition.setdefault(operator, {})[key] = value

    if request.get("SourceAccount"):
        add("StringEquals", "AWS:SourceAccount", request["SourceAccount"])
    if request.get("PrincipalOrgID"):
        add("StringEquals", "aws:PrincipalOrgID", request["PrincipalOrgID"])
    if request.get("EventSourceToken"):
        add("StringEquals", "lambda:EventSourceToken", request["EventSourceToken"])
    if request.get("FunctionUrlAuthType"):
        add("StringEquals", "lambda:FunctionUrlAuthType", request["FunctionUrlAuthType"])
    if request.get("InvokedViaFunctionUrl"):
        add("Bool", "lambda:InvokedViaFunctionUrl", "true")
    if request.get("SourceArn"):
        add("ArnLike", "AWS:SourceArn", request["SourceArn"])
    return condition


def policy_size(statements: list[dict[str, Any]]) -> int:
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(document, separators=(",", ":")))


def _checked_remove_permission(original: Any, backend: Any, function_name: str, sid: str,
                               revision: Any = "") -> None:
    if isinstance(revision, list):  # moto hands the query parameter over as a list
        revision = revision[0] if revision else ""
    fn = backend.get_function(function_name)
    statements = fn.policy.statements
    if statements and not any(statement.get("Sid") == sid for statement in statements):
        raise _error("ResourceNotFoundException", f"Statement {sid} is not found in resource policy.", 404)
    return original(backend, function_name, sid, revision or "")
