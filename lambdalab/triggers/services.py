"""What a trigger module is handed when the cloud starts: the parts of the cloud it may use.

Every trigger module has ``install(cloud: CloudServices)``; its moto hooks and admin requests
close over that object, so nothing reaches for a global engine, and a second cloud in the
same process (tests run several) gets hooks of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..aws.metrics_sink import LambdaMetrics
from ..aws.moto_glue import EventQueue
from ..core.admin import AdminRoutes
from ..core.clock import CloudClock
from ..core.settings import Settings
from ..engine.service import LambdaEngine
from ..records.flow import FlowLog
from .http.front_door import FrontDoor


@dataclass(frozen=True)
class CloudServices:
    engine: LambdaEngine  # runs invocations (engine.invoke), the one verb for that
    events: EventQueue  # the async queue (async_invoke.py), where Event invokes and push sources submit (retries, DLQ, destinations)
    clock: CloudClock
    flow: FlowLog  # every hop of an event, for the event-flow view and the checks
    metrics: LambdaMetrics
    settings: Settings
    admin_routes: AdminRoutes
    front_door: FrontDoor  # the one local address function URLs and API Gateway APIs answer on
