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

The mappings and their pollers belong to one cloud (:class:`EventSourceMappings`, made by
:func:`install`); the API's handlers, the moto hooks of SQS and the streams, and the admin
request close over it, so a second cloud in the same process gets mappings of its own.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.responses import LambdaResponse

from ..aws import iam
from ..aws.moto_glue import SpecLoader, raise_if, replace_method
from ..core.admin import AdminRequest
from ..core.arns import Arn
from ..engine.spec import FunctionSpec
from ..engine.validation import ApiError
from . import destinations
from .pollers import filtering, sqs_queue, stream_sources, validation
from .pollers.base import Poller
from .pollers.mapping import KINESIS, SQS, Mapping, source_kind
from .pollers.sqs import SqsPoller
from .pollers.stream_sources import KinesisSource
from .pollers.streams import ShardState, StreamPoller
from .services import CloudServices

INVALID = "InvalidParameterValueException"
NOT_FOUND_MESSAGE = "The resource you requested does not exist."
SQS_READ_ACTIONS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
STREAM_READ_ACTIONS = ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
ON_FAILURE_SERVICES = ("sqs", "sns", "s3")  # (and Kafka on AWS)
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist for this wsdl version.")

Response = tuple[int, dict[str, str], str]  # as moto's response handlers answer
Api = Callable[[LambdaResponse], Response]


# --- the trigger module's life ------------------------------------------------------------------

def install(cloud: CloudServices) -> "EventSourceMappings":
    """Answer the mapping API for this cloud, hook moto's SQS and streams to its pollers, and add
    GET /lambdalab/event-source-mappings (a later cloud's install replaces every hook)."""
    mappings = EventSourceMappings(cloud)
    sqs_queue.install(mappings.queue_hooks)
    stream_sources.install(mappings.stream_hooks)
    cloud.clock.add_busy_check(mappings.any_poller_busy)
    cloud.clock.add_time_listener(mappings.time_moved)
    apis: dict[str, Api] = {
        "create_event_source_mapping": mappings.create_api,
        "get_event_source_mapping": mappings.get_api,
        "list_event_source_mappings": mappings.list_api,
        "update_event_source_mapping": mappings.update_api,
        "delete_event_source_mapping": mappings.delete_api,
    }
    for name, api in apis.items():  # moto's own answers are replaced outright (see above)
        replace_method(LambdaResponse, name, _response_method(api))
    cloud.admin_routes.add("GET", "/lambdalab/event-source-mappings", mappings.describe_pollers)
    return mappings


def _response_method(api: Api) -> Api:
    """A plain function for LambdaResponse's class (a bound method set there would not be handed the
    response moto calls it on)."""
    def method(response: LambdaResponse) -> Response:
        return api(response)

    return method


class EventSourceMappings:
    """One cloud's event source mappings and their pollers (the Trigger the cloud resets and shuts down)."""

    def __init__(self, cloud: CloudServices) -> None:
        self.cloud = cloud
        self._lock = threading.RLock()
        self._mappings: dict[str, Mapping] = {}
        self._pollers: dict[str, Poller] = {}
        self.queue_hooks = sqs_queue.SqsHooks(cloud.clock.now, self.source_changed, self.dead_lettered)
        self.stream_hooks = stream_sources.StreamHooks(cloud.clock.now, self.source_changed)

    def reset(self) -> None:
        """The account is being emptied: every poller stops, every mapping is forgotten."""
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
            self._mappings.clear()
        for poller in pollers:
            poller.stop()

    def shutdown(self) -> None:
        self.reset()

    # --- kept on disk (cloud/persistence.py) -------------------------------------------------------

    def export_state(self) -> list[tuple[Mapping, dict[str, int]]]:
        """Every mapping, with how far its poller has read each stream shard (SQS pollers keep nothing:
        the queue itself remembers what was received and deleted)."""
        with self._lock:
            pairs = [(mapping, self._pollers.get(mapping.uuid)) for mapping in self._mappings.values()]
        saved = []
        for mapping, poller in pairs:
            cursors = {}
            if isinstance(poller, StreamPoller):
                with poller._state_lock:
                    cursors = {shard_id: shard.cursor for shard_id, shard in poller.shards.items()}
            saved.append((mapping, cursors))
        return saved

    def restore_state(self, saved: list[tuple[Mapping, dict[str, int]]]) -> None:
        """The saved mappings, each with a poller again; a stream's poller goes on from where it had read."""
        for mapping, cursors in saved:
            fn = _function_or_none_by_arn(mapping)
            poller = self._new_poller(mapping, fn.role if fn is not None else "")
            if isinstance(poller, StreamPoller):
                for shard_id, cursor in cursors.items():
                    poller.shards[shard_id] = ShardState(cursor)
            with self._lock:
                self._mappings[mapping.uuid] = mapping
                self._pollers[mapping.uuid] = poller.start()

    def mappings(self) -> list[Mapping]:
        """Every mapping of the cloud (for views and checks)."""
        with self._lock:
            return list(self._mappings.values())

    def describe_pollers(self, request: AdminRequest) -> list[dict[str, Any]]:
        """Every mapping with its poller's state: what a console view or a check can show without waiting."""
        with self._lock:
            pairs = [(mapping, self._pollers.get(mapping.uuid)) for mapping in self._mappings.values()]
        return [{**mapping.configuration(), "Poller": poller.describe() if poller else None}
                for mapping, poller in pairs]

    # --- what the clock and moto's hooks call ------------------------------------------------------

    def any_poller_busy(self) -> bool:
        with self._lock:
            pollers = list(self._pollers.values())
        return any(poller.busy() for poller in pollers)

    def time_moved(self, now: float) -> None:
        """Virtual time moved: every poller looks again (a wake-up it booked covers the rest)."""
        with self._lock:
            pollers = list(self._pollers.values())
        for poller in pollers:
            poller.signal()

    def source_changed(self, source_arn: str) -> None:
        with self._lock:
            pollers = [poller for poller in self._pollers.values() if poller.mapping.event_source_arn == source_arn]
        for poller in pollers:
            poller.signal()

    def dead_lettered(self, queue: Any, dead_letter_queue: Any, message: Any) -> None:
        self.cloud.flow.record(f"sqs:{queue.name}", f"sqs:{dead_letter_queue.name}", "dead-letter",
                               f"message {message.id} after {message.approximate_receive_count} receives "
                               f"(maxReceiveCount {queue.redrive_policy['maxReceiveCount']})", ok=False)

    # --- the API ----------------------------------------------------------------------------------

    def create_api(self, response: LambdaResponse) -> Response:
        request = response.json_body or {}
        backend = response.backend
        source_arn = request.get("EventSourceArn") or ""
        kind = source_kind(source_arn)
        if kind is None:
            raise_if(ApiError(INVALID, "Unrecognized event source."))
        fn = _function(backend, request.get("FunctionName") or "")
        mapping = Mapping.new(str(uuid.uuid4()), backend.account_id, backend.region_name, _reported_arn(fn),
                              source_arn, kind, self.cloud.clock.now())
        mapping.apply(request)
        raise_if(validation.check(mapping, request, creating=True))
        raise_if(_check_filter(mapping))
        raise_if(self._check_source(mapping))
        raise_if(_check_role(mapping, fn.role))
        with self._lock:
            raise_if(self._duplicate(mapping))
            self._mappings[mapping.uuid] = mapping
            self._pollers[mapping.uuid] = self._new_poller(mapping, fn.role).start()
        return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration("Creating"))

    def get_api(self, response: LambdaResponse) -> Response:
        mapping = self._owned(response)
        return 200, {"content-type": "application/json"}, json.dumps(mapping.configuration())

    def list_api(self, response: LambdaResponse) -> Response:
        query = {key: values[0] for key, values in response.querystring.items() if values}
        backend = response.backend
        found = [m for m in self.mappings() if m.account_id == backend.account_id and m.region == backend.region_name]
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

    def update_api(self, response: LambdaResponse) -> Response:
        mapping = self._owned(response)
        request = response.json_body or {}
        candidate = mapping.changed(request)
        fn = None
        if request.get("FunctionName"):
            fn = _function(response.backend, request["FunctionName"])
            candidate.function_arn = _reported_arn(fn)
        raise_if(validation.check(candidate, request, creating=False))
        raise_if(_check_filter(candidate))
        if fn is not None or request.get("DestinationConfig") or (request.get("Enabled") and not mapping.enabled):
            # The role is asked again for a new function, a new destination, or a mapping switched back on;
            # disabling a mapping or changing its batch size does not fail on the role (AWS's rule unconfirmed).
            current = fn or _function_or_none(response.backend, mapping.function_arn)
            if current is not None:
                raise_if(_check_role(candidate, current.role))
        was_enabled = mapping.enabled
        with self._lock:
            mapping.apply(request)
            mapping.function_arn = candidate.function_arn
            mapping.last_modified = self.cloud.clock.now()
            poller = self._pollers.get(mapping.uuid)
        if isinstance(poller, StreamPoller) and isinstance(poller.source, KinesisSource) and fn is not None:
            poller.source.role_arn = fn.role  # Kinesis records name the role that read them
        if poller is not None:
            poller.signal()
        state = "Updating"
        if mapping.enabled != was_enabled:
            state = "Enabling" if mapping.enabled else "Disabling"
        return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration(state))

    def delete_api(self, response: LambdaResponse) -> Response:
        mapping = self._owned(response)
        with self._lock:
            self._mappings.pop(mapping.uuid, None)
            poller = self._pollers.pop(mapping.uuid, None)
        if poller is not None:
            poller.stop()
        return 202, {"status": "202", "content-type": "application/json"}, json.dumps(mapping.configuration("Deleting"))

    # --- the cloud's own checks ---------------------------------------------------------------------

    def _owned(self, response: LambdaResponse) -> Mapping:
        """The mapping the path names, if it is this account's and region's; else AWS's 404."""
        mapping_id = response.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            mapping = self._mappings.get(mapping_id)
        if mapping is None or mapping.account_id != response.backend.account_id \
                or mapping.region != response.backend.region_name:
            raise_if(ApiError("ResourceNotFoundException", NOT_FOUND_MESSAGE, 404))
        return mapping

    def _check_source(self, mapping: Mapping) -> ApiError | None:
        if mapping.kind == SQS:
            return None if sqs_queue.find_queue(mapping.event_source_arn) else ApiError(INVALID, NO_QUEUE)
        source = stream_sources.source_for(mapping.kind, mapping.event_source_arn, "", self.cloud.clock.now)
        return None if source.exists() else ApiError(INVALID, f"Stream not found: {mapping.event_source_arn}")

    def _duplicate(self, mapping: Mapping) -> ApiError | None:
        for other in self._mappings.values():
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

    # --- pollers ----------------------------------------------------------------------------------

    def _new_poller(self, mapping: Mapping, role_arn: str) -> Poller:
        if mapping.kind == SQS:
            return SqsPoller(mapping, self.cloud, self.queue_hooks, _function_spec)
        source = stream_sources.source_for(mapping.kind, mapping.event_source_arn, role_arn, self.cloud.clock.now)
        return StreamPoller(mapping, self.cloud, _function_spec, source)


def _function_spec(mapping: Mapping) -> FunctionSpec | None:
    """The mapping's function as it is now (None once it is deleted: the mapping then waits, reading nothing)."""
    try:
        loader = SpecLoader.for_arn(mapping.function)
    except Exception:
        return None
    return loader()


def _function_or_none_by_arn(mapping: Mapping) -> Any:
    try:
        loader = SpecLoader.for_arn(mapping.function)
        return loader.backend.get_function(mapping.function_arn)
    except Exception:
        return None


# --- checks ---------------------------------------------------------------------------------------

def _function(backend: Any, name_or_arn: str) -> Any:
    try:
        return backend.get_function(name_or_arn)
    except UnknownFunctionException:
        # LambdaResponse answers a missing function of a mapping with these words (as LocalStack,
        # checked against AWS, does), not with GetFunction's "Function not found".
        raise_if(ApiError(INVALID, "Function does not exist"))


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
    """ListEventSourceMappings' FunctionName: a name or ARN, qualified or not; unqualified, it names the
    function's mappings whatever version or alias they invoke."""
    if name_or_arn.startswith("arn:"):
        return mapping.function_arn == name_or_arn or mapping.function.unqualified == name_or_arn
    name, _, qualifier = name_or_arn.partition(":")
    return mapping.function_name == name and (not qualifier or mapping.qualifier == qualifier)


def _check_filter(mapping: Mapping) -> ApiError | None:
    problem = filtering.check(mapping.filter_criteria)
    return ApiError(INVALID, problem) if problem else None


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
    parsed = Arn.parse(destination)
    if parsed is None or parsed.service not in ON_FAILURE_SERVICES:
        return ApiError(INVALID, validation.UNSUPPORTED.format(member="DestinationConfig"))
    if not destinations.role_may_deliver(mapping.account_id, role_arn, destination):
        # The words of Lambda's destination check for asynchronous invocation (async_config).
        call = destinations.ACTIONS[parsed.service][1]
        return ApiError(INVALID, f"The function's execution role does not have permissions to call {call} on "
                                 f"{destination}")
    return None
