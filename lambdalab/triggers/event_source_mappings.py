"""Event source mappings: Lambda reading SQS queues, Kinesis streams and DynamoDB Streams for a function.

The five API calls (Create, Get, List, Update, Delete) are answered here instead of by moto,
with AWS's checks: ranges and rules between members (pollers/validation.py), a source that
exists, a function that exists, and an execution role allowed to read the source, since it is
with the function's role that Lambda reads it. Each mapping gets a poller for its whole life
(pollers/sqs.py, pollers/streams.py); disabling a mapping stops it reading, deleting it stops it.

moto's own event source mappings are never made: moto delivers a queue's or stream's records
inline, inside the SendMessage or PutItem that wrote them, without batching windows, retries or
redrive, and its DynamoDB delivery even empties the stream. A mapping of this module is never
registered with moto's queue, table or stream, so that inline path has nothing to deliver and
the pollers are the only delivery. (moto's CloudFormation support for mappings is not wired.)
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.awslambda.responses import LambdaResponse

from ..aws import iam, lambda_api as moto_hooks
from ..core.admin import admin_route
from ..engine.validation import ApiError
from . import destinations
from .pollers import filtering, sqs_queue, stream_sources, validation
from .pollers.base import Poller
from .pollers.mapping import KINESIS, SQS, Mapping, source_kind
from .pollers.sqs import SqsPoller
from .pollers.streams import StreamPoller

INVALID = "InvalidParameterValueException"
NOT_FOUND_MESSAGE = "The resource you requested does not exist."
SQS_READ_ACTIONS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
STREAM_READ_ACTIONS = ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
ON_FAILURE_SERVICES = ("sqs", "sns", "s3")  # (and Kafka on AWS)
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist for this wsdl version.")

_engine: Any = None
_lock = threading.RLock()
_mappings: dict[str, Mapping] = {}
_pollers: dict[str, Poller] = {}
_patched = False


# --- the trigger module's life ------------------------------------------------------------------

def install(engine: Any) -> None:
    global _engine, _patched
    _engine = engine
    sqs_queue.install(engine.clock.now, _source_changed, _dead_lettered)
    stream_sources.install(engine.clock.now, _source_changed)
    engine.clock.add_busy_check(_any_poller_busy)
    engine.clock.add_time_listener(_time_moved)
    if not _patched:
        _patched = True
        LambdaResponse.create_event_source_mapping = _create_api
        LambdaResponse.get_event_source_mapping = _get_api
        LambdaResponse.list_event_source_mappings = _list_api
        LambdaResponse.update_event_source_mapping = _update_api
        LambdaResponse.delete_event_source_mapping = _delete_api


def reset() -> None:
    """The account is being emptied: every poller stops, every mapping is forgotten."""
    with _lock:
        pollers = list(_pollers.values())
        _pollers.clear()
        _mappings.clear()
    for poller in pollers:
        poller.stop()


def shutdown() -> None:
    reset()


def mappings() -> list[Mapping]:
    """Every mapping of the cloud (for views and checks)."""
    with _lock:
        return list(_mappings.values())


@admin_route("GET", "/lambdalab/event-source-mappings")
def _describe_pollers(request: Any) -> list[dict[str, Any]]:
    """Every mapping with its poller's state: what a console view or a check can show without waiting."""
    with _lock:
        pairs = [(mapping, _pollers.get(mapping.uuid)) for mapping in _mappings.values()]
    return [{**mapping.configuration(), "Poller": poller.describe() if poller else None} for mapping, poller in pairs]


def _any_poller_busy() -> bool:
    with _lock:
        pollers = list(_pollers.values())
    return any(poller.busy() for poller in pollers)


def _time_moved(now: float) -> None:
    """Virtual time moved: every poller looks again (a wake-up it booked covers the rest)."""
    with _lock:
        pollers = list(_pollers.values())
    for poller in pollers:
        poller.signal()


def _source_changed(source_arn: str) -> None:
    with _lock:
        pollers = [poller for poller in _pollers.values() if poller.mapping.event_source_arn == source_arn]
    for poller in pollers:
        poller.signal()


def _dead_lettered(queue: Any, dead_letter_queue: Any, message: Any) -> None:
    if _engine is not None:
        _engine.flow.record(f"sqs:{queue.name}", f"sqs:{dead_letter_queue.name}", "dead-letter",
                            f"message {message.id} after {message.approximate_receive_count} receives "
                            f"(maxReceiveCount {queue.redrive_policy['maxReceiveCount']})", ok=False)


# --- the API --------------------------------------------------------------------------------------

def _create_api(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    request = self.json_body or {}
    backend = self.backend
    source_arn = request.get("EventSourceArn") or ""
    kind = source_kind(source_arn)
    if kind is None:
        _raise(ApiError(INVALID, "Unrecognized event source."))
    fn = _function(backend, request.get("FunctionName") or "")
    mapping = Mapping.new(str(uuid.uuid4()), backend.account_id, backend.region_name, _reported_arn(fn),
                          source_arn, kind, _engine.clock.now())
    mapping.apply(request)
    _raise(validation.check(mapping, request, creating=True))
    _raise(_check_filter(mapping))
    _raise(_check_source(mapping))
    _raise(_check_role(mapping, fn.role))
    with _lock:
        _raise(_duplicate(mapping))
        _mappings[mapping.uuid] = mapping
        _pollers[mapping.uuid] = _new_poller(mapping, fn.role).start()
    return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration("Creating"))


def _get_api(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    mapping = _owned(self)
    return 200, {"content-type": "application/json"}, json.dumps(mapping.configuration())


def _list_api(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    query = {key: values[0] for key, values in self.querystring.items() if values}
    found = [m for m in mappings() if m.account_id == self.backend.account_id and m.region == self.backend.region_name]
    if query.get("EventSourceArn"):
        found = [m for m in found if m.event_source_arn == query["EventSourceArn"]]
    if query.get("FunctionName"):
        found = [m for m in found if _names_function(m, query["FunctionName"])]
    start = int(query.get("Marker") or 0)
    size = int(query.get("MaxItems") or 100)
    document: dict[str, Any] = {"EventSourceMappings": [m.configuration() for m in found[start:start + size]]}
    if start + size < len(found):
        document["NextMarker"] = str(start + size)
    return 200, {"content-type": "application/json"}, json.dumps(document)


def _update_api(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    mapping = _owned(self)
    request = self.json_body or {}
    candidate = mapping.changed(request)
    fn = None
    if request.get("FunctionName"):
        fn = _function(self.backend, request["FunctionName"])
        candidate.function_arn = _reported_arn(fn)
    _raise(validation.check(candidate, request, creating=False))
    _raise(_check_filter(candidate))
    if fn is not None or request.get("DestinationConfig") or (request.get("Enabled") and not mapping.enabled):
        # The role is asked again for a new function, a new destination, or a mapping switched back on;
        # disabling a mapping or changing its batch size does not fail on the role (AWS's rule unconfirmed).
        current = fn or _function_or_none(self.backend, mapping.function_arn)
        if current is not None:
            _raise(_check_role(candidate, current.role))
    was_enabled = mapping.enabled
    with _lock:
        mapping.apply(request)
        mapping.function_arn = candidate.function_arn
        mapping.last_modified = _engine.clock.now()
        poller = _pollers.get(mapping.uuid)
    if isinstance(poller, StreamPoller) and fn is not None:
        poller.source.role_arn = fn.role  # Kinesis records name the role that read them
    if poller is not None:
        poller.signal()
    state = "Updating"
    if mapping.enabled != was_enabled:
        state = "Enabling" if mapping.enabled else "Disabling"
    return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration(state))


def _delete_api(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    mapping = _owned(self)
    with _lock:
        _mappings.pop(mapping.uuid, None)
        poller = _pollers.pop(mapping.uuid, None)
    if poller is not None:
        poller.stop()
    return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration("Deleting"))


# --- checks ---------------------------------------------------------------------------------------

def _raise(error: ApiError | None) -> None:
    if error is not None:
        raise moto_hooks.ApiException(error)


def _owned(response: LambdaResponse) -> Mapping:
    """The mapping the path names, if it is this account's and region's; else AWS's 404."""
    mapping_id = response.path.rstrip("/").rsplit("/", 1)[-1]
    with _lock:
        mapping = _mappings.get(mapping_id)
    if mapping is None or mapping.account_id != response.backend.account_id \
            or mapping.region != response.backend.region_name:
        _raise(ApiError("ResourceNotFoundException", NOT_FOUND_MESSAGE, 404))
    return mapping


def _function(backend: Any, name_or_arn: str) -> Any:
    try:
        return backend.get_function(name_or_arn)
    except UnknownFunctionException:
        # LambdaResponse answers a missing function of a mapping with these words (as LocalStack,
        # checked against AWS, does), not with GetFunction's "Function not found".
        _raise(ApiError(INVALID, "Function does not exist"))


def _function_or_none(backend: Any, name_or_arn: str) -> Any:
    try:
        return backend.get_function(name_or_arn)
    except UnknownFunctionException:
        return None


def _reported_arn(fn: Any) -> str:
    """The function's ARN as the mapping reports it: qualified only when a version or alias was named."""
    arn = fn.function_arn
    return arn[: -len(":$LATEST")] if arn.endswith(":$LATEST") else arn


def _names_function(mapping: Mapping, name_or_arn: str) -> bool:
    if name_or_arn.startswith("arn:"):
        return mapping.function_arn == name_or_arn or (
            len(name_or_arn.split(":")) == 7 and mapping.function_arn.split(":")[:7] == name_or_arn.split(":"))
    name, _, qualifier = name_or_arn.partition(":")
    return mapping.function_name == name and (not qualifier or mapping.qualifier == qualifier)


def _check_filter(mapping: Mapping) -> ApiError | None:
    problem = filtering.check(mapping.filter_criteria)
    return ApiError(INVALID, problem) if problem else None


def _check_source(mapping: Mapping) -> ApiError | None:
    if mapping.kind == SQS:
        return None if sqs_queue.find_queue(mapping.event_source_arn) else ApiError(INVALID, NO_QUEUE)
    source = stream_sources.source_for(mapping.kind, mapping.event_source_arn, "")
    return None if source.exists() else ApiError(INVALID, f"Stream not found: {mapping.event_source_arn}")


def _check_role(mapping: Mapping, role_arn: str) -> ApiError | None:
    """Lambda reads the source (and writes the on-failure destination) with the function's execution role."""
    account = mapping.account_id
    if mapping.kind == SQS:
        for action in SQS_READ_ACTIONS:
            if not iam.role_allows(account, role_arn, f"sqs:{action}", mapping.event_source_arn):
                return ApiError(INVALID, f"The provided execution role does not have permissions to call {action} "
                                         "on SQS")
        return None
    service = "kinesis" if mapping.kind == KINESIS else "dynamodb"
    if not all(iam.role_allows(account, role_arn, f"{service}:{action}", mapping.event_source_arn)
               for action in STREAM_READ_ACTIONS):
        return ApiError(INVALID, f"Cannot access stream {mapping.event_source_arn}. Please ensure the role can perform "
                                 "the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your "
                                 "stream in IAM.")
    return _check_destination(mapping, role_arn)


def _check_destination(mapping: Mapping, role_arn: str) -> ApiError | None:
    """A stream's on-failure destination is an SQS queue or SNS topic the execution role may write to."""
    destination = mapping.on_failure_arn
    if not destination:
        return None
    parsed = destinations.Arn.parse(destination)
    if parsed is None or parsed.service not in ON_FAILURE_SERVICES:
        return ApiError(INVALID, validation.UNSUPPORTED.format(member="DestinationConfig"))
    if not destinations.role_may_deliver(mapping.account_id, role_arn, destination):
        # The words of Lambda's destination check for asynchronous invocation (async_config).
        call = destinations.ACTIONS[parsed.service][1]
        return ApiError(INVALID, f"The function's execution role does not have permissions to call {call} on "
                                 f"{destination}")
    return None


def _duplicate(mapping: Mapping) -> ApiError | None:
    for other in _mappings.values():
        if other.event_source_arn == mapping.event_source_arn and other.function_arn == mapping.function_arn:
            if mapping.kind == SQS:
                message = (f'An event source mapping with SQS arn (" {other.event_source_arn} ") and function '
                           f'(" {mapping.function_name} ") already exists. Please update or delete the existing '
                           f"mapping with UUID {other.uuid}")
            else:
                message = (f'The event source arn (" {other.event_source_arn} ") and function (" '
                           f'{mapping.function_name} ") provided mapping already exists. Please update or delete '
                           f"the existing mapping with UUID {other.uuid}")
            return ApiError("ResourceConflictException", message, 409)
    return None


# --- pollers --------------------------------------------------------------------------------------

def _new_poller(mapping: Mapping, role_arn: str) -> Poller:
    if mapping.kind == SQS:
        return SqsPoller(mapping, _engine, _function_spec)
    source = stream_sources.source_for(mapping.kind, mapping.event_source_arn, role_arn)
    return StreamPoller(mapping, _engine, _function_spec, source)


def _function_spec(mapping: Mapping) -> Any:
    """The mapping's function as it is now (None once it is deleted: the mapping then waits, reading nothing)."""
    try:
        backend = lambda_backends[mapping.account_id][mapping.region]
    except Exception:
        return None
    return moto_hooks.spec_loader(backend, mapping.function_name, mapping.qualifier)()

