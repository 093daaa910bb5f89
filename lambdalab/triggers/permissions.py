"""Resource-based policies of functions: may this service (or account, or anyone) invoke it?

Push sources (S3, SNS, EventBridge, API Gateway) and function URLs are allowed to invoke a
function only by a statement of the function's own policy, added with AddPermission. moto
stores the statements and answers GetPolicy and RemovePermission, but never reads them;
this module is the reader every push trigger asks before it invokes (resource_policies.py
makes AddPermission and RemovePermission answer as AWS does).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Caller:
    """Who wants to invoke: a service principal such as "s3.amazonaws.com", an account id, or "*"."""

    principal: str
    action: str = "lambda:InvokeFunction"
    source_arn: str | None = None
    source_account: str | None = None
    function_url_auth_type: str | None = None
    invoked_via_function_url: bool | None = None


def statements(fn: Any) -> list[dict[str, Any]]:
    policy = getattr(fn, "policy", None)
    return list(getattr(policy, "statements", []) or [])


def allows(fn: Any, caller: Caller, qualifier: str | None = None) -> bool:
    """True when an Allow statement matches the caller and no Deny statement does."""
    resource = fn.function_arn.split(":$LATEST")[0] if hasattr(fn, "function_arn") else ""
    version = str(getattr(fn, "version", "$LATEST"))
    if version != "$LATEST" and resource.endswith(f":{version}"):  # a published version (an alias's): its function
        resource = resource[: -len(version) - 1]
    resources = {resource, f"{resource}:{qualifier or '$LATEST'}"}
    matching = [s for s in statements(fn) if _matches(s, caller, resources)]
    if any(s.get("Effect", "Allow") == "Deny" for s in matching):
        return False
    return any(s.get("Effect", "Allow") == "Allow" for s in matching)


def _matches(statement: dict[str, Any], caller: Caller, resources: set[str]) -> bool:
    return (_principal_matches(statement.get("Principal"), caller.principal)
            and _action_matches(statement.get("Action"), caller.action)
            and _resource_matches(statement.get("Resource"), resources)
            and _conditions_hold(statement, caller))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _principal_matches(principal: Any, wanted: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, str):
        principal = {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal}
    if not isinstance(principal, dict):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            if value == "*" or value == wanted:
                return True
            if kind == "AWS" and wanted.isdigit() and value in (f"arn:aws:iam::{wanted}:root", wanted):
                return True
    return False


def _action_matches(actions: Any, wanted: str) -> bool:
    return any(fnmatch.fnmatchcase(wanted.lower(), str(a).lower()) for a in _as_list(actions))


def _resource_matches(resource: Any, resources: set[str]) -> bool:
    if resource is None:
        return True
    return any(fnmatch.fnmatchcase(candidate, str(pattern))
               for pattern in _as_list(resource) for candidate in resources)


def _conditions_hold(statement: dict[str, Any], caller: Caller) -> bool:
    conditions: dict[str, dict[str, Any]] = {op: dict(values) for op, values in (statement.get("Condition") or {}).items()}
    if statement.get("FunctionUrlAuthType"):  # moto keeps AddPermission's FunctionUrlAuthType as a field
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = statement["FunctionUrlAuthType"]
    context = {
        "aws:sourcearn": caller.source_arn,
        "aws:sourceaccount": caller.source_account,
        "lambda:functionurlauthtype": caller.function_url_auth_type,
        "lambda:invokedviafunctionurl": None if caller.invoked_via_function_url is None
        else str(caller.invoked_via_function_url).lower(),
    }
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if not _condition_holds(operator, actual, _as_list(expected)):
                return False
    return True


def _condition_holds(operator: str, actual: str | None, expected: list[Any]) -> bool:
    if actual is None:
        return False
    if operator in ("ArnLike", "StringLike", "ArnEquals"):
        return any(fnmatch.fnmatchcase(actual, str(pattern)) for pattern in expected)
    if operator == "StringEquals":
        return actual in [str(value) for value in expected]
    if operator == "Bool":
        return actual in [str(value).lower() for value in expected]
    return False  # an operator we do not evaluate never grants access
