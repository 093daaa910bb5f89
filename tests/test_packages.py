"""Deployment packages: zips from an upload or from S3, vendored dependencies, what AWS's Python
runtime ships (the SDK, nothing else), layers under /opt, custom runtimes with a bootstrap, and
new code taking over on the next invoke."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil

import pytest
from botocore.exceptions import ClientError

from support import create_function, invoke_json, make_zip

RUNTIME_API_ECHO_BASH = r'''#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d '[:space:]')"
  rm -f "$HEADERS"
  echo "bash runtime got $EVENT"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" \
       -d "{\"echo\": $EVENT, \"via\": \"bash\", \"request_id\": \"$REQUEST_ID\"}"
done
'''
RUNTIME_API_ECHO_PYTHON = '''#!/usr/bin/env python3
import json
import os
import urllib.request

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(f"{API}/invocation/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    answer = json.dumps({"echo": event, "via": "python", "request_id": request_id}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{API}/invocation/{request_id}/response", data=answer,
                                                  method="POST")).read()
'''
RUNTIME_API_FAILING_BASH = r'''#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/invocation/next"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d '[:space:]')"
  rm -f "$HEADERS"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/error" -H "Lambda-Runtime-Function-Error-Type: Custom.Broken" \
       -d '{"errorMessage": "the bootstrap gave up", "errorType": "Custom.Broken"}'
done
'''
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the bash bootstrap polls with curl")


def function_from_zip(lam, name: str, files: dict[str, str | bytes], role: str, handler: str = "lambda_function.handler",
                      runtime: str = "python3.12", modes: dict[str, int] | None = None, **extra: object) -> dict:
    return lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                               Code={"ZipFile": make_zip(files, modes)}, **extra)


def publish_layer(lam, name: str, files: dict[str, str | bytes]) -> str:
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)},
                                     CompatibleRuntimes=["python3.12"])["LayerVersionArn"]


def succeeded(lam, name: str, event: object = None) -> object:
    response, body = invoke_json(lam, name, event)
    assert "FunctionError" not in response, body
    return body


def failed(lam, name: str, event: object = None) -> dict:
    response, body = invoke_json(lam, name, event)
    assert response.get("FunctionError") == "Unhandled", body
    assert response["StatusCode"] == 200
    return body


# --- where the code comes from ------------------------------------------------------------------

def test_code_from_s3_runs(aws, lam, role):
    package = make_zip({"lambda_function.py": "def handler(event, context):\n    return {'from': 's3', 'got': event}\n"})
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="code-bucket")
    s3.put_object(Bucket="code-bucket", Key="releases/v1.zip", Body=package)
    created = lam.create_function(FunctionName="from-s3", Runtime="python3.12", Role=role,
                                  Handler="lambda_function.handler",
                                  Code={"S3Bucket": "code-bucket", "S3Key": "releases/v1.zip"})
    assert created["CodeSize"] == len(package)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert succeeded(lam, "from-s3", {"n": 1}) == {"from": "s3", "got": {"n": 1}}


def test_a_dependency_vendored_in_the_zip_imports(lam, role):
    function_from_zip(lam, "vendored", {
        "lambda_function.py": (
            "import os\nimport mylib\nfrom mylib.helpers import shout\n\n"
            "def handler(event, context):\n"
            "    with open(os.path.join(os.environ['LAMBDA_TASK_ROOT'], 'data', 'greeting.txt')) as f:\n"
            "        greeting = f.read().strip()\n"
            "    return {'version': mylib.VERSION, 'shout': shout(greeting),\n"
            "            'from_package': mylib.__file__.startswith(os.environ['LAMBDA_TASK_ROOT'])}\n"),
        "mylib/__init__.py": "VERSION = '1.2.3'\n",
        "mylib/helpers.py": "def shout(text):\n    return text.upper() + '!'\n",
        "data/greeting.txt": "hello\n",
    }, role)
    assert succeeded(lam, "vendored") == {"version": "1.2.3", "shout": "HELLO!", "from_package": True}


@pytest.mark.parametrize("library", ["requests", "moto"])
def test_a_library_not_in_the_zip_nor_the_runtime_cannot_be_imported(lam, role, library):
    """Installed on this machine, but AWS's Python runtime does not ship it: the zip must."""
    create_function(lam, f"needs-{library}", f"import {library}\n\ndef handler(event, context):\n    return 'never'\n", role)
    body = failed(lam, f"needs-{library}")
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == f"Unable to import module 'lambda_function': No module named '{library}'"


def test_the_runtime_ships_the_aws_sdk(lam, role):
    create_function(lam, "sdk", "import boto3\nimport botocore\n\ndef handler(event, context):\n"
                                "    return {'boto3': boto3.__version__, 'botocore': botocore.__version__}\n", role)
    import boto3
    import botocore
    assert succeeded(lam, "sdk") == {"boto3": boto3.__version__, "botocore": botocore.__version__}


def test_a_handler_in_a_sub_directory(lam, role):
    function_from_zip(lam, "nested", {
        "src/app.py": "from src import util\n\ndef handler(event, context):\n    return util.double(event['n'])\n",
        "src/util.py": "def double(n):\n    return 2 * n\n",
    }, role, handler="src/app.handler")
    assert succeeded(lam, "nested", {"n": 21}) == 42


def test_a_handler_whose_module_is_missing_says_so(lam, role):
    function_from_zip(lam, "misnamed", {"app.py": "def handler(event, context):\n    return 1\n"}, role,
                      handler="lambda_function.handler")
    body = failed(lam, "misnamed")
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'lambda_function': No module named 'lambda_function'"


def test_a_zip_that_is_not_a_zip_is_refused(lam, role):
    with pytest.raises(ClientError) as refused:
        lam.create_function(FunctionName="garbage", Runtime="python3.12", Role=role,
                            Handler="lambda_function.handler", Code={"ZipFile": b"this is not a zip file"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Could not unzip uploaded file" in refused.value.response["Error"]["Message"]


# --- new code ---------------------------------------------------------------------------------------

def test_update_function_code_changes_the_next_invoke(lam, role):
    created = create_function(lam, "evolving", "def handler(event, context):\n    return ['v1', context.log_stream_name]\n",
                              role)
    version, old_stream = succeeded(lam, "evolving")
    assert version == "v1"
    assert succeeded(lam, "evolving")[1] == old_stream  # warm
    package = make_zip({"lambda_function.py": "def handler(event, context):\n    return ['v2', context.log_stream_name]\n"})
    updated = lam.update_function_code(FunctionName="evolving", ZipFile=package)
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert updated["CodeSha256"] != created["CodeSha256"]
    version, new_stream = succeeded(lam, "evolving")
    assert version == "v2"
    assert new_stream != old_stream, "new code starts a new environment"


def test_update_function_code_from_s3(aws, lam, role):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="code-bucket")
    create_function(lam, "evolving", "def handler(event, context):\n    return 'v1'\n", role)
    assert succeeded(lam, "evolving") == "v1"
    s3.put_object(Bucket="code-bucket", Key="v2.zip",
                  Body=make_zip({"lambda_function.py": "def handler(event, context):\n    return 'v2 from s3'\n"}))
    lam.update_function_code(FunctionName="evolving", S3Bucket="code-bucket", S3Key="v2.zip")
    assert succeeded(lam, "evolving") == "v2 from s3"


# --- layers -------------------------------------------------------------------------------------------

LAYER_PROBE = '''
import os
import layerlib

def handler(event, context):
    opt_mapped = os.environ.get("LAMBDALAB_OPT_MOUNTED") == "1"
    return {"answer": layerlib.answer(), "opt_mapped": opt_mapped,
            "opt": sorted(os.listdir("/opt")) if opt_mapped else None,
            "opt_python": sorted(os.listdir("/opt/python")) if opt_mapped else None}
'''


def test_a_layer_is_imported_and_lies_under_opt(lam, role):
    arn = publish_layer(lam, "shared-code", {"python/layerlib.py": "def answer():\n    return 42\n"})
    assert arn.endswith(":layer:shared-code:1")
    create_function(lam, "layered", LAYER_PROBE, role, Layers=[arn])
    body = succeeded(lam, "layered")
    assert body["answer"] == 42
    if body["opt_mapped"]:  # this machine allows a private mount namespace: /opt is the layers' own
        assert body["opt"] == ["python"]
        assert "layerlib.py" in body["opt_python"]


def test_a_layer_with_site_packages_for_the_functions_python_version(lam, role):
    """pip install -t python/lib/python3.12/site-packages: the layout AWS documents for python3.12."""
    arn = publish_layer(lam, "pip-layer", {"python/lib/python3.12/site-packages/sitelib/__init__.py": "NAME = 'sitelib'\n"})
    create_function(lam, "site-layered", "import sitelib\n\ndef handler(event, context):\n    return sitelib.NAME\n",
                    role, Layers=[arn])
    assert succeeded(lam, "site-layered") == "sitelib"


def test_later_layers_win(lam, role):
    first = publish_layer(lam, "first", {"python/layerlib.py": "def answer():\n    return 'first'\n",
                                         "python/only_first.py": "X = 1\n"})
    second = publish_layer(lam, "second", {"python/layerlib.py": "def answer():\n    return 'second'\n"})
    create_function(lam, "ordered", "import layerlib, only_first\n\ndef handler(event, context):\n"
                                    "    return [layerlib.answer(), only_first.X]\n", role, Layers=[first, second])
    assert succeeded(lam, "ordered") == ["second", 1]


def test_code_in_the_function_zip_wins_over_a_layer(lam, role):
    layer = publish_layer(lam, "shadowed", {"python/layerlib.py": "def answer():\n    return 'layer'\n"})
    function_from_zip(lam, "shadowing", {
        "lambda_function.py": "import layerlib\n\ndef handler(event, context):\n    return layerlib.answer()\n",
        "layerlib.py": "def answer():\n    return 'function'\n",
    }, role, Layers=[layer])
    assert succeeded(lam, "shadowing") == "function"


def test_more_than_five_layers_are_refused(lam, role):
    arns = [publish_layer(lam, "many", {f"python/part{n}.py": f"N = {n}\n"}) for n in range(6)]
    with pytest.raises(ClientError) as refused:
        create_function(lam, "greedy", "def handler(event, context):\n    return 1\n", role, Layers=arns)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "5 layers" in refused.value.response["Error"]["Message"]

    create_function(lam, "five", "import part0, part4\n\ndef handler(event, context):\n    return part0.N + part4.N\n",
                    role, Layers=arns[:5])
    assert succeeded(lam, "five") == 4
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName="five", Layers=arns)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert len(lam.get_function_configuration(FunctionName="five")["Layers"]) == 5


def test_adding_a_layer_later_takes_effect_on_the_next_invoke(lam, role):
    create_function(lam, "late", "def handler(event, context):\n    try:\n        import layerlib\n"
                                 "    except ImportError:\n        return 'no layer'\n    return layerlib.answer()\n", role)
    assert succeeded(lam, "late") == "no layer"
    arn = publish_layer(lam, "late-layer", {"python/layerlib.py": "def answer():\n    return 'layer now'\n"})
    lam.update_function_configuration(FunctionName="late", Layers=[arn])
    assert succeeded(lam, "late") == "layer now"


# --- custom runtimes ------------------------------------------------------------------------------------

@needs_curl
def test_a_custom_runtime_in_bash_serves_invokes(lam, role):
    function_from_zip(lam, "bash-runtime", {"bootstrap": RUNTIME_API_ECHO_BASH}, role, handler="function.handler",
                      runtime="provided.al2023", modes={"bootstrap": 0o755})
    response, body = invoke_json(lam, "bash-runtime", {"hello": "bash"})
    assert "FunctionError" not in response, body
    assert body == {"echo": {"hello": "bash"}, "via": "bash",
                    "request_id": response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]}
    assert succeeded(lam, "bash-runtime", {"again": True})["echo"] == {"again": True}, "the loop serves the next one"


@pytest.mark.skipif(shutil.which("python3") is None, reason="the bootstrap is a python3 script")
def test_a_custom_runtime_in_python_serves_invokes(lam, role):
    function_from_zip(lam, "python-runtime", {"bootstrap": RUNTIME_API_ECHO_PYTHON}, role, handler="function.handler",
                      runtime="provided.al2023", modes={"bootstrap": 0o755})
    body = succeeded(lam, "python-runtime", {"hello": "python"})
    assert body["echo"] == {"hello": "python"} and body["via"] == "python"


@needs_curl
def test_a_custom_runtime_can_report_an_error(lam, role):
    function_from_zip(lam, "failing-runtime", {"bootstrap": RUNTIME_API_FAILING_BASH}, role,
                      handler="function.handler", runtime="provided.al2023", modes={"bootstrap": 0o755})
    body = failed(lam, "failing-runtime")
    assert body["errorType"] == "Custom.Broken"
    assert body["errorMessage"] == "the bootstrap gave up"


@needs_curl
def test_a_custom_runtime_bootstrap_from_a_layer(lam, role):
    """AWS looks for the bootstrap in /var/task, then in /opt: a layer can bring the runtime."""
    layer = lam.publish_layer_version(LayerName="bash-runtime", Content={"ZipFile": make_zip(
        {"bootstrap": RUNTIME_API_ECHO_BASH}, {"bootstrap": 0o755})})["LayerVersionArn"]
    function_from_zip(lam, "runtime-from-layer", {"function.sh": "# the handler's code\n"}, role,
                      handler="function.handler", runtime="provided.al2023", Layers=[layer])
    assert succeeded(lam, "runtime-from-layer", {"from": "layer"})["echo"] == {"from": "layer"}


def test_a_custom_runtime_without_a_bootstrap_fails_clearly(lam, role):
    function_from_zip(lam, "no-bootstrap", {"function.sh": "echo hi\n"}, role, handler="function.handler",
                      runtime="provided.al2023")
    body = failed(lam, "no-bootstrap")
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" in body["errorMessage"]


def test_a_bootstrap_that_is_not_executable_fails_clearly(lam, role):
    function_from_zip(lam, "not-executable", {"bootstrap": RUNTIME_API_ECHO_BASH}, role, handler="function.handler",
                      runtime="provided.al2023", modes={"bootstrap": 0o644})
    body = failed(lam, "not-executable")
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "bootstrap" in body["errorMessage"]
