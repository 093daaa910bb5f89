"""The event-flow view: events moving from their source, to a function, to a destination.

Triggers record every hop in the cloud (``lambdalab/records/flow.py``). This view draws them
as a left-to-right diagram (sources, functions, destinations; one arrow per route, labelled
with how many events took it and how many failed) and lists the latest hops in order, so a
learner sees an S3 upload become an invoke, a failure become two retries and a dead letter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import ipywidgets as widgets

from ..client.connection import admin
from .base import COLOURS, Viewable, escape

KIND_WORDS = {"event": ("event", "events"), "invoke": ("invoke", "invokes"), "retry": ("retry", "retries"),
              "success": ("success", "successes"), "failure": ("failure", "failures"),
              "dead-letter": ("dead letter", "dead letters"), "destination": ("destination", "destinations"),
              "throttle": ("throttle", "throttles"), "dropped": ("dropped", "dropped"), "batch": ("batch", "batches")}
SERVICE_COLOURS = {"s3": "#3f8624", "sqs": "#e7157b", "sns": "#e7157b", "events": "#e7157b",
                   "schedule": "#e7157b", "lambda": "#ed7100", "dynamodb": "#4053d6", "kinesis": "#8c4fff",
                   "url": "#0969da", "apigateway": "#8c4fff"}


@dataclass
class Route:
    """Every hop between one source and one target, counted by kind."""

    source: str
    target: str
    kinds: Counter = field(default_factory=Counter)
    failed: int = 0

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def label(self) -> str:
        parts = [f"{count} {KIND_WORDS.get(kind, (kind, kind))[count != 1]}" for kind, count in self.kinds.most_common()]
        return ", ".join(parts) + (f" ({self.failed} failed)" if self.failed else "")


def routes_of(steps: list[dict]) -> list[Route]:
    routes: dict[tuple[str, str], Route] = {}
    for step in steps:
        route = routes.setdefault((step["source"], step["target"]), Route(step["source"], step["target"]))
        route.kinds[step["kind"]] += 1
        if step.get("ok") is False:
            route.failed += 1
    return list(routes.values())


def columns_of(routes: list[Route]) -> list[list[str]]:
    """Nodes by depth: sources first, then what they feed, then what that feeds."""
    feeders: dict[str, set[str]] = defaultdict(set)
    nodes: list[str] = []
    for route in routes:
        for node in (route.source, route.target):
            if node not in nodes:
                nodes.append(node)
        if route.source != route.target:
            feeders[route.target].add(route.source)
    depth: dict[str, int] = {}

    def depth_of(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            parents = [p for p in feeders.get(node, ()) if p not in seen]
            depth[node] = 0 if not parents else 1 + max(depth_of(p, seen | {node}) for p in parents)
        return depth[node]

    layers: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        layers[depth_of(node)].append(node)
    return [layers[d] for d in sorted(layers)]


def _node_colour(node: str) -> str:
    return SERVICE_COLOURS.get(node.split(":", 1)[0], COLOURS["muted"])


def diagram_svg(routes: list[Route]) -> str:
    columns = columns_of(routes)
    width_per_column, height_per_node, box_w, box_h = 330, 74, 170, 54
    height = max(len(c) for c in columns) * height_per_node + 20
    width = len(columns) * width_per_column
    where: dict[str, tuple[float, float]] = {}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'style="font-family:sans-serif;font-size:12px">',
             '<defs><marker id="lambdalab-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>']
    for x_index, column in enumerate(columns):
        for y_index, node in enumerate(column):
            x, y = x_index * width_per_column + 10, y_index * height_per_node + 10
            where[node] = (x, y)
    inside: dict[str, Route] = {}
    for route in routes:
        (x1, y1), (x2, y2) = where[route.source], where[route.target]
        colour = _route_colour(route)
        if route.source == route.target:  # attempts and retries within the function: written in its box
            inside[route.source] = route
            continue
        start_x, start_y, end_x, end_y = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
        if x2 <= x1:  # a route back to an earlier column: go round below
            start_x, end_x = x1 + box_w / 2, x2 + box_w / 2
            start_y, end_y = y1 + box_h, y2 + box_h
        parts.append(f'<line x1="{start_x}" y1="{start_y}" x2="{end_x}" y2="{end_y}" stroke="{colour}" '
                     'stroke-width="2" marker-end="url(#lambdalab-arrow)"/>')
        parts.append(f'<text x="{(start_x + end_x) / 2}" y="{(start_y + end_y) / 2 - 5}" text-anchor="middle" '
                     f'fill="{colour}" font-size="11">{escape(_short(route.label(), 30))}</text>')
    for node, (x, y) in where.items():
        colour = _node_colour(node)
        service, _, name = node.partition(":")
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="white" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 15}" fill="{colour}" font-weight="700">{escape(service.upper())}</text>')
        parts.append(f'<text x="{x + 8}" y="{y + 31}">{escape(_short(name or node, 24))}</text>')
        if node in inside:
            parts.append(f'<text x="{x + 8}" y="{y + 47}" font-size="11" fill="{_route_colour(inside[node])}">'
                         f'{escape(_short(inside[node].label(), 28))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _route_colour(route: Route) -> str:
    if route.failed == route.total:
        return COLOURS["fail"]
    return "#bf8700" if route.failed else COLOURS["pass"]


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S")


class EventFlowView(Viewable):
    """Hops recorded after the view was made (or all of them), drawn and listed; refreshes itself while shown."""

    def __init__(self, everything: bool = False, function_name: str | None = None, latest: int = 12,
                 refresh_for_s: float = 600.0) -> None:
        self.function_name = function_name
        self.latest = latest
        self._after = 0 if everything else self._newest_sequence()
        self._refresh_for_s = refresh_for_s
        self._view: widgets.HTML | None = None

    @staticmethod
    def _newest_sequence() -> int:
        steps = admin("GET", "/lambdalab/flow")
        return steps[-1]["sequence"] if steps else 0

    def steps(self) -> list[dict]:
        steps = admin("GET", f"/lambdalab/flow?after={self._after}")
        if self.function_name:
            wanted = f"lambda:{self.function_name}"
            steps = [s for s in steps if wanted in (s["source"], s["target"])]
        return steps

    def routes(self) -> list[Route]:
        return routes_of(self.steps())

    def text(self) -> str:
        steps = self.steps()
        if not steps:
            return "No events have moved yet."
        lines = [f"{len(steps)} hop(s):"]
        lines += [f"  {r.source} -> {r.target}: {r.label()}" for r in routes_of(steps)]
        lines.append("Latest:")
        lines += [f"  {_clock(s['at'])}  {s['source']} -> {s['target']}  {s['kind']}"
                  + (f"  {s['detail']}" if s.get("detail") else "") for s in steps[-self.latest:]]
        return "\n".join(lines)

    def _html(self) -> str:
        steps = self.steps()
        if not steps:
            return "<i>No events have moved yet: this view fills in as they do.</i>"
        rows = "".join(
            f"<tr><td>{_clock(s['at'])}</td><td>{escape(s['source'])}</td><td>→</td><td>{escape(s['target'])}</td>"
            f"<td style='color:{_kind_colour(s)}'>{escape(s['kind'])}</td><td>{escape(s.get('detail') or '')}</td></tr>"
            for s in reversed(steps[-self.latest:]))
        return (f"<div style='overflow-x:auto'>{diagram_svg(routes_of(steps))}</div>"
                f"<table style='font-size:12px'><tr><th>time</th><th>from</th><th></th><th>to</th><th>what</th>"
                f"<th>detail</th></tr>{rows}</table>")

    def refresh(self) -> None:
        if self._view is not None:
            self._view.value = self._html()

    def widget(self) -> widgets.Widget:
        if self._view is None:
            self._view = widgets.HTML(self._html())
            threading.Thread(target=self._keep_fresh, name="event-flow-refresh", daemon=True).start()
        return self._view

    def _keep_fresh(self) -> None:
        """Redraw once a second for a while: events keep moving after the cell that caused them ends."""
        until = time.monotonic() + self._refresh_for_s
        shown = None
        while time.monotonic() < until:
            time.sleep(1.0)
            try:
                html = self._html()
            except Exception:  # the cloud stopped or was reset: leave the last picture
                return
            if html != shown and self._view is not None:
                self._view.value = shown = html


def _kind_colour(step: dict) -> str:
    if step.get("ok") is False or step["kind"] in ("failure", "dead-letter", "dropped", "throttle"):
        return COLOURS["fail"]
    if step["kind"] == "retry":
        return "#bf8700"
    return COLOURS["pass"] if step.get("ok") else COLOURS["muted"]


def event_flow(everything: bool = False, function_name: str | None = None) -> EventFlowView:
    """Watch events move: from now on (or `everything` since the cloud started), for one function or all."""
    return EventFlowView(everything=everything, function_name=function_name)
