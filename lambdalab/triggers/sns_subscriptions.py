"""SNS subscriptions with Protocol "lambda": each published message, as an SNS event, to the
function's async queue.

SNS invokes the function itself, so the function's resource-based policy must let
sns.amazonaws.com invoke it for this topic; without that the message is not delivered (SNS
treats it as a client-side error and does not retry) and the event flow says so. The
subscription's filter policy (moto evaluates it) and MessageStructure "json" (the "lambda" or
"default" message) apply as on AWS.

moto delivers to Lambda inline, synchronously inside Publish; that path is replaced here so each
message reaches the function once. Other protocols stay moto's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from moto.sns.models import Subscription

from ..aws.moto_glue import wrap
from . import push
from .events import sns as sns_events
from .services import CloudServices

PRINCIPAL = "sns.amazonaws.com"


def install(cloud: CloudServices) -> None:
    wrap(Subscription, "publish", partial(_publish, cloud))


def _publish(cloud: CloudServices, original: Any, subscription: Any, message: str, message_id: str,
             subject: str | None = None, message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
             deduplication_id: str | None = None, message_structure: str | None = None) -> None:
    if subscription.protocol != "lambda":
        return original(subscription, message, message_id, subject=subject, message_attributes=message_attributes,
                        group_id=group_id, deduplication_id=deduplication_id, message_structure=message_structure)
    push.guarded(f"SNS delivery to {subscription.endpoint}", _deliver, cloud, subscription, message, message_id,
                 subject, message_attributes, message_structure)
    return None


def _deliver(cloud: CloudServices, subscription: Any, message: str, message_id: str, subject: str | None,
             message_attributes: dict[str, Any] | None, message_structure: str | None) -> None:
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return  # filtered out by the subscription: not an event for this function
    if message_structure == "json":
        message = subscription._parse_message_structure(message, "lambda")
    topic = subscription.topic
    source = push.PushSource(PRINCIPAL, topic.arn, topic.account_id, f"sns:{topic.name}")
    event = sns_events.notification_event(subscription, message_id, message, subject, message_attributes,
                                          cloud.clock.now())
    push.deliver(cloud, source, subscription.endpoint, event, subject or message[:60])
