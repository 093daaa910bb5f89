"""The meter's admin requests: the bill, and the meter's entries themselves.

GET /lambdalab/bill?since=&until=&function=&free_tier=1   the bill (see bill.price)
GET /lambdalab/meter?since=&until=&function=              the entries, oldest first

Times are epoch seconds of the cloud's clock; without since, the session (since the cloud
started or was last reset); without until, now.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.admin import AdminError, AdminRequest, AdminRoutes
from ...core.clock import CloudClock
from ...core.settings import Settings
from ...records.bill import price
from ...records.meter import Meter


def register(routes: AdminRoutes, meter: Meter, clock: CloudClock, settings: Settings) -> None:
    routes.add("GET", "/lambdalab/bill", lambda request: read_bill(meter, clock, settings, request))
    routes.add("GET", "/lambdalab/meter", lambda request: read_meter(meter, clock, request))


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


def _range(request: AdminRequest, meter: Meter, clock: CloudClock) -> tuple[float, float]:
    since = _time(request.query, "since", meter.session_started_at)
    until = _time(request.query, "until", clock.now())
    if since > until:
        raise AdminError(400, "since must not be later than until")
    return since, until


def read_bill(meter: Meter, clock: CloudClock, settings: Settings, request: AdminRequest) -> dict[str, Any]:
    since, until = _range(request, meter, clock)
    free_tier = request.query.get("free_tier", "1").lower() not in ("0", "false", "no")
    bill = price(meter.entries(until), since, until, function_name=request.query.get("function") or None,
                 free_tier=free_tier, granularity_ms=settings.billing_granularity_ms,
                 bill_init_phase=settings.bill_init_phase)
    return bill.as_json()


def read_meter(meter: Meter, clock: CloudClock, request: AdminRequest) -> list[dict[str, Any]]:
    since, until = _range(request, meter, clock)
    function_name = request.query.get("function") or None
    return [entry.as_json() for entry in meter.entries(until)
            if entry.at >= since and function_name in (None, entry.function_name)]
