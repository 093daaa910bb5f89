"""What the engine is handed by the cloud that runs it: where its records go, and how a function
gets its role's credentials.

The engine runs invocations and nothing else. Logs into CloudWatch, metrics, the meter, the
history the console reads, and the credentials minted by STS all live elsewhere (in moto's
adapters and in the records); the wiring plugs them in here, so the engine imports none of them
and a test can run it with sinks of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..records.invocations import InvocationRecord
from ..records.logs import LogLine
from .spec import FunctionSpec


class LogSink(Protocol):
    def write(self, spec: FunctionSpec, stream: str, lines: list[LogLine]) -> bool:
        """Keep the lines in the function's log stream; False when the role may not write them."""


CredentialsProvider = Callable[[FunctionSpec], dict[str, str]]
InvocationListener = Callable[[InvocationRecord], None]
ThrottleListener = Callable[[FunctionSpec], None]


class DiscardLogs:
    """A log sink that keeps nothing (an engine run without a cloud, in tests and benchmarks)."""

    def write(self, spec: FunctionSpec, stream: str, lines: list[LogLine]) -> bool:
        return False


def no_credentials(spec: FunctionSpec) -> dict[str, str]:
    return {}


@dataclass
class EngineSinks:
    """Plugged in by the wiring (lambdalab/cloud/server.py); listeners are called in order, after
    the invocation has released its concurrency slot."""

    logs: LogSink = field(default_factory=DiscardLogs)
    credentials: CredentialsProvider = no_credentials
    on_invocation: list[InvocationListener] = field(default_factory=list)
    on_throttle: list[ThrottleListener] = field(default_factory=list)
