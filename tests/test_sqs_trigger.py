"""SQS event source mappings end to end through boto3: the API as AWS answers it, batches, the batching
window, failures that come back after the visibility timeout and end in the DLQ, partial batch
responses, FIFO order, throttles, filters, and a poller that stops and starts with its mapping."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from event_shapes import assert_same_shape
from poll_support import PRELUDE, SQS_EXECUTION, bodies_seen, events_seen, make_function, queue_counts, role_with
from support import advance, fired, flow, make_queue, use_virtual_clock, wait_until

FAILING = PRELUDE + """
def handler(event, context):
    seen(event)
    raise RuntimeError("cannot process this batch")
"""
# Fails the messages whose body is "bad"; reports them with ReportBatchItemFailures.
PARTIAL = PRELUDE + """
def handler(event, context):
    seen(event)
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]}
"""


@pytest.fixture
def clients(aws):
    return {name: aws.client(name) for name in ("lambda", "iam", "sqs", "logs")}


@pytest.fixture
def worker(clients) -> str:
    """A function allowed to read queues, that logs every batch it gets."""
    role = role_with(clients["iam"], SQS_EXECUTION)
    make_function(clients["lambda"], "worker", role)
    return role


def send(sqs, url: str, bodies: list[str], **extra) -> None:
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "MessageBody": body, **extra} for index, body in enumerate(bodies[start:start + 10])])


def client_error(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]


# --- the API --------------------------------------------------------------------------------------

def test_the_mapping_reports_its_configuration_and_states_as_aws_does(aws, clients, worker) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    _, arn = make_queue(sqs, "orders")
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10 and created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionArn"].endswith(":function:worker") and created["EventSourceArn"] == arn
    assert created["StateTransitionReason"] == "USER_INITIATED" and created["FunctionResponseTypes"] == []
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    assert "StartingPosition" not in created and "MaximumRetryAttempts" not in created
    uuid = created["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert [m["UUID"] for m in lam.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]] == [uuid]
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]

    scaled = lam.update_event_source_mapping(UUID=uuid, ScalingConfig={"MaximumConcurrency": 2})
    assert scaled["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert client_error(lam.update_event_source_mapping, UUID=uuid, ScalingConfig={"MaximumConcurrency": 1001})[
        "Code"] == "ValidationException"
    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert updated["State"] == "Updating" and updated["BatchSize"] == 5
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    error = client_error(lam.get_event_source_mapping, UUID=uuid)
    assert error["Code"] == "ResourceNotFoundException"
    assert client_error(lam.delete_event_source_mapping, UUID=uuid)["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(("extra", "code", "message"), [
    ({"BatchSize": 11}, "InvalidParameterValueException",
     "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
    ({"BatchSize": 10_001, "MaximumBatchingWindowInSeconds": 1}, "ValidationException",
     "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have "
     "value less than or equal to 10000"),
    ({"MaximumBatchingWindowInSeconds": 301}, "ValidationException",
     "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: "
     "Member must have value less than or equal to 300"),
    ({"FunctionResponseTypes": ["ReportEverything"]}, "ValidationException",
     "1 validation error detected: Value '[ReportEverything]' at 'functionResponseTypes' failed to satisfy "
     "constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"),
    ({"StartingPosition": "LATEST"}, "InvalidParameterValueException",
     "Unsupported StartingPosition parameter for given event source mapping type."),
])
def test_create_refuses_what_aws_refuses(aws, clients, worker, extra, code, message) -> None:
    _, arn = make_queue(clients["sqs"], "orders")
    error = client_error(clients["lambda"].create_event_source_mapping, EventSourceArn=arn, FunctionName="worker",
                         **extra)
    assert (error["Code"], error["Message"]) == (code, message)
    assert clients["lambda"].list_event_source_mappings()["EventSourceMappings"] == []


def test_a_batch_above_ten_needs_a_window_and_fifo_queues_take_neither(aws, clients, worker) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    _, arn = make_queue(sqs, "orders")
    assert lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=500,
                                           MaximumBatchingWindowInSeconds=5)["BatchSize"] == 500
    _, fifo_arn = make_queue(sqs, "orders.fifo", FifoQueue="true")
    assert client_error(lam.create_event_source_mapping, EventSourceArn=fifo_arn, FunctionName="worker",
                        BatchSize=11, MaximumBatchingWindowInSeconds=1)["Code"] == "InvalidParameterValueException"
    assert client_error(lam.create_event_source_mapping, EventSourceArn=fifo_arn, FunctionName="worker",
                        MaximumBatchingWindowInSeconds=1)["Message"] == "Batching window is not supported for FIFO queues"


def test_missing_queue_function_duplicate_and_update_checks(aws, clients, worker) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    missing = client_error(lam.create_event_source_mapping, FunctionName="worker",
                           EventSourceArn="arn:aws:sqs:us-east-1:123456789012:nowhere")
    assert missing["Code"] == "InvalidParameterValueException"
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing["Message"]
    _, arn = make_queue(sqs, "orders")
    assert client_error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="nobody")["Code"] == \
        "InvalidParameterValueException"
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")["UUID"]
    duplicate = client_error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="worker")
    assert duplicate["Code"] == "ResourceConflictException" and uuid in duplicate["Message"]
    assert client_error(lam.update_event_source_mapping, UUID=uuid, BatchSize=50)["Message"].startswith(
        "Maximum batch window in seconds must be greater than 0")


def test_the_execution_role_must_be_allowed_to_read_the_queue(aws, clients) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    role = role_with(clients["iam"])  # logs only
    make_function(lam, "worker", role)
    _, arn = make_queue(sqs, "orders")
    error = client_error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="worker")
    assert error == {"Code": "InvalidParameterValueException",
                     "Message": "The provided execution role does not have permissions to call ReceiveMessage on SQS"}
    clients["iam"].put_role_policy(RoleName="poll-role", PolicyName="receive", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": arn}]}))
    error = client_error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="worker")
    assert error["Message"] == "The provided execution role does not have permissions to call DeleteMessage on SQS"
    clients["iam"].attach_role_policy(RoleName="poll-role", PolicyArn=SQS_EXECUTION)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")["UUID"]
    clients["iam"].detach_role_policy(RoleName="poll-role", PolicyArn=SQS_EXECUTION)
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    error = client_error(lam.update_event_source_mapping, UUID=uuid, Enabled=True)
    assert error["Message"] == "The provided execution role does not have permissions to call DeleteMessage on SQS"


# --- batches --------------------------------------------------------------------------------------

def test_messages_arrive_in_batches_with_aws_s_event_shape_and_are_deleted(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    url, arn = make_queue(sqs, "orders")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", Enabled=False)["UUID"]
    send(sqs, url, [f"order {n}" for n in range(25)])
    sqs.send_message(QueueUrl=url, MessageBody="with attributes", MessageAttributes={
        "colour": {"DataType": "String", "StringValue": "green"}})
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_until(lambda: sum(map(len, bodies_seen(logs, "worker"))) == 26, 60, what="26 messages delivered")
    batches = bodies_seen(logs, "worker")
    assert sorted(body for batch in batches for body in batch) == sorted([f"order {n}" for n in range(25)]
                                                                         + ["with attributes"])
    assert max(map(len, batches)) == 10 and len(batches) >= 3
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), 30, what="every message deleted")

    records = [record for event in events_seen(logs, "worker") for record in event["Records"]]
    assert_same_shape({"Records": [records[0]]}, "aws-docs/sqs-record.json")
    record = next(r for r in records if r["body"] == "with attributes")
    assert record["messageAttributes"]["colour"]["stringValue"] == "green"
    assert record["messageAttributes"]["colour"]["dataType"] == "String"
    assert record["eventSourceARN"] == arn and record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    batch_steps = flow(aws, "batch")
    assert batch_steps and batch_steps[0]["source"] == "sqs:orders" and batch_steps[0]["target"] == "lambda:worker"


def test_the_batching_window_holds_a_small_batch_until_it_closes(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    url, arn = make_queue(sqs, "orders")
    use_virtual_clock(aws)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=100,
                                    MaximumBatchingWindowInSeconds=20)
    send(sqs, url, ["a", "b", "c"])
    advance(aws, 5)
    assert bodies_seen(logs, "worker") == []
    assert queue_counts(sqs, url) == (3, 0)
    ran = fired(advance(aws, 20))
    assert any("batching window closes" in name for name in ran)
    assert [sorted(batch) for batch in bodies_seen(logs, "worker")] == [["a", "b", "c"]]


def test_a_full_batch_does_not_wait_for_the_window(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    url, arn = make_queue(sqs, "orders")
    use_virtual_clock(aws)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=3,
                                    MaximumBatchingWindowInSeconds=300)
    uuid = lam.list_event_source_mappings()["EventSourceMappings"][0]["UUID"]
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    send(sqs, url, ["a", "b", "c", "d"])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert [len(batch) for batch in bodies_seen(logs, "worker")] == [3]


# --- failures -------------------------------------------------------------------------------------

def test_a_failed_batch_comes_back_after_the_visibility_timeout_then_goes_to_the_dlq(aws, clients) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    role = role_with(clients["iam"], SQS_EXECUTION)
    make_function(lam, "fails", role, FAILING)
    dlq_url, dlq_arn = make_queue(sqs, "orders-dlq")
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="30", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    use_virtual_clock(aws)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="fails")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    advance(aws, 1)
    assert len(events_seen(logs, "fails")) == 1
    assert queue_counts(sqs, url) == (0, 1)  # hidden for the visibility timeout, not deleted
    advance(aws, 20)
    assert len(events_seen(logs, "fails")) == 1
    ran = fired(advance(aws, 11))
    assert any("visible again" in name for name in ran)
    events = events_seen(logs, "fails")
    assert [event["Records"][0]["attributes"]["ApproximateReceiveCount"] for event in events] == ["1", "2"]
    advance(aws, 31)  # received twice: the next receive moves it to the dead-letter queue
    assert len(events_seen(logs, "fails")) == 2
    assert queue_counts(sqs, url) == (0, 0)
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in dead] == ["poison"]
    [move] = flow(aws, "dead-letter")
    assert (move["source"], move["target"]) == ("sqs:orders", "sqs:orders-dlq")
    assert [step["ok"] for step in flow(aws, "invoke")] == [False, False]


def test_in_real_time_a_failed_message_comes_back_on_its_own_then_goes_to_the_dlq(aws, clients) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    make_function(lam, "fails", role_with(clients["iam"], SQS_EXECUTION), FAILING)
    dlq_url, dlq_arn = make_queue(sqs, "orders-dlq")
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="fails")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    wait_until(lambda: sqs.receive_message(QueueUrl=dlq_url).get("Messages"), 60, what="the message in the DLQ")
    assert [event["Records"][0]["attributes"]["ApproximateReceiveCount"]
            for event in events_seen(logs, "fails")] == ["1", "2"]


def test_report_batch_item_failures_deletes_only_the_messages_that_succeeded(aws, clients) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    make_function(lam, "partial", role_with(clients["iam"], SQS_EXECUTION), PARTIAL)
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="30")
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="partial", Enabled=False,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    send(sqs, url, ["ok 1", "ok 2", "bad", "ok 3", "ok 4"])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert queue_counts(sqs, url) == (0, 1)
    advance(aws, 31)
    batches = bodies_seen(logs, "partial")
    assert sorted(batches[0]) == ["bad", "ok 1", "ok 2", "ok 3", "ok 4"]
    assert batches[1:] == [["bad"]]


def test_an_unknown_item_identifier_fails_the_whole_batch(aws, clients) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    wrong = PRELUDE + """
def handler(event, context):
    seen(event)
    return {"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}
"""
    make_function(lam, "wrong", role_with(clients["iam"], SQS_EXECUTION), wrong)
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="30")
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="wrong", Enabled=False,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    send(sqs, url, ["one", "two"])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert queue_counts(sqs, url) == (0, 2)
    advance(aws, 31)
    assert [sorted(batch) for batch in bodies_seen(logs, "wrong")] == [["one", "two"], ["one", "two"]]


def test_without_report_batch_item_failures_the_answer_is_ignored(aws, clients) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    make_function(lam, "partial", role_with(clients["iam"], SQS_EXECUTION), PARTIAL)
    url, arn = make_queue(sqs, "orders")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="partial")
    send(sqs, url, ["bad", "ok"])
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), 30, what="both messages deleted")


def test_fifo_groups_stay_in_order_and_a_failed_message_holds_its_group(aws, clients) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    # a2 fails the first time it is seen: group a must wait for it, group b must not.
    flaky = PRELUDE + """
def handler(event, context):
    seen(event)
    for record in event["Records"]:
        if record["body"] == "a2" and record["attributes"]["ApproximateReceiveCount"] == "1":
            raise RuntimeError("a2 failed")
"""
    make_function(lam, "ordered", role_with(clients["iam"], SQS_EXECUTION), flaky)
    url, arn = make_queue(sqs, "orders.fifo", FifoQueue="true", ContentBasedDeduplication="true",
                          VisibilityTimeout="30")
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="ordered", BatchSize=1,
                                           Enabled=False)["UUID"]
    for body in ("a1", "b1", "a2", "b2", "a3", "b3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body[0])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    seen = [batch[0] for batch in bodies_seen(logs, "ordered")]
    assert [body for body in seen if body.startswith("b")] == ["b1", "b2", "b3"]
    assert [body for body in seen if body.startswith("a")] == ["a1", "a2"]  # a3 waits behind the failed a2
    advance(aws, 31)
    seen = [batch[0] for batch in bodies_seen(logs, "ordered")]
    assert [body for body in seen if body.startswith("a")] == ["a1", "a2", "a2", "a3"]
    record = next(event["Records"][0] for event in events_seen(logs, "ordered") if event["Records"][0]["body"] == "a1")
    assert_same_shape({"Records": [record]}, "aws-docs/sqs-record.json",
                      ignore={"$.Records[0].attributes.SequenceNumber", "$.Records[0].attributes.MessageGroupId",
                              "$.Records[0].attributes.MessageDeduplicationId"})
    assert record["attributes"]["MessageGroupId"] == "a" and record["attributes"]["SequenceNumber"].isdigit()


def test_a_throttled_batch_returns_to_the_queue(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    lam.put_function_concurrency(FunctionName="worker", ReservedConcurrentExecutions=0)
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="30")
    use_virtual_clock(aws)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")
    sqs.send_message(QueueUrl=url, MessageBody="later")
    advance(aws, 1)
    assert flow(aws, "throttle") and events_seen(logs, "worker") == []
    assert queue_counts(sqs, url) == (0, 1)
    lam.delete_function_concurrency(FunctionName="worker")
    advance(aws, 31)
    assert bodies_seen(logs, "worker") == [["later"]]


def test_filter_criteria_delete_messages_that_match_no_pattern(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    url, arn = make_queue(sqs, "orders")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", Enabled=False, FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"body": {"kind": ["tea"]}})}]})["UUID"]
    send(sqs, url, [json.dumps({"kind": "tea"}), json.dumps({"kind": "coffee"}), "not json"])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), 30, what="every message deleted")
    assert [body for batch in bodies_seen(logs, "worker") for body in batch] == [json.dumps({"kind": "tea"})]
    error = client_error(lam.update_event_source_mapping, UUID=uuid,
                         FilterCriteria={"Filters": [{"Pattern": "not a pattern"}]})
    assert error["Message"] == "Invalid filter pattern definition."


# --- the poller's life ----------------------------------------------------------------------------

def test_disable_enable_and_delete_stop_and_restart_the_poller(aws, clients, worker) -> None:
    lam, sqs, logs = clients["lambda"], clients["sqs"], clients["logs"]
    url, arn = make_queue(sqs, "orders")
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    advance(aws, 1)
    assert bodies_seen(logs, "worker") == [["first"]]
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody="while disabled")
    assert fired(advance(aws, 60)) == []  # nothing was left to wake up for: the first batch was deleted
    assert bodies_seen(logs, "worker") == [["first"]] and queue_counts(sqs, url) == (1, 0)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert bodies_seen(logs, "worker") == [["first"], ["while disabled"]]
    lam.delete_event_source_mapping(UUID=uuid)
    sqs.send_message(QueueUrl=url, MessageBody="after delete")
    advance(aws, 60)
    assert len(bodies_seen(logs, "worker")) == 2 and queue_counts(sqs, url) == (1, 0)


def test_a_learner_s_long_poll_returns_in_virtual_time(aws, clients) -> None:
    sqs = clients["sqs"]
    url, _ = make_queue(sqs, "orders")
    use_virtual_clock(aws)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    sqs.send_message(QueueUrl=url, MessageBody="hello", DelaySeconds=60)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    advance(aws, 61)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]


def test_reset_forgets_mappings(aws, clients, worker) -> None:
    lam, sqs = clients["lambda"], clients["sqs"]
    _, arn = make_queue(sqs, "orders")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")
    aws.reset()
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []

