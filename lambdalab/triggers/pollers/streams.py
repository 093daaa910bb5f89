"""The stream poller (Kinesis, DynamoDB Streams): per shard, in order, one batch at a time.

What AWS documents, and this does:
- A shard's records go to the function in order, one batch at a time; shards run side by side.
  The mapping checkpoints a shard only when its batch succeeded (at-least-once, in order).
- A failed batch blocks its shard and is retried, the same records again, until it succeeds,
  until MaximumRetryAttempts retries have failed, or until its oldest record is older than
  MaximumRecordAgeInSeconds (-1: the stream's retention, 24 hours by default). Then the batch
  is skipped and, with DestinationConfig.OnFailure, a record of it is sent to the queue or topic.
- BisectBatchOnFunctionError splits a failing batch in two and tries the halves in turn, down
  to the one record that fails (the split itself uses no retry: retries count for a record
  that fails alone). ReportBatchItemFailures checkpoints up to the lowest sequence number the
  function names and retries from there.
- A throttled batch never reached the function: retried without counting.
AWS does not document the pause between retries; here it doubles from 1 s up to the
``stream_retry_max_delay_s`` setting (60 s), on the cloud clock. ParallelizationFactor and
TumblingWindowInSeconds are reported but not emulated (one batch per shard, no window state).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...engine.service import InvokeOutcome
from ...engine.spec import FunctionSpec
from .. import destinations
from ..services import CloudServices
from . import batch_responses, failure_destinations, filtering
from .base import Poller
from .mapping import Mapping
from .stream_sources import StreamItem, StreamSource

FIRST_RETRY_DELAY_S = 1.0
SHARD_WORKERS = 4
RETRY_EXHAUSTED = "RetryAttemptsExhausted"
AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass
class ShardState:
    cursor: int
    in_flight: bool = False
    attempts: int = 0  # failed invocations of the batch at the cursor
    throttles: int = 0
    retry_at: float | None = None
    pinned_limit: int | None = None  # the batch size while a failed (or halved) range is worked through
    pinned_until: int | None = None  # the cursor at which that range ends
    window_opened: float | None = None
    last_failure: InvokeOutcome | None = None  # the batch's last failed invoke, for the on-failure record


class StreamPoller(Poller):
    def __init__(self, mapping: Mapping, cloud: CloudServices, load_function: Callable[[Mapping], FunctionSpec | None],
                 source: StreamSource) -> None:
        super().__init__(mapping, cloud, workers=SHARD_WORKERS)
        self._load_function = load_function
        self.source = source
        self._state_lock = threading.RLock()
        # LATEST means "from when the mapping was created", not from the poller's first look.
        self.shards: dict[str, ShardState] = {
            shard_id: ShardState(self._start(shard_id)) for shard_id in source.shard_ids()}

    def _start(self, shard_id: str) -> int:
        return self.source.start_cursor(shard_id, self.mapping.starting_position,
                                        self.mapping.starting_position_timestamp)

    def _describe_source(self) -> dict[str, Any]:
        with self._state_lock:
            return {"shards": {shard_id: {"cursor": state.cursor, "in_flight": state.in_flight,
                                          "attempts": state.attempts, "retry_at": state.retry_at}
                               for shard_id, state in self.shards.items()}}

    # --- reading -----------------------------------------------------------------------------------

    def pump(self) -> None:
        if not self.source.exists() or self._load_function(self.mapping) is None:
            return
        for shard_id in self.source.shard_ids():
            with self._state_lock:
                state = self.shards.setdefault(shard_id, ShardState(0))  # a shard born later: from its start
                if state.in_flight:
                    continue
                if state.retry_at is not None and self.clock.now() < state.retry_at:
                    self.wake_at(state.retry_at, "retry of a failed batch", f"retry {shard_id}")
                    continue
                state.retry_at = None
                items = self._next_batch(shard_id, state)
                if not items:
                    continue
                state.in_flight = True
            self.dispatch(functools.partial(self._deliver, shard_id, state, items))

    def _next_batch(self, shard_id: str, state: ShardState) -> list[StreamItem]:
        mapping = self.mapping
        while True:
            limit = min(mapping.batch_size, state.pinned_limit or mapping.batch_size)
            items = self.source.read(shard_id, state.cursor, limit)
            if not items:
                state.window_opened = None
                return []
            now = self.clock.now()
            too_old = [item for item in items if now - item.arrival > self._maximum_age()]
            if not too_old:
                break
            self._give_up(shard_id, state, too_old, AGE_EXCEEDED, None)
        if state.pinned_limit is None and mapping.batching_window_s > 0 and len(items) < mapping.batch_size:
            if state.window_opened is None:
                state.window_opened = now
            closes = state.window_opened + mapping.batching_window_s
            if now < closes:
                self.wake_at(closes, "batching window closes", f"window {shard_id}")
                return []
        if state.window_opened is not None:
            state.window_opened = None
            self.cancel_wake(f"window {shard_id}")
        return items

    def _maximum_age(self) -> float:
        age = self.mapping.maximum_record_age_s
        return float(age) if age != -1 else self.source.retention_s

    # --- one batch -----------------------------------------------------------------------------------

    def _deliver(self, shard_id: str, state: ShardState, items: list[StreamItem]) -> None:
        try:
            self._invoke(shard_id, state, items)
        finally:
            with self._state_lock:
                state.in_flight = False

    def _invoke(self, shard_id: str, state: ShardState, items: list[StreamItem]) -> None:
        mapping, flow = self.mapping, self.cloud.flow
        target = f"lambda:{mapping.function_name}"
        spec = self._load_function(mapping)
        if spec is None:
            return
        matcher = filtering.compile_matcher(mapping.filter_criteria)
        delivered = [item for item in items if matcher is None or matcher(item.record)]
        if not delivered:
            flow.record(mapping.source_name, target, "dropped",
                        f"{shard_id}: {len(items)} record(s) matched no filter pattern (skipped)")
            with self._state_lock:
                self._commit(state, items[-1])
            return
        kind = "retry" if state.attempts else "batch"
        flow.record(mapping.source_name, target, kind, f"{shard_id}: {len(delivered)} record(s)"
                    + (f", attempt {state.attempts + 1}" if state.attempts else ""))
        self.cloud.metrics.put_iterator_age(spec, max((self.clock.now() - items[-1].arrival) * 1000.0, 0.0))
        outcome = self.cloud.engine.invoke(spec, json.dumps({"Records": [item.record for item in delivered]}).encode())
        with self._state_lock:
            if outcome.throttle is not None:
                state.throttles += 1
                delay = self._retry_delay(state.throttles)
                state.retry_at = self.clock.now() + delay
                flow.record(mapping.source_name, target, "throttle", f"{shard_id}: tried again in {delay:g} s",
                            ok=False)
                self.wake_at(state.retry_at, "retry of a throttled batch", f"retry {shard_id}")
                return
            state.throttles = 0
            if outcome.function_error:
                self._failed(shard_id, state, items, outcome, "function error")
                return
            verdict = (batch_responses.read(outcome.body, [item.sequence_number for item in delivered])
                       if mapping.reports_item_failures else batch_responses.BatchVerdict())
            if verdict.whole_batch:
                self._failed(shard_id, state, items, outcome, verdict.reason)
                return
            if verdict.failed:
                first = min(index for index, item in enumerate(items) if item.sequence_number in verdict.failed)
                if first:
                    self._commit(state, items[first - 1])
                self._failed(shard_id, state, items[first:], outcome,
                             f"batchItemFailures from sequence number {items[first].sequence_number}")
                return
            self._commit(state, items[-1])
            mapping.last_processing_result = "OK"
            flow.record(target, target, "invoke", f"{shard_id}: {len(delivered)} record(s) processed",
                        request_id=outcome.request_id, ok=True)

    def _commit(self, state: ShardState, last: StreamItem) -> None:
        state.cursor = last.cursor_after
        state.attempts = 0
        state.last_failure = None
        if state.pinned_until is not None and state.cursor >= state.pinned_until:
            state.pinned_limit = state.pinned_until = None

    def _failed(self, shard_id: str, state: ShardState, items: list[StreamItem], outcome: InvokeOutcome,
                why: str) -> None:
        mapping, target = self.mapping, f"lambda:{self.mapping.function_name}"
        mapping.last_processing_result = "PROBLEM: Function call failed"
        state.last_failure = outcome
        state.pinned_until = max(state.pinned_until or 0, items[-1].cursor_after)
        if mapping.bisect_on_error and len(items) > 1:
            state.pinned_limit = len(items) // 2
            state.attempts = 0
            self.cloud.flow.record(target, target, "invoke", f"{why}: {shard_id}'s batch of {len(items)} split in "
                                    f"two ({state.pinned_limit} + {len(items) - state.pinned_limit})",
                                    request_id=outcome.request_id, ok=False)
            return
        state.pinned_limit = len(items)
        state.attempts += 1
        retries = mapping.maximum_retry_attempts
        if retries != -1 and state.attempts > retries:
            self.cloud.flow.record(target, target, "invoke", f"{why}: {shard_id}, no retries left",
                                    request_id=outcome.request_id, ok=False)
            self._give_up(shard_id, state, items, RETRY_EXHAUSTED, outcome)
            return
        delay = self._retry_delay(state.attempts)
        state.retry_at = self.clock.now() + delay
        left = "until the records expire" if retries == -1 else f"{retries - state.attempts + 1} left"
        self.cloud.flow.record(target, target, "invoke", f"{why}: {shard_id} blocked, retry in {delay:g} s ({left})",
                                request_id=outcome.request_id, ok=False)
        self.wake_at(state.retry_at, "retry of a failed batch", f"retry {shard_id}")

    def _retry_delay(self, attempt: int) -> float:
        ceiling = self.cloud.settings.stream_retry_max_delay_s
        return min(FIRST_RETRY_DELAY_S * 2 ** max(attempt - 1, 0), ceiling)

    def _give_up(self, shard_id: str, state: ShardState, items: list[StreamItem], condition: str,
                 outcome: InvokeOutcome | None) -> None:
        """Skip the records (the shard moves on) and tell the on-failure destination, if there is one."""
        mapping, flow = self.mapping, self.cloud.flow
        target = f"lambda:{mapping.function_name}"
        invoke_count = state.attempts
        outcome = outcome or (state.last_failure if invoke_count else None)
        self._commit(state, items[-1])
        state.retry_at = None
        destination = mapping.on_failure_arn
        detail = f"{condition}: {len(items)} record(s) of {shard_id} skipped"
        if destination is None:
            flow.record(target if outcome else mapping.source_name, target, "dropped", detail, ok=False)
            return
        document = failure_destinations.failure_record(
            kind=mapping.kind, stream_arn=mapping.event_source_arn, shard_id=shard_id, items=items,
            function_arn=mapping.function_arn, condition=condition, invoke_count=invoke_count,
            request_id=outcome.request_id if outcome else None,
            function_error=outcome.function_error if outcome else None,
            executed_version=mapping.qualifier or "$LATEST", now=self.clock.now())
        spec = self._load_function(mapping)
        sender = destinations.Sender(mapping.account_id, mapping.region, mapping.function_name,
                                     mapping.function_arn, spec.role_arn if spec else "")
        delivery = destinations.send_record(self.cloud.events, sender, destination, document, success=False,
                                            now=self.clock.now())
        if not delivery.delivered:  # the queue or topic is gone, or the role lost its right: the record is lost
            detail += f"; not delivered: {delivery.problem}"
        flow.record(target, destinations.flow_name(destination), "destination" if delivery.delivered else "dropped",
                    detail, ok=False)
