"""Processes of execution environments: starting them, measuring them, ending them.

No cgroups are assumed (Binder has none), so an environment is a process group in a session
of its own (sealed in namespaces where the kernel allows: sandbox.py), measured through /proc
over every process below it, and ended with one killpg (and, without a sandbox, one by one
for what left the group).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PR_SET_CHILD_SUBREAPER = 36


class Spawner:
    """Starts environment processes from one long-lived thread.

    Each environment asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), and
    for Linux that parent is the *thread* that forked it: forking from a request thread would
    kill the environment when the request ends. So every fork happens here.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="environment-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            args, kwargs, future = self._requests.get()
            try:
                future.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def popen(self, args: list[str], **kwargs: object) -> subprocess.Popen:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((args, kwargs, future))
        return future.result()


def become_subreaper() -> None:
    """Orphans of environment processes are re-parented to the cloud, not to init, so none escapes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def threads_and_resident(pid: int) -> tuple[int, int]:
    """(threads, resident bytes) of one process, from one read of /proc/<pid>/stat."""
    fields = _stat_fields(pid)
    try:
        return int(fields[17]), int(fields[21]) * PAGE_SIZE
    except (TypeError, IndexError, ValueError):
        return 0, 0


class PeakMemory:
    """VmHWM of one process, read after every invoke: the status file is opened once and re-read
    in place (procfs regenerates it on each read), which saves an open and a close per invoke."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._fd: int | None = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = None

    def bytes(self) -> int:
        if self._fd is None:
            return 0
        try:
            return _vm_hwm(os.pread(self._fd, 8192, 0))
        except OSError:  # the process is gone
            return 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _vm_hwm(status: bytes) -> int:
    start = status.find(b"VmHWM:")
    if start < 0:
        return 0
    try:
        return int(status[start + 6:status.index(b"kB", start)]) * 1024
    except ValueError:
        return 0


def child_pids(pid: int) -> list[int]:
    """Direct children of every thread of pid (a child belongs to the thread that forked it)."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                children.extend(int(text) for text in f.read().split())
        except OSError:
            continue
    return children


def descendants(pid: int) -> list[int]:
    """Every process below pid, children first (a child belongs to the thread that forked it)."""
    found, stack = [], [pid]
    while stack:
        children = child_pids(stack.pop())
        found += children
        stack += children
    return found


def _stat_fields(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2:].split()


def tree_totals(root: int, include_root: bool) -> tuple[int, int]:
    """(threads, resident bytes) of every process below root, and of root itself if asked.

    Threads, not processes: AWS's limit of 1,024 counts both, as the kernel's RLIMIT_NPROC does.
    A sandbox's init is not counted (AWS's own init is not the function's either).
    """
    threads = resident = 0
    for pid in ([root] if include_root else []) + descendants(root):
        fields = _stat_fields(pid)
        if fields is None or fields[0] == b"Z":
            continue
        try:
            threads += int(fields[17])
            resident += int(fields[21]) * PAGE_SIZE
        except (IndexError, ValueError):
            continue
    return threads, resident


def escaped_from_group(root: int, pgid: int) -> list[int]:
    """Processes below root that left process group pgid (setsid, setpgid): a killpg misses them."""
    escaped = []
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields is not None and len(fields) > 2 and fields[2] != str(pgid).encode():
            escaped.append(pid)
    return escaped


def kill_tree(root: int) -> None:
    """Stop, then kill, root and everything below it, however it left its group.

    Stopped first, all of them, so that none forks a replacement while the others are killed;
    twice, for what was being born during the first pass.
    """
    for _ in range(2):
        family = [root] + descendants(root)
        for pid in family:
            _signal(pid, signal.SIGSTOP)
        for pid in family:
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def directory_bytes(path: Path, stop_above: int | None = None) -> int:
    """Bytes of files under path; stops counting early once over stop_above."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
        if stop_above is not None and total > stop_above:
            return total
    return total


ENVIRONMENT_MARKER = b"LAMBDALAB_ENVIRONMENT_ID="


def _is_environment_process(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return ENVIRONMENT_MARKER in f.read()
    except OSError:
        return False


def _state_and_age(pid: int) -> tuple[bytes, float] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0], uptime - started


def sweep_orphans(known: set[int], min_age_s: float = 2.0) -> int:
    """End what environments left behind, and collect exit statuses.

    The cloud is a subreaper, so a process that escaped its environment's process group
    (setsid, a double fork) is re-parented here when its environment ends. Any child that
    is not a live environment's runtime, carries an environment's marker and is older than
    min_age_s (a runtime being started is younger) is killed with its group. Returns how many.
    """
    killed = 0
    for pid in child_pids(os.getpid()):
        if pid in known:
            continue
        state_age = _state_and_age(pid)
        if state_age is None:
            continue
        state, age = state_age
        if state == b"Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        elif age >= min_age_s and _is_environment_process(pid):
            try:
                kill_group(os.getpgid(pid))
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed
