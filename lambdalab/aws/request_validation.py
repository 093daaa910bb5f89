"""Every request checked against botocore's model of the service before moto sees it.

moto trusts what it is sent: with botocore's client-side validation off (or from any other client)
``FunctionName=3``, ``MemorySize='abc'``, ``Layers=[None]`` or ``Handler=["x"]`` reach its code,
which answers HTML 500s or, worse, stores them (every later invoke of such a function was a 500).
AWS checks each request against the operation's input shape first, and so do we: the constraints
(types, required members, enums, lengths, patterns, ranges, list and map members) are read from the
same model botocore ships, never copied by hand.

How AWS words it (as recorded from real AWS in LocalStack's Lambda parity snapshots,
tests/aws/services/lambda_/test_lambda_api.snapshot.json, and in the project's own tests):

- a constraint: 400 ``ValidationException``, "1 validation error detected: Value '<v>' at
  '<member>' failed to satisfy constraint: Member must have length less than or equal to 64";
  several are joined: "2 validation errors detected: ...; ...". A missing member reads
  "Value null at 'x' failed to satisfy constraint: Member must not be null"; a list member
  "Value '[a]' at 'x' failed to satisfy constraint: Member must satisfy constraint: [...]".
  A sensitive value (environment variables) is not repeated: "Value at 'x' ...".
- a body that is not JSON, or a value of the wrong JSON type: 400 ``InvalidRequestContentException``,
  "Could not parse request body into json: ..." (the model documents the exception as "The request
  body could not be parsed as JSON, or a request header is invalid"); for an Invoke payload,
  "Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 middle
  byte 0x2d" and the like.

The engine's own checks (lambdalab/engine/validation.py: AWS's real quotas, which are tighter than
the model's, runtimes, zip sizes) still run afterwards, in moto's backend.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

try:  # AWS's patterns are Java regular expressions; the regex module reads more of them than re does.
    import regex as _regex
except ImportError:  # pragma: no cover - regex is pinned in requirements.txt
    _regex = re  # type: ignore[assignment]

from ..engine.validation import ApiError

# Jackson, which parses AWS's JSON, refuses documents nested deeper than this (StreamReadConstraints).
MAX_JSON_DEPTH = 1000
# Checks the engine words as AWS does with more context than the model has (the runtime enum's
# message ends "or be a valid ARN"): the model-driven layer leaves them to it.
_LEFT_TO_THE_ENGINE = {("CreateFunction", "Runtime"), ("UpdateFunctionConfiguration", "Runtime")}
# Longest rendering of a value inside a message (AWS repeats values whole; a 6 MB one is not useful).
_VALUE_CHARS = 1024
_INT_RANGES = {"integer": (-(2 ** 31), 2 ** 31 - 1), "long": (-(2 ** 63), 2 ** 63 - 1)}
_JAVA_TYPES = {"string": "java.lang.String", "integer": "java.lang.Integer", "long": "java.lang.Long",
               "boolean": "java.lang.Boolean", "float": "java.lang.Float", "double": "java.lang.Double",
               "blob": "java.nio.ByteBuffer", "timestamp": "java.util.Date", "list": "java.util.List",
               "map": "java.util.Map", "structure": "java.lang.Object"}


@dataclass(frozen=True)
class Request:
    """What of an HTTP request the checks read (the gate builds it from the WSGI environ)."""

    method: str
    raw_path: str  # still percent-encoded: a function ARN's ':' and '/' survive
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Verdict:
    """Which operation a request is (None when the model has no such request) and what is wrong with it."""

    operation: str | None
    error: ApiError | None = None


@functools.cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


# --- which operation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str], ...]  # literal query parameters the requestUri requires (?List=ALL)
    literal_chars: int


def _route(operation: OperationModel) -> _Route:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    parts, literal = [], 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece.strip("{}")
            greedy = name.endswith("+")
            parts.append(f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})")
        else:
            parts.append(re.escape(piece))
            literal += len(piece)
    required = tuple((key, values[0]) for key, values in parse_qs(query, keep_blank_values=True).items())
    return _Route(operation.name, operation.http["method"], re.compile("".join(parts).rstrip("/") + "/?"),
                  required, literal + len(required))


@functools.cache
def _routes(service: str) -> tuple[_Route, ...]:
    """The model's rest routes, most specific first (more literal text, then required query keys)."""
    model = service_model(service)
    routes = [_route(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(routes, key=lambda route: -route.literal_chars))


def find_rest_operation(service: str, method: str, raw_path: str, query: dict[str, list[str]]) -> tuple[str, dict[str, str]] | None:
    """(operation name, its path parameters, decoded) of a rest-json request, or None."""
    for route in _routes(service):
        if route.method != method:
            continue
        match = route.pattern.fullmatch(raw_path)
        if match and all(value in query.get(key, []) for key, value in route.query):
            return route.operation, {name: unquote(value) for name, value in match.groupdict().items()}
    return None


@functools.cache
def rest_path_prefixes(services: tuple[str, ...]) -> frozenset[str]:
    """The first path segments of these rest services' operations ('2015-03-31', 'restapis', ...)."""
    prefixes = set()
    for service in services:
        model = service_model(service)
        for name in model.operation_names:
            first = model.operation_model(name).http["requestUri"].lstrip("/").split("/", 1)[0].split("?")[0]
            if first and not first.startswith("{"):
                prefixes.add(first)
    return frozenset(prefixes)


# --- the checks -----------------------------------------------------------------------------------

class _Malformed(Exception):
    """A value that cannot even be read as the model's type (AWS fails to deserialize it)."""


@dataclass
class _Checker:
    """Walks one input shape, collecting constraint violations in AWS's words."""

    operation: str
    violations: list[str]

    def member(self, shape: Shape, value: Any, path: str, name: str, required: bool) -> None:
        if value is None:
            if required:
                self.violations.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")
            return
        for constraint in self.constraints(shape, value, path, name):
            self.violations.append(f"{_value_phrase(shape, value)} at '{path}' failed to satisfy constraint: {constraint}")

    def constraints(self, shape: Shape, value: Any, path: str, name: str) -> list[str]:
        """The constraints the value breaks itself; members of lists, maps and structures are visited here too."""
        kind = shape.type_name
        found: list[str] = []
        metadata = shape.metadata
        if kind == "string":
            found += _length(len(value), metadata)
            if (self.operation, name) not in _LEFT_TO_THE_ENGINE:
                if shape.enum and value not in shape.enum:
                    found.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
                pattern = metadata.get("pattern")
                if pattern and not _matches(pattern, value):
                    found.append(f"Member must satisfy regular expression pattern: {pattern}")
        elif kind in ("integer", "long", "float", "double"):
            if "max" in metadata and value > metadata["max"]:
                found.append(f"Member must have value less than or equal to {_number(metadata['max'])}")
            if "min" in metadata and value < metadata["min"]:
                found.append(f"Member must have value greater than or equal to {_number(metadata['min'])}")
        elif kind == "list":
            found += _length(len(value), metadata)
            found += self.list_members(shape.member, value, path, name)
        elif kind == "map":
            found += _length(len(value), metadata)
            found += self.map_entries(shape, value, path, name)
        elif kind == "structure":
            self.structure(shape, value, path)
        return found

    def list_members(self, member: Shape, items: list[Any], path: str, name: str) -> list[str]:
        if member.type_name == "structure":
            for index, item in enumerate(items, 1):
                self.member(member, item, f"{path}.{index}.member", name, required=True)
            return []
        inner: list[str] = []
        for item in items:
            broken = ["Member must not be null"] if item is None else self.constraints(member, item, path, name)
            inner += [constraint for constraint in broken if constraint not in inner]
        return [f"Member must satisfy constraint: [{', '.join(inner)}]"] if inner else []

    def map_entries(self, shape: Shape, entries: dict[str, Any], path: str, name: str) -> list[str]:
        keys: list[str] = []
        values: list[str] = []
        for key, item in entries.items():
            keys += [c for c in self.constraints(shape.key, key, path, name) if c not in keys]
            if shape.value.type_name == "structure":
                self.member(shape.value, item, f"{path}.{key}.member", name, required=True)
            else:
                broken = ["Member must not be null"] if item is None else self.constraints(shape.value, item, path, name)
                values += [c for c in broken if c not in values]
        found = [f"Map keys must satisfy constraint: [{', '.join(keys)}]"] if keys else []
        return found + ([f"Map value must satisfy constraint: [{', '.join(values)}]"] if values else [])

    def structure(self, shape: Shape, value: dict[str, Any], path: str) -> None:
        required = set(shape.required_members)
        for name, member in shape.members.items():
            self.member(member, value.get(name), _join(path, name), name, name in required)


def _length(size: int, metadata: dict[str, Any]) -> list[str]:
    if "max" in metadata and size > metadata["max"]:
        return [f"Member must have length less than or equal to {metadata['max']}"]
    if "min" in metadata and size < metadata["min"]:
        return [f"Member must have length greater than or equal to {metadata['min']}"]
    return []


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    try:
        return _regex.compile(pattern)
    except Exception:  # a Java construct neither engine reads: the check is skipped, not the request refused
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    if compiled is None:
        return True
    try:
        if _regex is re:
            return compiled.fullmatch(value) is not None
        return compiled.fullmatch(value, timeout=1.0) is not None
    except TimeoutError:  # a pattern that backtracks forever on this value: give it the benefit of the doubt
        return True


def _number(limit: Any) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


def _join(path: str, name: str) -> str:
    camel = name[:1].lower() + name[1:]
    return f"{path}.{camel}" if path else camel


def _value_phrase(shape: Shape, value: Any) -> str:
    if shape.metadata.get("sensitive"):
        return "Value"
    text = _render(value)
    if len(text) > _VALUE_CHARS:
        text = text[:_VALUE_CHARS] + "..."
    return f"Value '{text}'"


def _render(value: Any) -> str:
    """A value as Java's toString shows it in AWS's messages: [a, b], {k=v}, true, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_render(item)}" for key, item in value.items()) + "}"
    return str(value)


def _summary(violations: list[str]) -> str:
    count = len(violations)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(violations)


# --- reading values as the model's types ----------------------------------------------------------

def _typed_json(shape: Shape, value: Any, path: str) -> Any:
    """The JSON value checked against the shape's type, recursively; _Malformed when it is not one."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        _expect(isinstance(value, dict), shape, value, path)
        return {name: _typed_json(member, value.get(name), _join(path, name))
                for name, member in shape.members.items() if name in value}
    if kind == "list":
        _expect(isinstance(value, list), shape, value, path)
        return [_typed_json(shape.member, item, f"{path}.{index}.member") for index, item in enumerate(value, 1)]
    if kind == "map":
        _expect(isinstance(value, dict), shape, value, path)
        return {key: _typed_json(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        _expect(isinstance(value, int) and not isinstance(value, bool), shape, value, path)
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            raise _Malformed(f"Numeric value ({value}) out of range of {_JAVA_TYPES[kind]} at '{path}'")
        return value
    if kind in ("float", "double"):
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), shape, value, path)
        return value
    if kind == "boolean":
        _expect(isinstance(value, bool), shape, value, path)
        return value
    if kind == "blob":
        _expect(isinstance(value, str), shape, value, path)
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _Malformed(f"Failed to decode VALUE_STRING as base64 at '{path}'") from None
        return value
    if kind == "timestamp":
        _expect(isinstance(value, (int, float, str)) and not isinstance(value, bool), shape, value, path)
        return value
    _expect(isinstance(value, str), shape, value, path)  # string
    return value


def _expect(ok: bool, shape: Shape, value: Any, path: str) -> None:
    if not ok:
        raise _Malformed(f"Cannot deserialize value of type `{_JAVA_TYPES.get(shape.type_name, shape.type_name)}` "
                         f"from {_json_kind(value)} at '{path}'")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean value"
    if isinstance(value, (int, float)):
        return "Number value"
    if isinstance(value, str):
        return "String value"
    if isinstance(value, list):
        return "Array value (token `JsonToken.START_ARRAY`)"
    return "Object value (token `JsonToken.START_OBJECT`)"


def _typed_text(shape: Shape, text: str, path: str) -> Any:
    """A path, query or header value (always text on the wire) read as the member's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return _typed_json(shape, int(text.strip()), path)
        except ValueError:
            raise _Malformed(f"Cannot convert value '{text}' at '{path}' to `{_JAVA_TYPES[kind]}`") from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise _Malformed(f"Cannot convert value '{text}' at '{path}' to `{_JAVA_TYPES[kind]}`") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise _Malformed(f"Cannot convert value '{text}' at '{path}' to `java.lang.Boolean`")
        return text.lower() == "true"
    return text


def parse_json(body: bytes) -> Any:
    """The body as JSON, or _Malformed with the reason, worded as Jackson words it where we can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Malformed(f"Invalid UTF-8 middle byte 0x{body[error.start]:02x}" if error.start else
                         f"Invalid UTF-8 start byte 0x{body[error.start]:02x}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise _Malformed(f"Document nesting depth exceeds the maximum allowed ({MAX_JSON_DEPTH}, from "
                         "`StreamReadConstraints.getMaxNestingDepth()`)") from None
    except ValueError as error:
        raise _Malformed(f"Unexpected character: was expecting a JSON value ({error})") from None


# --- one request ----------------------------------------------------------------------------------

def check_rest_json(service: str, request: Request) -> Verdict:
    """A rest-json request (Lambda) against its operation's input shape."""
    query = parse_qs(request.query, keep_blank_values=True)
    found = find_rest_operation(service, request.method, request.raw_path, query)
    if found is None:
        return Verdict(None)
    name, path_values = found
    operation = service_model(service).operation_model(name)
    try:
        values = _rest_values(operation, request, query, path_values)
    except _Malformed as error:
        return Verdict(name, ApiError("InvalidRequestContentException", f"Could not parse request body into json: {error}"))
    return Verdict(name, _violations(operation, values))


def _rest_values(operation: OperationModel, request: Request, query: dict[str, list[str]],
                 path_values: dict[str, str]) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    values: dict[str, Any] = {}
    body_members = {}
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        path = _join("", name)
        if location == "uri":
            if wire in path_values:
                values[name] = _typed_text(member, path_values[wire], path)
        elif location == "querystring":
            sent = query.get(wire)
            if sent is not None:
                values[name] = [_typed_text(member.member, item, path) for item in sent] \
                    if member.type_name == "list" else _typed_text(member, sent[0], path)
        elif location == "header":
            sent = request.header(wire)
            if sent is not None:
                values[name] = _typed_text(member, sent, path)
        elif location == "headers":
            continue
        elif name == payload:
            if member.type_name in ("blob", "string"):
                if request.body:
                    _check_raw_payload(operation, request.body)
                    values[name] = request.body
            elif request.body:
                values[name] = _typed_json(member, _json_object(request.body), path)
        else:
            body_members[name] = member
    if body_members and payload is None and request.body.strip():
        document = _json_object(request.body)
        for name, member in body_members.items():
            if name in document:
                values[name] = _typed_json(member, document[name], _join("", name))
    return values


def _json_object(body: bytes) -> dict[str, Any]:
    document = parse_json(body)
    if not isinstance(document, dict):
        raise _Malformed(f"Cannot deserialize a request from {_json_kind(document)}: expected a JSON object")
    return document


def _check_raw_payload(operation: OperationModel, body: bytes) -> None:
    """An Invoke's payload travels as the raw body and must be JSON: AWS parses it before the function sees it."""
    if operation.name not in ("Invoke", "InvokeWithResponseStream", "InvokeAsync"):
        return
    try:
        parse_json(body)
    except _Malformed as error:
        raise _Malformed(f"Could not parse payload into json: {error}") from None


def _violations(operation: OperationModel, values: dict[str, Any]) -> ApiError | None:
    shape = operation.input_shape
    if shape is None:
        return None
    checker = _Checker(operation.name, [])
    required = set(shape.required_members)
    for name, member in shape.members.items():
        if member.type_name == "blob" and name == shape.serialization.get("payload"):
            continue  # a raw payload: nothing but its size, which the engine checks
        checker.member(member, values.get(name), _join("", name), name, name in required)
    if checker.violations:
        return ApiError("ValidationException", _summary(checker.violations))
    return None


def check_json(service: str, request: Request) -> Verdict:
    """A json-protocol request (SQS: X-Amz-Target AmazonSQS.SendMessage) against its operation's input shape.

    awsJson services answer a body they cannot read with 400 ``SerializationException`` (Smithy's
    protocol tests, MalformedRequestBody); SQS answers a missing parameter in its query API's words,
    ``MissingParameter`` "The request must contain the parameter QueueUrl."."""
    model = service_model(service)
    target = request.header("X-Amz-Target") or ""
    prefix, _, name = target.partition(".")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        return Verdict(None)
    operation = model.operation_model(name)
    shape = operation.input_shape
    if shape is None:
        return Verdict(name)
    try:
        document = _json_object(request.body) if request.body.strip() else {}
        values = {key: _typed_json(member, document[key], _join("", key))
                  for key, member in shape.members.items() if key in document}
    except _Malformed as error:
        return Verdict(name, ApiError("SerializationException", str(error)))
    missing = [key for key in shape.required_members if values.get(key) is None]
    if missing:
        return Verdict(name, ApiError("MissingParameter", f"The request must contain the parameter {missing[0]}."))
    return Verdict(name, _violations(operation, values))


def operations(service: str) -> Iterable[str]:
    return service_model(service).operation_names
