"""FilterCriteria: which records of a queue or stream reach the function at all.

Lambda matches each record against the mapping's patterns (EventBridge's pattern syntax, via
moto's matcher) before it builds a batch. A JSON message body or Kinesis payload is matched as
JSON; a record that matches no pattern never reaches the function: an SQS message is deleted,
a stream record is skipped, as AWS does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from moto.events.models import EventPattern, EventPatternParser

Matcher = Callable[[dict[str, Any]], bool]
INVALID_PATTERN = "Invalid filter pattern definition."


def check(filter_criteria: dict[str, Any] | None) -> str | None:
    """AWS's message for an invalid FilterCriteria, or None."""
    try:
        compile_matcher(filter_criteria)
    except Exception:
        return INVALID_PATTERN
    return None


def compile_matcher(filter_criteria: dict[str, Any] | None) -> Matcher | None:
    """A record -> bool test, or None when every record passes."""
    filters = (filter_criteria or {}).get("Filters") or []
    if not filters:
        return None
    patterns = []
    for entry in filters:
        raw = entry.get("Pattern") if isinstance(entry, dict) else None
        if not raw or not isinstance(raw, str):
            raise ValueError(INVALID_PATTERN)
        patterns.append(EventPattern(raw, EventPatternParser(raw).parse()))
    return lambda record: any(pattern.matches_event(_as_matched(record)) for pattern in patterns)


def _as_matched(record: dict[str, Any]) -> dict[str, Any]:
    """The record as Lambda matches it: a JSON body or Kinesis payload is matched as an object."""
    if "body" in record:
        return {**record, "body": _json_or_text(record["body"])}
    if "kinesis" in record:
        try:
            data = base64.b64decode(record["kinesis"]["data"]).decode()
        except (ValueError, UnicodeDecodeError):
            return record
        return {**record, "data": _json_or_text(data)}
    return record


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
