"""Where moto's IAM enforcement falls short of AWS's, and what is done about it here.

Policies only teach least privilege if they are evaluated as AWS evaluates them: against the
action's real IAM name (lambda:InvokeFunction, not moto's operation name Invoke), against the
resource's ARN (a DynamoDB table, a Lambda function, an SNS topic; moto uses "*"), with
signatures checked over what boto3 really signed, and refusals worded as the service words them.
"""

from __future__ import annotations

import re
from typing import Any


def install() -> None:
    _sign_empty_bodies_as_empty()
    _json_auth_errors_for_json_services()
    _resources_for_policies()
    _principals_as_aws_matches_them()
    _unsigned_federation_calls()


def _principals_as_aws_matches_them() -> None:
    """moto's trust check reads only AWS principals: on a trust policy naming {"Service": ...} (every
    Lambda execution role) its sts:AssumeRole check crashed with a 500. A caller signing with an IAM
    user's or role's keys is matched by AWS principals alone (an ARN, its account's root, the account
    id, or "*"); a Service or Federated principal never names it."""
    from moto.iam.access_control import IAMPolicyStatement

    def check(self: Any, principal: str) -> bool:
        expected = self._statement.get("Principal")
        if not expected:
            return True
        if isinstance(expected, str):
            return expected == "*"
        named = expected.get("AWS") if isinstance(expected, dict) else None
        if named is None:
            return False
        named = [named] if isinstance(named, str) else list(named)
        account = principal.split(":")[4] if principal.count(":") >= 5 else None
        return any(entry in ("*", principal) or (account is not None and entry in (account, f"arn:aws:iam::{account}:root"))
                   for entry in named)

    IAMPolicyStatement._check_principal = check


_FEDERATION_ACTIONS = {"AssumeRoleWithWebIdentity": "sts:AssumeRoleWithWebIdentity",
                       "AssumeRoleWithSAML": "sts:AssumeRoleWithSAML"}


def _unsigned_federation_calls() -> None:
    """AssumeRoleWithWebIdentity and AssumeRoleWithSAML are unsigned on AWS (the caller holds a token, not
    keys); moto demanded a signature anyway and crashed (KeyError 'HTTP_AUTHORIZATION'). They are let
    through here, but only for a role whose trust policy names a Federated principal for that action:
    moto checks neither the token nor the trust policy, and without this any local process could mint
    any role's credentials. The refusal is AWS's: 403 AccessDenied "Not authorized to perform ..."."""
    from moto.core.exceptions import _RESTError
    from moto.sts.responses import TokenResponse

    class Denied(_RESTError):
        code = 403

    original = TokenResponse._authenticate_and_authorize_normal_action

    def check(self: Any, resource: str = "*") -> None:
        action = _FEDERATION_ACTIONS.get(self._get_action())
        if action is None or "Authorization" in self.headers:
            return original(self, resource)
        role_arn = self._get_param("RoleArn") or ""
        if not _trusts_federated(role_arn, action):
            raise Denied("AccessDenied", f"Not authorized to perform {action}")
        return None

    TokenResponse._authenticate_and_authorize_normal_action = check


def _trusts_federated(role_arn: str, action: str) -> bool:
    """Whether the role's trust policy allows `action` to a Federated principal."""
    import json

    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4].isdigit():
        return False
    try:
        role = iam_backends[parts[4]][parts[1] or "aws"].get_role_by_arn(role_arn)
        document = json.loads(role.assume_role_policy_document)
    except Exception:
        return False
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        principal = statement.get("Principal")
        if (statement.get("Effect") == "Allow" and isinstance(principal, dict) and principal.get("Federated")
                and any(name in (action, "sts:*", "*") for name in actions)):
            return True
    return False


def _sign_empty_bodies_as_empty() -> None:
    """moto checks a signature over its parsed parameters when the body is empty; boto3 signed
    the empty body. Every bodiless request (an Invoke without a Payload, any GET of a REST
    API such as ListFunctions) would fail with SignatureDoesNotMatch."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create(self: Any) -> Any:
        request = original(self)
        form = "x-www-form-urlencoded" in str(self._headers.get("Content-Type", ""))
        if not self._body and not form:  # a form body was parsed into the parameters: keep moto's way
            request.data = b""
        return request

    IAMRequestBase._create_aws_request = create


# What AWS's JSON-protocol services (Lambda, DynamoDB, CloudWatch Logs...) call moto's XML-only auth errors.
_JSON_AUTH_ERRORS = {"AccessDenied": "AccessDeniedException", "InvalidClientTokenId": "UnrecognizedClientException",
                     "SignatureDoesNotMatch": "InvalidSignatureException"}


def _json_auth_errors_for_json_services() -> None:
    """moto answers a refused signature or permission in XML whatever the service; a JSON service's
    client then sees the code '403'. AWS answers those services in JSON with their own error names."""
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.core.responses import BaseResponse
    from moto.core.utils import get_service_model

    original = BaseResponse._authenticate_and_authorize_normal_action

    def check(self: Any, resource: str = "*") -> None:
        try:
            original(self, resource)
        except _RESTError as error:
            if isinstance(error, JsonRESTError) or error.error_type not in _JSON_AUTH_ERRORS:
                raise
            try:
                protocol = get_service_model(self.boto3_service_name).protocol
            except Exception:
                raise error
            if protocol not in ("json", "rest-json"):
                raise
            replacement = JsonRESTError(_JSON_AUTH_ERRORS[error.error_type], error.message)
            replacement.code = error.code
            raise replacement from None

    BaseResponse._authenticate_and_authorize_normal_action = check


# IAM action names that differ from the API operation names moto authorizes by.
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction"}
_FUNCTION_IN_PATH = re.compile(r"/functions/([^/?]+)")


def _lambda_resource(self: Any) -> str:
    match = _FUNCTION_IN_PATH.search(self.path)
    if not match:
        return "*"
    from urllib.parse import unquote

    name = unquote(match.group(1))
    if name.startswith("arn:"):
        return name
    return f"arn:aws:lambda:{self.region}:{self.current_account}:function:{name}"


def _dynamodb_resource(self: Any) -> str:
    body = self.body if isinstance(self.body, dict) else {}
    table = body.get("TableName")
    if not table and body.get("RequestItems"):
        table = next(iter(body["RequestItems"]))
    if not table and body.get("TransactItems"):
        first = next(iter(body["TransactItems"][0].values()), {})
        table = first.get("TableName")
    if not table:
        return "*"
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"


def _sns_resource(self: Any) -> str:
    return self._get_param("TopicArn") or self._get_param("TargetArn") or "*"


def _resources_for_policies() -> None:
    """Give moto the resource ARN of each request, and Lambda's IAM action names."""
    from moto.awslambda.responses import LambdaResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.sns.responses import SNSResponse

    LambdaResponse._determine_resource = _lambda_resource
    DynamoHandler._determine_resource = _dynamodb_resource
    SNSResponse._determine_resource = _sns_resource
    original = LambdaResponse._authenticate_and_authorize_normal_action

    def authorize(self: Any, resource: str = "*") -> None:
        operation = self._get_action()
        if operation in _LAMBDA_ACTIONS:
            self._get_action = lambda: _LAMBDA_ACTIONS[operation]  # for the IAM check only
            try:
                return original(self, resource)
            finally:
                del self._get_action
        return original(self, resource)

    LambdaResponse._authenticate_and_authorize_normal_action = authorize
