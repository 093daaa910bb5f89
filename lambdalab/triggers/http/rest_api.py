"""An API Gateway REST API (apigateway) stage answering on the local front door.

http://127.0.0.1:<port>/<rest-api-id>/<stage>/<path>: the stage must exist (CreateDeployment
with a stageName, or CreateStage), the resource is the most specific match of the path
("/items/{id}" before "/{proxy+}"), its method the request's or ANY, and its integration an
AWS_PROXY one to a function (uri arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/
<function arn>/invocations), called with payload format 1.0.

REST API answers, as AWS's: an unknown stage: 403 {"message":"Forbidden"}; no resource or
method: 403 {"message":"Missing Authentication Token"}; Lambda refusing the invocation (no
permission for apigateway.amazonaws.com, a throttle, an event over 6 MB): 500 {"message":
"Internal server error"}; a function error or a malformed proxy response: 502 with the same
body; the integration timeout (29 s by default) passed: 504 {"message": "Endpoint request
timed out"}. A method with authorizationType AWS_IAM needs a SigV4 signature (service
execute-api) from a caller allowed execute-api:Invoke.

Not emulated: Lambda (CUSTOM) and Cognito authorizers (such a method answers 500), API keys,
non-proxy integrations (AWS, HTTP, MOCK answer 500), and deployments as snapshots: a stage
serves the API's current resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...aws.moto_glue import find_function, function_spec
from ..services import CloudServices
from . import events, gateway, invoking, paths, responses
from .messages import HttpRequest, HttpResponse, json_response

FORBIDDEN = {"message": "Forbidden"}
MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL_ERROR = {"message": "Internal server error"}
TIMED_OUT = {"message": "Endpoint request timed out"}


@dataclass(frozen=True)
class ResourceMatch:
    resource: Any
    method: Any
    parameters: dict[str, str]


def pick_resource(api: Any, request: HttpRequest) -> ResourceMatch | None:
    best: tuple[tuple, ResourceMatch] | None = None
    for resource in list(api.resources.values()):
        method = resource.resource_methods.get(request.method) or resource.resource_methods.get("ANY")
        if method is None:
            continue
        matched = paths.match(resource.get_path(), request.raw_path)
        if matched is None:
            continue
        rank = (matched.specificity, method.http_method != "ANY")
        if best is None or rank > best[0]:
            best = (rank, ResourceMatch(resource, method, matched.parameters))
    return best[1] if best else None


@dataclass(frozen=True)
class RestApiSite:
    cloud: CloudServices
    backend: Any  # moto's APIGatewayBackend of the API's account and region
    api_id: str

    def handle(self, request: HttpRequest) -> HttpResponse:
        api = self.backend.apis.get(self.api_id)
        stage_name = request.raw_path.split("/")[1] if request.raw_path.count("/") >= 1 else ""
        stage = api.stages.get(stage_name) if api is not None and stage_name else None
        if stage is None:
            return json_response(403, FORBIDDEN, [("x-amzn-ErrorType", "ForbiddenException")])
        below = request.below(1)
        match = pick_resource(api, below)
        if match is None:
            return json_response(403, MISSING_TOKEN, [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
        request_id = events.api_request_id()
        extra = [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", events.api_request_id())]
        source_arn = gateway.execute_api_arn(self.backend.region_name, self.backend.account_id, api.id, stage.name,
                                             below.method, match.resource.get_path())
        refused = self._authorize(match.method, request, source_arn)
        if refused is not None:
            return refused.with_headers(extra)
        return self._integrate(api, stage, request, below, match, request_id, source_arn).with_headers(extra)

    def _authorize(self, method: Any, request: HttpRequest, source_arn: str) -> HttpResponse | None:
        kind = (method.authorization_type or "NONE").upper()
        if kind == "NONE":
            return None
        if kind != "AWS_IAM":
            return json_response(500, INTERNAL_ERROR)  # authorizers are not emulated: refuse, never let through
        return gateway.refuse_unless_signed(request, self.backend.account_id, source_arn, MISSING_TOKEN)

    def _integrate(self, api: Any, stage: Any, request: HttpRequest, below: HttpRequest, match: ResourceMatch,
                   request_id: str, source_arn: str) -> HttpResponse:
        integration = match.method.method_integration
        stage_variables = dict(stage.variables or {})
        target = invoking.integration_target(integration.uri if integration else None, stage_variables)
        found = find_function(target) if target else None
        if integration is None or integration.integration_type != "AWS_PROXY" or target is None or found is None:
            kind = integration.integration_type if integration else "no"
            gateway.record(self.cloud.flow, api.name, target, "dropped",
                           f"{kind} integration: only AWS_PROXY to an existing function runs here", ok=False)
            return json_response(500, INTERNAL_ERROR)
        lambda_backend, fn = found
        if not gateway.may_invoke(fn, target, source_arn, self.backend.account_id, integration.credentials):
            gateway.record(self.cloud.flow, api.name, target, "dropped",
                           f"500: the function's policy does not let apigateway.amazonaws.com invoke it from "
                           f"{source_arn}", ok=False)
            return json_response(500, INTERNAL_ERROR)
        arrival = events.Arrival(
            api_id=api.id, account_id=self.backend.account_id,
            domain_name=f"{api.id}.execute-api.{self.backend.region_name}.amazonaws.com", domain_prefix=api.id,
            stage=stage.name, route_key="", now=self.cloud.clock.now(), request_id=request_id,
            port=request.port)
        event = events.version_1(
            below, arrival, resource=match.resource.get_path(), path=below.path,
            context_path=f"/{stage.name}{below.path}", resource_id=match.resource.id,
            path_parameters=match.parameters, stage_variables=stage_variables,
            base64_body=events.matches_media_type(below.header("Content-Type"), api.binaryMediaTypes))
        timeout_ms = int(integration.timeout_in_millis or 29000)
        invocation = invoking.invoke(self.cloud, function_spec(lambda_backend, fn), json.dumps(event).encode(),
                                     timeout_s=timeout_ms / 1000)
        response = self._response(invocation, api, below)
        gateway.record(self.cloud.flow, api.name, target, "invoke",
                       f"{request.method} {below.path} -> {invoking.outcome_detail(invocation, response.status)}",
                       request_id=invocation.outcome.request_id if invocation.outcome else None,
                       ok=response.status < 500)
        return response

    @staticmethod
    def _response(invocation: invoking.HttpInvocation, api: Any, request: HttpRequest) -> HttpResponse:
        if invocation.integration_timed_out:
            return json_response(504, TIMED_OUT)
        outcome = invocation.outcome
        if outcome is None or outcome.throttle is not None:
            return json_response(500, INTERNAL_ERROR)  # Lambda refused the invocation
        if outcome.function_error is not None:
            return json_response(502, INTERNAL_ERROR)
        mapped = responses.from_version_1(outcome.body, strict=True, binary_media_types=api.binaryMediaTypes,
                                          accept=request.header("Accept"))
        return mapped if mapped is not None else json_response(502, INTERNAL_ERROR)
