"""S3 bucket notifications to Lambda, end to end through boto3: the permission S3 checks when the
notification is configured and again at each event, the events (filters, names, shapes), one
delivery each, and failures retried by the async queue."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from event_shapes import assert_same_shape
from push_support import allow, create_recorder, received, wait_for_events
from support import advance, flow, invocations, use_virtual_clock, wait_until

BUCKET = "uploads"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
# AWS's docs sample spells responseElements' keys in camel case and has versionId "" for an unversioned
# bucket; S3 itself sends "x-amz-request-id"/"x-amz-id-2" (as SAM's samples do) and no versionId.
DOCS_SAMPLE_DIFFERENCES = {"$.Records[0].responseElements.xAmzId2", "$.Records[0].responseElements.xAmzRequestId",
                           "$.Records[0].responseElements.x-amz-request-id", "$.Records[0].responseElements.x-amz-id-2",
                           "$.Records[0].s3.object.versionId"}


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def recorder(lam, role, s3) -> str:
    return create_recorder(lam, "recorder", role)


def _configuration(function_arn: str, events: list[str], prefix: str | None = None, suffix: str | None = None,
                   **extra: object) -> dict:
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", prefix), ("suffix", suffix)) if value]
    entry = {"Id": "to-recorder", "LambdaFunctionArn": function_arn, "Events": events, **extra}
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    return {"LambdaFunctionConfigurations": [entry]}


def _notify(aws, lam, s3, function_arn: str, events: list[str], **filters: str) -> None:
    allow(lam, function_arn.rsplit(":", 1)[-1], "s3.amazonaws.com", BUCKET_ARN, account=aws.state["account_id"])
    s3.put_bucket_notification_configuration(Bucket=BUCKET,
                                             NotificationConfiguration=_configuration(function_arn, events, **filters))


def test_configuring_without_permission_is_refused(aws, lam, s3, recorder) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=_configuration(recorder, ["s3:ObjectCreated:*"]))
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidArgument",
                                                 "Unable to validate the following destination configurations")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=BUCKET)


def test_a_permission_for_another_bucket_or_account_does_not_count(aws, lam, s3, recorder) -> None:
    allow(lam, "recorder", "s3.amazonaws.com", "arn:aws:s3:::another-bucket", sid="other-bucket")
    allow(lam, "recorder", "s3.amazonaws.com", BUCKET_ARN, sid="other-account", account="210987654321")
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=_configuration(recorder, ["s3:ObjectCreated:*"]))
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"


def test_a_missing_function_is_refused(aws, lam, s3) -> None:
    missing = f"arn:aws:lambda:us-east-1:{aws.state['account_id']}:function:nobody"
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=_configuration(missing, ["s3:ObjectCreated:*"]))
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"


def test_a_matching_upload_becomes_one_event_of_aws_shape(aws, lam, s3, recorder) -> None:
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*"], prefix="incoming/", suffix=".csv")
    put = s3.put_object(Bucket=BUCKET, Key="incoming/march sales.csv", Body=b"item,amount\ntea,3.50\n")
    s3.put_object(Bucket=BUCKET, Key="notes/readme.csv", Body=b"wrong prefix")
    s3.put_object(Bucket=BUCKET, Key="incoming/readme.txt", Body=b"wrong suffix")
    event = wait_for_events(aws, "recorder", 1)[0]
    assert_same_shape(event, "sam-templates/s3-S3Put.json")
    assert_same_shape(event, "aws-docs/s3-notification.json", ignore=DOCS_SAMPLE_DIFFERENCES)
    record = event["Records"][0]
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == ("2.1", "aws:s3",
                                                                                    "ObjectCreated:Put")
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["configurationId"] == "to-recorder"
    assert record["s3"]["bucket"] == {"name": BUCKET, "arn": BUCKET_ARN,
                                      "ownerIdentity": record["s3"]["bucket"]["ownerIdentity"]}
    obj = record["s3"]["object"]
    assert obj["key"] == "incoming/march+sales.csv"  # URL-encoded, as S3 sends keys
    assert obj["size"] == len(b"item,amount\ntea,3.50\n")
    assert obj["eTag"] == put["ETag"].strip('"')
    assert "versionId" not in obj
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == len("2020-03-08T00:30:12.456Z")
    wait_until(lambda: len(invocations(aws, "recorder")) == 1, what="one invocation")
    assert len(received(aws, "recorder")) == 1
    event_steps = flow(aws, "event")
    assert [(s["source"], s["target"]) for s in event_steps] == [(f"s3:{BUCKET}", "lambda:recorder")]
    assert "incoming/march sales.csv" in event_steps[0]["detail"]


def test_filter_rule_names_in_either_case(aws, lam, s3, recorder) -> None:
    allow(lam, "recorder", "s3.amazonaws.com", BUCKET_ARN)
    configuration = _configuration(recorder, ["s3:ObjectCreated:Put"])
    configuration["LambdaFunctionConfigurations"][0]["Filter"] = {
        "Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".json"}]}}
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    s3.put_object(Bucket=BUCKET, Key="in/a.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="out/a.json", Body=b"{}")
    assert wait_for_events(aws, "recorder", 1)[0]["Records"][0]["s3"]["object"]["key"] == "in/a.json"
    wait_until(lambda: flow(aws, "event"), what="the event in the flow")
    assert len(flow(aws, "event")) == 1


def test_copy_multipart_and_delete_events(aws, lam, s3, recorder) -> None:
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket=BUCKET, Key="original.txt", Body=b"hello")
    s3.copy_object(Bucket=BUCKET, Key="copy.txt", CopySource={"Bucket": BUCKET, "Key": "original.txt"})
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big.bin")
    part = s3.upload_part(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    s3.complete_multipart_upload(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    s3.delete_object(Bucket=BUCKET, Key="copy.txt")
    events = wait_for_events(aws, "recorder", 4)
    wait_until(lambda: len(invocations(aws, "recorder")) >= 4, what="four invocations")
    names = sorted((e["Records"][0]["eventName"], e["Records"][0]["s3"]["object"]["key"]) for e in received(aws, "recorder"))
    assert names == [("ObjectCreated:CompleteMultipartUpload", "big.bin"), ("ObjectCreated:Copy", "copy.txt"),
                     ("ObjectCreated:Put", "original.txt"), ("ObjectRemoved:Delete", "copy.txt")]
    deleted = next(e for e in events if e["Records"][0]["eventName"] == "ObjectRemoved:Delete")
    assert_same_shape(deleted, "sam-templates/s3-S3Delete.json")
    assert set(deleted["Records"][0]["s3"]["object"]) == {"key", "sequencer"}


def test_versioned_buckets_name_versions_and_delete_markers(aws, lam, s3, recorder) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    version = s3.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"v1")["VersionId"]
    marker = s3.delete_object(Bucket=BUCKET, Key="kept.txt")["VersionId"]
    events = {e["Records"][0]["eventName"]: e["Records"][0]["s3"]["object"] for e in wait_for_events(aws, "recorder", 2)}
    assert events["ObjectCreated:Put"]["versionId"] == version
    assert events["ObjectRemoved:DeleteMarkerCreated"]["versionId"] == marker


def test_each_event_reaches_the_function_once_and_queues_still_get_theirs(aws, lam, s3, recorder) -> None:
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="uploads-seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow(lam, "recorder", "s3.amazonaws.com", BUCKET_ARN)
    configuration = _configuration(recorder, ["s3:ObjectCreated:*"])
    configuration["QueueConfigurations"] = [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    s3.put_object(Bucket=BUCKET, Key="once.txt", Body=b"1")
    wait_for_events(aws, "recorder", 1)
    messages = wait_until(lambda: sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"),
                          what="the queue's notification")
    bodies = [json.loads(m["Body"]) for m in messages]
    assert any(b.get("Records", [{}])[0].get("s3", {}).get("object", {}).get("key") == "once.txt" for b in bodies)
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(invocations(aws, "recorder")) == 1
    assert len(received(aws, "recorder")) == 1


def test_a_permission_removed_later_drops_the_events(aws, lam, s3, recorder) -> None:
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*"])
    lam.remove_permission(FunctionName="recorder", StatementId="push")
    s3.put_object(Bucket=BUCKET, Key="unseen.txt", Body=b"1")
    dropped = wait_until(lambda: flow(aws, "dropped"), what="the dropped event in the flow")
    assert (dropped[0]["source"], dropped[0]["target"], dropped[0]["ok"]) == (f"s3:{BUCKET}", "lambda:recorder", False)
    assert "s3.amazonaws.com" in dropped[0]["detail"]
    assert invocations(aws, "recorder") == []
    assert flow(aws, "event") == []


def test_a_deleted_function_gets_no_events(aws, lam, s3, recorder) -> None:
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*"])
    lam.delete_function(FunctionName="recorder")
    s3.put_object(Bucket=BUCKET, Key="orphan.txt", Body=b"1")  # S3 keeps the configuration: the write succeeds
    dropped = wait_until(lambda: flow(aws, "dropped"), what="the dropped event in the flow")
    assert dropped[0]["detail"] == f"Function not found: {recorder}"


def test_a_failing_function_is_retried_twice_by_the_async_queue(aws, lam, s3, recorder) -> None:
    _notify(aws, lam, s3, recorder, ["s3:ObjectCreated:*"])
    use_virtual_clock(aws, start=1_900_000_000.0)
    s3.put_object(Bucket=BUCKET, Key="please-fail.txt", Body=b"the key asks the recorder to fail")
    advance(aws, 1)
    assert len(invocations(aws, "recorder")) == 1
    advance(aws, 60)
    assert len(invocations(aws, "recorder")) == 2
    advance(aws, 120)
    assert len(invocations(aws, "recorder")) == 3
    advance(aws, 3600)
    assert len(invocations(aws, "recorder")) == 3  # two retries, then no more
    events = received(aws, "recorder")
    assert len({e["Records"][0]["responseElements"]["x-amz-request-id"] for e in events}) == 1  # the same event
    assert events[0]["Records"][0]["eventTime"] == "2030-03-17T17:46:40.000Z"  # the clock's time at the upload
    kinds = [s["kind"] for s in flow(aws) if s["target"] == "lambda:recorder"]
    assert kinds[:4] == ["event", "invoke", "retry", "retry"]
