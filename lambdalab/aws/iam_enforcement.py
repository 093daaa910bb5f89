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
