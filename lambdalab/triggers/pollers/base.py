"""The loop every poller shares: pump when there may be work, run batches on a small pool.

A poller never sleeps on a timer of its own. It pumps when something may have changed: a
message or record arrived (the source's hook signals it), a batch finished, or a moment it
booked on the cloud clock came (a batching window closes, a message becomes visible again, a
retry is due). In real time the clock's own thread wakes it; in virtual time an advance
does, and waits (through :meth:`Poller.busy`) until the pump and every batch it started are
done before time moves on. So a notebook that advances the clock sees the same batches, in the
same order, every time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...core.clock import CloudClock, Timer
from ..services import CloudServices
from .mapping import Mapping

log = logging.getLogger(__name__)

# In real time a poller also looks at its source this often, in case a change came without a
# signal (a learner's ChangeMessageVisibility, say). In virtual time only signals wake it.
RESCAN_S = 1.0


class Poller:
    """One mapping's poller. It is handed the cloud (its clock, its event flow, its engine and metrics)
    rather than finding them: a poller belongs to the cloud whose mapping made it."""

    def __init__(self, mapping: Mapping, cloud: CloudServices, workers: int) -> None:
        self.mapping = mapping
        self.cloud = cloud
        self._condition = threading.Condition()
        self._signalled = True  # the first pump looks at what is already waiting
        self._pumping = False
        self._in_flight = 0
        self._stopped = False
        self._wake_timers: dict[str, Timer] = {}  # purpose -> the clock's Timer
        self._executor = ThreadPoolExecutor(max_workers=max(workers, 1),
                                            thread_name_prefix=f"esm-{mapping.uuid[:8]}-batch")
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping.uuid[:8]}", daemon=True)

    # --- what subclasses implement ---------------------------------------------------------------

    def pump(self) -> None:
        """Look at the source and start what batches may start now; book a wake-up for later ones."""
        raise NotImplementedError

    # --- life ------------------------------------------------------------------------------------

    @property
    def clock(self) -> CloudClock:
        return self.cloud.clock

    def start(self) -> "Poller":
        self._thread.start()
        return self

    def stop(self) -> None:
        """For good (the mapping was deleted, or the account emptied). A batch already running finishes."""
        with self._condition:
            self._stopped = True
            for timer in self._wake_timers.values():
                timer.cancel()
            self._wake_timers.clear()
            self._condition.notify_all()
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def signal(self) -> None:
        """Something may have changed: pump soon."""
        with self._condition:
            self._signalled = True
            self._condition.notify_all()

    def busy(self) -> bool:
        """True while a pump is due or running, or a batch is in flight (the clock's busy check)."""
        with self._condition:
            return not self._stopped and (self._signalled or self._pumping or self._in_flight > 0)

    def describe(self) -> dict[str, Any]:
        """The poller's state, for the admin view and for tests."""
        with self._condition:
            return {"busy": self.busy(), "signalled": self._signalled, "pumping": self._pumping,
                    "in_flight": self._in_flight, "stopped": self._stopped,
                    "wake_ups": {key: timer.when for key, timer in self._wake_timers.items()},
                    **self._describe_source()}

    def _describe_source(self) -> dict[str, Any]:
        return {}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # --- scheduling ------------------------------------------------------------------------------

    def wake_at(self, when: float, reason: str, key: str | None = None) -> None:
        """Pump again at clock time `when`. One wake-up per purpose (`key`, the reason by default): a new
        moment for it replaces the old one, so the clock never fires a wake-up nobody needs any more
        (a notebook's advance lists what it ran, and should list only what happened).

        The moment is kept exactly as given: the pump that runs then compares the clock with the
        same number, so a window that closes at `when` is closed when the wake-up comes."""
        key = key or reason
        with self._condition:
            if self._stopped:
                return
            current = self._wake_timers.get(key)
            if current is not None and current.when == when and not current.cancelled:
                return
            if current is not None:
                current.cancel()
            name = f"{self.mapping.source_name} -> lambda:{self.mapping.function_name}: {reason}"
            booked: dict[str, Timer] = {}
            booked["timer"] = self.clock.call_at(when, lambda: self._woken(key, booked), name)
            self._wake_timers[key] = booked["timer"]

    def cancel_wake(self, key: str) -> None:
        with self._condition:
            timer = self._wake_timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def has_wake(self, key: str) -> bool:
        with self._condition:
            return key in self._wake_timers

    def _woken(self, key: str, booked: dict[str, Timer]) -> None:
        with self._condition:  # held by wake_at until booked["timer"] is set, however soon the timer fires
            if self._wake_timers.get(key) is booked.get("timer"):
                del self._wake_timers[key]
            self._signalled = True
            self._condition.notify_all()

    def dispatch(self, batch_work: Callable[[], None]) -> None:
        """Run one batch on the pool; when it ends, the poller pumps again."""
        with self._condition:
            if self._stopped:
                return
            self._in_flight += 1
        try:
            self._executor.submit(self._run_batch, batch_work)
        except RuntimeError:  # stopped in between: the batch is left to its source, as AWS leaves it
            with self._condition:
                self._in_flight -= 1

    def _run_batch(self, batch_work: Callable[[], None]) -> None:
        try:
            batch_work()
        except Exception:  # a broken batch must not stop the poller
            log.exception("lambdalab: a batch of %s failed in the poller", self.mapping.source_name)
        finally:
            with self._condition:
                self._in_flight -= 1
                self._signalled = True
                self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._signalled and not self._stopped:
                    notified = self._condition.wait(RESCAN_S)
                    if not notified and not self.clock.is_virtual:
                        self._signalled = True
                if self._stopped:
                    return
                self._signalled = False
                self._pumping = True
            try:
                if self.mapping.enabled:
                    self.pump()
            except Exception:  # the source changed under us (deleted, reset): the next pump sees it
                log.exception("lambdalab: the poller of %s failed", self.mapping.source_name)
            finally:
                with self._condition:
                    self._pumping = False
