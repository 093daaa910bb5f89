"""The Invoke API as AWS answers it: invocation types, logs, the context object, the
environment variables a function sees, and every shape of failure."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError

from support import (create_function, create_role, invoke_json, invoke_raw, log_tail, make_zip, report_line,
                     request_id, wait_until)

ACCOUNT = "123456789012"
REGION = "us-east-1"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


ECHO = "def handler(event, context):\n    return {'event': event, 'ok': True}\n"


# --- invocation types ------------------------------------------------------------------------

def test_request_response_returns_the_handler_result_with_status_200_and_the_executed_version(lam, role):
    create_function(lam, "echo", ECHO, role)
    response, body = invoke_json(lam, "echo", {"a": [1, 2, {"b": None}], "text": "héllo"})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body == {"event": {"a": [1, 2, {"b": None}], "text": "héllo"}, "ok": True}
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-executed-version"] == "$LATEST"


def test_a_handler_returning_none_gives_null(lam, role):
    create_function(lam, "nothing", "def handler(event, context):\n    pass\n", role)
    response, raw = invoke_raw(lam, "nothing")
    assert response["StatusCode"] == 200
    assert json.loads(raw) is None


def test_an_invoke_without_payload_passes_an_empty_event(lam, role):
    create_function(lam, "echo", ECHO, role)
    response = lam.invoke(FunctionName="echo")
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"event": {}, "ok": True}


def test_event_invocation_returns_202_and_really_runs_in_the_background(aws, lam, iam):
    role = create_role(iam, "writer", inline={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}],
    })
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="results")
    code = (
        "import json, boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket='results', Key=event['key'],\n"
        "        Body=json.dumps({'request_id': context.aws_request_id, 'value': event['value']}))\n"
        "    return 'written'\n"
    )
    create_function(lam, "background", code, role, Timeout=30)
    response = lam.invoke(FunctionName="background", InvocationType="Event",
                          Payload=json.dumps({"key": "out.json", "value": 42}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert "FunctionError" not in response

    def written():
        try:
            return json.loads(s3.get_object(Bucket="results", Key="out.json")["Body"].read())
        except ClientError:
            return None

    document = wait_until(written, 30, 0.2, "the Event invocation's S3 object")
    assert document["value"] == 42
    assert document["request_id"] == request_id(response)


def test_dry_run_returns_204_and_runs_nothing(aws, lam, role):
    code = "import os\nopen('/tmp/ran', 'w').close()\ndef handler(event, context):\n    return 1\n"
    create_function(lam, "dry", code, role)
    response = lam.invoke(FunctionName="dry", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    assert aws.admin("GET", "/lambdalab/environments") == []
    assert aws.admin("GET", "/lambdalab/invocations") == []


def test_dry_run_of_a_missing_function_is_resource_not_found(lam):
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="ghost", InvocationType="DryRun")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_unknown_invocation_type_is_refused(lam, role):
    create_function(lam, "echo", ECHO, role)
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="echo", InvocationType="Later", Payload=b"{}")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- logs ------------------------------------------------------------------------------------

def test_log_type_tail_returns_the_last_4_kb_of_the_log_in_base64(lam, role):
    code = "def handler(event, context):\n    print('hello from the handler')\n    return 'ok'\n"
    create_function(lam, "talker", code, role)
    response, body = invoke_json(lam, "talker", LogType="Tail")
    rid = request_id(response)
    log = log_tail(response)
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert "hello from the handler" in log
    assert f"END RequestId: {rid}" in log
    report = report_line(log)
    assert report.startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\t" in report
    assert re.search(r"\tMax Memory Used: \d+ MB", report)
    assert log.index("START RequestId") < log.index("hello from the handler") < log.index("END RequestId")
    assert log.index("END RequestId") < log.index("REPORT RequestId")


def test_log_tail_keeps_only_the_last_4096_bytes(lam, role):
    code = "def handler(event, context):\n    for n in range(2000):\n        print(f'line {n:05d}')\n    return 'ok'\n"
    create_function(lam, "chatty", code, role)
    response, _ = invoke_json(lam, "chatty", LogType="Tail")
    raw = base64.b64decode(response["LogResult"])
    assert len(raw) == 4096
    log = raw.decode()
    assert "line 01999" in log and "line 00000" not in log
    assert report_line(log)


def test_without_log_type_there_is_no_log_result(lam, role):
    create_function(lam, "echo", ECHO, role)
    response, _ = invoke_json(lam, "echo")
    assert "LogResult" not in response


def test_the_log_reaches_cloudwatch_in_the_functions_log_group(aws, lam, role):
    create_function(lam, "logged", "def handler(event, context):\n    print('to cloudwatch')\n"
                    "    return context.log_stream_name\n", role)
    response, stream = invoke_json(lam, "logged")
    logs = aws.client("logs")
    events = logs.get_log_events(logGroupName="/aws/lambda/logged", logStreamName=stream)["events"]
    messages = [event["message"] for event in events]
    rid = request_id(response)
    assert any(m.startswith(f"START RequestId: {rid}") for m in messages)
    assert any("to cloudwatch" in m for m in messages)
    assert any(m.startswith(f"REPORT RequestId: {rid}") for m in messages)


def test_python_logging_at_warning_is_in_the_log_with_the_request_id(aws, lam, role):
    code = (
        "import logging\n"
        "logger = logging.getLogger()\n"
        "def handler(event, context):\n"
        "    logger.info('not shown: the root logger is at WARNING')\n"
        "    logger.warning('careful: %s', 'hot plate')\n"
        "    return context.log_stream_name\n"
    )
    create_function(lam, "warner", code, role)
    response, stream = invoke_json(lam, "warner", LogType="Tail")
    rid = request_id(response)
    line = next(line for line in log_tail(response).splitlines() if "careful: hot plate" in line)
    assert "not shown" not in log_tail(response)
    assert re.fullmatch(rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tcareful: hot plate", line)
    events = aws.client("logs").get_log_events(logGroupName="/aws/lambda/warner", logStreamName=stream)["events"]
    assert any(rid in e["message"] and "careful: hot plate" in e["message"] for e in events)


# --- the context object and the environment --------------------------------------------------

CONTEXT_REPORTER = """
import time
def handler(event, context):
    cc = context.client_context
    return {
        'function_name': context.function_name,
        'function_version': context.function_version,
        'invoked_function_arn': context.invoked_function_arn,
        'memory_limit_in_mb': context.memory_limit_in_mb,
        'aws_request_id': context.aws_request_id,
        'log_group_name': context.log_group_name,
        'log_stream_name': context.log_stream_name,
        'has_identity': hasattr(context, 'identity'),
        'identity_id': getattr(context.identity, 'cognito_identity_id', 'missing'),
        'identity_pool_id': getattr(context.identity, 'cognito_identity_pool_id', 'missing'),
        'client_context_is_none': cc is None,
        'custom': cc.custom if cc is not None else None,
        'env': cc.env if cc is not None else None,
        'app_title': cc.client.app_title if cc is not None and cc.client is not None else None,
        'remaining': context.get_remaining_time_in_millis(),
    }
"""


def test_the_context_object_has_every_field_aws_gives(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role, Timeout=7, MemorySize=256)
    response, seen = invoke_json(lam, "ctx")
    assert seen["function_name"] == "ctx"
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"] == function_arn("ctx")
    assert seen["memory_limit_in_mb"] == "256"
    assert seen["aws_request_id"] == request_id(response)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", seen["aws_request_id"])
    assert seen["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert seen["has_identity"]
    assert seen["identity_id"] is None and seen["identity_pool_id"] is None
    assert seen["client_context_is_none"] is True
    assert 0 < seen["remaining"] <= 7000


def test_each_invoke_gets_its_own_request_id(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role)
    first, seen_first = invoke_json(lam, "ctx")
    second, seen_second = invoke_json(lam, "ctx")
    assert seen_first["aws_request_id"] == request_id(first)
    assert seen_second["aws_request_id"] == request_id(second)
    assert seen_first["aws_request_id"] != seen_second["aws_request_id"]


def test_remaining_time_counts_down_from_the_timeout(lam, role):
    code = (
        "import time\n"
        "def handler(event, context):\n"
        "    before = context.get_remaining_time_in_millis()\n"
        "    time.sleep(0.3)\n"
        "    return [before, context.get_remaining_time_in_millis()]\n"
    )
    create_function(lam, "clock", code, role, Timeout=3)
    _, (before, after) = invoke_json(lam, "clock")
    assert 0 < after < before <= 3000
    assert before - after >= 250


def test_client_context_reaches_the_handler(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role)
    document = {"custom": {"user": "ada", "tries": 3}, "env": {"locale": "en-GB"},
                "client": {"app_title": "Lab App", "installation_id": "i-1"}}
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    _, seen = invoke_json(lam, "ctx", ClientContext=encoded)
    assert seen["client_context_is_none"] is False
    assert seen["custom"] == {"user": "ada", "tries": 3}
    assert seen["env"] == {"locale": "en-GB"}
    assert seen["app_title"] == "Lab App"


def test_a_client_context_that_is_not_base64_json_object_is_refused(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role)
    for bad in ["%%% not base64 %%%", base64.b64encode(b"not json").decode(),
                base64.b64encode(b'["a list"]').decode()]:
        with pytest.raises(ClientError) as error:
            lam.invoke(FunctionName="ctx", Payload=b"{}", ClientContext=bad)
        response = error.value.response
        assert response["Error"]["Code"] == "InvalidRequestContentException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Message"] == "Client context must be a valid Base64-encoded JSON object."
    response, seen = invoke_json(lam, "ctx")
    assert "FunctionError" not in response and seen["client_context_is_none"] is True


ENV_REPORTER = """
import os
def handler(event, context):
    return dict(os.environ)
"""


def test_the_reserved_environment_variables_are_set_inside_the_function(lam, role):
    create_function(lam, "env", ENV_REPORTER, role, MemorySize=320,
                    Environment={"Variables": {"GREETING": "hello", "EMPTY": ""}})
    _, env = invoke_json(lam, "env")
    assert env["_HANDLER"] == "lambda_function.handler"
    assert env["AWS_REGION"] == REGION
    assert env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "320"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    host, _, port = env["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    assert host and port.isdigit() and 0 < int(port) < 65536
    assert env["LAMBDA_TASK_ROOT"] and env["LAMBDA_RUNTIME_DIR"]
    assert env["TZ"] == ":UTC"
    assert env["GREETING"] == "hello"
    assert env["EMPTY"] == ""
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_the_task_root_holds_the_unpacked_code_and_is_the_working_directory(lam, role):
    code = (
        "import os\n"
        "def handler(event, context):\n"
        "    root = os.environ['LAMBDA_TASK_ROOT']\n"
        "    return {'cwd': os.getcwd() == root, 'files': sorted(n for n in os.listdir(root) if n != '__pycache__'),\n"
        "            'data': open(os.path.join(root, 'data', 'value.txt')).read()}\n"
    )
    lam.create_function(FunctionName="rooted", Runtime="python3.12", Role=role, Handler="lambda_function.handler",
                        Code={"ZipFile": make_zip({"lambda_function.py": code, "data/value.txt": "forty-two"})})
    _, seen = invoke_json(lam, "rooted")
    assert seen == {"cwd": True, "files": ["data", "lambda_function.py"], "data": "forty-two"}


def test_the_credentials_are_the_execution_roles_temporary_credentials(aws, lam, role):
    code = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    return boto3.client('sts').get_caller_identity()['Arn']\n"
    )
    create_function(lam, "whoami", code, role)
    _, arn = invoke_json(lam, "whoami")
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/lambda-role/whoami"


def test_a_handler_in_a_package_module_is_found(lam, role):
    lam.create_function(FunctionName="nested", Runtime="python3.12", Role=role, Handler="app/main.entry",
                        Code={"ZipFile": make_zip({"app/__init__.py": "", "app/main.py":
                                                   "def entry(event, context):\n    return 'nested'\n"})})
    assert invoke_json(lam, "nested")[1] == "nested"


def test_every_python_runtime_runs(lam, role):
    code = "import os\ndef handler(event, context):\n    return [os.environ['AWS_EXECUTION_ENV'], event['n'] * 2]\n"
    for runtime in ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]:
        name = "py" + runtime.replace(".", "")
        create_function(lam, name, code, role, runtime=runtime)
        response, body = invoke_json(lam, name, {"n": 21})
        assert response["StatusCode"] == 200 and "FunctionError" not in response, body
        assert body == [f"AWS_Lambda_{runtime}", 42]


# --- failures of the handler -----------------------------------------------------------------

def test_an_exception_in_the_handler_is_an_unhandled_function_error(lam, role):
    code = (
        "def lookup(event):\n"
        "    return event['missing']\n"
        "def handler(event, context):\n"
        "    return lookup(event)\n"
    )
    create_function(lam, "broken", code, role)
    response, body = invoke_json(lam, "broken", LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'missing'"
    assert body["requestId"] == request_id(response)
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert any("lookup" in entry and "lambda_function.py" in entry for entry in body["stackTrace"])
    log = log_tail(response)
    assert "[ERROR] KeyError: 'missing'" in log
    assert report_line(log)


def test_a_custom_exception_keeps_its_type_and_message(lam, role):
    code = (
        "class PaymentDeclined(Exception):\n    pass\n"
        "def handler(event, context):\n    raise PaymentDeclined('card 4242 declined')\n"
    )
    create_function(lam, "pay", code, role)
    response, body = invoke_json(lam, "pay")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "PaymentDeclined"
    assert body["errorMessage"] == "card 4242 declined"


def test_the_function_keeps_working_after_an_exception(lam, role):
    code = (
        "CALLS = 0\n"
        "def handler(event, context):\n"
        "    global CALLS\n    CALLS += 1\n"
        "    if event.get('fail'):\n        raise ValueError('asked to fail')\n"
        "    return CALLS\n"
    )
    create_function(lam, "flaky", code, role)
    assert invoke_json(lam, "flaky", {"fail": True})[0]["FunctionError"] == "Unhandled"
    response, body = invoke_json(lam, "flaky")
    assert "FunctionError" not in response
    assert body == 2  # an exception does not reset the environment


def test_a_missing_module_is_runtime_import_module_error(lam, role):
    code = "import requests_that_do_not_exist\ndef handler(event, context):\n    return 1\n"
    create_function(lam, "importer", code, role)
    response, body = invoke_json(lam, "importer", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == ("Unable to import module 'lambda_function': "
                                    "No module named 'requests_that_do_not_exist'")
    assert body["stackTrace"] == []
    assert "Runtime.ImportModuleError" in log_tail(response)


def test_a_missing_handler_module_file_is_runtime_import_module_error(lam, role):
    create_function(lam, "misnamed", ECHO, role, handler="app.handler")
    _, body = invoke_json(lam, "misnamed")
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'app'"


def test_a_missing_handler_function_is_runtime_handler_not_found(lam, role):
    create_function(lam, "nohandler", "def main(event, context):\n    return 1\n", role)
    response, body = invoke_json(lam, "nohandler")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'handler' missing on module 'lambda_function'"


def test_a_syntax_error_is_runtime_user_code_syntax_error(lam, role):
    create_function(lam, "syntax", "def handler(event, context)\n    return 1\n", role)
    response, body = invoke_json(lam, "syntax")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'lambda_function': ")
    assert body["errorMessage"].endswith("(lambda_function.py, line 1)")
    assert any("Line 1" in entry for entry in body["stackTrace"])


def test_an_exception_in_init_code_is_reported_with_its_own_type(lam, role):
    create_function(lam, "initfail", "raise RuntimeError('no database')\ndef handler(event, context):\n"
                    "    return 1\n", role)
    response, body = invoke_json(lam, "initfail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "RuntimeError"
    assert body["errorMessage"] == "no database"


def test_an_init_error_is_retried_on_the_next_invoke(lam, role):
    create_function(lam, "importer", "import nowhere_to_be_found\ndef handler(e, c):\n    return 1\n", role)
    for _ in range(2):
        response, body = invoke_json(lam, "importer", LogType="Tail")
        assert body["errorType"] == "Runtime.ImportModuleError"
        log = log_tail(response)
        assert "INIT_START" in log and "Init Duration" in report_line(log)  # init is tried again each time


def test_an_unserializable_result_is_runtime_marshal_error(lam, role):
    create_function(lam, "marshal", "def handler(event, context):\n    return {1, 2, 3}\n", role)
    response, body = invoke_json(lam, "marshal")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert body["requestId"] == request_id(response)
    # the environment is fine afterwards
    lam.update_function_code(FunctionName="marshal",
                             ZipFile=make_zip({"lambda_function.py": "def handler(e, c):\n    return [1]\n"}))
    assert invoke_json(lam, "marshal")[1] == [1]


# --- errors of the API itself ----------------------------------------------------------------

def test_invoking_a_missing_function_is_resource_not_found(lam):
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="nobody-home", Payload=b"{}")
    response = error.value.response
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["Error"]["Message"] == f"Function not found: {function_arn('nobody-home')}"


def test_invoking_a_missing_function_asynchronously_is_resource_not_found(lam):
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="nobody-home", InvocationType="Event", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_invalid_json_payload_is_invalid_request_content(aws, lam, role):
    create_function(lam, "echo", ECHO, role)
    for payload in [b"not json", b"{\"unclosed\": ", b"{'single': 'quotes'}"]:
        with pytest.raises(ClientError) as error:
            lam.invoke(FunctionName="echo", Payload=payload)
        response = error.value.response
        assert response["Error"]["Code"] == "InvalidRequestContentException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Message"].startswith("Could not parse request body into json")
    assert aws.admin("GET", "/lambdalab/invocations") == []


def test_any_json_value_is_a_valid_event(lam, role):
    create_function(lam, "echo", ECHO, role)
    for payload, expected in [(b"42", 42), (b"\"text\"", "text"), (b"[1, 2]", [1, 2]), (b"null", None),
                              (b"{}", {})]:
        _, raw = invoke_raw(lam, "echo", payload)
        assert json.loads(raw) == {"event": expected, "ok": True}


# --- names, ARNs and versions ----------------------------------------------------------------

def test_invoking_by_full_arn(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role)
    response, seen = invoke_json(lam, function_arn("ctx"))
    assert response["StatusCode"] == 200
    assert seen["function_name"] == "ctx"
    assert seen["invoked_function_arn"] == function_arn("ctx")


def test_invoking_a_published_version_by_qualifier(lam, role):
    v1 = "import os\ndef handler(event, context):\n    return ['one', context.function_version, " \
         "context.invoked_function_arn, os.environ['AWS_LAMBDA_FUNCTION_VERSION']]\n"
    create_function(lam, "versioned", v1, role)
    version = lam.publish_version(FunctionName="versioned")["Version"]
    assert version == "1"
    lam.update_function_code(FunctionName="versioned", ZipFile=make_zip({"lambda_function.py": v1.replace("'one'",
                                                                                                          "'two'")}))
    response, seen = invoke_json(lam, "versioned", Qualifier="1")
    assert response["ExecutedVersion"] == "1"
    assert seen == ["one", "1", function_arn("versioned") + ":1", "1"]
    response, seen = invoke_json(lam, "versioned")
    assert response["ExecutedVersion"] == "$LATEST"
    assert seen[0] == "two" and seen[1] == "$LATEST"
    response, seen = invoke_json(lam, function_arn("versioned") + ":1")
    assert response["ExecutedVersion"] == "1"
    assert seen[0] == "one"
    response, seen = invoke_json(lam, "versioned", Qualifier="$LATEST")
    assert response["ExecutedVersion"] == "$LATEST" and seen[0] == "two"


def test_the_log_stream_of_a_version_names_the_version(lam, role):
    create_function(lam, "ctx", CONTEXT_REPORTER, role)
    lam.publish_version(FunctionName="ctx")
    _, seen = invoke_json(lam, "ctx", Qualifier="1")
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[1\][0-9a-f]{32}", seen["log_stream_name"])


def test_a_payload_key_named_qualifier_is_only_data(lam, role):
    create_function(lam, "echo", ECHO, role)
    response, body = invoke_json(lam, "echo", {"qualifier": "7", "Qualifier": "8"})
    assert response["ExecutedVersion"] == "$LATEST"
    assert body == {"event": {"qualifier": "7", "Qualifier": "8"}, "ok": True}


def test_invoking_a_missing_version_is_resource_not_found(lam, role):
    create_function(lam, "echo", ECHO, role)
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName="echo", Qualifier="7", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
