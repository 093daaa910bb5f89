"""What a finished invocation leaves: one record, read by the meter, the metrics and the console.

The engine makes it; everything that wants to know about invocations (the bill, CloudWatch
metrics, the environments view, checks) is handed it, so none of them needs the engine.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class InvocationRecord:
    """One finished invocation, as the meter, the metrics and the console views see it."""

    request_id: str
    function_name: str
    function_arn: str
    version: str
    invocation_type: str
    started_at: float
    duration_ms: float
    billed_ms: int
    init_ms: float | None
    memory_mb: int
    max_memory_mb: int
    architecture: str
    ephemeral_storage_mb: int
    runtime: str
    environment_id: str
    error_type: str | None
    timed_out: bool
    logged: bool


class InvocationHistory:
    """The session's invocations, newest last (GET /lambdalab/invocations): an engine listener."""

    def __init__(self, keep: int = 100_000) -> None:
        self._records: collections.deque[InvocationRecord] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, record: InvocationRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[InvocationRecord]:
        with self._lock:
            return list(self._records)

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.records()]

    def export_state(self) -> list[InvocationRecord]:
        """The history, for the saved account (the cloud's persistence)."""
        return self.records()

    def restore_state(self, saved: list[InvocationRecord]) -> None:
        with self._lock:
            self._records.extend(saved)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
