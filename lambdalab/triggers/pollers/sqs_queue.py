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
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from moto.sqs import models as sqs_models

from ...aws.lambda_api import wrap

_clock_now: Callable[[], float] = time.time
_on_change: Callable[[str], None] = lambda queue_arn: None
_on_dead_letter: Callable[[Any, Any, Any], None] = lambda queue, dead_letter_queue, message: None
_installed = False
_original_unix_time = sqs_models.unix_time
_original_unix_time_millis = sqs_models.unix_time_millis
_fifo_sequence = itertools.count(int(time.time() * 1000) * 10_000)


def install(clock_now: Callable[[], float], on_change: Callable[[str], None],
            on_dead_letter: Callable[[Any, Any, Any], None]) -> None:
    """Patch moto's SQS once; the callbacks may be replaced (a new engine, in tests)."""
    global _clock_now, _on_change, _on_dead_letter, _installed
    _clock_now, _on_change, _on_dead_letter = clock_now, on_change, on_dead_letter
    if _installed:
        return
    _installed = True
    sqs_models.unix_time = _unix_time
    sqs_models.unix_time_millis = _unix_time_millis
    sqs_models.Queue.messages = property(_receivable_messages)
    sqs_models.Queue.approximate_number_of_messages_delayed = property(_delayed_count)
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(_hidden_count)
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _within_retention
    wrap(sqs_models.Queue, "add_message", _added)
    wrap(sqs_models.Queue, "delete_message", _locked_delete)
    wrap(sqs_models.SQSBackend, "receive_message", _receive)
    wrap(sqs_models.SQSBackend, "change_message_visibility", _visibility_changed)


def _unix_time(dt: Any = None) -> float:
    return _original_unix_time(dt) if dt is not None else _clock_now()


def _unix_time_millis(dt: Any = None) -> float:
    return _original_unix_time_millis(dt) if dt is not None else _clock_now() * 1000.0


# --- moto's methods, wrapped ------------------------------------------------------------------------

def _receivable_messages(queue: Any) -> list[Any]:
    """moto's Queue.messages (visible and not delayed), reading the clock once per look instead of twice
    per message: every receive looks through the whole queue, and a queue of 10,000 is looked through often."""
    now_ms = _unix_time_millis()
    return [message for message in queue._messages if now_ms > message.visible_at and now_ms >= message.delayed_until]


def _delayed_count(queue: Any) -> int:
    """As moto counts it, reading the clock once (moto's SendMessage counts the queue this way every time)."""
    now_ms = _unix_time_millis()
    return sum(1 for message in queue._messages if now_ms < message.delayed_until)


def _hidden_count(queue: Any) -> int:
    now_ms = _unix_time_millis()
    return sum(1 for message in queue._messages if not now_ms > message.visible_at)


def _within_retention(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's check, without its detour through GetQueueAttributes (which counts the whole queue three
    times, for every message received: most of a receive's time on a queue of 10,000)."""
    retention_s = int(backend.get_queue(queue_name).message_retention_period)
    return retention_s + message.sent_timestamp / 1000 > _unix_time()


def _added(original: Callable[..., Any], queue: Any, message: Any) -> None:
    if queue.fifo_queue and message.sequence_number is None:
        # moto numbers FIFO messages only when the sender gave a deduplication id; SQS numbers all.
        message.sequence_number = str(next(_fifo_sequence)).zfill(20)
    original(queue, message)
    _on_change(queue.queue_arn)


def _locked_delete(original: Callable[..., Any], queue: Any, receipt_handle: str) -> None:
    with queue._messages_lock:
        original(queue, receipt_handle)


def _visibility_changed(original: Callable[..., Any], backend: Any, queue_name: str, receipt_handle: str,
                        visibility_timeout: int) -> None:
    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        original(backend, queue_name, receipt_handle, visibility_timeout)
    _on_change(queue.queue_arn)


def _receive(original: Callable[..., Any], backend: Any, queue_name: str, count: int, wait_seconds_timeout: int,
             visibility_timeout: int, message_attribute_names: list[str] | None = None) -> list[Any]:
    queue = backend.get_queue(queue_name)
    deadline = time.monotonic() + float(wait_seconds_timeout or 0)
    while True:
        with queue._messages_lock:
            candidates = _redrive_candidates(queue)
            received = original(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
            moved = _moved_away(queue, candidates)
        for message in moved:
            _on_dead_letter(queue, queue.dead_letter_queue, message)
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
    parts = queue_arn.split(":")
    if len(parts) != 6:
        return None
    try:
        backend = sqs_models.sqs_backends[parts[4]][parts[3]]
    except Exception:
        return None
    queue = backend.queues.get(parts[5])
    return (backend, queue) if queue is not None else None


def receive(backend: Any, queue: Any, count: int) -> list[Any]:
    """Up to `count` messages, hidden for the queue's visibility timeout (copies, as ReceiveMessage gives)."""
    return backend.receive_message(queue.name, count, 0, queue.visibility_timeout, ["All"])


def visible_count(queue: Any) -> int:
    return len(queue.messages)


def next_change(queue: Any, excluding: set[str] = frozenset()) -> float | None:
    """The clock time (s) at which the next hidden or delayed message (but those whose receipt handle
    is in `excluding`) becomes receivable, if any."""
    now_ms = _unix_time_millis()
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


def give_back(queue: Any, receipt_handles: set[str]) -> None:
    """Messages received but never handed to the function: visible again at once, not counted as a receive."""
    if not receipt_handles:
        return
    with queue._messages_lock:
        for message in queue._messages:
            if message.receipt_handle in receipt_handles:
                message.approximate_receive_count = max(message.approximate_receive_count - 1, 0)
                message.visible_at = 0.0
                queue.pending_messages.discard(message)
        queue._messages_lock.notify_all()
    _on_change(queue.queue_arn)
