"""Function URLs: the *UrlConfig APIs, and the local address that answers each URL.

moto stores one URL config per function and returns an https://<id>.lambda-url... address
nothing answers; it has no ListFunctionUrlConfigs, no Qualifier and no conflict on a second
create. These five APIs are answered here instead, and the FunctionUrl they return,
http://127.0.0.1:<port>/<url-id>/, is served by the local front door (see triggers/http).

A request to a URL goes as on AWS:
- AuthType NONE: the function's resource-based policy must allow lambda:InvokeFunctionUrl to
  everyone ("*", with FunctionUrlAuthType NONE), and, for URLs created since October 2025,
  lambda:InvokeFunction too (AddPermission with InvokedViaFunctionUrl). Without them: 403
  {"Message": "Forbidden. For troubleshooting Function URL authorization issues, see: ..."}.
  The setting function_url_requires_invoke_function=False brings back the rule before.
- AuthType AWS_IAM: a SigV4 signature (service "lambda") from keys of this account; the signer
  needs both actions, from its own IAM policies or from the function's policy. Unsigned: 403
  {"Message": "Forbidden"}; a wrong signature: 403 with AWS's signature message.
- The request becomes a payload 2.0 event, the function runs synchronously, its result becomes
  the response (see http/responses.py). A function error, a timeout or a malformed result: 502
  {"Message": "Internal Server Error"}; a throttle: 429; an event over 6 MB: 413.
- A deleted URL (or function) answers 403 {"Message": "Forbidden"}.
- InvokeMode RESPONSE_STREAM is accepted and stored, and answered buffered (the Python runtime does
  not stream on AWS either).
"""

from __future__ import annotations

import functools
import json
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from moto.awslambda import urls as moto_urls
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse

from ..aws.moto_glue import ApiException, api_error, find_function, function_spec, replace_method, wrap
from ..core.arns import FunctionArn, function_arn
from ..engine.spec import FunctionSpec
from . import permissions
from .http import events, invoking, responses, signing
from .http.cors import CorsRules
from .http.front_door import FrontDoor
from .http.messages import HttpRequest, HttpResponse, json_response
from .services import CloudServices

FORBIDDEN_HELP = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
                  "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
URL_ID_LENGTH = 32


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class FunctionUrl:
    """One URL config: which function (and alias) it invokes, and how it lets callers in."""

    url_id: str
    account_id: str
    region: str
    function_name: str
    function_arn: str  # qualified with the alias, if any
    qualifier: str | None
    auth_type: str
    cors: dict[str, Any] | None = None
    invoke_mode: str = "BUFFERED"
    created: str = field(default_factory=_now_text)
    last_modified: str = field(default_factory=_now_text)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.account_id, self.region, self.function_name, self.qualifier)

    @property
    def target(self) -> FunctionArn:
        return FunctionArn(self.account_id, self.region, self.function_name, self.qualifier)

    def address(self, base_url: str) -> str:
        """The URL on the front door at base_url (http://127.0.0.1:<port>)."""
        return f"{base_url}/{self.url_id}/"

    def describe(self, base_url: str, with_last_modified: bool = True) -> dict[str, Any]:
        document: dict[str, Any] = {"FunctionUrl": self.address(base_url), "FunctionArn": self.function_arn,
                                    "AuthType": self.auth_type}
        if self.cors is not None:
            document["Cors"] = self.cors
        document["CreationTime"] = self.created
        if with_last_modified:
            document["LastModifiedTime"] = self.last_modified
        document["InvokeMode"] = self.invoke_mode
        return document


class UrlStore:
    """Every URL config of one cloud's account, by URL id and by function (and alias)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, FunctionUrl] = {}

    def add(self, url: FunctionUrl) -> None:
        with self._lock:
            self._by_id[url.url_id] = url

    def by_id(self, url_id: str) -> FunctionUrl | None:
        return self._by_id.get(url_id)

    def of_function(self, account_id: str, region: str, name: str, qualifier: str | None) -> FunctionUrl | None:
        wanted = (account_id, region, name, qualifier)
        return next((url for url in list(self._by_id.values()) if url.key == wanted), None)

    def all_of_function(self, account_id: str, region: str, name: str) -> list[FunctionUrl]:
        return [url for url in list(self._by_id.values()) if url.key[:3] == (account_id, region, name)]

    def all(self) -> list[FunctionUrl]:
        with self._lock:
            return list(self._by_id.values())

    def remove(self, url: FunctionUrl) -> None:
        with self._lock:
            self._by_id.pop(url.url_id, None)

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()


class FunctionUrls:
    """The function URLs of one cloud: their configs, and the front door that answers them (shared with
    its APIs). Its moto hooks and its sites are handed this object, never a global one."""

    def __init__(self, cloud: CloudServices, door: FrontDoor) -> None:
        self.cloud = cloud
        self.door = door
        self.store = UrlStore()

    def reset(self) -> None:
        self.store.clear()
        self.door.stop()

    def shutdown(self) -> None:
        self.door.stop()

    def export_state(self) -> list[FunctionUrl]:
        """Every URL config, for the saved account (cloud/persistence.py)."""
        return self.store.all()

    def restore_state(self, saved: list[FunctionUrl]) -> None:
        """The saved URL configs, answered again (on the front door's new port)."""
        for url in saved:
            self.store.add(url)
        if saved:
            self.door.base_url()


# --- installing --------------------------------------------------------------------------------

def install(cloud: CloudServices) -> FunctionUrls:
    function_urls = FunctionUrls(cloud, cloud.front_door)
    moto_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/urls/?$"] = \
        LambdaResponse.dispatch
    replace_method(LambdaResponse, "create_function_url_config", lambda response: _create_api(function_urls, response))
    replace_method(LambdaResponse, "get_function_url_config", lambda response: _get_api(function_urls, response))
    replace_method(LambdaResponse, "update_function_url_config", lambda response: _update_api(function_urls, response))
    replace_method(LambdaResponse, "delete_function_url_config", lambda response: _delete_api(function_urls, response))
    replace_method(LambdaResponse, "list_function_url_configs", lambda response: _list_api(function_urls, response))
    wrap(LambdaBackend, "delete_function", functools.partial(_deleting_urls, function_urls.store))
    function_urls.door.add_resolver(functools.partial(_resolve, function_urls))
    return function_urls


# --- the API ---------------------------------------------------------------------------------------

def _error(code: str, message: str, status: int = 400) -> ApiException:
    return api_error(code, message, status)


def _json(status: int, document: object) -> tuple[int, dict[str, str], str]:
    return status, {"content-type": "application/json", "status": str(status)}, json.dumps(document)


def _addressed(response: LambdaResponse) -> tuple[Any, str | None]:
    """The function (the version its alias points at) and the alias the request names: a qualifier in the
    FunctionName ("name:alias", or a qualified ARN) wins over the Qualifier parameter."""
    name = unquote(response.path.rstrip("/").split("/")[-2])
    qualifier = (response.querystring.get("Qualifier") or [None])[0]
    arn = FunctionArn.parse(name)
    if ":" in name and not name.startswith("arn:") and name.count(":") == 1:
        name, qualifier = name.split(":")  # a partial name, not an ARN: "name:alias"
    elif arn is not None and arn.qualifier is not None:
        name, qualifier = arn.unqualified, arn.qualifier
    if qualifier is not None and qualifier.isdigit():
        raise _error("ValidationException", f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed "
                     "to satisfy constraint: Member must satisfy regular expression pattern: "
                     r"(^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))")
    fn = response.backend.get_function(name, qualifier)
    return fn, (None if qualifier in (None, "$LATEST") else qualifier)


def _check(body: dict[str, Any]) -> None:
    for key, member, allowed in (("AuthType", "authType", AUTH_TYPES), ("InvokeMode", "invokeMode", INVOKE_MODES)):
        value = body.get(key)
        if value is not None and value not in allowed:
            raise _error("ValidationException", f"1 validation error detected: Value '{value}' at '{member}' failed "
                         f"to satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")


def _existing(function_urls: FunctionUrls, response: LambdaResponse) -> FunctionUrl:
    fn, qualifier = _addressed(response)
    url = function_urls.store.of_function(fn.account_id, fn.region, fn.function_name, qualifier)
    if url is None:
        raise _error("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    return url


def _create_api(function_urls: FunctionUrls, response: LambdaResponse) -> tuple[int, dict[str, str], str]:
    fn, qualifier = _addressed(response)
    body = response.json_body or {}
    _check(body)
    arn = function_arn(fn.region, fn.account_id, fn.function_name, qualifier)
    if function_urls.store.of_function(fn.account_id, fn.region, fn.function_name, qualifier) is not None:
        raise _error("ResourceConflictException", f"Failed to create function url config for [functionArn = {arn}]. "
                     "Error message:  FunctionUrlConfig exists for this Lambda function", 409)
    url = FunctionUrl(url_id=_new_url_id(), account_id=fn.account_id, region=fn.region,
                      function_name=fn.function_name, function_arn=arn, qualifier=qualifier,
                      auth_type=body["AuthType"], cors=body.get("Cors"),
                      invoke_mode=body.get("InvokeMode") or "BUFFERED")
    function_urls.store.add(url)
    return _json(201, url.describe(function_urls.door.base_url(), with_last_modified=False))


def _get_api(function_urls: FunctionUrls, response: LambdaResponse) -> tuple[int, dict[str, str], str]:
    return _json(200, _existing(function_urls, response).describe(function_urls.door.base_url()))


def _update_api(function_urls: FunctionUrls, response: LambdaResponse) -> tuple[int, dict[str, str], str]:
    url = _existing(function_urls, response)
    body = response.json_body or {}
    _check(body)
    changed = replace(url, auth_type=body.get("AuthType") or url.auth_type,
                      cors=body["Cors"] if "Cors" in body else url.cors,
                      invoke_mode=body.get("InvokeMode") or url.invoke_mode, last_modified=_now_text())
    function_urls.store.add(changed)
    return _json(200, changed.describe(function_urls.door.base_url()))


def _delete_api(function_urls: FunctionUrls, response: LambdaResponse) -> tuple[int, dict[str, str], str]:
    function_urls.store.remove(_existing(function_urls, response))
    return 204, {"status": "204"}, ""


def _list_api(function_urls: FunctionUrls, response: LambdaResponse) -> tuple[int, dict[str, str], str]:
    name = unquote(response.path.rstrip("/").split("/")[-2])
    fn = response.backend.get_function(name, None)
    store = function_urls.store
    urls = sorted(store.all_of_function(fn.account_id, fn.region, fn.function_name), key=lambda u: u.created)
    base_url = function_urls.door.base_url()
    return _json(200, {"FunctionUrlConfigs": [url.describe(base_url) for url in urls]})


def _deleting_urls(store: UrlStore, original: Any, backend: Any, name: str, qualifier: Any = None) -> Any:
    fn = backend.get_function(name)
    result = original(backend, name, qualifier)
    for url in store.all_of_function(fn.account_id, fn.region, fn.function_name):
        if qualifier is None or url.qualifier == qualifier:
            store.remove(url)
    return result


def _new_url_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(URL_ID_LENGTH))


# --- answering requests ----------------------------------------------------------------------

def _resolve(function_urls: FunctionUrls, first_segment: str) -> "UrlSite | None":
    """Every 32-character id is a function URL's, existing or not (a deleted one answers 403)."""
    if len(first_segment) == URL_ID_LENGTH and first_segment.isalnum() and first_segment.islower():
        return UrlSite(function_urls, first_segment)
    return None


def _forbidden(message: str = "Forbidden") -> HttpResponse:
    return json_response(403, {"Message": message}, [("x-amzn-ErrorType", "AccessDeniedException")])


@dataclass(frozen=True)
class UrlSite:
    function_urls: FunctionUrls = field(repr=False, compare=False)
    url_id: str

    @property
    def cloud(self) -> CloudServices:
        return self.function_urls.cloud

    def handle(self, request: HttpRequest) -> HttpResponse:
        url = self.function_urls.store.by_id(self.url_id)
        found = find_function(url.target) if url else None
        if url is None or found is None:
            return _forbidden()
        backend, fn = found
        cors = CorsRules.from_config(url.cors)
        if cors is not None and cors.is_preflight(request):
            return cors.preflight(request)
        source = f"url:{url.function_name}"
        admission = _authorize(request, url, fn, self.cloud.settings.function_url_requires_invoke_function)
        if admission.refusal is not None:
            self.cloud.flow.record(source, url.target.flow_name, "dropped", admission.reason, ok=False)
            return admission.refusal
        response = self._invoke(request, url, function_spec(backend, fn), admission)
        return cors.decorate(request, response) if cors is not None else response

    def _invoke(self, request: HttpRequest, url: FunctionUrl, spec: FunctionSpec, admission: Admission) -> HttpResponse:
        request_id = str(uuid.uuid4())
        now = self.cloud.clock.now()
        arrival = events.Arrival(api_id=url.url_id, account_id=admission.account_id,
                                 domain_name=f"{url.url_id}.lambda-url.{url.region}.on.aws",
                                 domain_prefix=url.url_id, stage="$default", route_key="$default", now=now,
                                 request_id=request_id, port=request.port)
        event = events.version_2(request, arrival, authorizer=admission.authorizer, function_url=True)
        invocation = invoking.invoke(self.cloud, spec, json.dumps(event).encode(), request_id=request_id)
        response = _response_of(invocation)
        outcome = invoking.outcome_detail(invocation, response.status)
        self.cloud.flow.record(f"url:{url.function_name}", url.target.flow_name, "invoke",
                               f"{request.method} {request.path} -> {outcome}", request_id=request_id,
                               ok=response.status < 500)
        return response.with_headers([("x-amzn-RequestId", request_id),
                                      ("X-Amzn-Trace-Id", events.trace_header(now))])


@dataclass(frozen=True)
class Admission:
    """Whether a request may invoke the URL's function: a refusal (and why, for the event flow), or the
    event's requestContext.accountId and authorizer block."""

    refusal: HttpResponse | None = None
    reason: str = ""
    account_id: str = "anonymous"
    authorizer: dict | None = None


def _refused(reason: str, message: str = FORBIDDEN_HELP) -> Admission:
    return Admission(_forbidden(message), f"403: {reason}")


def _authorize(request: HttpRequest, url: FunctionUrl, fn: Any, requires_invoke_function: bool) -> Admission:
    """requires_invoke_function: the rule for URLs created since October 2025 (the setting
    function_url_requires_invoke_function), a second statement allowing lambda:InvokeFunction."""
    actions = ["lambda:InvokeFunctionUrl"]
    if requires_invoke_function:
        actions.append("lambda:InvokeFunction")
    if url.auth_type == "NONE":
        anyone = permissions.Caller(principal="*", function_url_auth_type="NONE", invoked_via_function_url=True)
        missing = [action for action in actions
                   if not permissions.allows(fn, replace(anyone, action=action), url.qualifier)]
        if missing:
            return _refused(f"the function's policy does not allow {' and '.join(missing)} to everyone (\"*\")")
        return Admission()
    try:
        caller = signing.verify(request, url.account_id, "lambda")
    except signing.SigningError as refused:
        return _refused("AuthType AWS_IAM: " + ("not signed" if refused.message == "Forbidden" else refused.message),
                        refused.message)
    for action in actions:
        by_identity = caller.account_id == url.account_id and caller.identity_allows(action, url.function_arn)
        by_function = any(permissions.allows(fn, permissions.Caller(principal=principal, action=action,
                                                                    function_url_auth_type="AWS_IAM",
                                                                    invoked_via_function_url=True), url.qualifier)
                          for principal in caller.principals())
        if not (by_identity or by_function):
            return _refused(f"{caller.arn} is not allowed {action}")
    return Admission(account_id=caller.account_id, authorizer=caller.authorizer())


def _response_of(invocation: invoking.HttpInvocation) -> HttpResponse:
    if invocation.too_large is not None:
        return json_response(413, {"Message": invocation.too_large.message},
                             [("x-amzn-ErrorType", invocation.too_large.code)])
    outcome = invocation.outcome
    if outcome.throttle is not None:
        return json_response(429, {"Message": outcome.throttle.message},
                             [("x-amzn-ErrorType", "TooManyRequestsException")])
    if outcome.function_error is None:
        mapped = responses.from_version_2(outcome.body)
        if mapped is not None:
            return mapped
    return json_response(502, {"Message": "Internal Server Error"})
