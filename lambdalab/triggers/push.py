"""Handing a push source's event to a function, as S3, SNS and EventBridge do on AWS.

A push source calls Lambda's Invoke API itself (asynchronously), so Lambda asks the function's
resource-based policy at that moment whether this service, for this bucket, topic or rule, may
invoke it. A refusal never reaches the function's async queue: the event is dropped (or, for
EventBridge, sent to the target's dead-letter queue), which is why a trigger without
AddPermission "does nothing". Every hand-over and every refusal is recorded in the event flow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ..aws.moto_glue import SpecLoader, find_function
from ..core.arns import FunctionArn
from . import permissions
from .services import CloudServices

log = logging.getLogger(__name__)

NO_PERMISSIONS = "NO_PERMISSIONS"
NO_RESOURCE = "NO_RESOURCE"


@dataclass(frozen=True)
class PushSource:
    """Who pushes: the service principal the function's policy must name, and which resource of it."""

    principal: str  # "s3.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com"
    source_arn: str  # the bucket, topic or rule
    account_id: str  # the account that owns that resource
    flow_name: str  # how the event flow names it: "s3:photos", "sns:alerts", "events:nightly"


@dataclass(frozen=True)
class Delivery:
    """What became of one event: queued (request_id), or refused with an EventBridge-style error code."""

    request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def queued(self) -> bool:
        return self.request_id is not None


def deliver(cloud: CloudServices, source: PushSource, function_arn: str, event: Any, detail: str = "") -> Delivery:
    """Queue `event` for the function if its policy lets `source` invoke it; record the hop either way."""
    ref = FunctionArn.parse(function_arn)
    found = find_function(ref) if ref is not None else None
    target = ref.flow_name if ref is not None else f"lambda:{function_arn}"
    if found is None:
        message = f"Function not found: {function_arn}"
        cloud.flow.record(source.flow_name, target, "dropped", message, ok=False)
        return Delivery(error_code=NO_RESOURCE, error_message=message)
    backend, function = found
    caller = permissions.Caller(principal=source.principal, source_arn=source.source_arn,
                                source_account=source.account_id)
    if not permissions.allows(function, caller, ref.qualifier):
        message = (f"{source.principal} is not authorized to invoke {function_arn}: the function's resource-based "
                   f"policy has no statement for {source.source_arn} (lambda:AddPermission)")
        cloud.flow.record(source.flow_name, target, "dropped", message, ok=False)
        return Delivery(error_code=NO_PERMISSIONS, error_message=message)
    cloud.flow.record(source.flow_name, target, "event", detail)
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    request_id = cloud.events.submit(SpecLoader(backend, ref.name, ref.qualifier), payload, source=source.flow_name)
    return Delivery(request_id=request_id)


def guarded(what: str, action: Any, *args: Any) -> None:
    """Run a trigger's delivery without letting its failure break the AWS call that caused it
    (a put_object must succeed even when the notification it sets off cannot be delivered)."""
    try:
        action(*args)
    except Exception:  # logged, not raised: on AWS the write has already succeeded
        log.exception("lambdalab: %s failed", what)
