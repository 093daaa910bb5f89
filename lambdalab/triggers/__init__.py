"""Triggers: everything that invokes a function other than a direct Invoke.

Push sources (S3 notifications, SNS subscriptions, EventBridge rules and schedules) need a
resource-based policy on the function; poll sources (event source mappings for SQS, DynamoDB
Streams, Kinesis) need permissions on the execution role; HTTP sources (function URLs, API
Gateway) turn a request into an event and the function's answer into a response; the async
queue (async_invoke.py, made by the cloud's wiring) retries Event invokes and sends their
outcome to destinations or a dead-letter queue.

Each module in MODULES has ``install(cloud: CloudServices) -> Trigger | None``, called when a
cloud starts (its moto hooks and admin requests close over that cloud). What it returns is
the module's state for that cloud: ``reset()`` when the account is emptied (stop pollers,
forget queued events) and ``shutdown()`` when the cloud ends.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .services import CloudServices

MODULES = (
    "async_config",
    "resource_policies",
    "s3_notifications",
    "sns_subscriptions",
    "eventbridge",
    "event_source_mappings",
    "function_urls",
    "api_gateway",
)


@runtime_checkable
class Trigger(Protocol):
    def reset(self) -> None: ...

    def shutdown(self) -> None: ...


@dataclass
class InstalledTriggers:
    """The triggers of one cloud, reset and shut down together, in the order they were installed."""

    triggers: list[Trigger] = field(default_factory=list)
    by_module: dict[str, Trigger] = field(default_factory=dict)

    def kept_on_disk(self) -> dict[str, Trigger]:
        """The triggers with state of their own to save and restore (export_state / restore_state),
        by module name: what cloud/persistence.py keeps next to moto's backends."""
        return {name: trigger for name, trigger in self.by_module.items()
                if hasattr(trigger, "export_state") and hasattr(trigger, "restore_state")}

    def reset(self) -> None:
        for trigger in self.triggers:
            trigger.reset()

    def shutdown(self) -> None:
        for trigger in self.triggers:
            trigger.shutdown()


def install_all(cloud: CloudServices) -> InstalledTriggers:
    installed = InstalledTriggers()
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        trigger = module.install(cloud)
        if trigger is not None:
            installed.triggers.append(trigger)
            installed.by_module[name] = trigger
    return installed
