"""The local cloud's clock, from a notebook.

Real time by default. Switch to virtual time and nothing that waits for a moment (async
retries, schedules, batching windows, idle environments being reclaimed) happens until you
move the clock forward; then everything due happens at once, in order::

    lambdalab.clock.use_virtual()
    lambdalab.clock.advance(minutes=5)      # the retries and schedules of five minutes, now
    lambdalab.clock.use_real()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from .client import control as _client

__all__ = ["now", "use_virtual", "use_real", "advance", "is_virtual", "Advanced"]


@dataclass(frozen=True)
class Advanced:
    """What an advance did: the new time and what ran on the way, in order."""

    now: datetime
    fired: list[tuple[datetime, str]]

    def __repr__(self) -> str:
        lines = [f"Clock now {self.now:%Y-%m-%d %H:%M:%S} UTC; {len(self.fired)} timed event(s) ran"]
        shown = self.fired[:8]
        lines += [f"  {when:%H:%M:%S}  {name}" for when, name in shown]
        if len(self.fired) > len(shown):
            lines.append(f"  ... and {len(self.fired) - len(shown)} more")
        return "\n".join(lines)


def _read() -> dict:
    return _client.admin_request(_client.running_cloud(), "GET", "/lambdalab/clock")  # type: ignore[return-value]


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def now() -> datetime:
    """The cloud's time (UTC), real or virtual."""
    return _when(_read()["now"])


def is_virtual() -> bool:
    return bool(_read()["virtual"])


def use_virtual(start: datetime | None = None) -> datetime:
    """Stop the cloud's time (at `start`, if given): it moves only when you advance it."""
    body: dict = {"mode": "virtual"}
    if start is not None:
        body["start"] = (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()
    return _when(_client.admin_request(_client.running_cloud(), "POST", "/lambdalab/clock", body=body)["now"])  # type: ignore[index]


def use_real() -> datetime:
    """Let time run at real pace again, on from where the clock stands: a clock you moved three days
    ahead stays three days ahead (until lambdalab.reset()), so nothing booked in between jumps."""
    return _when(_client.admin_request(_client.running_cloud(), "POST", "/lambdalab/clock", body={"mode": "real"})["now"])  # type: ignore[index]


def advance(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> Advanced:
    """Move virtual time forward; everything due on the way runs, in order, before this returns."""
    total = days * 86_400 + hours * 3_600 + minutes * 60 + seconds
    answer = _client.admin_request(_client.running_cloud(), "POST", "/lambdalab/clock", body={"advance_s": total},
                                   timeout=max(120.0, total / 100))
    return Advanced(_when(answer["now"]), [(_when(f["at"]), f["name"]) for f in answer["fired"]])  # type: ignore[index]
