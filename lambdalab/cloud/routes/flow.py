"""GET /lambdalab/flow?after=N: the event-flow steps recorded since step N."""

from __future__ import annotations

from ...core.admin import AdminError, AdminRequest, AdminRoutes
from ...records.flow import FlowLog, as_json


def register(routes: AdminRoutes, flow: FlowLog) -> None:
    routes.add("GET", "/lambdalab/flow", lambda request: read_flow(flow, request))


def read_flow(flow: FlowLog, request: AdminRequest) -> list[dict]:
    try:
        after = int(request.query.get("after", 0))
    except ValueError:
        raise AdminError(400, "after must be a step number") from None
    return as_json(flow.steps(after))
