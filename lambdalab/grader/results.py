"""What a check says: passed with a message, or not yet with what is missing and a hint.

The bottom of the grader: plain records, no widgets and no cloud, so that checks, the progress
file and the views can all use them without importing one another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class NotYet(Exception):
    """The work does not pass yet: message says what is wrong, hint how to get on."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class CheckResult:
    """One run of one check. Its fields are what the progress file keeps (``asdict``), so they are
    plain values; the card it shows as in JupyterLab is :class:`lambdalab.grader.views.CheckView`."""

    check_id: str
    passed: bool
    message: str
    hint: str = ""
    at: float = field(default_factory=time.time)

    def text(self) -> str:
        """The plain-text form: what a notebook run headless (tests, grading) shows for a check."""
        mark = "PASSED" if self.passed else "NOT YET"
        lines = [f"[{mark}] {self.check_id}: {self.message}"]
        if self.hint and not self.passed:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)
