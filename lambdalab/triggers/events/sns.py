"""SNS notifications as a Lambda subscriber receives them.

https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
"""

from __future__ import annotations

import uuid
from typing import Any

from . import identities
from .timestamps import iso_millis


def notification_event(subscription: Any, message_id: str, message: str, subject: str | None,
                       message_attributes: dict[str, Any] | None, at: float) -> dict[str, Any]:
    """subscription is moto's Subscription; message_attributes as moto keeps them ({name: {Type, Value}})."""
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic_arn,
            "Subject": subject,  # null when the publisher gave none, as on AWS
            "Message": message,
            "Timestamp": iso_millis(at),
            "SignatureVersion": "1",
            "Signature": identities.signature(),
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                              f"{uuid.uuid4().hex}.pem",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                              f"{subscription.arn}",
            "MessageAttributes": {name: {"Type": value["Type"], "Value": value["Value"]}
                                  for name, value in (message_attributes or {}).items()},
        },
    }]}
