"""The learner's progress: every check's latest result, in a file that survives restarts."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.state import home
from .results import CheckResult

_lock = threading.Lock()


def progress_path() -> Path:
    """The progress file of this home (LAMBDALAB_HOME): a grading run gets a home, so a file, of its own."""
    return home() / "progress.json"


@dataclass(frozen=True)
class Progress:
    """The progress file, and the checks a summary of it goes over.

    check_ids are every known check (given by :func:`lambdalab.grader.registry.load_progress`,
    which loads them), so that a check not tried yet shows as not done; this module does not
    load the checks itself, since the check modules sit above it."""

    path: Path
    check_ids: tuple[str, ...] = ()

    def results(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def record(self, result: CheckResult) -> None:
        with _lock:
            results = self.results()
            previous = results.get(result.check_id, {})
            entry = asdict(result)
            entry["ever_passed"] = bool(previous.get("ever_passed")) or result.passed
            results[result.check_id] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(results, indent=2, sort_keys=True))
            os.replace(temporary, self.path)

    def by_lab(self) -> dict[str, dict[str, bool]]:
        """{lab: {check id: passed}} over every known check, passed or not yet tried."""
        return _by_lab(self.results(), self.check_ids)

    def text(self) -> str:
        lines = []
        for lab, checks in self.by_lab().items():
            done = sum(checks.values())
            lines.append(f"{lab}: {done}/{len(checks)} checks passed")
            for check_id, passed in checks.items():
                lines.append(f"  [{'x' if passed else ' '}] {check_id}")
        return "\n".join(lines) or "No checks yet."


def _by_lab(results: dict[str, dict], check_ids: Iterable[str]) -> dict[str, dict[str, bool]]:
    labs: dict[str, dict[str, bool]] = {}
    for check_id in sorted(check_ids):
        lab = check_id.split(".", 1)[0]
        labs.setdefault(lab, {})[check_id] = bool(results.get(check_id, {}).get("passed"))
    return labs
