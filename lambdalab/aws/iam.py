"""The execution role, as Lambda uses it: trust checked, assumed, and its policies obeyed.

moto's own AssumeRole check fails on a trust policy with a Service principal, so Lambda's
side of the contract is done here: the trust policy must let lambda.amazonaws.com assume the
role, the credentials are minted through moto's STS backend (so moto enforces them on every
SDK call the function makes), and the same policies decide whether logs may be written.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def _role(account_id: str, role_arn: str) -> Any | None:
    try:
        return iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def lambda_can_assume(account_id: str, role_arn: str) -> bool:
    role = _role(account_id, role_arn)
    if role is None:
        return False
    try:
        document = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        return False
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action", []))
        if not any(action in ("sts:AssumeRole", "sts:*", "*") for action in actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            return True
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if LAMBDA_PRINCIPAL in services:
            return True
    return False


def assume_for_function(account_id: str, region: str, role_arn: str, function_name: str) -> dict[str, str]:
    """Temporary credentials of the role, as the environment variables Lambda sets."""
    assumed = sts_backends[account_id]["aws"].assume_role(
        region_name=region,
        role_session_name=function_name[:64],
        role_arn=role_arn,
        policy="",
        duration=43200,
        external_id="",
    )
    return {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }


def role_policies(account_id: str, role_arn: str) -> list[Any]:
    role = _role(account_id, role_arn)
    if role is None:
        return []
    backend = iam_backends[account_id]["aws"]
    policies: list[Any] = []
    for name in backend.list_role_policies(role.name):
        policies.append(backend.get_role_policy(role.name, name)[1])
    attached, _ = backend.list_attached_role_policies(role.name)
    policies += attached
    return policies


def role_allows(account_id: str, role_arn: str, action: str, resource: str) -> bool:
    """Would AWS let the role do action on resource? Explicit Deny wins, as in IAM."""
    allowed = False
    for policy in role_policies(account_id, role_arn):
        result = _parsed(_document(policy)).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        if result == PermissionResult.PERMITTED:
            allowed = True
    return allowed


def _document(policy: Any) -> str:
    """The policy's JSON text: an inline policy is text already, a managed one has versions."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, dict):
        return policy["policy_document"]
    return next(version.document for version in policy.versions if version.is_default)


@functools.lru_cache(maxsize=512)
def _parsed(document: str) -> IAMPolicy:
    """Parsing is most of an evaluation's cost; the same text always parses the same."""
    return IAMPolicy(document)
