"""The cloud's own requests under /lambdalab/ (not AWS APIs): what the console views, the clock
and the checks ask the cloud for.

Any module of the cloud adds one with :func:`admin_route`; the server answers them after
checking the X-Lambdalab-Token header, so only the learner's own tools can use them.
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

    cloud: Any  # the LocalCloud answering
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @classmethod
    def from_environ(cls, cloud: Any, environ: dict) -> "AdminRequest":
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        body = None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            raw = environ["wsgi.input"].read(length)
            body = json.loads(raw) if raw.strip() else None
        return cls(cloud, query, body)


class AdminError(Exception):
    """A bad admin request: answered with this status and message instead of a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[AdminRequest], Any]
ROUTES: dict[tuple[str, str], Handler] = {}


def admin_route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register handler(request) -> JSON-able answer for METHOD /lambdalab/..."""
    if not path.startswith("/lambdalab/"):
        raise ValueError(f"admin paths start with /lambdalab/: {path}")

    def register(handler: Handler) -> Handler:
        ROUTES[(method.upper(), path)] = handler
        return handler

    return register
