"""How check results and progress look: a card per check, a bar per lab.

The top of the grader: a view imports what it shows (results, progress) and the runner (for
"Check again"); nothing below imports a view. ``lambdalab.grader.check()`` wraps each result in
its CheckView, so the result itself stays a plain record.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..widgets.base import COLOURS, ModelView, Viewable, card, escape
from .progress import Progress
from .registry import run_check
from .results import CheckResult


class CheckView(ModelView):
    """Green or red; the hint on demand; "Check again" re-runs the check in the kernel.

    Its fields are the latest result's (.passed, .message, ...), so code that reads what
    ``lambdalab.check()`` returned reads it as it did when the result showed itself."""

    _model_attribute = "result"

    def __init__(self, result: CheckResult) -> None:
        self.result = result

    def text(self) -> str:
        return self.result.text()

    def widget(self) -> widgets.Widget:
        status = widgets.HTML(self._card_html())
        hint = widgets.HTML("")
        show_hint = widgets.Button(description="Show hint", icon="lightbulb-o",
                                   layout=widgets.Layout(display="none" if self.result.passed or not self.result.hint
                                                         else "inline-flex"))
        again = widgets.Button(description="Check again", icon="refresh")

        def on_hint(_: widgets.Button) -> None:
            hint.value = card("Hint", f"<div>{escape(self.result.hint)}</div>", COLOURS["muted"])

        def on_again(_: widgets.Button) -> None:
            again.disabled = True
            self.result = run_check(self.result.check_id)
            status.value = self._card_html()
            hint.value = ""
            show_hint.layout.display = "none" if self.result.passed or not self.result.hint else "inline-flex"
            again.disabled = False

        show_hint.on_click(on_hint)
        again.on_click(on_again)
        return widgets.VBox([status, widgets.HBox([show_hint, again]), hint])

    def _card_html(self) -> str:
        passed = self.result.passed
        title = f"{'Passed' if passed else 'Not yet'}: {self.result.check_id}"
        return card(title, f"<div>{escape(self.result.message)}</div>", COLOURS["pass" if passed else "fail"])


class ProgressView(Viewable):
    """A bar per lab and a mark per check; its text form is the progress file's summary."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def text(self) -> str:
        return self.progress.text()

    def widget(self) -> widgets.Widget:
        rows = []
        for lab, checks in self.progress.by_lab().items():
            done = sum(checks.values())
            bar = widgets.IntProgress(value=done, min=0, max=max(len(checks), 1),
                                      bar_style="success" if done == len(checks) else "info")
            marks = " ".join(("✅" if passed else "⬜") + f" {escape(check_id.split('.', 1)[1])}"
                             for check_id, passed in checks.items())
            rows.append(widgets.HBox([widgets.HTML(f"<b>{escape(lab)}</b>", layout=widgets.Layout(width="80px")),
                                      bar, widgets.HTML(f"{done}/{len(checks)} &nbsp; {marks}")]))
        return widgets.VBox(rows or [widgets.HTML("No checks yet.")])
