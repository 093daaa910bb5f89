"""The clock's admin requests: read it, switch it between real and virtual time, advance it."""

from __future__ import annotations

from ...core.admin import AdminError, AdminRequest, AdminRoutes
from ...core.clock import CloudClock


def register(routes: AdminRoutes, clock: CloudClock) -> None:
    routes.add("GET", "/lambdalab/clock", lambda request: _describe(clock))
    routes.add("POST", "/lambdalab/clock", lambda request: change_clock(clock, request))


def _describe(clock: CloudClock) -> dict:
    return {"now": clock.now(), "virtual": clock.is_virtual,
            "pending": [{"at": when, "name": name} for when, name in clock.pending()[:200]]}


def change_clock(clock: CloudClock, request: AdminRequest) -> dict:
    """Body: {"mode": "virtual"|"real", "start": epoch?} or {"advance_s": seconds}."""
    body = request.body or {}
    if body.get("mode") == "virtual":
        clock.use_virtual(body.get("start"))
    elif body.get("mode") == "real":
        clock.use_real()
    if "advance_s" in body:
        seconds = float(body["advance_s"])
        if seconds < 0:
            raise AdminError(400, "The clock only moves forward.")
        if not clock.is_virtual:
            raise AdminError(409, "The clock is real time: call lambdalab.clock.use_virtual() before advancing it.")
        report = clock.advance(seconds)
        return {**_describe(clock), "fired": [{"at": when, "name": name} for when, name in report.fired]}
    return _describe(clock)
