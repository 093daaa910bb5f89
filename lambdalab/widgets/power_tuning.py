"""Power tuning as a notebook shows it: a progress bar while it runs, then a table and a chart.

The table and the chart answer the two questions a learner tunes for, which memory size is the
cheapest and which the fastest, and show why: duration falls with memory only while the code
can use the CPU that comes with it, and cost is memory times duration.

``lambdalab.power_tune`` lives here: it runs :func:`lambdalab.tuning.tune` (the model) with a
reporter of this module and wraps the result in its view.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import ipywidgets as widgets

from ..tuning import (COLUMNS, DEFAULT_MEMORY_SIZES, PowerTuningResult, SilentProgress, TuningRow, cells, heading,
                      money, restore_sentence, row_summary, tune, tuning_text, verdict_lines)
from .base import COLOURS, ModelView, card
from .charts import ChartFigure, new_chart, png_of

__all__ = ["power_tune", "PowerTuningView", "SilentProgress", "TextProgress", "WidgetProgress", "progress_reporter",
           "tuning_chart", "tuning_text", "tuning_widget", "money", "row_summary", "restore_sentence",
           "verdict_lines"]

DURATION_COLOUR = "#0969da"
COST_COLOUR = "#bf8700"


def power_tune(function_name: str, memory_sizes: Iterable[int] = DEFAULT_MEMORY_SIZES, invokes: int = 10,
               payload: Any = None, architecture: str | None = None, *, progress: bool = True,
               granularity_ms: int | None = None, client: Any = None) -> PowerTuningView:
    """Invoke the function `invokes` times (after one warm-up) at each memory size, then restore its memory.

    architecture: price as x86_64 or arm64 (default: the function's own; both run on the same CPU
    here, so only the price differs). granularity_ms: re-bill each Duration at this granularity
    (100 shows the billing of before December 2020); by default the REPORT's Billed Duration is used.
    client: a boto3 Lambda client (default: one for the local cloud). Errors of the function are
    reported per memory size, not raised; the original memory is restored even on an interrupt.
    progress: a progress bar in JupyterLab, a line per memory size elsewhere, nothing if False.
    The result shows as a table and a chart; .rows, .cheapest, .fastest and .row(memory_mb) are
    the figures (:class:`lambdalab.tuning.PowerTuningResult`, also at .result).
    """
    def reporting(name: str, sizes: list[int], count: int) -> SilentProgress:
        return progress_reporter(name, sizes, count, enabled=progress)

    return PowerTuningView(tune(function_name, memory_sizes, invokes, payload, architecture,
                                granularity_ms=granularity_ms, client=client, reporting=reporting))


# --- while it runs ---------------------------------------------------------------------------------

class TextProgress(SilentProgress):
    """One line per memory size: for a terminal, or a notebook read without widgets."""

    def __init__(self, function_name: str, sizes: list[int], invokes: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._print(f"Power tuning {function_name}: {len(sizes)} memory size(s), "
                    f"1 warm-up + {invokes} invoke(s) each")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def row_done(self, row: TuningRow) -> None:
        self._print("  " + row_summary(row))

    def finish(self, result: PowerTuningResult) -> None:
        self._print("  " + restore_sentence(result))


class WidgetProgress(SilentProgress):
    """An ipywidgets progress bar and a line saying which memory size and invoke are running."""

    def __init__(self, function_name: str, sizes: list[int], invokes: int) -> None:
        from IPython.display import display

        self.function_name = function_name
        self.per_size = invokes + 1
        self.done_sizes = 0
        self.current_mb: int | None = None
        self.bar = widgets.IntProgress(value=0, min=0, max=len(sizes) * self.per_size, bar_style="info",
                                       description="Tuning", layout=widgets.Layout(width="60%"))
        self.label = widgets.HTML(f"Power tuning <b>{html.escape(function_name)}</b>: starting")
        box = widgets.VBox([self.bar, self.label])
        bundle = dict(box._repr_mimebundle_())
        bundle["text/plain"] = (f"Power tuning {function_name}: {len(sizes)} memory size(s), "
                                f"1 warm-up + {invokes} invoke(s) each")
        display(bundle, raw=True)

    def memory(self, memory_mb: int) -> None:
        self.current_mb = memory_mb
        self.label.value = f"<b>{memory_mb} MB</b>: configuring"

    def invoked(self, number: int) -> None:
        self.bar.value = self.done_sizes * self.per_size + number
        what = "warm-up" if number == 1 else f"invoke {number - 1} of {self.per_size - 1}"
        self.label.value = f"<b>{self.current_mb} MB</b>: {what}"

    def row_done(self, row: TuningRow) -> None:
        self.done_sizes += 1
        self.bar.value = self.done_sizes * self.per_size

    def finish(self, result: PowerTuningResult) -> None:
        complete = len(result.rows) * self.per_size >= self.bar.max
        self.bar.bar_style = "success" if complete else "warning"
        self.label.value = html.escape(f"{len(result.rows)} memory size(s) measured. {restore_sentence(result)}")


def progress_reporter(function_name: str, sizes: list[int], invokes: int, enabled: bool = True) -> SilentProgress:
    """A widget in a Jupyter kernel, text lines elsewhere, nothing if not enabled."""
    if not enabled:
        return SilentProgress()
    if _in_kernel():
        return WidgetProgress(function_name, sizes, invokes)
    return TextProgress(function_name, sizes, invokes)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# --- the result ------------------------------------------------------------------------------------

def _table_html(result: PowerTuningResult) -> str:
    cheapest, fastest = result.cheapest, result.fastest
    head = "".join(f"<th style='padding:2px 8px;text-align:right'>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in result.rows:
        marks = []
        if cheapest is not None and row.memory_mb == cheapest.memory_mb:
            marks.append(f"<span style='color:{COLOURS['pass']};font-weight:700'>cheapest</span>")
        if fastest is not None and row.memory_mb == fastest.memory_mb:
            marks.append(f"<span style='color:{DURATION_COLOUR};font-weight:700'>fastest</span>")
        if row.error:
            marks.append(f"<span style='color:{COLOURS['fail']}'>{html.escape(row.error[:160])}</span>")
        tds = "".join(f"<td style='padding:2px 8px;text-align:right'>{html.escape(c)}</td>" for c in cells(row))
        body.append(f"<tr>{tds}<td style='padding:2px 8px'>{' '.join(marks)}</td></tr>")
    return (f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}<th></th></tr>"
            f"{''.join(body)}</table>")


def tuning_widget(result: PowerTuningResult) -> widgets.Widget:
    verdict = "<br>".join(html.escape(line) for line in verdict_lines(result) + [restore_sentence(result)])
    colour = COLOURS["pass"] if result.cheapest is not None else COLOURS["fail"]
    summary = widgets.HTML(card(heading(result), _table_html(result) + f"<p>{verdict}</p>", colour))
    parts: list[widgets.Widget] = [summary]
    if any(row.ok for row in result.rows):
        parts.append(widgets.Image(value=png_of(tuning_chart(result)), format="png"))
    return widgets.VBox(parts)


def tuning_chart(result: PowerTuningResult) -> ChartFigure:
    """Median duration (with min..max) and cost per million invokes, against memory on a log scale."""
    figure = new_chart(height_in=4.2)
    duration_axis = figure.add_subplot()
    cost_axis = duration_axis.twinx()
    measured = [row for row in result.rows if row.ok]
    memory = [row.memory_mb for row in measured]
    medians = [row.median_ms for row in measured]
    spread = [[row.median_ms - row.min_ms for row in measured], [row.max_ms - row.median_ms for row in measured]]
    duration_axis.errorbar(memory, medians, yerr=spread, color=DURATION_COLOUR, marker="o", capsize=3,
                           label="median duration (min..max)")
    cost_axis.plot(memory, [row.cost_per_million for row in measured], color=COST_COLOUR, marker="s",
                   label="cost per million invokes")
    if result.fastest is not None:
        duration_axis.plot([result.fastest.memory_mb], [result.fastest.median_ms], marker="*", markersize=16,
                           color=DURATION_COLOUR, linestyle="none", label=f"fastest: {result.fastest.memory_mb} MB")
    if result.cheapest is not None:
        cost_axis.plot([result.cheapest.memory_mb], [result.cheapest.cost_per_million], marker="o", markersize=14,
                       markerfacecolor="none", markeredgewidth=2, color=COLOURS["pass"], linestyle="none",
                       label=f"cheapest: {result.cheapest.memory_mb} MB")
    failed = [row.memory_mb for row in result.rows if not row.ok]
    if failed:
        duration_axis.plot(failed, [0] * len(failed), marker="x", markersize=10, color=COLOURS["fail"],
                           linestyle="none", label="failed")
    sizes = [row.memory_mb for row in result.rows]
    duration_axis.set_xscale("log", base=2)
    duration_axis.set_xticks(sizes, [str(size) for size in sizes])
    duration_axis.minorticks_off()
    duration_axis.set_xlabel("memory (MB)")
    duration_axis.set_ylabel("duration (ms)", color=DURATION_COLOUR)
    cost_axis.set_ylabel("$ per million invokes", color=COST_COLOUR)
    duration_axis.set_ylim(bottom=0)
    cost_axis.set_ylim(bottom=0)
    handles, labels = duration_axis.get_legend_handles_labels()
    more_handles, more_labels = cost_axis.get_legend_handles_labels()
    figure.legend(handles + more_handles, labels + more_labels, fontsize=8, loc="outside lower center", ncols=3)
    duration_axis.set_title(f"Power tuning {result.function_name} ({result.architecture})", fontsize=11)
    return figure


class PowerTuningView(ModelView):
    """The result as a notebook shows it: a table with the verdict and the chart; text without widgets.

    Its figures are the result's (.rows, .cheapest, .fastest, .row(), ...), so a learner reads
    numbers off what power_tune returned exactly as before the view and the model were apart."""

    _model_attribute = "result"

    def __init__(self, result: PowerTuningResult) -> None:
        self.result = result
        self._view: widgets.Widget | None = None

    def chart(self) -> ChartFigure:
        """A matplotlib Figure: median duration and cost per million invokes against memory."""
        return tuning_chart(self.result)

    def widget(self) -> widgets.Widget:
        if self._view is None:
            self._view = tuning_widget(self.result)
        return self._view

    def text(self) -> str:
        return self.result.text()
