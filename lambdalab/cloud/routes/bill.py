"""The meter's admin requests: the bill, and the meter's entries themselves.

GET /lambdalab/bill?since=&until=&function=&free_tier=1   the bill (see bill.price)
GET /lambdalab/meter?since=&until=&function=              the entries, oldest first

Times are epoch seconds of the cloud's clock; without since, the session (since the cloud
started or was last reset); without until, now.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.admin import AdminError, AdminRequest, admin_route
from ...records.bill import price


def _time(query: dict[str, str], name: str, default: float) -> float:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise AdminError(400, f"{name} must be epoch seconds, not {raw!r}") from None
    if not math.isfinite(value):
        raise AdminError(400, f"{name} must be a finite time, not {raw!r}")
    return value


def _range(request: AdminRequest) -> tuple[float, float]:
    engine = request.cloud.engine
    since = _time(request.query, "since", engine.meter.session_started_at)
    until = _time(request.query, "until", engine.clock.now())
    if since > until:
        raise AdminError(400, "since must not be later than until")
    return since, until


@admin_route("GET", "/lambdalab/bill")
def read_bill(request: AdminRequest) -> dict[str, Any]:
    engine = request.cloud.engine
    since, until = _range(request)
    free_tier = request.query.get("free_tier", "1").lower() not in ("0", "false", "no")
    bill = price(engine.meter.entries(until), since, until, function_name=request.query.get("function") or None,
                 free_tier=free_tier, granularity_ms=engine.settings.billing_granularity_ms,
                 bill_init_phase=engine.settings.bill_init_phase)
    return bill.as_json()


@admin_route("GET", "/lambdalab/meter")
def read_meter(request: AdminRequest) -> list[dict[str, Any]]:
    since, until = _range(request)
    function_name = request.query.get("function") or None
    return [entry.as_json() for entry in request.cloud.engine.meter.entries(until)
            if entry.at >= since and function_name in (None, entry.function_name)]
