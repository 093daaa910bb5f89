"""API Gateway in front of functions: HTTP APIs (apigatewayv2) and REST APIs (apigateway), served locally.

moto keeps both models (APIs, routes or resources, integrations, stages) but answers no
request sent to them. Here each API is a site of the local front door (see triggers/http):
an HTTP API at http://127.0.0.1:<port>/<api-id>/, which CreateApi and GetApi report as
ApiEndpoint where AWS reports https://<api-id>.execute-api.<region>.amazonaws.com; a REST
API stage at http://127.0.0.1:<port>/<rest-api-id>/<stage>/ (lambdalab.client.http_addresses
.rest_api_url gives it, as AWS's API gives no address for a REST API either).

What moto lacks and is added here: CreateApi's quick create (Target: a function ARN makes an
AWS_PROXY integration with payload 2.0, a route (RouteKey, default "$default") and an
auto-deployed $default stage), the local ApiEndpoint, and CreateRestApi's binaryMediaTypes.
How requests are answered: http/http_api.py and http/rest_api.py.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from moto.apigateway.models import APIGatewayBackend
from moto.apigateway.responses import APIGatewayResponse
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response

from ..aws.moto_glue import wrap
from .http.front_door import FrontDoor
from .http.http_api import HttpApiSite
from .http.rest_api import RestApiSite
from .services import CloudServices


class ApiIndex:
    """Which account and region each API id of one cloud lives in (moto keeps APIs per account and region)."""

    def __init__(self, cloud: CloudServices) -> None:
        self._cloud = cloud
        self._lock = threading.Lock()
        self._http: dict[str, Any] = {}  # api id -> moto's ApiGatewayV2Backend
        self._rest: dict[str, Any] = {}  # rest api id -> moto's APIGatewayBackend

    def add_http(self, api_id: str, backend: Any) -> None:
        with self._lock:
            self._http[api_id] = backend

    def add_rest(self, api_id: str, backend: Any) -> None:
        with self._lock:
            self._rest[api_id] = backend

    def site(self, api_id: str) -> HttpApiSite | RestApiSite | None:
        """The front door's resolver: the API whose id is the request's first path segment."""
        if api_id in self._http:
            return HttpApiSite(self._cloud, self._http[api_id], api_id)
        if api_id in self._rest:
            return RestApiSite(self._cloud, self._rest[api_id], api_id)
        return None

    def size(self) -> int:
        return len(self._http) + len(self._rest)

    def clear(self) -> None:
        with self._lock:
            self._http.clear()
            self._rest.clear()


class ApiGateway:
    """The APIs of one cloud and the front door that answers them (shared with its function URLs)."""

    def __init__(self, cloud: CloudServices, door: FrontDoor) -> None:
        self.index = ApiIndex(cloud)
        self.door = door

    def reset(self) -> None:
        self.index.clear()
        self.door.stop()

    def shutdown(self) -> None:
        self.door.stop()

    def export_state(self) -> None:
        """Nothing of its own: the APIs are moto's, saved with it (cloud/persistence.py)."""
        return None

    def restore_state(self, saved: None) -> None:
        """Index the restored APIs again, and answer them on the front door."""
        from moto.apigateway.models import apigateway_backends
        from moto.apigatewayv2.models import apigatewayv2_backends

        for account_backends in list(apigatewayv2_backends.values()):
            for backend in list(account_backends.values()):
                for api_id in list(backend.apis):
                    self.index.add_http(api_id, backend)
        for account_backends in list(apigateway_backends.values()):
            for backend in list(account_backends.values()):
                for api_id in list(backend.apis):
                    self.index.add_rest(api_id, backend)
        if self.index.size():
            self.door.base_url()


def install(cloud: CloudServices) -> ApiGateway:
    gateway = ApiGateway(cloud, cloud.front_door)
    wrap(ApiGatewayV2Backend, "create_api", functools.partial(_indexed_http_api, gateway))
    wrap(ApiGatewayV2Backend, "get_api", functools.partial(_addressed_http_api, gateway.door))
    wrap(ApiGatewayV2Backend, "get_apis", functools.partial(_addressed_http_apis, gateway.door))
    wrap(APIGatewayBackend, "create_rest_api", functools.partial(_indexed_rest_api, gateway))
    wrap(ApiGatewayV2Response, "create_api", _quick_create)
    wrap(APIGatewayResponse, "create_rest_api", _with_binary_media_types)
    gateway.door.add_resolver(gateway.index.site)
    return gateway


# --- addresses -------------------------------------------------------------------------------

def _local_endpoint(door: FrontDoor, api: Any) -> None:
    """ApiEndpoint: the front door's address for this API (the server is started if need be)."""
    api.api_endpoint = f"{door.base_url()}/{api.api_id}"


def _indexed_http_api(gateway: ApiGateway, original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    api = original(backend, *args, **kwargs)
    gateway.index.add_http(api.api_id, backend)
    _local_endpoint(gateway.door, api)
    return api


def _addressed_http_api(door: FrontDoor, original: Any, backend: Any, api_id: str) -> Any:
    api = original(backend, api_id)
    _local_endpoint(door, api)  # after a reset the front door may answer on a new port
    return api


def _addressed_http_apis(door: FrontDoor, original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    apis = original(backend, *args, **kwargs)
    for api in apis:
        _local_endpoint(door, api)
    return apis


def _indexed_rest_api(gateway: ApiGateway, original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    api = original(backend, *args, **kwargs)
    gateway.index.add_rest(api.id, backend)
    gateway.door.base_url()  # the REST API answers from now on, as a created API does
    return api


# --- what moto's request handlers skip -----------------------------------------------------------

def _quick_create(original: Any, response: Any) -> Any:
    """CreateApi with Target: the integration, the route and the $default stage AWS makes with it."""
    status, headers, body = original(response)
    params = json.loads(response.body or "{}")
    target = params.get("target")
    if not target or params.get("protocolType") != "HTTP":
        return status, headers, body
    api_id = json.loads(body)["apiId"]
    backend = response.apigatewayv2_backend
    is_lambda = ":lambda:" in target
    integration = backend.create_integration(
        api_id=api_id, connection_id=None, connection_type=None, content_handling_strategy=None,
        credentials_arn=params.get("credentialsArn"), description=None,
        integration_method=None if is_lambda else "ANY", integration_subtype=None,
        integration_type="AWS_PROXY" if is_lambda else "HTTP_PROXY", integration_uri=target,
        passthrough_behavior=None, payload_format_version="2.0" if is_lambda else "1.0", request_parameters=None,
        request_templates=None, response_parameters=None, template_selection_expression=None,
        timeout_in_millis=None, tls_config=None)
    backend.create_route(
        api_id=api_id, api_key_required=False, authorization_scopes=[], authorization_type="NONE",
        authorizer_id=None, model_selection_expression=None, operation_name=None, request_models=None,
        request_parameters=None, route_key=params.get("routeKey") or "$default",
        route_response_selection_expression=None, target=f"integrations/{integration.id}")
    backend.create_stage(api_id, {"stageName": "$default", "autoDeploy": True})
    return status, headers, body


def _with_binary_media_types(original: Any, response: Any) -> Any:
    """CreateRestApi's binaryMediaTypes, which moto reads only from UpdateRestApi."""
    status, headers, body = original(response)
    wanted = response._get_param("binaryMediaTypes")
    if status != 200 or not wanted:
        return status, headers, body
    document = json.loads(body)
    response.backend.get_rest_api(document["id"]).binaryMediaTypes = list(wanted)
    document["binaryMediaTypes"] = list(wanted)
    return status, headers, json.dumps(document)
