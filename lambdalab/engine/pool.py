"""Execution environments of each function version: reuse a warm one, else start one cold.

Warm environments are reused most-recently-used first, so the least used ones go idle
long enough to be reclaimed, as on AWS. A change of code or configuration retires them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .environment import ExecutionEnvironment
from .spec import FunctionSpec


class EnvironmentPool:
    def __init__(self, make_environment: Callable[[FunctionSpec], ExecutionEnvironment]) -> None:
        self._make = make_environment
        self._lock = threading.Lock()
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._busy: dict[str, set[ExecutionEnvironment]] = {}
        self._fingerprints: dict[str, tuple] = {}

    def acquire(self, spec: FunctionSpec) -> ExecutionEnvironment:
        retired: list[ExecutionEnvironment] = []
        with self._lock:
            key = spec.pool_key
            if self._fingerprints.get(key) != spec.fingerprint:
                self._fingerprints[key] = spec.fingerprint
                retired = self._idle.pop(key, [])
            idle = self._idle.get(key, [])
            environment = idle.pop() if idle else None
            if environment is None:
                environment = self._make(spec)
            self._busy.setdefault(key, set()).add(environment)
        _retire_later(retired)
        return environment

    def release(self, environment: ExecutionEnvironment) -> None:
        key = environment.spec.pool_key
        with self._lock:
            self._busy.get(key, set()).discard(environment)
            current = self._fingerprints.get(key) == environment.spec.fingerprint
            if current:
                self._idle.setdefault(key, []).append(environment)
        if not current:
            _retire_later([environment])

    def reclaim_idle(self, lifetime_s: float, now: float) -> int:
        """Shut down environments idle longer than lifetime_s at clock time `now`; returns how many."""
        expired: list[ExecutionEnvironment] = []
        with self._lock:
            for key, idle in self._idle.items():
                keep = [e for e in idle if now - e.last_used < lifetime_s]
                expired += [e for e in idle if now - e.last_used >= lifetime_s]
                self._idle[key] = keep
        for environment in expired:
            environment.shutdown()
        return len(expired)

    def retire_function(self, function_arn: str) -> None:
        """The function was deleted or changed: its idle environments go now, busy ones when they finish."""
        with self._lock:
            keys = [k for k in set(self._idle) | set(self._fingerprints) if k.rsplit(":", 1)[0] == function_arn]
            doomed = [e for k in keys for e in self._idle.pop(k, [])]
            for key in keys:
                self._fingerprints.pop(key, None)
        _retire_later(doomed)

    def environments(self) -> list[tuple[ExecutionEnvironment, bool]]:
        """Every live environment and whether it is busy, for the console views."""
        with self._lock:
            listed = [(e, False) for idle in self._idle.values() for e in idle]
            listed += [(e, True) for busy in self._busy.values() for e in busy]
        return listed

    def shutdown_all(self) -> None:
        with self._lock:
            everything = [e for idle in self._idle.values() for e in idle]
            everything += [e for busy in self._busy.values() for e in busy]
            self._idle.clear()
            self._busy.clear()
            self._fingerprints.clear()
        for environment in everything:
            environment.shutdown()


def _retire_later(environments: list[ExecutionEnvironment]) -> None:
    """Old environments end in the background, as on AWS: never on an invoke's way back."""
    if environments:
        threading.Thread(target=lambda: [e.shutdown() for e in environments], name="retire-environments",
                         daemon=True).start()
