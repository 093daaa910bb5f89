"""Helpers of the poll-trigger tests (SQS, Kinesis, DynamoDB Streams): functions that log the events
they get, reading those events back, and queues. (The event flow and the virtual clock are
support.py's, shared by every test.)"""

from __future__ import annotations

import json

from support import BASIC_EXECUTION, create_function, create_role

SQS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
KINESIS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"
DYNAMODB_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"

# Every test function starts with this: seen(event) writes the event, stamped, to the function's log.
PRELUDE = """
import json, time

def seen(event):
    print("EVENT " + json.dumps({"at": time.time_ns(), "event": event}))
"""
RECORDER = PRELUDE + """
def handler(event, context):
    seen(event)
    return {"records": len(event["Records"])}
"""


def make_function(lam: object, name: str, role: str, body: str = RECORDER, **extra: object) -> dict:
    return create_function(lam, name, body, role, **extra)


def role_with(iam: object, *managed: str, name: str = "poll-role", inline: dict | None = None) -> str:
    return create_role(iam, name=name, managed=(BASIC_EXECUTION, *managed), inline=inline)


def events_seen(logs: object, function_name: str) -> list[dict]:
    """Every event the function logged with seen(), oldest first."""
    group = f"/aws/lambda/{function_name}"
    try:
        found = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    stamped = [json.loads(e["message"].split("EVENT ", 1)[1]) for e in found if "EVENT " in e["message"]]
    return [entry["event"] for entry in sorted(stamped, key=lambda entry: entry["at"])]


def bodies_seen(logs: object, function_name: str) -> list[list[str]]:
    """The message bodies of each SQS batch the function got, batch by batch."""
    return [[record["body"] for record in event["Records"]] for event in events_seen(logs, function_name)]


def queue_counts(sqs: object, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])
