"""S3 bucket notifications to Lambda functions, as AWS sends them.

- PutBucketNotificationConfiguration checks, as AWS does, that S3 may invoke each function
  (its resource-based policy names s3.amazonaws.com for this bucket and account): otherwise
  InvalidArgument "Unable to validate the following destination configurations".
- Each object event (created by Put, Post, Copy or CompleteMultipartUpload; removed by Delete or
  a delete marker) that matches a configuration's events and prefix/suffix filter becomes an S3
  event, handed to the function's async queue. The policy is asked again at that moment: a
  permission removed since means the event is dropped (and the event flow says so).

moto fans its notifications out inline (moto/s3/notifications.py); its Lambda path is switched
off here so each event reaches a function once, while its SQS, SNS and EventBridge paths stay.
"""

from __future__ import annotations

import re
import threading
from functools import partial
from typing import Any

from moto.s3 import models, notifications
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response

from ..aws.moto_glue import find_function, wrap
from ..core.arns import FunctionArn
from . import permissions, push
from .events import s3 as s3_events
from .services import CloudServices

PRINCIPAL = "s3.amazonaws.com"
COMPLETE_MULTIPART = "s3:ObjectCreated:CompleteMultipartUpload"
DELETE_MARKER_CREATED = "s3:ObjectRemoved:DeleteMarkerCreated"

_completing = threading.local()  # set while moto completes a multipart upload (it also "puts" the object)


def install(cloud: CloudServices) -> None:
    notifications._invoke_awslambda = _not_inline  # moto's inline Lambda path: replaced by _notify_functions
    wrap(notifications, "send_event", partial(_send_event, cloud))
    wrap(models.S3Backend, "put_bucket_notification_configuration", _validated_configuration)
    wrap(models.S3Backend, "complete_multipart_upload", _completing_upload)
    wrap(models.S3Backend, "_set_delete_marker", partial(_delete_marker_event, cloud))
    wrap(S3Response, "_notification_config_from_body", _filter_names_in_any_case)


def _send_event(cloud: CloudServices, original: Any, account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    """moto's own fan-out (SQS, SNS, EventBridge), then the functions'. (notifications.send_event is a module
    function: wrap passes its first argument where a method's self would be.)"""
    name = getattr(event_name, "value", event_name)  # moto passes members of a str Enum
    if getattr(_completing, "active", False) and name != COMPLETE_MULTIPART:
        return  # AWS sends only CompleteMultipartUpload for an upload in parts
    original(account_id, event_name, bucket, key)
    push.guarded(f"S3 notification of {bucket.name}", _notify_functions, cloud, name, bucket, key)


def _filter_names_in_any_case(original: Any, response: Any) -> Any:
    """AWS takes "Prefix" as well as "prefix" (and answers with "Prefix"); moto's parser asserts lower case
    and answers 500."""
    if isinstance(response.body, (bytes, str)):
        body = response.body.decode() if isinstance(response.body, bytes) else response.body
        response.body = re.sub(r"<Name>\s*(prefix|suffix)\s*</Name>", lambda m: f"<Name>{m.group(1).lower()}</Name>",
                               body, flags=re.IGNORECASE)
    return original(response)


def _not_inline(*_: Any, **__: Any) -> None:
    """moto would invoke the function synchronously, inside the request that wrote the object."""


# --- configuring --------------------------------------------------------------------------------

def _validated_configuration(original: Any, backend: Any, bucket_name: str, config: dict[str, Any]) -> Any:
    bucket = backend.get_bucket(bucket_name)
    refused = [arn for arn in _function_arns(config) if not _s3_may_invoke(arn, bucket)]
    if refused:
        raise _unable_to_validate(refused)
    return original(backend, bucket_name, config)


def _function_arns(config: dict[str, Any]) -> list[str]:
    entries = (config or {}).get("CloudFunctionConfiguration") or []
    if isinstance(entries, dict):
        entries = [entries]
    return [entry["CloudFunction"] for entry in entries if entry.get("CloudFunction")]


def _s3_may_invoke(function_arn: str, bucket: Any) -> bool:
    ref = FunctionArn.parse(function_arn)
    found = find_function(ref) if ref is not None else None
    if found is None:
        return False
    caller = permissions.Caller(principal=PRINCIPAL, source_arn=f"arn:aws:s3:::{bucket.name}",
                                source_account=bucket.account_id)
    return permissions.allows(found[1], caller, ref.qualifier)


def _unable_to_validate(function_arns: list[str]) -> Exception:
    """AWS's answer. (AWS adds an ArgumentName1/ArgumentValue1 pair per refused destination, "<arn>, null" /
    "Not authorized to invoke function [<arn>]"; moto's XML serializer has no room for them.)"""
    return S3ClientError("InvalidArgument", "Unable to validate the following destination configurations")


# --- object events ------------------------------------------------------------------------------

def _completing_upload(original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    _completing.active = True
    try:
        return original(backend, *args, **kwargs)
    finally:
        _completing.active = False


def _delete_marker_event(cloud: CloudServices, original: Any, backend: Any, bucket_name: str, key_name: str) -> Any:
    """A delete in a versioned bucket leaves a delete marker; moto sends no event for it, AWS does."""
    marker = original(backend, bucket_name, key_name)
    bucket = backend.get_bucket(bucket_name)
    push.guarded(f"S3 notification of {bucket_name}", _notify_functions, cloud, DELETE_MARKER_CREATED, bucket, marker)
    return marker


def _notify_functions(cloud: CloudServices, event_name: str, bucket: Any, key: Any) -> None:
    configuration = bucket.notification_configuration
    if configuration is None or key is None:
        return
    at = cloud.clock.now()
    event = s3_events.ObjectEvent(event_name, bucket, key, at, s3_events.sequencer(at))
    source = push.PushSource(PRINCIPAL, f"arn:aws:s3:::{bucket.name}", bucket.account_id, f"s3:{bucket.name}")
    for notification in configuration.cloud_function:
        if matches(notification, event_name, key.name):
            push.deliver(cloud, source, notification.arn, s3_events.notification_event(event, notification.id),
                         f"{event_name.removeprefix('s3:')} {key.name}")


def matches(notification: Any, event_name: str, key_name: str) -> bool:
    """The configuration wants this event (exactly, or by its "s3:ObjectCreated:*" family) for this key."""
    family = ":".join(event_name.split(":")[:2]) + ":*"
    if event_name not in notification.events and family not in notification.events:
        return False
    rules = ((notification.filters or {}).get("S3Key") or {}).get("FilterRule") or []
    if isinstance(rules, dict):
        rules = [rules]
    for rule in rules:
        name, value = str(rule.get("Name", "")).lower(), str(rule.get("Value", ""))
        if name == "prefix" and not key_name.startswith(value):
            return False
        if name == "suffix" and not key_name.endswith(value):
            return False
    return True
