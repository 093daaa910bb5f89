"""API Gateway end to end: HTTP APIs (apigatewayv2) and REST APIs (apigateway) built with boto3, then
called over HTTP (requests) at the local address, reaching the function with AWS's payload formats 1.0 and
2.0 and answering as API Gateway does. Failure paths: no permission for apigateway.amazonaws.com, function
errors, malformed results, the integration timeout, unknown routes and stages, deleted APIs, IAM auth."""

from __future__ import annotations

import base64
import json
import re

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from event_shapes import assert_same_shape
from lambdalab.triggers.http import responses
from support import create_function, flow

ACCOUNT = "123456789012"
REGION = "us-east-1"
FREE_FORM = {"$.headers", "$.multiValueHeaders", "$.queryStringParameters", "$.multiValueQueryStringParameters",
             "$.pathParameters", "$.stageVariables"}  # the request's own names, checked one by one below

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def lambda_uri(name: str) -> str:
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn(name)}/invocations"


def allow_api(lam, name: str, api_id: str, statement: str = "apigateway") -> None:
    lam.add_permission(FunctionName=name, StatementId=statement, Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*")


def http_api(aws, lam, role, name: str = "web", code: str = ECHO, routes: tuple[str, ...] = ("$default",),
             payload_format: str = "2.0", timeout_ms: int | None = None, **function_extra) -> tuple[str, str]:
    """An HTTP API with one AWS_PROXY integration behind `routes` and an auto-deployed $default stage:
    (api id, ApiEndpoint)."""
    v2 = aws.client("apigatewayv2")
    create_function(lam, name, code, role, **function_extra)
    api = v2.create_api(Name=f"{name}-api", ProtocolType="HTTP")
    extra = {"TimeoutInMillis": timeout_ms} if timeout_ms else {}
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                        IntegrationUri=function_arn(name), PayloadFormatVersion=payload_format,
                                        **extra)
    for route in routes:
        v2.create_route(ApiId=api["ApiId"], RouteKey=route, Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return api["ApiId"], api["ApiEndpoint"]


def rest_api(aws, lam, role, name: str = "web", code: str = ECHO, path_part: str = "{proxy+}",
             method: str = "ANY", authorization: str = "NONE", binary_media_types: list[str] | None = None,
             **function_extra) -> tuple[str, str]:
    """A REST API with /<path_part> -> AWS_PROXY to the function, deployed to stage prod: (api id, stage URL)."""
    rest = aws.client("apigateway")
    create_function(lam, name, code, role, **function_extra)
    extra = {"binaryMediaTypes": binary_media_types} if binary_media_types else {}
    api = rest.create_rest_api(name=f"{name}-api", **extra)
    root = next(item for item in rest.get_resources(restApiId=api["id"])["items"] if item["path"] == "/")
    resource = rest.create_resource(restApiId=api["id"], parentId=root["id"], pathPart=path_part)
    rest.put_method(restApiId=api["id"], resourceId=resource["id"], httpMethod=method, authorizationType=authorization)
    rest.put_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod=method, type="AWS_PROXY",
                         integrationHttpMethod="POST", uri=lambda_uri(name))
    rest.create_deployment(restApiId=api["id"], stageName="prod")
    return api["id"], f"{front_door(aws)}/{api['id']}/prod/"


def front_door(aws) -> str:
    return aws.admin("GET", "/lambdalab/http")["base_url"]


def echoed(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# --- HTTP APIs ---------------------------------------------------------------------------------------

def test_quick_create_makes_route_integration_and_stage_at_a_local_endpoint(aws, lam, role):
    v2 = aws.client("apigatewayv2")
    create_function(lam, "quick", ECHO, role)
    api = v2.create_api(Name="quick", ProtocolType="HTTP", Target=function_arn("quick"))
    assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/{api['ApiId']}", api["ApiEndpoint"])
    assert v2.get_api(ApiId=api["ApiId"])["ApiEndpoint"] == api["ApiEndpoint"]
    (route,) = v2.get_routes(ApiId=api["ApiId"])["Items"]
    (integration,) = v2.get_integrations(ApiId=api["ApiId"])["Items"]
    (stage,) = v2.get_stages(ApiId=api["ApiId"])["Items"]
    assert route["RouteKey"] == "$default" and route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)

    refused = requests.get(api["ApiEndpoint"] + "/hello", timeout=60)
    assert refused.status_code == 500 and refused.json() == {"message": "Internal Server Error"}
    assert flow(aws, source="apigateway:quick")[-1]["kind"] == "dropped"

    allow_api(lam, "quick", api["ApiId"])
    response = requests.get(api["ApiEndpoint"] + "/hello", timeout=60)
    assert echoed(response)["rawPath"] == "/hello"
    assert response.headers["apigw-requestid"]
    assert flow(aws, source="apigateway:quick")[-1]["kind"] == "invoke"


def test_routes_pick_the_most_specific_match_with_path_parameters(aws, lam, role):
    api_id, endpoint = http_api(aws, lam, role, routes=("GET /items/{id}", "GET /items/new", "ANY /{proxy+}"))
    allow_api(lam, "web", api_id)
    by_id = echoed(requests.get(endpoint + "/items/42", timeout=60))
    assert by_id["routeKey"] == "GET /items/{id}" and by_id["pathParameters"] == {"id": "42"}
    assert by_id["requestContext"]["routeKey"] == "GET /items/{id}"
    assert echoed(requests.get(endpoint + "/items/new", timeout=60))["routeKey"] == "GET /items/new"
    greedy = echoed(requests.delete(endpoint + "/items/42", timeout=60))
    assert greedy["routeKey"] == "ANY /{proxy+}" and greedy["pathParameters"] == {"proxy": "items/42"}


def test_no_matching_route_is_404(aws, lam, role):
    api_id, endpoint = http_api(aws, lam, role, routes=("GET /items/{id}",))
    allow_api(lam, "web", api_id)
    for response in (requests.post(endpoint + "/items/1", timeout=60), requests.get(endpoint + "/other", timeout=60)):
        assert response.status_code == 404 and response.json() == {"message": "Not Found"}


def test_payload_2_0_event_has_aws_shape(aws, lam, role):
    api_id, endpoint = http_api(aws, lam, role)
    allow_api(lam, "web", api_id)
    event = echoed(requests.post(endpoint + "/orders", data="Hello world!", cookies={"s_fid": "7AB"},
                                 headers={"Content-Type": "text/plain"}, timeout=60))
    # The developer guide's sample has cookies and a body and no query, path parameters or stage variables.
    assert_same_shape(event, "aws-docs/apigateway-v2.json", ignore={"$.headers"})
    assert all(name == name.lower() and isinstance(value, str) for name, value in event["headers"].items())
    assert event["body"] == "Hello world!" and event["isBase64Encoded"] is False
    assert event["cookies"] == ["s_fid=7AB"]
    context = event["requestContext"]
    assert (context["apiId"], context["stage"], context["accountId"]) == (api_id, "$default", ACCOUNT)
    assert context["domainName"] == f"{api_id}.execute-api.{REGION}.amazonaws.com"
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["time"])


def test_payload_1_0_on_an_http_api(aws, lam, role):
    code = """
import json
def handler(event, context):
    return {"statusCode": 200, "multiValueHeaders": {"x-tag": ["a", "b"]}, "body": json.dumps(event)}
"""
    api_id, endpoint = http_api(aws, lam, role, code=code, routes=("GET /items/{id}",), payload_format="1.0")
    allow_api(lam, "web", api_id)
    response = requests.get(endpoint + "/items/7?q=1&q=2", timeout=60)
    event = echoed(response)
    assert_same_shape(event, "aws-docs/apigateway-v1.json", ignore=FREE_FORM | {"$.body"})
    assert event["body"] is None  # a GET without a body: null, as AWS sends it
    assert (event["resource"], event["httpMethod"], event["pathParameters"]) == ("/items/{id}", "GET", {"id": "7"})
    assert event["queryStringParameters"] == {"q": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert response.raw.headers.getlist("x-tag") == ["a", "b"]


def test_a_named_stage_keeps_its_name_in_raw_path_and_passes_stage_variables(aws, lam, role):
    v2 = aws.client("apigatewayv2")
    api_id, endpoint = http_api(aws, lam, role, routes=("GET /items",))
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"table": "orders"})
    allow_api(lam, "web", api_id)
    event = echoed(requests.get(endpoint + "/prod/items", timeout=60))
    assert event["rawPath"] == "/prod/items" and event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"table": "orders"}
    assert echoed(requests.get(endpoint + "/items", timeout=60))["requestContext"]["stage"] == "$default"


def test_http_api_function_errors_and_malformed_results_are_500(aws, lam, role):
    code = """
def handler(event, context):
    if event["rawPath"] == "/raise":
        raise RuntimeError("boom")
    return {"statusCode": "abc"}
"""
    api_id, endpoint = http_api(aws, lam, role, code=code)
    allow_api(lam, "web", api_id)
    for path in ("/raise", "/malformed"):
        response = requests.get(endpoint + path, timeout=60)
        assert response.status_code == 500 and response.json() == {"message": "Internal Server Error"}
    steps = flow(aws, source="apigateway:web-api")
    assert [step["ok"] for step in steps] == [False, False]


def test_the_integration_timeout_answers_503_while_the_function_runs_on(aws, lam, role):
    code = "import time\ndef handler(event, context):\n    time.sleep(4)\n    return 'late'\n"
    api_id, endpoint = http_api(aws, lam, role, code=code, timeout_ms=1000, Timeout=10)
    allow_api(lam, "web", api_id)
    response = requests.get(endpoint + "/", timeout=60)
    assert response.status_code == 503 and response.json() == {"message": "Service Unavailable"}


def test_a_source_arn_of_another_api_does_not_let_this_one_invoke(aws, lam, role):
    api_id, endpoint = http_api(aws, lam, role)
    lam.add_permission(FunctionName="web", StatementId="other", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other/*")
    assert requests.get(endpoint + "/", timeout=60).status_code == 500
    dropped = flow(aws, source="apigateway:web-api")[-1]
    assert dropped["kind"] == "dropped" and f"{api_id}/$default/$default" in dropped["detail"]


def test_a_deleted_http_api_stops_answering(aws, lam, role):
    api_id, endpoint = http_api(aws, lam, role)
    allow_api(lam, "web", api_id)
    assert requests.get(endpoint + "/", timeout=60).status_code == 200
    aws.client("apigatewayv2").delete_api(ApiId=api_id)
    gone = requests.get(endpoint + "/", timeout=60)
    assert gone.status_code == 404 and gone.json() == {"message": "Not Found"}


def test_http_api_cors_answers_preflights(aws, lam, role):
    v2 = aws.client("apigatewayv2")
    api_id, endpoint = http_api(aws, lam, role)
    allow_api(lam, "web", api_id)
    v2.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["GET"]})
    preflight = requests.options(endpoint + "/x", headers={"Origin": "https://a.example",
                                                           "Access-Control-Request-Method": "GET"}, timeout=60)
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert not flow(aws, source="apigateway:web-api")  # the function did not run
    actual = requests.get(endpoint + "/x", headers={"Origin": "https://a.example"}, timeout=60)
    assert actual.headers["Access-Control-Allow-Origin"] == "*"


def test_an_aws_iam_route_needs_an_execute_api_signature(aws, lam, role):
    v2 = aws.client("apigatewayv2")
    api_id, endpoint = http_api(aws, lam, role, routes=("GET /open",))
    (integration,) = v2.get_integrations(ApiId=api_id)["Items"]
    v2.create_route(ApiId=api_id, RouteKey="GET /secure", AuthorizationType="AWS_IAM",
                    Target=f"integrations/{integration['IntegrationId']}")
    allow_api(lam, "web", api_id)
    assert requests.get(endpoint + "/open", timeout=60).status_code == 200
    unsigned = requests.get(endpoint + "/secure", timeout=60)
    assert unsigned.status_code == 403 and unsigned.json() == {"message": "Forbidden"}
    request = AWSRequest(method="GET", url=endpoint + "/secure")
    SigV4Auth(Credentials(aws.state["access_key_id"], aws.state["secret_access_key"]), "execute-api",
              REGION).add_auth(request)
    assert echoed(requests.get(endpoint + "/secure", headers=dict(request.headers), timeout=60))["rawPath"] == "/secure"


# --- REST APIs -----------------------------------------------------------------------------------

def test_rest_proxy_sends_payload_1_0_with_aws_shape(aws, lam, role):
    api_id, url = rest_api(aws, lam, role)
    allow_api(lam, "web", api_id)
    event = echoed(requests.post(url + "items/7?tag=a&tag=b", json={"qty": 2}, headers={"X-Trace": "t"}, timeout=60))
    assert_same_shape(event, "aws-docs/apigateway-v1.json", ignore=FREE_FORM)
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/{proxy+}", "/items/7", "POST")
    assert event["pathParameters"] == {"proxy": "items/7"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["headers"]["X-Trace"] == "t" and event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert json.loads(event["body"]) == {"qty": 2} and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == ("prod", "/prod/items/7", "/{proxy+}")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    empty = echoed(requests.get(url + "x", timeout=60))
    assert empty["body"] is None and empty["queryStringParameters"] is None and empty["stageVariables"] is None


def test_rest_errors_are_api_gateway_errors(aws, lam, role):
    code = """
def handler(event, context):
    if event["path"] == "/raise":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": {"not": "a string"}}
"""
    api_id, url = rest_api(aws, lam, role, code=code)
    refused = requests.get(url + "raise", timeout=60)
    assert refused.status_code == 500 and refused.json() == {"message": "Internal server error"}  # no permission
    allow_api(lam, "web", api_id)
    failed = requests.get(url + "raise", timeout=60)
    assert failed.status_code == 502 and failed.json() == {"message": "Internal server error"}
    malformed = requests.get(url + "malformed", timeout=60)
    assert malformed.status_code == 502
    no_stage = requests.get(url.replace("/prod/", "/dev/") + "x", timeout=60)
    assert no_stage.status_code == 403 and no_stage.json() == {"message": "Forbidden"}
    steps = flow(aws, source="apigateway:web-api")
    assert [step["kind"] for step in steps] == ["dropped", "invoke", "invoke"]


def test_rest_without_a_resource_or_method_is_missing_authentication_token(aws, lam, role):
    api_id, url = rest_api(aws, lam, role, path_part="items", method="GET")
    allow_api(lam, "web", api_id)
    assert echoed(requests.get(url + "items", timeout=60))["resource"] == "/items"
    for response in (requests.get(url + "other", timeout=60), requests.post(url + "items", timeout=60)):
        assert response.status_code == 403 and response.json() == {"message": "Missing Authentication Token"}


def test_rest_binary_media_types_base64_in_and_bytes_out(aws, lam, role):
    code = """
import base64
def handler(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"}, "isBase64Encoded": True,
            "body": base64.b64encode(data[::-1]).decode()}
"""
    api_id, url = rest_api(aws, lam, role, code=code, binary_media_types=["application/octet-stream"])
    assert aws.client("apigateway").get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["application/octet-stream"]
    allow_api(lam, "web", api_id)
    payload = bytes(range(256))
    response = requests.post(url + "blob", data=payload, timeout=60,
                             headers={"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"})
    assert response.status_code == 200 and response.content == payload[::-1]


def test_rest_without_binary_media_types_returns_the_base64_text(aws, lam, role):
    code = """
import base64
def handler(event, context):
    return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"hi").decode()}
"""
    api_id, url = rest_api(aws, lam, role, code=code)
    allow_api(lam, "web", api_id)
    assert requests.get(url + "x", timeout=60).text == base64.b64encode(b"hi").decode()


def test_rest_aws_iam_methods_need_an_execute_api_signature(aws, lam, role):
    api_id, url = rest_api(aws, lam, role, authorization="AWS_IAM")
    allow_api(lam, "web", api_id)
    unsigned = requests.get(url + "x", timeout=60)
    assert unsigned.status_code == 403 and unsigned.json() == {"message": "Missing Authentication Token"}
    request = AWSRequest(method="GET", url=url + "x")
    SigV4Auth(Credentials(aws.state["access_key_id"], aws.state["secret_access_key"]), "execute-api",
              REGION).add_auth(request)
    assert requests.get(url + "x", headers=dict(request.headers), timeout=60).status_code == 200


def test_rest_api_address_helper_reads_the_front_door(aws, monkeypatch):
    from lambdalab.client import http_addresses as addresses

    monkeypatch.setenv("LAMBDALAB_HOME", str(aws.home))
    assert addresses.rest_api_url("abc123", "prod") == f"{front_door(aws)}/abc123/prod/"
    assert addresses.http_api_url("xyz") == f"{front_door(aws)}/xyz/"


def test_a_deleted_rest_api_stops_answering(aws, lam, role):
    api_id, url = rest_api(aws, lam, role)
    allow_api(lam, "web", api_id)
    assert requests.get(url + "x", timeout=60).status_code == 200
    aws.client("apigateway").delete_rest_api(restApiId=api_id)
    assert requests.get(url + "x", timeout=60).status_code == 403


# --- the pieces, without a cloud -----------------------------------------------------------------

def test_version_1_results_are_strict_on_rest_apis():
    good = json.dumps({"statusCode": 200, "headers": {"a": "1"}, "multiValueHeaders": {"b": ["2", "3"]},
                       "body": "ok", "isBase64Encoded": False}).encode()
    mapped = responses.from_version_1(good, strict=True)
    assert mapped.status == 200 and mapped.body == b"ok"
    assert [h for h in mapped.headers if h[0] in ("a", "b")] == [("a", "1"), ("b", "2"), ("b", "3")]
    assert responses.from_version_1(b'{"statusCode": 200, "extra": 1}', strict=True) is None
    assert responses.from_version_1(b'{"statusCode": 200, "extra": 1}', strict=False) is not None
    assert responses.from_version_1(b'"hello"', strict=True) is None
    assert responses.from_version_1(b'{"body": "no status"}', strict=False) is None
