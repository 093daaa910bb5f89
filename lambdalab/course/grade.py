"""``lambdalab grade FOLDER``: run each submitted lab headless against a cloud of its own and
write the gradebook as CSV (one row per submission and check)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def grade_folder(folder: Path, output: Path, timeout_s: int = 600, progress=print) -> int:
    submissions = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    rows = []
    for number, path in enumerate(submissions, 1):
        progress(f"[{number}/{len(submissions)}] grading {path.relative_to(folder)}")
        for check_id, result in _grade_one(path, timeout_s).items():
            rows.append({"submission": str(path.relative_to(folder)), "check": check_id,
                         "passed": result.get("passed", False), "message": result.get("message", "")})
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["submission", "check", "passed", "message"])
        writer.writeheader()
        writer.writerows(rows)
    progress(f"Wrote {len(rows)} results for {len(submissions)} submission(s) to {output}")
    return len(rows)


def _grade_one(path: Path, timeout_s: int) -> dict:
    """Each submission gets an empty home, so a cloud and progress file of its own."""
    from ..client import control as client

    with tempfile.TemporaryDirectory(prefix="lambdalab-grade-", dir=Path.home()) as home:
        previous = os.environ.get("LAMBDALAB_HOME")
        os.environ["LAMBDALAB_HOME"] = home
        try:
            notebook = nbformat.read(path, as_version=4)
            runner = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(path.parent)}})
            runner.execute()
            progress_file = Path(home) / "progress.json"
            return json.loads(progress_file.read_text()) if progress_file.exists() else {}
        finally:
            client.stop(Path(home))
            if previous is None:
                os.environ.pop("LAMBDALAB_HOME", None)
            else:
                os.environ["LAMBDALAB_HOME"] = previous
