"""The cloud's clock: real time by default, or a virtual time a notebook moves forward.

Everything in the cloud that waits for a moment in time (async retries, schedules, batching
windows, visibility timeouts, idle environments being reclaimed, event ages) asks this clock
instead of ``time.time()`` and books its wake-up with :meth:`CloudClock.call_at`. In real time a
timer thread runs each callback when it is due. In virtual time nothing moves until
:meth:`CloudClock.advance`: then the due callbacks run one after another, in time order, with
the clock set to each one's moment, so a day of a ``rate(1 minute)`` schedule takes seconds
and a notebook sees the same sequence every time.

Between two steps of an advance the clock waits for the cloud to settle (every registered
*busy check* says idle): an async retry that is still running must finish, and book its next
retry, before time moves past the moment that retry is due.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Timer:
    """A callback booked for a moment; cancel() before it runs and it never will."""

    when: float
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


@dataclass(frozen=True)
class AdvanceReport:
    """What one advance did: where the clock went and which callbacks ran, in order."""

    started_at: float
    ended_at: float
    fired: list[tuple[float, str]]


class CloudClock:
    def __init__(self, settle_timeout_s: float = 60.0) -> None:
        self._lock = threading.RLock()
        self._timers: list[Timer] = []
        self._sequence = itertools.count()
        self._virtual_now: float | None = None
        # Real time runs on from wherever the clock was left: never backwards, so messages, retries
        # and schedules booked while the clock was advanced keep their distance from "now".
        self._offset_s = 0.0
        self._changed = threading.Condition(self._lock)
        self._busy_checks: list[Callable[[], bool]] = []
        self._time_listeners: list[Callable[[float], None]] = []
        self._advance_lock = threading.Lock()
        self._settle_timeout_s = settle_timeout_s
        self._stopped = False
        self._thread = threading.Thread(target=self._run_real_time_timers, name="cloud-clock", daemon=True)
        self._thread.start()

    # --- reading --------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the epoch, real or virtual."""
        virtual = self._virtual_now
        return time.time() + self._offset_s if virtual is None else virtual

    @property
    def is_virtual(self) -> bool:
        return self._virtual_now is not None

    # --- booking --------------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[[], None], name: str = "") -> Timer:
        """Run callback at clock time `when` (at once, if that has passed)."""
        with self._lock:
            timer = Timer(when, next(self._sequence), callback, name or getattr(callback, "__name__", "timer"))
            heapq.heappush(self._timers, timer)
            self._changed.notify_all()
        return timer

    def call_later(self, delay_s: float, callback: Callable[[], None], name: str = "") -> Timer:
        return self.call_at(self.now() + max(delay_s, 0.0), callback, name)

    def pending(self) -> list[tuple[float, str]]:
        """Timers still to run, soonest first (for the clock's view and for tests)."""
        with self._lock:
            return [(t.when, t.name) for t in sorted(self._timers) if not t.cancelled]

    def add_busy_check(self, is_busy: Callable[[], bool]) -> None:
        """An advance waits, before each step, until every busy check says False."""
        self._busy_checks.append(is_busy)

    def add_time_listener(self, listener: Callable[[float], None]) -> None:
        """listener(now) after the virtual time moved (idle reclaim, visibility timeouts)."""
        self._time_listeners.append(listener)

    # --- switching ------------------------------------------------------------------------------

    def use_virtual(self, start: float | None = None) -> None:
        """Stop real time: from now on the clock moves only when advanced."""
        with self._lock:
            self._virtual_now = self.now() if start is None else float(start)
            self._changed.notify_all()

    def use_real(self) -> None:
        """Let time run at real pace again, from the moment the clock stands at (not the wall clock's)."""
        with self._lock:
            if self._virtual_now is not None:
                self._offset_s = self._virtual_now - time.time()
            self._virtual_now = None
            self._changed.notify_all()

    def export_state(self) -> tuple[float | None, float]:
        """Where the clock stands (virtual time, or real time's offset), for the saved account. Timers are
        not kept: their owners book them again when they are restored (schedules, pollers)."""
        with self._lock:
            return self._virtual_now, self._offset_s

    def restore_state(self, saved: tuple[float | None, float]) -> None:
        with self._lock:
            self._virtual_now, self._offset_s = saved
            self._changed.notify_all()

    def reset(self) -> None:
        """Cancel every timer and go back to real time (the account is being emptied)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._virtual_now = None
            self._offset_s = 0.0
            self._changed.notify_all()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._changed.notify_all()

    # --- moving virtual time --------------------------------------------------------------------

    def advance(self, seconds: float) -> AdvanceReport:
        """Move virtual time forward by `seconds`, running every callback due on the way, in order."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        if not self.is_virtual:
            raise RuntimeError("the clock is real: switch to virtual time before advancing it")
        with self._advance_lock:
            started = self.now()
            target = started + seconds
            fired: list[tuple[float, str]] = []
            self.settle()
            while True:
                timer = self._pop_due(target)
                if timer is None:
                    break
                self._set_virtual(max(timer.when, self.now()))
                self._run(timer)
                fired.append((timer.when, timer.name))
                self.settle()
            self._set_virtual(target)
            self.settle()
            return AdvanceReport(started, target, fired)

    def settle(self) -> bool:
        """Wait until the cloud is idle (no async work in flight); False if it did not settle in time."""
        deadline = time.monotonic() + self._settle_timeout_s
        pause_s = 0.0002  # a warm invoke settles within milliseconds: look again soon, then less often
        while any(_safe(check) for check in list(self._busy_checks)):
            if time.monotonic() > deadline:
                return False
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.005)
        return True

    def _set_virtual(self, when: float) -> None:
        with self._lock:
            self._virtual_now = when
        for listener in list(self._time_listeners):
            try:
                listener(when)
            except Exception:  # a listener's failure must not stop time
                pass

    def _pop_due(self, until: float) -> Timer | None:
        with self._lock:
            while self._timers and self._timers[0].cancelled:
                heapq.heappop(self._timers)
            if self._timers and self._timers[0].when <= until:
                return heapq.heappop(self._timers)
            return None

    # --- real time ------------------------------------------------------------------------------

    def _run_real_time_timers(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                if self.is_virtual or not self._timers:
                    self._changed.wait(1.0)
                    continue
                wait_s = self._timers[0].when - self.now()
                if wait_s > 0:
                    self._changed.wait(min(wait_s, 1.0))
                    continue
                timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                threading.Thread(target=self._run, args=(timer,), name=f"timer-{timer.name}", daemon=True).start()

    @staticmethod
    def _run(timer: Timer) -> None:
        if timer.cancelled:
            return
        try:
            timer.callback()
        except Exception:  # one broken callback must not stop the clock
            pass


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
