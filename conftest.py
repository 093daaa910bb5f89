"""Notebook tests (nbval): every notebook and solution runs against a fresh cloud of its own.

Before the first cell of a notebook runs (nbval starts the kernel then), LAMBDALAB_HOME is
pointed at an empty directory, so the notebook's ``lambdalab.start()`` starts a new cloud
there; after its last cell, that cloud is stopped. A learner's own cloud is never touched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_homes: dict[str, str] = {}


def _is_notebook_cell(item: pytest.Item) -> bool:
    return item.nodeid.split("::", 1)[0].endswith(".ipynb")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook_cell(item):
        return
    notebook = item.nodeid.split("::", 1)[0]
    if notebook not in _homes:
        base = ROOT / ".pytest-tmp" / "notebook-homes"
        base.mkdir(parents=True, exist_ok=True)
        _homes[notebook] = tempfile.mkdtemp(prefix=Path(notebook).stem + "-", dir=base)
    os.environ["LAMBDALAB_HOME"] = _homes[notebook]
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        os.environ.pop(name, None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if not _is_notebook_cell(item):
        return
    notebook = item.nodeid.split("::", 1)[0]
    if nextitem is None or nextitem.nodeid.split("::", 1)[0] != notebook:
        from lambdalab.client import control as client

        home = _homes.get(notebook)
        if home:
            client.stop(Path(home))
        if notebook.startswith("solutions/") and home:
            _every_check_passed(Path(notebook).name.split("-", 1)[0], Path(home))


def _every_check_passed(lab: str, home: Path) -> None:
    """A solution is only a solution if every check of its lab goes green on it."""
    from lambdalab.grader.registry import all_checks

    try:
        results = json.loads((home / "progress.json").read_text())
    except (OSError, ValueError):
        results = {}
    expected = sorted(check_id for check_id in all_checks() if check_id.startswith(lab + "."))
    failing = [f"{check_id}: {results.get(check_id, {}).get('message', 'never run')}"
               for check_id in expected if not results.get(check_id, {}).get("passed")]
    assert not failing, "checks not passed by the solution:\n" + "\n".join(failing)
