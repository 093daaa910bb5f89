"""Where the Lambda engine plugs into moto.

moto answers every AWS API; the engine takes over what moto cannot do without Docker:
running functions. Every path that runs a function ends in one of two moto methods, the
Invoke API handler and ``LambdaFunction.invoke`` (used by moto's own SQS, SNS, Kinesis and
DynamoDB hooks), so those two are replaced. The configuration calls get AWS's quota checks
in front of moto's own code. All of it runs after moto's IAM check of the caller.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda import models as lambda_models
from moto.awslambda.responses import LambdaResponse

from ..core.arns import function_arn
from ..core.settings import Settings
from ..engine import validation
from ..engine.package import unzipped_size
from ..engine.service import LambdaEngine
from . import iam, iam_enforcement
from .moto_glue import ApiException, EventQueue, SpecLoader, function_spec, json_error, raise_if, wrap


def install(engine: LambdaEngine, events: EventQueue) -> None:
    """Route moto's Lambda through this engine and queue. A second call (a new cloud in the same
    process, as tests make) replaces the first one's hooks."""
    backend = lambda_models.LambdaBackend
    wrap(backend, "create_function", lambda original, moto_backend, spec:
         _checked_create(engine, original, moto_backend, spec))
    wrap(backend, "update_function_configuration", lambda original, moto_backend, name, qualifier, body:
         _checked_update_configuration(engine, original, moto_backend, name, qualifier, body))
    wrap(backend, "update_function_code", lambda original, moto_backend, name, qualifier, body:
         _checked_update_code(engine, original, moto_backend, name, qualifier, body))
    wrap(backend, "put_function_concurrency", lambda original, moto_backend, name, concurrency:
         _checked_put_concurrency(engine, original, moto_backend, name, concurrency))
    wrap(backend, "delete_function_concurrency", lambda original, moto_backend, name:
         _released_concurrency(engine, original, moto_backend, name))
    wrap(backend, "delete_function", lambda original, moto_backend, name, qualifier=None:
         _retiring_delete(engine, original, moto_backend, name, qualifier))
    _fix_moto()
    LambdaResponse.invoke = lambda response: _invoke_api(engine, events, response)
    LambdaResponse.invoke_async = lambda response: _invoke_async_api(events, response)
    LambdaResponse.get_account_settings = lambda response: _account_settings(engine.settings, response)
    lambda_models.LambdaFunction.invoke = (lambda fn, body, request_headers, response_headers:
                                           _invoke_from_moto(engine, fn, body, request_headers, response_headers))


@functools.cache
def _fix_moto() -> None:
    """What moto lacks or gets wrong whatever cloud runs it: patched once per process."""
    iam_enforcement.install()
    _serve_account_settings()
    _keep_invoke_request_ids()


def _keep_invoke_request_ids() -> None:
    """moto stamps a random x-amzn-requestid on every response; an Invoke's must stay the id the
    function saw as context.aws_request_id, as on AWS."""
    original = LambdaResponse._enrich_response

    def enrich(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        wanted = headers.get("x-amzn-requestid")
        headers, body = original(headers, body)
        if wanted:
            headers["x-amzn-requestid"] = wanted
        return headers, body

    LambdaResponse._enrich_response = staticmethod(enrich)


def _serve_account_settings() -> None:
    """GetAccountSettings, which moto lacks: the account's limits and usage, as a lesson shows them."""
    from moto.awslambda import urls

    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch


def _account_settings(settings: Settings, self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    functions = list(self.backend.list_functions())
    reserved = sum(int(fn.reserved_concurrency) for fn in functions if fn.reserved_concurrency is not None)
    document = {
        "AccountLimit": {
            "TotalCodeSize": 80 * 1024 ** 3,
            "CodeSizeUnzipped": settings.unzipped_max_bytes,
            "CodeSizeZipped": settings.zip_max_bytes,
            "ConcurrentExecutions": settings.account_concurrency,
            "UnreservedConcurrentExecutions": settings.account_concurrency - reserved,
        },
        "AccountUsage": {"TotalCodeSize": sum(int(fn.code_size or 0) for fn in functions),
                         "FunctionCount": len(functions)},
    }
    return 200, {"content-type": "application/json", "status": "200"}, json.dumps(document)


def _check_role(backend: Any, role_arn: str | None) -> None:
    if role_arn and not iam.lambda_can_assume(backend.account_id, role_arn):
        raise ApiException(validation.ApiError("InvalidParameterValueException", iam.CANNOT_ASSUME))


# --- configuration calls ---------------------------------------------------------------------

def _checked_create(engine: LambdaEngine, original: Any, backend: Any, spec: dict[str, Any]) -> Any:
    settings = engine.settings
    raise_if(validation.check_configuration(spec, settings))
    raise_if(validation.check_zip((spec.get("Code") or {}).get("ZipFile"), settings))
    _check_role(backend, spec.get("Role"))
    fn = original(backend, spec)
    _store_extra_configuration(backend.get_function(spec["FunctionName"]), spec)
    if getattr(fn, "code_bytes", None) and (spec.get("Code") or {}).get("S3Bucket"):  # images have none
        error = validation.check_unzipped_size(unzipped_size(fn.code_bytes), settings)
        if error is not None:
            backend.delete_function(spec["FunctionName"])
            raise ApiException(error)
    return fn


def _checked_update_configuration(engine: LambdaEngine, original: Any, backend: Any, name: str, qualifier: Any,
                                  body: dict) -> Any:
    raise_if(validation.check_configuration(body, engine.settings))
    _check_role(backend, body.get("Role"))
    fn = backend.get_function(name, qualifier)
    _store_extra_configuration(fn, body)
    result = original(backend, name, qualifier, body)
    result.update(_extra_configuration(fn))
    engine.function_changed(_unqualified_arn(fn))
    return result


def _checked_update_code(engine: LambdaEngine, original: Any, backend: Any, name: str, qualifier: Any,
                         body: dict) -> Any:
    settings = engine.settings
    raise_if(validation.check_zip(body.get("ZipFile"), settings))
    result = original(backend, name, qualifier, body)
    fn = backend.get_function(name, qualifier)
    error = validation.check_unzipped_size(unzipped_size(fn.code_bytes), settings) if getattr(fn, "code_bytes", None) else None
    raise_if(error)
    engine.function_changed(_unqualified_arn(fn))
    return result


def _checked_put_concurrency(engine: LambdaEngine, original: Any, backend: Any, name: str, concurrency: Any) -> Any:
    fn = backend.get_function(name)
    elsewhere = sum(int(other.reserved_concurrency) for other in backend.list_functions()
                    if other.reserved_concurrency is not None and other.function_name != fn.function_name)
    raise_if(validation.check_reserved_concurrency(int(concurrency), elsewhere, engine.settings))
    result = original(backend, name, concurrency)
    # A reservation shrinks the other functions' pool at once, not at its first invoke.
    engine.concurrency.set_reserved(_unqualified_arn(fn), int(concurrency))
    return result


def _released_concurrency(engine: LambdaEngine, original: Any, backend: Any, name: str) -> Any:
    fn = backend.get_function(name)
    result = original(backend, name)
    engine.concurrency.set_reserved(_unqualified_arn(fn), None)
    return result


def _retiring_delete(engine: LambdaEngine, original: Any, backend: Any, name: str, qualifier: Any = None) -> Any:
    fn = backend.get_function(name)
    result = original(backend, name, qualifier)
    engine.function_changed(_unqualified_arn(fn))
    if qualifier is None:  # the function is gone, and its reservation with it
        engine.concurrency.set_reserved(_unqualified_arn(fn), None)
    return result


def _unqualified_arn(fn: Any) -> str:
    return function_arn(fn.region, fn.account_id, fn.function_name)


def _store_extra_configuration(fn: Any, body: dict[str, Any]) -> None:
    """What moto's UpdateFunctionConfiguration drops: ephemeral storage, logging config."""
    if body.get("EphemeralStorage"):
        fn.ephemeral_storage = int(body["EphemeralStorage"]["Size"])
    if body.get("LoggingConfig"):
        fn.logging_config = {**getattr(fn, "logging_config", {}), **body["LoggingConfig"]}


def _extra_configuration(fn: Any) -> dict[str, Any]:
    return {"EphemeralStorage": {"Size": fn.ephemeral_storage}}


# --- running functions ------------------------------------------------------------------------

def _invoke_api(engine: LambdaEngine, events: EventQueue,
                self: LambdaResponse) -> tuple[int, dict[str, str], bytes | str]:
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    # The Qualifier query parameter (moto's _get_param("qualifier") misses it and reads the payload).
    qualifier = (self.querystring.get("Qualifier") or [None])[0]
    invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    fn = self.backend.get_function(function_name, qualifier)
    payload = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    error = validation.check_payload(payload, invocation_type, engine.settings)
    if error is not None:
        return json_error(error.status, error.code, error.message)
    spec = function_spec(self.backend, fn)
    headers = {"content-type": "application/json", "X-Amz-Executed-Version": spec.version}
    if invocation_type == "DryRun":
        return 204, {**headers, "status": "204"}, ""
    if invocation_type == "Event":
        request_id = events.submit(SpecLoader(self.backend, function_name, qualifier), payload)
        return 202, {**headers, "status": "202", "x-amzn-requestid": request_id}, ""
    if invocation_type != "RequestResponse":
        return json_error(400, "InvalidParameterValueException",
                           f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                           "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    client_context = self.headers.get("X-Amz-Client-Context")
    if client_context:
        try:
            client_context = base64.b64decode(client_context).decode()
            if not isinstance(json.loads(client_context), dict):  # the runtime would die parsing it
                raise ValueError("not a JSON object")
        except ValueError:
            return json_error(400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
    outcome = engine.invoke(spec, payload, tail=self.headers.get("X-Amz-Log-Type") == "Tail",
                              client_context=client_context)
    if outcome.throttle is not None:
        return json_error(429, "TooManyRequestsException", outcome.throttle.message,
                           {"Reason": outcome.throttle.reason, "retryAfterSeconds": "1"}, {"Retry-After": "1"})
    headers["x-amzn-requestid"] = outcome.request_id
    if outcome.function_error:
        headers["X-Amz-Function-Error"] = outcome.function_error
    if outcome.log_tail is not None:
        headers["X-Amz-Log-Result"] = outcome.log_tail
    return 200, {**headers, "status": "200"}, outcome.body


def _invoke_async_api(events: EventQueue, self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    """The old InvokeAsync API: queue the event, answer 202 with Status 202."""
    index = -3 if self.path.endswith("/") else -2
    function_name = unquote(self.path.rsplit("/", 3)[index])
    self.backend.get_function(function_name, None)
    payload = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    events.submit(SpecLoader(self.backend, function_name, None), payload)
    return 202, {"status": "202"}, json.dumps({"Status": 202})


def _invoke_from_moto(engine: LambdaEngine, self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    """moto's own event sources call this synchronously."""
    backend = lambda_models.lambda_backends[self.account_id][self.region]
    payload = body.encode() if isinstance(body, str) else (body or b"{}")
    outcome = engine.invoke(function_spec(backend, self), payload)
    if outcome.function_error:
        response_headers["x-amz-function-error"] = outcome.function_error
    return outcome.body
