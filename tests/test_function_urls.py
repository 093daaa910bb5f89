"""Function URLs end to end: the *UrlConfig APIs through boto3, and real HTTP requests (requests)
to the local address they return, reaching the function as AWS's payload 2.0 event and coming
back as AWS maps a function's result. Failure paths: no permission, the Oct 2025 second
permission, AWS_IAM signed and unsigned, function errors and timeouts, throttles, 6 MB, deleted URLs."""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from event_shapes import assert_same_shape
from lambdalab.triggers.http import paths, responses
from support import create_function, create_role, flow, start_cloud

ACCOUNT = "123456789012"
FORBIDDEN_HELP = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
                  "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")
URL_EVENT_FREE_FORM = {"$.requestContext.authentication", "$.requestContext.authorizer", "$.pathParameters",
                       "$.stageVariables", "$.headers", "$.queryStringParameters"}
LOCAL_URL = re.compile(r"^http://127\.0\.0\.1:\d+/[a-z0-9]{32}/$")

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


def allow_public(lam, name: str, qualifier: str | None = None) -> None:
    """The two statements a public (AuthType NONE) URL needs since October 2025."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(FunctionName=name, StatementId="FunctionURLAllowPublicAccess", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE", **extra)
    lam.add_permission(FunctionName=name, StatementId="FunctionURLAllowInvokeAction", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True, **extra)


def public_url(lam, role: str, name: str, code: str = ECHO, **function_extra) -> str:
    create_function(lam, name, code, role, **function_extra)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    allow_public(lam, name)
    return url


def echoed(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def signed(method: str, url: str, credentials: Credentials, service: str = "lambda", body: bytes = b"",
           headers: dict | None = None) -> requests.Response:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=60)


def learner_credentials(cloud) -> Credentials:
    return Credentials(cloud.state["access_key_id"], cloud.state["secret_access_key"])


# --- the API ---------------------------------------------------------------------------------------

def test_url_config_api_round_trip(lam, role):
    create_function(lam, "site", ECHO, role)
    created = lam.create_function_url_config(FunctionName="site", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert LOCAL_URL.match(created["FunctionUrl"]), created["FunctionUrl"]
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:site"
    assert (created["AuthType"], created["InvokeMode"]) == ("NONE", "BUFFERED")
    assert "CreationTime" in created and "Cors" not in created

    fetched = lam.get_function_url_config(FunctionName="site")
    assert fetched["FunctionUrl"] == created["FunctionUrl"] and "LastModifiedTime" in fetched

    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60}
    updated = lam.update_function_url_config(FunctionName="site", AuthType="AWS_IAM", Cors=cors)
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"] == cors
    assert updated["FunctionUrl"] == created["FunctionUrl"]  # the address never changes

    listed = lam.list_function_url_configs(FunctionName="site")["FunctionUrlConfigs"]
    assert [item["FunctionUrl"] for item in listed] == [created["FunctionUrl"]]

    with pytest.raises(ClientError) as again:
        lam.create_function_url_config(FunctionName="site", AuthType="NONE")
    assert again.value.response["Error"]["Code"] == "ResourceConflictException"
    assert again.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "FunctionUrlConfig exists for this Lambda function" in again.value.response["Error"]["Message"]

    lam.delete_function_url_config(FunctionName="site")
    with pytest.raises(ClientError) as gone:
        lam.get_function_url_config(FunctionName="site")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.list_function_url_configs(FunctionName="site")["FunctionUrlConfigs"] == []


def test_url_config_errors_are_aws_errors(lam, role):
    create_function(lam, "site", ECHO, role)
    with pytest.raises(ClientError) as bad_type:
        lam.create_function_url_config(FunctionName="site", AuthType="PUBLIC")
    assert bad_type.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [NONE, AWS_IAM]" in bad_type.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        lam.create_function_url_config(FunctionName="nobody", AuthType="NONE")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_url:
        lam.delete_function_url_config(FunctionName="site")
    assert no_url.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_alias_has_a_url_of_its_own(lam, role):
    create_function(lam, "site", ECHO, role)
    version = lam.publish_version(FunctionName="site")["Version"]
    lam.create_alias(FunctionName="site", Name="live", FunctionVersion=version)
    plain = lam.create_function_url_config(FunctionName="site", AuthType="NONE")
    live = lam.create_function_url_config(FunctionName="site", Qualifier="live", AuthType="NONE")
    assert live["FunctionArn"].endswith(":function:site:live") and live["FunctionUrl"] != plain["FunctionUrl"]
    assert lam.get_function_url_config(FunctionName="site", Qualifier="live")["FunctionUrl"] == live["FunctionUrl"]
    assert len(lam.list_function_url_configs(FunctionName="site")["FunctionUrlConfigs"]) == 2
    allow_public(lam, "site", qualifier="live")
    event = echoed(requests.get(live["FunctionUrl"], timeout=60))
    assert event["rawPath"] == "/"


# --- requests in, events to the function --------------------------------------------------------

def test_a_get_with_a_query_reaches_the_function_as_payload_2_0(aws, lam, role):
    url = public_url(lam, role, "site")
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    event = echoed(requests.get(url + "items/a%20b?color=red&color=blue&size=", headers={"X-Custom": "yes"},
                                cookies={"session": "abc", "theme": "dark"}, timeout=60))
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/items/a%20b")
    assert event["rawQueryString"] == "color=red&color=blue&size="
    assert event["queryStringParameters"] == {"color": "red,blue", "size": ""}
    assert sorted(event["cookies"]) == ["session=abc", "theme=dark"]
    assert event["headers"]["x-custom"] == "yes" and "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    context = event["requestContext"]
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/items/a b"
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert (context["apiId"], context["domainPrefix"], context["stage"]) == (url_id, url_id, "$default")
    assert context["accountId"] == "anonymous" and context["authentication"] is None
    assert "authorizer" not in context
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["isBase64Encoded"] is False and "body" not in event


def test_a_json_post_arrives_as_text_and_the_event_has_aws_shape(lam, role):
    url = public_url(lam, role, "site")
    event = echoed(requests.post(url + "orders?id=7", json={"item": "book", "qty": 2}, cookies={"a": "1"},
                                 timeout=60))
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"]) == {"item": "book", "qty": 2} and event["isBase64Encoded"] is False
    # AWS sends null for these on a function URL, where the sample (an HTTP API's) has objects; headers and
    # query parameters are the request's own names, each a string.
    assert_same_shape(event, "sam-templates/apigateway-HttpApi.json", ignore=URL_EVENT_FREE_FORM)
    assert all(isinstance(value, str) for value in [*event["headers"].values(),
                                                    *event["queryStringParameters"].values()])


def test_binary_bodies_are_base64_both_ways(lam, role):
    code = """
import base64
def handler(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
            "isBase64Encoded": True, "body": base64.b64encode(data[::-1]).decode()}
"""
    url = public_url(lam, role, "bytes", code)
    payload = bytes(range(256))
    response = requests.post(url, data=payload, headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert response.status_code == 200
    assert response.content == payload[::-1]
    assert response.headers["Content-Type"] == "application/octet-stream"
    form = requests.post(url, data={"a": "1"}, timeout=60)  # a form post is not text to Lambda either
    assert form.content == b"1=a"


def test_status_headers_and_cookies_are_mapped(lam, role):
    code = """
def handler(event, context):
    return {"statusCode": 201, "headers": {"Location": "/items/9", "X-Count": 3},
            "cookies": ["session=xyz; HttpOnly", "theme=dark"], "body": "created"}
"""
    url = public_url(lam, role, "maker", code)
    response = requests.put(url, timeout=60)
    assert response.status_code == 201 and response.text == "created"
    assert response.headers["Location"] == "/items/9" and response.headers["X-Count"] == "3"
    assert response.raw.headers.getlist("Set-Cookie") == ["session=xyz; HttpOnly", "theme=dark"]
    assert response.headers["Content-Type"] == "application/json"  # AWS's default
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["x-amzn-RequestId"])


def test_a_result_without_status_code_is_a_200_json_body(lam, role):
    code = """
def handler(event, context):
    kind = event.get("queryStringParameters", {}).get("kind")
    return {"text": "hello", "number": 42, "object": {"a": 1}}[kind]
"""
    url = public_url(lam, role, "plain", code)
    text = requests.get(url + "?kind=text", timeout=60)
    assert (text.status_code, text.text, text.headers["Content-Type"]) == (200, "hello", "application/json")
    assert requests.get(url + "?kind=number", timeout=60).text == "42"
    assert requests.get(url + "?kind=object", timeout=60).json() == {"a": 1}


# --- failures ------------------------------------------------------------------------------------

def test_function_errors_timeouts_and_malformed_results_are_502(lam, role):
    code = """
import time
def handler(event, context):
    kind = event["rawPath"]
    if kind == "/raise":
        raise ValueError("broken")
    if kind == "/slow":
        time.sleep(5)
    return {"statusCode": "not a number"}
"""
    url = public_url(lam, role, "faulty", code, Timeout=1)
    for path in ("raise", "slow", "malformed"):
        response = requests.get(url + path, timeout=60)
        assert response.status_code == 502, path
        assert response.json() == {"Message": "Internal Server Error"}
        assert "broken" not in response.text  # the error stays in the function's logs


def test_without_permission_a_public_url_is_forbidden(aws, lam, role):
    create_function(lam, "private", ECHO, role)
    url = lam.create_function_url_config(FunctionName="private", AuthType="NONE")["FunctionUrl"]
    refused = requests.get(url, timeout=60)
    assert refused.status_code == 403 and refused.json() == {"Message": FORBIDDEN_HELP}
    assert refused.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    steps = flow(aws, source="url:private")
    assert steps[-1]["kind"] == "dropped" and steps[-1]["ok"] is False

    lam.add_permission(FunctionName="private", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    assert requests.get(url, timeout=60).status_code == 403  # since Oct 2025 InvokeFunction is needed too
    why = flow(aws, source="url:private")[-1]["detail"]
    assert why == "403: the function's policy does not allow lambda:InvokeFunction to everyone (\"*\")"
    lam.add_permission(FunctionName="private", StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    assert requests.get(url, timeout=60).status_code == 200
    lam.remove_permission(FunctionName="private", StatementId="url")
    assert requests.get(url, timeout=60).status_code == 403


def test_the_rule_before_october_2025_is_a_setting(tmp_path):
    cloud = start_cloud(tmp_path / "home", {"LAMBDALAB_FUNCTION_URL_REQUIRES_INVOKE_FUNCTION": "false"})
    try:
        lam, iam = cloud.client("lambda"), cloud.client("iam")
        create_function(lam, "old", ECHO, create_role(iam))
        url = lam.create_function_url_config(FunctionName="old", AuthType="NONE")["FunctionUrl"]
        lam.add_permission(FunctionName="old", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                           FunctionUrlAuthType="NONE")
        assert requests.get(url, timeout=60).status_code == 200
    finally:
        cloud.stop()


def test_aws_iam_urls_need_a_sigv4_signature(aws, lam, iam, role):
    create_function(lam, "secure", ECHO, role)
    url = lam.create_function_url_config(FunctionName="secure", AuthType="AWS_IAM")["FunctionUrl"]

    unsigned = requests.get(url, timeout=60)
    assert unsigned.status_code == 403 and unsigned.json() == {"Message": "Forbidden"}

    event = echoed(signed("POST", url + "do?x=1", learner_credentials(aws), body=b'{"a": 1}',
                          headers={"Content-Type": "application/json"}))
    identity = event["requestContext"]["authorizer"]["iam"]
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/learner"
    assert identity["accessKey"] == aws.state["access_key_id"] and identity["accountId"] == ACCOUNT
    assert set(identity) == {"accessKey", "accountId", "callerId", "cognitoIdentity", "principalOrgId", "userArn",
                             "userId"}
    assert event["requestContext"]["accountId"] == ACCOUNT and event["body"] == '{"a": 1}'

    wrong_secret = Credentials(aws.state["access_key_id"], "not-the-secret")
    mismatch = signed("GET", url, wrong_secret)
    assert mismatch.status_code == 403 and "signature we calculated does not match" in mismatch.json()["Message"]
    other_service = signed("GET", url, learner_credentials(aws), service="execute-api")
    assert other_service.status_code == 403

    iam.create_user(UserName="intern")
    keys = iam.create_access_key(UserName="intern")["AccessKey"]
    intern = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"])
    assert signed("GET", url, intern).json() == {"Message": FORBIDDEN_HELP}  # signed, but not allowed
    iam.put_user_policy(UserName="intern", PolicyName="url", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                                                "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:secure"}]}))
    assert signed("GET", url, intern).status_code == 403  # lambda:InvokeFunction is needed too
    lam.add_permission(FunctionName="secure", StatementId="intern", Action="lambda:InvokeFunction",
                       Principal=f"arn:aws:iam::{ACCOUNT}:user/intern")  # this one from the function's policy
    assert signed("GET", url, intern).status_code == 200


def test_a_deleted_url_or_function_stops_answering(lam, role):
    url = public_url(lam, role, "brief")
    assert requests.get(url, timeout=60).status_code == 200
    lam.delete_function_url_config(FunctionName="brief")
    gone = requests.get(url, timeout=60)
    assert gone.status_code == 403 and gone.json() == {"Message": "Forbidden"}

    other = public_url(lam, role, "brief2")
    lam.delete_function(FunctionName="brief2")
    assert requests.get(other, timeout=60).status_code == 403


def test_a_throttled_function_answers_429(lam, role):
    url = public_url(lam, role, "busy")
    lam.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=0)
    response = requests.get(url, timeout=60)
    assert response.status_code == 429 and response.headers["x-amzn-ErrorType"] == "TooManyRequestsException"


def test_an_event_over_6_mb_is_refused_before_the_function_runs(aws, lam, role):
    url = public_url(lam, role, "big")
    response = requests.post(url, data=b"x" * 6_300_000, headers={"Content-Type": "text/plain"}, timeout=120)
    assert response.status_code == 413
    assert "6291456 bytes" in response.json()["Message"]
    assert not [record for record in aws.admin("GET", "/lambdalab/invocations") if record["function_name"] == "big"]


def test_cors_preflight_is_answered_and_responses_carry_cors_headers(lam, role):
    url = public_url(lam, role, "shop")
    lam.update_function_url_config(FunctionName="shop", Cors={
        "AllowOrigins": ["https://shop.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-token"],
        "MaxAge": 300})
    preflight = requests.options(url, headers={"Origin": "https://shop.example",
                                               "Access-Control-Request-Method": "POST"}, timeout=60)
    assert preflight.status_code == 200 and preflight.text == ""
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert preflight.headers["Access-Control-Max-Age"] == "300"
    actual = requests.get(url, headers={"Origin": "https://shop.example"}, timeout=60)
    assert actual.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    stranger = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=60)
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_requests_are_recorded_in_the_event_flow(aws, lam, role):
    url = public_url(lam, role, "counted")
    requests.get(url + "a", timeout=60)
    requests.post(url + "b", data="x", timeout=60)
    steps = flow(aws, source="url:counted")
    assert [(step["target"], step["kind"], step["ok"]) for step in steps] == [("lambda:counted", "invoke", True)] * 2
    assert steps[0]["detail"] == "GET /a -> 200" and steps[1]["detail"] == "POST /b -> 200"
    invoked = {record["request_id"] for record in aws.admin("GET", "/lambdalab/invocations")}
    assert {step["request_id"] for step in steps} <= invoked


def test_a_reset_stops_the_front_door(aws, lam, role):
    url = public_url(lam, role, "ephemeral")
    assert requests.get(url, timeout=60).status_code == 200
    aws.reset()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=10)


# --- the pieces, without a cloud -----------------------------------------------------------------

def test_path_templates_prefer_the_most_specific_match():
    assert paths.match("/items/{id}", "/items/42").parameters == {"id": "42"}
    assert paths.match("/files/{proxy+}", "/files/a/b%20c").parameters == {"proxy": "a/b c"}
    assert paths.match("/{proxy+}", "/") is None and paths.match("/items/{id}", "/items") is None
    literal, variable, greedy = (paths.match(t, "/items/new").specificity
                                 for t in ("/items/new", "/items/{id}", "/{proxy+}"))
    assert literal > variable > greedy


def test_version_2_results_map_like_aws():
    structured = responses.from_version_2(json.dumps({"statusCode": 204, "cookies": ["a=1"]}).encode())
    assert structured.status == 204 and ("Set-Cookie", "a=1") in structured.headers and structured.body == b""
    binary = responses.from_version_2(json.dumps({"statusCode": 200, "isBase64Encoded": True,
                                                  "body": base64.b64encode(b"\x00\xff").decode()}).encode())
    assert binary.body == b"\x00\xff"
    assert responses.from_version_2(b'"hi"').body == b"hi"
    assert responses.from_version_2(b"null").body == b"null"
    assert responses.from_version_2(b"not json") is None
    assert responses.from_version_2(b'{"statusCode": 200, "isBase64Encoded": true, "body": "%%%"}') is None
