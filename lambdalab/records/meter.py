"""The billing meter: what each invocation puts on the account's bill, stamped with the cloud's clock.

Every finished invocation leaves one entry with the figures AWS bills by: its REPORT line's
Billed Duration (which includes a billed INIT phase), memory, architecture and ephemeral
storage. The meter keeps the session's entries (since the cloud started or was last reset);
:mod:`lambdalab.records.bill` prices them. Stamps come from the cloud's clock, so a bill for a
time range means the same thing in real and in virtual time.

Beyond ``keep`` entries the oldest are folded into one roll-up entry per function, version,
configuration and month: the session's totals stay exact, only old entries lose their own time.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any

from . import pricing
from .invocations import InvocationRecord

KEEP_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class MeterEntry:
    """One invocation (or, with requests > 1, a roll-up of old ones) as the bill sees it."""

    at: float  # the cloud clock's time when the invocation ended (epoch seconds, real or virtual)
    function_name: str
    version: str
    architecture: str
    memory_mb: int
    ephemeral_storage_mb: int
    billed_ms: int  # the REPORT line's Billed Duration (summed for a roll-up)
    duration_ms: float
    init_ms: float  # INIT phases of cold starts (0 when warm), billed or not
    cold_starts: int
    errors: int
    request_id: str | None = None  # None for a roll-up
    requests: int = 1

    @property
    def gb_seconds(self) -> float:
        return pricing.gb_seconds(self.memory_mb, self.billed_ms)

    @property
    def extra_storage_gb_seconds(self) -> float:
        return pricing.extra_storage_gb_seconds(self.ephemeral_storage_mb, self.billed_ms)

    @property
    def month(self) -> str:
        """The calendar month (UTC) the entry is billed in: the free tier is monthly."""
        return datetime.fromtimestamp(self.at, timezone.utc).strftime("%Y-%m")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "gb_seconds": self.gb_seconds}


def entry_for(record: InvocationRecord, at: float) -> MeterEntry:
    return MeterEntry(at=at, function_name=record.function_name, version=record.version,
                      architecture=record.architecture, memory_mb=record.memory_mb,
                      ephemeral_storage_mb=record.ephemeral_storage_mb, billed_ms=record.billed_ms,
                      duration_ms=record.duration_ms, init_ms=record.init_ms or 0.0,
                      cold_starts=int(record.init_ms is not None), errors=int(record.error_type is not None), request_id=record.request_id)


class Meter:
    def __init__(self, clock: Any, keep: int = KEEP_ENTRIES) -> None:
        self._clock = clock
        self._keep = keep
        self._lock = threading.Lock()
        self._entries: collections.deque[MeterEntry] = collections.deque()
        self._rollups: dict[tuple, MeterEntry] = {}
        self.session_started_at = clock.now()

    def record(self, record: InvocationRecord) -> None:
        """An engine listener: called once per finished invocation."""
        entry = entry_for(record, self._clock.now())
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self._keep:
                self._roll_up(self._entries.popleft())

    def _roll_up(self, entry: MeterEntry) -> None:
        key = (entry.month, entry.function_name, entry.version, entry.architecture, entry.memory_mb,
               entry.ephemeral_storage_mb)
        earlier = self._rollups.get(key)
        if earlier is None:
            self._rollups[key] = replace(entry, request_id=None)
            return
        self._rollups[key] = replace(earlier, at=entry.at, billed_ms=earlier.billed_ms + entry.billed_ms,
                                     duration_ms=earlier.duration_ms + entry.duration_ms,
                                     init_ms=earlier.init_ms + entry.init_ms,
                                     cold_starts=earlier.cold_starts + entry.cold_starts,
                                     errors=earlier.errors + entry.errors, requests=earlier.requests + entry.requests)

    def entries(self, until: float | None = None) -> list[MeterEntry]:
        """The session's entries up to `until` (clock time), oldest first (roll-ups of old ones first)."""
        with self._lock:
            listed = sorted(self._rollups.values(), key=lambda e: e.at) + list(self._entries)
        return listed if until is None else [entry for entry in listed if entry.at <= until]

    def export_state(self) -> tuple[list[MeterEntry], list[MeterEntry], float]:
        """The bill's records, for the saved account (the cloud's persistence)."""
        with self._lock:
            return list(self._entries), list(self._rollups.values()), self.session_started_at

    def restore_state(self, saved: tuple[list[MeterEntry], list[MeterEntry], float]) -> None:
        entries, rollups, started_at = saved
        with self._lock:
            self._entries = collections.deque(entries)
            self._rollups = {}
            for entry in rollups:
                self._rollups[(entry.month, entry.function_name, entry.version, entry.architecture, entry.memory_mb,
                               entry.ephemeral_storage_mb)] = entry
            self.session_started_at = started_at

    def clear(self) -> None:
        """The account was emptied: a new session starts now."""
        with self._lock:
            self._entries.clear()
            self._rollups.clear()
            self.session_started_at = self._clock.now()
