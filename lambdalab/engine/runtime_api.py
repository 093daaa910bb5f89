"""AWS's Runtime API (2018-06-01), served to one execution environment.

The runtime process inside the environment polls ``GET /runtime/invocation/next``, runs the
handler and posts the outcome back, exactly as on AWS: this is what lets any language's
runtime (ours or a learner's own ``bootstrap``) run here. Each environment gets its own
server, reachable by that environment alone (see RuntimeApi).
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .acceptor import Acceptor

API_PREFIX = "/2018-06-01"
SANDBOX_ADDRESS = "127.0.0.1:9001"  # as on AWS
_RESPONSE_PATH = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")


@dataclass
class RuntimeReply:
    """What the runtime posted for one invocation."""

    succeeded: bool
    body: bytes
    error_type: str | None = None
    too_large: bool = False


@dataclass
class Invocation:
    """One event on its way to the runtime, and the runtime's reply once it comes."""

    request_id: str
    payload: bytes
    deadline_epoch_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    reply: RuntimeReply | None = None
    replied: threading.Event = field(default_factory=threading.Event)


class RuntimeApi:
    """The Runtime API endpoint of one environment; the engine feeds it invocations.

    Private to its environment either way: in a sandbox it is served on a socket only the
    sandbox's loopback reaches (its listener is handed over by the launcher, see serve()); without
    one, on a port of the machine's loopback whose every path must start with a secret that only
    the environment is given (AWS_LAMBDA_RUNTIME_API is then ``127.0.0.1:PORT/SECRET``).
    """

    def __init__(self, response_limit_bytes: int, acceptor: Acceptor, sealed: bool,
                 on_activity: "Callable[[], None] | None" = None,
                 on_idle: "Callable[[], None] | None" = None,
                 before_delivery: "Callable[[], None] | None" = None) -> None:
        self._events: queue.Queue[Invocation | None] = queue.Queue()
        # on_idle runs when the runtime asks for work and none is waiting (AWS freezes the
        # environment then); before_delivery runs before work is handed over (thaw). The lock
        # makes "nothing waiting, so freeze" and "thaw, then hand over" exclusive.
        self._handover = threading.Lock()
        self._on_idle = on_idle or (lambda: None)
        self._before_delivery = before_delivery or (lambda: None)
        self._response_limit = response_limit_bytes
        self.current: Invocation | None = None
        self.ready = threading.Event()  # set when the runtime first asks for work (init done)
        # Set while the runtime waits in GET /next: only then may an event be delivered, as on AWS
        # (a runtime that answered and then exited never asks again).
        self.asking = threading.Event()
        self.ready_at: float | None = None
        self.init_error: RuntimeReply | None = None
        self._closed = False
        self._on_activity = on_activity or (lambda: None)
        self._acceptor = acceptor
        self._server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=not sealed)
        self._server.api = self
        self.secret_prefix = "" if sealed else "/" + secrets.token_urlsafe(24)
        self._listener: socket.socket | None = None
        if not sealed:
            self.serve(self._server.socket)

    def serve(self, listener: socket.socket) -> None:
        """Answer the runtime's connections on listener (in a sandbox: the one its launcher handed over)."""
        self._listener = listener
        self._acceptor.add(listener, self._connected)

    def _connected(self, connection: socket.socket) -> None:
        self._server.process_request(connection, ("127.0.0.1", 0))

    @property
    def address(self) -> str:
        if not self.secret_prefix:
            return SANDBOX_ADDRESS
        host, port = self._server.server_address[:2]
        return f"{host}:{port}{self.secret_prefix}"

    def deliver(self, invocation: Invocation) -> None:
        with self._handover:
            self._before_delivery()
            self.current = invocation
            self._events.put(invocation)

    def close(self) -> None:
        self._closed = True
        self._events.put(None)
        if self._listener is not None:
            self._acceptor.remove(self._listener)
        self._server.server_close()

    # Called from the HTTP handler threads.
    def _next(self) -> Invocation | None:
        self.asking.set()
        with self._handover:
            if self._events.empty() and not self._closed:
                self._on_idle()
        if not self.ready.is_set():
            self.ready_at = time.monotonic()
            self.ready.set()
            self._on_activity()
        while not self._closed:
            try:
                item = self._events.get(timeout=1.0)
            except queue.Empty:
                continue
            self.asking.clear()
            return item
        return None

    def _reply(self, request_id: str, reply: RuntimeReply) -> bool:
        invocation = self.current
        if invocation is None or invocation.request_id != request_id or invocation.replied.is_set():
            return False
        invocation.reply = reply
        invocation.replied.set()
        self._on_activity()
        return True

    def _init_failed(self, reply: RuntimeReply) -> None:
        self.init_error = reply
        self._on_activity()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 16
    api: RuntimeApi

    def handle_error(self, request: object, client_address: object) -> None:
        """A runtime killed mid-request (timeout, reset) drops its connection: nothing to report."""
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by design
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        lines += [f"{key}: {value}" for key, value in all_headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _own_path(self) -> str | None:
        """The request's path without the environment's secret; None (and a 403 sent) if it lacks it."""
        prefix = self.server.api.secret_prefix
        if self.path.startswith(prefix + "/"):
            return self.path[len(prefix):]
        self.close_connection = True
        self._send(403, b'{"errorMessage":"not this environment\'s Runtime API","errorType":"AccessDenied"}')
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self._own_path()
        if path is None:
            return
        if path != f"{API_PREFIX}/runtime/invocation/next":
            self._send(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}')
            return
        invocation = self.server.api._next()
        if invocation is None:
            self.close_connection = True
            self._send(410, b'{"errorMessage":"environment shutting down"}')
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_epoch_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        self._send(200, invocation.payload, headers)

    def do_POST(self) -> None:  # noqa: N802
        path = self._own_path()
        if path is None:
            return
        body = self._body()
        api = self.server.api
        if path == f"{API_PREFIX}/runtime/init/error":
            api._init_failed(RuntimeReply(False, body, self.headers.get("Lambda-Runtime-Function-Error-Type")))
            self._send(202, b'{"status":"OK"}')
            return
        match = _RESPONSE_PATH.match(path)
        if not match:
            self._send(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}')
            return
        request_id, outcome = match.groups()
        if outcome == "response":
            too_large = len(body) > api._response_limit
            reply = RuntimeReply(not too_large, body, too_large=too_large)
        else:
            reply = RuntimeReply(False, body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
        if not api._reply(request_id, reply):
            self._send(400, json.dumps({"errorMessage": f"Invalid request ID: {request_id}",
                                        "errorType": "InvalidRequestID"}).encode())
            return
        if reply.too_large:
            self._send(413, json.dumps({"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
                                        "errorType": "RequestEntityTooLarge"}).encode())
            return
        self._send(202, b'{"status":"OK"}')
