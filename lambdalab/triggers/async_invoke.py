"""Lambda's asynchronous invocation: the internal queue behind Invoke(InvocationType=Event),
InvokeAsync, and every push trigger (S3, SNS, EventBridge), which all submit to it.

What happens to an event, as on AWS (../shared/aws-lambda-facts.md):

- it is attempted at once; a function error (an exception, a timeout, a crash) is retried
  MaximumRetryAttempts times (default 2), one minute and then two minutes after the attempt
  before;
- a throttled attempt does not count: the event goes back to the queue and is tried again
  1 s later, then 2, 4, ... up to 5 minutes apart, until it is older than
  MaximumEventAgeInSeconds (default 6 hours). A function with reserved concurrency 0 is the
  exception AWS documents: its events go straight to the failure targets, without retries;
- when it is done, its record goes to the OnSuccess or OnFailure destination, and a failed
  event's payload to the dead-letter queue (both, if both are set), with the function's role.

Every wait is a timer on the cloud's clock: in virtual time a retry happens only when a
notebook advances the clock, and the queue's busy check makes each advance wait until the
attempts it set off are finished. Every hop goes to the event flow.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from ..aws.metrics_sink import LambdaMetrics
from ..aws.moto_glue import SpecLoader, lambda_backend
from ..core.arns import FunctionArn, function_arn
from ..core.clock import CloudClock, Timer
from ..engine.service import LambdaEngine
from ..engine.spec import FunctionSpec
from ..records.flow import FlowLog
from . import async_config, destinations

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (60.0, 120.0)  # after the first attempt, after the second
THROTTLE_FIRST_DELAY_S = 1.0
THROTTLE_MAX_DELAY_S = 300.0
WORKERS = 8
API_SOURCE = "lambda:Invoke"  # submit's default source: the Invoke API itself


@dataclass(eq=False)  # each event is itself, whatever its fields: kept in a set while it waits
class QueuedEvent:
    """One event in the queue, with what its attempts have come to so far."""

    request_id: str
    loader: SpecLoader
    payload: bytes
    source: str
    enqueued_at: float
    generation: int
    attempts: int = 0  # attempts that ran (throttled ones did not)
    throttles: int = 0
    last: destinations.Attempt | None = None
    last_throttle: str | None = None
    timer: Timer | None = field(default=None, repr=False)


class AsyncInvokeQueue:
    """The cloud's one queue of Event invocations; the wiring makes it, resets it and shuts it down."""

    def __init__(self, engine: LambdaEngine, clock: CloudClock, flow: FlowLog, metrics: LambdaMetrics,
                 workers: int = WORKERS) -> None:
        self._engine = engine
        self._clock = clock
        self._flow = flow
        self._metrics_sink = metrics
        self._ready: queue.Queue[QueuedEvent | None] = queue.Queue()
        self._lock = threading.Lock()
        self._in_flight = 0  # events waiting for a worker or being attempted
        self._generation = 0  # moves on at each reset: events of an emptied account are forgotten
        self._waiting: set[QueuedEvent] = set()
        self._running: set[QueuedEvent] = set()  # being attempted now
        self._workers = [threading.Thread(target=self._work, name=f"async-invoke-{n}", daemon=True)
                         for n in range(workers)]
        for worker in self._workers:
            worker.start()
        self._clock.add_busy_check(self.busy)

    # --- what the sources see ----------------------------------------------------------------

    def submit(self, spec_loader: SpecLoader, payload: bytes, *, source: str = API_SOURCE) -> str:
        """Queue an event; its request id is the one the function will see, in every attempt."""
        event = QueuedEvent(str(uuid.uuid4()), spec_loader, payload, source, self._clock.now(), self._generation)
        if source == API_SOURCE:  # a push source records its own hop to the function
            self._flow.record(source, f"lambda:{_bare_name(spec_loader)}", "event", "InvocationType=Event",
                                     request_id=event.request_id)
        self._enqueue(event)
        return event.request_id

    def busy(self) -> bool:
        """An advance of the clock waits while any attempt it set off is still running."""
        return self._in_flight > 0

    def reset(self) -> None:
        """The account is being emptied: queued events, pending retries and running attempts' outcomes go."""
        with self._lock:
            self._generation += 1
            for event in self._waiting:
                if event.timer is not None:
                    event.timer.cancel()
            self._waiting.clear()
        while True:
            try:
                event = self._ready.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                self._done_with_one()

    # --- kept with the account (cloud/persistence.py) -----------------------------------------

    def export_state(self) -> list[tuple[QueuedEvent, float | None]]:
        """Every event not done with, and when it is due (None: now). One being attempted at the
        moment of a crash is attempted again after it, as AWS's queue delivers at least once."""
        with self._lock:
            waiting = [(event, event.timer.when if event.timer is not None else None) for event in self._waiting]
            running = [(event, None) for event in self._running if event not in self._waiting]  # retry booked: once
            ready = [(event, None) for event in list(self._ready.queue) if event is not None]
        return [(_as_saved(event), due) for event, due in waiting + running + ready]

    def restore_state(self, saved: list[tuple[QueuedEvent, float | None]]) -> None:
        for event, due in saved:
            event.generation = self._generation
            event.loader = event.loader.loader()
            if due is None or due <= self._clock.now():
                self._enqueue(event)
            else:
                self._later(event, due, f"async {event.loader.function_name}: restored")

    def shutdown(self) -> None:
        self.reset()
        for _ in self._workers:
            self._ready.put(None)

    # --- the queue --------------------------------------------------------------------------

    def _enqueue(self, event: QueuedEvent) -> None:
        with self._lock:
            if event.generation != self._generation:
                return
            self._waiting.discard(event)
            self._in_flight += 1
        self._ready.put(event)

    def _done_with_one(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _work(self) -> None:
        while True:
            event = self._ready.get()
            if event is None:
                return
            with self._lock:
                self._running.add(event)
            try:
                self._attempt(event)
            except Exception:  # a broken event must not stop the queue
                log.exception("lambdalab: async event %s failed in the queue", event.request_id)
            finally:
                with self._lock:
                    self._running.discard(event)
                self._done_with_one()

    def _later(self, event: QueuedEvent, when: float, name: str) -> None:
        """Book the event's next attempt on the clock (in virtual time: when the clock gets there)."""
        with self._lock:
            if event.generation != self._generation:
                return
            self._waiting.add(event)
            event.timer = self._clock.call_at(when, lambda: self._enqueue(event), name)

    def _stale(self, event: QueuedEvent) -> bool:
        return event.generation != self._generation

    # --- one attempt ------------------------------------------------------------------------

    def _attempt(self, event: QueuedEvent) -> None:
        if self._stale(event):
            return
        spec = event.loader()
        settings = _settings(event.loader, spec) if spec is not None else None
        if spec is None or settings is None:
            self._flow.record(event.source, f"lambda:{_bare_name(event.loader)}", "dropped",
                                     "the function no longer exists", request_id=event.request_id, ok=False)
            return
        now = self._clock.now()
        age_s = now - event.enqueued_at
        if event.attempts == 0 and event.throttles == 0:
            self._metrics(spec, [("AsyncEventsReceived", 1, "Count")])
        if age_s >= settings.max_event_age_s:
            self._finish(event, spec, settings, destinations.EVENT_AGE_EXCEEDED)
            return
        self._metrics(spec, [("AsyncEventAge", max(age_s, 0.0) * 1000, "Milliseconds")])
        outcome = self._engine.invoke(spec, event.payload, invocation_type="Event", request_id=event.request_id)
        if self._stale(event):
            return
        if outcome.throttle is not None:
            self._throttled(event, spec, settings, outcome.throttle.message)
            return
        event.attempts += 1
        event.last = destinations.Attempt(outcome.body, outcome.function_error, spec.version)
        function = f"lambda:{spec.name}"
        detail = f"attempt {event.attempts}" + (f": {outcome.function_error}" if outcome.function_error else "")
        self._flow.record(function, function, "invoke" if event.attempts == 1 else "retry", detail,
                                 request_id=event.request_id, ok=outcome.function_error is None)
        if outcome.function_error is None:
            self._finish(event, spec, settings, destinations.SUCCESS)
        elif event.attempts <= settings.max_retries:
            delay = RETRY_DELAYS_S[min(event.attempts, len(RETRY_DELAYS_S)) - 1]
            self._later(event, min(now + delay, event.enqueued_at + settings.max_event_age_s),
                        f"async retry of {spec.name} (attempt {event.attempts + 1})")
        else:
            self._finish(event, spec, settings, destinations.RETRIES_EXHAUSTED)

    def _throttled(self, event: QueuedEvent, spec: FunctionSpec, settings: async_config.AsyncSettings,
                   message: str) -> None:
        event.throttles += 1
        event.last_throttle = message
        function = f"lambda:{spec.name}"
        if spec.reserved_concurrency == 0:  # AWS: straight to the DLQ or on-failure destination, no retries
            self._flow.record(function, function, "throttle", "reserved concurrency is 0: not retried",
                                     request_id=event.request_id, ok=False)
            self._finish(event, spec, settings, destinations.RETRIES_EXHAUSTED)
            return
        delay = min(THROTTLE_FIRST_DELAY_S * 2 ** (event.throttles - 1), THROTTLE_MAX_DELAY_S)
        self._flow.record(function, function, "throttle", f"kept in the queue; tried again in {delay:g} s",
                                 request_id=event.request_id, ok=False)
        deadline = event.enqueued_at + settings.max_event_age_s
        self._later(event, min(self._clock.now() + delay, deadline), f"async throttled {spec.name}: try again")

    # --- when an event is done --------------------------------------------------------------

    def _finish(self, event: QueuedEvent, spec: FunctionSpec, settings: async_config.AsyncSettings,
                condition: str) -> None:
        success = condition == destinations.SUCCESS
        function = f"lambda:{spec.name}"
        tries = f"{event.attempts} attempt{'s' if event.attempts != 1 else ''}"
        self._flow.record(function, function, "success" if success else "failure",
                                 tries if success else f"{condition} after {tries}",
                                 request_id=event.request_id, ok=success)
        sender = destinations.Sender(spec.account_id, spec.region, spec.name, spec.qualified_arn, settings.role_arn)
        destination = settings.on_success if success else settings.on_failure
        if destination:
            self._to_destination(event, sender, destination, condition, success)
        if success:
            return
        if settings.dead_letter:
            self._to_dead_letter(event, sender, settings.dead_letter, condition)
        self._metrics(spec, [("AsyncEventsDropped", 1, "Count")])
        if not destination and not settings.dead_letter:
            self._flow.record(function, function, "dropped",
                                     f"{condition}: no dead-letter queue or on-failure destination",
                                     request_id=event.request_id, ok=False)

    def _to_destination(self, event: QueuedEvent, sender: destinations.Sender, arn: str, condition: str,
                        success: bool) -> None:
        record = destinations.invocation_record(
            sender=sender, request_id=event.request_id, condition=condition, invoke_count=event.attempts,
            payload=event.payload, last=event.last, at=self._clock.now())
        delivery = destinations.send_record(self, sender, arn, record, success=success, now=self._clock.now())
        what = f"{'OnSuccess' if success else 'OnFailure'} destination"
        self._record_delivery(event, sender, arn, "destination", f"{what}: {condition}", delivery)
        if not delivery.delivered:
            self._metrics_of(sender, [("DestinationDeliveryFailures", 1, "Count")])

    def _to_dead_letter(self, event: QueuedEvent, sender: destinations.Sender, arn: str, condition: str) -> None:
        code, message = destinations.error_code_and_message(event.last, event.last_throttle)
        delivery = destinations.send_dead_letter(sender, arn, event.payload, request_id=event.request_id,
                                                 error_code=code, error_message=message)
        self._record_delivery(event, sender, arn, "dead-letter", condition, delivery)
        if not delivery.delivered:
            self._metrics_of(sender, [("DeadLetterErrors", 1, "Count")])

    def _record_delivery(self, event: QueuedEvent, sender: destinations.Sender, arn: str, kind: str, detail: str,
                         delivery: destinations.SendOutcome) -> None:
        target = destinations.flow_name(arn)
        if delivery.delivered:
            self._flow.record(sender.flow_name, target, kind, detail, request_id=event.request_id,
                                     ok=kind == "destination" and detail.startswith("OnSuccess"))
            return
        log.warning("lambdalab: %s of %s to %s not delivered: %s", kind, event.request_id, arn, delivery.problem)
        self._flow.record(sender.flow_name, target, "dropped", f"{kind} not delivered: {delivery.problem}",
                                 request_id=event.request_id, ok=False)

    # --- metrics ----------------------------------------------------------------------------

    def _metrics(self, spec: FunctionSpec, data: list[tuple[str, float, str]]) -> None:
        self._metrics_sink.put_function_metrics(spec.arn, data)

    def _metrics_of(self, sender: destinations.Sender, data: list[tuple[str, float, str]]) -> None:
        self._metrics_sink.put_function_metrics(function_arn(sender.region, sender.account_id, sender.function_name),
                                                data)


# --- which function an event is for -----------------------------------------------------------

@dataclass(frozen=True)
class _SavedLoader:
    """Which function a saved event is for: moto's backend is looked up again after the restore
    (the one at hand while the file is read is about to be replaced by the saved one)."""

    account_id: str
    region: str
    function_name: str
    qualifier: str | None

    def loader(self) -> SpecLoader:
        return SpecLoader(lambda_backend(self.account_id, self.region), self.function_name, self.qualifier)


def _as_saved(event: QueuedEvent) -> QueuedEvent:
    loader = event.loader
    saved = _SavedLoader(loader.backend.account_id, loader.backend.region_name, loader.function_name,
                         loader.qualifier)
    return dataclasses.replace(event, loader=saved, timer=None)


def _settings(loader: SpecLoader, spec: FunctionSpec) -> async_config.AsyncSettings | None:
    """The function's async settings now, for the function, version or alias that was invoked."""
    name, qualifier = _name_and_qualifier(loader.function_name, loader.qualifier)
    return async_config.settings_for(loader.backend, name, qualifier)


def _name_and_qualifier(name: str, qualifier: str | None) -> tuple[str, str | None]:
    """A FunctionName as the API takes it (name, name:qualifier, or an ARN) split in two."""
    arn = FunctionArn.parse(name)
    if arn is not None:
        return arn.name, arn.qualifier or qualifier
    if ":" in name:
        bare, derived = name.split(":", 1)
        return bare, derived
    return name, qualifier


def _bare_name(loader: SpecLoader) -> str:
    return _name_and_qualifier(loader.function_name or "function", None)[0]
