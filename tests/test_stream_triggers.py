"""DynamoDB Streams and Kinesis event source mappings end to end through boto3: events as AWS shapes them,
order per shard, starting positions, retries that block the shard, bisection, partial batch responses,
record age, the on-failure destination, and a checkpoint that survives disabling the mapping."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from event_shapes import sample, shape_differences
from poll_support import DYNAMODB_EXECUTION, KINESIS_EXECUTION, PRELUDE, events_seen, make_function, role_with
from support import advance, flow, make_queue, use_virtual_clock, wait_until

# Fails every batch that holds a record whose data is "bad".
FAILS_ON_BAD = PRELUDE + """
import base64

def handler(event, context):
    seen(event)
    if any(base64.b64decode(r["kinesis"]["data"]) == b"bad" for r in event["Records"]):
        raise RuntimeError("bad record")
"""


@pytest.fixture
def clients(aws):
    return {name: aws.client(name) for name in ("lambda", "iam", "sqs", "logs", "dynamodb", "kinesis", "cloudwatch")}


def client_error(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]


def make_table(dynamodb, name: str = "visits") -> str:
    description = dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "N"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
    return description["LatestStreamArn"]


def make_stream(kinesis, name: str = "clicks", shards: int = 1) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def put(kinesis, *datas: str, key: str = "one") -> list[str]:
    return [kinesis.put_record(StreamName="clicks", Data=data.encode(), PartitionKey=key)["SequenceNumber"]
            for data in datas]


def kinesis_batches(logs, name: str) -> list[list[str]]:
    """The decoded data of each batch the function got."""
    return [[base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
            for event in events_seen(logs, name)]


def kinesis_worker(clients, body: str = PRELUDE + "\ndef handler(event, context):\n    seen(event)\n",
                   inline: dict | None = None) -> str:
    role = role_with(clients["iam"], KINESIS_EXECUTION, inline=inline)
    make_function(clients["lambda"], "reader", role, body)
    return role


def failures_queue(clients) -> tuple[str, str, dict]:
    """An SQS queue for on-failure records, and the inline policy that lets the role write to it."""
    url, arn = make_queue(clients["sqs"], "stream-failures")
    return url, arn, {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}


# --- DynamoDB Streams ------------------------------------------------------------------------------

def test_dynamodb_stream_events_insert_modify_remove_in_aws_s_shape(aws, clients) -> None:
    lam, dynamodb, logs = clients["lambda"], clients["dynamodb"], clients["logs"]
    role = role_with(clients["iam"], DYNAMODB_EXECUTION)
    make_function(lam, "auditor", role, PRELUDE + "\ndef handler(event, context):\n    seen(event)\n")
    stream_arn = make_table(dynamodb)
    dynamodb.put_item(TableName="visits", Item={"Id": {"N": "100"}, "Message": {"S": "before the mapping"}})
    mapping = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="auditor",
                                              StartingPosition="LATEST")
    assert mapping["StartingPosition"] == "LATEST" and mapping["BatchSize"] == 100
    dynamodb.put_item(TableName="visits", Item={"Id": {"N": "101"}, "Message": {"S": "New item!"}})
    dynamodb.update_item(TableName="visits", Key={"Id": {"N": "101"}}, UpdateExpression="SET Message = :m",
                         ExpressionAttributeValues={":m": {"S": "This item has changed"}})
    dynamodb.delete_item(TableName="visits", Key={"Id": {"N": "101"}})

    def records() -> list[dict]:
        return [record for event in events_seen(logs, "auditor") for record in event["Records"]]

    wait_until(lambda: len(records()) == 3, 60, what="three stream records")
    insert, modify, remove = records()
    assert [r["eventName"] for r in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
    assert insert["dynamodb"]["NewImage"] == {"Id": {"N": "101"}, "Message": {"S": "New item!"}}
    assert modify["dynamodb"]["OldImage"]["Message"] == {"S": "New item!"}
    assert modify["dynamodb"]["NewImage"]["Message"] == {"S": "This item has changed"}
    assert remove["dynamodb"]["Keys"] == {"Id": {"N": "101"}} and "NewImage" not in remove["dynamodb"]
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])
    assert insert["eventSourceARN"] == stream_arn and insert["awsRegion"] == "us-east-1"
    template = sample("sam-templates/dynamodb-DynamoDBUpdate.json")["Records"]
    for made, expected in zip((insert, modify, remove), template):
        assert shape_differences(made, expected) == []
    assert shape_differences({"Records": [insert]}, sample("aws-docs/dynamodb-record.json"),
                             ignore={"$.Records[0].dynamodb.ApproximateCreationDateTime"}) == []
    wait_until(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK", 30,
               what="LastProcessingResult OK")


def test_stream_mappings_report_aws_s_defaults_and_refuse_what_aws_refuses(aws, clients) -> None:
    lam, dynamodb = clients["lambda"], clients["dynamodb"]
    make_function(lam, "auditor", role_with(clients["iam"]))  # may write logs, may not read streams
    stream_arn = make_table(dynamodb)
    missing = client_error(lam.create_event_source_mapping, EventSourceArn=stream_arn, FunctionName="auditor")
    assert missing["Message"] == ("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                                  "constraint: Member must not be null.")
    denied = client_error(lam.create_event_source_mapping, EventSourceArn=stream_arn, FunctionName="auditor",
                          StartingPosition="TRIM_HORIZON")
    assert denied == {"Code": "InvalidParameterValueException", "Message": (
        f"Cannot access stream {stream_arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
        "DescribeStream, and ListStreams Actions on your stream in IAM.")}
    clients["iam"].attach_role_policy(RoleName="poll-role", PolicyArn=DYNAMODB_EXECUTION)
    assert client_error(lam.create_event_source_mapping, EventSourceArn=stream_arn, FunctionName="auditor",
                        StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1)["Message"] == \
        f"Unsupported starting position for arn type: {stream_arn}"
    assert client_error(lam.create_event_source_mapping, EventSourceArn=stream_arn, FunctionName="auditor",
                        StartingPosition="LATEST", DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:"
                        "us-east-1:123456789012:x"}})["Message"] == \
        "Unsupported DestinationConfig parameter for given event source mapping type."
    assert client_error(lam.create_event_source_mapping, FunctionName="auditor", StartingPosition="LATEST",
                        EventSourceArn=stream_arn.replace("visits", "nowhere"))["Message"].startswith("Stream not found")
    created = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="auditor",
                                              StartingPosition="TRIM_HORIZON")
    assert {key: created[key] for key in ("State", "BatchSize", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                                          "BisectBatchOnFunctionError", "ParallelizationFactor",
                                          "LastProcessingResult", "StateTransitionReason", "DestinationConfig",
                                          "TumblingWindowInSeconds")} == {
        "State": "Creating", "BatchSize": 100, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": False, "ParallelizationFactor": 1, "LastProcessingResult": "No records processed",
        "StateTransitionReason": "User action", "DestinationConfig": {"OnFailure": {}}, "TumblingWindowInSeconds": 0}
    duplicate = client_error(lam.create_event_source_mapping, EventSourceArn=stream_arn, FunctionName="auditor",
                             StartingPosition="LATEST")
    assert duplicate["Code"] == "ResourceConflictException"
    assert client_error(lam.update_event_source_mapping, UUID=created["UUID"],
                        MaximumRecordAgeInSeconds=30)["Code"] == "InvalidParameterValueException"


# --- Kinesis ----------------------------------------------------------------------------------------

def test_kinesis_records_arrive_in_order_with_base64_data_and_iterator_age(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    role = kinesis_worker(clients)
    stream_arn = make_stream(kinesis)
    sequence_numbers = put(kinesis, "first", "second", "third")
    uuid = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader",
                                           StartingPosition="TRIM_HORIZON", BatchSize=2)["UUID"]
    put(kinesis, "fourth", "fifth")
    wait_until(lambda: sum(map(len, kinesis_batches(logs, "reader"))) == 5, 60, what="five records")
    batches = kinesis_batches(logs, "reader")
    assert [data for batch in batches for data in batch] == ["first", "second", "third", "fourth", "fifth"]
    assert max(map(len, batches)) <= 2
    record = events_seen(logs, "reader")[0]["Records"][0]
    assert record["kinesis"]["data"] == base64.b64encode(b"first").decode()
    assert record["kinesis"]["sequenceNumber"] == sequence_numbers[0] and record["kinesis"]["partitionKey"] == "one"
    assert record["eventID"] == f"shardId-000000000000:{sequence_numbers[0]}"
    assert record["invokeIdentityArn"] == role and record["eventSourceARN"] == stream_arn
    assert shape_differences({"Records": [record]}, sample("aws-docs/kinesis-record.json")) == []
    assert shape_differences({"Records": [record]}, sample("sam-templates/kinesis-Kinesis.json")) == []
    wait_until(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK", 30,
               what="LastProcessingResult OK")
    metric = clients["cloudwatch"].list_metrics(Namespace="AWS/Lambda", MetricName="IteratorAge")["Metrics"]
    assert {"Name": "FunctionName", "Value": "reader"} in metric[0]["Dimensions"]


def test_starting_position_latest_skips_what_came_before(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    kinesis_worker(clients)
    stream_arn = make_stream(kinesis)
    put(kinesis, "old")
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader", StartingPosition="LATEST")
    put(kinesis, "new")
    wait_until(lambda: kinesis_batches(logs, "reader"), 60, what="a batch")
    assert kinesis_batches(logs, "reader") == [["new"]]


def test_starting_position_at_timestamp_starts_with_the_records_of_that_moment(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    kinesis_worker(clients)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    put(kinesis, "yesterday")
    advance(aws, 3600)
    moment = aws.admin("GET", "/lambdalab/clock")["now"]
    put(kinesis, "today")
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader",
                                    StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=moment - 1800)
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["today"]]


def test_a_failing_batch_blocks_its_shard_and_goes_to_the_on_failure_destination(aws, clients) -> None:
    lam, kinesis, logs, sqs = clients["lambda"], clients["kinesis"], clients["logs"], clients["sqs"]
    failures_url, failures_arn, may_send = failures_queue(clients)
    kinesis_worker(clients, FAILS_ON_BAD, inline=may_send)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="reader", StartingPosition="TRIM_HORIZON", Enabled=False,
        MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": failures_arn}})["UUID"]
    first, second = put(kinesis, "bad", "good")
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 0.5)
    assert kinesis_batches(logs, "reader") == [["bad", "good"]]
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "PROBLEM: Function call failed"
    put(kinesis, "waits")  # the shard is blocked: this one waits behind the failing batch
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["bad", "good"]] * 2
    advance(aws, 2)  # the second retry fails too: no retries left, the batch is skipped
    assert kinesis_batches(logs, "reader")[:3] == [["bad", "good"]] * 3
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["bad", "good"]] * 3 + [["waits"]]
    [message] = sqs.receive_message(QueueUrl=failures_url)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (first, second, 2)
    assert info["shardId"] == "shardId-000000000000" and info["streamArn"] == stream_arn
    assert [step["target"] for step in flow(aws, "destination")] == ["sqs:stream-failures"]


def test_the_on_failure_destination_needs_the_role_s_permission(aws, clients) -> None:
    _, failures_arn, _ = failures_queue(clients)
    kinesis_worker(clients)
    stream_arn = make_stream(clients["kinesis"])
    error = client_error(clients["lambda"].create_event_source_mapping, EventSourceArn=stream_arn,
                         FunctionName="reader", StartingPosition="LATEST",
                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    assert error["Code"] == "InvalidParameterValueException" and "SendMessage" in error["Message"]


def test_bisect_batch_on_function_error_isolates_the_bad_record(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    kinesis_worker(clients, FAILS_ON_BAD)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader", Enabled=False,
                                           StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0,
                                           BisectBatchOnFunctionError=True)["UUID"]
    put(kinesis, "r1", "r2", "bad", "r4")
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["r1", "r2", "bad", "r4"], ["r1", "r2"], ["bad", "r4"], ["bad"],
                                               ["r4"]]
    [dropped] = [step for step in flow(aws, "dropped")]
    assert "RetryAttemptsExhausted: 1 record(s)" in dropped["detail"]


def test_report_batch_item_failures_retries_a_stream_from_the_failed_record(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    reports_c = PRELUDE + """
import base64

def handler(event, context):
    seen(event)
    return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]
                                  if base64.b64decode(r["kinesis"]["data"]) == b"c"]}
"""
    kinesis_worker(clients, reports_c)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader", Enabled=False,
                                           StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=1,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    put(kinesis, "a", "b", "c", "d")
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 5)
    put(kinesis, "e")
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["a", "b", "c", "d"], ["c", "d"], ["e"]]


def test_records_older_than_the_maximum_age_are_given_up(aws, clients) -> None:
    lam, kinesis, sqs = clients["lambda"], clients["kinesis"], clients["sqs"]
    failures_url, failures_arn, may_send = failures_queue(clients)
    kinesis_worker(clients, FAILS_ON_BAD, inline=may_send)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader", StartingPosition="LATEST",
                                    MaximumRecordAgeInSeconds=60,
                                    DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    put(kinesis, "bad")
    advance(aws, 120)
    [message] = sqs.receive_message(QueueUrl=failures_url)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] > 1
    assert record["KinesisBatchInfo"]["batchSize"] == 1


def test_disabling_keeps_the_checkpoint_and_deleting_stops_reading(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    kinesis_worker(clients)
    stream_arn = make_stream(kinesis)
    use_virtual_clock(aws)
    uuid = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader",
                                           StartingPosition="TRIM_HORIZON")["UUID"]
    put(kinesis, "one")
    advance(aws, 1)
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    put(kinesis, "two")
    advance(aws, 60)
    assert kinesis_batches(logs, "reader") == [["one"]]
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    advance(aws, 1)
    assert kinesis_batches(logs, "reader") == [["one"], ["two"]]
    lam.delete_event_source_mapping(UUID=uuid)
    put(kinesis, "three")
    advance(aws, 60)
    assert kinesis_batches(logs, "reader") == [["one"], ["two"]]


def test_shards_are_read_side_by_side_each_in_order(aws, clients) -> None:
    lam, kinesis, logs = clients["lambda"], clients["kinesis"], clients["logs"]
    kinesis_worker(clients)
    stream_arn = make_stream(kinesis, shards=2)
    uuid = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="reader", Enabled=False,
                                           StartingPosition="TRIM_HORIZON", BatchSize=1)["UUID"]
    keys = [f"key-{n}" for n in range(12)]
    for n in range(3):
        for key in keys:
            put(kinesis, f"{key}/{n}", key=key)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_until(lambda: len(events_seen(logs, "reader")) == 36, 120, what="36 records")
    records = [event["Records"][0] for event in events_seen(logs, "reader")]
    shards = {record["eventID"].split(":")[0] for record in records}
    assert len(shards) == 2
    for key in keys:  # a partition key lives on one shard, whose order it keeps
        assert [base64.b64decode(r["kinesis"]["data"]).decode() for r in records
                if r["kinesis"]["partitionKey"] == key] == [f"{key}/{n}" for n in range(3)]
