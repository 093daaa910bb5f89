"""Checks: autograded exercises that look at the local cloud and say passed or not yet.

In a lab notebook::

    from lambdalab.grader import check
    check("lab01.hello")        # a green or red card, with a hint on demand

A check never shows its hidden tests; it says what is wrong and how to get on. Every result
is kept in the learner's progress file, so progress survives kernel restarts.

Inside, imports go one way: views -> registry (loads and runs) -> checks/labNN -> catalogue,
probe -> progress, results. The views (ipywidgets) are imported on first display only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .progress import Progress
from .registry import all_checks, load_progress, run_check
from .results import CheckResult, NotYet

if TYPE_CHECKING:
    from .views import CheckView, ProgressView

__all__ = ["check", "run_check", "all_checks", "CheckResult", "NotYet", "Progress", "load_progress", "progress"]


def check(check_id: str) -> CheckView:
    """Run a check and show its result (a green or red card in JupyterLab, text elsewhere)."""
    from .views import CheckView

    return CheckView(run_check(check_id))


def progress() -> ProgressView:
    """A summary of the learner's progress, per lab (a widget, with a plain-text form)."""
    from .views import ProgressView

    return ProgressView(load_progress())
