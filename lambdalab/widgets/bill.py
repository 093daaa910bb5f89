"""The bill view: per function, what was used, what the free tier paid, what it costs; bill lines; a chart.

AWS's Billing console shows Lambda as a few lines per month (requests, GB-seconds per
architecture and tier); Lambda Lab also splits the bill by function, which is the question a
learner asks ("which of my functions costs what?").
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import ipywidgets as widgets
from matplotlib.ticker import FuncFormatter

from ..records.bill import Bill, BillLine, FunctionCharges
from .base import COLOURS, Viewable, card, escape
from .charts import ChartFigure, new_chart, png_of

CHART_FUNCTIONS = 12  # the rest are drawn as one bar, "others"


def usd(amount: float) -> str:
    """Dollars with the digits that matter: $18.73, $0.0000208 (a learner's bill is tiny), $0.00."""
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    decimals = min(12, 2 - math.floor(math.log10(abs(amount))))
    return f"${amount:.{decimals}f}"


def quantity(line: BillLine) -> str:
    return f"{line.quantity:,.0f}" if line.unit == "requests" else f"{line.quantity:,.3f}"


def unit_price(line: BillLine) -> str:
    if line.unit_price_usd == 0:
        return "free"
    if line.unit == "requests":
        return f"${line.unit_price_usd * 1_000_000:.2f} per million"
    return f"${line.unit_price_usd:.10f}".rstrip("0").rstrip(".") + " per GB-s"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class BillView(Viewable):
    """The bill as a widget, a text and numbers: .total_usd, .requests, .gb_seconds, .functions, .lines."""

    def __init__(self, bill: Bill) -> None:
        self.bill = bill
        self._view: widgets.Widget | None = None

    # --- the numbers --------------------------------------------------------------------------

    @property
    def total_usd(self) -> float:
        return self.bill.total_usd

    @property
    def list_price_usd(self) -> float:
        return self.bill.list_price_usd

    @property
    def requests(self) -> int:
        return self.bill.requests

    @property
    def gb_seconds(self) -> float:
        return self.bill.gb_seconds

    @property
    def billed_ms(self) -> int:
        return self.bill.billed_ms

    @property
    def functions(self) -> tuple[FunctionCharges, ...]:
        return self.bill.functions

    @property
    def lines(self) -> tuple[BillLine, ...]:
        return self.bill.lines

    def function(self, name: str) -> FunctionCharges | None:
        return self.bill.function(name)

    # --- words --------------------------------------------------------------------------------

    def title(self) -> str:
        bill = self.bill
        what = f"function {bill.function_name}" if bill.function_name else "all functions"
        return f"Lambda bill for {what}, {_when(bill.since)} to {_when(bill.until)} UTC"

    def how_billed(self) -> str:
        bill = self.bill
        init = ("INIT phase of cold starts billed (since Aug 2025)" if bill.bill_init_phase
                else "INIT phase billed only for custom runtimes (before Aug 2025)")
        free = "monthly free tier applied" if bill.free_tier else "without the free tier"
        return f"Billed duration rounded up to {bill.granularity_ms} ms; {init}; {free}."

    def text(self) -> str:
        bill = self.bill
        lines = [self.title(), self.how_billed()]
        if not bill.functions:
            lines.append("No invocations in this period: nothing to pay.")
            return "\n".join(lines)
        lines.append(f"{'function':<24}{'requests':>10}{'GB-s':>12}{'free GB-s':>12}{'cost':>17}{'list price':>17}")
        for f in bill.functions:
            lines.append(f"{f.name[:23]:<24}{f.requests:>10,}{f.gb_seconds:>12,.3f}{f.free_gb_seconds:>12,.3f}"
                         f"{usd(f.cost_usd):>17}{usd(f.list_price_usd):>17}")
        lines.append(f"{'total':<24}{bill.requests:>10,}{bill.gb_seconds:>12,.3f}{bill.free_gb_seconds:>12,.3f}"
                     f"{usd(bill.total_usd):>17}{usd(bill.list_price_usd):>17}")
        lines.append("Bill lines:")
        for line in bill.lines:
            lines.append(f"  {line.month}  {line.item:<42}{quantity(line):>14} {line.unit:<9}"
                         f"at {unit_price(line):<28}{usd(line.cost_usd)}")
        return "\n".join(lines)

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
