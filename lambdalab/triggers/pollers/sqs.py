"""The SQS poller: batches from a queue, the function invoked synchronously, the batch's fate decided.

As on AWS: a batch of up to BatchSize messages (sooner than full when
MaximumBatchingWindowInSeconds is 0, at the window's end otherwise, and never over the 6 MB
invoke payload), deleted when the function succeeds; on an error (or a throttle) nothing is
deleted, so the messages reappear when the queue's visibility timeout ends, their
ApproximateReceiveCount one higher, until the queue's redrive policy moves them to its
dead-letter queue. With ReportBatchItemFailures only the messages the function names stay.
FIFO queues keep each message group in order: moto's SQS holds back a group while any of its
messages is in flight or hidden after a failure.

Up to five batches run at once (AWS starts an SQS mapping with five pollers; it scales beyond,
a laptop does not), fewer with ScalingConfig's MaximumConcurrency; after a throttle the poller
steps down to what is running and climbs back one batch at a time.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Callable
from typing import Any

from ...engine.service import InvokeOutcome
from ...engine.spec import FunctionSpec
from ..services import CloudServices
from . import batch_responses, filtering, sqs_queue
from .base import Poller
from .mapping import Mapping

PAYLOAD_LIMIT_BYTES = 6_291_456
WINDOW, VISIBLE = "window", "visible"  # the poller's two kinds of wake-up
ENVELOPE_BYTES = len('{"Records": []}')


class SqsPoller(Poller):
    def __init__(self, mapping: Mapping, cloud: CloudServices, queues: sqs_queue.SqsHooks,
                 load_function: Callable[[Mapping], FunctionSpec | None]) -> None:
        self._start_concurrency = cloud.settings.sqs_poller_concurrency
        super().__init__(mapping, cloud, workers=self._start_concurrency)
        self._queues = queues  # the cloud's hooks of moto's SQS: a batch given back wakes the queue's pollers
        self._load_function = load_function
        self._window_opened: float | None = None
        self._limit = self._start_concurrency
        self._handles_lock = threading.Lock()
        self._handles_in_flight: set[str] = set()  # receipt handles of the batches running now

    def _concurrency(self) -> int:
        cap = self.mapping.maximum_concurrency
        return max(1, min(self._limit, self._start_concurrency, cap or self._start_concurrency))

    # --- reading -----------------------------------------------------------------------------------

    def pump(self) -> None:
        found = sqs_queue.find_queue(self.mapping.event_source_arn)
        if found is None or self._load_function(self.mapping) is None:
            return  # the queue or the function is gone: the mapping waits, as AWS's does
        backend, queue = found
        while self.in_flight < self._concurrency() and self._window_allows(queue):
            messages = sqs_queue.receive(backend, queue, self.mapping.batch_size)
            self._close_window()
            if not messages:  # nothing visible, or what is belongs to FIFO groups that are held back
                self._wake_when_receivable(queue)
                return
            batch = self._within_payload_limit(queue, [(message, sqs_record(message, queue)) for message in messages])
            with self._handles_lock:
                self._handles_in_flight.update(message.receipt_handle for message, _ in batch)
            self.dispatch(functools.partial(self._deliver, queue, batch))

    def _window_allows(self, queue: Any) -> bool:
        """Read now? Without a window, always (an empty receive books the next look); with one, when
        messages wait and the batch is full or the window has closed."""
        window = self.mapping.batching_window_s
        if window <= 0:
            return True
        waiting = sqs_queue.visible_count(queue)
        if waiting == 0:
            self._close_window()
            self._wake_when_receivable(queue)
            return False
        if waiting >= self.mapping.batch_size:
            return True
        now = self.clock.now()
        if self._window_opened is None:
            self._window_opened = now
        closes = self._window_opened + window
        if now >= closes:
            return True
        self.wake_at(closes, "batching window closes", WINDOW)
        return False

    def _close_window(self) -> None:
        self._window_opened = None
        self.cancel_wake(WINDOW)

    def _wake_when_receivable(self, queue: Any) -> None:
        """Book a look for when the next hidden or delayed message becomes receivable (not counting this
        poller's own batches: they are deleted, or book their own look when they fail)."""
        with self._handles_lock:
            running = set(self._handles_in_flight)
        when = sqs_queue.next_change(queue, excluding=running)
        if when is None:
            self.cancel_wake(VISIBLE)
        else:
            self.wake_at(when, "messages visible again", VISIBLE)

    def _within_payload_limit(self, queue: Any, batch: list[tuple[Any, dict]]) -> list[tuple[Any, dict]]:
        size = ENVELOPE_BYTES
        for index, (_, record) in enumerate(batch):
            size += len(json.dumps(record)) + 2
            if size > PAYLOAD_LIMIT_BYTES and index > 0:
                self._queues.give_back(queue, {message.receipt_handle for message, _ in batch[index:]})
                return batch[:index]
        return batch

    # --- one batch -----------------------------------------------------------------------------------

    def _deliver(self, queue: Any, batch: list[tuple[Any, dict]]) -> None:
        left_in_queue = True
        try:
            left_in_queue = self._invoke(queue, batch)
        finally:
            with self._handles_lock:
                self._handles_in_flight.difference_update(message.receipt_handle for message, _ in batch)
            # Messages left hidden need a look when they reappear; a look booked earlier may have
            # been for messages this batch has just deleted.
            if left_in_queue or self.has_wake(VISIBLE):
                self._wake_when_receivable(queue)

    def _invoke(self, queue: Any, batch: list[tuple[Any, dict]]) -> bool:
        """Invoke the function with the batch and settle its messages; True if some stay in the queue."""
        mapping, flow = self.mapping, self.cloud.flow
        target = f"lambda:{mapping.function_name}"
        spec = self._load_function(mapping)
        if spec is None:
            self._queues.give_back(queue, {message.receipt_handle for message, _ in batch})
            return False
        batch = self._filtered(queue, batch, target)
        if not batch:
            return False
        flow.record(mapping.source_name, target, "batch", _count(len(batch), "message"))
        payload = json.dumps({"Records": [record for _, record in batch]}).encode()
        outcome = self.cloud.engine.invoke(spec, payload)
        if outcome.throttle is not None:
            self._limit = max(1, self.in_flight - 1)
            flow.record(mapping.source_name, target, "throttle",
                        f"{_count(len(batch), 'message')} back after the visibility timeout "
                        f"({queue.visibility_timeout} s)", ok=False)
            return True
        self._limit = min(self._limit + 1, self._start_concurrency)
        if outcome.function_error:
            return self._failed(queue, len(batch), outcome, "function error")
        ids = [message.id for message, _ in batch]
        verdict = (batch_responses.read(outcome.body, ids) if mapping.reports_item_failures
                   else batch_responses.BatchVerdict())
        if verdict.whole_batch:
            return self._failed(queue, len(batch), outcome, verdict.reason)
        failed = set(verdict.failed)
        sqs_queue.delete(queue, {message.receipt_handle for message, _ in batch if message.id not in failed})
        detail = f"{_count(len(batch) - len(failed), 'message')} deleted"
        if failed:
            detail += f", {len(failed)} reported failed (batchItemFailures)"
        flow.record(target, target, "invoke", detail, request_id=outcome.request_id, ok=not failed)
        return bool(failed)

    def _failed(self, queue: Any, size: int, outcome: InvokeOutcome, why: str) -> bool:
        target = f"lambda:{self.mapping.function_name}"
        self.cloud.flow.record(
            target, target, "invoke",
            f"{why}: {_count(size, 'message')} back after the visibility timeout ({queue.visibility_timeout} s)",
            request_id=outcome.request_id, ok=False)
        return True

    def _filtered(self, queue: Any, batch: list[tuple[Any, dict]], target: str) -> list[tuple[Any, dict]]:
        """FilterCriteria: messages that match no pattern are deleted without reaching the function."""
        matcher = filtering.compile_matcher(self.mapping.filter_criteria)
        if matcher is None:
            return batch
        kept = [(message, record) for message, record in batch if matcher(record)]
        if len(kept) < len(batch):
            dropped = {message.receipt_handle for message, _ in batch} - {message.receipt_handle for message, _ in kept}
            sqs_queue.delete(queue, dropped)
            self.cloud.flow.record(self.mapping.source_name, target, "dropped",
                                   f"{_count(len(dropped), 'message')} matched no filter pattern (deleted)")
        return kept


def sqs_record(message: Any, queue: Any) -> dict[str, Any]:
    """One record of the SQS event (aws-docs/sqs-record.json), from a received message."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(int(message.sent_timestamp)),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(int(message.approximate_first_receive_timestamp)),
    }
    if queue.fifo_queue:
        attributes.update(SequenceNumber=str(message.sequence_number), MessageGroupId=message.group_id,
                          MessageDeduplicationId=message.deduplication_id)
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if isinstance(trace, dict) and trace.get("StringValue"):
        attributes["AWSTraceHeader"] = trace["StringValue"]
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {name: _attribute(value) for name, value in (message.message_attributes or {}).items()},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda writes it: lower-camel keys, list members always present."""
    data_type = value.get("DataType") or value.get("data_type") or "String"
    shown: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": data_type}
    string_value = value.get("StringValue", value.get("string_value"))
    binary_value = value.get("BinaryValue", value.get("binary_value"))
    if string_value is not None:
        shown["stringValue"] = string_value
    if binary_value is not None:
        shown["binaryValue"] = (base64.b64encode(binary_value).decode() if isinstance(binary_value, bytes)
                                else binary_value)
    return shown


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
