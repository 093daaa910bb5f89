"""The watcher: one thread that looks at every busy environment many times a second.

It enforces what AWS enforces while code runs (memory, processes, /tmp size) and notices a
runtime that died. Timeouts are not its job: the invoking thread waits exactly as long as
the function's timeout. It also reclaims idle environments and reaps orphaned processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..core.settings import MB, Settings
from . import errors, processes
from .cpu_share import CpuShare


class Watcher:
    def __init__(self, settings: Settings, on_housekeeping: Callable[[], None]) -> None:
        self._settings = settings
        self._on_housekeeping = on_housekeeping
        self.cpu_share = CpuShare(settings)  # busy environments also get their share of CPU, no more
        self._lock = threading.Lock()
        self._watched: dict[int, object] = {}
        self._last_tmp_check = 0.0
        self._last_housekeeping = 0.0
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="environment-watcher", daemon=True)
        self._thread.start()

    def watch(self, environment: object) -> None:
        with self._lock:
            self._watched[id(environment)] = environment
        self.cpu_share.watch(environment)
        self._wake.set()

    def unwatch(self, environment: object) -> None:
        with self._lock:
            self._watched.pop(id(environment), None)
        self.cpu_share.unwatch(environment)

    def stop(self) -> None:
        self._stopped = True
        self.cpu_share.stop()
        self._wake.set()

    def _run(self) -> None:
        tick = 0
        while not self._stopped:
            with self._lock:
                watched = list(self._watched.values())
            if not watched:
                self._wake.wait(0.5)
                self._wake.clear()
                # The first look comes one interval after an invoke began, not at once: most warm
                # invokes are over by then, and a look at the moment of delivery would compete with
                # the delivery itself for the interpreter. Nothing outgrows a limit unseen meanwhile
                # that the next look would not catch, since every look is an interval apart anyway.
                time.sleep(self._settings.watch_interval_s)
            else:
                tick += 1
                began = time.monotonic()
                self._check(watched, tick)
                # A pass over 1,000 busy environments takes longer than the interval: rest in
                # proportion, so the watcher keeps to about a fifth of a core however many there are.
                time.sleep(max(self._settings.watch_interval_s, (time.monotonic() - began) * 4))
            now = time.monotonic()
            if now - self._last_housekeeping >= 1.0:
                self._last_housekeeping = now
                try:
                    self._on_housekeeping()
                except Exception:  # housekeeping must never stop the watcher
                    pass

    def _check(self, environments: list, tick: int) -> None:
        settings = self._settings
        if tick % 10 == 0:
            for environment in environments:
                if not environment.has_family and _has_family(environment):
                    environment.has_family = True
        now = time.monotonic()
        check_tmp = now - self._last_tmp_check >= settings.tmp_watch_interval_s
        if check_tmp:
            self._last_tmp_check = now
        for environment in environments:
            pid = environment.pid
            if pid is None:
                continue
            code = environment.exit_code()
            if code is not None:
                environment.fail(errors.runtime_exited(environment.current_request_id, code))
                continue
            if environment.has_family and environment.family_root is not None:
                root = environment.family_root
                threads, resident = processes.tree_totals(root, include_root=root == pid)
            else:
                threads, resident = processes.threads_and_resident(pid)
            if environment.shm_dir is not None and check_tmp:
                environment.shm_bytes = processes.directory_bytes(environment.shm_dir)
            resident += environment.shm_bytes
            environment.note_memory(resident)
            if resident > environment.spec.memory_mb * MB:
                environment.fail(errors.out_of_memory(environment.current_request_id))
            elif threads > settings.max_processes:
                environment.fail(errors.runtime_exited(environment.current_request_id, -9))
            elif check_tmp:
                limit = environment.spec.ephemeral_storage_mb * MB
                used = processes.directory_bytes(environment.tmp_dir, stop_above=limit)
                if used > limit:
                    environment.fail(errors.ephemeral_storage_full(
                        environment.current_request_id, used / MB, environment.spec.ephemeral_storage_mb))


def _has_family(environment: object) -> bool:
    """More processes than the runtime: children of it, or orphans its sandbox's init adopted."""
    root, pid = environment.family_root, environment.pid
    if root is None:
        return False
    children = processes.child_pids(root)
    return len(children) > (1 if root != pid else 0) or (root != pid and bool(processes.child_pids(pid)))
