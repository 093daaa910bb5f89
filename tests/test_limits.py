"""Lambda's quotas, refused as AWS refuses them: configuration limits at CreateFunction and
UpdateFunctionConfiguration, payload sizes at Invoke, package sizes, and concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from support import (create_function, create_role, invoke_json, make_zip, start_cloud, wait_until,
                     zeros_zip)

ECHO = "def handler(event, context):\n    return {'size': len(str(event))}\n"


def refused(call, *args, **kwargs) -> dict:
    """Run an API call that must fail; return its error response."""
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return error.value.response


def assert_error(response: dict, code: str, status: int, message: str | None = None) -> None:
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    if message is not None:
        assert response["Error"]["Message"] == message


# --- CreateFunction and UpdateFunctionConfiguration ------------------------------------------------

def test_memory_above_10240_mb_is_a_validation_error(lam, role):
    response = refused(create_function, lam, "big", ECHO, role, MemorySize=10241)
    assert_error(response, "ValidationException", 400,
                 "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: "
                 "Member must have value less than or equal to 10240")
    assert lam.list_functions()["Functions"] == []


def test_a_timeout_above_900_s_is_a_validation_error(lam, role):
    response = refused(create_function, lam, "slow", ECHO, role, Timeout=901)
    assert_error(response, "ValidationException", 400,
                 "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
                 "Member must have value less than or equal to 900")
    assert lam.list_functions()["Functions"] == []


def test_memory_and_timeout_within_the_limits_are_accepted(lam, role):
    for memory, timeout in [(128, 1), (10240, 900), (3008, 300), (1769, 3)]:
        name = f"fits-{memory}-{timeout}"
        created = create_function(lam, name, ECHO, role, MemorySize=memory, Timeout=timeout)
        assert created["MemorySize"] == memory and created["Timeout"] == timeout
        config = lam.get_function_configuration(FunctionName=name)
        assert config["MemorySize"] == memory and config["Timeout"] == timeout


def test_defaults_are_128_mb_3_s_and_512_mb_of_tmp(lam, role):
    config = create_function(lam, "plain", ECHO, role)
    assert config["MemorySize"] == 128
    assert config["Timeout"] == 3
    assert config["EphemeralStorage"] == {"Size": 512}


def test_the_largest_function_really_runs(lam, role):
    create_function(lam, "largest", "import os\ndef handler(event, context):\n"
                    "    return [context.memory_limit_in_mb, os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']]\n",
                    role, MemorySize=10240, Timeout=900)
    assert invoke_json(lam, "largest")[1] == ["10240", "10240"]


def test_environment_variables_over_4_kb_are_refused(lam, role):
    variables = {"BIG": "x" * 4096}
    response = refused(create_function, lam, "env", ECHO, role, Environment={"Variables": variables})
    assert_error(response, "InvalidParameterValueException", 400)
    message = response["Error"]["Message"]
    assert "exceeded the 4KB limit" in message
    assert message.startswith("Lambda was unable to configure your environment variables because the environment "
                              "variables you have provided exceeded the 4KB limit.")


def test_environment_variables_under_4_kb_are_accepted(lam, role):
    # Keys of two characters at least: AWS refuses "A" (the model's pattern [a-zA-Z]([a-zA-Z0-9_])+).
    variables = {"AA": "x" * 2000, "BB": "y" * 2000}
    config = create_function(lam, "env", "import os\ndef handler(e, c):\n    return len(os.environ['AA'] + "
                             "os.environ['BB'])\n", role, Environment={"Variables": variables})
    assert config["Environment"]["Variables"] == variables
    assert invoke_json(lam, "env")[1] == 4000


def test_many_small_variables_add_up_to_the_4_kb_limit(lam, role):
    variables = {f"VARIABLE_{n:03d}": "v" * 40 for n in range(100)}  # 100 x 52 bytes
    response = refused(create_function, lam, "env", ECHO, role, Environment={"Variables": variables})
    assert_error(response, "InvalidParameterValueException", 400)
    assert "4KB" in response["Error"]["Message"]


def test_reserved_environment_keys_are_refused(lam, role):
    # _HANDLER is reserved too, but AWS refuses it first as a key that does not start with a letter (the
    # model's pattern): that ValidationException is what the learner sees, so it is not listed here.
    for key in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "LAMBDA_TASK_ROOT"]:
        response = refused(create_function, lam, "env", ECHO, role, Environment={"Variables": {key: "mine", "OK": "1"}})
        assert_error(response, "InvalidParameterValueException", 400)
        message = response["Error"]["Message"]
        assert "reserved keys" in message
        assert message.endswith(f"Reserved keys used in this request: {key}")
    assert lam.list_functions()["Functions"] == []


def test_reserved_keys_are_refused_by_update_function_configuration_too(lam, role):
    create_function(lam, "env", ECHO, role, Environment={"Variables": {"MODE": "a"}})
    response = refused(lam.update_function_configuration, FunctionName="env",
                       Environment={"Variables": {"AWS_SESSION_TOKEN": "forged"}})
    assert_error(response, "InvalidParameterValueException", 400)
    assert lam.get_function_configuration(FunctionName="env")["Environment"]["Variables"] == {"MODE": "a"}


def test_ephemeral_storage_above_10240_mb_is_a_validation_error(lam, role):
    response = refused(create_function, lam, "tmp", ECHO, role, EphemeralStorage={"Size": 10241})
    assert_error(response, "ValidationException", 400,
                 "1 validation error detected: Value '10241' at 'ephemeralStorage.size' failed to satisfy "
                 "constraint: Member must have value less than or equal to 10240")


def test_ephemeral_storage_up_to_10240_mb_is_accepted(lam, role):
    config = create_function(lam, "tmp", ECHO, role, EphemeralStorage={"Size": 10240})
    assert config["EphemeralStorage"] == {"Size": 10240}


def test_a_role_lambda_cannot_assume_is_refused(lam, iam):
    ec2_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = create_role(iam, "ec2-role", trust=ec2_only)
    response = refused(create_function, lam, "orphan", ECHO, role)
    assert_error(response, "InvalidParameterValueException", 400,
                 "The role defined for the function cannot be assumed by Lambda.")
    assert lam.list_functions()["Functions"] == []


def test_a_role_that_does_not_exist_is_refused(lam):
    response = refused(create_function, lam, "orphan", ECHO, "arn:aws:iam::123456789012:role/nobody")
    assert_error(response, "InvalidParameterValueException", 400,
                 "The role defined for the function cannot be assumed by Lambda.")


def test_a_role_trusting_lambda_among_other_services_is_accepted(lam, iam):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
         "Action": "sts:AssumeRole"}]}
    role = create_role(iam, "shared-role", trust=trust)
    create_function(lam, "shared", ECHO, role)
    assert invoke_json(lam, "shared")[0]["StatusCode"] == 200


def test_update_function_configuration_to_a_role_lambda_cannot_assume_is_refused(lam, iam, role):
    create_function(lam, "fn", ECHO, role)
    other = create_role(iam, "ec2-role", trust={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    response = refused(lam.update_function_configuration, FunctionName="fn", Role=other)
    assert_error(response, "InvalidParameterValueException", 400,
                 "The role defined for the function cannot be assumed by Lambda.")
    assert lam.get_function_configuration(FunctionName="fn")["Role"] == role


def test_a_deprecated_runtime_is_refused(lam, role):
    for runtime in ["python2.7", "python3.8", "python3.9", "nodejs16.x", "go1.x"]:
        response = refused(create_function, lam, "old", ECHO, role, runtime=runtime)
        assert_error(response, "InvalidParameterValueException", 400,
                     f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
                     "functions. We recommend you use a supported runtime while creating or updating functions.")
    assert lam.list_functions()["Functions"] == []


def test_an_unknown_runtime_is_a_validation_error(lam, role):
    response = refused(create_function, lam, "odd", ECHO, role, runtime="python4.0")
    assert_error(response, "ValidationException", 400)
    assert response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'python4.0' at 'runtime' failed to satisfy constraint: "
        "Member must satisfy enum value set: [")


def test_update_function_configuration_refuses_a_timeout_above_900(lam, role):
    create_function(lam, "fn", ECHO, role, Timeout=10)
    response = refused(lam.update_function_configuration, FunctionName="fn", Timeout=901)
    assert_error(response, "ValidationException", 400,
                 "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
                 "Member must have value less than or equal to 900")
    assert lam.get_function_configuration(FunctionName="fn")["Timeout"] == 10


def test_update_function_configuration_refuses_memory_above_10240(lam, role):
    create_function(lam, "fn", ECHO, role, MemorySize=256)
    response = refused(lam.update_function_configuration, FunctionName="fn", MemorySize=10241)
    assert_error(response, "ValidationException", 400)
    assert "at 'memorySize'" in response["Error"]["Message"]
    assert lam.get_function_configuration(FunctionName="fn")["MemorySize"] == 256


def test_update_function_configuration_refuses_a_deprecated_runtime(lam, role):
    create_function(lam, "fn", ECHO, role)
    response = refused(lam.update_function_configuration, FunctionName="fn", Runtime="python2.7")
    assert_error(response, "InvalidParameterValueException", 400)
    assert lam.get_function_configuration(FunctionName="fn")["Runtime"] == "python3.12"


def test_update_function_configuration_within_the_limits_is_applied(lam, role):
    create_function(lam, "fn", "def handler(event, context):\n    return [context.memory_limit_in_mb, "
                    "context.get_remaining_time_in_millis() > 3000]\n", role)
    lam.update_function_configuration(FunctionName="fn", Timeout=900, MemorySize=10240)
    config = lam.get_function_configuration(FunctionName="fn")
    assert config["Timeout"] == 900 and config["MemorySize"] == 10240
    assert invoke_json(lam, "fn")[1] == ["10240", True]


# --- invoke payloads -----------------------------------------------------------------------------

SYNC_LIMIT = 6_291_456
ASYNC_LIMIT = 1_048_576


def json_string_of(size: int) -> bytes:
    """A JSON document (one string) of exactly size bytes."""
    return b'"' + b"a" * (size - 2) + b'"'


def test_a_sync_payload_over_6_mb_is_request_entity_too_large(aws, lam, role):
    create_function(lam, "echo", ECHO, role)
    response = refused(lam.invoke, FunctionName="echo", Payload=json_string_of(SYNC_LIMIT + 1))
    assert_error(response, "RequestEntityTooLargeException", 413,
                 "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    assert aws.admin("GET", "/lambdalab/invocations") == []


def test_a_sync_payload_just_under_6_mb_is_accepted(lam, role):
    create_function(lam, "echo", "def handler(event, context):\n    return len(event)\n", role, MemorySize=512)
    response = lam.invoke(FunctionName="echo", Payload=json_string_of(SYNC_LIMIT - 1024))
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == SYNC_LIMIT - 1026


def test_an_async_payload_over_1_mb_is_request_entity_too_large(lam, role):
    create_function(lam, "echo", ECHO, role)
    response = refused(lam.invoke, FunctionName="echo", InvocationType="Event",
                       Payload=json_string_of(ASYNC_LIMIT + 1))
    assert_error(response, "RequestEntityTooLargeException", 413,
                 f"{ASYNC_LIMIT + 1} byte payload is too large for the Event invocation type "
                 f"(limit {ASYNC_LIMIT} bytes)")


def test_an_async_payload_of_1_mb_is_accepted(lam, role):
    create_function(lam, "echo", ECHO, role)
    response = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json_string_of(ASYNC_LIMIT))
    assert response["StatusCode"] == 202


def test_a_sync_payload_over_the_async_limit_is_fine(lam, role):
    create_function(lam, "echo", "def handler(event, context):\n    return len(event)\n", role)
    response = lam.invoke(FunctionName="echo", Payload=json_string_of(2 * ASYNC_LIMIT))
    assert json.loads(response["Payload"].read()) == 2 * ASYNC_LIMIT - 2


@pytest.fixture
def old_async_limit(tmp_path: Path):
    cloud = start_cloud(tmp_path / "home", {"LAMBDALAB_ASYNC_PAYLOAD_MAX_BYTES": "262144"})
    yield cloud
    cloud.stop()


def test_the_async_limit_of_the_course_notes_can_be_brought_back(old_async_limit):
    lam = old_async_limit.client("lambda")
    role = create_role(old_async_limit.client("iam"))
    create_function(lam, "echo", ECHO, role)
    payload = json_string_of(300 * 1024)
    response = refused(lam.invoke, FunctionName="echo", InvocationType="Event", Payload=payload)
    assert_error(response, "RequestEntityTooLargeException", 413,
                 f"{len(payload)} byte payload is too large for the Event invocation type (limit 262144 bytes)")
    assert lam.invoke(FunctionName="echo", InvocationType="Event",
                      Payload=json_string_of(262144))["StatusCode"] == 202
    sync = lam.invoke(FunctionName="echo", Payload=payload)  # the sync limit is unchanged
    assert sync["StatusCode"] == 200 and "FunctionError" not in sync


def test_a_response_over_6_mb_is_function_response_size_too_large(lam, role):
    code = ("import os\nCALLS = 0\ndef handler(event, context):\n    global CALLS\n    CALLS += 1\n"
            "    if event.get('big'):\n        return 'x' * 7_000_000\n    return CALLS\n")
    create_function(lam, "bigmouth", code, role, MemorySize=512)
    response, body = invoke_json(lam, "bigmouth", {"big": True})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert body["errorMessage"] == "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    response, body = invoke_json(lam, "bigmouth")
    assert "FunctionError" not in response
    assert body == 2  # the environment is fine: only the answer was too big


def test_a_response_just_under_6_mb_is_returned(lam, role):
    create_function(lam, "bigmouth", "def handler(event, context):\n    return 'x' * 6_000_000\n", role,
                    MemorySize=512)
    response = lam.invoke(FunctionName="bigmouth", Payload=b"{}")
    assert "FunctionError" not in response
    assert len(json.loads(response["Payload"].read())) == 6_000_000


# --- deployment packages -------------------------------------------------------------------------

UNZIPPED_LIMIT = 262_144_000


def test_a_package_over_250_mb_unzipped_is_refused(lam, role):
    package = zeros_zip(260 * 1024 * 1024, extra={"lambda_function.py": ECHO})
    assert len(package) < 2 * 1024 * 1024
    response = refused(lam.create_function, FunctionName="huge", Runtime="python3.12", Role=role,
                       Handler="lambda_function.handler", Code={"ZipFile": package})
    assert_error(response, "InvalidParameterValueException", 400,
                 f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
    assert lam.list_functions()["Functions"] == []


def test_update_function_code_over_250_mb_unzipped_is_refused(lam, role):
    create_function(lam, "growing", ECHO, role)
    package = zeros_zip(UNZIPPED_LIMIT + 1, extra={"lambda_function.py": ECHO})
    response = refused(lam.update_function_code, FunctionName="growing", ZipFile=package)
    assert_error(response, "InvalidParameterValueException", 400,
                 f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
    assert invoke_json(lam, "growing")[0]["StatusCode"] == 200


def test_a_package_just_under_250_mb_unzipped_is_accepted(lam, role):
    package = zeros_zip(UNZIPPED_LIMIT - 4096, extra={"lambda_function.py": ECHO})
    created = lam.create_function(FunctionName="roomy", Runtime="python3.12", Role=role,
                                  Handler="lambda_function.handler", Code={"ZipFile": package})
    assert created["FunctionName"] == "roomy"


def test_a_package_that_is_not_a_zip_is_refused(lam, role):
    response = refused(lam.create_function, FunctionName="junk", Runtime="python3.12", Role=role,
                       Handler="lambda_function.handler", Code={"ZipFile": b"this is not a zip file"})
    assert_error(response, "InvalidParameterValueException", 400,
                 "Could not unzip uploaded file. Please check your file, then try to upload again.")


# --- concurrency ---------------------------------------------------------------------------------

def test_reserved_concurrency_must_leave_100_unreserved(lam, role):
    create_function(lam, "greedy", ECHO, role)
    response = refused(lam.put_function_concurrency, FunctionName="greedy", ReservedConcurrentExecutions=901)
    assert_error(response, "InvalidParameterValueException", 400)
    message = response["Error"]["Message"]
    assert "[100]" in message
    assert message == ("Specified ReservedConcurrentExecutions for function decreases account's "
                       "UnreservedConcurrentExecution below its minimum value of [100].")
    assert lam.put_function_concurrency(FunctionName="greedy",
                                        ReservedConcurrentExecutions=900)["ReservedConcurrentExecutions"] == 900


def test_reserved_concurrency_of_all_functions_adds_up(lam, role):
    create_function(lam, "first", ECHO, role)
    create_function(lam, "second", ECHO, role)
    lam.put_function_concurrency(FunctionName="first", ReservedConcurrentExecutions=600)
    response = refused(lam.put_function_concurrency, FunctionName="second", ReservedConcurrentExecutions=301)
    assert_error(response, "InvalidParameterValueException", 400)
    assert "[100]" in response["Error"]["Message"]
    lam.put_function_concurrency(FunctionName="second", ReservedConcurrentExecutions=300)
    # changing a function's own reservation does not count its old value twice
    lam.put_function_concurrency(FunctionName="first", ReservedConcurrentExecutions=600)


SLOW = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 2))\n    return 'done'\n"


def concurrent_executions(cloud) -> int:
    return cloud.admin("GET", "/lambdalab/status")["concurrent_executions"]


def start_invokes_in_background(cloud, names: list[str], event: dict) -> tuple[list, list[threading.Thread]]:
    results: list = [None] * len(names)

    def run(index: int) -> None:
        try:
            results[index] = invoke_json(cloud.client("lambda"), names[index], event)
        except Exception as exc:  # handed to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(names))]
    for thread in threads:
        thread.start()
    return results, threads


def assert_throttled(response: dict, reason: str) -> None:
    assert_error(response, "TooManyRequestsException", 429)
    assert response["Reason"] == reason
    assert "retry-after" in response["ResponseMetadata"]["HTTPHeaders"]


def test_reserved_concurrency_1_throttles_a_second_simultaneous_invoke(aws, lam, role):
    create_function(lam, "single", SLOW, role, Timeout=30)
    lam.put_function_concurrency(FunctionName="single", ReservedConcurrentExecutions=1)
    results, threads = start_invokes_in_background(aws, ["single"], {"sleep": 2})
    wait_until(lambda: concurrent_executions(aws) == 1, 20, 0.02, "the first invoke to be running")
    response = refused(lam.invoke, FunctionName="single", Payload=b'{"sleep": 0}')
    assert_throttled(response, "ReservedFunctionConcurrentInvocationLimitExceeded")
    for thread in threads:
        thread.join(60)
    first = results[0]
    assert not isinstance(first, Exception), first
    assert first[1] == "done"
    assert invoke_json(lam, "single", {"sleep": 0})[1] == "done"  # free again


def test_reserved_concurrency_0_throttles_every_invoke(aws, lam, role):
    create_function(lam, "off", ECHO, role)
    lam.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    for _ in range(3):
        assert_throttled(refused(lam.invoke, FunctionName="off", Payload=b"{}"),
                         "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert aws.admin("GET", "/lambdalab/environments") == []
    lam.delete_function_concurrency(FunctionName="off")
    assert invoke_json(lam, "off")[0]["StatusCode"] == 200


@pytest.fixture(scope="module")
def small_account_cloud(tmp_path_factory: pytest.TempPathFactory):
    cloud = start_cloud(tmp_path_factory.mktemp("small-account"), {"LAMBDALAB_ACCOUNT_CONCURRENCY": "2",
                                                                  "LAMBDALAB_UNRESERVED_CONCURRENCY_MIN": "0"})
    yield cloud
    cloud.stop()


@pytest.fixture
def small_account(small_account_cloud):
    """A cloud whose account may run 2 functions at once, none of which must stay unreserved; emptied."""
    small_account_cloud.reset()
    return small_account_cloud


def test_the_account_concurrency_limit_throttles_the_invoke_over_it(small_account):
    lam = small_account.client("lambda")
    role = create_role(small_account.client("iam"))
    create_function(lam, "one", SLOW, role, Timeout=30)
    create_function(lam, "two", SLOW, role, Timeout=30)
    results, threads = start_invokes_in_background(small_account, ["one", "two"], {"sleep": 2})
    wait_until(lambda: concurrent_executions(small_account) == 2, 20, 0.02, "two invokes to be running")
    response = refused(lam.invoke, FunctionName="one", Payload=b'{"sleep": 0}')
    assert_throttled(response, "ConcurrentInvocationLimitExceeded")
    for thread in threads:
        thread.join(60)
    assert [result[1] for result in results] == ["done", "done"]
    assert invoke_json(lam, "two", {"sleep": 0})[1] == "done"


def test_three_simultaneous_invokes_on_an_account_limit_of_2_throttle_one(small_account):
    lam = small_account.client("lambda")
    role = create_role(small_account.client("iam"))
    create_function(lam, "slow", SLOW, role, Timeout=30)
    results, threads = start_invokes_in_background(small_account, ["slow"] * 3, {"sleep": 2})
    for thread in threads:
        thread.join(60)
    errors = [r for r in results if isinstance(r, ClientError)]
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(errors) == 1 and len(done) == 2, results
    for error in errors:
        assert_throttled(error.response, "ConcurrentInvocationLimitExceeded")
    assert all(body == "done" for _, body in done)


def test_reserved_concurrency_on_a_small_account(small_account):
    lam = small_account.client("lambda")
    role = create_role(small_account.client("iam"))
    create_function(lam, "reserved", SLOW, role, Timeout=30)
    create_function(lam, "other", SLOW, role, Timeout=30)
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
    results, threads = start_invokes_in_background(small_account, ["other"], {"sleep": 2})
    wait_until(lambda: concurrent_executions(small_account) == 1, 20, 0.02, "the other function to be running")
    # the unreserved pool (2 - 1 = 1) is used up; the reserved function still has its own slot
    assert_throttled(refused(lam.invoke, FunctionName="other", Payload=b'{"sleep": 0}'),
                     "ConcurrentInvocationLimitExceeded")
    assert invoke_json(lam, "reserved", {"sleep": 0})[1] == "done"
    for thread in threads:
        thread.join(60)
    assert results[0][1] == "done"


def test_a_reservation_ends_with_its_function(small_account):
    lam = small_account.client("lambda")
    role = create_role(small_account.client("iam"))
    create_function(lam, "reserved", SLOW, role, Timeout=30)
    create_function(lam, "other", SLOW, role, Timeout=30)
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
    assert invoke_json(lam, "reserved", {"sleep": 0})[1] == "done"
    lam.delete_function(FunctionName="reserved")
    results, threads = start_invokes_in_background(small_account, ["other", "other"], {"sleep": 2})
    for thread in threads:
        thread.join(60)
    assert [result[1] for result in results] == ["done", "done"], results


def test_deleting_a_reservation_gives_the_slots_back(small_account):
    lam = small_account.client("lambda")
    role = create_role(small_account.client("iam"))
    create_function(lam, "reserved", SLOW, role, Timeout=30)
    create_function(lam, "other", SLOW, role, Timeout=30)
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
    lam.delete_function_concurrency(FunctionName="reserved")
    results, threads = start_invokes_in_background(small_account, ["other", "other"], {"sleep": 2})
    for thread in threads:
        thread.join(60)
    assert [result[1] for result in results] == ["done", "done"], results


def test_get_function_concurrency_reports_the_reservation(lam, role):
    create_function(lam, "fn", ECHO, role)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="fn")
    lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=5)
    assert lam.get_function_concurrency(FunctionName="fn")["ReservedConcurrentExecutions"] == 5


def test_a_zip_with_the_handler_in_a_folder_is_accepted(lam, role):
    package = make_zip({"src/app.py": "def handler(event, context):\n    return 'from src'\n"})
    lam.create_function(FunctionName="foldered", Runtime="python3.12", Role=role, Handler="src/app.handler",
                        Code={"ZipFile": package})
    assert invoke_json(lam, "foldered")[1] == "from src"
