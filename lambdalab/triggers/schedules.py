"""The timers behind schedule rules: one booking per enabled rule with a ScheduleExpression.

Each firing books the next one on the cloud's clock before it delivers, so in virtual time an
advance of a day runs every minute of a rate(1 minute) rule, in order, and in real time a
failed delivery never stops the schedule. A booking looks its rule up again when it fires: a
rule deleted, disabled or given another expression since is not fired (and its chain ends).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.clock import CloudClock, Timer
from . import schedule_expressions


@dataclass(frozen=True)
class RuleKey:
    """Schedules exist only on an account's default bus, so account, region and name say which rule."""

    account_id: str
    region: str
    name: str


@dataclass
class Booking:
    expression: str
    schedule: schedule_expressions.Schedule
    timer: Timer  # the next firing


class Schedules:
    """find_rule(key) gives moto's Rule (or None); fire(rule, at) delivers one scheduled event."""

    def __init__(self, clock: CloudClock, find_rule: Callable[[RuleKey], Any],
                 fire: Callable[[Any, float], None]) -> None:
        self._clock = clock
        self._find_rule = find_rule
        self._fire = fire
        self._bookings: dict[RuleKey, Booking] = {}
        self._lock = threading.Lock()

    def sync(self, rule: Any) -> None:
        """Book, keep or cancel the rule's schedule after it was put, enabled or disabled."""
        key = key_of(rule)
        expression = rule.scheduled_expression if is_enabled(rule) else None
        with self._lock:
            booking = self._bookings.get(key)
            if booking is not None and booking.expression == expression:
                return  # unchanged: keep its rhythm
            if booking is not None:
                booking.timer.cancel()
                del self._bookings[key]
            if expression:
                schedule = schedule_expressions.parse(expression)
                self._book(key, expression, schedule, schedule.first_after(self._clock.now()))

    def forget(self, key: RuleKey) -> None:
        with self._lock:
            booking = self._bookings.pop(key, None)
        if booking is not None:
            booking.timer.cancel()

    def next_firing(self, key: RuleKey) -> float | None:
        with self._lock:
            booking = self._bookings.get(key)
            return booking.timer.when if booking is not None else None

    def reset(self) -> None:
        with self._lock:
            bookings, self._bookings = list(self._bookings.values()), {}
        for booking in bookings:
            booking.timer.cancel()

    def _book(self, key: RuleKey, expression: str, schedule: schedule_expressions.Schedule,
              when: float | None) -> None:
        """Called with the lock held."""
        if when is None:  # a cron whose years have passed
            self._bookings.pop(key, None)
            return
        timer = self._clock.call_at(when, lambda: self._due(key, expression, when), f"schedule {key.name}")
        self._bookings[key] = Booking(expression, schedule, timer)

    def _due(self, key: RuleKey, expression: str, when: float) -> None:
        with self._lock:
            booking = self._bookings.get(key)
            if booking is None or booking.expression != expression or booking.timer.when != when:
                return  # cancelled or replaced meanwhile
            rule = self._find_rule(key)
            if rule is None or not is_enabled(rule) or rule.scheduled_expression != expression:
                del self._bookings[key]
                return
            self._book(key, expression, booking.schedule, booking.schedule.next_after(when))
        self._fire(rule, when)


def key_of(rule: Any) -> RuleKey:
    return RuleKey(rule.account_id, rule.region_name, rule.name)


def is_enabled(rule: Any) -> bool:
    return str(rule.state or "ENABLED").startswith("ENABLED")
