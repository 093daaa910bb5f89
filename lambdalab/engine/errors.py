"""The shapes in which AWS reports a function's failures.

Errors are values here: whatever learner code does, the engine ends with one of these and
builds the response AWS would send. Only misuse of the library itself raises.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Go's names for signals, which is how AWS's runtime manager words "signal: killed".
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
}


@dataclass(frozen=True)
class FunctionFailure:
    """A failed invocation as the caller sees it: errorType, errorMessage, stackTrace."""

    error_message: str
    error_type: str | None = None
    stack_trace: list[str] | None = None
    include_request_id: bool = True
    extra: dict = field(default_factory=dict)

    def body(self, request_id: str) -> bytes:
        document: dict = {"errorMessage": self.error_message}
        if self.error_type is not None:
            document["errorType"] = self.error_type
        if self.include_request_id:
            document["requestId"] = request_id
        if self.stack_trace is not None:
            document["stackTrace"] = self.stack_trace
        document.update(self.extra)
        return json.dumps(document).encode()


def exit_reason(returncode: int) -> str:
    """'exit status 3' or 'signal: killed', in the words of AWS's runtime manager."""
    if returncode < 0:
        signum = -returncode
        try:
            word = _SIGNAL_WORDS.get(signal.Signals(signum), f"signal {signum}")
        except ValueError:
            word = f"signal {signum}"
        return f"signal: {word}"
    return f"exit status {returncode}"


def runtime_exited(request_id: str, returncode: int) -> FunctionFailure:
    return FunctionFailure(
        error_message=f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}",
        error_type="Runtime.ExitError",
        include_request_id=False,
    )


def out_of_memory(request_id: str) -> FunctionFailure:
    return runtime_exited(request_id, -signal.SIGKILL)


def timeout_message(request_id: str, timeout_s: float, when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def timed_out(request_id: str, timeout_s: float) -> FunctionFailure:
    return FunctionFailure(
        error_message=timeout_message(request_id, timeout_s), include_request_id=False
    )


def ephemeral_storage_full(request_id: str, used_mb: float, limit_mb: int) -> FunctionFailure:
    """On AWS the write itself fails with ENOSPC; here the runtime is stopped as /tmp passes the
    limit, and the error reads as the write's would, with what happened added."""
    return FunctionFailure(
        error_message=(
            f"[Errno 28] No space left on device: '/tmp' (Lambda Lab stopped the function when /tmp reached "
            f"{used_mb:.0f} MB, over its {limit_mb} MB of ephemeral storage, and emptied /tmp)"
        ),
        error_type="OSError",
        stack_trace=[],
    )


STORAGE_ERROR_PREFIX = "[Errno 28] No space left on device"


def runtime_unavailable(runtime: str, why: str) -> FunctionFailure:
    return FunctionFailure(
        error_message=f"The runtime {runtime} cannot start on this machine: {why}",
        error_type="Runtime.Unavailable",
        stack_trace=[],
    )
