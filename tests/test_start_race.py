"""Concurrent start() calls for one home converge on one cloud (client/control.py's start lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from support import ROOT

STARTER = """
import json, lambdalab
from lambdalab.client import control
current = control.ensure_running()
print(json.dumps({"endpoint": current.endpoint, "pid": current.pid}))
"""


def test_three_processes_starting_at_once_get_one_cloud(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = dict(os.environ, LAMBDALAB_HOME=str(home), PYTHONPATH=str(ROOT))
    starters = [subprocess.Popen([sys.executable, "-c", STARTER], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    answers = []
    for starter in starters:
        out, err = starter.communicate(timeout=120)
        assert starter.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    try:
        assert len({answer["endpoint"] for answer in answers}) == 1
        assert len({answer["pid"] for answer in answers}) == 1
        assert psutil.Process(answers[0]["pid"]).is_running()
        clouds = [p for p in psutil.process_iter(["cmdline", "environ"])
                  if "serve" in (p.info["cmdline"] or []) and (p.info["environ"] or {}).get("LAMBDALAB_HOME") == str(home)]
        assert [p.pid for p in clouds] == [answers[0]["pid"]]
    finally:
        from lambdalab.client import control

        control.stop(home)
