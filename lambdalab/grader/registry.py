"""Where checks are defined and how they run.

A check is a plain function registered under an id like "lab01.hello". It receives a
``Probe`` (boto3 clients for the local cloud and a few helpers) and either returns a
message (passed) or raises ``NotYet`` with what is missing and a hint. Any other exception
means the learner's work is not there yet, never that the check crashed.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from .progress import load_progress
from .probe import Probe


class NotYet(Exception):
    """The work does not pass yet: message says what is wrong, hint how to get on."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    passed: bool
    message: str
    hint: str = ""
    at: float = field(default_factory=time.time)

    def text(self) -> str:
        mark = "PASSED" if self.passed else "NOT YET"
        lines = [f"[{mark}] {self.check_id}: {self.message}"]
        if self.hint and not self.passed:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        from .views import CheckView

        return CheckView(self)._repr_mimebundle_(include, exclude)


@dataclass(frozen=True)
class Check:
    check_id: str
    title: str
    function: Callable[[Probe], str | None]


_REGISTRY: dict[str, Check] = {}


def register(check_id: str, title: str) -> Callable:
    """Decorator for check functions in lambdalab/grader/checks/."""

    def decorate(function: Callable[[Probe], str | None]) -> Callable:
        _REGISTRY[check_id] = Check(check_id, title, function)
        return function

    return decorate


def _load_all() -> None:
    from . import checks

    for module in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{module.name}")


def all_checks() -> dict[str, Check]:
    _load_all()
    return dict(_REGISTRY)


def run_check(check_id: str, record: bool = True) -> CheckResult:
    """Run one check against the local cloud and record its result; never raises for the learner's work."""
    checks = all_checks()
    if check_id not in checks:
        known = ", ".join(sorted(checks))
        raise KeyError(f"There is no check called {check_id!r}. Known checks: {known}")
    try:
        probe = Probe.connect()
        message = checks[check_id].function(probe) or "Well done."
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
        load_progress().record(result)
    return result


def check(check_id: str) -> CheckResult:
    """Run a check and show its result (a green or red card in JupyterLab, text elsewhere)."""
    return run_check(check_id)
