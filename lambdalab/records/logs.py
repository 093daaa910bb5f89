"""The log lines Lambda writes around every invocation, in AWS's formats, to the tab:
``START``, the function's output, ``END``, ``REPORT``.

Pure formats: the engine writes them, the console and the checks parse them, and
:mod:`lambdalab.aws.logs_sink` takes them into CloudWatch Logs.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

TAIL_BYTES = 4096


@dataclass(frozen=True)
class LogLine:
    """One line of a log stream, as CloudWatch Logs keeps it: when, and what."""

    timestamp_ms: int
    text: str


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
