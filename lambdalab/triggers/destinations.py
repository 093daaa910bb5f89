"""Where an asynchronous invocation's outcome goes: a destination, or the dead-letter queue.

Lambda writes there *with the function's execution role*: the role must allow
sqs:SendMessage, sns:Publish, lambda:InvokeFunction, events:PutEvents (or s3:PutObject for an
S3 on-failure destination) on the target. Lambda checks that when the configuration is saved
(see async_config) and the call itself needs it again at delivery time: a role changed since
then makes the delivery fail, as on AWS, where it shows only as a DeadLetterErrors or
DestinationDeliveryFailures metric. Here it also shows in the event flow, with the reason.

The invocation record is AWS's (version "1.0"); a dead letter is the event itself, with the
request id, the error code and the error message as message attributes.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..aws import iam
from ..aws.moto_glue import EventQueue, SpecLoader
from ..core.arns import Arn, FunctionArn

log = logging.getLogger(__name__)

# The IAM action a delivery needs, and the API call AWS's error messages name, per service.
ACTIONS = {
    "sqs": ("sqs:SendMessage", "SendMessage"),
    "sns": ("sns:Publish", "Publish"),
    "lambda": ("lambda:InvokeFunction", "InvokeFunction"),
    "events": ("events:PutEvents", "PutEvents"),
    "s3": ("s3:PutObject", "PutObject"),
}
SUCCESS, RETRIES_EXHAUSTED, EVENT_AGE_EXCEEDED = "Success", "RetriesExhausted", "EventAgeExceeded"
DETAIL_TYPES = {True: "Lambda Function Invocation Result - Success",
                False: "Lambda Function Invocation Result - Failure"}
ERROR_MESSAGE_LIMIT = 1024  # a dead letter carries "the first 1 KB of the error message"


@dataclass(frozen=True)
class Sender:
    """The function whose outcome is delivered: its role signs the delivery."""

    account_id: str
    region: str
    function_name: str
    function_arn: str  # qualified, as the invocation record names it
    role_arn: str

    @property
    def flow_name(self) -> str:
        return f"lambda:{self.function_name}"


@dataclass(frozen=True)
class Attempt:
    """What one attempt that ran answered (a throttled attempt never ran)."""

    body: bytes
    function_error: str | None
    executed_version: str


@dataclass(frozen=True)
class SendOutcome:
    """Whether a record or a dead letter reached its target, and if not, why."""

    delivered: bool
    problem: str = ""


def flow_name(arn: str) -> str:
    """How the event flow names a target: "sqs:failed-orders", "lambda:audit", "events:default"."""
    parsed = Arn.parse(arn)
    return parsed.flow_name if parsed else arn


def role_may_deliver(sender_account: str, role_arn: str, target_arn: str) -> bool:
    parsed = Arn.parse(target_arn)
    if parsed is None or parsed.service not in ACTIONS:
        return False
    action, _ = ACTIONS[parsed.service]
    resource = f"arn:aws:s3:::{parsed.name}/*" if parsed.service == "s3" else target_arn
    return iam.role_allows(sender_account, role_arn, action, resource)


def missing_permission(role_arn: str, target_arn: str) -> str:
    parsed = Arn.parse(target_arn)
    action = ACTIONS.get(parsed.service if parsed else "", ("", "SendMessage"))[0]
    return f"the execution role {role_arn} is not allowed {action} on {target_arn}"


# --- what is sent ----------------------------------------------------------------------------

def timestamp(epoch: float) -> str:
    """AWS's record timestamp: ISO 8601 in UTC with milliseconds, e.g. 2019-11-14T18:16:05.568Z."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json_or_text(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def invocation_record(*, sender: Sender, request_id: str, condition: str, invoke_count: int, payload: bytes,
                      last: Attempt | None, at: float) -> dict:
    """AWS's invocation record. Without an attempt that ran (an event that only ever met throttles
    before it grew too old) there is no response to describe, so responseContext is left out."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp(at),
        "requestContext": {"requestId": request_id, "functionArn": sender.function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "requestPayload": _json_or_text(payload or b"{}"),
    }
    if last is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": last.executed_version}
        if last.function_error:
            context["functionError"] = last.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(last.body)
    return record


def error_code_and_message(last: Attempt | None, throttle_message: str | None) -> tuple[str, str]:
    """A dead letter's ErrorCode (the 3-digit HTTP status) and ErrorMessage (first 1 KB of the error)."""
    if last is not None and last.function_error:
        answer = _json_or_text(last.body)
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        return "200", (str(message or last.function_error))[:ERROR_MESSAGE_LIMIT]
    return "429", (throttle_message or "Rate Exceeded.")[:ERROR_MESSAGE_LIMIT]


# --- sending ---------------------------------------------------------------------------------

def send_record(events: EventQueue, sender: Sender, target_arn: str, record: dict, *, success: bool,
                now: float) -> SendOutcome:
    """Deliver an invocation record to an OnSuccess or OnFailure destination."""
    parsed = Arn.parse(target_arn)
    if parsed is None or parsed.service not in ACTIONS:
        return SendOutcome(False, f"{target_arn} is not a destination Lambda can deliver to")
    if not role_may_deliver(sender.account_id, sender.role_arn, target_arn):
        return SendOutcome(False, missing_permission(sender.role_arn, target_arn))
    body = json.dumps(record)
    sends = {
        "sqs": lambda: _send_sqs(parsed, body, {}),
        "sns": lambda: _publish_sns(parsed, target_arn, body, {}),
        "lambda": lambda: _invoke_function(events, sender, target_arn, body),
        "events": lambda: _put_event(sender, parsed, target_arn, body, success),
        "s3": lambda: _put_object(now, sender, parsed, body),
    }
    return _guarded(target_arn, sends[parsed.service])


def send_dead_letter(sender: Sender, target_arn: str, payload: bytes, *, request_id: str, error_code: str,
                     error_message: str) -> SendOutcome:
    """The event as it was sent, to the DeadLetterConfig's queue or topic, with AWS's three attributes."""
    parsed = Arn.parse(target_arn)
    if parsed is None or parsed.service not in ("sqs", "sns"):
        return SendOutcome(False, f"{target_arn} is not an SQS queue or SNS topic")
    if not role_may_deliver(sender.account_id, sender.role_arn, target_arn):
        return SendOutcome(False, missing_permission(sender.role_arn, target_arn))
    attributes = {"RequestID": ("String", request_id), "ErrorCode": ("Number", error_code),
                  "ErrorMessage": ("String", error_message or "Unhandled")}
    body = (payload or b"{}").decode("utf-8", "replace")
    if parsed.service == "sqs":
        return _guarded(target_arn, lambda: _send_sqs(parsed, body, attributes))
    return _guarded(target_arn, lambda: _publish_sns(parsed, target_arn, body, attributes))


def _guarded(target_arn: str, send: Any) -> SendOutcome:
    """A delivery that fails (no such queue, a FIFO target) is reported, never raised: the event
    is done with whatever happens to its record."""
    try:
        return send()
    except Exception as error:  # noqa: BLE001 - any failure of the target service is a failed delivery
        problem = getattr(error, "message", None) or str(error) or type(error).__name__
        log.warning("lambdalab: delivery to %s failed: %s", target_arn, problem)
        return SendOutcome(False, f"{type(error).__name__}: {problem}")


def _send_sqs(queue: Arn, body: str, attributes: dict[str, tuple[str, str]]) -> SendOutcome:
    from moto.sqs.models import sqs_backends

    if queue.name.endswith(".fifo"):
        return SendOutcome(False, "FIFO queues are not supported destinations")
    sqs_backends[queue.account_id][queue.region].send_message(
        queue.name, body,
        message_attributes={name: {"DataType": kind, "StringValue": value} for name, (kind, value) in attributes.items()})
    return SendOutcome(True)


def _publish_sns(topic: Arn, topic_arn: str, body: str, attributes: dict[str, tuple[str, str]]) -> SendOutcome:
    from moto.sns.models import sns_backends

    if topic.name.endswith(".fifo"):
        return SendOutcome(False, "FIFO topics are not supported destinations")
    backend = sns_backends[topic.account_id][topic.region]
    backend.get_topic(topic_arn)  # raises NotFound for a topic that does not exist
    backend.publish(body, arn=topic_arn,
                    message_attributes={name: {"Type": kind, "Value": value} for name, (kind, value) in attributes.items()})
    return SendOutcome(True)


def _invoke_function(events: EventQueue, sender: Sender, target_arn: str, body: str) -> SendOutcome:
    """A Lambda destination is an asynchronous invoke of that function, with its own queue and retries."""
    function = FunctionArn.parse(target_arn)
    if function is None:
        return SendOutcome(False, f"{target_arn} is not a function ARN")
    loader = SpecLoader.for_arn(function)
    loader.backend.get_function(function.name, function.qualifier)  # raises for a function that does not exist
    events.submit(loader, body.encode(), source=sender.flow_name)
    return SendOutcome(True)


def _put_event(sender: Sender, bus: Arn, arn: str, body: str, success: bool) -> SendOutcome:
    """PutEvents on the bus: source "lambda", the record as the detail."""
    from moto.events.models import events_backends

    entries = events_backends[bus.account_id][bus.region].put_events([{
        "Source": "lambda", "DetailType": DETAIL_TYPES[success], "Detail": body, "EventBusName": arn,
        "Resources": [arn, sender.function_arn],
    }])
    failed = [entry for entry in entries if entry.get("ErrorCode")]
    if failed:
        return SendOutcome(False, f"{failed[0]['ErrorCode']}: {failed[0].get('ErrorMessage', '')}")
    return SendOutcome(True)


def _put_object(now: float, sender: Sender, bucket: Arn, body: str) -> SendOutcome:
    """An S3 on-failure destination: the record as one JSON object. The key layout is the one
    remembered from AWS's guide, aws/lambda/async/<function>/YYYY/MM/DD/<time>-<id> (unconfirmed)."""
    from moto.s3.models import s3_backends

    moment = datetime.fromtimestamp(now, timezone.utc)
    key = (f"aws/lambda/async/{sender.function_name}/{moment:%Y/%m/%d}/"
           f"{moment:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")
    s3_backends[bucket.account_id or sender.account_id]["aws"].put_object(bucket.name, key, body.encode())
    return SendOutcome(True)
