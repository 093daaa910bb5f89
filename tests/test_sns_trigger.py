"""SNS subscriptions with Protocol "lambda", end to end through boto3: the function's policy, the
SNS event (shape, subject, attributes), filter policies, message structures, one delivery per
message, and failures retried by the async queue."""

from __future__ import annotations

import json

import pytest

from event_shapes import assert_same_shape
from push_support import allow, create_recorder, received, wait_for_events
from support import advance, flow, invocations, use_virtual_clock, wait_until


@pytest.fixture
def sns(aws):
    return aws.client("sns")


@pytest.fixture
def topic(sns) -> str:
    return sns.create_topic(Name="alerts")["TopicArn"]


@pytest.fixture
def recorder(lam, role) -> str:
    return create_recorder(lam, "recorder", role)


def _subscribe(sns, topic: str, function_arn: str, **attributes: str) -> str:
    return sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn,
                         Attributes=attributes)["SubscriptionArn"]


def test_without_permission_nothing_is_delivered(aws, lam, sns, topic, recorder) -> None:
    _subscribe(sns, topic, recorder)  # SNS accepts the subscription: it asks the policy at delivery
    sns.publish(TopicArn=topic, Message="nobody hears this")
    dropped = wait_until(lambda: flow(aws, "dropped"), what="the dropped message in the flow")
    assert (dropped[0]["source"], dropped[0]["target"], dropped[0]["ok"]) == ("sns:alerts", "lambda:recorder", False)
    assert "sns.amazonaws.com" in dropped[0]["detail"]
    assert invocations(aws, "recorder") == []


def test_a_permission_for_another_topic_does_not_count(aws, lam, sns, topic, recorder) -> None:
    other = sns.create_topic(Name="other")["TopicArn"]
    allow(lam, "recorder", "sns.amazonaws.com", other)
    _subscribe(sns, topic, recorder)
    sns.publish(TopicArn=topic, Message="still nobody")
    wait_until(lambda: flow(aws, "dropped"), what="the dropped message in the flow")
    assert invocations(aws, "recorder") == []


def test_a_published_message_becomes_one_sns_event(aws, lam, sns, topic, recorder) -> None:
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    subscription = _subscribe(sns, topic, recorder)
    message_id = sns.publish(TopicArn=topic, Subject="Disk almost full", Message="95% used on /data",
                             MessageAttributes={"Test": {"DataType": "String", "StringValue": "high"},
                                                "TestBinary": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
                             )["MessageId"]
    event = wait_for_events(aws, "recorder", 1)[0]
    assert_same_shape(event, "sam-templates/sns-Sns.json")  # its attributes are named Test and TestBinary
    attributes = "$.Records[0].Sns.MessageAttributes."
    assert_same_shape(event, "aws-docs/sns-notification.json",
                      ignore={attributes + name for name in ("Test", "TestBinary", "string-att", "binary-att")})
    record = event["Records"][0]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns", "1.0", subscription)
    sns_part = record["Sns"]
    assert (sns_part["Type"], sns_part["MessageId"], sns_part["TopicArn"]) == ("Notification", message_id, topic)
    assert (sns_part["Subject"], sns_part["Message"]) == ("Disk almost full", "95% used on /data")
    assert sns_part["MessageAttributes"] == {"Test": {"Type": "String", "Value": "high"},
                                             "TestBinary": {"Type": "Binary", "Value": "AAE="}}
    assert sns_part["Timestamp"].endswith("Z") and len(sns_part["Timestamp"]) == len("2020-02-02T12:34:56.000Z")
    assert sns_part["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(invocations(aws, "recorder")) == 1
    assert [(s["source"], s["target"]) for s in flow(aws, "event")] == [("sns:alerts", "lambda:recorder")]


def test_a_message_without_subject_has_a_null_subject(aws, lam, sns, topic, recorder) -> None:
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    _subscribe(sns, topic, recorder)
    sns.publish(TopicArn=topic, Message="no subject")
    sns_part = wait_for_events(aws, "recorder", 1)[0]["Records"][0]["Sns"]
    assert sns_part["Subject"] is None
    assert sns_part["MessageAttributes"] == {}


def test_filter_policies_choose_the_messages(aws, lam, sns, topic, recorder) -> None:
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    _subscribe(sns, topic, recorder, FilterPolicy=json.dumps({"colour": ["red"]}))
    for colour in ("blue", "red", "green"):
        sns.publish(TopicArn=topic, Message=f"a {colour} one",
                    MessageAttributes={"colour": {"DataType": "String", "StringValue": colour}})
    assert wait_for_events(aws, "recorder", 1)[0]["Records"][0]["Sns"]["Message"] == "a red one"
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(flow(aws, "event")) == 1


def test_a_message_structure_gives_lambda_its_own_message(aws, lam, sns, topic, recorder) -> None:
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    _subscribe(sns, topic, recorder)
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "lambda": "for functions"}))
    assert wait_for_events(aws, "recorder", 1)[0]["Records"][0]["Sns"]["Message"] == "for functions"


def test_s3_to_sns_to_lambda(aws, lam, sns, topic, recorder) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="fan-out")
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    _subscribe(sns, topic, recorder)
    s3.put_bucket_notification_configuration(Bucket="fan-out", NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="fan-out", Key="a.txt", Body=b"1")

    def object_keys() -> list[str]:
        # S3 first sends the topic an s3:TestEvent (no Records), as AWS does: it may arrive first or alone.
        messages = [json.loads(e["Records"][0]["Sns"]["Message"]) for e in received(aws, "recorder")]
        return [m["Records"][0]["s3"]["object"]["key"] for m in messages if m.get("Records")]

    assert wait_until(object_keys, timeout_s=60, what="the object's event through SNS") == ["a.txt"]


def test_a_failing_function_is_retried_twice_by_the_async_queue(aws, lam, sns, topic, recorder) -> None:
    allow(lam, "recorder", "sns.amazonaws.com", topic)
    _subscribe(sns, topic, recorder)
    use_virtual_clock(aws)
    sns.publish(TopicArn=topic, Message="please fail")
    advance(aws, 1)
    assert len(invocations(aws, "recorder")) == 1
    advance(aws, 60)
    advance(aws, 120)
    advance(aws, 3600)
    assert len(invocations(aws, "recorder")) == 3
    assert len({e["Records"][0]["Sns"]["MessageId"] for e in received(aws, "recorder")}) == 1
