"""What both kinds of API Gateway API share: may API Gateway invoke the function, and the flow record.

API Gateway calls Lambda's Invoke API as the service principal apigateway.amazonaws.com, with
the method's ARN as the source (arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/
<METHOD>/<path>), so the function's resource-based policy must allow that; or, when the
integration has a CredentialsArn, API Gateway assumes that role and the role's policies
must allow lambda:InvokeFunction on the function instead.
"""

from __future__ import annotations

from typing import Any

from ...aws import iam
from ...core.arns import FunctionArn, function_arn
from ...records.flow import FlowLog
from .. import permissions
from . import signing
from .messages import HttpRequest, HttpResponse, json_response

PRINCIPAL = "apigateway.amazonaws.com"


def execute_api_arn(region: str, account_id: str, api_id: str, stage: str, method: str, path: str) -> str:
    """arn:aws:execute-api:...:<api-id>/<stage>/<METHOD><path>; path "" or "/items/{id}"."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}{path}"


def may_invoke(fn: Any, target: FunctionArn, source_arn: str, api_account: str,
               credentials_arn: str | None) -> bool:
    """fn is moto's function (or the version an alias points at) that `target` names."""
    if credentials_arn and credentials_arn.startswith("arn:aws:iam::") and ":role/" in credentials_arn:
        resource = function_arn(fn.region, fn.account_id, fn.function_name, target.qualifier)
        return iam.role_allows(api_account, credentials_arn, "lambda:InvokeFunction", resource)
    caller = permissions.Caller(principal=PRINCIPAL, source_arn=source_arn, source_account=api_account)
    return permissions.allows(fn, caller, target.qualifier)


def refuse_unless_signed(request: HttpRequest, account_id: str, source_arn: str,
                         unsigned_body: dict[str, str]) -> HttpResponse | None:
    """A method or route with AWS_IAM authorization: a SigV4 signature (service execute-api) from a caller
    whose IAM policies allow execute-api:Invoke on the method's ARN; None when it may pass."""
    try:
        caller = signing.verify(request, account_id, "execute-api")
    except signing.SigningError as refused:
        return json_response(403, unsigned_body if refused.message == "Forbidden" else {"message": refused.message})
    if not caller.identity_allows("execute-api:Invoke", source_arn):
        return json_response(403, {"Message": f"User: {caller.arn} is not authorized to perform: "
                                              f"execute-api:Invoke on resource: {source_arn}"})
    return None


def record(flow: FlowLog, api_name: str, target: FunctionArn | None, kind: str, detail: str,
           request_id: str | None = None, ok: bool | None = None) -> None:
    flow.record(f"apigateway:{api_name}", target.flow_name if target else "lambda:?", kind, detail,
                request_id=request_id, ok=ok)
