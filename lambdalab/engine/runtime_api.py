"""AWS's Runtime API (2018-06-01), served to one execution environment.

The runtime process inside the environment polls ``GET /runtime/invocation/next``, runs the
handler and posts the outcome back, exactly as on AWS: this is what lets any language's
runtime (ours or a learner's own ``bootstrap``) run here. Each environment gets its own
server, reachable by that environment alone (see RuntimeApi).
"""

from __future__ import annotations

import collections
import http
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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

    A warm invoke is on the caller's critical path twice here, so the HTTP is served by a small
    loop of its own (http.server parses headers with the email package, ten times the work) and
    an event is written by the invoking thread straight onto the connection the runtime parked in
    ``GET /next``, with no hand-over to another thread in between.
    """

    def __init__(self, response_limit_bytes: int, acceptor: Acceptor, sealed: bool,
                 on_activity: "Callable[[], None] | None" = None,
                 on_idle: "Callable[[], None] | None" = None,
                 before_delivery: "Callable[[], None] | None" = None) -> None:
        # Events delivered while the runtime was not (yet) parked in GET /next.
        self._pending: collections.deque[Invocation] = collections.deque()
        # on_idle runs when the runtime asks for work and none is waiting (AWS freezes the
        # environment then); before_delivery runs before work is handed over (thaw). The lock
        # makes "nothing waiting, so freeze and park" and "thaw, then hand over" exclusive.
        self._handover = threading.Lock()
        self._parked: _Connection | None = None
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
        self.closed = False
        self._on_activity = on_activity or (lambda: None)
        self._acceptor = acceptor
        self.secret_prefix = "" if sealed else "/" + secrets.token_urlsafe(24)
        self._listener: socket.socket | None = None
        if not sealed:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            self.serve(listener)

    def serve(self, listener: socket.socket) -> None:
        """Answer the runtime's connections on listener (in a sandbox: the one its launcher handed over)."""
        self._listener = listener
        self._acceptor.add(listener, self._connected)

    def _connected(self, connection: socket.socket) -> None:
        if self.closed:
            connection.close()
            return
        threading.Thread(target=_Connection(self, connection).serve, name="runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        if not self.secret_prefix:
            return SANDBOX_ADDRESS
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}{self.secret_prefix}"

    def deliver(self, invocation: Invocation) -> None:
        """Hand the event over: written at once if the runtime waits in GET /next, else kept for it."""
        with self._handover:
            self._before_delivery()
            self.current = invocation
            parked, self._parked = self._parked, None
            if parked is None:
                self._pending.append(invocation)
                return
            self.asking.clear()
        parked.hand(invocation)

    def close(self) -> None:
        with self._handover:
            self.closed = True
            parked, self._parked = self._parked, None
        if parked is not None:
            parked.hand(None)
        if self._listener is not None:
            self._acceptor.remove(self._listener)

    # Called from the connections' threads.
    def _next(self, connection: "_Connection") -> Invocation | None | bool:
        """The event for GET /next: an Invocation, None if the environment is ending, or True
        once the connection is parked (the event will be written onto it by deliver())."""
        self.asking.set()
        with self._handover:
            if self._pending:
                self.asking.clear()
                item: Invocation | None | bool = self._pending.popleft()
            elif self.closed:
                item = None
            else:
                self._on_idle()
                self._parked = connection
                item = True
        if not self.ready.is_set():
            self.ready_at = time.monotonic()
            self.ready.set()
            self._on_activity()
        return item

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


# --- the HTTP of one connection --------------------------------------------------------------------

_MAX_HEAD_BYTES = 64 * 1024
_RECEIVE_BYTES = 256 * 1024


class _BadRequest(Exception):
    """The request cannot be read as HTTP/1.1: answered 400 and the connection closed."""


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    body_length: int  # as sent; the body kept is cut at the response limit
    keep_alive: bool


class _Connection:
    """One connection of the runtime: requests read and answered in order, HTTP/1.1 keep-alive."""

    def __init__(self, api: RuntimeApi, sock: socket.socket) -> None:
        self.api = api
        self.sock = sock
        self._buffer = b""
        self._handed = threading.Event()
        self._handed_over_ok = True
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def serve(self) -> None:
        try:
            while not self.api.closed:
                try:
                    request = self._read_request()
                except _BadRequest as bad:
                    self._send(400, json.dumps({"errorMessage": str(bad), "errorType": "InvalidRequest"}).encode())
                    return
                if request is None or not self._answer(request) or not request.keep_alive:
                    return
        except OSError:  # a runtime killed mid-request (timeout, reset) drops its connection
            pass
        finally:
            self.sock.close()

    # --- answering ----------------------------------------------------------------------------

    def _answer(self, request: _Request) -> bool:
        """Answer one request; False when the connection must end."""
        prefix = self.api.secret_prefix
        if not request.path.startswith(prefix + "/"):
            self._send(403, b'{"errorMessage":"not this environment\'s Runtime API","errorType":"AccessDenied"}')
            return False
        path = request.path[len(prefix):]
        if request.method == "GET":
            if path != f"{API_PREFIX}/runtime/invocation/next":
                return self._send(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}')
            return self._next()
        if request.method == "POST":
            return self._post(path, request)
        return self._send(405, b'{"errorMessage":"method not allowed","errorType":"InvalidRequest"}')

    def _next(self) -> bool:
        item = self.api._next(self)
        if item is True:  # parked: deliver() writes the event, or close() the 410
            while not self._handed.wait(1.0):
                if self.api.closed and self.api._parked is not self:
                    return False
            self._handed.clear()
            return self._handed_over_ok
        if item is None:
            self._send(410, b'{"errorMessage":"environment shutting down"}')
            return False
        self.sock.sendall(_event_response(item))
        return True

    def hand(self, invocation: Invocation | None) -> None:
        """Called by the invoking (or closing) thread while this connection is parked in GET /next."""
        try:
            if invocation is None:
                self._handed_over_ok = False
                self.sock.sendall(_response(410, b'{"errorMessage":"environment shutting down"}'))
            else:
                data = _event_response(invocation)
                try:  # one system call when the socket's buffer has room, as it has for any runtime that reads
                    sent = self.sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    # Bounded: a runtime that asks and does not read holds the invoke no longer than
                    # its timeout would.
                    self.sock.settimeout(max(0.001, invocation.deadline_epoch_ms / 1000 - time.time()))
                    try:
                        self.sock.sendall(data[sent:])
                    finally:
                        self.sock.settimeout(None)
                self._handed_over_ok = True
        except OSError:
            self._handed_over_ok = False
        finally:
            self._handed.set()

    def _post(self, path: str, request: _Request) -> bool:
        api = self.api
        error_type = request.headers.get("lambda-runtime-function-error-type")
        if path == f"{API_PREFIX}/runtime/init/error":
            api._init_failed(RuntimeReply(False, request.body, error_type))
            return self._send(202, b'{"status":"OK"}')
        match = _RESPONSE_PATH.match(path)
        if not match:
            return self._send(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}')
        request_id, outcome = match.groups()
        if outcome == "response":
            too_large = request.body_length > api._response_limit
            reply = RuntimeReply(not too_large, b"" if too_large else request.body, too_large=too_large)
        else:
            reply = RuntimeReply(False, request.body, error_type)
        if not api._reply(request_id, reply):
            return self._send(400, json.dumps({"errorMessage": f"Invalid request ID: {request_id}",
                                               "errorType": "InvalidRequestID"}).encode())
        if reply.too_large:
            return self._send(413, json.dumps({"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
                                               "errorType": "RequestEntityTooLarge"}).encode())
        return self._send(202, b'{"status":"OK"}')

    def _send(self, status: int, body: bytes) -> bool:
        self.sock.sendall(_response(status, body))
        return True

    # --- reading ------------------------------------------------------------------------------

    def _read_request(self) -> _Request | None:
        """The next request, None when the runtime closed the connection between requests."""
        head_bytes = self._until(b"\r\n\r\n", "request headers", between_requests=True)
        if head_bytes is None:
            return None
        lines = head_bytes.decode("latin-1").lstrip("\r\n").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"bad request line {lines[0][:100]!r}")
        method, path, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise _BadRequest(f"bad header line {line[:100]!r}")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, length = self._chunked_body()
        else:
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                raise _BadRequest("bad Content-Length") from None
            if length < 0:
                raise _BadRequest("bad Content-Length")
            body = self._exactly(length)
        return _Request(method, path, headers, body, length, keep_alive)

    def _keep_limit(self) -> int:
        return self.api._response_limit + 1

    def _exactly(self, length: int) -> bytes:
        """length bytes of body; past the response limit they are read and dropped, not kept."""
        keep = self._keep_limit()
        kept = [self._buffer[:min(length, keep)]]
        taken = len(self._buffer[:length])
        self._buffer = self._buffer[length:]
        kept_bytes = len(kept[0])
        while taken < length:
            data = self.sock.recv(min(_RECEIVE_BYTES, length - taken))
            if not data:
                raise _BadRequest("connection closed inside a request body")
            taken += len(data)
            if kept_bytes < keep:
                kept.append(data[:keep - kept_bytes])
                kept_bytes += len(kept[-1])
        return b"".join(kept)

    def _line(self) -> bytes:
        return self._until(b"\r\n", "chunked body")

    def _until(self, marker: bytes, what: str, between_requests: bool = False) -> bytes | None:
        """What comes before marker (taken off the buffer, marker and all). None only between
        requests, when the runtime closed the connection there; a close anywhere else is a 400."""
        end = self._buffer.find(marker)
        while end < 0:
            if len(self._buffer) > _MAX_HEAD_BYTES:
                raise _BadRequest(f"{what}: line too long")
            data = self.sock.recv(_RECEIVE_BYTES)
            if not data:
                if between_requests and not self._buffer.strip():
                    return None
                raise _BadRequest(f"connection closed inside the {what}")
            self._buffer += data
            end = self._buffer.find(marker)
        found, self._buffer = self._buffer[:end], self._buffer[end + len(marker):]
        return found

    def _chunked_body(self) -> tuple[bytes, int]:
        parts: list[bytes] = []
        total = kept = 0
        while True:
            try:
                size = int(self._line().split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                raise _BadRequest("bad chunk size") from None
            if size == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                return b"".join(parts), total
            chunk = self._exactly(size)
            total += size
            if kept < self._keep_limit():
                parts.append(chunk[:self._keep_limit() - kept])
                kept += len(parts[-1])
            if self._line():
                raise _BadRequest("chunk not followed by CRLF")


def _event_response(invocation: Invocation) -> bytes:
    headers = {
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_epoch_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id,
    }
    if invocation.client_context:
        headers["Lambda-Runtime-Client-Context"] = _ascii_json(invocation.client_context)
    if invocation.cognito_identity:
        headers["Lambda-Runtime-Cognito-Identity"] = _ascii_json(invocation.cognito_identity)
    return _response(200, invocation.payload, headers)


def _ascii_json(text: str) -> str:
    """A JSON header value in ASCII: other characters as JSON escapes, which every runtime's parser
    reads back exactly (a header is Latin-1 on the wire)."""
    if text.isascii():
        return text
    try:
        return json.dumps(json.loads(text))
    except ValueError:
        return text.encode("ascii", "backslashreplace").decode()


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, '')}",
             "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}
