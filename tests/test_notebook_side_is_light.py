"""The notebook side imports none of the server: no moto, no engine, triggers, AWS adapters or cloud.

A learner's kernel talks to the local cloud through lambdalab.client (boto3 and the cloud's
/lambdalab/ requests); the cloud runs in a process of its own. Importing the server into the
kernel would be slow (moto is large), and a sign that a check or a view reads the cloud's
memory instead of asking it, which only works by accident (it would read an empty copy).
Each import happens in a fresh interpreter, so nothing an earlier test imported can hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVER = ("moto", "lambdalab.engine", "lambdalab.triggers", "lambdalab.aws", "lambdalab.cloud")

IMPORT_THE_NOTEBOOK_SIDE = r"""
import importlib, json, pkgutil, sys

import lambdalab

imported = ["lambdalab"]
for name in ("lambdalab.clock", "lambdalab.tuning"):
    importlib.import_module(name)
    imported.append(name)
for package_name in ("lambdalab.widgets", "lambdalab.grader", "lambdalab.client", "lambdalab.course",
                     "lambdalab.records"):
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for module in pkgutil.walk_packages(package.__path__, package_name + "."):
        importlib.import_module(module.name)
        imported.append(module.name)

# What a notebook reaches through the package: the lazy names, and every lab's checks.
for attribute in ("clock", "bill", "event_flow", "power_tune", "pricing_calculator"):
    getattr(lambdalab, attribute)
from lambdalab.grader import all_checks
checks = sorted(all_checks())

print(json.dumps({"imported": imported, "checks": checks, "modules": sorted(sys.modules)}))
"""


def _is_server(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in SERVER)


def test_importing_every_notebook_side_module_brings_in_no_server_module():
    done = subprocess.run([sys.executable, "-c", IMPORT_THE_NOTEBOOK_SIDE], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    imported = report["imported"]
    # the walk really covered the notebook side, down to every lab's checks
    for name in ("lambdalab.widgets.bill", "lambdalab.widgets.power_tuning", "lambdalab.grader.views",
                 "lambdalab.grader.checks.lab00", "lambdalab.grader.checks.lab07", "lambdalab.client.control",
                 "lambdalab.client.connection", "lambdalab.course.grade", "lambdalab.records.bill",
                 "lambdalab.records.logs", "lambdalab.records.meter", "lambdalab.records.pricing"):
        assert name in imported
    assert any(check_id.startswith("lab06.") for check_id in report["checks"])
    server = [module for module in report["modules"] if _is_server(module)]
    assert server == [], f"the notebook side imported server modules: {server}"
