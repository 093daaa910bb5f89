"""Checks: autograded exercises that look at the local cloud and say passed or not yet.

In a lab notebook::

    from lambdalab.grader import check
    check("lab01.hello")        # a green or red card, with a hint on demand

A check never shows its hidden tests; it says what is wrong and how to get on. Every result
is kept in the learner's progress file, so progress survives kernel restarts.
"""

from .progress import Progress, load_progress
from .registry import CheckResult, all_checks, check, run_check

__all__ = ["check", "run_check", "all_checks", "CheckResult", "Progress", "load_progress", "progress"]


def progress():
    """A summary of the learner's progress, per lab (a widget, with a plain-text form)."""
    from .views import ProgressView

    return ProgressView(load_progress())
