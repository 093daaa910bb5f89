"""Kinesis data streams and DynamoDB Streams as Lambda's stream poller reads them, from moto, in-process.

A source lists its shards, says where a mapping's StartingPosition puts it in each, and reads
records from a cursor onwards as items of Lambda's event (aws-docs/kinesis-record.json,
aws-docs/dynamodb-record.json). The cursor is what the poller checkpoints: a Kinesis sequence
number (moto numbers each shard 1, 2, 3...), or a position in the table's stream.

Records arrive stamped with the cloud clock's time (the hooks below), so their age, the
iterator age metric and MaximumRecordAgeInSeconds follow a virtual clock too. Each arrival
wakes the pollers of its stream. moto's classes are one per process; the hooks on them are a
cloud's (its clock, its pollers), and a later cloud's install puts its own in their place.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.kinesis.models import Stream, kinesis_backends

from ...aws.moto_glue import wrap
from ...core.arns import Arn

DYNAMODB_STREAM_RETENTION_S = 24 * 3600


@dataclass(frozen=True)
class StreamItem:
    sequence_number: str
    arrival: float  # clock time the record reached the stream
    cursor_after: int  # the shard's cursor once this record is processed
    record: dict[str, Any]  # the record as the function receives it


@dataclass(frozen=True)
class StreamHooks:
    """What moto's Kinesis and DynamoDB Streams tell one cloud: the time a record arrived, by its clock,
    and a stream that has a new record (its pollers read at once)."""

    clock_now: Callable[[], float]
    on_change: Callable[[str], None]  # on_change(stream_arn)


def install(hooks: StreamHooks) -> None:
    """Stamp arrivals with this cloud's clock and wake its pollers (replacing an earlier cloud's hooks)."""
    wrap(Stream, "put_record", functools.partial(_put_record, hooks))
    wrap(StreamShard, "add", functools.partial(_add, hooks))


def _put_record(hooks: StreamHooks, original: Callable[..., tuple[str, str]], stream: Stream, partition_key: str,
                explicit_hash_key: str, data: str) -> tuple[str, str]:
    sequence_number, shard_id = original(stream, partition_key, explicit_hash_key, data)
    stream.shards[shard_id].records[int(sequence_number)].lambdalab_arrival = hooks.clock_now()
    hooks.on_change(stream.arn)
    return sequence_number, shard_id


def _add(hooks: StreamHooks, original: Callable[..., None], shard: StreamShard, old: Any, new: Any) -> None:
    original(shard, old, new)
    if shard.items:
        shard.items[-1].lambdalab_arrival = hooks.clock_now()
    hooks.on_change(f"{shard.table.table_arn}/stream/{shard.table.latest_stream_label}")


def source_for(kind: str, arn: str, role_arn: str, clock_now: Callable[[], float]) -> StreamSource:
    """The stream a mapping reads; clock_now dates a record that came without an arrival time."""
    return KinesisSource(arn, role_arn, clock_now) if kind == "kinesis" else DynamoDBStreamSource(arn, clock_now)


def _parts(arn: str) -> tuple[str, str, str]:
    """(account, region, resource) of an ARN."""
    parsed = Arn.parse(arn)
    if parsed is None:  # never: a source is made only for an ARN source_kind knows
        raise ValueError(f"not an ARN: {arn}")
    return parsed.account_id, parsed.region, parsed.resource


class KinesisSource:
    kind = "kinesis"

    def __init__(self, arn: str, role_arn: str, clock_now: Callable[[], float]) -> None:
        self.arn = arn
        self.role_arn = role_arn  # Kinesis records name the role that read them (invokeIdentityArn)
        self._clock_now = clock_now
        self.account_id, self.region, resource = _parts(arn)
        self.name = resource.split("/", 1)[1]

    def _stream(self) -> Stream | None:
        try:
            stream = kinesis_backends[self.account_id][self.region].streams.get(self.name)
        except Exception:
            return None
        return stream if stream is not None and stream.arn == self.arn else None

    def exists(self) -> bool:
        return self._stream() is not None

    @property
    def retention_s(self) -> float:
        stream = self._stream()
        return (stream.retention_period_hours if stream else 24) * 3600.0

    def shard_ids(self) -> list[str]:
        stream = self._stream()
        return list(stream.shards) if stream else []

    def start_cursor(self, shard_id: str, starting_position: str | None, timestamp: float | None) -> int:
        shard = self._stream().shards[shard_id]
        if starting_position == "LATEST":
            return shard.get_max_sequence_number()
        if starting_position == "AT_TIMESTAMP" and timestamp is not None:
            before = [number for number, record in list(shard.records.items())
                      if _arrival(record, self._clock_now) < timestamp]
            return before[-1] if before else 0
        return 0

    def read(self, shard_id: str, cursor: int, limit: int) -> list[StreamItem]:
        stream = self._stream()
        shard = stream.shards.get(shard_id) if stream else None
        if shard is None:
            return []
        items = []
        for number, record in list(shard.records.items()):
            if number <= cursor:
                continue
            items.append(StreamItem(str(number), _arrival(record, self._clock_now), number,
                                    self._event_record(shard_id, record)))
            if len(items) >= limit:
                break
        return items

    def _event_record(self, shard_id: str, record: Any) -> dict[str, Any]:
        """One record of the Kinesis event (aws-docs/kinesis-record.json); data stays base64, as AWS sends it."""
        data = record.data if isinstance(record.data, str) else base64.b64encode(record.data).decode()
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record.partition_key,
                "sequenceNumber": str(record.sequence_number),
                "data": data,
                "approximateArrivalTimestamp": round(_arrival(record, self._clock_now), 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record.sequence_number}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role_arn,
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        }


class DynamoDBStreamSource:
    kind = "dynamodb"
    retention_s = float(DYNAMODB_STREAM_RETENTION_S)

    def __init__(self, arn: str, clock_now: Callable[[], float]) -> None:
        self.arn = arn
        self._clock_now = clock_now
        self.account_id, self.region, resource = _parts(arn)
        _, self.table_name, _, self.label = resource.split("/", 3)

    def _shard(self) -> StreamShard | None:
        try:
            table = dynamodb_backends[self.account_id][self.region].tables.get(self.table_name)
        except Exception:
            return None
        if table is None or table.latest_stream_label != self.label:
            return None  # the table, or this stream of it, is gone
        return table.stream_shard

    def exists(self) -> bool:
        return self._shard() is not None

    def shard_ids(self) -> list[str]:
        shard = self._shard()
        return [shard.id] if shard is not None else []

    def start_cursor(self, shard_id: str, starting_position: str | None, timestamp: float | None) -> int:
        shard = self._shard()
        return len(shard.items) if shard is not None and starting_position == "LATEST" else 0

    def read(self, shard_id: str, cursor: int, limit: int) -> list[StreamItem]:
        shard = self._shard()
        if shard is None or shard.id != shard_id:
            return []
        return [StreamItem(item.record["dynamodb"]["SequenceNumber"], _arrival(item, self._clock_now), index + 1,
                           self._event_record(item))
                for index, item in enumerate(list(shard.items[cursor:cursor + limit]), start=cursor)]

    def _event_record(self, item: Any) -> dict[str, Any]:
        """One record of the DynamoDB Streams event (sam-templates/dynamodb-DynamoDBUpdate.json)."""
        source = item.record
        change = {key: value for key, value in source["dynamodb"].items()}
        change["ApproximateCreationDateTime"] = int(_arrival(item, self._clock_now))
        return {
            "eventID": source["eventID"],
            "eventName": source["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": change,
            "eventSourceARN": self.arn,
        }


StreamSource = KinesisSource | DynamoDBStreamSource


def _arrival(record: Any, clock_now: Callable[[], float]) -> float:
    """When a record reached its stream, by the cloud clock (moto's own real-time stamp before the hooks)."""
    stamped = getattr(record, "lambdalab_arrival", None)
    if stamped is not None:
        return stamped
    created = getattr(record, "created_at", None)
    if isinstance(created, (int, float)):
        return float(created)
    moment = record.record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp()
    return clock_now()
