"""The log lines Lambda writes around every invocation, and their way into CloudWatch Logs.

Formats are AWS's, to the tab: ``START``, the function's output, ``END``, ``REPORT``.
Lines reach CloudWatch only if the execution role allows the logs actions, as on AWS:
a function without them runs, but its logs are nowhere, which is worth learning here
rather than on a real account.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass

from moto.logs.models import logs_backends

from ..aws.iam import role_allows
from ..engine.output import LogLine
from ..engine.spec import FunctionSpec

TAIL_BYTES = 4096


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(report: Report) -> str:
    parts = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {report.billed_ms} ms",
        f"Memory Size: {report.memory_mb} MB",
        f"Max Memory Used: {report.max_memory_mb} MB",
    ]
    if report.init_ms is not None:
        parts.append(f"Init Duration: {report.init_ms:.2f} ms")
    return "\t".join(parts) + "\t"


def tail(lines: list[LogLine]) -> str:
    """LogType=Tail: the last 4 KB of the invocation's log, base64-encoded."""
    text = "".join(line.text + "\n" for line in lines).encode()
    return base64.b64encode(text[-TAIL_BYTES:]).decode()


class LogWriter:
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


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_report(line: str) -> dict[str, str]:
    """The fields of a REPORT line: {"Duration": "15.74 ms", "Billed Duration": "16 ms", ...}."""
    fields: dict[str, str] = {}
    for part in line.strip().split("\t"):
        key, _, value = part.partition(": ")
        if key.startswith("REPORT RequestId"):
            fields["RequestId"] = value
        elif value:
            fields[key] = value
    return fields
