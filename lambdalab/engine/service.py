"""The Lambda engine: from an Invoke to an environment and back, with AWS's answers.

It owns the shared machinery (spawner, output reader, watcher, pools, concurrency) and
turns every outcome into the response AWS would send. Records of each invocation (log
lines, REPORT figures) are written here, once, whatever path the invoke came by.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..aws import iam
from ..core.clock import CloudClock
from ..records import logs, pricing
from ..records.flow import FlowLog
from ..records.meter import Meter
from ..aws.metrics_sink import LambdaMetrics
from ..core.settings import Settings
from . import processes
from .concurrency import ConcurrencyCounter, Throttle
from .environment import EnvironmentResult, EnvironmentServices, ExecutionEnvironment
from .output import LogLine, OutputCollector
from .package import Workspace
from .pool import EnvironmentPool
from .runtime_api import Invocation
from .runtimes import sdk_site
from .spec import FunctionSpec
from .watcher import Watcher


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
                 clock: CloudClock | None = None) -> None:
        self.settings = settings
        self.clock = clock or CloudClock()
        self.flow = FlowLog(self.clock)
        self.workspace = Workspace(workspace_root)
        self.concurrency = ConcurrencyCounter(settings.account_concurrency)
        self.history: collections.deque[InvocationRecord] = collections.deque(maxlen=100_000)
        self._history_lock = threading.Lock()
        self._log_writer = logs.LogWriter()
        self.meter = Meter(self.clock)
        self.metrics = LambdaMetrics(self.clock, self.concurrency)
        self._listeners: list = [self.meter.record, self.metrics.record]
        self._throttle_listeners: list = [self.metrics.record_throttle]
        processes.become_subreaper()
        self.watcher = Watcher(settings, self._housekeeping)
        self.services = EnvironmentServices(
            settings=settings,
            workspace=self.workspace,
            spawner=processes.Spawner(),
            collector=OutputCollector(),
            watcher=self.watcher,
            cloud_endpoint=cloud_endpoint,
            runtime_site=sdk_site(workspace_root / "runtime-site"),
            use_mount_namespace=settings.isolate_tmp_with_mount_namespace,
            clock=self.clock,
        )
        self.clock.add_time_listener(self._reclaim_idle)
        self.pool = EnvironmentPool(self._new_environment)
        self.async_queue = None  # lambdalab.triggers.async_invoke installs it (retries, DLQ, destinations)

    # --- invoking ---------------------------------------------------------------------------

    def invoke(self, spec: FunctionSpec, payload: bytes, *, invocation_type: str = "RequestResponse",
               tail: bool = False, client_context: str | None = None, request_id: str | None = None,
               cognito_identity: str | None = None) -> InvokeOutcome:
        """Run one invocation synchronously (Event invocations call this from the async queue)."""
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

    def invoke_async(self, spec_loader, payload: bytes, *, source: str = "lambda:Invoke") -> str:
        """Queue an Event invocation; spec_loader is called when it runs, so it sees the current config.

        `source` names where the event came from ("s3:photos", "sns:alerts", ...) for the event flow.
        The queue is AWS's async model (retries, event age, dead-letter queue, destinations), which
        lives with the triggers: lambdalab/triggers/async_invoke.py."""
        if self.async_queue is None:
            from ..triggers import async_invoke

            async_invoke.install(self)
        return self.async_queue.submit(spec_loader, payload, source=source)

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
        logged = self._log_writer.write(spec, environment.log_stream_name, result.init_lines + invocation_lines)
        record = InvocationRecord(
            request_id=request_id, function_name=spec.name, function_arn=spec.arn, version=spec.version,
            invocation_type=invocation_type, started_at=started_at, duration_ms=result.duration_ms,
            billed_ms=billed, init_ms=result.init_ms, memory_mb=spec.memory_mb,
            max_memory_mb=result.max_memory_mb, architecture=spec.architecture,
            ephemeral_storage_mb=spec.ephemeral_storage_mb, runtime=spec.runtime, environment_id=environment.id,
            error_type=(result.failure.error_type or "Unhandled") if result.failure else None,
            timed_out=result.timed_out, logged=logged,
        )
        with self._history_lock:
            self.history.append(record)
        for listener in list(self._listeners):
            listener(record)
        return InvokeOutcome(
            request_id=request_id,
            body=result.body,
            function_error="Unhandled" if result.failure else None,
            log_tail=logs.tail(result.init_lines + invocation_lines) if tail else None,
            record=record,
        )

    def _record_throttle(self, spec: FunctionSpec) -> None:
        for listener in list(self._listeners):
            listener(None)
        for throttle_listener in list(self._throttle_listeners):
            throttle_listener(spec)

    def add_listener(self, listener) -> None:
        """listener(record) after every invocation (record None for a throttle)."""
        self._listeners.append(listener)

    def add_throttle_listener(self, listener) -> None:
        """listener(spec) after every throttled invoke: the function that was refused."""
        self._throttle_listeners.append(listener)

    # --- environments -----------------------------------------------------------------------

    def _new_environment(self, spec: FunctionSpec) -> ExecutionEnvironment:
        credentials = iam.assume_for_function(spec.account_id, spec.region, spec.role_arn, spec.name)
        return ExecutionEnvironment(spec, self.services, credentials)

    def _reclaim_idle(self, now: float) -> None:
        self.pool.reclaim_idle(self.settings.idle_lifetime_s, now)

    def _housekeeping(self) -> None:
        self._reclaim_idle(self.clock.now())
        known = {e.pid for e, _ in self.pool.environments() if e.pid is not None}
        processes.sweep_orphans(known)

    def function_changed(self, function_arn: str) -> None:
        """New code or configuration, or deleted: warm environments of the old one are retired."""
        self.pool.retire_function(function_arn)

    def reset(self) -> None:
        """Every environment ends; the account is about to be emptied."""
        self.pool.shutdown_all()
        processes.sweep_orphans({e.pid for e, _ in self.pool.environments() if e.pid is not None}, min_age_s=0.0)
        self.concurrency.clear_reserved()
        with self._history_lock:
            self.history.clear()
        self.meter.clear()
        self.flow.clear()
        self.workspace.clear()

    def shutdown(self) -> None:
        self.watcher.stop()
        self.pool.shutdown_all()
        processes.sweep_orphans(set(), min_age_s=0.0)


def _trace_id(epoch: float) -> str:
    """X-Amzn-Trace-Id: its root carries the time of the request, by the cloud's clock."""
    return f"Root=1-{int(epoch):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
