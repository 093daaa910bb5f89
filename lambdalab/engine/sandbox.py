"""Which sandbox execution environments get here, and the plan the launcher builds each one from.

Learner code is hostile by assumption and the machine may be shared (a JupyterHub host): a
function must not reach another environment, the cloud's controls or the learner's files. Where
the kernel allows unprivileged namespaces (user, pid, mount, IPC, UTS, network), each
environment is sealed in its own (runtimes/launcher.py builds it from a SandboxPlan). Where it
does not (some containers' seccomp profiles refuse them), environments are process groups,
as before, and the Runtime API is kept private by a secret in its address instead. Which one
a cloud got is decided once, by a probe at start, and said once in the cloud's log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACES = "namespaces"
PROCESS_GROUP = "process-group"
AUTO = "auto"
MODES = (AUTO, NAMESPACES, PROCESS_GROUP)

RUNTIME_API_ADDRESS = "127.0.0.1:9001"  # as on AWS
TASK_ROOT = "/var/task"
OPT = "/opt"
RUNTIME_SITE = "/var/runtime"  # where AWS's Python runtime keeps the SDK it ships
RUNTIME_CACHE = "/var/lambdalab/runtime-cache"
# The machine's own directories an environment sees, read-only (as AWS's image is).
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "runtimes" / "launcher.py"


class SandboxUnavailable(Exception):
    """The sandbox setting asks for namespaces and this machine refuses them."""


@dataclass(frozen=True)
class SandboxChoice:
    mode: str
    reason: str | None = None  # why not namespaces, when not

    @property
    def sealed(self) -> bool:
        return self.mode == NAMESPACES

    def log_line(self) -> str:
        if self.sealed:
            return ("Lambda Lab: each execution environment runs in namespaces of its own "
                    "(user, pid, mount, IPC, UTS, network).")
        return (f"Lambda Lab: execution environments run as process groups, without namespaces ({self.reason}): "
                "functions are kept from each other's Runtime API, not from each other's files and processes.")


@dataclass(frozen=True)
class SandboxPlan:
    """What the launcher mounts: everything else of the machine stays out of sight."""

    root: str  # an empty directory to build the new root on
    tmp: str  # the environment's /tmp
    cloud_port: int
    shm_bytes: int
    binds: list[tuple[str, str]] = field(default_factory=list)  # (host path, path inside), read-only
    system: tuple[str, ...] = SYSTEM_PATHS

    def to_json(self) -> str:
        return json.dumps({"root": self.root, "tmp": self.tmp, "cloud_port": self.cloud_port,
                           "shm_bytes": self.shm_bytes, "binds": self.binds, "system": list(self.system)})


def runtime_paths(runtime_site: Path | None, executable: str | None) -> list[str]:
    """The host paths a runtime needs as they are: the interpreter (the Python runtime is the
    launcher's own, already running), what the SDK's links point to, the runtimes' own code."""
    paths = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)), str(HERE / "runtimes")]
    if runtime_site is not None:
        try:
            paths += [os.path.realpath(entry.path) for entry in os.scandir(runtime_site)]
        except OSError:
            pass
    if executable and os.path.isabs(executable):
        real = os.path.realpath(executable)
        paths.append(os.path.dirname(os.path.dirname(real)))  # its prefix: bin/ and lib/ beside it
    return paths


def placed(task_root: Path, opt_dir: Path | None, runtime_site: Path | None,
           cache_dir: Path | None) -> list[tuple[str, str]]:
    """The environment's own directories and where AWS has them (the cache of compiled runtimes
    has no AWS place: it goes beside the runtime)."""
    places = [(str(task_root), TASK_ROOT)]
    if opt_dir is not None:
        places.append((str(opt_dir), OPT))
    if runtime_site is not None:
        places.append((str(runtime_site), RUNTIME_SITE))
    if cache_dir is not None and cache_dir.exists():
        places.append((str(cache_dir), RUNTIME_CACHE))
    return places


def plan_binds(paths: list[str], places: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Identity binds for the paths no system path or other bind already covers, then the places."""
    covered = [p for p in SYSTEM_PATHS if os.path.isdir(p) and not os.path.islink(p)]
    for link in (p for p in SYSTEM_PATHS if os.path.islink(p)):
        covered.append(os.path.realpath(link))
    chosen: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)}, key=len):
        if not any(path == done or path.startswith(done.rstrip("/") + "/") for done in covered + chosen):
            chosen.append(path)
    return [(path, path) for path in chosen] + list(places)


def inside_paths(arguments: list[str], places: list[tuple[str, str]]) -> list[str]:
    """A runtime command built with host paths, as the sandbox sees them (/var/task, /opt...)."""
    rewritten = []
    for argument in arguments:
        for host, inside in places:
            argument = argument.replace(host, inside)
        rewritten.append(argument)
    return rewritten


# --- deciding, once per cloud --------------------------------------------------------------------

def choose(setting: str, work_dir: Path, cloud_port: int) -> SandboxChoice:
    if setting not in MODES:
        raise SandboxUnavailable(f"LAMBDALAB_SANDBOX must be one of {', '.join(MODES)}, not {setting!r}")
    if setting == PROCESS_GROUP:
        return SandboxChoice(PROCESS_GROUP, "the sandbox setting asks for process groups")
    refusal = probe(work_dir, cloud_port)
    if refusal is None:
        return SandboxChoice(NAMESPACES)
    if setting == NAMESPACES:
        raise SandboxUnavailable(f"LAMBDALAB_SANDBOX=namespaces, but this machine refuses them: {refusal}")
    return SandboxChoice(PROCESS_GROUP, f"this machine refuses them: {refusal}")


def probe(work_dir: Path, cloud_port: int) -> str | None:
    """Build one sandbox as an environment would and run `true` in it; None if it worked, else why not."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux's, and this is {sys.platform}"
    root, tmp = work_dir / "probe-root", work_dir / "probe-tmp"
    for path in (root, tmp):
        path.mkdir(parents=True, exist_ok=True)
    true = "/usr/bin/true" if os.path.exists("/usr/bin/true") else "/bin/true"
    plan = SandboxPlan(str(root), str(tmp), cloud_port, 1 << 20,
                       plan_binds(runtime_paths(None, None), placed(work_dir, None, None, None)))
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), true],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LAMBDALAB_SANDBOX_PLAN": plan.to_json(),
                 "LAMBDALAB_SANDBOX_FD": str(theirs.fileno()), "LAMBDA_TASK_ROOT": TASK_ROOT},
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        theirs.close()
        ours.settimeout(30)
        answer, fds = receive(ours)
        for fd in fds:
            os.close(fd)
        _, error = process.communicate(timeout=30)
    except (OSError, subprocess.SubprocessError, socket.timeout) as exc:
        return f"the probe failed ({exc})"
    finally:
        ours.close()
    if answer.get("error"):
        return answer["error"]
    if process.returncode != 0:
        return f"the probe's sandbox exited with {process.returncode}: {error.decode(errors='replace').strip()[-300:]}"
    return None


def receive(control: socket.socket) -> tuple[dict, list[int]]:
    """The launcher's first word: {"ok": true} with the two listening sockets, or {"error": ...}."""
    message, fds, _, _ = socket.recv_fds(control, 65536, 2)
    if not message:
        return {"error": "sandbox: the launcher ended before it was ready"}, fds
    try:
        return json.loads(message), fds
    except ValueError:
        return {"error": f"sandbox: unreadable answer {message[:80]!r}"}, fds
