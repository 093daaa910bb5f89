"""Every runtime of the course notes runs: Node.js, Python, Ruby, Java, Go (provided.al2023) and
a shell-script custom runtime, each with cold and warm environments, logs, its own error shapes,
timeouts, the memory limit and the reserved environment variables; .NET answers with a clear
error. A test is skipped only when this machine lacks the language, and says which and why."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from support import (assert_no_processes_after_reset, create_role, environment_processes, invoke_json, log_tail,
                     make_zip, report_line, start_cloud, wait_until)

sys.path.insert(0, str(Path(__file__).resolve().parent / "runtimes"))

from runtime_samples import RESERVED, SAMPLES, SHELL_BOOTSTRAP, shell_zip  # noqa: E402

from lambdalab import toolchains  # noqa: E402

LANGUAGES = list(SAMPLES)


def require(language: str) -> None:
    """Skip, saying what is missing and how to install it, when this machine lacks the language."""
    import shutil

    missing = {
        "node": lambda: toolchains.find_node() is None and "Node.js",
        "ruby": lambda: toolchains.find_ruby() is None and "Ruby",
        "java": lambda: (toolchains.find_java() is None and "Java") or (toolchains.find_javac() is None and "javac"),
        "go": lambda: toolchains.find_go() is None and "Go",
        "shell": lambda: shutil.which("curl") is None and "curl",
    }.get(language, lambda: False)()
    if missing:
        hint = toolchains.INSTALL_HINTS.get(missing, "apt-get install curl")
        pytest.skip(f"{missing} is not installed on this machine ({hint})")


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each language's deployment package, built once (Java and Go compile from source)."""
    cache = tmp_path_factory.mktemp("build-cache")
    built: dict[str, bytes] = {}

    def get(language: str) -> bytes:
        require(language)
        if language not in built:
            built[language] = SAMPLES[language].build(cache)
        return built[language]

    return get


def deploy(lam, role: str, language: str, packages, name: str | None = None, **extra) -> str:
    sample = SAMPLES[language]
    name = name or f"{language}-fn"
    extra.setdefault("Timeout", 30)  # a JVM's first start on a busy machine can take seconds
    lam.create_function(FunctionName=name, Runtime=sample.runtime, Role=role, Handler=sample.handler,
                        Code={"ZipFile": packages(language)}, **extra)
    return name


def invoke(lam, name: str, event: dict | None = None):
    response, body = invoke_json(lam, name, event or {}, LogType="Tail")
    return response, body, log_tail(response)


# --- the same behaviour in every language --------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cold_start_then_a_warm_one_with_start_end_report_and_the_functions_own_lines(lam, role, packages,
                                                                                        language):
    name = deploy(lam, role, language, packages)
    first, body, log = invoke(lam, name, {"n": 1})
    assert "FunctionError" not in first, body
    assert body["count"] == 1 and body["event"] == {"n": 1}
    assert "Init Duration" in report_line(log)
    assert re.search(r"INIT_START Runtime Version: " + re.escape(SAMPLES[language].runtime), log)
    request = first["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request} Version: $LATEST" in log and f"END RequestId: {request}" in log
    assert "handling" in log
    report = report_line(log)
    assert "Memory Size: 128 MB" in report and int(re.search(r"Max Memory Used: (\d+) MB", report).group(1)) > 1

    second, body, log = invoke(lam, name, {"n": 2})
    assert body["count"] == 2, "the second invoke reuses the warm environment and its globals"
    assert "Init Duration" not in report_line(log)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_context_and_the_reserved_environment_variables(lam, role, packages, language):
    name = deploy(lam, role, language, packages, MemorySize=256)
    response, body, _ = invoke(lam, name)
    sample = SAMPLES[language]
    env = body["env"]
    assert body["functionName"] == name
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert body["memory"] == 256
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{sample.runtime}"
    assert env["_HANDLER"] == sample.handler
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_REGION"] == "us-east-1" and env["TZ"] == ":UTC"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SESSION_TOKEN"] and env["LAMBDA_TASK_ROOT"]
    assert set(env) == set(RESERVED)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unhandled_error_has_the_runtimes_own_shape_and_is_logged(lam, role, packages, language):
    name = deploy(lam, role, language, packages)
    response, body, log = invoke(lam, name, {"action": "fail"})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert body["errorType"] == SAMPLES[language].error_type
    assert body["errorMessage"] == "asked to fail"
    if language != "go":  # aws-lambda-go returns the error to Lambda without printing it
        assert "asked to fail" in log
    # The environment survives a handled-by-the-runtime error: the next invoke is warm.
    _, body, log = invoke(lam, name)
    assert body["count"] == 2 and "Init Duration" not in report_line(log)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_timeout_ends_the_invoke_and_resets_the_environment(lam, role, packages, language):
    # A whole vCPU (1,769 MB), so that the warm-up's work is quick whatever the CPU share of 128 MB.
    name = deploy(lam, role, language, packages, Timeout=2, MemorySize=1769)
    invoke(lam, name)  # warm it up, so the timeout is measured on the handler alone
    response, body, log = invoke(lam, name, {"action": "sleep", "seconds": 8})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"].endswith("Task timed out after 2.00 seconds")
    assert "Task timed out after 2.00 seconds" in log
    _, body, log = invoke(lam, name)
    assert body["count"] == 1 and "Init Duration" in report_line(log), "a new runtime after the timeout"


@pytest.mark.parametrize("language", LANGUAGES)
def test_memory_beyond_the_memory_size_is_not_given(lam, role, packages, language):
    name = deploy(lam, role, language, packages, MemorySize=128)
    response, body, log = invoke(lam, name, {"action": "hog", "mb": 300})
    assert response["FunctionError"] == "Unhandled"
    used = int(re.search(r"Max Memory Used: (\d+) MB", report_line(log)).group(1))
    assert used <= 128
    if language == "java":
        # The JVM's heap is sized inside the memory size (-Xmx), so Java says so itself, as on AWS.
        assert body["errorType"] == "java.lang.OutOfMemoryError"
    else:
        assert body["errorType"] == "Runtime.ExitError"
        assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
        assert used == 128
    _, body, _ = invoke(lam, name)
    assert "count" in body, "the function runs again afterwards"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_process_of_any_runtime_outlives_a_reset(aws, lam, role, packages, language):
    name = deploy(lam, role, language, packages)
    invoke(lam, name)
    assert_no_processes_after_reset(aws)


# --- Node.js ---------------------------------------------------------------------------------------

def node_function(lam, role, name: str, files: dict, runtime: str = "nodejs20.x", handler: str = "index.handler",
                  **extra) -> str:
    require("node")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                        Code={"ZipFile": make_zip(files)}, **extra)
    return name


@pytest.mark.parametrize("files", [
    {"index.mjs": "export const handler = async (event) => ({ kind: 'esm', event });"},
    {"index.js": "export const handler = async (event) => ({ kind: 'esm', event });",
     "package.json": '{"type": "module"}'},
    {"index.cjs": "exports.handler = async (event) => ({ kind: 'cjs', event });"},
    {"index.js": "module.exports = { handler: async (event) => ({ kind: 'cjs', event }) };"},
], ids=["mjs", "js-type-module", "cjs", "module-exports"])
def test_node_loads_es_modules_and_commonjs(lam, role, files):
    node_function(lam, role, "modules", files)
    _, body = invoke_json(lam, "modules", {"a": 1})
    assert body["event"] == {"a": 1} and body["kind"] in ("esm", "cjs")


def test_node_callback_handlers_answer_once_the_event_loop_is_empty(lam, role):
    code = ("exports.handler = (event, context, callback) => {\n"
            "  setTimeout(() => console.log('after the callback'), 200);\n"
            "  callback(null, { waits: context.callbackWaitsForEmptyEventLoop });\n"
            "};\n")
    node_function(lam, role, "callback", {"index.js": code})
    response, body, log = invoke(lam, "callback")
    assert body == {"waits": True}
    assert "after the callback" in log, "the response waited for the pending timer, as on AWS"


def test_node_callback_handlers_can_answer_at_once(lam, role):
    code = ("exports.handler = (event, context, callback) => {\n"
            "  context.callbackWaitsForEmptyEventLoop = false;\n"
            "  callback(null, 'now');\n"
            "};\n")
    node_function(lam, role, "no-wait", {"index.js": code})
    _, body = invoke_json(lam, "no-wait")
    assert body == "now"


def test_node_24_refuses_callback_handlers_as_aws_does(lam, role):
    code = "exports.handler = (event, context, callback) => callback(null, 1);\n"
    node_function(lam, role, "old-style", {"index.js": code}, runtime="nodejs24.x")
    response, body, log = invoke(lam, "old-style")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert body["errorMessage"].startswith("ERROR: AWS Lambda has removed support for callback-based function "
                                           "handlers starting with Node.js 24.")


def test_node_error_shape_logs_and_a_thrown_string(lam, role):
    node_function(lam, role, "throws", {"index.js": "exports.handler = async () => { throw 'plain text'; };"})
    response, body, log = invoke(lam, "throws")
    assert body == {"errorType": "string", "errorMessage": "plain text", "trace": []}
    line = next(line for line in log.splitlines() if "Invoke Error" in line)
    stamp, request, level, text = line.split("\t", 3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert request == response["ResponseMetadata"]["RequestId"] and level == "ERROR"


def test_node_console_lines_carry_time_request_id_and_level_and_stay_one_event(lam, role):
    code = ("console.log('at init');\n"
            "exports.handler = async () => { console.warn('two\\nlines'); console.error('bad'); return 1; };\n")
    node_function(lam, role, "console", {"index.js": code})
    response, _, log = invoke(lam, "console")
    request = response["ResponseMetadata"]["RequestId"]
    assert re.search(r"\tundefined\tINFO\tat init", log), "init runs before any request: AWS prints undefined"
    assert f"\t{request}\tWARN\ttwo\rlines" in log
    assert f"\t{request}\tERROR\tbad" in log


@pytest.mark.parametrize("handler, files, error_type, message", [
    ("missing.handler", {"index.js": "exports.handler = async () => 1;"}, "Runtime.ImportModuleError",
     "Error: Cannot find module 'missing'"),
    ("index.nope", {"index.js": "exports.handler = async () => 1;"}, "Runtime.HandlerNotFound",
     "index.nope is undefined or not exported"),
    ("index.handler", {"index.js": "exports.handler = async () => {;"}, "Runtime.UserCodeSyntaxError",
     "SyntaxError"),
], ids=["no-module", "no-handler", "syntax"])
def test_node_init_errors(lam, role, handler, files, error_type, message):
    node_function(lam, role, "broken", files, handler=handler)
    response, body, log = invoke(lam, "broken")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type and message in body["errorMessage"]
    assert "Uncaught Exception" in log


def test_node_modules_in_the_package_and_in_a_layer(lam, role):
    require("node")
    layer = make_zip({"nodejs/node_modules/shout/index.js": "module.exports = (s) => s.toUpperCase() + '!';"})
    layer_arn = lam.publish_layer_version(LayerName="shout", Content={"ZipFile": layer},
                                          CompatibleRuntimes=["nodejs20.x"])["LayerVersionArn"]
    files = {
        "node_modules/pad/package.json": '{"name": "pad", "main": "lib/pad.js"}',
        "node_modules/pad/lib/pad.js": "module.exports = (s, n) => s.padStart(n, '*');",
        "index.js": ("const pad = require('pad');\nconst shout = require('shout');\n"
                     "exports.handler = async (event) => ({ padded: pad(event.text, 8), shouted: shout(event.text) });\n"),
    }
    node_function(lam, role, "deps", files, Layers=[layer_arn])
    _, body = invoke_json(lam, "deps", {"text": "hey"})
    assert body == {"padded": "*****hey", "shouted": "HEY!"}


def test_node_says_which_local_node_runs_it(lam, role):
    node_function(lam, role, "which", {"index.js": "exports.handler = async () => process.version;"},
                  runtime="nodejs22.x")
    response, body, log = invoke(lam, "which")
    init = next(line for line in log.splitlines() if line.startswith("INIT_START"))
    assert f"nodejs22.x runs on the local Node.js {body.lstrip('v')}" in init


# --- Ruby, Java, Go, the shell ---------------------------------------------------------------------

def test_ruby_class_method_handlers_and_load_errors(lam, role):
    require("ruby")
    code = "module Shop\n  class Cart\n    def self.total(event:, context:)\n      event['prices'].sum\n    end\n  end\nend\n"
    lam.create_function(FunctionName="cart", Runtime="ruby3.4", Role=role, Handler="cart.Shop::Cart.total",
                        Code={"ZipFile": make_zip({"cart.rb": code})})
    _, body = invoke_json(lam, "cart", {"prices": [1, 2, 39]})
    assert body == 42
    lam.create_function(FunctionName="noload", Runtime="ruby3.3", Role=role, Handler="nothere.handler",
                        Code={"ZipFile": make_zip({"cart.rb": code})})
    response, body, log = invoke(lam, "noload")
    assert body["errorType"] == "Init<LoadError>" and "nothere" in body["errorMessage"]
    assert "Init error when loading handler nothere.handler" in log


def test_java_pojo_and_stream_handlers_and_a_missing_class(lam, role, tmp_path):
    require("java")
    from lambdalab.toolchains.java_build import build_java_zip

    package = build_java_zip({
        "shop/Orders.java": """
package shop;
import com.amazonaws.services.lambda.runtime.Context;
public class Orders {
    public static class Order { private String sku; private int quantity;
        public String getSku() { return sku; } public void setSku(String sku) { this.sku = sku; }
        public int getQuantity() { return quantity; } public void setQuantity(int q) { this.quantity = q; } }
    public record Total(String sku, int cents) {}
    public Total price(Order order, Context context) { return new Total(order.getSku(), order.getQuantity() * 250); }
}""",
        "shop/Echo.java": """
package shop;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.*;
public class Echo implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
        out.write(("{\\"raw\\": " + new String(in.readAllBytes()) + "}").getBytes());
    }
}"""}, tmp_path)
    for name, handler in (("orders", "shop.Orders::price"), ("echo", "shop.Echo"), ("nope", "shop.Nope")):
        lam.create_function(FunctionName=name, Runtime="java17", Role=role, Handler=handler, MemorySize=512,
                            Timeout=30, Code={"ZipFile": package})
    assert invoke_json(lam, "orders", {"sku": "A-1", "quantity": 3})[1] == {"sku": "A-1", "cents": 750}
    assert invoke_json(lam, "echo", [1, 2])[1] == {"raw": [1, 2]}
    response, body, _ = invoke(lam, "nope")
    assert body["errorType"] == "java.lang.ClassNotFoundException"
    assert body["errorMessage"] == "Class not found: shop.Nope"


def test_go_panics_are_reported_with_their_stack_and_the_runtime_starts_again(aws, lam, role, packages):
    require("go")
    from lambdalab.toolchains.go_build import build_go_zip

    source = SAMPLES["go"]
    main_go = ('package main\n\nimport "github.com/aws/aws-lambda-go/lambda"\n\n'
               'func handler(event map[string]interface{}) (string, error) {\n'
               '\tif event["panic"] == true {\n\t\tpanic("it broke")\n\t}\n\treturn "fine", nil\n}\n\n'
               'func main() { lambda.Start(handler) }\n')
    lam.create_function(FunctionName="panics", Runtime=source.runtime, Role=role, Handler="bootstrap",
                        Code={"ZipFile": build_go_zip(main_go)})
    response, body, log = invoke(lam, "panics", {"panic": True})
    assert body["errorType"] == "string" and body["errorMessage"] == "it broke"
    assert any(frame["label"] == "main.handler" for frame in body["stackTrace"])
    # aws-lambda-go ends the process after a panic: the very next invoke gets a new runtime (a cold start).
    _, body, log = invoke(lam, "panics", {})
    assert body == "fine"
    assert "Init Duration" in report_line(log)


def test_a_shell_script_custom_runtime_polls_the_runtime_api(lam, role):
    require("shell")
    lam.create_function(FunctionName="shell", Runtime="provided.al2023", Role=role, Handler="function.handler",
                        Code={"ZipFile": shell_zip()})
    response, body, log = invoke(lam, "shell", {"hello": "world"})
    assert body == {"echo": {"hello": "world"}, "runtime": "AWS_Lambda_provided.al2023"}
    assert 'handling {"hello": "world"}' in log
    _, _, log = invoke(lam, "shell", {"again": True})
    assert "Init Duration" not in report_line(log)
    assert "curl" in SHELL_BOOTSTRAP


def test_dotnet_functions_are_created_but_say_at_invoke_why_they_cannot_run(lam, role):
    lam.create_function(FunctionName="dotnet", Runtime="dotnet8", Role=role,
                        Handler="Assembly::Namespace.Function::Handler", Code={"ZipFile": make_zip({"x.dll": b"\0"})})
    assert lam.get_function(FunctionName="dotnet")["Configuration"]["Runtime"] == "dotnet8"
    response, body, _ = invoke(lam, "dotnet")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.Unavailable"
    assert ".NET" in body["errorMessage"] and "provided.al2023" in body["errorMessage"]


def test_a_missing_language_is_reported_at_invoke_with_what_to_install(tmp_path):
    """A cloud whose PATH has no Ruby (as on a laptop without it): CreateFunction works, Invoke says why."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    cloud = start_cloud(tmp_path / "home", {"PATH": str(empty)})
    try:
        lam, iam = cloud.client("lambda"), cloud.client("iam")
        role = create_role(iam)
        lam.create_function(FunctionName="gem", Runtime="ruby3.3", Role=role, Handler="f.handler",
                            Code={"ZipFile": make_zip({"f.rb": "def handler(event:, context:) 1 end"})})
        response, body = invoke_json(lam, "gem")
        assert response["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.Unavailable"
        assert "ruby3.3 functions need Ruby" in body["errorMessage"]
        assert "apt-get install ruby" in body["errorMessage"]
    finally:
        cloud.stop()


def test_the_toolchain_summary_names_every_language():
    summary = toolchains.summary()
    assert set(summary) == {"Node.js", "Ruby", "Java", "javac", "Go", ".NET"}
    print(json.dumps(summary, indent=1))


def test_a_container_image_function_is_created_and_says_at_invoke_that_images_do_not_run_here(lam, role):
    created = lam.create_function(FunctionName="image", Role=role, PackageType="Image",
                                  Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:latest"})
    assert created["PackageType"] == "Image"
    response, body = invoke_json(lam, "image")
    assert response["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.Unavailable"
    assert "container images" in body["errorMessage"]


@pytest.mark.parametrize("language", ["node", "java"])
def test_each_environment_has_a_temporary_directory_of_its_own(lam, role, language, tmp_path):
    """With or without a private mount of /tmp, a runtime's temp directory belongs to its environment."""
    require(language)
    if language == "node":
        code = ("const fs = require('fs'); const os = require('os'); const path = require('path');\n"
                "exports.handler = async (event) => {\n"
                "  const file = path.join(os.tmpdir(), 'mark');\n"
                "  const had = fs.existsSync(file);\n"
                "  fs.writeFileSync(file, 'x');\n"
                "  return had;\n"
                "};\n")
        package, runtime, handler = make_zip({"index.js": code}), "nodejs20.x", "index.handler"
    else:
        from lambdalab.toolchains.java_build import build_java_zip

        package = build_java_zip({"tmp/Mark.java": """
package tmp;
import java.io.File;
import java.io.IOException;
public class Mark {
    public boolean handle() throws IOException {
        File file = new File(System.getProperty("java.io.tmpdir"), "mark");
        boolean had = file.exists();
        file.createNewFile();
        return had;
    }
}"""}, tmp_path)
        runtime, handler = "java17", "tmp.Mark::handle"
    for name in ("first", "second"):
        lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler, MemorySize=256,
                            Timeout=30, Code={"ZipFile": package})
    assert invoke_json(lam, "first")[1] is False
    assert invoke_json(lam, "first")[1] is True, "the same environment keeps its temporary files"
    assert invoke_json(lam, "second")[1] is False, "another environment does not see them"
