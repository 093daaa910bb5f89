"""S3 event notifications as Lambda receives them (event structure version 2.1).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from . import identities
from .timestamps import iso_millis

_sequence = itertools.count()
_sequence_lock = threading.Lock()


@dataclass(frozen=True)
class ObjectEvent:
    """One thing that happened to one object: "s3:ObjectCreated:Put" on key k of bucket b."""

    event_name: str  # with the "s3:" prefix, as notification configurations name it
    bucket: Any  # moto's FakeBucket
    key: Any  # moto's FakeKey, or FakeDeleteMarker for ObjectRemoved:DeleteMarkerCreated
    at: float  # the cloud clock's time
    sequencer: str


def sequencer(at: float) -> str:
    """Hex, growing with every event of this cloud: AWS's way of ordering events of one key."""
    with _sequence_lock:
        number = next(_sequence)
    return f"{int(at * 1000):012X}{number % 16 ** 6:06X}"


def encoded_key(name: str) -> str:
    """Keys arrive URL-encoded as a form would encode them ("march sales.csv" -> "march+sales.csv"),
    with "/" kept."""
    return quote_plus(name, safe="/*").replace("~", "%7E")


def notification_event(event: ObjectEvent, configuration_id: str) -> dict[str, Any]:
    return {"Records": [record(event, configuration_id)]}


def record(event: ObjectEvent, configuration_id: str) -> dict[str, Any]:
    bucket = event.bucket
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region_name,
        "eventTime": iso_millis(event.at),
        "eventName": event.event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": identities.requester_principal(bucket.account_id)},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": identities.request_id(), "x-amz-id-2": identities.host_id()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": identities.owner_principal(bucket.account_id)},
                "arn": f"arn:aws:s3:::{bucket.name}",
            },
            "object": object_part(event),
        },
    }


def object_part(event: ObjectEvent) -> dict[str, Any]:
    """Created objects carry size and eTag; removed ones only their key (and version) and sequencer."""
    key = event.key
    part: dict[str, Any] = {"key": encoded_key(key.name)}
    if event.event_name.startswith("s3:ObjectCreated:"):
        part["size"] = int(key.size)
        part["eTag"] = str(key.etag).strip('"')
    if event.bucket.versioning_status in ("Enabled", "Suspended") and getattr(key, "version_id", None):
        part["versionId"] = str(key.version_id)
    part["sequencer"] = event.sequencer
    return part
