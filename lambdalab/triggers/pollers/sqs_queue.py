"""moto's SQS, made fit for Lambda's pollers: safe to share, on the cloud clock, and telling.

- **Time.** moto's SQS reads the time through the two names ``moto.sqs.models`` imports,
  ``unix_time`` and ``unix_time_millis``; both now read the cloud clock. Visibility timeouts,
  delays, SentTimestamp and retention all belong to SQS, and a learner's own ReceiveMessage has
  to agree with the poller: after ``lambdalab.clock.advance(seconds=31)`` a message whose batch
  failed is visible again to both. Patching those two names moves every SQS timing onto the
  clock at once and touches nothing outside SQS (a poller that kept visibility itself would
  disagree with ReceiveMessage; moving the whole process's time would move everything else).
- **Locks.** moto's SQS is written for one request at a time. Pollers receive and delete from
  other threads while the learner sends, so each queue's own condition (the lock moto already
  takes to add a message) also guards receive, delete and visibility changes: two receives
  never hand out the same message, and a delete never drops a message being added.
- **Long polls in virtual time.** moto's ReceiveMessage waits until its clock passes the wait
  time; a stopped clock would never pass it. A long poll now waits real seconds, whatever the
  clock, and returns as soon as a message is visible.
- **Wake-ups.** Every message added to a queue (SendMessage, a batch, a redrive into a DLQ)
  and every visibility change tells the queue's pollers, so they read at once.
- **Redrive.** moto moves a message to the queue's dead-letter queue on the receive after
  maxReceiveCount, as SQS does; the move is recorded in the event flow.

moto's classes are one per process, but what the hooks tell (the clock, the pollers to wake, the
flow of a dead letter) belongs to one cloud: :func:`install` hands them that cloud's
:class:`SqsHooks`, and a later cloud's install puts its own in their place (moto_glue.wrap). The
fixes that need no cloud (locks, counting the queue once) are made once per process; they read
the time as moto's SQS itself does, through the two names the cloud's hooks replaced.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.sqs import models as sqs_models

from ...aws.moto_glue import wrap
from ...core.arns import Arn

_original_unix_time = sqs_models.unix_time
_original_unix_time_millis = sqs_models.unix_time_millis
# SQS numbers a FIFO queue's messages in one increasing sequence: process-wide, as moto's queues are.
_fifo_sequence = itertools.count(int(time.time() * 1000) * 10_000)


@dataclass(frozen=True)
class SqsHooks:
    """What moto's SQS tells one cloud: the time by its clock, a queue that changed (its pollers read at
    once), a message moved to a dead-letter queue (the event flow shows it)."""

    clock_now: Callable[[], float]
    on_change: Callable[[str], None]  # on_change(queue_arn)
    on_dead_letter: Callable[[Any, Any, Any], None]  # on_dead_letter(queue, dead_letter_queue, message)

    def give_back(self, queue: Any, receipt_handles: set[str]) -> None:
        """Messages received but never handed to the function: visible again at once, not counted as a
        receive; the queue's pollers look again."""
        if not receipt_handles:
            return
        with queue._messages_lock:
            for message in queue._messages:
                if message.receipt_handle in receipt_handles:
                    message.approximate_receive_count = max(message.approximate_receive_count - 1, 0)
                    message.visible_at = 0.0
                    queue.pending_messages.discard(message)
            queue._messages_lock.notify_all()
        self.on_change(queue.queue_arn)


def install(hooks: SqsHooks) -> None:
    """Put moto's SQS on this cloud's clock and callbacks (replacing an earlier cloud's)."""
    sqs_models.unix_time = functools.partial(_unix_time, hooks)
    sqs_models.unix_time_millis = functools.partial(_unix_time_millis, hooks)
    wrap(sqs_models.Queue, "add_message", functools.partial(_added, hooks))
    wrap(sqs_models.SQSBackend, "receive_message", functools.partial(_receive, hooks))
    wrap(sqs_models.SQSBackend, "change_message_visibility", functools.partial(_visibility_changed, hooks))
    _fix_moto()


@functools.cache
def _fix_moto() -> None:
    """What moto's SQS needs whatever cloud runs it: patched once per process."""
    sqs_models.Queue.messages = property(_receivable_messages)
    sqs_models.Queue.approximate_number_of_messages_delayed = property(_delayed_count)
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(_hidden_count)
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _within_retention
    wrap(sqs_models.Queue, "delete_message", _locked_delete)


def _unix_time(hooks: SqsHooks, dt: Any = None) -> float:
    return _original_unix_time(dt) if dt is not None else hooks.clock_now()


def _unix_time_millis(hooks: SqsHooks, dt: Any = None) -> float:
    return _original_unix_time_millis(dt) if dt is not None else hooks.clock_now() * 1000.0


def _now() -> float:
    """The time as moto's SQS reads it: the clock of the cloud installed last (moto's own before any)."""
    return sqs_models.unix_time()


def _now_ms() -> float:
    return sqs_models.unix_time_millis()


# --- moto's methods, wrapped ------------------------------------------------------------------------

def _receivable_messages(queue: Any) -> list[Any]:
    """moto's Queue.messages (visible and not delayed), reading the clock once per look instead of twice
    per message: every receive looks through the whole queue, and a queue of 10,000 is looked through often."""
    now_ms = _now_ms()
    return [message for message in queue._messages if now_ms > message.visible_at and now_ms >= message.delayed_until]


def _delayed_count(queue: Any) -> int:
    """As moto counts it, reading the clock once (moto's SendMessage counts the queue this way every time)."""
    now_ms = _now_ms()
    return sum(1 for message in queue._messages if now_ms < message.delayed_until)


def _hidden_count(queue: Any) -> int:
    now_ms = _now_ms()
    return sum(1 for message in queue._messages if not now_ms > message.visible_at)


def _within_retention(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's check, without its detour through GetQueueAttributes (which counts the whole queue three
    times, for every message received: most of a receive's time on a queue of 10,000)."""
    retention_s = int(backend.get_queue(queue_name).message_retention_period)
    return retention_s + message.sent_timestamp / 1000 > _now()


def _added(hooks: SqsHooks, original: Callable[..., Any], queue: Any, message: Any) -> None:
    if queue.fifo_queue and message.sequence_number is None:
        # moto numbers FIFO messages only when the sender gave a deduplication id; SQS numbers all.
        message.sequence_number = str(next(_fifo_sequence)).zfill(20)
    original(queue, message)
    hooks.on_change(queue.queue_arn)


def _locked_delete(original: Callable[..., Any], queue: Any, receipt_handle: str) -> None:
    with queue._messages_lock:
        original(queue, receipt_handle)


def _visibility_changed(hooks: SqsHooks, original: Callable[..., Any], backend: Any, queue_name: str,
                        receipt_handle: str, visibility_timeout: int) -> None:
    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        original(backend, queue_name, receipt_handle, visibility_timeout)
    hooks.on_change(queue.queue_arn)


def _receive(hooks: SqsHooks, original: Callable[..., Any], backend: Any, queue_name: str, count: int,
             wait_seconds_timeout: int, visibility_timeout: int,
             message_attribute_names: list[str] | None = None) -> list[Any]:
    queue = backend.get_queue(queue_name)
    deadline = time.monotonic() + float(wait_seconds_timeout or 0)
    while True:
        with queue._messages_lock:
            candidates = _redrive_candidates(queue)
            received = original(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
            moved = _moved_away(queue, candidates)
        for message in moved:
            hooks.on_dead_letter(queue, queue.dead_letter_queue, message)
        left = deadline - time.monotonic()
        if received or left <= 0:
            return received
        queue.wait_for_messages(min(left, 1.0))


def _redrive_candidates(queue: Any) -> list[Any]:
    """Messages the coming receive may move to the dead-letter queue (received maxReceiveCount times)."""
    if queue.dead_letter_queue is None or not queue.redrive_policy:
        return []
    limit = queue.redrive_policy["maxReceiveCount"]
    return [message for message in queue._messages if message.approximate_receive_count >= limit]


def _moved_away(queue: Any, candidates: list[Any]) -> list[Any]:
    if not candidates:
        return []
    still_here = {id(message) for message in queue._messages}
    return [message for message in candidates if id(message) not in still_here]


# --- what the SQS poller uses ------------------------------------------------------------------------

def find_queue(queue_arn: str) -> tuple[Any, Any] | None:
    """(moto's SQS backend, the queue) for a queue ARN, or None when there is no such queue."""
    arn = Arn.parse(queue_arn)
    if arn is None:
        return None
    try:
        backend = sqs_models.sqs_backends[arn.account_id][arn.region]
    except Exception:
        return None
    queue = backend.queues.get(arn.resource)
    return (backend, queue) if queue is not None else None


def receive(backend: Any, queue: Any, count: int) -> list[Any]:
    """Up to `count` messages, hidden for the queue's visibility timeout (copies, as ReceiveMessage gives)."""
    return backend.receive_message(queue.name, count, 0, queue.visibility_timeout, ["All"])


def visible_count(queue: Any) -> int:
    return len(queue.messages)


def next_change(queue: Any, excluding: set[str] = frozenset()) -> float | None:
    """The clock time (s) at which the next hidden or delayed message (but those whose receipt handle
    is in `excluding`) becomes receivable, if any."""
    now_ms = _now_ms()
    with queue._messages_lock:
        moments = [moment for message in queue._messages if message.receipt_handle not in excluding
                   for moment in (message.visible_at, message.delayed_until) if moment > now_ms]
    # moto counts a message as visible only once the clock is past visible_at: wake a millisecond later.
    return (min(moments) + 1.0) / 1000.0 if moments else None


def delete(queue: Any, receipt_handles: set[str]) -> int:
    """Delete a batch in one pass over the queue (moto's DeleteMessage looks through it once per message)."""
    if not receipt_handles:
        return 0
    deleted = 0
    with queue._messages_lock:
        kept = []
        for message in queue._messages:
            if message.receipt_handle in receipt_handles:
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(message.all_receipt_handles)
                deleted += 1
            else:
                kept.append(message)
        queue._messages = kept
    return deleted

