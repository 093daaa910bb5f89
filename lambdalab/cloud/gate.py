"""The cloud's front gate: who may drive the account, and what a malformed request is answered.

Everything that reaches the cloud's port passes here before moto sees it:

- ``/lambdalab/...``: the cloud's own routes, for the holder of the state file's token (the admin
  handler checks ``X-Lambdalab-Token``).
- moto's control routes (``/moto-api/...``: reset, reset-auth, data, the dashboard, seeding) and its
  instance-metadata stub: refused to everyone. They answer without credentials, so any local user or
  any function could switch IAM enforcement off or wipe the account; Lambda Lab never needs them.
- AWS API requests: they must be signed with a SigV4 ``Authorization`` header. moto read ``HTTP_AUTHORIZATION`` unconditionally and answered an unsigned request with a 500; AWS
  answers 403 ``MissingAuthenticationToken``. Only the two STS calls that are unsigned on AWS too
  (AssumeRoleWithWebIdentity, AssumeRoleWithSAML) pass without one (lambdalab/aws/iam_enforcement.py
  then requires a trust policy that names a Federated principal). Presigned URLs are refused with
  403 AccessDenied and a message that says so: moto can check only a signature in a header (it
  crashed on them before), and a URL nobody checks would be a key to the account.
- Lambda (and SQS) requests are checked against botocore's model (lambdalab/aws/request_validation.py)
  and refused in AWS's words before moto can choke on or store a wrong-typed value.
- Last resort: an exception in moto, an HTML 5xx, or moto's HTML 404 for an operation it lacks,
  becomes an AWS-shaped error in the request's protocol, so an SDK always gets a code to handle.

AWS's wording, as real AWS sends it (seen in issue threads of SDK users, e.g. common-voice#1599 and
smarty-archives/go-aws-auth#48 for API-Gateway-fronted REST APIs such as Lambda's):
  rest-json/json: HTTP 403, ``x-amzn-ErrorType: MissingAuthenticationTokenException``,
                  ``{"message": "Missing Authentication Token"}``
  query (IAM, STS, SNS): ``<ErrorResponse><Error><Type>Sender</Type><Code>MissingAuthenticationToken
                  </Code><Message>Request is missing Authentication Token</Message></Error>...``
  S3: 403 ``<Error><Code>AccessDenied</Code><Message>Access Denied</Message>...`` (anonymous access).

Function URLs and API Gateway stages are served by the front door on a port of their own
(lambdalab/triggers/http/front_door.py): unsigned calls to a function URL with AuthType NONE never
come through here.
"""

from __future__ import annotations

import io
import json
import logging
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

from ..aws import request_validation
from ..aws.request_validation import Request
from ..engine.validation import ApiError

log = logging.getLogger("lambdalab.gate")

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]

# moto's routes that are not AWS: its control API and dashboard, and its EC2 instance-metadata stub.
_CLOSED_PREFIXES = ("moto-api", "favicon.ico", "latest/meta-data", "latest/api")
# Unsigned on AWS as well: the caller has no AWS credentials yet, only a web identity or SAML token.
_UNSIGNED_ACTIONS = ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")
# rest-json services the cloud serves whose paths tell an unsigned request's protocol.
_REST_JSON_SERVICES = ("lambda", "apigateway", "apigatewayv2")
# Signing names that differ from botocore's service names.
_SIGNING_NAMES = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "apigateway"}
_VALIDATED = {"lambda": request_validation.check_rest_json, "sqs": request_validation.check_json}


@dataclass(frozen=True)
class _Style:
    """How a service words an error: its protocol family and the service's name."""

    protocol: str  # "json" (rest-json and json), "query" or "xml" (S3 and other rest-xml)
    service: str | None


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Gate:
    """A WSGI app in front of moto (and of the cloud's own admin routes)."""

    def __init__(self, moto: WsgiApp, admin: WsgiApp) -> None:
        self._moto = moto
        self._admin = admin

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/lambdalab/"):
            return self._admin(environ, start_response)
        if path.lstrip("/").startswith(_CLOSED_PREFIXES):
            return _send(start_response, _closed(path))
        request = _request(environ)
        style = _style(request)
        refusal = _refusal(request, style)
        if refusal is not None:
            return _send(start_response, refusal)
        verdict = _validate(request, style)
        if verdict.error is not None:
            return _send(start_response, error_answer(style, verdict.error))
        return self._guarded(environ, start_response, style, verdict.operation)

    def _guarded(self, environ: dict, start_response: Callable, style: _Style,
                 operation: str | None) -> Iterable[bytes]:
        """moto's answer, unless it is an exception, an HTML page or a 5xx nobody could parse."""
        seen: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            seen["status"], seen["headers"] = status, headers
            return written.append

        try:
            chunks = self._moto(environ, capture)
            try:
                body = b"".join(written) + b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
        except NotImplementedError:  # moto routes the operation but has no code behind it
            return _send(start_response, _unsupported(style, operation, environ))
        except (ValueError, TypeError) as error:  # moto converting a caller's value (int('abc')): the caller's fault
            log.warning("moto could not read a value of %s %s: %s", environ.get("REQUEST_METHOD"),
                        environ.get("PATH_INFO"), error)
            return _send(start_response, _unreadable(style, error))
        except Exception as error:  # noqa: BLE001 - the last resort: the caller gets AWS's shape, the log the cause
            log.error("moto failed on %s %s:\n%s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                      traceback.format_exc())
            return _send(start_response, _internal(style, f"{type(error).__name__}: {error}"))
        status = int(str(seen.get("status", "500")).split()[0])
        content_type = next((value for name, value in seen.get("headers", []) if name.lower() == "content-type"), "")
        html = "text/html" in content_type
        if status == 404 and html:
            return _send(start_response, _unsupported(style, operation, environ))
        if status >= 500 and (html or not body):
            log.error("moto answered %s to %s %s: %s", status, environ.get("REQUEST_METHOD"),
                      environ.get("PATH_INFO"), body[:2000])
            return _send(start_response, _internal(style, f"HTTP {status} from the emulated service"))
        start_response(seen["status"], seen["headers"])
        return [body]


# --- reading the request --------------------------------------------------------------------------

def _request(environ: dict) -> Request:
    """The parts the checks read; the body is read once and put back for moto."""
    body = b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
    raw_path = raw.split("?", 1)[0]
    if "://" in raw_path:  # an absolute request target (a proxy-style request line)
        raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
    headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return Request(method=environ.get("REQUEST_METHOD", "GET"), raw_path=raw_path,
                   query=environ.get("QUERY_STRING", ""), headers=headers, body=body)


def _credential_scope(request: Request) -> list[str] | None:
    """AKID/date/region/service/aws4_request of a SigV4 header or presigned URL, split; None if absent or malformed."""
    authorization = request.header("Authorization") or ""
    if authorization.startswith("AWS4-HMAC-SHA256 "):
        for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","):
            name, _, value = part.strip().partition("=")
            if name == "Credential":
                scope = value.split("/")
                return scope if len(scope) == 5 and all(scope) and scope[4] == "aws4_request" else None
        return None
    credential = (parse_qs(request.query).get("X-Amz-Credential") or [""])[0]
    scope = credential.split("/")
    return scope if len(scope) == 5 and all(scope) else None


def _action(request: Request) -> str | None:
    """The Action of a query-protocol request, from the query string or a form body."""
    sent = parse_qs(request.query).get("Action")
    if sent is None and "x-www-form-urlencoded" in (request.header("content-type") or ""):
        try:
            sent = parse_qs(request.body.decode("utf-8")).get("Action")
        except UnicodeDecodeError:
            sent = None
    return sent[0] if sent else None


def _style(request: Request) -> _Style:
    scope = _credential_scope(request)
    if scope is not None:
        service = _SIGNING_NAMES.get(scope[3], scope[3])
        try:
            protocol = request_validation.service_model(service).protocol
        except Exception:  # a signing name botocore does not know: guess from the request, as moto does
            protocol = None
        if protocol is not None:
            return _Style({"rest-xml": "xml", "query": "query", "ec2": "query"}.get(protocol, "json"), service)
    if request.header("X-Amz-Target"):
        return _Style("json", None)
    if _action(request):
        return _Style("query", None)
    first = request.raw_path.lstrip("/").split("/", 1)[0]
    if first in request_validation.rest_path_prefixes(_REST_JSON_SERVICES):
        return _Style("json", "lambda" if first[:1].isdigit() else None)
    return _Style("xml", "s3")


def _refusal(request: Request, style: _Style) -> _Answer | None:
    """AWS's answer to a request that is not signed (or is signed in a way no one could check)."""
    authorization = request.header("Authorization")
    query = parse_qs(request.query)
    presigned = ("X-Amz-Signature" in query and "X-Amz-Credential" in query) or "Signature" in query
    if authorization is None and not presigned:
        if _action(request) in _UNSIGNED_ACTIONS:
            return None
        return _missing_token(style)
    if authorization is None:  # presigned: moto checks only an Authorization header, and crashed without one
        return error_answer(style, ApiError("AccessDenied", "Lambda Lab cannot check presigned URLs yet: send the "
                                            "request signed (boto3 does) instead of presigned.", 403))
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return _incomplete(style, f"Authorization header requires the AWS4-HMAC-SHA256 algorithm; got "
                                  f"'{authorization.split(' ', 1)[0][:40]}'.")
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if f"{name}=" not in authorization]
    if missing:
        return _incomplete(style, " ".join(f"Authorization header requires '{name}' parameter." for name in missing))
    if _credential_scope(request) is None:
        return _incomplete(style, "Credential should be scoped to a valid region, service and date "
                                  "(AKID/yyyymmdd/region/service/aws4_request).")
    return None


def _validate(request: Request, style: _Style) -> request_validation.Verdict:
    check = _VALIDATED.get(style.service or "")
    if check is None:
        return request_validation.Verdict(None)
    try:
        return check(style.service, request)
    except Exception:  # noqa: BLE001 - a bug of ours must not cost the learner the request
        log.error("request validation failed on %s %s:\n%s", request.method, request.raw_path, traceback.format_exc())
        return request_validation.Verdict(None)


# --- AWS's answers --------------------------------------------------------------------------------

def error_answer(style: _Style, error: ApiError) -> _Answer:
    """One error in the protocol's shape: JSON with __type and x-amzn-ErrorType, or the XML documents."""
    request_id = str(uuid.uuid4())
    if style.protocol == "json":
        body = json.dumps({"__type": error.code, "message": error.message, "Type": "User"}).encode()
        return _Answer(error.status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code),
                                      ("x-amzn-RequestId", request_id)], body)
    if style.protocol == "query":
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
                f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        return _Answer(error.status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(error.code)}</Code>'
            f"<Message>{escape(error.message)}</Message><RequestId>{request_id}</RequestId>"
            f"<HostId>{request_id}</HostId></Error>").encode()
    return _Answer(error.status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body)


def _missing_token(style: _Style) -> _Answer:
    if style.protocol == "json":
        return error_answer(style, ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403))
    if style.protocol == "query":
        return error_answer(style, ApiError("MissingAuthenticationToken", "Request is missing Authentication Token", 403))
    return error_answer(style, ApiError("AccessDenied", "Access Denied", 403))


def _incomplete(style: _Style, message: str) -> _Answer:
    if style.protocol == "xml":
        return error_answer(style, ApiError("AuthorizationHeaderMalformed", message, 400))
    code = "IncompleteSignatureException" if style.protocol == "json" else "IncompleteSignature"
    return error_answer(style, ApiError(code, message, 403))


def _internal(style: _Style, detail: str) -> _Answer:
    """What AWS sends for its own fault; the detail names the cause, the cloud log has the traceback."""
    message = f"Lambda Lab's emulated service failed on this request ({detail[:300]}); the cloud log has the details."
    if style.service == "lambda":
        return error_answer(style, ApiError("ServiceException", message, 500))
    if style.protocol == "xml":
        return error_answer(style, ApiError("InternalError", message, 500))
    return error_answer(style, ApiError("InternalFailure", message, 500))


def _unreadable(style: _Style, error: Exception) -> _Answer:
    """A value the model allows but the service cannot use (a Marker that is no marker, an attribute
    that is no number): AWS answers those as invalid parameter values, 400."""
    message = f"A parameter value could not be used: {str(error)[:300]}"
    code = {"json": "InvalidParameterValueException" if style.service == "lambda" else "InvalidParameterValue",
            "query": "InvalidParameterValue", "xml": "InvalidArgument"}[style.protocol]
    return error_answer(style, ApiError(code, message, 400))


def _unsupported(style: _Style, operation: str | None, environ: dict) -> _Answer:
    """An operation AWS has and moto does not (or no operation at all).

    UnknownOperationException (400) is what AWS's JSON services answer for an operation the endpoint
    does not know; to this endpoint that is what it is. A client error, not a 5xx: retrying will not
    help, and SDKs do not retry it."""
    if operation is not None:
        message = (f"Lambda Lab does not support the {operation} operation yet: it answers the operations "
                   "the course uses (README, 'Differences from AWS').")
        return error_answer(style, ApiError("UnknownOperationException", message, 400))
    what = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '')}"
    return error_answer(style, ApiError("UnknownOperationException", f"No such operation: {what}", 404))


def _closed(path: str) -> _Answer:
    body = json.dumps({"message": f"{path} is closed: moto's control routes are not part of the Lambda Lab cloud. "
                                  "Use lambdalab.reset() or the lambdalab command to manage the account."}).encode()
    return _Answer(403, [("Content-Type", "application/json")], body)


def _send(start_response: Callable, answer: _Answer) -> list[bytes]:
    start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}",
                   [*answer.headers, ("Content-Length", str(len(answer.body)))])
    return [answer.body]


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 413: "Payload Too Large",
            500: "Internal Server Error"}
