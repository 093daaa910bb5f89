"""Labs are generated from solutions: one source per exercise.

An author writes the completed exercise in solutions/, marking the learner's part of a code
cell between nbgrader's markers::

    ### BEGIN SOLUTION
    ...the answer...
    ### END SOLUTION

``lambdalab course build`` (or ``make labs``) writes labs/ with each marked block replaced by
a stub that raises NotImplementedError, and with every output removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
_MARKER = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION\s*$")


class MarkerError(ValueError):
    """A solution cell whose markers do not pair up; the message names the notebook and cell."""


def stub_solution(source: str, where: str = "") -> str:
    """Replace each marked block of a cell's source by the stub, at the block's indentation."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        match = _MARKER.match(line)
        if match and match.group(2) == "BEGIN":
            if inside:
                raise MarkerError(f"{where}: {BEGIN} inside another solution block")
            inside = True
            out.extend(match.group(1) + stub for stub in STUB)
        elif match and match.group(2) == "END":
            if not inside:
                raise MarkerError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """No outputs, no execution counts, no widget state: what is committed."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return notebook


def lab_from_solution(solution: nbformat.NotebookNode, name: str = "") -> nbformat.NotebookNode:
    lab = nbformat.from_dict(solution)
    for index, cell in enumerate(lab.cells):
        if cell.cell_type == "code" and BEGIN in cell.source:
            cell.source = stub_solution(cell.source, f"{name} cell {index}")
    return clean(lab)


def render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def build_labs(solutions: Path, labs: Path) -> list[Path]:
    """Write every lab from its solution; returns the files written."""
    labs.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(solutions.glob("*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        target = labs / source.name
        target.write_text(render(lab_from_solution(notebook, source.name)))
        written.append(target)
    return written


def stale_labs(solutions: Path, labs: Path) -> list[str]:
    """Labs that differ from what build_labs would write (missing ones included)."""
    stale = []
    for source in sorted(solutions.glob("*.ipynb")):
        expected = render(lab_from_solution(nbformat.read(source, as_version=4), source.name))
        target = labs / source.name
        if not target.exists() or target.read_text() != expected:
            stale.append(source.name)
    return stale
