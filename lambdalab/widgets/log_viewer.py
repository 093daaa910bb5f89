"""The log viewer: a function's CloudWatch log streams, newest first, as the console shows them."""

from __future__ import annotations

import datetime as dt

from ..client.connection import aws_client
from .base import COLOURS, RefreshableView, escape

_MARKERS = {"START": COLOURS["cold"], "END": COLOURS["cold"], "REPORT": COLOURS["warm"],
            "INIT_START": COLOURS["busy"], "[ERROR]": COLOURS["fail"]}


class LogViewer(RefreshableView):
    def __init__(self, function_name: str, streams: int = 3) -> None:
        self.function_name = function_name
        self.streams = streams

    @property
    def group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def read(self) -> list[tuple[str, list[tuple[int, str]]]]:
        """[(stream name, [(timestamp ms, message)])], newest stream first; [] if there is no log group."""
        logs = aws_client("logs")
        try:
            described = logs.describe_log_streams(logGroupName=self.group, orderBy="LastEventTime", descending=True)
        except logs.exceptions.ResourceNotFoundException:
            return []
        streams = []
        for stream in described["logStreams"][: self.streams]:
            events = logs.get_log_events(logGroupName=self.group, logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
            streams.append((stream["logStreamName"], [(e["timestamp"], e["message"]) for e in events]))
        return streams

    def text(self) -> str:
        streams = self.read()
        if not streams:
            return (f"No log group {self.group}: the function has not run yet, or its execution role may not "
                    "write logs (it needs logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents).")
        lines = [f"Log group {self.group}"]
        for name, events in streams:
            lines.append(f"-- stream {name}")
            lines.extend(f"{_clock(ts)}  {message}" for ts, message in events)
        return "\n".join(lines)

    def _html(self) -> str:
        streams = self.read()
        if not streams:
            return f"<pre>{escape(self.text())}</pre>"
        parts = [f"<div><b>{escape(self.group)}</b></div>"]
        for name, events in streams:
            rows = "".join(f"<div><span style='color:{COLOURS['muted']}'>{_clock(ts)}</span> "
                           f"{_coloured(message)}</div>" for ts, message in events)
            parts.append(f"<details open><summary><code>{escape(name)}</code></summary>"
                         f"<div style='font-family:monospace;white-space:pre-wrap;font-size:12px'>{rows}</div></details>")
        return "".join(parts)


def _clock(timestamp_ms: int) -> str:
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def _coloured(message: str) -> str:
    for marker, colour in _MARKERS.items():
        if message.startswith(marker):
            return f"<span style='color:{colour};font-weight:600'>{escape(message)}</span>"
    return escape(message)
