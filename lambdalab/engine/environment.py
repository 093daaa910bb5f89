"""One execution environment: a runtime process group with its own /tmp, limits and log stream.

Lifecycle as on AWS: Init (start the runtime, run the code outside the handler), then Invoke
again and again (frozen in between: globals and /tmp survive), until it is reclaimed. A
timeout, a crash or an out-of-memory kill resets it: the next invoke initializes again in the
same environment (same log stream, same /tmp).
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..core.clock import CloudClock
from ..core.settings import MB, Settings
from ..records.logs import LogLine
from . import cpu_share, errors, processes, sandbox
from .acceptor import Acceptor
from .errors import FunctionFailure
from .output import OutputCollector, OutputStream
from .package import PackageError, Workspace
from .runtime_api import Invocation, RuntimeApi
from .runtimes import RuntimeUnavailable, interpreter_command, launch_for
from .spec import FunctionSpec
from .watcher import Watcher


class Phase(enum.Enum):
    NEW = "new"
    INITIALIZING = "initializing"
    IDLE = "idle"
    BUSY = "busy"
    SHUT_DOWN = "shut down"


@dataclass
class EnvironmentResult:
    """What one invocation did in this environment, before any record of it is written."""

    request_id: str
    body: bytes
    failure: FunctionFailure | None
    duration_ms: float
    max_memory_mb: int
    lines: list[LogLine]
    init_lines: list[LogLine] = field(default_factory=list)
    init_ms: float | None = None
    dropped_bytes: int = 0
    timed_out: bool = False


@dataclass
class EnvironmentServices:
    """The machinery every environment of one local cloud shares."""

    settings: Settings
    workspace: Workspace
    spawner: processes.Spawner
    collector: OutputCollector
    watcher: Watcher
    cloud_endpoint: str
    runtime_site: Path | None
    sandbox: sandbox.SandboxChoice
    acceptor: Acceptor  # accepts on every environment's Runtime API (and, sealed, cloud door)
    # Serves the cloud's AWS endpoint on a connection from inside a sandbox; None: the door stays shut.
    serve_cloud: Callable[[socket.socket], None] | None
    clock: CloudClock  # idle time is measured on the cloud's clock, virtual or real


class StartFailed(Exception):
    """The environment's processes could not be started; nothing of the attempt is left behind."""

    error_type = "Runtime.Unavailable"


class ExecutionEnvironment:
    def __init__(self, spec: FunctionSpec, services: EnvironmentServices, credentials: dict[str, str]) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        created = datetime.now(timezone.utc)
        self.created_at = time.time()
        self.log_stream_name = f"{created:%Y/%m/%d}/[{spec.version}]{self.id}"
        self.phase = Phase.NEW
        self.invokes = 0
        self.cold_starts = 0
        self.last_used = services.clock.now()
        self.max_memory_bytes = 0
        self._services = services
        self._settings = services.settings
        self._credentials = credentials
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None  # the launcher: its exit status is the runtime's
        self._runtime_pid: int | None = None  # the runtime itself (in a sandbox, inside the launcher's)
        self._init_pid: int | None = None  # a sandbox's pid 1: every process of it descends from this one
        self._peak: processes.PeakMemory | None = None
        self._stop_group = 0  # the process group frozen between invokes
        self._cloud_door: socket.socket | None = None
        self.has_family = False  # the watcher saw processes beyond the runtime (children, daemons)
        self.shm_bytes = 0  # what the mapped /dev/shm holds, measured with /tmp
        self._api: RuntimeApi | None = None
        self._output: OutputStream | None = None
        self._failure: FunctionFailure | None = None
        self._wake = threading.Event()
        self._invocation: Invocation | None = None
        self._stops: cpu_share.GroupStops | None = None  # frozen when idle, or out of CPU share
        self._dir = services.workspace.environment_dir(self.id)
        self.tmp_dir = self._dir / "tmp"
        # Without a sandbox, /dev/shm is mapped here (Python runtime) and counted as memory, as a
        # sandbox's own /dev/shm, which is a tmpfs the size of the function's memory.
        self.shm_dir: Path | None = None if services.sandbox.sealed else self._dir / "shm"
        if self.shm_dir is not None:
            self.shm_dir.mkdir(exist_ok=True)
        self.task_root: Path | None = None

    # --- what the watcher needs -----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The runtime's process: what memory and CPU are measured on."""
        return self._runtime_pid if self._process else None

    @property
    def launcher_pid(self) -> int | None:
        """The process the engine started: the cloud's child, whose exit status is the runtime's."""
        return self._process.pid if self._process else None

    @property
    def family_root(self) -> int | None:
        """Every process of the environment but the runtime descends from this one."""
        return (self._init_pid or self._runtime_pid) if self._process else None

    @property
    def stops(self) -> "cpu_share.GroupStops | None":
        return self._stops

    def fail(self, failure: FunctionFailure) -> None:
        """Called by the watcher when a limit is broken or the runtime died: end the attempt now."""
        if self._failure is None:
            self._failure = failure
        if self._process is not None:
            self._kill()
        self._wake.set()
        invocation = self._invocation
        if invocation is not None:
            invocation.replied.set()

    @property
    def current_request_id(self) -> str:
        return self._invocation.request_id if self._invocation else "init"

    def exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    # --- life cycle ---------------------------------------------------------------------------

    def invoke(self, invocation: Invocation) -> EnvironmentResult:
        with self._lock:
            self.invokes += 1
            self.last_used = self._services.clock.now()
            init_lines: list[LogLine] = []
            init_ms = None
            timeout_s = float(self.spec.timeout_s)
            if self._process is not None and not self._runtime_asks_for_work(float(self.spec.timeout_s)):
                self._reset()  # died while idle, or exited after its last answer: start afresh
            if self._process is None:
                failure, init_ms, init_lines, overrun = self._initialize(invocation)
                timeout_s -= overrun
                if failure is not None:
                    lines, dropped = self._take_output()
                    self._reset()
                    return EnvironmentResult(invocation.request_id, failure.body(invocation.request_id), failure,
                                             duration_ms=0.0, max_memory_mb=self._memory_mb(), lines=lines,
                                             init_lines=init_lines, init_ms=init_ms, dropped_bytes=dropped)
            result = self._run(invocation, max(timeout_s, 0.0))
            result.init_lines, result.init_ms = init_lines, init_ms
            self.last_used = self._services.clock.now()
            return result

    def _runtime_asks_for_work(self, patience_s: float) -> bool:
        """A warm runtime gets an event only once it has asked for one (GET /next); one that ends
        after its answer instead (a Go panic, an uncaught Node.js error) needs a fresh start."""
        deadline = time.monotonic() + patience_s
        while not self._api.asking.is_set():
            if self._process.poll() is not None or time.monotonic() > deadline:
                return False
            self._api.asking.wait(0.002)
        return self._process.poll() is None

    def _run(self, invocation: Invocation, timeout_s: float) -> EnvironmentResult:
        self._failure = None
        self._invocation = invocation
        self.phase = Phase.BUSY
        started = time.monotonic()
        self._services.watcher.watch(self)
        self._api.deliver(invocation)
        settled = invocation.replied.wait(max(0.0, timeout_s - (time.monotonic() - started)))
        duration_ms = (time.monotonic() - started) * 1000
        self._services.watcher.unwatch(self)
        failure = self._failure
        timed_out = False
        if not settled and failure is None:
            timed_out = True
            self._kill()
            failure = errors.timed_out(invocation.request_id, self.spec.timeout_s)
            duration_ms = self.spec.timeout_s * 1000.0
        reply = invocation.reply
        if failure is None and reply is not None and reply.too_large:
            failure = FunctionFailure(
                error_message="Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                error_type="Function.ResponseSizeTooLarge", include_request_id=False)
        lines, dropped = self._take_output()
        memory_mb = self._memory_mb()
        self._invocation = None
        if failure is not None and (timed_out or self._failure is not None):
            if self._failure is not None and self._failure.error_type == "Runtime.ExitError" and "killed" in self._failure.error_message:
                # Killed at the limit: AWS reports the memory size, never more (the watcher may have
                # seen a few MB above the limit before the kill landed).
                memory_mb = self.spec.memory_mb
            self._reset()
            if failure.error_message.startswith(errors.STORAGE_ERROR_PREFIX):
                _empty_directory(self.tmp_dir)  # else the next invoke would meet a full /tmp at once
            return EnvironmentResult(invocation.request_id, failure.body(invocation.request_id), failure,
                                     duration_ms, memory_mb, lines, dropped_bytes=dropped, timed_out=timed_out)
        self.phase = Phase.IDLE  # frozen by the Runtime API when the runtime asks for the next event
        if failure is not None:  # response too large: the runtime is fine, the answer is not
            return EnvironmentResult(invocation.request_id, failure.body(invocation.request_id), failure,
                                     duration_ms, memory_mb, lines, dropped_bytes=dropped)
        if reply.succeeded:
            return EnvironmentResult(invocation.request_id, reply.body, None, duration_ms, memory_mb, lines,
                                     dropped_bytes=dropped)
        return EnvironmentResult(invocation.request_id, reply.body,
                                 _failure_from_runtime(reply.body, reply.error_type), duration_ms, memory_mb,
                                 lines, dropped_bytes=dropped)

    def _initialize(self, invocation: Invocation) -> tuple[FunctionFailure | None, float | None, list[LogLine], float]:
        """Start the runtime and wait until it asks for its first event (or fails)."""
        self.phase = Phase.INITIALIZING
        self.cold_starts += 1
        self._failure = None
        self._wake.clear()
        started = time.monotonic()
        started_ms = int(time.time() * 1000)  # before the runtime can print: log lines keep their order
        try:
            description = self._start_process()
        except (RuntimeUnavailable, PackageError, StartFailed) as exc:
            return (errors.FunctionFailure(str(exc), "Runtime.InvalidPackage" if isinstance(exc, PackageError)
                                           else exc.error_type, stack_trace=[]), None, [], 0.0)
        header = LogLine(started_ms,
                         f"INIT_START Runtime Version: {self.spec.runtime}.lambdalab\t"
                         f"Runtime Version ARN: arn:aws:lambda:{self.spec.region}::runtime:lambdalab-local "
                         f"({description})")
        self._services.watcher.watch(self)
        limit = self._settings.init_timeout_s + float(self.spec.timeout_s)
        api = self._api
        while True:
            if api.ready.is_set() or api.init_error is not None or self._failure is not None:
                break
            code = self._process.poll()
            if code is not None:
                self._failure = errors.runtime_exited(invocation.request_id, code)
                break
            if time.monotonic() - started > limit:
                self._kill()
                self._failure = errors.timed_out(invocation.request_id, self.spec.timeout_s)
                break
            self._wake.wait(0.02)
            self._wake.clear()
        self._services.watcher.unwatch(self)
        init_ms = ((api.ready_at or time.monotonic()) - started) * 1000
        note = cpu_share.init_note(self.spec.memory_mb, self._settings, self._services.watcher.cpu_share.cpus)
        header_lines = [header] + ([LogLine(header.timestamp_ms, note)] if note is not None else [])
        overrun = max(0.0, init_ms / 1000 - self._settings.init_timeout_s)
        init_lines, _ = self._take_output()
        if api.init_error is not None and self._failure is None:
            self._failure = _failure_from_runtime(api.init_error.body, api.init_error.error_type)
        if self._failure is not None:
            failure, self._failure = self._failure, None
            return failure, init_ms, header_lines + init_lines, overrun
        self.phase = Phase.IDLE
        return None, init_ms, header_lines + init_lines, overrun

    def _start_process(self) -> str:
        spec, workspace, services = self.spec, self._services.workspace, self._services
        self.task_root = workspace.code_dir(spec)
        opt_dir = workspace.opt_dir(spec.layers) if spec.layers else None
        cache_dir = workspace.root / "runtime-cache"
        launch = launch_for(spec.runtime, self.task_root, opt_dir, spec.memory_mb, cache_dir)
        sealed = services.sandbox.sealed
        command = launch.command
        places = sandbox.placed(self.task_root, opt_dir, services.runtime_site, cache_dir)
        if sealed:
            command = sandbox.inside_paths(command, places)
        self._api = RuntimeApi(self._settings.sync_payload_max_bytes, services.acceptor, sealed,
                               on_activity=self._wake.set, on_idle=self._freeze, before_delivery=self._thaw)
        variables = self._environment_variables(opt_dir)
        ours = theirs = None
        pass_fds: tuple[int, ...] = ()
        if sealed:
            ours, theirs = socket.socketpair()
            pass_fds = (theirs.fileno(),)
            variables["LAMBDALAB_SANDBOX_FD"] = str(theirs.fileno())
            variables["LAMBDALAB_SANDBOX_PLAN"] = self._sandbox_plan(places, launch.command).to_json()
        secrets_fd = None
        if not sealed:
            private = set(SECRET_VARIABLES) | {str(name) for name in self.spec.environment}  # the function's own too
            secrets_fd = _secrets_pipe({name: variables.pop(name) for name in list(variables) if name in private})
            pass_fds = (secrets_fd,)
            variables["LAMBDALAB_SECRETS_FD"] = str(secrets_fd)
        read_fd, write_fd = os.pipe()
        try:
            self._process = services.spawner.popen(
                interpreter_command() + ["--parent", str(os.getpid())] + command,
                cwd=str(self.task_root), env=variables, stdin=subprocess.DEVNULL,
                stdout=write_fd, stderr=write_fd, start_new_session=True, close_fds=True, pass_fds=pass_fds)
        except (OSError, ValueError, TypeError, subprocess.SubprocessError) as exc:
            os.close(read_fd)
            self._abandon_start(ours)
            raise StartFailed(f"the execution environment could not start: {exc}") from None
        finally:
            os.close(write_fd)
            if theirs is not None:
                theirs.close()
            if secrets_fd is not None:
                os.close(secrets_fd)
        self._runtime_pid = self._process.pid
        self._output = OutputStream(read_fd, self._settings.max_log_bytes_per_invoke)
        self._services.collector.attach(self._output)
        if sealed:
            self._enter_sandbox(ours)
        # In a sandbox the runtime leads a group of its own (launcher.py); without one, the launcher's
        # group is the runtime's (the launcher became the runtime).
        self._stop_group = self._runtime_pid if sealed else self._process.pid
        self._stops = cpu_share.GroupStops(self._stop_group, self._escaped_pids)
        return launch.description + ("" if sealed else "; no sandbox: " + (services.sandbox.reason or "process group"))

    def _sandbox_plan(self, places: list[tuple[str, str]], command: list[str]) -> sandbox.SandboxPlan:
        root = self._dir / "root"
        root.mkdir(exist_ok=True)
        executable = next((argument for argument in command if argument.startswith("/")), None)
        paths = sandbox.runtime_paths(self._services.runtime_site, executable)
        port = int(self._services.cloud_endpoint.rsplit(":", 1)[1])
        return sandbox.SandboxPlan(str(root), str(self.tmp_dir), port, self.spec.memory_mb * MB,
                                   sandbox.plan_binds(paths, places))

    def _enter_sandbox(self, control: socket.socket) -> None:
        """Take the two listening sockets the sandbox hands over, and find its init and runtime."""
        control.settimeout(self._settings.init_timeout_s)
        try:
            answer, fds = sandbox.receive(control)
        except OSError as exc:
            answer, fds = {"error": f"sandbox: no answer from the launcher ({exc})"}, []
        finally:
            control.close()
        if answer.get("error") or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            self._stop_process()
            raise StartFailed(f"the execution environment could not be sealed: {answer.get('error', 'no sockets')}")
        runtime_api, cloud_door = (socket.socket(fileno=fd) for fd in fds)
        self._api.serve(runtime_api)
        self._cloud_door = cloud_door
        if self._services.serve_cloud is not None:
            self._services.acceptor.add(cloud_door, self._services.serve_cloud)
        self._init_pid = next(iter(processes.child_pids(self._process.pid)), None)
        if self._init_pid is not None:
            self._runtime_pid = next(iter(processes.child_pids(self._init_pid)), self._process.pid)

    def _abandon_start(self, control: socket.socket | None) -> None:
        if control is not None:
            control.close()
        api, self._api = self._api, None
        if api is not None:
            api.close()

    def _escaped_pids(self) -> list[int]:
        """Processes of this environment outside its process group (setsid): stopped and ended one by one."""
        root = self.family_root
        if root is None or self._process is None or not self.has_family:
            return []
        return processes.escaped_from_group(root, self._stop_group)

    def _kill(self) -> None:
        if self._process is None:
            return
        if self._init_pid is None:  # no sandbox whose end ends everything: end the escaped ones too
            processes.kill_tree(self._runtime_pid or self._process.pid)
        processes.kill_group(self._process.pid)

    def _environment_variables(self, opt_dir: Path | None) -> dict[str, str]:
        spec = self.spec
        sealed = self._services.sandbox.sealed
        variables = {str(name): str(value) for name, value in spec.environment.items()}
        variables.update({
            "_HANDLER": str(spec.handler),
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "LAMBDA_TASK_ROOT": sandbox.TASK_ROOT if sealed else str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(Path(__file__).resolve().parent / "runtimes"),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": f"{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}:/opt/bin",
            # Lambda Lab's own plumbing: SDK calls reach the local cloud, never a real account.
            "AWS_ENDPOINT_URL": self._services.cloud_endpoint,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "LAMBDALAB_ENVIRONMENT_ID": self.id,
            "LAMBDALAB_MAX_OPEN_FILES": str(self._settings.max_open_files),
            "LAMBDALAB_MAX_PROCESSES": str(self._settings.max_processes),
        })
        variables.update(self._credentials)
        if sealed:
            variables["LAMBDALAB_TMP_MOUNTED"] = "1"
            if opt_dir is not None:
                variables["LAMBDALAB_OPT_MOUNTED"] = "1"
        else:
            variables["LAMBDALAB_TMP_DIR"] = str(self.tmp_dir)
            variables["LAMBDALAB_SHM_DIR"] = str(self.shm_dir)
            if opt_dir is not None:
                variables["LAMBDALAB_OPT_DIR"] = str(opt_dir)
        if self._services.runtime_site is not None:
            variables["LAMBDALAB_RUNTIME_SITE"] = sandbox.RUNTIME_SITE if sealed else str(self._services.runtime_site)
        return variables

    def _take_output(self) -> tuple[list[LogLine], int]:
        if self._output is None:
            return [], 0
        return self._output.take()

    def _memory_mb(self) -> int:
        if self._process is not None and self._runtime_pid is not None:
            if self._peak is None or self._peak.pid != self._runtime_pid:
                self._close_peak()
                self._peak = processes.PeakMemory(self._runtime_pid)
            self.max_memory_bytes = max(self.max_memory_bytes, self._peak.bytes())
        return max(1, round(self.max_memory_bytes / MB))

    def _close_peak(self) -> None:
        if self._peak is not None:
            self._peak.close()
            self._peak = None

    def note_memory(self, resident: int) -> None:
        if resident > self.max_memory_bytes:
            self.max_memory_bytes = resident

    def _freeze(self) -> None:
        if self._settings.freeze_idle_environments and self._stops is not None:
            self._stops.hold(cpu_share.FROZEN)

    def _thaw(self) -> None:
        if self._stops is not None:
            self._stops.release(cpu_share.FROZEN)

    def _stop_process(self) -> None:
        if self._process is not None:
            self._kill()
        process, api, output, door = self._process, self._api, self._output, self._cloud_door
        self._process = self._api = self._output = self._cloud_door = None
        self._runtime_pid = self._init_pid = None
        self._close_peak()
        self._stops = None
        self.has_family = False
        if door is not None:
            self._services.acceptor.remove(door)
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if api is not None:
            api.close()
        if output is not None:
            self._services.collector.detach(output)

    def _reset(self) -> None:
        """After a timeout or crash the runtime starts again on the next invoke; /tmp stays, /dev/shm
        (memory, on AWS as in a sandbox) does not."""
        self._stop_process()
        if self.shm_dir is not None:
            _empty_directory(self.shm_dir)
            self.shm_bytes = 0
        self.phase = Phase.IDLE
        self.max_memory_bytes = 0

    def shutdown(self) -> None:
        with self._lock:
            self._stop_process()
            self.phase = Phase.SHUT_DOWN
            self._services.workspace.remove_environment_dir(self.id)


# Without a sandbox, another process of the same user reads /proc/<pid>/environ: these (and the
# function's own variables, which often hold an API key) reach the
# runtime through a pipe instead, and the launcher puts them in its environment itself (the
# kernel's copy of the environment a process started with does not change then). A runtime the
# launcher execs (Node.js, Java, Ruby, custom) starts with them again, visible.
SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API")


def _secrets_pipe(variables: dict[str, str]) -> int:
    """The read end of a pipe holding variables as JSON (a few hundred bytes: the pipe's buffer holds them)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, json.dumps(variables).encode())
    finally:
        os.close(write_fd)
    return read_fd


def _empty_directory(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _failure_from_runtime(body: bytes, error_type: str | None) -> FunctionFailure:
    """The runtime's own error document is passed through as AWS passes it."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return FunctionFailure(error_message=body.decode("utf-8", "replace"), error_type=error_type or "Unhandled",
                               include_request_id=False)
    return FunctionFailure(
        error_message=str(document.get("errorMessage", "")),
        error_type=document.get("errorType", error_type),
        stack_trace=document.get("stackTrace"),
        include_request_id="requestId" in document,
        extra={k: v for k, v in document.items() if k not in ("errorMessage", "errorType", "stackTrace", "requestId")},
    )
