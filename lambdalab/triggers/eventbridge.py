"""EventBridge rules with Lambda targets: event patterns on PutEvents, and schedules.

Every event on a bus reaches moto's ``Rule.send_to_targets``, whoever put it there: a PutEvents
call, S3's EventBridge notifications, a Lambda destination of the async queue, a target that is
another bus. That one method is replaced: a disabled rule matches nothing, a rule without an
event pattern (a schedule) matches no event on the bus, and Lambda targets, which moto cannot
invoke, get the event as AWS delivers it (or its Input, InputPath or InputTransformer) through
the function's async queue, if its resource-based policy lets this rule invoke it. Other targets
(SQS, log groups, buses, archives) stay moto's.

Schedules fire on the cloud clock (see schedules.py) and go the same way to their targets.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..aws import lambda_api as moto_hooks
from . import push, schedule_expressions, schedules
from .events import eventbridge as events_shapes

PRINCIPAL = "events.amazonaws.com"

_schedules: schedules.Schedules | None = None
_moto_send_to_targets: Any = None  # moto's own, for the targets that are not functions


def install(engine: Any) -> None:
    global _moto_send_to_targets, _schedules
    if _schedules is None:
        _schedules = schedules.Schedules(find_rule, fire_schedule)
    _schedules.use_clock(engine.clock)
    if _moto_send_to_targets is not None:
        return
    from moto.events import models

    _moto_send_to_targets = models.Rule.send_to_targets

    def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
        push.guarded(f"rule {rule.name}", _send_to_targets, rule, event, transform_input)

    models.Rule.send_to_targets = send_to_targets
    backend = models.EventsBackend
    moto_hooks.wrap(backend, "put_rule", _checked_put_rule)
    moto_hooks.wrap(backend, "put_events", _stamped_put_events)
    moto_hooks.wrap(backend, "enable_rule", _resynced)
    moto_hooks.wrap(backend, "disable_rule", _resynced)
    moto_hooks.wrap(backend, "delete_rule", _forgotten)


def reset() -> None:
    if _schedules is not None:
        _schedules.reset()


def shutdown() -> None:
    reset()


# --- the rules' life ----------------------------------------------------------------------------

def _checked_put_rule(original: Any, backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    from moto.events.exceptions import ValidationException

    expression = kwargs.get("scheduled_expression")
    if expression:
        try:
            schedule_expressions.parse(expression)
        except schedule_expressions.InvalidSchedule as invalid:
            raise ValidationException(str(invalid)) from None
    rule = original(backend, name, *args, **kwargs)
    _schedules.sync(rule)
    return rule


def _resynced(original: Any, backend: Any, name: str, event_bus_arn: str | None = None) -> Any:
    result = original(backend, name, event_bus_arn)
    rule = backend._get_event_bus(backend._normalize_event_bus_arn(event_bus_arn)).rules.get(name)
    if rule is not None:
        _schedules.sync(rule)
    return result


def _forgotten(original: Any, backend: Any, name: str, event_bus_arn: str | None = None) -> Any:
    result = original(backend, name, event_bus_arn)
    if backend._normalize_event_bus_arn(event_bus_arn) == "default":
        _schedules.forget(schedules.RuleKey(backend.account_id, backend.region_name, name))
    return result


def _stamped_put_events(original: Any, backend: Any, entries: list[dict[str, Any]]) -> Any:
    """An event without a Time happened now on the cloud's clock (moto would take the wall clock)."""
    now = moto_hooks.engine().clock.now()
    stamped = [entry if entry.get("Time") else {**entry, "Time": now} for entry in entries]
    return original(backend, stamped)


def find_rule(key: schedules.RuleKey) -> Any | None:
    from moto.events.models import events_backends

    try:
        return events_backends[key.account_id][key.region].event_buses["default"].rules.get(key.name)
    except KeyError:
        return None


# --- delivering ---------------------------------------------------------------------------------

def _send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool) -> None:
    if not schedules.is_enabled(rule) or not rule.event_pattern.get_pattern():
        return  # disabled, or a schedule: events on the bus never match it
    if not rule.event_pattern.matches_event(event):
        return
    _deliver_to_targets(rule, event, transform_input)


def fire_schedule(rule: Any, at: float) -> None:
    """One firing of a schedule rule: the Scheduled Event to each of its targets."""
    push.guarded(f"schedule {rule.name}", _deliver_to_targets, rule, events_shapes.scheduled_event(rule, at), True)


def _deliver_to_targets(rule: Any, event: dict[str, Any], transform_input: bool) -> None:
    """transform_input is moto's flag for its own targets; a function always gets its target's input."""
    lambda_targets = [t for t in rule.targets if _is_function(t.get("Arn", ""))]
    other_targets = [t for t in rule.targets if not _is_function(t.get("Arn", ""))]
    if other_targets:
        others = copy.copy(rule)
        others.targets = other_targets
        others.event_pattern = _MATCH_ALL  # matched already (or a schedule, which has no pattern)
        _moto_send_to_targets(others, copy.deepcopy(event), transform_input)
    delivered = events_shapes.as_delivered(event)
    for target in lambda_targets:
        _deliver_to_function(rule, target, event, delivered)


def _deliver_to_function(rule: Any, target: dict[str, Any], event: dict[str, Any], delivered: dict[str, Any]) -> None:
    source = push.PushSource(PRINCIPAL, rule.arn, rule.account_id, f"events:{rule.name}")
    try:
        payload = target_input(target, event, delivered)
    except ValueError as invalid:
        _dead_letter(rule, target, delivered, "INVALID_JSON", str(invalid))
        return
    outcome = push.deliver(source, target["Arn"], payload, delivered["detail-type"])
    if not outcome.queued:
        _dead_letter(rule, target, delivered, outcome.error_code, outcome.error_message)


def target_input(target: dict[str, Any], event: dict[str, Any], delivered: dict[str, Any]) -> Any:
    """What the target receives: the event, or the target's Input / InputPath / InputTransformer of it."""
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        found = parse(target["InputPath"]).find(delivered)
        return found[0].value if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                         input_paths_map=transformer.get("InputPathsMap", {}),
                                         event={**delivered, "ingestion-time": event.get("ingestion-time")})
    return delivered


def _dead_letter(rule: Any, target: dict[str, Any], delivered: dict[str, Any], error_code: str | None,
                 error_message: str | None) -> None:
    """An event EventBridge could not deliver goes to the target's dead-letter queue, if it has one."""
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    from moto.sqs.models import sqs_backends

    parts = queue_arn.split(":")
    attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": error_code or "UNKNOWN",
                  "ERROR_MESSAGE": error_message or ""}
    sqs_backends[parts[4]][parts[3]].send_message(
        queue_name=parts[5], message_body=json.dumps(delivered),
        message_attributes={name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()})
    moto_hooks.engine().flow.record(f"events:{rule.name}", f"sqs:{parts[5]}", "dead-letter", error_code or "",
                                    ok=False)


def _is_function(arn: str) -> bool:
    return push.FunctionRef.from_arn(arn) is not None


class _MatchAll:
    """The pattern of a rule copy whose event was matched already."""

    @staticmethod
    def matches_event(event: Any) -> bool:
        return True

    @staticmethod
    def get_pattern() -> dict:
        return {}


_MATCH_ALL = _MatchAll()
