"""An API Gateway HTTP API (apigatewayv2, ProtocolType HTTP) answering on the local front door.

http://127.0.0.1:<port>/<api-id>/... is the $default stage; http://127.0.0.1:<port>/<api-id>/
<stage>/... a named one (its name stays in rawPath, as on AWS). The route is the most specific
match of the request's method and path ("GET /items/{id}" before "ANY /{proxy+}" before
"$default"); its target integrations/<id> must be an AWS_PROXY integration to a function,
called with payload format 2.0 or 1.0 as the integration says.

HTTP API answers: no stage or route: 404 {"message":"Not Found"}; the function not allowed to
be invoked by apigateway.amazonaws.com, a function error, a throttle or a malformed result:
500 {"message":"Internal Server Error"}; the integration's timeout (30 s by default) passed:
503 {"message":"Service Unavailable"}. CORS settings of the API answer preflights.

A route with AuthorizationType AWS_IAM needs a SigV4 signature (service execute-api) from a
caller allowed execute-api:Invoke (unsigned: 403 {"message":"Forbidden"}).

Not emulated: JWT and Lambda authorizers (such a route answers 500, never lets a request
through), HTTP_PROXY integrations (500), and deployments: every stage serves the API's current
routes (moto has no CreateDeployment for HTTP APIs, so there is nothing to snapshot).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...aws.moto_glue import find_function, function_spec
from ..services import CloudServices
from . import events, gateway, invoking, paths, responses
from .cors import CorsRules
from .messages import HttpRequest, HttpResponse, json_response

NOT_FOUND = {"message": "Not Found"}
INTERNAL_ERROR = {"message": "Internal Server Error"}
UNAVAILABLE = {"message": "Service Unavailable"}


@dataclass(frozen=True)
class RouteMatch:
    route: Any
    path: str  # the route key's path ("" for $default)
    parameters: dict[str, str]


def pick_stage(api: Any, request: HttpRequest) -> tuple[Any, HttpRequest] | None:
    """The stage and the request below it: a named stage if the path starts with its name, else $default."""
    first = request.raw_path.split("/")[1] if request.raw_path.count("/") >= 1 else ""
    if first and first != "$default" and first in api.stages:
        return api.stages[first], request.below(1)
    if "$default" in api.stages:
        return api.stages["$default"], request
    return None


def pick_route(api: Any, request: HttpRequest) -> RouteMatch | None:
    best: tuple[tuple, RouteMatch] | None = None
    default = None
    for route in list(api.routes.values()):
        if route.route_key == "$default":
            default = route
            continue
        method, _, template = route.route_key.partition(" ")
        if method not in ("ANY", request.method):
            continue
        matched = paths.match(template, request.raw_path)
        if matched is None:
            continue
        rank = (matched.specificity, method != "ANY")
        if best is None or rank > best[0]:
            best = (rank, RouteMatch(route, template, matched.parameters))
    if best is not None:
        return best[1]
    return RouteMatch(default, "", {}) if default is not None else None


@dataclass(frozen=True)
class HttpApiSite:
    cloud: CloudServices
    backend: Any  # moto's ApiGatewayV2Backend of the API's account and region
    api_id: str

    def handle(self, request: HttpRequest) -> HttpResponse:
        api = self.backend.apis.get(self.api_id)
        staged = pick_stage(api, request) if api is not None else None
        if staged is None:
            return json_response(404, NOT_FOUND)
        stage, below = staged
        cors = CorsRules.from_config(api.cors_configuration)
        if cors is not None and cors.is_preflight(request):
            return cors.preflight(request)
        response = self._route(api, stage, request, below)
        return cors.decorate(request, response) if cors is not None else response

    def _route(self, api: Any, stage: Any, request: HttpRequest, below: HttpRequest) -> HttpResponse:
        match = pick_route(api, below)
        target_id = (match.route.target or "").split("/")[-1] if match else ""
        integration = api.integrations.get(target_id) if match else None
        if integration is None:
            return json_response(404, NOT_FOUND)
        stage_variables = dict(stage.stage_variables or {})
        target = invoking.integration_target(integration.integration_uri, stage_variables)
        found = find_function(target) if target else None
        request_id = events.api_request_id()
        extra = [("apigw-requestid", request_id)]
        if integration.integration_type != "AWS_PROXY" or target is None or found is None:
            gateway.record(self.cloud.flow, api.name, target, "dropped", f"{integration.integration_type} "
                           "integration: only AWS_PROXY to an existing function runs here", ok=False)
            return json_response(500, INTERNAL_ERROR, extra)
        lambda_backend, fn = found
        source_arn = gateway.execute_api_arn(self.backend.region_name, self.backend.account_id, api.api_id,
                                             stage.name, *_method_and_path(match, below))
        refused = self._authorize(match.route, request, source_arn)
        if refused is not None:
            return refused.with_headers(extra)
        if not gateway.may_invoke(fn, target, source_arn, self.backend.account_id, integration.credentials_arn):
            gateway.record(self.cloud.flow, api.name, target, "dropped",
                           f"500: the function's policy does not let apigateway.amazonaws.com invoke it from "
                           f"{source_arn}", ok=False)
            return json_response(500, INTERNAL_ERROR, extra)
        event = self._event(api, stage, request, below, match, integration, request_id, stage_variables)
        invocation = invoking.invoke(self.cloud, function_spec(lambda_backend, fn), json.dumps(event).encode(),
                                     timeout_s=(integration.timeout_in_millis or 30000) / 1000)
        response = self._response(invocation, integration)
        gateway.record(self.cloud.flow, api.name, target, "invoke",
                       f"{request.method} {request.path} -> {invoking.outcome_detail(invocation, response.status)}",
                       request_id=invocation.outcome.request_id if invocation.outcome else None,
                       ok=response.status < 500)
        return response.with_headers(extra)

    def _authorize(self, route: Any, request: HttpRequest, source_arn: str) -> HttpResponse | None:
        kind = (route.authorization_type or "NONE").upper()
        if kind == "NONE":
            return None
        if kind != "AWS_IAM":
            return json_response(500, INTERNAL_ERROR)  # JWT and Lambda authorizers are not emulated: refuse
        return gateway.refuse_unless_signed(request, self.backend.account_id, source_arn, {"message": "Forbidden"})

    def _event(self, api: Any, stage: Any, request: HttpRequest, below: HttpRequest, match: RouteMatch,
               integration: Any, request_id: str, stage_variables: dict[str, str]) -> dict[str, Any]:
        arrival = events.Arrival(
            api_id=api.api_id, account_id=self.backend.account_id,
            domain_name=f"{api.api_id}.execute-api.{self.backend.region_name}.amazonaws.com",
            domain_prefix=api.api_id, stage=stage.name, route_key=match.route.route_key,
            now=self.cloud.clock.now(), request_id=request_id, port=request.port)
        if (integration.payload_format_version or "1.0") == "2.0":
            return events.version_2(request, arrival, raw_path=request.raw_path, path_parameters=match.parameters,
                                    stage_variables=stage_variables)
        return events.version_1(
            below, arrival, resource=match.path or below.path, path=request.path, context_path=request.path,
            resource_id=match.route.route_id, path_parameters=match.parameters, stage_variables=stage_variables,
            base64_body=bool(below.body) and not events.is_text(below.header("Content-Type")),
            lowercase_headers=True)

    @staticmethod
    def _response(invocation: invoking.HttpInvocation, integration: Any) -> HttpResponse:
        if invocation.integration_timed_out:
            return json_response(503, UNAVAILABLE)
        outcome = invocation.outcome
        if outcome is None or outcome.throttle is not None or outcome.function_error is not None:
            return json_response(500, INTERNAL_ERROR)
        if (integration.payload_format_version or "1.0") == "2.0":
            mapped = responses.from_version_2(outcome.body)
        else:
            mapped = responses.from_version_1(outcome.body, strict=False)
        return mapped if mapped is not None else json_response(500, INTERNAL_ERROR)


def _method_and_path(match: RouteMatch, below: HttpRequest) -> tuple[str, str]:
    if match.route.route_key == "$default":
        return "$default", ""
    method = match.route.route_key.split(" ")[0]
    return (below.method if method == "ANY" else method), match.path
