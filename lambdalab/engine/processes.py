"""Processes of execution environments: starting them, measuring them, ending them.

No cgroups are assumed (Binder has none), so an environment is a process group in a session
of its own, measured through /proc and ended with one killpg.
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


def peak_resident_bytes(pid: int) -> int:
    """VmHWM: the highest resident set the process ever had, so short spikes are not missed."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
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


def process_groups(pgids: set[int]) -> dict[int, tuple[int, int]]:
    """For each wanted process group: (number of processes, resident bytes), in one /proc pass."""
    totals: dict[int, list[int]] = {pgid: [0, 0] for pgid in pgids}
    if not pgids:
        return {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        try:
            pgid = int(fields[2])
        except (IndexError, ValueError):
            continue
        if pgid in totals:
            totals[pgid][0] += 1
            totals[pgid][1] += int(fields[21]) * PAGE_SIZE
    return {pgid: (count, rss) for pgid, (count, rss) in totals.items()}


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
