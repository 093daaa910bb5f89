"""The execution-environment view: which environments exist, cold, warm or busy, and how used.

AWS's console does not show this; Lambda Lab can, and it is the picture behind cold starts,
warm reuse and concurrency.
"""

from __future__ import annotations

from ..client.connection import admin
from .base import COLOURS, RefreshableView, escape

STATE_COLOURS = {"busy": COLOURS["busy"], "warm": COLOURS["warm"], "cold": COLOURS["cold"]}
STATE_MEANING = {"busy": "running an invoke", "warm": "initialized, frozen, ready for the next invoke",
                 "cold": "reset: the next invoke initializes again"}


class EnvironmentsView(RefreshableView):
    def __init__(self, function_name: str | None = None) -> None:
        self.function_name = function_name

    def read(self) -> list[dict]:
        listed = admin("GET", "/lambdalab/environments")
        if self.function_name:
            listed = [e for e in listed if e["function"] == self.function_name]
        return sorted(listed, key=lambda e: (e["function"], -e["age_s"]))

    def text(self) -> str:
        rows = self.read()
        what = f"function {self.function_name}" if self.function_name else "all functions"
        if not rows:
            return f"No execution environments for {what}: the next invoke will be a cold start."
        lines = [f"{len(rows)} execution environment(s) for {what}:",
                 f"{'environment':<14}{'function':<20}{'state':<7}{'invokes':>8}{'cold starts':>12}{'age':>9}{'idle':>9}"]
        for e in rows:
            lines.append(f"{e['id'][:12]:<14}{e['function'][:19]:<20}{e['state']:<7}{e['invokes']:>8}"
                         f"{e['cold_starts']:>12}{e['age_s']:>8.1f}s{e['idle_s']:>8.1f}s")
        return "\n".join(lines)

    def _html(self) -> str:
        rows = self.read()
        if not rows:
            return f"<i>{escape(self.text())}</i>"
        boxes = []
        for e in rows:
            colour = STATE_COLOURS.get(e["state"], COLOURS["muted"])
            boxes.append(
                f"<div title='{escape(STATE_MEANING.get(e['state'], ''))}' style='display:inline-block;width:150px;"
                f"margin:4px;padding:6px;border:2px solid {colour};border-radius:6px;font-size:12px'>"
                f"<div style='color:{colour};font-weight:700'>{escape(e['state'].upper())}</div>"
                f"<div><b>{escape(e['function'])}</b></div><div><code>{escape(e['id'][:12])}</code></div>"
                f"<div>{e['invokes']} invoke(s), {e['cold_starts']} init(s)</div>"
                f"<div>age {e['age_s']:.0f} s, idle {e['idle_s']:.0f} s</div></div>")
        legend = " ".join(f"<span style='color:{c};font-weight:600'>■ {s}</span> {escape(STATE_MEANING[s])}"
                          for s, c in STATE_COLOURS.items())
        return f"<div>{''.join(boxes)}</div><div style='font-size:11px'>{legend}</div>"
