"""EventBridge events as a Lambda target receives them, and the scheduled event of a rule.

moto passes events between its rules and targets with "time" as epoch seconds and an extra
"ingestion-time"; its own SQS and log-group targets need them so. A Lambda target receives the
event as AWS sends it: time in ISO 8601 without fractions, no ingestion-time.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from .timestamps import iso_seconds


def scheduled_event(rule: Any, at: float) -> dict[str, Any]:
    """What a schedule rule sends each time it fires, in moto's form (see as_delivered)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": at,
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
        "ingestion-time": at,
    }


def as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event a target receives: AWS's keys in AWS's order, time as EventBridge writes it."""
    return {
        "version": event.get("version", "0"),
        "id": event["id"],
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": event["account"],
        "time": iso_seconds(epoch_of(event.get("time"))),
        "region": event["region"],
        "resources": list(event.get("resources") or []),
        "detail": event.get("detail", {}),
    }


def epoch_of(value: Any) -> float:
    """PutEvents' Time arrives as epoch seconds (boto3) or ISO text; moto's own as epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return float(value)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise ValueError(f"not a time: {value!r}")
