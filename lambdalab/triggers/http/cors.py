"""CORS as function URLs and HTTP APIs do it: preflights answered without invoking, headers added.

Both take the same settings (Lambda spells them AllowOrigins, API Gateway allowOrigins). With
CORS configured the service answers a preflight OPTIONS itself and adds the
Access-Control-Allow-* headers to the function's responses for an allowed Origin; without it,
OPTIONS goes to the function like any other method.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from .messages import HttpRequest, HttpResponse


@dataclass(frozen=True)
class CorsRules:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> "CorsRules | None":
        if not config:
            return None
        value = {key[0].lower() + key[1:]: item for key, item in config.items()}  # AllowOrigins -> allowOrigins
        return cls(
            allow_origins=tuple(value.get("allowOrigins") or ()),
            allow_methods=tuple(method.upper() for method in value.get("allowMethods") or ()),
            allow_headers=tuple(header.lower() for header in value.get("allowHeaders") or ()),
            expose_headers=tuple(value.get("exposeHeaders") or ()),
            allow_credentials=bool(value.get("allowCredentials")),
            max_age=value.get("maxAge"),
        )

    def allows_origin(self, origin: str) -> bool:
        return any(allowed == "*" or fnmatch.fnmatchcase(origin, allowed) for allowed in self.allow_origins)

    def is_preflight(self, request: HttpRequest) -> bool:
        return (request.method == "OPTIONS" and request.header("Origin") is not None
                and request.header("Access-Control-Request-Method") is not None)

    def preflight(self, request: HttpRequest) -> HttpResponse:
        """The answer to a preflight: the allowed methods and headers if the origin may ask."""
        origin = request.header("Origin") or ""
        if not self.allows_origin(origin):
            return HttpResponse(200)
        headers = self._origin_headers(origin)
        if self.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        if self.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return HttpResponse(200, headers)

    def decorate(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        origin = request.header("Origin")
        if origin is None or not self.allows_origin(origin):
            return response
        headers = self._origin_headers(origin)
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return HttpResponse(response.status, [h for h in response.headers if not h[0].lower().startswith(
            "access-control-")] + headers, response.body)

    def _origin_headers(self, origin: str) -> list[tuple[str, str]]:
        echoed = origin if (self.allow_credentials or "*" not in self.allow_origins) else "*"
        headers = [("Access-Control-Allow-Origin", echoed)]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if echoed != "*":
            headers.append(("Vary", "Origin"))
        return headers
