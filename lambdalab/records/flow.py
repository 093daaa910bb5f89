"""The event flow: each hop an event makes, from its source to a function to a destination.

Triggers record a step when an event leaves a source, reaches a function, is retried, or ends
in a destination or a dead-letter queue. The event-flow view draws these; tests and checks
read them to see what happened without sleeping.
"""

from __future__ import annotations

import collections
import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FlowStep:
    """One hop. Endpoints are named "<service>:<name>", e.g. "s3:photos", "lambda:thumbnail", "sqs:dlq"."""

    sequence: int
    at: float  # the cloud clock's time (virtual or real)
    source: str
    target: str
    kind: str  # event, invoke, retry, success, failure, dead-letter, destination, throttle, dropped, batch
    detail: str = ""
    request_id: str | None = None
    ok: bool | None = None


class FlowLog:
    def __init__(self, clock: Any, keep: int = 20_000) -> None:
        self._clock = clock
        self._steps: collections.deque[FlowStep] = collections.deque(maxlen=keep)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, source: str, target: str, kind: str, detail: str = "", *,
               request_id: str | None = None, ok: bool | None = None) -> FlowStep:
        with self._lock:
            step = FlowStep(next(self._sequence), self._clock.now(), source, target, kind, detail, request_id, ok)
            self._steps.append(step)
        return step

    def steps(self, after: int = 0) -> list[FlowStep]:
        """Steps with a sequence number above `after`, oldest first."""
        with self._lock:
            return [step for step in self._steps if step.sequence > after]

    def clear(self) -> None:
        with self._lock:
            self._steps.clear()

    def export_state(self) -> tuple[list[FlowStep], int]:
        """The steps and the next sequence number: kept with the account (cloud/persistence.py)."""
        with self._lock:
            steps = list(self._steps)
        return steps, (steps[-1].sequence + 1 if steps else 1)

    def restore_state(self, saved: tuple[list[FlowStep], int]) -> None:
        steps, next_sequence = saved
        with self._lock:
            self._steps.clear()
            self._steps.extend(steps)
            self._sequence = itertools.count(next_sequence)


def as_json(steps: list[FlowStep]) -> list[dict]:
    return [asdict(step) for step in steps]
