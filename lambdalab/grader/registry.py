"""Every check, loaded, and how one runs.

Checks are defined in ``lambdalab/grader/checks/labNN.py`` with ``register`` (kept in
:mod:`lambdalab.grader.catalogue`; importable from here too, as lessons have always done:
``from lambdalab.grader.registry import register, NotYet``). A check either returns a message
(passed) or raises ``NotYet``. Any other exception means the learner's work is not there yet,
never that the check crashed.

This module sits above the check modules: it loads them (``all_checks``), they never import it.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback

from . import checks
from .catalogue import Check, register, registered
from .probe import Probe
from .progress import Progress, progress_path
from .results import CheckResult, NotYet

__all__ = ["all_checks", "run_check", "load_progress", "register", "Check", "CheckResult", "NotYet"]


def _load_all() -> None:
    for module in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{module.name}")


def all_checks() -> dict[str, Check]:
    """Every check: those of every lab (loaded on first use) and any registered since."""
    _load_all()
    return registered()


def load_progress() -> Progress:
    """The learner's progress, summarised over every known check."""
    return Progress(progress_path(), tuple(all_checks()))


def run_check(check_id: str, record: bool = True) -> CheckResult:
    """Run one check against the local cloud and record its result; never raises for the learner's work."""
    known = all_checks()
    if check_id not in known:
        names = ", ".join(sorted(known))
        raise KeyError(f"There is no check called {check_id!r}. Known checks: {names}")
    try:
        probe = Probe.connect()
        message = known[check_id].function(probe) or "Well done."
        result = CheckResult(check_id, True, message)
    except NotYet as not_yet:
        result = CheckResult(check_id, False, not_yet.message, not_yet.hint)
    except NotImplementedError:
        result = CheckResult(check_id, False, "This exercise is not done yet: replace the "
                             "`raise NotImplementedError()` with your code and run the cell.",
                             "Look for `# YOUR CODE HERE` in the cells above.")
    except Exception as exc:  # the learner's resources are missing or broken: not yet, with the reason
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = CheckResult(check_id, False, f"Not yet: the check met an error while looking at your work ({last}).",
                             "Run every cell of the exercise above, in order, then run the check again.")
    if record:
        Progress(progress_path()).record(result)
    return result
