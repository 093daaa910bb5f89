"""A function's result as the HTTP response the client gets.

Format 2.0 (function URLs, HTTP APIs): a JSON object with a statusCode is a response: its
headers, cookies (one Set-Cookie each), body, and isBase64Encoded (the body is decoded back to
bytes). Any other valid JSON is inferred to be the body of a 200 with content-type
application/json: a JSON string is sent as its text, anything else as its JSON.

Format 1.0 (REST proxy, HTTP APIs asking for 1.0): the result must be an object with a
statusCode and a string body (REST APIs refuse any other key as a malformed proxy
response); headers and multiValueHeaders are both sent. A REST API decodes a base64 body only
when it has binaryMediaTypes and the request's Accept (or the response's Content-Type)
is one of them; otherwise the client gets the base64 text.

A result that breaks these rules is None: the caller answers with its service's error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .events import matches_media_type
from .messages import HttpResponse

_V1_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


def _parsed(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body or b"null")
    except ValueError:
        return False, None


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 100 <= value <= 599 else None
    if isinstance(value, str) and value.isdigit():
        return _status(int(value))
    return None


def _body_bytes(body: Any, is_base64: Any) -> bytes | None:
    if body is None:
        return b""
    text = body if isinstance(body, str) else json.dumps(body)
    if is_base64 is True:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return text.encode("utf-8")


def _header_pairs(headers: Any) -> list[tuple[str, str]] | None:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        return None
    return [(str(name), _header_text(value)) for name, value in headers.items() if value is not None]


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_version_2(result: bytes) -> HttpResponse | None:
    valid, value = _parsed(result)
    if not valid:
        return None
    if isinstance(value, dict) and "statusCode" in value:
        status = _status(value.get("statusCode"))
        headers = _header_pairs(value.get("headers"))
        body = _body_bytes(value.get("body"), value.get("isBase64Encoded"))
        cookies = value.get("cookies") or []
        if status is None or headers is None or body is None or not isinstance(cookies, list):
            return None
        headers += [("Set-Cookie", str(cookie)) for cookie in cookies]
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return HttpResponse(status, headers, body)
    text = value if isinstance(value, str) else json.dumps(value)
    return HttpResponse(200, [("Content-Type", "application/json")], text.encode("utf-8"))


def from_version_1(result: bytes, *, strict: bool, binary_media_types: list[str] | None = None,
                   accept: str | None = None) -> HttpResponse | None:
    """strict: a REST API (only the five keys, body a string); else an HTTP API's 1.0 format."""
    valid, value = _parsed(result)
    if not valid or not isinstance(value, dict) or "statusCode" not in value:
        return None
    if strict and (set(value) - _V1_KEYS or not isinstance(value.get("body"), (str, type(None)))):
        return None
    status = _status(value.get("statusCode"))
    headers = _header_pairs(value.get("headers"))
    multi = value.get("multiValueHeaders") or {}
    if status is None or headers is None or not isinstance(multi, dict):
        return None
    single = {name.lower() for name, _ in headers}
    for name, values in multi.items():
        if str(name).lower() in single:
            continue  # headers wins over multiValueHeaders for the same name
        headers += [(str(name), _header_text(item)) for item in (values if isinstance(values, list) else [values])]
    content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
    decode = value.get("isBase64Encoded") is True
    if strict and decode:  # REST: only a binary media type turns base64 back into bytes
        decode = bool(binary_media_types) and (matches_media_type(accept, binary_media_types)
                                               or matches_media_type(content_type, binary_media_types))
    body = _body_bytes(value.get("body"), decode)
    if body is None:
        return None
    if content_type is None:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, body)
