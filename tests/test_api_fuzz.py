"""Malformed requests get AWS-shaped 4xx, never a 5xx or an HTML page; nobody unsigned drives the account.

A property-based fuzz: hypothesis builds requests from botocore's own model of each Lambda and SQS
operation (every Lambda operation, the ones Lambda Lab does not emulate too), mixing valid values with
wrong types, out-of-range numbers, too-long strings and None, and sends them through boto3 with
client-side validation off. Whatever comes back must be an answer botocore parses (a ClientError with
a code, never a parse error), below 500, with a code the model declares for the operation or one AWS
uses for every operation. Then raw HTTP: unsigned requests, moto's control routes, invalid UTF-8,
deep JSON, wrong types; after each, the cloud still serves a normal invoke.

Repeatable: derandomized, a fixed number of examples per operation, no example database.
"""

from __future__ import annotations

import collections
import json
import os
import urllib.error
import urllib.request
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import TestCloud, create_function, create_role, invoke_json, make_queue, make_zip

ECHO = "def handler(event, context):\n    return event\n"
MODEL = botocore.session.get_session()
LAMBDA = MODEL.get_service_model("lambda")
SQS = MODEL.get_service_model("sqs")
# Codes AWS may answer any operation with (authentication, throttling, the request's own form).
COMMON_CODES = {"ValidationException", "InvalidRequestContentException", "SerializationException",
                "AccessDeniedException", "UnrecognizedClientException", "UnknownOperationException",
                "MissingAuthenticationTokenException", "TooManyRequestsException", "MissingParameter",
                "InvalidParameterValue", "InvalidParameterCombination", "ResourceNotFoundException",
                "InvalidParameterValueException", "RequestEntityTooLargeException", "AccessDenied",
                "InvalidAddress", "InvalidAttributeName", "InvalidAttributeValue", "UnsupportedOperation"}
EXAMPLES_PER_OPERATION = 4
SEEN: collections.Counter[tuple[str, str, int]] = collections.Counter()
# Set to a file name to survey instead of assert (how the before/after figures in the note were taken):
# every answer is counted, none fails the test, and the counts are written to that file at the end.
SURVEY = os.environ.get("LAMBDALAB_FUZZ_SURVEY")


@pytest.fixture(scope="module")
def world(cloud: TestCloud) -> dict[str, Any]:
    """Real resources for the valid values to name: a function, a queue, a role."""
    cloud.reset()
    role = create_role(cloud.client("iam"), "fuzz-role")
    lam = cloud.client("lambda")
    create_function(lam, "fuzz-fn", ECHO, role)  # for the raw tests: the fuzz never names it
    url, arn = make_queue(cloud.client("sqs"), "fuzz-queue")
    function_arn = lam.get_function_configuration(FunctionName="fuzz-fn")["FunctionArn"]
    return {"role": role, "queue_url": url, "queue_arn": arn, "function_arn": function_arn,
            "target_arn": function_arn.replace(":fuzz-fn", ":fuzz-target"), "zip": make_zip({"lambda_function.py": ECHO})}


@pytest.fixture
def target(cloud: TestCloud, world: dict) -> None:
    """The function the fuzz may name (and delete, or misconfigure): there again before each operation."""
    lam = cloud.client("lambda")
    try:
        lam.delete_function(FunctionName="fuzz-target")
    except ClientError:
        pass
    create_function(lam, "fuzz-target", ECHO, world["role"])
    make_queue(cloud.client("sqs"), "fuzz-queue")  # the same URL again if the fuzz deleted it


def _known_values(world: dict[str, Any]) -> dict[str, list[Any]]:
    """Valid values for members whose patterns name things that must exist to get past 'not found'."""
    return {
        "FunctionName": ["fuzz-target", world["target_arn"], "no-such-fn"],
        "Role": [world["role"]], "QueueUrl": [world["queue_url"]], "EventSourceArn": [world["queue_arn"]],
        "Resource": [world["target_arn"]], "ResourceArn": [world["target_arn"]],
        "Qualifier": ["$LATEST", "1", "live"], "Runtime": ["python3.12", "nodejs22.x"],
        "Handler": ["lambda_function.handler"], "ZipFile": [world["zip"]], "Payload": [b"{}", b'{"a": [1, 2]}'],
        "Principal": ["s3.amazonaws.com"], "Action": ["lambda:InvokeFunction"], "StatementId": ["s1"],
        "LayerName": ["fuzz-layer"], "QueueName": ["fuzz-queue", "fuzz-other"],
    }


# --- values from botocore's shapes --------------------------------------------------------------

def _valid(shape: Shape, depth: int, mixed: bool = True) -> st.SearchStrategy[Any]:
    metadata, kind = shape.metadata, shape.type_name
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        low, high = metadata.get("min", 0), min(metadata.get("max", 40), 40)
        return st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=low, max_size=max(high, low))
    if kind in ("integer", "long"):
        return st.integers(int(metadata.get("min", 0)), int(min(metadata.get("max", 1000), 100_000)))
    if kind in ("float", "double"):
        return st.floats(0, 1000, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.sampled_from([b"{}", b"hello"])
    if kind == "timestamp":
        return st.sampled_from([1_700_000_000])
    if kind == "list":
        return st.lists(_value(shape.member, depth + 1, "member", mixed), min_size=metadata.get("min", 0),
                        max_size=min(metadata.get("max", 3), 3))
    if kind == "map":
        return st.dictionaries(_valid(shape.key, depth + 1, mixed), _value(shape.value, depth + 1, "value", mixed),
                               max_size=2)
    return _structure(shape, depth + 1, mixed)


def _invalid(shape: Shape) -> st.SearchStrategy[Any]:
    """Wrong types, None, and values just outside the model's limits."""
    wrong: list[st.SearchStrategy[Any]] = [st.none(), st.just(3), st.just("abc"), st.just(["x"]), st.just({"k": 1}),
                                           st.just(True), st.just(-1.5)]
    metadata = shape.metadata
    if shape.type_name in ("string", "list") and "max" in metadata and metadata["max"] < 300:
        wrong.append(st.just("x" * (metadata["max"] + 1) if shape.type_name == "string" else ["x"] * (metadata["max"] + 1)))
    if shape.type_name in ("integer", "long"):
        wrong += [st.just(int(metadata.get("max", 2 ** 31)) + 1), st.just(int(metadata.get("min", -(2 ** 31))) - 1),
                  st.just(2 ** 70)]
    return st.one_of(wrong)


def _value(shape: Shape, depth: int, name: str, mixed: bool) -> st.SearchStrategy[Any]:
    """A member's value: valid only, or (mixed) valid two times in three, else something invalid."""
    known = KNOWN.get(name)
    valid = st.sampled_from(known) if known else (_valid(shape, depth, mixed) if depth < 4 else st.none())
    return st.one_of(valid, valid, _invalid(shape)) if mixed else valid


def _structure(shape: Shape, depth: int, mixed: bool) -> st.SearchStrategy[dict[str, Any]]:
    if depth >= 4:
        return st.just({})
    required = set(shape.required_members)
    members = {name: (_value(member, depth, name, mixed) if name in required else
                      st.one_of(st.just(_ABSENT), _value(member, depth, name, mixed)))
               for name, member in shape.members.items()}
    return st.fixed_dictionaries(members).map(lambda drawn: {k: v for k, v in drawn.items() if v is not _ABSENT})


_ABSENT = object()
KNOWN: dict[str, list[Any]] = {}


def _requests(operation: OperationModel) -> st.SearchStrategy[dict[str, Any]]:
    """Half the requests valid throughout (they reach moto's code), half with invalid members mixed in."""
    if operation.input_shape is None:
        return st.just({})
    return st.one_of(_structure(operation.input_shape, 0, False), _structure(operation.input_shape, 0, True))


# --- the fuzz -------------------------------------------------------------------------------------

# SQS's JSON API answers in its query API's words (awsQueryCompatible): AWS.SimpleQueueService.<code>.
SQS_PREFIX = "AWS.SimpleQueueService."
SQS_QUERY_NAMES = {"NonExistentQueue": "QueueDoesNotExist"}


def _allowed_codes(operation: OperationModel) -> set[str]:
    declared = set()
    for error in operation.error_shapes:
        declared.add(error.name)
        declared.add(error.metadata.get("error", {}).get("code", error.name))
    return declared | COMMON_CODES


def _model_code(code: str) -> str:
    """The model's name for an error code botocore reports."""
    if code.startswith(SQS_PREFIX):
        code = code[len(SQS_PREFIX):]
        return SQS_QUERY_NAMES.get(code, code)
    return code


def _send(client: Any, operation: OperationModel, params: dict[str, Any]) -> tuple[int, str] | None:
    """(HTTP status, error code or '') of one call; None when botocore could not even build the request."""
    sent: list[bool] = []
    client.meta.events.register("before-send", lambda **_: sent.append(True))
    method = getattr(client, botocore.xform_name(operation.name))
    try:
        response = method(**params)
        status = response["ResponseMetadata"]["HTTPStatusCode"]
        if "Payload" in response:
            response["Payload"].read()
        elif "EventStream" in response:
            list(response["EventStream"])
        return status, ""
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    except Exception as error:  # noqa: BLE001 - only an exception after sending is the cloud's fault
        if sent and SURVEY:
            return 0, f"unparsed {type(error).__name__}"
        if sent:
            raise AssertionError(f"{operation.name} answer did not parse: {type(error).__name__}: {error}") from error
        return None


@pytest.mark.parametrize("service, operation_name",
                         [("lambda", name) for name in LAMBDA.operation_names] +
                         [("sqs", name) for name in SQS.operation_names])
def test_every_operation_answers_malformed_requests_in_aws_words(cloud: TestCloud, world: dict, target: None,
                                                                   service: str, operation_name: str) -> None:
    KNOWN.update(_known_values(world))
    operation = (LAMBDA if service == "lambda" else SQS).operation_model(operation_name)
    client = cloud.client(service, parameter_validation=False)
    allowed = _allowed_codes(operation)

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(params=_requests(operation))
    def property(params: dict[str, Any]) -> None:
        outcome = _send(client, operation, params)
        if outcome is None:
            return
        status, code = outcome
        SEEN[(operation_name, code, status)] += 1
        if SURVEY:
            return
        assert status < 500, f"{operation_name}({params!r:.500}) -> {status} {code}"
        assert not code or _model_code(code) in allowed, f"{operation_name}({params!r:.500}) -> {status} {code}: not an AWS code"

    property()


# --- raw HTTP -------------------------------------------------------------------------------------

def _raw(cloud: TestCloud, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(cloud.endpoint + path, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _signed(cloud: TestCloud, method: str, path: str, body: bytes = b"", service: str = "lambda",
            headers: dict[str, str] | None = None, secret: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request signed as boto3 signs it, with a body boto3 would never send."""
    state = cloud.state
    request = AWSRequest(method=method, url=cloud.endpoint + path, data=body, headers=headers or {})
    credentials = Credentials(state["access_key_id"], secret or state["secret_access_key"])
    SigV4Auth(credentials, service, state["region"]).add_auth(request)
    return _raw(cloud, method, path, body, dict(request.headers.items()))


def _still_serves(cloud: TestCloud) -> None:
    response, body = invoke_json(cloud.client("lambda"), "fuzz-fn", {"still": "here"})
    assert response["StatusCode"] == 200 and body == {"still": "here"}


def _json_code(headers: dict[str, str], body: bytes) -> str:
    lowered = {key.lower(): value for key, value in headers.items()}
    return lowered.get("x-amzn-errortype") or json.loads(body)["__type"]


def test_unsigned_requests_get_aws_s_403_in_each_protocol(cloud: TestCloud, world: dict) -> None:
    status, headers, body = _raw(cloud, "GET", "/2015-03-31/functions/")
    assert status == 403
    assert _json_code(headers, body) == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Missing Authentication Token"
    status, _, body = _raw(cloud, "GET", "/?Action=ListUsers&Version=2010-05-08")
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body
    assert b"<Message>Request is missing Authentication Token</Message>" in body and b"<Type>Sender</Type>" in body
    status, headers, body = _raw(cloud, "POST", "/", b"{}", {"X-Amz-Target": "AmazonSQS.ListQueues",
                                                            "Content-Type": "application/x-amz-json-1.0"})
    assert status == 403 and _json_code(headers, body) == "MissingAuthenticationTokenException"
    status, _, body = _raw(cloud, "GET", "/some-bucket/some-key")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    _still_serves(cloud)


def test_malformed_or_wrong_signatures_are_refused_not_crashed_on(cloud: TestCloud, world: dict) -> None:
    status, headers, body = _raw(cloud, "GET", "/2015-03-31/functions/", headers={"Authorization": "AWS4-HMAC-SHA256 x"})
    assert status == 403 and _json_code(headers, body) == "IncompleteSignatureException"
    status, headers, body = _signed(cloud, "GET", "/2015-03-31/functions/", secret="wrong")
    assert status == 403 and _json_code(headers, body) == "InvalidSignatureException"
    iam = cloud.session().client("iam", endpoint_url=cloud.endpoint, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                                 aws_secret_access_key="nope")
    with pytest.raises(ClientError) as unknown:
        iam.list_users()
    assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"
    s3 = cloud.client("s3", signature_version="s3v4")
    s3.create_bucket(Bucket="fuzz-bucket")
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": "fuzz-bucket"})
    status, _, body = _raw(cloud, "GET", url[len(cloud.endpoint):])
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    _still_serves(cloud)


@pytest.mark.parametrize("method, path", [("POST", "/moto-api/reset"), ("POST", "/moto-api/reset-auth"),
                                          ("GET", "/moto-api/data.json"), ("GET", "/moto-api/"),
                                          ("POST", "//moto-api/reset"), ("GET", "/latest/meta-data/iam/")])
def test_moto_s_control_routes_are_closed_and_the_account_survives(cloud: TestCloud, world: dict, method: str,
                                                                     path: str) -> None:
    status, headers, body = _raw(cloud, method, path, b"" if method == "POST" else None)
    assert status == 403
    assert "application/json" in headers.get("Content-Type", "") and "closed" in json.loads(body)["message"]
    assert [user["UserName"] for user in cloud.client("iam").list_users()["Users"]]  # the learner's admin is there
    _still_serves(cloud)


@pytest.mark.parametrize("body, fragment", [
    (b'{"a": "\xff\xfe"}', "Invalid UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nesting depth"),
    (b'{"a": ', "Could not parse payload into json"),
])
def test_invoke_payloads_that_are_not_json_are_invalid_request_content(cloud: TestCloud, world: dict, body: bytes,
                                                                         fragment: str) -> None:
    status, headers, answer = _signed(cloud, "POST", "/2015-03-31/functions/fuzz-fn/invocations", body)
    assert status == 400 and _json_code(headers, answer) == "InvalidRequestContentException"
    message = json.loads(answer)["message"]
    assert message.startswith("Could not parse request body into json: Could not parse payload into json: ")
    assert fragment in message
    _still_serves(cloud)


@pytest.mark.parametrize("body, code", [
    (b"\xff\xfe not utf-8", "InvalidRequestContentException"),
    (b'{"Timeout": ' + b"[" * 5000 + b"]" * 5000 + b"}", "InvalidRequestContentException"),
    (b"[1, 2]", "InvalidRequestContentException"),
    (b'{"MemorySize": "abc"}', "InvalidRequestContentException"),
    (b'{"Handler": ["x"]}', "InvalidRequestContentException"),
    (b'{"Environment": {"Variables": {"A": 3}}}', "InvalidRequestContentException"),
    (b'{"Layers": [null]}', "ValidationException"),
    (b'{"Timeout": 99999999999999999999}', "InvalidRequestContentException"),
])
def test_malformed_configurations_are_refused_and_nothing_is_stored(cloud: TestCloud, world: dict, body: bytes,
                                                                    code: str) -> None:
    lam = cloud.client("lambda")
    before = lam.get_function_configuration(FunctionName="fuzz-fn")
    status, headers, answer = _signed(cloud, "PUT", "/2015-03-31/functions/fuzz-fn/configuration", body,
                                      headers={"Content-Type": "application/json"})
    assert status == 400 and _json_code(headers, answer) == code
    after = lam.get_function_configuration(FunctionName="fuzz-fn")
    assert (after["Handler"], after["MemorySize"], after.get("Environment"), after.get("Layers")) == \
        (before["Handler"], before["MemorySize"], before.get("Environment"), before.get("Layers"))
    _still_serves(cloud)


def test_the_examples_of_the_issue_are_4xx_in_aws_words(cloud: TestCloud, world: dict) -> None:
    lam = cloud.client("lambda", parameter_validation=False)

    def error(call: Any, **params: Any) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as refused:
            call(**params)
        answer = refused.value.response
        return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]

    assert error(lam.get_function, FunctionName="x" * 300) == (
        400, "ValidationException", f"1 validation error detected: Value '{'x' * 300}' at 'functionName' failed to "
                                    "satisfy constraint: Member must have length less than or equal to 256")
    status, code, message = error(lam.create_function, FunctionName="f" * 141, Role=world["role"],
                                  Code={"ZipFile": world["zip"]}, Timeout=0)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: ")
    assert "at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140" in message
    assert "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1" in message
    assert error(lam.update_function_configuration, FunctionName="fuzz-fn", MemorySize="abc")[:2] == \
        (400, "InvalidRequestContentException")
    assert error(lam.update_function_configuration, FunctionName="fuzz-fn", Layers=[None]) == (
        400, "ValidationException", "1 validation error detected: Value '[null]' at 'layers' failed to satisfy "
                                    "constraint: Member must satisfy constraint: [Member must not be null]")
    assert error(lam.update_function_configuration, FunctionName="fuzz-fn",
                 Environment={"Variables": {"1A": "x"}}) == (
        400, "ValidationException", "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
        "[a-zA-Z]([a-zA-Z0-9_])+]")
    assert error(lam.get_function, FunctionName=3)[:2] == (404, "ResourceNotFoundException")
    unsupported = error(lam.put_function_recursion_config, FunctionName="fuzz-fn", RecursiveLoop="Allow")
    assert unsupported[:2] == (400, "UnknownOperationException") and "PutFunctionRecursionConfig" in unsupported[2]
    _still_serves(cloud)


def test_assume_role_on_a_role_that_trusts_lambda_is_refused_not_crashed_on(cloud: TestCloud, world: dict) -> None:
    sts = cloud.client("sts")
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=world["role"], RoleSessionName="learner-session")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    form = (f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={world['role']}"
            "&RoleSessionName=x&WebIdentityToken=forged").encode()
    status, _, body = _raw(cloud, "POST", "/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert b"Not authorized to perform sts:AssumeRoleWithWebIdentity" in body
    _still_serves(cloud)


def test_zz_what_the_fuzz_saw(world: dict) -> None:
    """A summary for the log (pytest -s): how many distinct operation/answer pairs the fuzz met."""
    failed = {key: n for key, n in SEEN.items() if key[2] >= 500 or key[2] == 0}
    print(f"\nfuzz: {sum(SEEN.values())} requests, {len(SEEN)} distinct operation/code/status triples, "
          f"{sum(failed.values())} with a 5xx or an unparsable answer ({len(failed)} distinct)")
    if SURVEY:
        with open(SURVEY, "w") as out:
            json.dump([[*key, n] for key, n in sorted(SEEN.items())], out, indent=1)
