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

from moto.events import models
from moto.events.exceptions import ValidationException
from moto.sqs.models import sqs_backends

from ..aws.moto_glue import moto_original, wrap
from ..core.arns import Arn, FunctionArn
from . import push, schedule_expressions, schedules
from .events import eventbridge as events_shapes
from .services import CloudServices

PRINCIPAL = "events.amazonaws.com"


def install(cloud: CloudServices) -> "EventBridgeTargets":
    return EventBridgeTargets(cloud)


class EventBridgeTargets:
    """One cloud's rules with Lambda targets: its schedules, and its hooks in moto's EventBridge."""

    def __init__(self, cloud: CloudServices) -> None:
        self._cloud = cloud
        self._schedules = schedules.Schedules(cloud.clock, find_rule, self.fire_schedule)
        wrap(models.Rule, "send_to_targets", self._send_to_targets)
        backend = models.EventsBackend
        wrap(backend, "put_rule", self._checked_put_rule)
        wrap(backend, "put_events", self._stamped_put_events)
        wrap(backend, "enable_rule", self._resynced)
        wrap(backend, "disable_rule", self._resynced)
        wrap(backend, "delete_rule", self._forgotten)

    def reset(self) -> None:
        self._schedules.reset()

    def shutdown(self) -> None:
        self.reset()

    def export_state(self) -> None:
        """Nothing of its own: the rules are moto's, saved with it (cloud/persistence.py)."""
        return None

    def restore_state(self, saved: None) -> None:
        """Book the restored rules' schedules again, each from now (missed firings are not made up)."""
        for account_backends in list(models.events_backends.values()):
            for backend in list(account_backends.values()):
                bus = backend.event_buses.get("default")  # schedules run on the default bus only
                for rule in list(bus.rules.values()) if bus is not None else []:
                    self._schedules.sync(rule)

    # --- the rules' life ------------------------------------------------------------------------

    def _checked_put_rule(self, original: Any, backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        expression = kwargs.get("scheduled_expression")
        if expression:
            try:
                schedule_expressions.parse(expression)
            except schedule_expressions.InvalidSchedule as invalid:
                raise ValidationException(str(invalid)) from None
        rule = original(backend, name, *args, **kwargs)
        self._schedules.sync(rule)
        return rule

    def _resynced(self, original: Any, backend: Any, name: str, event_bus_arn: str | None = None) -> Any:
        result = original(backend, name, event_bus_arn)
        rule = backend._get_event_bus(backend._normalize_event_bus_arn(event_bus_arn)).rules.get(name)
        if rule is not None:
            self._schedules.sync(rule)
        return result

    def _forgotten(self, original: Any, backend: Any, name: str, event_bus_arn: str | None = None) -> Any:
        result = original(backend, name, event_bus_arn)
        if backend._normalize_event_bus_arn(event_bus_arn) == "default":
            self._schedules.forget(schedules.RuleKey(backend.account_id, backend.region_name, name))
        return result

    def _stamped_put_events(self, original: Any, backend: Any, entries: list[dict[str, Any]]) -> Any:
        """An event without a Time happened now on the cloud's clock (moto would take the wall clock)."""
        now = self._cloud.clock.now()
        stamped = [entry if entry.get("Time") else {**entry, "Time": now} for entry in entries]
        return original(backend, stamped)

    # --- delivering -----------------------------------------------------------------------------

    def _send_to_targets(self, original: Any, rule: Any, event: Any, transform_input: bool = True) -> None:
        push.guarded(f"rule {rule.name}", self._matched_targets, original, rule, event, transform_input)

    def _matched_targets(self, moto_send: Any, rule: Any, event: dict[str, Any], transform_input: bool) -> None:
        if not schedules.is_enabled(rule) or not rule.event_pattern.get_pattern():
            return  # disabled, or a schedule: events on the bus never match it
        if not rule.event_pattern.matches_event(event):
            return
        self._deliver_to_targets(moto_send, rule, event, transform_input)

    def fire_schedule(self, rule: Any, at: float) -> None:
        """One firing of a schedule rule: the Scheduled Event to each of its targets."""
        push.guarded(f"schedule {rule.name}", self._deliver_to_targets, moto_original(models.Rule, "send_to_targets"),
                     rule, events_shapes.scheduled_event(rule, at), True)

    def _deliver_to_targets(self, moto_send: Any, rule: Any, event: dict[str, Any], transform_input: bool) -> None:
        """transform_input is moto's flag for its own targets; a function always gets its target's input.
        Targets that are not functions (SQS, log groups, buses, archives) stay moto's (moto_send)."""
        lambda_targets = [t for t in rule.targets if _is_function(t.get("Arn", ""))]
        other_targets = [t for t in rule.targets if not _is_function(t.get("Arn", ""))]
        if other_targets:
            others = copy.copy(rule)
            others.targets = other_targets
            others.event_pattern = _MATCH_ALL  # matched already (or a schedule, which has no pattern)
            moto_send(others, copy.deepcopy(event), transform_input)
        delivered = events_shapes.as_delivered(event)
        for target in lambda_targets:
            self._deliver_to_function(rule, target, event, delivered)

    def _deliver_to_function(self, rule: Any, target: dict[str, Any], event: dict[str, Any],
                             delivered: dict[str, Any]) -> None:
        source = push.PushSource(PRINCIPAL, rule.arn, rule.account_id, f"events:{rule.name}")
        try:
            payload = target_input(target, event, delivered)
        except ValueError as invalid:
            self._dead_letter(rule, target, delivered, "INVALID_JSON", str(invalid))
            return
        outcome = push.deliver(self._cloud, source, target["Arn"], payload, delivered["detail-type"])
        if not outcome.queued:
            self._dead_letter(rule, target, delivered, outcome.error_code, outcome.error_message)

    def _dead_letter(self, rule: Any, target: dict[str, Any], delivered: dict[str, Any], error_code: str | None,
                     error_message: str | None) -> None:
        """An event EventBridge could not deliver goes to the target's dead-letter queue, if it has one."""
        queue = Arn.parse((target.get("DeadLetterConfig") or {}).get("Arn") or "")
        if queue is None:
            return
        attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": error_code or "UNKNOWN",
                      "ERROR_MESSAGE": error_message or ""}
        sqs_backends[queue.account_id][queue.region].send_message(
            queue_name=queue.name, message_body=json.dumps(delivered),
            message_attributes={name: {"DataType": "String", "StringValue": value}
                                for name, value in attributes.items()})
        self._cloud.flow.record(f"events:{rule.name}", queue.flow_name, "dead-letter", error_code or "", ok=False)


def find_rule(key: schedules.RuleKey) -> Any | None:
    try:
        return models.events_backends[key.account_id][key.region].event_buses["default"].rules.get(key.name)
    except KeyError:
        return None


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


def _is_function(arn: str) -> bool:
    return FunctionArn.parse(arn) is not None


class _MatchAll:
    """The pattern of a rule copy whose event was matched already."""

    @staticmethod
    def matches_event(event: Any) -> bool:
        return True

    @staticmethod
    def get_pattern() -> dict:
        return {}


_MATCH_ALL = _MatchAll()
