"""The output of environments (stdout and stderr, one pipe each environment), as log lines.

One thread reads every environment's pipe, so a function printing 100 MB never blocks on a
full pipe, and what it prints is kept only up to a per-invocation budget.
"""

from __future__ import annotations

import os
import selectors
import threading
import time

from ..records.logs import LogLine


class OutputStream:
    """The lines one environment printed since they were last taken."""

    def __init__(self, fd: int, budget_bytes: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._partial = b""
        self._lines: list[LogLine] = []
        self._kept = 0
        self._dropped = 0
        self.closed = False

    def read_available(self) -> bool:
        """Read what the pipe holds now; False once the writer side is gone."""
        with self._lock:
            while True:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    return True
                except OSError:
                    chunk = b""
                if not chunk:
                    self.closed = True
                    return False
                self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        now = int(time.time() * 1000)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > 262_144:  # CloudWatch's largest event: split a huge line
            complete.append(self._partial)
            self._partial = b""
        for raw in complete:
            if self._kept + len(raw) > self._budget:
                self._dropped += len(raw) + 1
                continue
            self._kept += len(raw) + 1
            self._lines.append(LogLine(now, raw.decode("utf-8", "replace")))

    def take(self) -> tuple[list[LogLine], int]:
        """Everything printed so far (a trailing partial line included), and the bytes not kept."""
        self.read_available()
        with self._lock:
            if self._partial:
                self._lines.append(LogLine(int(time.time() * 1000), self._partial.decode("utf-8", "replace")))
                self._partial = b""
            lines, dropped = self._lines, self._dropped
            self._lines, self._kept, self._dropped = [], 0, 0
            return lines, dropped

    def close(self) -> None:
        with self._lock:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.closed = True


class OutputCollector:
    """The single reader thread behind every OutputStream."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._pending: list[tuple[str, OutputStream]] = []
        threading.Thread(target=self._run, name="environment-output", daemon=True).start()

    def attach(self, stream: OutputStream) -> None:
        self._change("add", stream)

    def detach(self, stream: OutputStream) -> None:
        """Stop reading the stream and close it (closing happens here, after unregistering,
        so a recycled descriptor number never meets a stale registration)."""
        self._change("remove", stream)

    def _change(self, action: str, stream: OutputStream) -> None:
        with self._lock:
            self._pending.append((action, stream))
        os.write(self._wake_w, b"x")

    def _apply_changes(self) -> None:
        with self._lock:
            changes, self._pending = self._pending, []
        for action, stream in changes:
            try:
                if action == "add" and not stream.closed:
                    self._selector.register(stream.fd, selectors.EVENT_READ, stream)
                elif action == "remove":
                    self._selector.unregister(stream.fd)
            except (KeyError, ValueError, OSError):
                pass
            if action == "remove":
                stream.close()

    def _run(self) -> None:
        while True:
            for key, _ in self._selector.select():
                stream = key.data
                if stream is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                if not stream.read_available():
                    try:
                        self._selector.unregister(stream.fd)  # EOF; closed on detach
                    except (KeyError, ValueError, OSError):
                        pass
            self._apply_changes()
