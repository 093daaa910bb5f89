"""The bill view: per function, what was used, what the free tier paid, what it costs; bill lines; a chart.

AWS's Billing console shows Lambda as a few lines per month (requests, GB-seconds per
architecture and tier); Lambda Lab also splits the bill by function, which is the question a
learner asks ("which of my functions costs what?").

``lambdalab.bill()`` lives here: it asks the running cloud for its bill and wraps the answer, a
:class:`lambdalab.records.bill.Bill`, in the view. The model knows nothing of widgets.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import ipywidgets as widgets
from matplotlib.ticker import FuncFormatter

from ..client.connection import admin
from ..records.bill import Bill, FunctionCharges, quantity, unit_price, usd
from .base import COLOURS, ModelView, card, escape
from .charts import ChartFigure, new_chart, png_of

__all__ = ["bill", "BillView", "usd", "quantity", "unit_price"]

CHART_FUNCTIONS = 12  # the rest are drawn as one bar, "others"


def bill(since: datetime | float | None = None, until: datetime | float | None = None,
         function_name: str | None = None, *, free_tier: bool = True) -> BillView:
    """The bill of this session (since the cloud started or was last reset), or of a time range.

    since/until: a datetime or epoch seconds of the cloud's clock. function_name: one function only.
    free_tier=False shows what the same usage costs once the month's free tier is used up.
    The result shows as a table and a chart; its numbers are attributes: .total_usd, .requests,
    .gb_seconds, .functions (each with .name, .requests, .gb_seconds, .cost_usd), .lines.

    The cloud prices its own meter (GET /lambdalab/bill) and the notebook only shows the answer:
    the meter lives in the cloud's process, and one pricing is the only way both sides agree.
    """
    query = {"since": _epoch(since), "until": _epoch(until), "function": function_name,
             "free_tier": "1" if free_tier else "0"}
    path = "/lambdalab/bill?" + urlencode({key: value for key, value in query.items() if value is not None})
    return BillView(Bill.from_json(admin("GET", path)))


def _epoch(moment: datetime | float | None) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.timestamp()
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        return float(moment)
    raise TypeError(f"a time must be a datetime or epoch seconds, not {type(moment).__name__}")


class BillView(ModelView):
    """The bill as a widget, a text and numbers: .total_usd, .requests, .gb_seconds, .functions, .lines."""

    _model_attribute = "bill"

    def __init__(self, bill: Bill) -> None:
        self.bill = bill
        self._view: widgets.Widget | None = None

    def text(self) -> str:
        return self.bill.text()

    def _html(self) -> str:
        bill = self.bill
        if not bill.functions:
            return card(self.title(), f"<div>{escape(self.how_billed())}</div><i>No invocations in this period: "
                        "nothing to pay.</i>", COLOURS["muted"])
        head = "".join(f"<th style='text-align:{align};padding:2px 8px'>{escape(name)}</th>" for name, align in (
            ("function", "left"), ("requests", "right"), ("GB-s", "right"), ("free tier", "right"),
            ("price tiers", "left"), ("cost", "right"), ("list price", "right")))
        rows = [self._row(f.name, f.requests, f.gb_seconds, f"{f.free_requests:,} req, {f.free_gb_seconds:,.3f} GB-s",
                          ", ".join(f.tiers) or "free tier only", f.cost_usd, f.list_price_usd)
                for f in bill.functions]
        rows.append(self._row("total", bill.requests, bill.gb_seconds,
                              f"{bill.free_requests:,} req, {bill.free_gb_seconds:,.3f} GB-s", "", bill.total_usd,
                              bill.list_price_usd, bold=True))
        bill_lines = "".join(
            f"<tr><td>{escape(line.month)}</td><td>{escape(line.item)}</td>"
            f"<td style='text-align:right'>{quantity(line)} {escape(line.unit)}</td>"
            f"<td style='text-align:right'>{escape(unit_price(line))}</td>"
            f"<td style='text-align:right'>{usd(line.cost_usd)}</td></tr>" for line in bill.lines)
        body = (f"<div style='font-size:12px'>{escape(self.how_billed())}</div>"
                f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>{''.join(rows)}</table>"
                f"<details style='font-size:12px;margin-top:4px'><summary>Bill lines (as AWS's bill shows them)"
                f"</summary><table>{bill_lines}</table></details>")
        return card(f"{self.title()}: {usd(bill.total_usd)}", body, COLOURS["pass"])

    @staticmethod
    def _row(name: str, requests: int, gb_seconds: float, free: str, tiers: str, cost: float, list_price: float,
             bold: bool = False) -> str:
        style = "font-weight:600;border-top:1px solid #888" if bold else ""
        cells = [(escape(name), "left"), (f"{requests:,}", "right"), (f"{gb_seconds:,.3f}", "right"),
                 (escape(free), "right"), (escape(tiers), "left"), (usd(cost), "right"), (usd(list_price), "right")]
        return f"<tr style='{style}'>" + "".join(f"<td style='text-align:{align};padding:2px 8px'>{value}</td>"
                                                 for value, align in cells) + "</tr>"

    # --- the chart ----------------------------------------------------------------------------

    def chart(self) -> ChartFigure:
        """GB-seconds per function, and its cost: what is charged and what the free tier paid."""
        names, gb_seconds, charged, free = _chart_rows(self.bill.functions)
        figure = new_chart(9.0, 3.2)
        usage, cost = figure.subplots(1, 2)
        positions = range(len(names))
        usage.bar(positions, gb_seconds, color=COLOURS["cold"])
        usage.set_title("GB-seconds per function")
        usage.set_ylabel("GB-s")
        cost.bar(positions, charged, color=COLOURS["fail"], label="charged")
        cost.bar(positions, free, bottom=charged, color=COLOURS["pass"], alpha=0.6, label="paid by the free tier")
        cost.set_title("Cost per function (USD)")
        cost.yaxis.set_major_formatter(FuncFormatter(lambda value, _: usd(value)))
        cost.legend(fontsize=8)
        for axes in (usage, cost):
            axes.set_xticks(list(positions), names, rotation=30, ha="right", fontsize=8)
        return figure

    def widget(self) -> widgets.Widget:
        if self._view is None:
            parts: list[widgets.Widget] = [widgets.HTML(self._html())]
            if self.bill.functions:
                parts.append(widgets.Image(value=png_of(self.chart()), format="png"))
            self._view = widgets.VBox(parts)
        return self._view


def _chart_rows(functions: tuple[FunctionCharges, ...]) -> tuple[list[str], list[float], list[float], list[float]]:
    """The costliest functions, one bar each, and the rest as one bar "others"."""
    ranked = sorted(functions, key=lambda f: (-f.list_price_usd, f.name))
    shown, rest = ranked[:CHART_FUNCTIONS], ranked[CHART_FUNCTIONS:]
    names = [f.name for f in shown]
    gb_seconds = [f.gb_seconds for f in shown]
    charged = [f.cost_usd for f in shown]
    free = [max(0.0, f.list_price_usd - f.cost_usd) for f in shown]
    if rest:
        names.append(f"{len(rest)} others")
        gb_seconds.append(sum(f.gb_seconds for f in rest))
        charged.append(sum(f.cost_usd for f in rest))
        free.append(sum(max(0.0, f.list_price_usd - f.cost_usd) for f in rest))
    return names, gb_seconds, charged, free
