"""Asynchronous invocation as AWS does it, end to end through boto3 on a fresh cloud: the queue,
retries one and two minutes apart (on the virtual clock, so nothing sleeps), event age,
throttled events kept, the event invoke config API, dead-letter queues and destinations with
AWS's record format, and the execution role's permissions that all of these need.

AWS's rules that the tests rely on: an async event is delivered at least once; a function
error is retried MaximumRetryAttempts times (default 2); a throttled attempt is not counted
and the event is kept until it is older than MaximumEventAgeInSeconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from event_shapes import shape_differences
from support import (advance, create_function, create_role, flow, invocations, make_queue, pending_timers, use_virtual_clock,
                     wait_until)

ACCOUNT = "123456789012"
REGION = "us-east-1"

ECHO = "def handler(event, context):\n    return {'got': event}\n"
FAIL = "def handler(event, context):\n    raise RuntimeError(f\"cannot handle order {event['order']}\")\n"
HOLD = """
import os, time

def handler(event, context):
    # Holds the function's only concurrency slot until the test creates the file (see hold()).
    while "hold" in event and not os.path.exists(event["hold"]):
        time.sleep(0.02)
    return {"done": event.get("order")}
"""
PRINT_EVENT = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n"

# The invocation record of AWS's developer guide ("Capturing records of Lambda asynchronous
# invocations", MIT-0): a failure after three attempts.
AWS_FAILURE_RECORD = {
    "version": "1.0",
    "timestamp": "2019-11-14T18:16:05.568Z",
    "requestContext": {
        "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    },
    "requestPayload": {"ORDER_IDS": ["9e07af03-ce31-4ff3-xmpl-36dce652cb4f"]},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "responsePayload": {"errorMessage": "RequestId: e4b46cbf-b738-xmpl-8880-a18cdf61200e Process exited before "
                                        "completing request"},
}
# ... and a success (the guide's success example has no functionError and the function's answer).
AWS_SUCCESS_RECORD = {
    "version": "1.0",
    "timestamp": "2019-11-24T23:08:25.651Z",
    "requestContext": {
        "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
        "functionArn": "arn:aws:lambda:sa-east-1:123456678912:function:event-destinations:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    },
    "requestPayload": {"Success": True},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
    "responsePayload": None,
}


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# --- helpers ----------------------------------------------------------------------------------

class Clock:
    """The cloud's clock, through its admin request."""

    def __init__(self, cloud) -> None:
        self._cloud = cloud

    def use_virtual(self) -> None:
        use_virtual_clock(self._cloud)

    def advance(self, seconds: float) -> dict:
        return advance(self._cloud, seconds)

    def pending(self) -> list[str]:
        return pending_timers(self._cloud)


@pytest.fixture
def clock(aws) -> Clock:
    """Virtual time: retries happen only when a test advances the clock (the reset puts it back to real)."""
    virtual = Clock(aws)
    virtual.use_virtual()
    return virtual


@pytest.fixture
def sqs(aws):
    return aws.client("sqs")


def allow(*statements: tuple[str | list[str], str]) -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in statements]}


def messages(sqs, url: str, expected: int = 1) -> list[dict]:
    """Wait for `expected` messages (bounded: a failure names what never came), then take them all."""
    found: list[dict] = []

    def enough() -> bool:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        for message in received:  # taken for good: a visibility timeout could run out on the virtual clock
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found.extend(received)
        return len(found) >= expected

    wait_until(enough, 30, 0.1, f"{expected} message(s) in {url}")
    return found


def no_messages(sqs, url: str) -> bool:
    return not sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")


def invoke_event(lam, name: str, event: dict) -> str:
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def assert_same_shape(made: dict, sample: dict) -> None:
    """Same keys and types as AWS's record; the payloads are the function's own business."""
    problems = shape_differences(made, sample, ignore={"$.requestPayload", "$.responsePayload"})
    assert not problems, "\n".join(problems)


class Holder:
    """Keeps a function with reserved concurrency 1 busy, so that its async events are throttled."""

    def __init__(self, lam, name: str) -> None:
        self._lam = lam
        self._name = name
        self.release_file = Path("/dev/shm") / f"lambdalab-hold-{uuid.uuid4().hex}"  # /tmp is the function's own
        self._thread = threading.Thread(target=self._invoke)

    def _invoke(self) -> None:
        self._lam.invoke(FunctionName=self._name, Payload=json.dumps({"hold": str(self.release_file)}))

    def start(self) -> "Holder":
        self._thread.start()
        return self

    def __enter__(self) -> "Holder":
        return self

    def release(self) -> None:
        self.release_file.touch()
        self._thread.join(60)

    def __exit__(self, *_: object) -> None:
        self.release()
        self.release_file.unlink(missing_ok=True)


def start_holding(aws, lam) -> Holder:
    holder = Holder(lam, "slots").start()
    wait_until(lambda: aws.admin("GET", "/lambdalab/status")["concurrent_executions"] == 1, 60, 0.05,
               "the holder running")
    return holder


# --- success, and the record's format ---------------------------------------------------------

def test_an_event_runs_once_and_its_record_goes_to_the_on_success_queue(aws, lam, iam, sqs):
    url, arn = make_queue(sqs, "done")
    role = create_role(iam, inline=allow(("sqs:SendMessage", arn)))
    create_function(lam, "echo", ECHO, role)
    answer = lam.put_function_event_invoke_config(FunctionName="echo",
                                                  DestinationConfig={"OnSuccess": {"Destination": arn}})
    assert answer["DestinationConfig"] == {"OnSuccess": {"Destination": arn}, "OnFailure": {}}
    request_id = invoke_event(lam, "echo", {"order": 7})

    record = json.loads(messages(sqs, url)[0]["Body"])
    assert_same_shape(record, AWS_SUCCESS_RECORD)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {"requestId": request_id, "functionArn": function_arn("echo") + ":$LATEST",
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"got": {"order": 7}}
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == len("2019-11-24T23:08:25.651Z")
    assert [i["request_id"] for i in invocations(aws, "echo")] == [request_id]
    assert [i["invocation_type"] for i in invocations(aws, "echo")] == ["Event"]


def test_the_legacy_invoke_async_api_goes_through_the_same_queue(aws, lam, iam, sqs):
    url, arn = make_queue(sqs, "done")
    create_function(lam, "echo", ECHO, create_role(iam, inline=allow(("sqs:SendMessage", arn))))
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": arn}})
    assert lam.invoke_async(FunctionName="echo", InvokeArgs=json.dumps({"old": "api"}))["Status"] == 202
    record = json.loads(messages(sqs, url)[0]["Body"])
    assert record["requestPayload"] == {"old": "api"} and record["requestContext"]["condition"] == "Success"


# --- function errors: retries on the clock ----------------------------------------------------

def test_a_failing_event_is_retried_after_one_then_two_minutes_then_sent_on_failure(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "failed")
    create_function(lam, "flaky", FAIL, create_role(iam, inline=allow(("sqs:SendMessage", arn))))
    lam.put_function_event_invoke_config(FunctionName="flaky", DestinationConfig={"OnFailure": {"Destination": arn}})
    request_id = invoke_event(lam, "flaky", {"order": 42})

    clock.advance(1)
    assert len(invocations(aws, "flaky")) == 1  # the first attempt at once; the retries wait for the clock
    assert any(name.startswith("async retry of flaky") for name in clock.pending())
    clock.advance(58)
    assert len(invocations(aws, "flaky")) == 1
    clock.advance(1)
    assert len(invocations(aws, "flaky")) == 2  # one minute after the first attempt
    clock.advance(119)
    assert len(invocations(aws, "flaky")) == 2
    assert no_messages(sqs, url)
    clock.advance(1)
    attempts = invocations(aws, "flaky")
    assert len(attempts) == 3  # two minutes after the second
    assert {a["request_id"] for a in attempts} == {request_id}  # every attempt is the same request

    record = json.loads(messages(sqs, url)[0]["Body"])
    assert_same_shape(record, AWS_FAILURE_RECORD)
    assert record["requestContext"] == {"requestId": request_id, "functionArn": function_arn("flaky") + ":$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"order": 42}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "cannot handle order 42"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    clock.advance(3600)
    assert len(invocations(aws, "flaky")) == 3 and no_messages(sqs, url)  # nothing more: the event is done

    kinds = [(s["kind"], s["ok"]) for s in flow(aws) if s["request_id"] == request_id]
    assert kinds == [("event", None), ("invoke", False), ("retry", False), ("retry", False), ("failure", False),
                     ("destination", False)]


def test_maximum_retry_attempts_zero_fails_after_one_attempt(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "failed")
    create_function(lam, "flaky", FAIL, create_role(iam, inline=allow(("sqs:SendMessage", arn))))
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    invoke_event(lam, "flaky", {"order": 1})
    clock.advance(1)
    record = json.loads(messages(sqs, url)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    clock.advance(600)
    assert len(invocations(aws, "flaky")) == 1


def test_a_timeout_is_a_function_error_and_is_retried(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "failed")
    create_function(lam, "slow", "import time\n\ndef handler(event, context):\n    time.sleep(10)\n",
                    create_role(iam, inline=allow(("sqs:SendMessage", arn))), Timeout=1)
    lam.put_function_event_invoke_config(FunctionName="slow", MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    invoke_event(lam, "slow", {})
    clock.advance(60)
    record = json.loads(messages(sqs, url)[0]["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert "Task timed out after 1.00 seconds" in record["responsePayload"]["errorMessage"]


def test_an_event_for_a_function_deleted_before_its_retry_is_dropped(aws, lam, iam, sqs, clock):
    create_function(lam, "flaky", FAIL, create_role(iam))
    request_id = invoke_event(lam, "flaky", {"order": 1})
    clock.advance(1)
    lam.delete_function(FunctionName="flaky")
    clock.advance(60)
    assert len(invocations(aws, "flaky")) == 1
    dropped = [s for s in flow(aws, "dropped") if s["request_id"] == request_id]
    assert dropped and "no longer exists" in dropped[0]["detail"]


# --- event age and throttles ------------------------------------------------------------------

def test_a_throttled_event_is_kept_and_runs_when_concurrency_is_free(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "done")
    create_function(lam, "slots", HOLD, create_role(iam, inline=allow(("sqs:SendMessage", arn))), Timeout=120)
    lam.put_function_concurrency(FunctionName="slots", ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(FunctionName="slots", DestinationConfig={"OnSuccess": {"Destination": arn}})
    with start_holding(aws, lam) as holder:
        request_id = invoke_event(lam, "slots", {"order": 5})
        wait_until(lambda: [s for s in flow(aws, "throttle") if s["request_id"] == request_id], 30, 0.05,
                   "the event throttled")
        holder.release()
    assert [i["request_id"] for i in invocations(aws, "slots")].count(request_id) == 0
    clock.advance(2)  # throttles are tried again 1 s later, then 2, 4, ... (up to 5 minutes)
    record = json.loads(messages(sqs, url)[0]["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1  # the throttled try is not an invoke
    assert record["responsePayload"] == {"done": 5}


def test_an_event_older_than_its_maximum_age_goes_to_the_failure_targets(aws, lam, iam, sqs, clock):
    failed_url, failed_arn = make_queue(sqs, "failed")
    dead_url, dead_arn = make_queue(sqs, "dead")
    role = create_role(iam, inline=allow(("sqs:SendMessage", failed_arn), ("sqs:SendMessage", dead_arn)))
    create_function(lam, "slots", HOLD, role, Timeout=120, DeadLetterConfig={"TargetArn": dead_arn})
    lam.put_function_concurrency(FunctionName="slots", ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(FunctionName="slots", MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": failed_arn}})
    with start_holding(aws, lam):
        request_id = invoke_event(lam, "slots", {"order": 9})
        wait_until(lambda: [s for s in flow(aws, "throttle") if s["request_id"] == request_id], 30, 0.05,
                   "the event throttled")
        clock.advance(59)
        assert no_messages(sqs, failed_url)
        clock.advance(1)
        record = json.loads(messages(sqs, failed_url)[0]["Body"])
        dead = messages(sqs, dead_url)[0]
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"order": 9}
    assert "responseContext" not in record  # it never ran: there is no response to describe
    assert json.loads(dead["Body"]) == {"order": 9}
    assert dead["MessageAttributes"]["ErrorCode"] == {"StringValue": "429", "DataType": "Number"}
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    assert request_id not in [i["request_id"] for i in invocations(aws, "slots")]


def test_reserved_concurrency_zero_sends_events_straight_to_the_failure_targets(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "failed")
    create_function(lam, "off", ECHO, create_role(iam, inline=allow(("sqs:SendMessage", arn))))
    lam.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName="off", DestinationConfig={"OnFailure": {"Destination": arn}})
    invoke_event(lam, "off", {"order": 3})
    record = json.loads(messages(sqs, url)[0]["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert invocations(aws, "off") == []
    assert not [name for name in clock.pending() if "off" in name]  # no retries booked


# --- dead-letter queues -----------------------------------------------------------------------

def test_a_failed_event_goes_to_the_sqs_dead_letter_queue_with_aws_attributes(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "dead")
    create_function(lam, "flaky", FAIL, create_role(iam, inline=allow(("sqs:SendMessage", arn))),
                    DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName="flaky")["DeadLetterConfig"] == {"TargetArn": arn}
    request_id = invoke_event(lam, "flaky", {"order": 42})
    clock.advance(60)
    assert no_messages(sqs, url)
    clock.advance(120)
    dead = messages(sqs, url)[0]
    assert json.loads(dead["Body"]) == {"order": 42}  # the event itself, as it was sent
    assert dead["MessageAttributes"] == {
        "RequestID": {"StringValue": request_id, "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "cannot handle order 42", "DataType": "String"},
    }
    assert len(invocations(aws, "flaky")) == 3
    assert [s["target"] for s in flow(aws, "dead-letter")] == ["sqs:dead"]


def test_a_failed_event_goes_to_the_sns_dead_letter_topic(aws, lam, iam, sqs, clock):
    sns = aws.client("sns")
    topic = sns.create_topic(Name="dead-letters")["TopicArn"]
    url, queue_arn = make_queue(sqs, "from-topic")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    create_function(lam, "flaky", FAIL, create_role(iam, inline=allow(("sns:Publish", topic))),
                    DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0)
    request_id = invoke_event(lam, "flaky", {"order": 8})
    clock.advance(1)
    envelope = json.loads(messages(sqs, url)[0]["Body"])
    assert envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"]) == {"order": 8}
    assert envelope["MessageAttributes"]["RequestID"] == {"Type": "String", "Value": request_id}
    assert envelope["MessageAttributes"]["ErrorCode"] == {"Type": "Number", "Value": "200"}
    assert envelope["MessageAttributes"]["ErrorMessage"] == {"Type": "String", "Value": "cannot handle order 8"}


def test_a_dead_letter_queue_needs_the_role_to_allow_send_message(aws, lam, iam, sqs):
    _, arn = make_queue(sqs, "dead")
    role = create_role(iam)
    with pytest.raises(ClientError) as refused:
        create_function(lam, "flaky", FAIL, role, DeadLetterConfig={"TargetArn": arn})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == ("The provided execution role does not have permissions "
                                                          "to call SendMessage on SQS")
    create_function(lam, "flaky", FAIL, role)
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName="flaky", DeadLetterConfig={"TargetArn": arn})
    assert "does not have permissions to call SendMessage on SQS" in refused.value.response["Error"]["Message"]
    topic = aws.client("sns").create_topic(Name="t")["TopicArn"]
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName="flaky", DeadLetterConfig={"TargetArn": topic})
    assert refused.value.response["Error"]["Message"] == ("The provided execution role does not have permissions "
                                                          "to call Publish on SNS")
    stranger = create_role(iam, "not-for-lambda", trust={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    with pytest.raises(ClientError) as refused:  # a role Lambda cannot assume is the first thing wrong
        create_function(lam, "other", FAIL, stranger, DeadLetterConfig={"TargetArn": arn})
    assert refused.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."


def test_a_dead_letter_send_the_role_no_longer_allows_fails_and_is_logged(aws, lam, iam, sqs, clock):
    url, arn = make_queue(sqs, "dead")
    role = create_role(iam, inline=allow(("sqs:SendMessage", arn)))
    create_function(lam, "flaky", FAIL, role, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0)
    iam.delete_role_policy(RoleName="lambda-role", PolicyName="inline")  # after the configuration was accepted
    request_id = invoke_event(lam, "flaky", {"order": 1})
    clock.advance(1)
    assert no_messages(sqs, url)
    dropped = [s for s in flow(aws, "dropped") if s["request_id"] == request_id]
    assert dropped[0]["target"] == "sqs:dead"
    assert "dead-letter not delivered" in dropped[0]["detail"] and "sqs:SendMessage" in dropped[0]["detail"]
    metric = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="DeadLetterErrors", Dimensions=[{"Name": "FunctionName", "Value": "flaky"}],
        StartTime="2000-01-01", EndTime="2100-01-01", Period=86400, Statistics=["Sum"])
    assert sum(point["Sum"] for point in metric["Datapoints"]) == 1


def test_dead_letter_config_can_be_removed(aws, lam, iam, sqs):
    _, arn = make_queue(sqs, "dead")
    create_function(lam, "f", ECHO, create_role(iam, inline=allow(("sqs:SendMessage", arn))),
                    DeadLetterConfig={"TargetArn": arn})
    assert lam.update_function_configuration(FunctionName="f", DeadLetterConfig={})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName="f")


# --- other destinations -----------------------------------------------------------------------

def test_a_lambda_destination_is_an_async_invoke_of_that_function(aws, lam, iam, clock):
    role = create_role(iam, inline=allow(("lambda:InvokeFunction", function_arn("audit"))))
    create_function(lam, "audit", PRINT_EVENT, role)
    create_function(lam, "flaky", FAIL, role)
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": function_arn("audit")}})
    request_id = invoke_event(lam, "flaky", {"order": 11})
    clock.advance(1)
    audits = invocations(aws, "audit")
    assert [a["invocation_type"] for a in audits] == ["Event"]
    logs = aws.client("logs")
    text = wait_until(lambda: "".join(e["message"] for e in logs.filter_log_events(
        logGroupName="/aws/lambda/audit")["events"] if "EVENT " in e["message"]), 30, 0.1, "the audit log")
    record = json.loads(text.split("EVENT ", 1)[1])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 11}
    assert ("lambda:flaky", "lambda:audit") in [(s["source"], s["target"]) for s in flow(aws, "destination")]


def test_an_eventbridge_destination_puts_the_record_on_the_bus(aws, lam, iam, sqs, clock):
    events = aws.client("events")
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    url, queue_arn = make_queue(sqs, "results")
    events.put_rule(Name="lambda-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "queue", "Arn": queue_arn}])
    create_function(lam, "echo", ECHO, create_role(iam, inline=allow(("events:PutEvents", bus))))
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": bus}})
    request_id = invoke_event(lam, "echo", {"order": 12})
    clock.advance(1)
    event = json.loads(messages(sqs, url)[0]["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["resources"] == [bus, function_arn("echo") + ":$LATEST"]
    assert event["detail"]["requestContext"]["requestId"] == request_id
    assert event["detail"]["responsePayload"] == {"got": {"order": 12}}


def test_an_sns_destination_publishes_the_record(aws, lam, iam, sqs, clock):
    sns = aws.client("sns")
    topic = sns.create_topic(Name="results")["TopicArn"]
    url, queue_arn = make_queue(sqs, "from-topic")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    create_function(lam, "flaky", FAIL, create_role(iam, inline=allow(("sns:Publish", topic))))
    lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": topic}})
    invoke_event(lam, "flaky", {"order": 13})
    clock.advance(1)
    record = json.loads(json.loads(messages(sqs, url)[0]["Body"])["Message"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"


# --- the event invoke config API --------------------------------------------------------------

def error_of(call, **parameters) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as refused:
        call(**parameters)
    error = refused.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_put_replaces_update_merges_get_list_and_delete(aws, lam, iam, sqs):
    _, arn = make_queue(sqs, "q")
    create_function(lam, "f", ECHO, create_role(iam, inline=allow(("sqs:SendMessage", arn))), Publish=True)
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
    put = lam.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600)
    assert put["FunctionArn"] == function_arn("f") + ":$LATEST"
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 600)
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    replaced = lam.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in replaced  # Put removes what it does not set
    merged = lam.update_function_event_invoke_config(FunctionName="f", MaximumEventAgeInSeconds=120,
                                                     DestinationConfig={"OnFailure": {"Destination": arn}})
    assert (merged["MaximumRetryAttempts"], merged["MaximumEventAgeInSeconds"]) == (0, 120)
    assert merged["DestinationConfig"]["OnFailure"] == {"Destination": arn}
    got = lam.get_function_event_invoke_config(FunctionName="f")
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds")} == \
        {"FunctionArn": function_arn("f") + ":$LATEST", "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 120}

    lam.put_function_event_invoke_config(FunctionName="f", Qualifier="live", MaximumRetryAttempts=2)
    assert lam.get_function_event_invoke_config(FunctionName="f:live")["FunctionArn"] == function_arn("f") + ":live"
    listed = lam.list_function_event_invoke_configs(FunctionName="f")["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [function_arn("f") + ":$LATEST", function_arn("f") + ":live"]
    first_page = lam.list_function_event_invoke_configs(FunctionName="f", MaxItems=1)
    assert len(first_page["FunctionEventInvokeConfigs"]) == 1 and first_page["NextMarker"]

    lam.delete_function_event_invoke_config(FunctionName="f")
    assert error_of(lam.get_function_event_invoke_config, FunctionName="f") == (
        "ResourceNotFoundException", f"The function {function_arn('f')}:$LATEST doesn't have an EventInvokeConfig", 404)
    assert error_of(lam.delete_function_event_invoke_config, FunctionName="f")[2] == 404
    assert error_of(lam.update_function_event_invoke_config, FunctionName="f", MaximumRetryAttempts=1)[2] == 404
    assert lam.get_function_event_invoke_config(FunctionName="f", Qualifier="live")["MaximumRetryAttempts"] == 2


def test_event_invoke_config_validation_as_aws_words_it(aws, lam, iam, sqs):
    create_function(lam, "f", ECHO, create_role(iam))
    unchecked = aws.client("lambda", parameter_validation=False)  # what botocore would stop before sending
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f", MaximumRetryAttempts=3) == (
        "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
        "constraint: Member must have value less than or equal to 2", 400)
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f", MaximumEventAgeInSeconds=21601)[1] == (
        "1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 21600")
    assert error_of(unchecked.put_function_event_invoke_config, FunctionName="f", MaximumEventAgeInSeconds=59)[1] == (
        "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60")
    assert error_of(unchecked.put_function_event_invoke_config, FunctionName="f", MaximumRetryAttempts=-1)[0] == \
        "ValidationException"
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f") == (
        "InvalidParameterValueException", "You must specify at least one of error handling or destination setting.",
        400)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f",
                    DestinationConfig={"OnFailure": {"Destination": table}})[1] == (
        f"The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={table})) "
        "is invalid.")
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f",
                    DestinationConfig={"OnSuccess": {"Destination": function_arn("f")}})[1] == (
        "You can't specify the function as a destination for itself.")
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f",
                    DestinationConfig={"OnSuccess": {"Destination": function_arn("nobody")}})[1] == (
        f"The destination ARN {function_arn('nobody')} is invalid.")
    _, queue_arn = make_queue(sqs, "q")
    assert error_of(lam.put_function_event_invoke_config, FunctionName="f",
                    DestinationConfig={"OnFailure": {"Destination": queue_arn}}) == (
        "InvalidParameterValueException",
        f"The function's execution role does not have permissions to call SendMessage on {queue_arn}", 400)
    assert error_of(lam.put_function_event_invoke_config, FunctionName="nobody", MaximumRetryAttempts=1)[2] == 404
    assert error_of(lam.get_function_event_invoke_config, FunctionName="f", Qualifier="7")[2] == 404


# --- the clock and the account ----------------------------------------------------------------

def test_a_reset_forgets_queued_events_and_their_retries(aws, lam, iam, clock):
    create_function(lam, "flaky", FAIL, create_role(iam))
    invoke_event(lam, "flaky", {"order": 1})
    clock.advance(1)
    assert any("flaky" in name for name in clock.pending())
    aws.reset()
    assert not any("flaky" in name for name in Clock(aws).pending())
    assert aws.admin("GET", "/lambdalab/invocations") == []


def test_concurrent_events_each_run_once(aws, lam, iam, sqs):
    url, arn = make_queue(sqs, "done")
    create_function(lam, "echo", ECHO, create_role(iam, inline=allow(("sqs:SendMessage", arn))))
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": arn}})
    sent = {invoke_event(lam, "echo", {"order": n}) for n in range(20)}
    records = [json.loads(m["Body"]) for m in messages(sqs, url, expected=20)]
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(sent)
    assert sorted(r["requestPayload"]["order"] for r in records) == list(range(20))
