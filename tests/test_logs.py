"""CloudWatch Logs as Lambda writes them: /aws/lambda/<name>, one stream per execution
environment, AWS's START/END/REPORT lines, and nothing at all without the logs permissions."""

from __future__ import annotations

import base64
import json
import math
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from support import BASIC_EXECUTION, RENDEZVOUS, create_function, create_role, invoke_json, rendezvous_role

STREAM_NAME = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/\[\$LATEST\][0-9a-f]{32}$")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>" + UUID + r")\tDuration: (?P<duration>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<size>\d+) MB\tMax Memory Used: (?P<used>\d+) MB"
    r"(?:\tInit Duration: (?P<init>\d+\.\d{2}) ms)?\t?$")

HELLO = '''
print("init says hi")

def handler(event, context):
    print("handler says hi")
    return {"request_id": context.aws_request_id, "stream": context.log_stream_name,
            "group": context.log_group_name}
'''


@pytest.fixture
def logs(aws):
    return aws.client("logs")


def group_names(logs, name: str) -> list[str]:
    return [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]]


def streams(logs, name: str) -> list[str]:
    found = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    return sorted(s["logStreamName"] for s in found)


def messages(logs, name: str, stream: str | None = None) -> list[str]:
    """Every message of the function's group (of one stream if given), oldest first."""
    group = f"/aws/lambda/{name}"
    names = [stream] if stream else streams(logs, name)
    found: list[str] = []
    for each in names:
        found += [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=each,
                                                            startFromHead=True)["events"]]
    return found


def invocation(lines: list[str], request_id: str) -> list[str]:
    """The lines from START to REPORT of one request."""
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    end = next(i for i, line in enumerate(lines) if line.startswith(f"REPORT RequestId: {request_id}\t"))
    return lines[start:end + 1]


def request_id_of(response: dict) -> str:
    return response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def assert_billed_is_duration_rounded_up(duration: str, billed: str) -> None:
    """Billed Duration is the duration rounded UP to the ms; the printed duration lost its third decimal."""
    shown, billed_ms = float(duration), int(billed)
    assert math.ceil(shown - 0.005) <= billed_ms <= max(1, math.ceil(shown + 0.005)), (duration, billed)


# --- where logs go ----------------------------------------------------------------------------

def test_the_log_group_appears_with_the_first_invoke(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    assert group_names(logs, "hello") == [], "creating a function writes no logs"
    response, body = invoke_json(lam, "hello")
    assert "FunctionError" not in response
    assert group_names(logs, "hello") == ["/aws/lambda/hello"]
    assert body["group"] == "/aws/lambda/hello"


def test_one_stream_per_environment_named_as_on_aws(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    before = datetime.now(timezone.utc).strftime("%Y/%m/%d")
    first = invoke_json(lam, "hello")[1]
    second = invoke_json(lam, "hello")[1]
    after = datetime.now(timezone.utc).strftime("%Y/%m/%d")
    assert STREAM_NAME.match(first["stream"]), first["stream"]
    assert first["stream"][:10] in (before, after), "the stream is named after the UTC day it started"
    assert second["stream"] == first["stream"], "a warm invoke writes to its environment's stream"
    assert streams(logs, "hello") == [first["stream"]]


def test_two_concurrent_environments_write_two_streams(aws, lam, iam, logs):
    # Each invocation waits, inside the function, until both have arrived: the two can only be
    # served at once, by two environments.
    aws.client("s3").create_bucket(Bucket="rendezvous")
    create_function(lam, "meet", RENDEZVOUS, rendezvous_role(iam), Timeout=60)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(invoke_json, lam, "meet", {"expected": 2}) for _ in range(2)]
        results = [future.result()[1] for future in futures]
    assert all(result["arrived"] >= 2 for result in results), results
    names = {result["stream"] for result in results}
    assert len(names) == 2
    assert all(STREAM_NAME.match(name) for name in names)
    assert set(streams(logs, "meet")) == names
    for result in results:
        lines = messages(logs, "meet", result["stream"])
        assert lines[0].startswith("INIT_START "), "each environment had its own cold start"
        assert f"START RequestId: {result['request_id']} Version: $LATEST" in lines


# --- the lines ------------------------------------------------------------------------------------

def test_a_cold_invoke_logs_init_start_then_start_output_end_report(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    response, body = invoke_json(lam, "hello")
    request_id = body["request_id"]
    lines = messages(logs, "hello")
    assert len(lines) == 6, lines
    assert lines[0].startswith("INIT_START Runtime Version: ")
    assert lines[1] == "init says hi", "code outside the handler runs (and prints) during init"
    assert lines[2] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[3] == "handler says hi"
    assert lines[4] == f"END RequestId: {request_id}"
    report = REPORT.match(lines[5])
    assert report, repr(lines[5])
    assert report["id"] == request_id
    assert report["init"] is not None, "a cold start reports its Init Duration"
    assert report["size"] == "128"
    billed_time = float(report["duration"]) + float(report["init"])  # INIT is billed too, since Aug 2025
    assert math.ceil(billed_time - 0.01) <= int(report["billed"]) <= math.ceil(billed_time + 0.01)
    assert 0 < int(report["used"]) <= 128


def test_a_warm_invoke_has_no_init_lines(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    invoke_json(lam, "hello")
    warm = invoke_json(lam, "hello")[1]["request_id"]
    lines = invocation(messages(logs, "hello"), warm)
    assert lines[1:3] == ["handler says hi", f"END RequestId: {warm}"]
    assert sum(line.startswith("INIT_START") for line in messages(logs, "hello")) == 1
    assert "init says hi" not in lines
    report = REPORT.match(lines[-1])
    assert report and report["init"] is None, "Init Duration only on a cold start"
    assert "Init Duration" not in lines[-1]
    assert_billed_is_duration_rounded_up(report["duration"], report["billed"])


def test_the_report_line_is_tab_separated_exactly_as_on_aws(lam, role, logs):
    create_function(lam, "sized", HELLO, role, MemorySize=256)
    request_id = invoke_json(lam, "sized")[1]["request_id"]
    line = invocation(messages(logs, "sized"), request_id)[-1]
    fields = line.rstrip("\t").split("\t")
    assert [f.split(":")[0] for f in fields] == ["REPORT RequestId", "Duration", "Billed Duration", "Memory Size",
                                                 "Max Memory Used", "Init Duration"]
    assert fields[0] == f"REPORT RequestId: {request_id}"
    assert re.fullmatch(r"Duration: \d+\.\d{2} ms", fields[1])
    assert re.fullmatch(r"Billed Duration: \d+ ms", fields[2])
    assert fields[3] == "Memory Size: 256 MB"
    assert re.fullmatch(r"Max Memory Used: \d+ MB", fields[4])
    assert re.fullmatch(r"Init Duration: \d+\.\d{2} ms", fields[5])


def test_the_request_id_is_the_same_everywhere(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    response, body = invoke_json(lam, "hello")
    request_id = request_id_of(response)
    assert re.fullmatch(UUID, request_id), request_id
    assert body["request_id"] == request_id, "context.aws_request_id is the x-amzn-requestid of the response"
    lines = invocation(messages(logs, "hello"), request_id)
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"END RequestId: {request_id}" in lines
    assert REPORT.match(lines[-1])["id"] == request_id


def test_a_multi_line_print_becomes_one_event_per_line(lam, role, logs):
    create_function(lam, "poem", '''
def handler(event, context):
    print("first line\\nsecond line\\nthird line")
    return context.aws_request_id
''', role)
    request_id = invoke_json(lam, "poem")[1]
    lines = invocation(messages(logs, "poem"), request_id)
    assert lines[1:4] == ["first line", "second line", "third line"]
    assert lines[4] == f"END RequestId: {request_id}"


def test_the_logging_module_writes_level_time_and_request_id(lam, role, logs):
    create_function(lam, "logger", '''
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("processing order %s", event["order"])
    return context.aws_request_id
''', role)
    request_id = invoke_json(lam, "logger", {"order": 42})[1]
    lines = invocation(messages(logs, "logger"), request_id)
    assert re.fullmatch(r"\[INFO\]\t\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\t" + request_id
                        + r"\tprocessing order 42", lines[1]), repr(lines[1])


def test_an_unhandled_exception_is_logged_inside_the_invocation(lam, role, logs):
    create_function(lam, "broken", '''
def handler(event, context):
    return event["missing"]
''', role)
    response, body = invoke_json(lam, "broken")
    assert response["FunctionError"] == "Unhandled"
    request_id = request_id_of(response)
    lines = invocation(messages(logs, "broken"), request_id)
    assert any(line.startswith("[ERROR] KeyError: 'missing'") for line in lines[1:-2]), lines
    assert lines[-2] == f"END RequestId: {request_id}"


def test_log_type_tail_returns_the_same_lines(lam, role, logs):
    create_function(lam, "hello", HELLO, role)
    response = lam.invoke(FunctionName="hello", LogType="Tail", Payload=b"{}")
    request_id = json.loads(response["Payload"].read())["request_id"]
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert "handler says hi" in tail
    assert f"END RequestId: {request_id}" in tail
    assert REPORT.match(tail[-1])
    assert tail[-3:] == messages(logs, "hello")[-3:]


def test_filter_log_events_finds_lines_in_the_group(lam, role, logs):
    create_function(lam, "needle", '''
def handler(event, context):
    print(f"looking for {event['word']}")
    return context.aws_request_id
''', role)
    first = invoke_json(lam, "needle", {"word": "hay"})[1]
    second = invoke_json(lam, "needle", {"word": "needle"})[1]
    found = logs.filter_log_events(logGroupName="/aws/lambda/needle", filterPattern="needle")["events"]
    assert [e["message"] for e in found] == ["looking for needle"]
    assert found[0]["logStreamName"] in streams(logs, "needle")
    reports = logs.filter_log_events(logGroupName="/aws/lambda/needle", filterPattern="REPORT")["events"]
    assert sorted(REPORT.match(e["message"])["id"] for e in reports) == sorted([first, second])


# --- the permissions a function needs to log --------------------------------------------------------

def test_a_function_without_logs_permissions_runs_but_writes_no_logs(aws, lam, iam, logs):
    """The classic puzzle: the function works, and its logs are nowhere."""
    silent = create_role(iam, "silent-role", managed=())
    create_function(lam, "silent", HELLO, silent)
    for _ in range(2):
        response, body = invoke_json(lam, "silent")
        assert "FunctionError" not in response
        assert body["group"] == "/aws/lambda/silent"
    assert group_names(logs, "silent") == []
    assert logs.describe_log_groups()["logGroups"] == []


def test_stream_and_put_permissions_are_not_enough_without_the_group(aws, lam, iam, logs):
    group_arn = f"arn:aws:logs:us-east-1:{aws.state['account_id']}:log-group:/aws/lambda/half"
    half = create_role(iam, "half-role", managed=(), inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{group_arn}:*"}]})
    create_function(lam, "half", HELLO, half)
    response, _ = invoke_json(lam, "half")
    assert "FunctionError" not in response
    assert group_names(logs, "half") == [], "nobody may create the group"

    logs.create_log_group(logGroupName="/aws/lambda/half")  # the learner creates it
    response, body = invoke_json(lam, "half")
    assert "handler says hi" in messages(logs, "half")
    assert f"END RequestId: {body['request_id']}" in messages(logs, "half")


def test_attaching_the_basic_execution_role_makes_the_next_invoke_log(aws, lam, iam, logs):
    create_function(lam, "fixed", HELLO, create_role(iam, "fixed-later", managed=()))
    lost = invoke_json(lam, "fixed")[1]["request_id"]
    assert group_names(logs, "fixed") == []

    iam.attach_role_policy(RoleName="fixed-later", PolicyArn=BASIC_EXECUTION)
    kept = invoke_json(lam, "fixed")[1]
    assert group_names(logs, "fixed") == ["/aws/lambda/fixed"]
    assert streams(logs, "fixed") == [kept["stream"]]
    lines = messages(logs, "fixed")
    assert lines[0] == f"START RequestId: {kept['request_id']} Version: $LATEST"
    assert REPORT.match(lines[-1])["id"] == kept["request_id"]
    assert not any(lost in line for line in lines), "what was written before the fix is lost"
    assert not any(line.startswith("INIT_START") for line in lines), "the init ran, unlogged, the first time"


def test_logs_permissions_for_another_functions_group_do_not_help(aws, lam, iam, logs):
    account = aws.state["account_id"]
    other = f"arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/someone-else"
    narrow = create_role(iam, "narrow-role", managed=(), inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": f"{other}:*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{other}:*"}]})
    create_function(lam, "mine", HELLO, narrow)
    response, _ = invoke_json(lam, "mine")
    assert "FunctionError" not in response
    assert group_names(logs, "mine") == []
