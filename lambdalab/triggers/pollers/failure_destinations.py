"""The on-failure record of a stream batch Lambda gave up on, for the mapping's SQS queue or SNS topic.

A stream mapping with DestinationConfig.OnFailure does not send the records themselves (a
stream keeps them): it sends where they are, as AWS documents it ("Retaining records of
discarded batches"): requestContext (condition RetryAttemptsExhausted or RecordAgeExceeded,
approximateInvokeCount), responseContext, and KinesisBatchInfo or DDBStreamBatchInfo with the
shard, the first and last sequence numbers and arrival times, the batch size and the stream.
It is delivered as the async queue delivers its destinations (triggers/destinations.py): with
the execution role's rights, checked again at delivery.
"""

from __future__ import annotations

from typing import Any

from ..destinations import timestamp
from .stream_sources import StreamItem


def failure_record(*, kind: str, stream_arn: str, shard_id: str, items: list[StreamItem], function_arn: str,
                   condition: str, invoke_count: int, request_id: str | None, function_error: str | None,
                   executed_version: str, now: float) -> dict[str, Any]:
    info_key = "KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"
    document: dict[str, Any] = {
        "requestContext": {"requestId": request_id or "", "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "version": "1.0",
        "timestamp": timestamp(now),
        info_key: {
            "shardId": shard_id,
            "startSequenceNumber": items[0].sequence_number,
            "endSequenceNumber": items[-1].sequence_number,
            "approximateArrivalOfFirstRecord": timestamp(items[0].arrival),
            "approximateArrivalOfLastRecord": timestamp(items[-1].arrival),
            "batchSize": len(items),
            "streamArn": stream_arn,
        },
    }
    if invoke_count > 0:  # records discarded before any invoke have no response to tell of
        response = {"statusCode": 200, "executedVersion": executed_version}
        if function_error:
            response["functionError"] = function_error
        document["responseContext"] = response
    return document
