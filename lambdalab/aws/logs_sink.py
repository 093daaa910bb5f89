"""The engine's log lines into CloudWatch Logs in moto, with the permissions of the function's role.

Lines reach CloudWatch only if the execution role allows the logs actions, as on AWS: a function
without them runs, but its logs are nowhere, which is worth learning here rather than on a real
account.
"""

from __future__ import annotations

import threading

from moto.logs.models import logs_backends

from ..engine.spec import FunctionSpec
from ..records.logs import LogLine
from .iam import role_allows


class CloudWatchLogsSink:
    """Writes lines to CloudWatch Logs in moto, with the permissions of the function's role."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, spec: FunctionSpec, stream: str, lines: list[LogLine]) -> bool:
        if not lines:
            return True
        account, region = spec.account_id, spec.region
        group_arn = f"arn:aws:logs:{region}:{account}:log-group:{spec.log_group}"
        stream_arn = f"{group_arn}:log-stream:{stream}"
        backend = logs_backends[account][region]
        with self._lock:
            if spec.log_group not in backend.groups:
                if not role_allows(account, spec.role_arn, "logs:CreateLogGroup", f"{group_arn}:*"):
                    return False
                backend.ensure_log_group(spec.log_group)
            group = backend.groups[spec.log_group]
            if stream not in group.streams:
                if not role_allows(account, spec.role_arn, "logs:CreateLogStream", stream_arn):
                    return False
                backend.create_log_stream(spec.log_group, stream)
            if not role_allows(account, spec.role_arn, "logs:PutLogEvents", stream_arn):
                return False
            events = [{"timestamp": line.timestamp_ms, "message": line.text} for line in lines]
            backend.put_log_events(spec.log_group, stream, events)
        return True
