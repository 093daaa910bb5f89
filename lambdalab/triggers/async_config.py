"""A function's asynchronous settings: its event invoke configs and its dead-letter queue.

moto half-implements the five EventInvokeConfig calls (a second Put is added to a list and
never read, Update does not merge, qualifiers are ignored, nothing is validated) and drops a
function's DeadLetterConfig altogether. Both are done here as AWS does them, with AWS's
checks and words, so that the async queue (async_invoke) can read what the learner set:

- one config per function, version or alias; Put replaces it, Update changes only the fields
  given, Get/Delete answer 404 when there is none, List lists them all;
- MaximumRetryAttempts 0 to 2, MaximumEventAgeInSeconds 60 to 21,600, destinations of a kind
  Lambda delivers to, and an execution role that may deliver there;
- DeadLetterConfig on CreateFunction / UpdateFunctionConfiguration: an SQS queue or SNS topic
  the execution role may write to, part of each version's configuration.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from moto.awslambda import models as lambda_models
from moto.awslambda.responses import LambdaResponse
from ..aws import iam
from ..aws.moto_glue import ApiException, api_error, wrap
from ..core.arns import Arn, FunctionArn, function_arn
from ..engine import validation
from . import destinations
from .services import CloudServices

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 21_600
RETRIES_RANGE = (0, 2)
EVENT_AGE_RANGE = (60, 21_600)
LIST_PAGE_MAX = 50
DESTINATION_PATTERN = (r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:"
                       r"(\d{12})?:(.*)")
DESTINATION_SERVICES = {"OnSuccess": ("sqs", "sns", "lambda", "events"),
                        "OnFailure": ("sqs", "sns", "lambda", "events", "s3")}
DEAD_LETTER_SERVICES = {"sqs": "SQS", "sns": "SNS"}
_CONFIGS_ATTRIBUTE = "lambdalab_event_invoke_configs"
_DEAD_LETTER_ATTRIBUTE = "lambdalab_dead_letter_target"
_FUNCTION_IN_PATH = re.compile(r"/functions/([^/]+)/event-invoke-config")


@dataclass(frozen=True)
class EventInvokeConfig:
    """One function's (or version's, or alias's) settings for asynchronous invocation."""

    qualifier: str
    last_modified: float
    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def as_api(self, function_arn: str) -> dict[str, Any]:
        """As the API answers it: unset numbers left out, both destinations always present."""
        answer: dict[str, Any] = {
            "LastModified": self.last_modified,
            "FunctionArn": f"{function_arn}:{self.qualifier}",
            "DestinationConfig": {"OnSuccess": _destination(self.on_success),
                                  "OnFailure": _destination(self.on_failure)},
        }
        if self.maximum_retry_attempts is not None:
            answer["MaximumRetryAttempts"] = self.maximum_retry_attempts
        if self.maximum_event_age_s is not None:
            answer["MaximumEventAgeInSeconds"] = self.maximum_event_age_s
        return answer


@dataclass(frozen=True)
class AsyncSettings:
    """What the async queue needs to know about a function when one of its events is done."""

    function_arn: str  # unqualified
    role_arn: str
    max_retries: int = DEFAULT_MAX_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


def _destination(arn: str | None) -> dict[str, str]:
    return {"Destination": arn} if arn else {}


# --- reading, for the queue ------------------------------------------------------------------

def settings_for(backend: Any, name: str, qualifier: str | None) -> AsyncSettings | None:
    """The settings in force now for invokes of name[:qualifier]; None once the function is gone."""
    try:
        latest = backend.get_function(name)
        version = backend.get_function(name, qualifier)
    except Exception:
        return None
    config = _configs(latest).get(_qualifier_key(qualifier))
    arn = function_arn(latest.region, latest.account_id, latest.function_name)
    settings = AsyncSettings(function_arn=arn, role_arn=version.role,
                             dead_letter=getattr(version, _DEAD_LETTER_ATTRIBUTE, None))
    if config is None:
        return settings
    return replace(settings,
                   max_retries=_default(config.maximum_retry_attempts, DEFAULT_MAX_RETRIES),
                   max_event_age_s=_default(config.maximum_event_age_s, DEFAULT_MAX_EVENT_AGE_S),
                   on_success=config.on_success, on_failure=config.on_failure)


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _qualifier_key(qualifier: str | None) -> str:
    return "$LATEST" if not qualifier or qualifier.upper() == "$LATEST" else qualifier


def _configs(latest_fn: Any) -> dict[str, EventInvokeConfig]:
    """Kept on moto's $LATEST function object: gone with the function, and with a reset."""
    configs = getattr(latest_fn, _CONFIGS_ATTRIBUTE, None)
    if configs is None:
        configs = {}
        setattr(latest_fn, _CONFIGS_ATTRIBUTE, configs)
    return configs


# --- installing -------------------------------------------------------------------------------

def install(cloud: CloudServices) -> None:
    """Replace moto's EventInvokeConfig API and keep DeadLetterConfig (moto drops it)."""
    clock = cloud.clock
    for name, handler in (("put_function_event_invoke_config", _put_api),
                          ("update_function_event_invoke_config", _update_api),
                          ("get_function_event_invoke_config", _get_api),
                          ("delete_function_event_invoke_config", _delete_api),
                          ("list_function_event_invoke_configs", _list_api)):
        setattr(LambdaResponse, name, _answering(handler, clock.now))
    wrap(lambda_models.LambdaBackend, "create_function", _create_with_dead_letter)
    wrap(lambda_models.LambdaBackend, "update_function_configuration", _update_with_dead_letter)
    wrap(lambda_models.LambdaFunction, "get_configuration", _configuration_with_dead_letter)


def _answering(handler: Any, now: Any) -> Any:
    """handler(response, at) as moto's response method: `at` is the cloud clock's time of the request."""
    def api(response: LambdaResponse) -> tuple[int, dict[str, str], str]:
        return handler(response, now())

    api.__name__ = handler.__name__
    return api


def _configuration_with_dead_letter(original: Any, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    configuration = original(fn, *args, **kwargs)
    target = getattr(fn, _DEAD_LETTER_ATTRIBUTE, None)
    if target:
        configuration["DeadLetterConfig"] = {"TargetArn": target}
    return configuration


# --- errors -----------------------------------------------------------------------------------

def _fail(code: str, message: str, status: int = 400) -> None:
    raise api_error(code, message, status)


def _no_config(function_arn: str, qualifier: str) -> None:
    _fail("ResourceNotFoundException", f"The function {function_arn}:{qualifier} doesn't have an EventInvokeConfig",
          404)


# --- the EventInvokeConfig API -----------------------------------------------------------------

@dataclass(frozen=True)
class _Request:
    """Which function and qualifier an EventInvokeConfig request is about, and its body."""

    backend: Any
    name: str
    qualifier: str
    body: dict[str, Any]
    at: float  # the cloud clock's time of the request

    @property
    def latest(self) -> Any:
        return self.backend.get_function(self.name)

    @property
    def function_arn(self) -> str:
        return function_arn(self.backend.region_name, self.backend.account_id, self.name)


def _request(response: LambdaResponse, at: float) -> _Request:
    match = _FUNCTION_IN_PATH.search(response.path)
    raw = unquote(match.group(1)) if match else ""
    asked = (response.querystring.get("Qualifier") or [None])[0]
    name, derived = raw, None
    arn = FunctionArn.parse(raw)
    if arn is not None:
        name, derived = arn.name, arn.qualifier
    elif ":" in raw:
        name, derived = raw.split(":", 1)
    if derived and asked and derived != asked:
        _fail("InvalidParameterValueException", "The derived qualifier from the function name does not match the "
                                                "specified qualifier.")
    qualifier = derived or asked
    response.backend.get_function(name, qualifier)  # the function (and version or alias) must exist: 404 if not
    body = json.loads(response.body) if response.body else {}
    return _Request(response.backend, name, _qualifier_key(qualifier), body if isinstance(body, dict) else {}, at)


def _answer(document: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
    return status, {"content-type": "application/json", "status": str(status)}, json.dumps(document)


def _put_api(self: LambdaResponse, at: float) -> tuple[int, dict[str, str], str]:
    """PutFunctionEventInvokeConfig: the whole config is replaced; settings left out are removed."""
    request = _request(self, at)
    config = _config_from(request, request.body, base=None)
    _configs(request.latest)[request.qualifier] = config
    return _answer(config.as_api(request.function_arn))


def _update_api(self: LambdaResponse, at: float) -> tuple[int, dict[str, str], str]:
    """UpdateFunctionEventInvokeConfig: only the settings given change."""
    request = _request(self, at)
    existing = _configs(request.latest).get(request.qualifier)
    if existing is None:
        _no_config(request.function_arn, request.qualifier)
    config = _config_from(request, request.body, base=existing)
    _configs(request.latest)[request.qualifier] = config
    return _answer(config.as_api(request.function_arn))


def _get_api(self: LambdaResponse, at: float) -> tuple[int, dict[str, str], str]:
    request = _request(self, at)
    config = _configs(request.latest).get(request.qualifier)
    if config is None:
        _no_config(request.function_arn, request.qualifier)
    return _answer(config.as_api(request.function_arn))


def _delete_api(self: LambdaResponse, at: float) -> tuple[int, dict[str, str], str]:
    request = _request(self, at)
    if _configs(request.latest).pop(request.qualifier, None) is None:
        _no_config(request.function_arn, request.qualifier)
    return 204, {"status": "204"}, ""


def _list_api(self: LambdaResponse, at: float) -> tuple[int, dict[str, str], str]:
    """ListFunctionEventInvokeConfigs, a page at a time (Marker is where the next page starts)."""
    request = _request(self, at)
    configs = sorted(_configs(request.latest).values(), key=lambda config: config.last_modified)
    max_items = int((self.querystring.get("MaxItems") or [LIST_PAGE_MAX])[0])
    error = validation._range_error(max_items, "maxItems", 1, LIST_PAGE_MAX)
    if error is not None:
        raise ApiException(error)
    start = int((self.querystring.get("Marker") or ["0"])[0] or 0)
    page = configs[start:start + max_items]
    answer: dict[str, Any] = {"FunctionEventInvokeConfigs": [c.as_api(request.function_arn) for c in page]}
    if start + max_items < len(configs):
        answer["NextMarker"] = str(start + max_items)
    return _answer(answer)


def _config_from(request: _Request, body: dict[str, Any], base: EventInvokeConfig | None) -> EventInvokeConfig:
    """Check a Put or Update body as AWS does, then build the config it asks for."""
    retries, age = body.get("MaximumRetryAttempts"), body.get("MaximumEventAgeInSeconds")
    destination_config = body.get("DestinationConfig")
    if retries is None and age is None and destination_config is None:
        _fail("InvalidParameterValueException", "You must specify at least one of error handling or destination "
                                                "setting.")
    for value, member, (low, high) in ((retries, "maximumRetryAttempts", RETRIES_RANGE),
                                       (age, "maximumEventAgeInSeconds", EVENT_AGE_RANGE)):
        if value is not None:
            error = validation._range_error(int(value), member, low, high)
            if error is not None:
                raise ApiException(error)
    config = base or EventInvokeConfig(request.qualifier, 0.0)
    if base is None or retries is not None:
        config = replace(config, maximum_retry_attempts=None if retries is None else int(retries))
    if base is None or age is not None:
        config = replace(config, maximum_event_age_s=None if age is None else int(age))
    if base is None or destination_config is not None:
        on_success = ((destination_config or {}).get("OnSuccess") or {}).get("Destination") or None
        on_failure = ((destination_config or {}).get("OnFailure") or {}).get("Destination") or None
        _check_destinations(request, on_success, on_failure)
        config = replace(config, on_success=on_success, on_failure=on_failure)
    return replace(config, last_modified=request.at)


def _check_destinations(request: _Request, on_success: str | None, on_failure: str | None) -> None:
    for arn, member in ((on_success, "destinationConfig.onSuccess.destination"),
                        (on_failure, "destinationConfig.onFailure.destination")):
        if arn is not None and not re.fullmatch(DESTINATION_PATTERN, arn):
            _fail("ValidationException", f"1 validation error detected: Value '{arn}' at '{member}' failed to "
                                         f"satisfy constraint: Member must satisfy regular expression pattern: "
                                         f"{DESTINATION_PATTERN}")
    for arn, kind in ((on_success, "OnSuccess"), (on_failure, "OnFailure")):
        parsed = Arn.parse(arn) if arn else None
        if arn and (parsed is None or parsed.service not in DESTINATION_SERVICES[kind]):
            success_part = f"OnSuccess(destination={on_success})" if on_success else "null"
            failure_part = f"OnFailure(destination={on_failure})" if on_failure else "null"
            _fail("InvalidParameterValueException", f"The provided destination config DestinationConfig("
                                                    f"onSuccess={success_part}, onFailure={failure_part}) is invalid.")
        if parsed is not None and parsed.service == "lambda":
            _check_function_destination(request, arn, parsed)
    role = request.backend.get_function(request.name, request.qualifier).role
    for arn in (on_success, on_failure):
        if arn and not destinations.role_may_deliver(request.backend.account_id, role, arn):
            call = destinations.ACTIONS[Arn.parse(arn).service][1]
            _fail("InvalidParameterValueException",
                  f"The function's execution role does not have permissions to call {call} on {arn}")


def _check_function_destination(request: _Request, arn: str, parsed: Arn) -> None:
    if parsed.name == request.name and parsed.account_id == request.backend.account_id:
        _fail("InvalidParameterValueException", "You can't specify the function as a destination for itself.")
    function = FunctionArn.parse(arn)
    try:
        lambda_models.lambda_backends[parsed.account_id][parsed.region].get_function(
            parsed.name, function.qualifier if function else None)
    except Exception:
        _fail("InvalidParameterValueException", f"The destination ARN {arn} is invalid.")


# --- DeadLetterConfig -------------------------------------------------------------------------

def _dead_letter_target(configuration: dict[str, Any]) -> str | None:
    """None when the request does not touch DeadLetterConfig, "" when it removes it."""
    if "DeadLetterConfig" not in configuration:
        return None
    return (configuration.get("DeadLetterConfig") or {}).get("TargetArn") or ""


def _check_dead_letter(account_id: str, role_arn: str | None, target: str) -> None:
    """AWS checks the role can write to the queue or topic when the function is configured."""
    parsed = Arn.parse(target)
    if parsed is None or parsed.service not in DEAD_LETTER_SERVICES:
        _fail("InvalidParameterValueException", f"The provided target ARN {target} is invalid: a dead-letter queue "
                                                "must be an SQS queue or an SNS topic.")
    if not role_arn or not destinations.role_may_deliver(account_id, role_arn, target):
        call = destinations.ACTIONS[parsed.service][1]
        _fail("InvalidParameterValueException", f"The provided execution role does not have permissions to call "
                                                f"{call} on {DEAD_LETTER_SERVICES[parsed.service]}")


def _create_with_dead_letter(original: Any, backend: Any, spec: dict[str, Any]) -> Any:
    target = _dead_letter_target(spec)
    if target and iam.lambda_can_assume(backend.account_id, spec.get("Role") or ""):  # else: that error first
        _check_dead_letter(backend.account_id, spec.get("Role"), target)
    created = original(backend, spec)
    if target:
        name = spec["FunctionName"]
        # Publish=True made version 1 before the target was known: it is part of that version too.
        for fn in [backend.get_function(name), *backend.list_versions_by_function(name), created]:
            setattr(fn, _DEAD_LETTER_ATTRIBUTE, target)
    return created


def _update_with_dead_letter(original: Any, backend: Any, name: str, qualifier: Any, body: dict) -> Any:
    target = _dead_letter_target(body)
    role = body.get("Role") or backend.get_function(name, qualifier).role
    if target and iam.lambda_can_assume(backend.account_id, role):
        _check_dead_letter(backend.account_id, role, target)
    result = original(backend, name, qualifier, body)
    if target is not None:
        setattr(backend.get_function(name, qualifier), _DEAD_LETTER_ATTRIBUTE, target or None)
        if target:
            result["DeadLetterConfig"] = {"TargetArn": target}
        else:
            result.pop("DeadLetterConfig", None)
    return result
