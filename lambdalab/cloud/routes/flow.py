"""GET /lambdalab/flow?after=N: the event-flow steps recorded since step N."""

from __future__ import annotations

from ...core.admin import AdminRequest, admin_route
from ...records.flow import as_json


@admin_route("GET", "/lambdalab/flow")
def read_flow(request: AdminRequest) -> list[dict]:
    return as_json(request.cloud.engine.flow.steps(int(request.query.get("after", 0))))
