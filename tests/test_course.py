"""The course as files: labs generated from solutions, nothing committed with outputs,
and an unfilled lab whose checks say "not yet" instead of crashing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lambdalab.course.build import MarkerError, lab_from_solution, stale_labs, stub_solution

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_FOLDERS = ("notebooks", "labs", "solutions")


def all_notebooks() -> list[Path]:
    return sorted(p for folder in NOTEBOOK_FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


def test_labs_are_what_the_generator_makes_from_solutions():
    assert stale_labs(ROOT / "solutions", ROOT / "labs") == [], "run `make labs` and commit labs/"
    assert {p.name for p in (ROOT / "labs").glob("*.ipynb")} == {p.name for p in (ROOT / "solutions").glob("*.ipynb")}


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_carry_no_outputs_and_no_widget_state(path: Path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook.get("metadata", {})
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, cell["source"][:80]
    assert notebook["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lesson_has_the_shape_of_a_workshop(path: Path):
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]).lower()
    for part in ("objectives", "time", "key points", "clean-up"):
        assert part in text, f"{path.name} lacks a '{part}' section"


def test_a_solution_block_becomes_a_stub_at_its_indentation():
    source = "def handler(event, context):\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n"
    assert stub_solution(source) == "def handler(event, context):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def test_unpaired_markers_are_refused_with_the_place():
    with pytest.raises(MarkerError, match="cell 3"):
        stub_solution("### BEGIN SOLUTION\nx = 1\n", "lab.ipynb cell 3")


def test_the_generator_strips_outputs():
    solution = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION")])
    solution.cells[0].outputs = [nbformat.v4.new_output("stream", text="hi")]
    solution.cells[0].execution_count = 3
    lab = lab_from_solution(solution)
    assert lab.cells[0].outputs == [] and lab.cells[0].execution_count is None
    assert "raise NotImplementedError()" in lab.cells[0].source and "y = 2" not in lab.cells[0].source


@pytest.mark.parametrize("path", sorted((ROOT / "labs").glob("*.ipynb")), ids=lambda p: p.name)
def test_an_unfilled_lab_runs_and_its_checks_say_not_yet(path: Path, tmp_path: Path, monkeypatch):
    from lambdalab.client import control as client

    home = ROOT / ".pytest-tmp" / f"unfilled-{path.stem}-{os.getpid()}"
    monkeypatch.setenv("LAMBDALAB_HOME", str(home))
    notebook = nbformat.read(path, as_version=4)
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        client.stop(home)
    progress = json.loads((home / "progress.json").read_text())
    lab = path.name.split("-", 1)[0]
    checked = {check_id: result for check_id, result in progress.items() if check_id.startswith(lab + ".")}
    assert checked, "the lab runs no check"
    assert not any(result["passed"] for result in checked.values())
    assert all(result["message"] for result in checked.values())


def test_the_gradebook_records_every_check_of_a_submission(tmp_path: Path):
    """An instructor's `lambdalab grade`: each submission runs headless in a cloud of its own."""
    import csv
    import shutil
    import subprocess
    import sys

    submissions = ROOT / ".pytest-tmp" / f"submissions-{os.getpid()}"
    shutil.rmtree(submissions, ignore_errors=True)
    (submissions / "ada").mkdir(parents=True)
    (submissions / "bob").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "lab01-first-function.ipynb", submissions / "ada")
    shutil.copy(ROOT / "labs" / "lab01-first-function.ipynb", submissions / "bob")
    gradebook = tmp_path / "gradebook.csv"
    completed = subprocess.run([sys.executable, "-m", "lambdalab", "grade", str(submissions), "--output", str(gradebook)],
                               capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    rows = list(csv.DictReader(gradebook.open()))
    by_student: dict[str, dict[str, str]] = {}
    for row in rows:
        by_student.setdefault(row["submission"].split("/")[0], {})[row["check"]] = row["passed"]
    assert set(by_student) == {"ada", "bob"}
    assert by_student["ada"] and all(value == "True" for value in by_student["ada"].values())
    assert by_student["bob"] and not any(value == "True" for value in by_student["bob"].values())
    assert "grading" in completed.stdout


def test_binder_installs_the_same_pins_as_the_readme_commands():
    pins = lambda path: sorted(line for line in path.read_text().splitlines() if "==" in line)  # noqa: E731
    assert pins(ROOT / "binder" / "requirements.txt") == pins(ROOT / "requirements.txt")
    assert "set -e" in (ROOT / "binder" / "postBuild").read_text()
