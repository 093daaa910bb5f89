"""The cloud's own requests under /lambdalab/ (not AWS APIs): what the console views, the clock
and the checks ask the cloud for.

Each cloud has one :class:`AdminRoutes`; the parts of the cloud add theirs when the cloud is
wired together (a trigger module in its ``install``), so a handler closes over the very cloud
it answers for instead of finding it through a global. The server answers them after checking
the X-Lambdalab-Token header, so only the learner's own tools can use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class AdminRequest:
    """One request: its query parameters (first value of each) and its JSON body, if any."""

    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @classmethod
    def from_environ(cls, environ: dict) -> "AdminRequest":
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        body = None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            raw = environ["wsgi.input"].read(length)
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                raise AdminError(400, "the request body is not JSON") from None
        return cls(query, body)


class AdminError(Exception):
    """A bad admin request: answered with this status and message instead of a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[AdminRequest], Any]


class AdminRoutes:
    """METHOD /lambdalab/... -> handler(request) -> a JSON-able answer."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        if not path.startswith("/lambdalab/"):
            raise ValueError(f"admin paths start with /lambdalab/: {path}")
        self._routes[(method.upper(), path)] = handler

    def find(self, method: str, path: str) -> Handler | None:
        return self._routes.get((method.upper(), path))
