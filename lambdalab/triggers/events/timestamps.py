"""The three ways AWS writes a moment in events: S3 and SNS with milliseconds, EventBridge without."""

from __future__ import annotations

from datetime import datetime, timezone


def iso_millis(epoch_s: float) -> str:
    """2020-03-08T00:30:12.456Z (S3 eventTime, SNS Timestamp)."""
    moment = datetime.fromtimestamp(epoch_s, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(epoch_s: float) -> str:
    """2020-02-02T12:34:56Z (EventBridge time)."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
