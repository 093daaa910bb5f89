"""An event source mapping as Lambda keeps it, and as GetEventSourceMapping reports it.

The defaults are the ones AWS fills in: an SQS mapping reads batches of 10 and has no stream
settings; a stream mapping reads batches of 100, retries until the records expire (-1), and
reports where it has got to in LastProcessingResult.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...core.arns import Arn, FunctionArn

SQS = "sqs"
KINESIS = "kinesis"
DYNAMODB = "dynamodb"

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
STREAM_ONLY = ("StartingPosition", "StartingPositionTimestamp", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
               "BisectBatchOnFunctionError", "ParallelizationFactor", "TumblingWindowInSeconds", "DestinationConfig")
SQS_ONLY = ("ScalingConfig",)
DEFAULT_BATCH_SIZE = {SQS: 10, KINESIS: 100, DYNAMODB: 100}

# Request member -> (attribute, conversion). Members not listed are accepted by AWS for other
# sources (Kafka, MQ, DocumentDB) and mean nothing to the three sources here.
_MEMBERS: dict[str, tuple[str, Any]] = {
    "BatchSize": ("batch_size", int),
    "MaximumBatchingWindowInSeconds": ("batching_window_s", int),
    "Enabled": ("enabled", bool),
    "FunctionResponseTypes": ("function_response_types", list),
    "StartingPosition": ("starting_position", str),
    "StartingPositionTimestamp": ("starting_position_timestamp", lambda value: _epoch(value)),
    "MaximumRetryAttempts": ("maximum_retry_attempts", int),
    "MaximumRecordAgeInSeconds": ("maximum_record_age_s", int),
    "BisectBatchOnFunctionError": ("bisect_on_error", bool),
    "ParallelizationFactor": ("parallelization_factor", int),
    "TumblingWindowInSeconds": ("tumbling_window_s", int),
    "DestinationConfig": ("destination_config", dict),
    "ScalingConfig": ("scaling_config", dict),
    "FilterCriteria": ("filter_criteria", dict),
}


def source_kind(event_source_arn: str) -> str | None:
    """sqs, kinesis or dynamodb (a table's stream), from the source's ARN; None for anything else."""
    arn = Arn.parse(event_source_arn)
    if arn is None:
        return None
    service, resource = arn.service, arn.resource
    if service == SQS:
        return SQS
    if service == KINESIS and resource.startswith("stream/") and "/consumer/" not in resource:
        return KINESIS
    if service == DYNAMODB and resource.startswith("table/") and "/stream/" in resource:
        return DYNAMODB
    return None


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


@dataclass
class Mapping:
    uuid: str
    account_id: str
    region: str
    function_arn: str  # qualified when the mapping names a version or alias, as AWS reports it
    event_source_arn: str
    kind: str
    fifo: bool = False
    batch_size: int = 10
    batching_window_s: int = 0
    enabled: bool = True
    function_response_types: list[str] = field(default_factory=list)
    last_modified: float = 0.0
    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    bisect_on_error: bool = False
    parallelization_factor: int = 1
    tumbling_window_s: int = 0
    destination_config: dict[str, Any] = field(default_factory=lambda: {"OnFailure": {}})
    scaling_config: dict[str, Any] | None = None
    filter_criteria: dict[str, Any] | None = None
    last_processing_result: str = "No records processed"

    @classmethod
    def new(cls, uuid: str, account_id: str, region: str, function_arn: str, event_source_arn: str,
            kind: str, now: float) -> "Mapping":
        mapping = cls(uuid, account_id, region, function_arn, event_source_arn, kind,
                      fifo=kind == SQS and event_source_arn.endswith(".fifo"),
                      batch_size=DEFAULT_BATCH_SIZE[kind], last_modified=now)
        return mapping

    # --- reading ---------------------------------------------------------------------------------

    @property
    def is_stream(self) -> bool:
        return self.kind in (KINESIS, DYNAMODB)

    @property
    def function(self) -> FunctionArn:
        """The function (version, alias) the mapping invokes."""
        parsed = FunctionArn.parse(self.function_arn)
        if parsed is None:  # never: the mapping only ever holds moto's own ARN of a function
            raise ValueError(f"not a function ARN: {self.function_arn}")
        return parsed

    @property
    def function_name(self) -> str:
        return self.function.name

    @property
    def qualifier(self) -> str | None:
        return self.function.qualifier

    @property
    def source(self) -> Arn:
        parsed = Arn.parse(self.event_source_arn)
        if parsed is None:  # never: a mapping is made only for an ARN source_kind knows
            raise ValueError(f"not an ARN: {self.event_source_arn}")
        return parsed

    @property
    def source_name(self) -> str:
        """How the event flow names the source: "sqs:orders", "kinesis:clicks", "dynamodb:visits"."""
        resource = self.source.resource
        if self.kind == SQS:
            return f"sqs:{resource}"
        return f"{self.kind}:{resource.split('/')[1]}"

    @property
    def reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types

    @property
    def on_failure_arn(self) -> str | None:
        return ((self.destination_config or {}).get("OnFailure") or {}).get("Destination") or None

    @property
    def maximum_concurrency(self) -> int | None:
        return (self.scaling_config or {}).get("MaximumConcurrency")

    @property
    def state(self) -> str:
        return "Enabled" if self.enabled else "Disabled"

    def configuration(self, state: str | None = None) -> dict[str, Any]:
        """EventSourceMappingConfiguration, with the fields AWS reports for this kind of source."""
        document: dict[str, Any] = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window_s,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": state or self.state,
            "StateTransitionReason": "User action" if self.is_stream else "USER_INITIATED",
            "FunctionResponseTypes": list(self.function_response_types),
            "EventSourceMappingArn": f"arn:aws:lambda:{self.region}:{self.account_id}:event-source-mapping:{self.uuid}",
        }
        if self.filter_criteria is not None:
            document["FilterCriteria"] = copy.deepcopy(self.filter_criteria)
        if self.is_stream:
            document.update({
                "StartingPosition": self.starting_position,
                "ParallelizationFactor": self.parallelization_factor,
                "LastProcessingResult": self.last_processing_result,
                "DestinationConfig": copy.deepcopy(self.destination_config),
                "MaximumRecordAgeInSeconds": self.maximum_record_age_s,
                "BisectBatchOnFunctionError": self.bisect_on_error,
                "MaximumRetryAttempts": self.maximum_retry_attempts,
                "TumblingWindowInSeconds": self.tumbling_window_s,
            })
            if self.starting_position_timestamp is not None:
                document["StartingPositionTimestamp"] = self.starting_position_timestamp
        elif self.scaling_config:
            document["ScalingConfig"] = copy.deepcopy(self.scaling_config)
        return document

    # --- changing --------------------------------------------------------------------------------

    def apply(self, request: dict[str, Any]) -> None:
        """Take the members of a Create or Update request that this mapping understands."""
        for member, (attribute, convert) in _MEMBERS.items():
            if member in request and request[member] is not None:
                setattr(self, attribute, convert(request[member]))
        if self.destination_config is not None and "OnFailure" not in self.destination_config:
            self.destination_config = {"OnFailure": {}, **self.destination_config}

    def changed(self, request: dict[str, Any]) -> "Mapping":
        """A copy with the request applied: validated before it replaces this one."""
        candidate = copy.deepcopy(self)
        candidate.apply(request)
        return candidate
