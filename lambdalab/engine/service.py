"""The Lambda engine: from an invocation to an environment and back, with AWS's answers.

It owns the shared machinery (spawner, output reader, watcher, pools, concurrency) and
turns every outcome into the response AWS would send. It has one verb, :meth:`invoke`:
the Invoke API, the async queue, pollers and HTTP sources all end there. Its records (log
lines, one InvocationRecord per invocation) go to the sinks the cloud hands it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.clock import CloudClock
from ..core.settings import Settings
from ..records import logs, pricing
from ..records.invocations import InvocationRecord
from ..records.logs import LogLine
from . import processes, sandbox
from .acceptor import Acceptor
from .concurrency import ConcurrencyCounter, Throttle
from .environment import EnvironmentResult, EnvironmentServices, ExecutionEnvironment
from .output import OutputCollector
from .package import Workspace
from .pool import EnvironmentPool
from .runtime_api import Invocation
from .runtimes import sdk_site
from .sinks import EngineSinks
from .spec import FunctionSpec
from .watcher import Watcher


@dataclass
class InvokeOutcome:
    """What the Invoke API answers: a throttle, or the function's result."""

    request_id: str
    throttle: Throttle | None = None
    body: bytes = b""
    function_error: str | None = None
    log_tail: str | None = None
    record: InvocationRecord | None = None


class LambdaEngine:
    def __init__(self, settings: Settings, workspace_root: Path, cloud_endpoint: str,
                 clock: CloudClock | None = None, sinks: EngineSinks | None = None,
                 serve_cloud: Callable[[socket.socket], None] | None = None) -> None:
        """serve_cloud answers a connection made inside a sandbox to the cloud's endpoint (the cloud's
        HTTP server does); without it, sealed functions reach no AWS API."""
        self.settings = settings
        self.clock = clock or CloudClock()
        self.sinks = sinks or EngineSinks()
        self.workspace = Workspace(workspace_root)
        self.concurrency = ConcurrencyCounter(settings.account_concurrency)
        processes.become_subreaper()
        self.acceptor = Acceptor()
        self.watcher = Watcher(settings, self._housekeeping)
        self.services = EnvironmentServices(
            settings=settings,
            workspace=self.workspace,
            spawner=processes.Spawner(),
            collector=OutputCollector(),
            watcher=self.watcher,
            cloud_endpoint=cloud_endpoint,
            runtime_site=sdk_site(workspace_root / "runtime-site"),
            sandbox=sandbox.choose(settings.sandbox, workspace_root / "sandbox-probe", _port(cloud_endpoint)),
            acceptor=self.acceptor,
            serve_cloud=serve_cloud,
            clock=self.clock,
        )
        self.clock.add_time_listener(self._reclaim_idle)
        self.pool = EnvironmentPool(self._new_environment)

    # --- invoking ---------------------------------------------------------------------------

    def invoke(self, spec: FunctionSpec, payload: bytes, *, invocation_type: str = "RequestResponse",
               tail: bool = False, client_context: str | None = None, request_id: str | None = None,
               cognito_identity: str | None = None) -> InvokeOutcome:
        """Run one invocation synchronously: every path that runs a function ends here (Event
        invocations too, from the async queue)."""
        request_id = request_id or str(uuid.uuid4())
        throttle = self.concurrency.acquire(spec.arn, spec.reserved_concurrency)
        if throttle is not None:
            self._record_throttle(spec)
            return InvokeOutcome(request_id, throttle=throttle)
        try:
            environment = self.pool.acquire(spec)
            try:
                started_at = self.clock.now()  # by the cloud clock, as the meter and the event flow are
                invocation = Invocation(
                    request_id=request_id,
                    payload=payload or b"{}",
                    deadline_epoch_ms=int((time.time() + spec.timeout_s) * 1000),
                    invoked_function_arn=spec.arn if spec.version == "$LATEST" else spec.qualified_arn,
                    trace_id=_trace_id(self.clock.now()),
                    client_context=client_context,
                    cognito_identity=cognito_identity,
                )
                result = environment.invoke(invocation)
            finally:
                self.pool.release(environment)
        finally:
            self.concurrency.release(spec.arn)
        return self._finish(spec, environment, result, invocation_type, started_at, tail)

    def _finish(self, spec: FunctionSpec, environment: ExecutionEnvironment, result: EnvironmentResult,
                invocation_type: str, started_at: float, tail: bool) -> InvokeOutcome:
        request_id = result.request_id
        billed = pricing.billed_invocation_ms(result.duration_ms, result.init_ms, spec.runtime,
                                              granularity_ms=self.settings.billing_granularity_ms,
                                              bill_init_phase=self.settings.bill_init_phase,
                                              package_type=spec.package_type)
        report = logs.Report(request_id, result.duration_ms, billed, spec.memory_mb, result.max_memory_mb,
                             result.init_ms)
        stamp = result.lines[0].timestamp_ms if result.lines else logs.now_ms()
        invocation_lines = [LogLine(stamp, logs.start_line(request_id, spec.version))]
        invocation_lines += result.lines
        if result.dropped_bytes:
            invocation_lines.append(LogLine(logs.now_ms(), f"lambdalab: {result.dropped_bytes} more bytes of output "
                                            "were not kept (a laptop is not CloudWatch)"))
        if result.timed_out:
            invocation_lines.append(LogLine(logs.now_ms(), result.failure.error_message))
        elif result.failure is not None and result.failure.error_type == "Runtime.ExitError":
            invocation_lines += [LogLine(logs.now_ms(), result.failure.error_message),
                                 LogLine(logs.now_ms(), "Runtime.ExitError")]
        end = logs.now_ms()
        invocation_lines += [LogLine(end, logs.end_line(request_id)), LogLine(end, logs.report_line(report))]
        logged = self.sinks.logs.write(spec, environment.log_stream_name, result.init_lines + invocation_lines)
        record = InvocationRecord(
            request_id=request_id, function_name=spec.name, function_arn=spec.arn, version=spec.version,
            invocation_type=invocation_type, started_at=started_at, duration_ms=result.duration_ms,
            billed_ms=billed, init_ms=result.init_ms, memory_mb=spec.memory_mb,
            max_memory_mb=result.max_memory_mb, architecture=spec.architecture,
            ephemeral_storage_mb=spec.ephemeral_storage_mb, runtime=spec.runtime, environment_id=environment.id,
            error_type=(result.failure.error_type or "Unhandled") if result.failure else None,
            timed_out=result.timed_out, logged=logged,
        )
        for listener in list(self.sinks.on_invocation):
            listener(record)
        return InvokeOutcome(
            request_id=request_id,
            body=result.body,
            function_error="Unhandled" if result.failure else None,
            log_tail=logs.tail(result.init_lines + invocation_lines) if tail else None,
            record=record,
        )

    def _record_throttle(self, spec: FunctionSpec) -> None:
        for listener in list(self.sinks.on_throttle):
            listener(spec)

    # --- environments -----------------------------------------------------------------------

    def _new_environment(self, spec: FunctionSpec) -> ExecutionEnvironment:
        return ExecutionEnvironment(spec, self.services, self.sinks.credentials(spec))

    def _reclaim_idle(self, now: float) -> None:
        self.pool.reclaim_idle(self.settings.idle_lifetime_s, now)

    def _housekeeping(self) -> None:
        self._reclaim_idle(self.clock.now())
        known = {e.launcher_pid for e, _ in self.pool.environments() if e.launcher_pid is not None}
        processes.sweep_orphans(known)

    def function_changed(self, function_arn: str) -> None:
        """New code or configuration, or deleted: warm environments of the old one are retired."""
        self.pool.retire_function(function_arn)

    def reset(self) -> None:
        """Every environment ends; the account is about to be emptied."""
        self.pool.shutdown_all()
        processes.sweep_orphans({e.launcher_pid for e, _ in self.pool.environments() if e.launcher_pid is not None},
                                min_age_s=0.0)
        self.concurrency.clear_reserved()
        self.workspace.clear()

    def shutdown(self) -> None:
        self.watcher.stop()
        self.pool.shutdown_all()
        processes.sweep_orphans(set(), min_age_s=0.0)
        self.acceptor.stop()


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1].split("/", 1)[0])


def _trace_id(epoch: float) -> str:
    """X-Amzn-Trace-Id: its root carries the time of the request, by the cloud's clock."""
    digits = os.urandom(20).hex()  # one system call for both ids
    return f"Root=1-{int(epoch):08x}-{digits[:24]};Parent={digits[24:]};Sampled=0"
