"""The pricing calculator: a month of one function's invokes, priced as AWS prices them, with sliders.

Memory, duration, invokes a month, architecture, billing granularity (1 ms now, 100 ms before
December 2020) and the free tier are the whole of a Lambda bill for a simple function; moving
one and watching the total shows which matter. The chart puts the month's cost against the
number of invokes, for both architectures, so the free tier's kink and the straight line after
it are visible, and, given an always-on server's monthly price, where Lambda stops being cheaper.
All figures come from :mod:`lambdalab.records.pricing`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import ipywidgets as widgets

from ..records import pricing
from .base import Viewable, card, escape
from .charts import ChartFigure, new_chart, png_of

GRANULARITIES = {1: "1 ms (since Dec 2020)", 100: "100 ms (before Dec 2020)"}
ARCHITECTURE_STYLES = {"x86_64": ("-", "#ed7100"), "arm64": ("--", "#0969da")}
MEMORY_RANGE = (128, 10_240)
DURATION_RANGE_MS = (1, 900_000)
INVOCATIONS_RANGE = (0, 10**11)
SERVER_COLOUR = "#57606a"
HOURS_PER_MONTH = 730  # AWS's month for prices by the hour


@dataclass(frozen=True)
class Workload:
    """One function's month: what the sliders say."""

    memory_mb: int = 512
    duration_ms: float = 100.0
    invocations: int = 1_000_000
    architecture: str = "x86_64"
    granularity_ms: int = 1
    free_tier: bool = True

    def __post_init__(self) -> None:
        if not MEMORY_RANGE[0] <= self.memory_mb <= MEMORY_RANGE[1]:
            raise ValueError(f"memory_mb must be {MEMORY_RANGE[0]} to {MEMORY_RANGE[1]}, not {self.memory_mb}")
        if not DURATION_RANGE_MS[0] <= self.duration_ms <= DURATION_RANGE_MS[1]:
            raise ValueError(f"duration_ms must be {DURATION_RANGE_MS[0]} to {DURATION_RANGE_MS[1]}, "
                             f"not {self.duration_ms}")
        if not INVOCATIONS_RANGE[0] <= self.invocations <= INVOCATIONS_RANGE[1]:
            raise ValueError(f"invocations must be 0 to {INVOCATIONS_RANGE[1]:,}, not {self.invocations}")
        if self.architecture not in pricing.DURATION_TIERS:
            raise ValueError(f"architecture must be one of {sorted(pricing.DURATION_TIERS)}, not {self.architecture!r}")
        if self.granularity_ms not in GRANULARITIES:
            raise ValueError(f"granularity_ms must be one of {sorted(GRANULARITIES)}, not {self.granularity_ms!r}")

    def estimate(self, invocations: int | None = None, architecture: str | None = None) -> pricing.Estimate:
        return pricing.estimate(self.invocations if invocations is None else invocations, self.duration_ms,
                                self.memory_mb, architecture or self.architecture, self.granularity_ms,
                                free_tier=self.free_tier)

    @property
    def billed_ms(self) -> int:
        return pricing.billed_ms(self.duration_ms, self.granularity_ms)


def break_even_invocations(workload: Workload, monthly_usd: float) -> int | None:
    """The fewest invokes a month at which this workload costs at least monthly_usd (None: never, up to 10^11).

    A month's cost never falls as invokes grow, so halving the interval finds it exactly.
    """
    if monthly_usd <= 0:
        return 0
    low, high = 0, INVOCATIONS_RANGE[1]
    if workload.estimate(high).total < monthly_usd:
        return None
    while low < high:
        middle = (low + high) // 2
        if workload.estimate(middle).total >= monthly_usd:
            high = middle
        else:
            low = middle + 1
    return low


class PricingCalculator(Viewable):
    """Sliders for a workload, its month's bill broken down, and a chart; ``.set(...)`` moves the sliders from code."""

    def __init__(self, workload: Workload, server_usd_per_month: float | None = None) -> None:
        self.workload = workload
        self.server_usd_per_month = server_usd_per_month
        self._view: widgets.Widget | None = None
        self._controls: dict[str, widgets.Widget] = {}
        self._breakdown = widgets.HTML()
        self._chart = widgets.Image(format="png")

    # --- the figures ----------------------------------------------------------------------------

    @property
    def estimate(self) -> pricing.Estimate:
        return self.workload.estimate()

    @property
    def break_even(self) -> int | None:
        """Invokes a month at which Lambda costs as much as the server (None without a server price)."""
        if self.server_usd_per_month is None:
            return None
        return break_even_invocations(self.workload, self.server_usd_per_month)

    def set(self, **values: object) -> "PricingCalculator":
        """Change the workload (memory_mb=..., duration_ms=..., ...) and redraw, as the sliders would."""
        if "server_usd_per_month" in values:
            self.server_usd_per_month = values.pop("server_usd_per_month")  # type: ignore[assignment]
        self.workload = dataclasses.replace(self.workload, **values)
        self._sync_controls()
        self._redraw()
        return self

    def breakdown_lines(self) -> list[str]:
        w, month = self.workload, self.estimate
        price = pricing.DURATION_TIERS[w.architecture][0][1]
        free_gb_s = month.gb_seconds - month.billable_gb_seconds
        free_requests = month.requests - month.billable_requests
        per_million = dataclasses.replace(w, free_tier=False).estimate(1_000_000)
        lines = [
            f"{w.memory_mb:,} MB x {w.duration_ms:,.1f} ms (billed {w.billed_ms:,} ms, rounded up to "
            f"{w.granularity_ms} ms) x {w.invocations:,} invokes a month, {w.architecture}",
            f"compute: {month.gb_seconds:,.1f} GB-s, {free_gb_s:,.1f} free, {month.billable_gb_seconds:,.1f} billable "
            f"x ${price:.10f} = ${month.duration_cost:,.2f}",
            f"requests: {month.requests:,}, {free_requests:,} free, {month.billable_requests:,} billable "
            f"x ${pricing.REQUEST_PRICE_PER_MILLION:.2f} per million = ${month.request_cost:,.2f}",
            f"total: ${month.total:,.2f} a month" + ("" if w.free_tier else " (no free tier)"),
            f"without the free tier, a million invokes cost ${per_million.total:,.4f}",
        ]
        if self.server_usd_per_month is not None:
            lines.append(self._server_sentence())
        return lines

    def _server_sentence(self) -> str:
        server, break_even = self.server_usd_per_month, self.break_even
        if break_even is None:
            return f"an always-on server at ${server:,.2f} a month: Lambda stays cheaper up to {INVOCATIONS_RANGE[1]:,} invokes"
        per_second = break_even / (HOURS_PER_MONTH * 3600)
        cheaper = "Lambda" if self.estimate.total < server else "the server"
        return (f"an always-on server at ${server:,.2f} a month costs as much as {break_even:,} invokes a month "
                f"(about {per_second:,.1f} a second, on average); at {self.workload.invocations:,}, {cheaper} is cheaper")

    def text(self) -> str:
        return "\n".join(["Lambda pricing calculator (us-east-1)"] + ["  " + line for line in self.breakdown_lines()])

    # --- the chart ------------------------------------------------------------------------------

    def chart(self) -> ChartFigure:
        """The month's cost against invokes a month, both architectures, with the server's price if given."""
        w = self.workload
        right = max(2 * w.invocations, 2 * pricing.FREE_REQUESTS)
        break_even = self.break_even
        if break_even is not None and break_even < 10 * right:
            right = max(right, int(break_even * 1.25))
        counts = sorted({int(right * i / 200) for i in range(201)} | {pricing.FREE_REQUESTS, w.invocations})
        figure = new_chart(height_in=3.4)
        axis = figure.add_subplot()
        for architecture, (style, colour) in ARCHITECTURE_STYLES.items():
            costs = [w.estimate(n, architecture).total for n in counts]
            axis.plot([n / 1e6 for n in counts], costs, style, color=colour,
                      linewidth=2.2 if architecture == w.architecture else 1.2, label=architecture)
        axis.plot([w.invocations / 1e6], [self.estimate.total], "o", color=ARCHITECTURE_STYLES[w.architecture][1],
                  markersize=8, label=f"now: ${self.estimate.total:,.2f}")
        if self.server_usd_per_month is not None:
            axis.axhline(self.server_usd_per_month, color=SERVER_COLOUR, linestyle=":",
                         label=f"always-on server ${self.server_usd_per_month:,.2f}")
            if break_even is not None and break_even <= right:
                axis.axvline(break_even / 1e6, color=SERVER_COLOUR, linewidth=0.8,
                             label=f"break-even: {break_even / 1e6:,.1f} million")
        axis.set_xlim(0, right / 1e6)
        axis.set_ylim(bottom=0)
        axis.set_xlabel("invokes a month (millions)")
        axis.set_ylabel("$ a month")
        axis.set_title(f"{w.memory_mb:,} MB, {w.duration_ms:,.0f} ms, billed per {w.granularity_ms} ms"
                       + (", free tier" if w.free_tier else ""), fontsize=10)
        axis.legend(fontsize=8, loc="upper left")
        return figure

    # --- the widget -----------------------------------------------------------------------------

    def widget(self) -> widgets.Widget:
        if self._view is not None:
            return self._view
        w = self.workload
        style = {"description_width": "130px"}
        layout = widgets.Layout(width="520px")
        buttons_style = {"description_width": "130px", "button_width": "auto"}
        self._controls = {
            "memory_mb": widgets.IntSlider(value=w.memory_mb, min=MEMORY_RANGE[0], max=MEMORY_RANGE[1], step=1,
                                           description="Memory (MB)", continuous_update=False, style=style,
                                           layout=layout),
            "duration_ms": widgets.FloatLogSlider(value=w.duration_ms, base=10, min=0,
                                                  max=math.log10(DURATION_RANGE_MS[1]), step=0.01,
                                                  description="Duration (ms)", readout_format=",.1f",
                                                  continuous_update=False, style=style, layout=layout),
            "invocations": widgets.FloatLogSlider(value=max(w.invocations, 1), base=10, min=0,
                                                  max=math.log10(INVOCATIONS_RANGE[1]), step=0.05,
                                                  description="Invokes a month", readout_format=",.0f",
                                                  continuous_update=False, style=style, layout=layout),
            "architecture": widgets.ToggleButtons(options=list(ARCHITECTURE_STYLES), value=w.architecture,
                                                  description="Architecture", style=buttons_style),
            "granularity_ms": widgets.ToggleButtons(options=[(label, ms) for ms, label in GRANULARITIES.items()],
                                                    value=w.granularity_ms, description="Billed per",
                                                    style=buttons_style),
            "free_tier": widgets.Checkbox(value=w.free_tier, description="Free tier (1M requests, 400,000 GB-s a month)",
                                          indent=False, layout=widgets.Layout(width="auto", margin="4px 0 4px 136px")),
        }
        for name, control in self._controls.items():
            control.observe(lambda change, name=name: self._moved(name, change["new"]), names="value")
        self._redraw()
        self._view = widgets.VBox([*self._controls.values(), self._breakdown, self._chart])
        return self._view

    def _moved(self, name: str, value: object) -> None:
        if name == "invocations":
            value = int(round(value))  # type: ignore[arg-type]
        if _shown_value(name, getattr(self.workload, name)) == value:
            return  # the slider followed a change made from code
        self.workload = dataclasses.replace(self.workload, **{name: value})
        self._redraw()

    def _sync_controls(self) -> None:
        for name, control in self._controls.items():
            value = _shown_value(name, getattr(self.workload, name))
            if control.value != value:
                control.value = value

    def _redraw(self) -> None:
        if not self._controls:
            return  # no widget shown yet: nothing to draw on
        body = "".join(f"<div>{escape(line)}</div>" for line in self.breakdown_lines())
        colour = ARCHITECTURE_STYLES[self.workload.architecture][1]
        self._breakdown.value = card(f"${self.estimate.total:,.2f} a month", body, colour)
        self._chart.value = png_of(self.chart())


def _shown_value(name: str, value: object) -> object:
    """What a control can show for a workload value: the invokes slider starts at 1, not 0."""
    return max(1, value) if name == "invocations" else value  # type: ignore[call-overload]


def pricing_calculator(memory_mb: int = 512, duration_ms: float = 100.0, invocations: int = 1_000_000,
                       architecture: str = "x86_64", granularity_ms: int = 1, free_tier: bool = True,
                       server_usd_per_month: float | None = None) -> PricingCalculator:
    """A month of invokes priced with sliders; give server_usd_per_month to compare with an always-on server."""
    workload = Workload(int(memory_mb), float(duration_ms), int(invocations), architecture, int(granularity_ms),
                        bool(free_tier))
    return PricingCalculator(workload, server_usd_per_month)
