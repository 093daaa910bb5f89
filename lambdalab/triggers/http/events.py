"""Requests as the function sees them: API Gateway's payload formats 2.0 and 1.0.

Format 2.0 (HTTP APIs, and function URLs with the same keys): header names lowercased and
repeated values joined by commas, the Cookie header moved to a `cookies` list, query
parameters joined by commas, keys left out when there is nothing to put in them (cookies,
queryStringParameters, pathParameters, stageVariables, body). Function URLs always send
pathParameters and stageVariables as null, and requestContext.authentication as null.

Format 1.0 (REST APIs' Lambda proxy, and HTTP APIs that ask for it): `headers` and
`queryStringParameters` with the last value of each, `multiValueHeaders` and
`multiValueQueryStringParameters` with all of them, null where empty, and the identity block.

Bodies: format 2.0 sends text bodies (text/*, JSON, XML, JavaScript) as they are and every
other body base64-encoded with isBase64Encoded true, as API Gateway and Lambda do (a
form post arrives base64-encoded too). A REST API base64-encodes only bodies whose
Content-Type is one of the API's binaryMediaTypes, and passes the rest as UTF-8 text.
"""

from __future__ import annotations

import base64
import fnmatch
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from .messages import HttpRequest

_TEXT_SUFFIXES = ("json", "xml", "javascript", "ecmascript", "yaml", "x-yaml")
_ADDED_BY_AWS = ("x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")


@dataclass(frozen=True)
class Arrival:
    """Where and when the request arrived: the requestContext fields that are not the request's own."""

    api_id: str
    account_id: str
    domain_name: str
    domain_prefix: str
    stage: str
    route_key: str
    now: float  # the cloud clock's time
    request_id: str
    port: str = ""


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";")[0].strip().lower()
    if mime.startswith("text/"):
        return True
    subtype = mime.split("/")[-1]
    return any(subtype == suffix or subtype.endswith("+" + suffix) for suffix in _TEXT_SUFFIXES)


def matches_media_type(content_type: str | None, media_types: list[str]) -> bool:
    """Is `content_type` one of `media_types` (REST binaryMediaTypes; "*/*" and "image/*" allowed)?"""
    if not content_type:
        return False
    mime = content_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(mime, pattern.lower()) for pattern in media_types)


def _encoded_body(body: bytes, as_base64: bool) -> tuple[str, bool]:
    if as_base64:
        return base64.b64encode(body).decode(), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def trace_header(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def api_request_id() -> str:
    """Like API Gateway's ids ("JKJaXmPLvHcESHA="): 16 characters of base64."""
    return base64.b64encode(secrets.token_bytes(10)).decode().replace("+", "x").replace("/", "y")


def _time_fields(now: float) -> tuple[str, int]:
    moment = datetime.fromtimestamp(now, timezone.utc)
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    text = f"{moment.day:02d}/{months[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"  # locale-proof
    return text, int(now * 1000)


def _headers_as_received(request: HttpRequest, arrival: Arrival) -> list[tuple[str, str]]:
    """The request's headers plus the ones AWS's edge adds (trace id, X-Forwarded-*)."""
    present = {name.lower() for name, _ in request.headers}
    added = {"x-amzn-trace-id": trace_header(arrival.now), "x-forwarded-for": request.source_ip,
             "x-forwarded-port": arrival.port or "80", "x-forwarded-proto": "http"}
    return list(request.headers) + [(name, added[name]) for name in _ADDED_BY_AWS if name not in present]


# --- format 2.0 ----------------------------------------------------------------------------------

def version_2(request: HttpRequest, arrival: Arrival, *, raw_path: str | None = None,
              path_parameters: dict[str, str] | None = None, stage_variables: dict[str, str] | None = None,
              authorizer: dict[str, Any] | None = None, function_url: bool = False) -> dict[str, Any]:
    """A payload 2.0 event. `raw_path` is the path as the client sent it (with a named stage's prefix)."""
    raw_path = raw_path if raw_path is not None else request.raw_path
    headers: dict[str, str] = {}
    for name, value in _headers_as_received(request, arrival):
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    event: dict[str, Any] = {"version": "2.0", "routeKey": arrival.route_key, "rawPath": raw_path,
                             "rawQueryString": request.raw_query}
    cookies = request.cookies()
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = request.query_values()
    if query:
        event["queryStringParameters"] = {key: ",".join(values) for key, values in query.items()}
    time_text, epoch_ms = _time_fields(arrival.now)
    context: dict[str, Any] = {"accountId": arrival.account_id, "apiId": arrival.api_id}
    if function_url:
        context["authentication"] = None
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update({
        "domainName": arrival.domain_name, "domainPrefix": arrival.domain_prefix,
        "http": {"method": request.method, "path": unquote(raw_path) or "/", "protocol": "HTTP/1.1",
                 "sourceIp": request.source_ip, "userAgent": request.header("User-Agent") or ""},
        "requestId": arrival.request_id, "routeKey": arrival.route_key, "stage": arrival.stage,
        "time": time_text, "timeEpoch": epoch_ms,
    })
    event["requestContext"] = context
    if request.body:
        event["body"], event["isBase64Encoded"] = _encoded_body(request.body,
                                                                not is_text(request.header("Content-Type")))
    if function_url:
        event["pathParameters"] = None
    elif path_parameters:
        event["pathParameters"] = path_parameters
    event.setdefault("isBase64Encoded", False)
    if function_url:
        event["stageVariables"] = None
    elif stage_variables:
        event["stageVariables"] = stage_variables
    return event


# --- format 1.0 ----------------------------------------------------------------------------------

def version_1(request: HttpRequest, arrival: Arrival, *, resource: str, path: str, context_path: str,
              resource_id: str, path_parameters: dict[str, str] | None, stage_variables: dict[str, str] | None,
              base64_body: bool, lowercase_headers: bool = False) -> dict[str, Any]:
    """A payload 1.0 event (REST proxy). `path` is what the resource matched; `context_path` has the stage."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in _headers_as_received(request, arrival):
        key = name.lower() if lowercase_headers else name
        headers[key] = value
        multi_headers.setdefault(key, []).append(value)
    query = request.query_values()
    time_text, epoch_ms = _time_fields(arrival.now)
    body: str | None = None
    encoded = False
    if request.body:
        if base64_body:
            body, encoded = base64.b64encode(request.body).decode(), True
        else:
            body = request.body.decode("utf-8", "replace")
    user_agent = request.header("User-Agent")
    return {
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "requestContext": {
            "resourceId": resource_id,
            "resourcePath": resource,
            "httpMethod": request.method,
            "extendedRequestId": api_request_id(),
            "requestTime": time_text,
            "path": context_path,
            "accountId": arrival.account_id,
            "protocol": "HTTP/1.1",
            "stage": arrival.stage,
            "domainPrefix": arrival.domain_prefix,
            "requestTimeEpoch": epoch_ms,
            "requestId": arrival.request_id,
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                "sourceIp": request.source_ip, "principalOrgId": None, "accessKey": None,
                "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                "userAgent": user_agent, "user": None,
            },
            "domainName": arrival.domain_name,
            "apiId": arrival.api_id,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }
