"""CPU in proportion to memory, as Lambda gives it: memory/1,769 of one vCPU, without cgroups.

AWS gives a function one vCPU's worth of CPU time per 1,769 MB of memory, so CPU-bound code
at 128 MB runs about 14 times slower than at 1,769 MB; that is what makes power tuning worth
doing. Binder has no cgroups we could use, so the share is enforced the way a cgroup's
``cpu.max`` (quota per period) would, but from outside: one thread reads the CPU time each
busy environment's process group has used, and stops the group (SIGSTOP) once it has used its
share, continuing it (SIGCONT) when its time has come back.

Why CPU time, not wall time: a function that sleeps or waits for the network uses almost no
CPU and must not be slowed, just as on AWS; only what it really burns is counted. The CPU
time of a process is read with ``clock_gettime`` on its CPU clock (nanoseconds, one system
call, no /proc parsing), so even 3.6 ms slices are measured exactly.

The share is a token bucket: it fills at ``share`` CPU-seconds per second, holds at most one
period's worth (``share x period``, what cgroups call the quota), and what a process used is
taken out of it. At zero the group is stopped; it is continued when the bucket is full again,
so a CPU-bound function runs one quota, waits about one period, and so on. Overshoot (the
thread looks a little late) is a debt paid back before the group runs again, so over any run
longer than a few periods the CPU a function gets is its share, exactly.

A busy machine must not shrink the share. The bucket fills in wall-clock time, but a process
that is runnable while other processes hold every core cannot spend what comes in, and a full
bucket would throw that away: the function would get less than its share while its timeout,
in wall time, runs on. On AWS a function's share does not depend on its neighbours. So the
time the group spent waiting on a run queue (the kernel's ``run_delay``, from
/proc/<pid>/schedstat) is owed like time it spent stopped: what came in meanwhile is kept above
the one-period cap, and spent once the process gets a core. Only waiting for a core counts;
a process sleeping on I/O is not runnable and banks nothing.

An environment's group can be stopped for two reasons: its share is used up (here) or it is
idle and frozen between invokes (runtime_api.py asks the environment to freeze). GroupStops
keeps both, so the slicer never continues a frozen environment and a thaw never continues one
whose share is used up.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.settings import Settings
from . import processes

FROZEN = "frozen"
OUT_OF_CPU = "out of CPU share"

MIN_CHECK_INTERVAL_S = 0.001
FIRST_LOOK_DELAY_S = 0.002  # after an invoke begins (see _Account)
SLEEPING_RATE = 0.02  # a process using less than 2% of a core in its last interval is waiting, not computing
FAMILY_REFRESH_S = 0.5  # how often an environment is looked at for child processes


# --- how much CPU a function gets ----------------------------------------------------------------

def vcpu_share(memory_mb: int, settings: Settings) -> float:
    """How many vCPUs' worth of CPU time AWS gives this memory size (0.072 at 128 MB, 5.79 at 10,240 MB)."""
    return memory_mb / settings.memory_mb_per_vcpu


def aws_vcpus(memory_mb: int, settings: Settings) -> int:
    """How many vCPUs the function's share is spread over on AWS (6 at 10,240 MB)."""
    return max(1, math.ceil(vcpu_share(memory_mb, settings)))


def machine_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPUs this machine lets us use: the CPUs we may run on, less if a cgroup quota says so (Binder)."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup_root)
    return min(cpus, quota) if quota else cpus


def _cgroup_quota(root: Path) -> float | None:
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: -1 means no quota
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def init_note(memory_mb: int, settings: Settings, cpus: float | None = None) -> str | None:
    """A line for the function's log when its memory buys more CPU than this machine has."""
    cpus = machine_cpus() if cpus is None else cpus
    if vcpu_share(memory_mb, settings) <= cpus:
        return None
    return (f"lambdalab: this function's {memory_mb} MB would get {aws_vcpus(memory_mb, settings)} vCPUs on AWS "
            f"({vcpu_share(memory_mb, settings):.2f} vCPUs of CPU time); this machine has {cpus:g}, "
            f"so it gets {cpus:g}")


# --- the arithmetic ---------------------------------------------------------------------------------

@dataclass
class CpuBudget:
    """The token bucket of one environment, in CPU-seconds. Pure arithmetic: no clock, no signals."""

    share: float  # CPU-seconds per second (vCPUs)
    period_s: float
    tokens_s: float = math.nan  # CPU time left; a new bucket starts full
    running_rate: float = 1.0  # CPU-seconds per second lately, while it ran; 1.0 until measured

    def __post_init__(self) -> None:
        if math.isnan(self.tokens_s):
            self.tokens_s = self.capacity_s

    @property
    def capacity_s(self) -> float:
        """One period's quota: what cgroups' cpu.max would give per period."""
        return self.share * self.period_s

    def update(self, elapsed_s: float, used_s: float, stopped: bool, waited_s: float = 0.0) -> None:
        """elapsed_s of wall time passed, in which the group used used_s of CPU time and spent
        waited_s runnable but waiting for a core (other processes had them all).

        The bucket holds one quota, so an idle process banks no more than that; but time that
        came back while the group was stopped is owed in full (it wanted the CPU), even when
        the slicer looked late, else every late look would shave the share. So is the time it
        waited for a core: on AWS the neighbours do not take a function's share.
        """
        owed = self.share * min(max(waited_s, 0.0), elapsed_s)
        ceiling = math.inf if stopped else max(self.capacity_s, self.tokens_s) + owed
        self.tokens_s = min(ceiling, self.tokens_s + self.share * elapsed_s - used_s)
        if not stopped and elapsed_s > 0:
            # Smoothed over about half a period: a process that was runnable but not scheduled
            # for a few ms (a busy machine) is still computing, not waiting.
            weight = math.exp(-elapsed_s / (self.period_s / 2))
            self.running_rate = weight * self.running_rate + (1 - weight) * used_s / elapsed_s

    def start_invoke(self) -> None:
        """A new invoke: a debt from the last one is still paid, what it was owed and did not need is not kept."""
        self.tokens_s = min(self.tokens_s, self.capacity_s)

    def should_stop(self) -> bool:
        """Out of time, or so nearly that the next look could only come after it ran out."""
        return self.tokens_s <= MIN_CHECK_INTERVAL_S / 2

    def should_continue(self) -> bool:
        return self.tokens_s >= self.capacity_s * 0.999

    def seconds_until_next_look(self, stopped: bool) -> float:
        """When the slicer should look again: when the bucket is full (stopped), or could be empty (running).

        A waiting process (almost no CPU lately) is looked at once a period: if it starts
        computing it may overrun by up to a period, which it then pays back as debt.
        """
        if stopped:
            interval = (self.capacity_s - self.tokens_s) / self.share
        elif self.running_rate < SLEEPING_RATE:
            interval = self.period_s
        else:
            draining = max(self.running_rate, 1.0) - self.share  # it may speed up to a full core
            interval = self.tokens_s / draining if draining > 0 else self.period_s
            interval = min(interval, self.period_s)
        return max(interval, MIN_CHECK_INTERVAL_S)


# --- stopping a process group for more than one reason ------------------------------------------

class GroupStops:
    """Who holds an environment's process group stopped; it runs only when nobody does."""

    def __init__(self, pgid: int, escaped: Callable[[], list[int]] = list) -> None:
        self.pgid = pgid
        self._escaped = escaped  # the environment's processes outside the group (setsid): one by one
        self._lock = threading.Lock()
        self._reasons: set[str] = set()

    def _send(self, signum: int) -> None:
        processes.kill_group(self.pgid, signum)
        for pid in self._escaped():
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def hold(self, reason: str) -> None:
        with self._lock:
            if not self._reasons:
                self._send(signal.SIGSTOP)
            self._reasons.add(reason)

    def release(self, reason: str) -> None:
        with self._lock:
            if reason not in self._reasons:
                return
            self._reasons.discard(reason)
            if not self._reasons:
                self._send(signal.SIGCONT)

    def held(self, reason: str) -> bool:
        return reason in self._reasons

    @property
    def stopped(self) -> bool:
        return bool(self._reasons)


# --- CPU time of a process group ---------------------------------------------------------------

def process_cpu_ns(pid: int) -> int | None:
    """CPU time of every thread of pid, living and ended, from its kernel CPU clock (None once gone)."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    except OSError:
        return None


def run_delay_ns(pid: int) -> int | None:
    """How long pid (its main thread) has waited on a run queue, runnable but not running (None once gone)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None


def reaped_children_ns(pid: int) -> int:
    """CPU time of the children pid has waited for (cutime + cstime), so short-lived ones count too."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0


class GroupCpuClock:
    """CPU-seconds an environment's runtime and its child processes used since this clock was made.

    Never goes backwards: a child that ended but is not yet waited for drops out of the sum
    for a moment, and its time comes back in the runtime's reaped-children total.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._children: list[int] = []
        self._reaped_ns = 0
        self._family_seen_at = 0.0
        self._start_ns = self._total_ns(time.monotonic())
        self._highest_ns = self._start_ns
        self._delays: dict[int, int] = {}
        self.waited_seconds()

    def _total_ns(self, now: float) -> int:
        if now - self._family_seen_at >= FAMILY_REFRESH_S:
            self._family_seen_at = now
            self._children = processes.descendants(self.pid)
            self._reaped_ns = reaped_children_ns(self.pid)
        total = (process_cpu_ns(self.pid) or 0) + self._reaped_ns
        for child in self._children:
            total += process_cpu_ns(child) or 0
        return total

    def seconds(self, now: float) -> float:
        self._highest_ns = max(self._highest_ns, self._total_ns(now))
        return (self._highest_ns - self._start_ns) / 1e9

    def waited_seconds(self) -> float:
        """Since the last call: the longest any process of the group waited for a core.

        The longest, not the sum: two processes waiting at once wanted the CPU for the same
        wall time, and the share is owed per second of wall time."""
        longest, delays = 0, {}
        for pid in [self.pid, *self._children]:
            delay = run_delay_ns(pid)
            if delay is None:
                continue
            delays[pid] = delay
            if pid in self._delays:
                longest = max(longest, delay - self._delays[pid])
        self._delays = delays
        return longest / 1e9


# --- the slicer ------------------------------------------------------------------------------------

@dataclass
class _Kept:
    """What an environment's share remembers between invokes: a debt is paid in the next one."""

    pid: int
    budget: CpuBudget
    clock: GroupCpuClock
    cpu_s: float
    looked_at: float


class _Account:
    """One environment while it is being sliced (one invoke, or the Init phase if the setting says so)."""

    def __init__(self, environment: object, stops: GroupStops, kept: _Kept) -> None:
        self.environment = environment
        self.stops = stops
        self.kept = kept
        self.active = True
        self.starting = True  # the first look closes the idle time before the work: no rate from it
        # Not at once: a look at the moment of delivery competes with the delivery for the
        # interpreter, and most warm invokes are over in less. The CPU of those first
        # milliseconds is still counted: the look reads the group's total.
        self.next_look = time.monotonic() + FIRST_LOOK_DELAY_S
        self.lock = threading.Lock()

    def look(self, now: float) -> None:
        kept = self.kept
        cpu_s = kept.clock.seconds(now)
        with self.lock:
            if not self.active:
                return
            stopped = self.stops.held(OUT_OF_CPU)
            kept.budget.update(now - kept.looked_at, cpu_s - kept.cpu_s, stopped, kept.clock.waited_seconds())
            kept.cpu_s, kept.looked_at = cpu_s, now
            if self.starting:  # work is starting: assume it computes until a look says otherwise
                kept.budget.running_rate, self.starting = 1.0, False
            if stopped and kept.budget.should_continue():
                self.stops.release(OUT_OF_CPU)
                stopped = False
            elif not stopped and kept.budget.should_stop():
                self.stops.hold(OUT_OF_CPU)
                stopped = True
            self.next_look = now + kept.budget.seconds_until_next_look(stopped)

    def end(self) -> None:
        with self.lock:
            self.active = False
            self.stops.release(OUT_OF_CPU)


class CpuShare:
    """The one thread that gives every busy environment its share of CPU time, and no more."""

    def __init__(self, settings: Settings, cpus: float | None = None) -> None:
        self._settings = settings
        self.cpus = machine_cpus() if cpus is None else cpus
        self._lock = threading.Lock()
        self._accounts: dict[int, _Account] = {}
        self._queue: list[tuple[float, int, _Account]] = []
        self._order = itertools.count()
        self._kept: "weakref.WeakKeyDictionary[object, _Kept]" = weakref.WeakKeyDictionary()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def applies_to(self, environment: object) -> bool:
        """Slicing is needed when the function's share is less than the machine can give."""
        settings = self._settings
        if not settings.cpu_share or getattr(environment, "stops", None) is None:
            return False
        phase = environment.phase.value
        if phase != "busy" and not (phase == "initializing" and settings.cpu_share_during_init):
            return False
        return vcpu_share(environment.spec.memory_mb, settings) < self.cpus

    def watch(self, environment: object) -> None:
        if not self.applies_to(environment):
            return
        stops, pid = environment.stops, environment.pid
        with self._lock:
            kept = self._kept.get(environment)
            if kept is None or kept.pid != pid:  # a new runtime process: a full bucket, a new clock
                budget = CpuBudget(vcpu_share(environment.spec.memory_mb, self._settings),
                                   self._settings.cpu_share_period_s)
                kept = _Kept(pid, budget, GroupCpuClock(pid), 0.0, time.monotonic())
                self._kept[environment] = kept
            kept.budget.start_invoke()
            account = _Account(environment, stops, kept)
            previous = self._accounts.pop(id(environment), None)
            self._accounts[id(environment)] = account
            heapq.heappush(self._queue, (account.next_look, next(self._order), account))
            self._start_thread()
        if previous is not None:
            previous.end()
        self._wake.set()

    def unwatch(self, environment: object) -> None:
        with self._lock:
            account = self._accounts.pop(id(environment), None)
        if account is not None:
            account.end()

    def sliced(self) -> int:
        """How many environments are being sliced now."""
        with self._lock:
            return len(self._accounts)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        with self._lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
        for account in accounts:
            account.end()

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cpu-share", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            now = time.monotonic()
            due: list[_Account] = []
            with self._lock:
                while self._queue and self._queue[0][0] <= now:
                    _, _, account = heapq.heappop(self._queue)
                    if account.active:
                        due.append(account)
            for account in due:
                try:
                    account.look(now)
                except Exception:  # one environment's trouble must not stop the slicing of the others
                    account.end()
                    continue
                with self._lock:
                    if account.active:
                        heapq.heappush(self._queue, (account.next_look, next(self._order), account))
            with self._lock:
                wait = (self._queue[0][0] - time.monotonic()) if self._queue else None
            if wait is None or wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
