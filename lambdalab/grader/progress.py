"""The learner's progress: every check's latest result, in a file that survives restarts."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.state import home

if TYPE_CHECKING:
    from .registry import CheckResult

_lock = threading.Lock()


class Progress:
    def __init__(self, path: Path) -> None:
        self.path = path

    def results(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def record(self, result: "CheckResult") -> None:
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
        from .registry import all_checks

        results = self.results()
        labs: dict[str, dict[str, bool]] = {}
        for check_id in sorted(all_checks()):
            lab = check_id.split(".", 1)[0]
            labs.setdefault(lab, {})[check_id] = bool(results.get(check_id, {}).get("passed"))
        return labs

    def text(self) -> str:
        lines = []
        for lab, checks in self.by_lab().items():
            done = sum(checks.values())
            lines.append(f"{lab}: {done}/{len(checks)} checks passed")
            for check_id, passed in checks.items():
                lines.append(f"  [{'x' if passed else ' '}] {check_id}")
        return "\n".join(lines) or "No checks yet."


def load_progress() -> Progress:
    return Progress(home() / "progress.json")
