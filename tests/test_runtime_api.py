"""The Runtime API's own HTTP, spoken to directly as a learner's hand-written bootstrap might.

The engine serves it with a small HTTP/1.1 loop of its own (engine/runtime_api.py), so what
http.server used to do for free is asserted here: keep-alive, chunked bodies, `Expect:
100-continue`, HTTP/1.0, and a clear 4xx for anything it cannot read.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from lambdalab.engine.acceptor import Acceptor
from lambdalab.engine.runtime_api import Invocation, RuntimeApi

LIMIT = 1000


@pytest.fixture()
def api():
    acceptor = Acceptor()
    api = RuntimeApi(LIMIT, acceptor, sealed=False)
    yield api
    api.close()
    acceptor.stop()


def connect(api: RuntimeApi) -> socket.socket:
    host, rest = api.address.split(":", 1)
    port = int(rest.split("/", 1)[0])
    sock = socket.create_connection((host, port), timeout=10)
    return sock


def prefix(api: RuntimeApi) -> str:
    return "/" + api.address.split("/", 1)[1]


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        body += sock.recv(65536)
    return status, headers, body


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def invocation(request_id: str = "r-1", payload: bytes = b'{"n": 1}') -> Invocation:
    return Invocation(request_id=request_id, payload=payload, deadline_epoch_ms=2**42,
                      invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                      trace_id="Root=1-0-0")


def next_event(api: RuntimeApi, sock: socket.socket, event: Invocation) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(f"GET {prefix(api)}/2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert api.asking.wait(10)
    threading.Thread(target=api.deliver, args=(event,)).start()
    return read_response(sock)


def test_an_event_and_its_answer_on_one_kept_alive_connection(api):
    sock = connect(api)
    event = invocation()
    status, headers, body = next_event(api, sock, event)
    assert (status, body) == (200, b'{"n": 1}')
    assert headers["lambda-runtime-aws-request-id"] == "r-1"
    assert headers["lambda-runtime-deadline-ms"] == str(2**42)
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n"
                 "Content-Length: 4\r\n\r\n\"ok\"".encode())
    assert read_response(sock)[0] == 202
    assert event.replied.is_set() and event.reply.succeeded and event.reply.body == b'"ok"'
    second = invocation("r-2")
    assert next_event(api, sock, second)[1]["lambda-runtime-aws-request-id"] == "r-2"


def test_a_chunked_answer_with_expect_100_continue_is_read_whole(api):
    sock = connect(api)
    event = invocation()
    next_event(api, sock, event)
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n"
                 "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n".encode())
    continued = sock.recv(100)
    assert continued.startswith(b"HTTP/1.1 100")
    sock.sendall(b"5\r\n{\"a\":\r\n3;ext=1\r\n 1}\r\n0\r\n\r\n")
    assert read_response(sock)[0] == 202
    assert json.loads(event.reply.body) == {"a": 1}


def test_an_error_posted_with_its_type_header(api):
    sock = connect(api)
    event = invocation()
    next_event(api, sock, event)
    body = b'{"errorMessage":"boom","errorType":"ValueError"}'
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/invocation/r-1/error HTTP/1.1\r\n"
                 f"Lambda-Runtime-Function-Error-Type: Unhandled\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    assert read_response(sock)[0] == 202
    assert not event.reply.succeeded and event.reply.error_type == "Unhandled" and event.reply.body == body


def test_an_answer_over_the_limit_is_refused_413_and_not_kept(api):
    sock = connect(api)
    event = invocation()
    next_event(api, sock, event)
    body = b"x" * (LIMIT * 5)
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    status, _, answer = read_response(sock)
    assert status == 413 and json.loads(answer)["errorType"] == "RequestEntityTooLarge"
    assert event.reply.too_large and len(event.reply.body) <= LIMIT + 1


def test_a_wrong_request_id_is_400_invalid_request_id(api):
    sock = connect(api)
    next_event(api, sock, invocation())
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/invocation/other/response HTTP/1.1\r\n"
                 "Content-Length: 2\r\n\r\n{}".encode())
    status, _, body = read_response(sock)
    assert status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET {p}/2018-06-01/runtime/invocation/nope HTTP/1.1\r\n\r\n", 404),
    (b"PUT {p}/2018-06-01/runtime/invocation/next HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
    (b"GET /no-secret/2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n", 403),
    (b"this is not http\r\n\r\n", 400),
    (b"POST {p}/2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST {p}/2018-06-01/runtime/init/error HTTP/1.1\r\nbad header line\r\n\r\n", 400),
])
def test_what_cannot_be_served_gets_a_clear_4xx(api, request_bytes, status):
    sock = connect(api)
    sock.sendall(request_bytes.replace(b"{p}", prefix(api).encode()))
    answer_status, headers, body = read_response(sock)
    assert answer_status == status
    assert headers["content-type"] == "application/json" and "errorType" in json.loads(body)


def test_http_1_0_closes_after_its_answer(api):
    sock = connect(api)
    sock.sendall(f"POST {prefix(api)}/2018-06-01/runtime/init/error HTTP/1.0\r\nContent-Length: 2\r\n\r\n{{}}".encode())
    assert read_response(sock)[0] == 202
    assert closed_by_server(sock)
    assert api.init_error is not None and not api.init_error.succeeded


def test_closing_answers_a_parked_runtime_410(api):
    sock = connect(api)
    sock.sendall(f"GET {prefix(api)}/2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n".encode())
    assert api.ready.wait(10)
    api.close()
    assert read_response(sock)[0] == 410
    assert closed_by_server(sock)


def test_an_event_delivered_before_the_runtime_asks_waits_for_it(api):
    api.deliver(invocation("early"))
    sock = connect(api)
    sock.sendall(f"GET {prefix(api)}/2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n".encode())
    status, headers, _ = read_response(sock)
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == "early"


def test_a_client_context_with_any_character_reaches_the_runtime_intact(api):
    sock = connect(api)
    event = invocation()
    event.client_context = json.dumps({"custom": {"name": "Zoë ✓"}}, ensure_ascii=False)
    _, headers, _ = next_event(api, sock, event)
    assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"name": "Zoë ✓"}}


def test_a_runtime_that_asks_and_never_reads_holds_a_big_event_no_longer_than_its_deadline(api):
    import time

    sock = connect(api)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {prefix(api)}/2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n".encode())
    assert api.asking.wait(10)
    event = invocation(payload=b"x" * (8 * 1024 * 1024))
    event.deadline_epoch_ms = int((time.time() + 1.0) * 1000)
    delivered = threading.Thread(target=api.deliver, args=(event,))
    delivered.start()
    delivered.join(30)
    assert not delivered.is_alive()  # the hand-over gave up at the deadline instead of hanging
