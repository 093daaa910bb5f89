"""Triggers: everything that invokes a function other than a direct Invoke.

Push sources (S3 notifications, SNS subscriptions, EventBridge rules and schedules) need a
resource-based policy on the function; poll sources (event source mappings for SQS, DynamoDB
Streams, Kinesis) need permissions on the execution role; HTTP sources (function URLs, API
Gateway) turn a request into an event and the function's answer into a response; the async
queue retries Event invokes and sends their outcome to destinations or a dead-letter queue.

Each module below has ``install(engine)`` (called once when the cloud starts), and may have
``reset()`` (the account is being emptied: stop pollers, forget queued events) and
``shutdown()`` (the cloud is ending).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

MODULES = (
    "async_invoke",
    "permissions",
    "s3_notifications",
    "sns_subscriptions",
    "eventbridge",
    "event_source_mappings",
    "function_urls",
    "api_gateway",
)

_installed: list[ModuleType] = []


def install_all(engine: Any) -> None:
    if _installed:
        for module in _installed:
            module.install(engine)  # a new engine (tests start several clouds in one process)
        return
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as missing:
            if missing.name == f"{__name__}.{name}":
                continue  # not written yet
            raise
        module.install(engine)
        _installed.append(module)


def reset_all() -> None:
    for module in _installed:
        if hasattr(module, "reset"):
            module.reset()


def shutdown_all() -> None:
    for module in _installed:
        if hasattr(module, "shutdown"):
            module.shutdown()
