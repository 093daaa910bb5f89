"""The local front door: one HTTP server on 127.0.0.1 that answers every function URL and API.

It is started on demand (the first CreateFunctionUrlConfig or CreateApi asks for its address)
on a random free port, and stopped when the account is reset or the cloud ends. The first
segment of a request's path names the site (a function URL's id, an API's id); each kind of
site registers a resolver that recognises its own ids, so the server knows nothing of Lambda.

Each cloud has one (function URLs and APIs share its port): the wiring makes it and hands it to
the HTTP trigger modules as ``cloud.front_door``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .messages import HttpRequest, HttpResponse, json_response

HOST = "127.0.0.1"


class Site(Protocol):
    """What answers the requests under one first path segment."""

    def handle(self, request: HttpRequest) -> HttpResponse: ...


Resolver = Callable[[str], "Site | None"]


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: a notebook's cloud log should not fill with them."""

    server_version = "LambdaLab"
    sys_version = ""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class FrontDoor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._resolvers: list[Resolver] = []
        self._not_found: Callable[[HttpRequest], HttpResponse] = lambda _: json_response(404, {"message": "Not Found"})

    def add_resolver(self, resolver: Resolver) -> None:
        if resolver not in self._resolvers:
            self._resolvers.append(resolver)

    @property
    def running(self) -> bool:
        return self._server is not None

    def base_url(self) -> str:
        """http://127.0.0.1:<port>, starting the server if it is not running."""
        with self._lock:
            if self._server is None:
                self._server = make_server(HOST, 0, self._app, threaded=True, request_handler=_QuietHandler)
                self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                                name="http-front-door", daemon=True)
                self._thread.start()
            return f"http://{HOST}:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop answering; a later base_url() starts a new server on a new port."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # --- serving ------------------------------------------------------------------------------

    def _app(self, environ: dict, start_response: Callable) -> object:
        request = Request(environ)
        response = self.answer(_as_http_request(request, environ))
        wsgi_response = Response(response.body, status=response.status)
        wsgi_response.headers.clear()
        for name, value in response.headers:
            wsgi_response.headers.add(name, value)
        return wsgi_response(environ, start_response)

    def answer(self, request: HttpRequest) -> HttpResponse:
        """Hand the request to the site its first path segment names, with that segment taken off."""
        first = request.raw_path.split("/")[1] if request.raw_path.startswith("/") else ""
        for resolver in list(self._resolvers):
            site = resolver(first)
            if site is not None:
                try:
                    return site.handle(request.below(1))
                except Exception:  # a bug of ours must not look like the learner's function failing silently
                    import traceback
                    traceback.print_exc()
                    return json_response(500, {"message": "Internal Server Error (Lambda Lab front door)"})
        return self._not_found(request)


def _as_http_request(request: Request, environ: dict) -> HttpRequest:
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
    raw_path, _, raw_query = raw_uri.partition("?")
    host = request.headers.get("Host", f"{HOST}:{environ.get('SERVER_PORT', '')}")
    return HttpRequest(
        method=request.method.upper(),
        raw_path=raw_path or "/",
        raw_query=raw_query,
        headers=tuple(request.headers.items()),
        body=request.get_data(cache=False),
        source_ip=request.remote_addr or HOST,
        url=f"http://{host}{raw_uri}",
    )

