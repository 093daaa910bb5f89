"""CreateEventSourceMapping's and UpdateEventSourceMapping's checks, in the words AWS answers with.

Ranges come from Lambda's API model (botocore checks only the minimums on the client side);
the rules between members (a batch above 10 needs a batching window, FIFO queues take no
window, streams need a starting position) are Lambda's own. A few wordings were not found in
an AWS source; they say so below.
"""

from __future__ import annotations

from typing import Any

from ...engine.validation import ApiError, _range_error
from .mapping import DYNAMODB, REPORT_BATCH_ITEM_FAILURES, SQS, SQS_ONLY, STREAM_ONLY, Mapping

INVALID = "InvalidParameterValueException"
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
UNSUPPORTED = "Unsupported {member} parameter for given event source mapping type."


def check(candidate: Mapping, request: dict[str, Any], creating: bool) -> ApiError | None:
    """The first problem of `candidate` (the mapping as the request would leave it), or None."""
    for check_one in (_ranges, _response_types, _sqs_rules if candidate.kind == SQS else _stream_rules):
        error = check_one(candidate, request, creating)
        if error is not None:
            return error
    return None


def _ranges(candidate: Mapping, request: dict[str, Any], creating: bool) -> ApiError | None:
    limits = [
        (candidate.batch_size, "batchSize", 1, 10_000),
        (candidate.batching_window_s, "maximumBatchingWindowInSeconds", 0, 300),
        (candidate.maximum_retry_attempts, "maximumRetryAttempts", -1, 10_000),
        (candidate.maximum_record_age_s, "maximumRecordAgeInSeconds", -1, 604_800),
        (candidate.parallelization_factor, "parallelizationFactor", 1, 10),
        (candidate.tumbling_window_s, "tumblingWindowInSeconds", 0, 900),
    ]
    if candidate.maximum_concurrency is not None:
        limits.append((candidate.maximum_concurrency, "scalingConfig.maximumConcurrency", 2, 1_000))
    for value, member, low, high in limits:
        error = _range_error(value, member, low, high)
        if error is not None:
            return error
    return None


def _response_types(candidate: Mapping, request: dict[str, Any], creating: bool) -> ApiError | None:
    wrong = [value for value in candidate.function_response_types if value != REPORT_BATCH_ITEM_FAILURES]
    if wrong:
        return ApiError("ValidationException", f"1 validation error detected: Value '[{', '.join(wrong)}]' at "
                        "'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: "
                        f"[Member must satisfy enum value set: [{REPORT_BATCH_ITEM_FAILURES}]]")
    return None


def _sqs_rules(candidate: Mapping, request: dict[str, Any], creating: bool) -> ApiError | None:
    for member in STREAM_ONLY:
        if request.get(member) not in (None, False, {}, {"OnFailure": {}}):
            # Wording unconfirmed for SQS: AWS answers this for OnSuccess on a stream mapping.
            return ApiError(INVALID, UNSUPPORTED.format(member=member))
    if candidate.fifo:
        if candidate.batch_size > 10:
            # AWS's words from when every SQS mapping was limited to 10; unconfirmed for FIFO today.
            return ApiError(INVALID, "Maximum batch size must be between 1 and 10 inclusive")
        if candidate.batching_window_s > 0:
            return ApiError(INVALID, "Batching window is not supported for FIFO queues")
    elif candidate.batch_size > 10 and candidate.batching_window_s < 1:
        return ApiError(INVALID, "Maximum batch window in seconds must be greater than 0 if maximum batch size "
                                 "is greater than 10")
    return None


def _stream_rules(candidate: Mapping, request: dict[str, Any], creating: bool) -> ApiError | None:
    for member in SQS_ONLY:
        if request.get(member):
            return ApiError(INVALID, UNSUPPORTED.format(member=member))
    if creating and not request.get("StartingPosition"):
        return ApiError(INVALID, "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                                 "constraint: Member must not be null.")
    if candidate.starting_position not in STARTING_POSITIONS:
        return ApiError("ValidationException", f"1 validation error detected: Value '{candidate.starting_position}' "
                        "at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: "
                        "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]")
    if candidate.kind == DYNAMODB and candidate.starting_position == "AT_TIMESTAMP":
        return ApiError(INVALID, f"Unsupported starting position for arn type: {candidate.event_source_arn}")
    if candidate.starting_position == "AT_TIMESTAMP" and candidate.starting_position_timestamp is None:
        # Wording unconfirmed.
        return ApiError(INVALID, "StartingPositionTimestamp must be specified when StartingPosition is AT_TIMESTAMP.")
    if (candidate.destination_config or {}).get("OnSuccess"):
        return ApiError(INVALID, UNSUPPORTED.format(member="DestinationConfig"))
    if candidate.maximum_record_age_s != -1 and candidate.maximum_record_age_s < 60:
        # The API model allows -1 to 604,800; Lambda's guide says -1 or at least 60. Wording unconfirmed.
        return ApiError(INVALID, "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800.")
    return None
