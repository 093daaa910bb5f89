"""One thread that accepts connections on every environment's listening sockets.

Each environment has two: its Runtime API and (in a sandbox) the door to the cloud's AWS
endpoint. A thread blocked in accept() per socket would be two thousand threads for a thousand
environments; one selector costs one.
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from collections.abc import Callable

Handler = Callable[[socket.socket], None]
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Acceptor:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="environment-acceptor", daemon=True)
        self._thread.start()

    def add(self, listener: socket.socket, handler: Handler) -> None:
        listener.setblocking(False)
        with self._lock:
            self._selector.register(listener, selectors.EVENT_READ, handler)
        self._wake()

    def remove(self, listener: socket.socket) -> None:
        """Stop accepting on listener and close it (a runtime's pending connection is refused)."""
        with self._lock:
            try:
                self._selector.unregister(listener)
            except (KeyError, ValueError):
                pass
        self._wake()
        listener.close()

    def stop(self) -> None:
        self._stopped = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stopped:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    try:
                        while self._wake_read.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                self._accept(key.fileobj, key.data)

    def _accept(self, listener: socket.socket, handler: Handler) -> None:
        for _ in range(64):  # drain what is waiting, not forever
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _OUT_OF_DESCRIPTORS:
                    time.sleep(0.05)  # the runtime's connection waits in the backlog, not dies
                return
            connection.setblocking(True)
            try:
                handler(connection)
            except Exception:  # one environment's failure must not stop the others' doors
                connection.close()
