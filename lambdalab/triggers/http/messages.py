"""One HTTP request and one HTTP response, as plain records.

The front door turns what its server received into an HttpRequest; the sites (function URLs,
HTTP APIs, REST APIs) answer with an HttpResponse. Keeping them apart from the server's own
types lets the event builders and the response mapping be tested without a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class HttpRequest:
    """What a client sent, with the site's prefix (/<url-id> or /<api-id>) already taken off `raw_path`."""

    method: str
    raw_path: str  # as sent, percent-encoding kept: "/items/a%20b"
    raw_query: str  # as sent, without "?": "a=1&a=2"
    headers: tuple[tuple[str, str], ...]  # as received, names as the client wrote them
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    url: str = ""  # the whole URL the client addressed (SigV4 signs it)

    @property
    def path(self) -> str:
        """The path decoded: "/items/a b"."""
        return unquote(self.raw_path) or "/"

    @property
    def port(self) -> str:
        """The port the client addressed (X-Forwarded-Port)."""
        return str(urlsplit(self.url).port or 80)

    def header(self, name: str) -> str | None:
        """The value of a header (all of its values joined by "," if it came more than once)."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None

    def query_values(self) -> dict[str, list[str]]:
        """Each query parameter with all its values, in order, decoded."""
        values: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.raw_query, keep_blank_values=True):
            values.setdefault(key, []).append(value)
        return values

    def cookies(self) -> list[str]:
        """The cookies of the Cookie headers, one "name=value" each (payload 2.0's `cookies`)."""
        cookies = []
        for key, value in self.headers:
            if key.lower() == "cookie":
                cookies += [part.strip() for part in value.split(";") if part.strip()]
        return cookies

    def below(self, prefix_segments: int) -> "HttpRequest":
        """The same request with the first `prefix_segments` path segments taken off (a stage name)."""
        parts = self.raw_path.split("/")
        rest = "/" + "/".join(parts[1 + prefix_segments:])
        return replace(self, raw_path=rest)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def with_headers(self, extra: list[tuple[str, str]]) -> "HttpResponse":
        """Headers added unless the response already sets them."""
        present = {key.lower() for key, _ in self.headers}
        return HttpResponse(self.status, self.headers + [(k, v) for k, v in extra if k.lower() not in present],
                            self.body)


def json_response(status: int, document: object, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    """An answer of the service itself (not of the function): compact JSON, as AWS writes it."""
    body = json.dumps(document, separators=(",", ":")).encode()
    return HttpResponse(status, [("Content-Type", "application/json")] + (headers or []), body)
