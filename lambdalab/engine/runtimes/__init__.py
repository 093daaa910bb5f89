"""Which runtime identifiers exist, and how each one is started in an environment.

A runtime here is what it is on AWS: a program that polls the Runtime API. Python ships in
the package (python_bootstrap.py, run on the local interpreter whatever 3.x the function
asks for); a custom runtime (provided.*) is the function's own ``bootstrap`` executable.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "launcher.py"
PYTHON_BOOTSTRAP = HERE / "python_bootstrap.py"

PYTHON_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
NODE_RUNTIMES = ("nodejs20.x", "nodejs22.x", "nodejs24.x")
JAVA_RUNTIMES = ("java11", "java17", "java21", "java25")
DOTNET_RUNTIMES = ("dotnet8", "dotnet10")
RUBY_RUNTIMES = ("ruby3.3", "ruby3.4")
CUSTOM_RUNTIMES = ("provided.al2023", "provided.al2")
SUPPORTED_RUNTIMES = (
    PYTHON_RUNTIMES + NODE_RUNTIMES + JAVA_RUNTIMES + DOTNET_RUNTIMES + RUBY_RUNTIMES + CUSTOM_RUNTIMES
)


@dataclass(frozen=True)
class RuntimeLaunch:
    """How to start a runtime: the command after the launcher, and what to say about it in the logs."""

    command: list[str]
    description: str


class RuntimeUnavailable(Exception):
    """The runtime exists on AWS but cannot start on this machine; the message says what to install."""


def launch_for(runtime: str, task_root: Path, opt_dir: Path | None = None) -> RuntimeLaunch:
    if runtime in PYTHON_RUNTIMES:
        local = f"CPython {platform.python_version()} ({sys.executable})"
        return RuntimeLaunch(["--python-bootstrap", str(PYTHON_BOOTSTRAP)], f"{runtime} runs on the local {local}")
    if runtime in CUSTOM_RUNTIMES:
        # As on AWS: the function's own bootstrap (/var/task), else one a layer brings (/opt).
        candidates = [task_root / "bootstrap"] + ([opt_dir / "bootstrap"] if opt_dir is not None else [])
        bootstrap = next((path for path in candidates if path.exists()), candidates[0])
        if not bootstrap.exists():
            raise RuntimeUnavailable(
                "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
            )
        if not os.access(bootstrap, os.X_OK):
            raise RuntimeUnavailable("the bootstrap file is not executable (chmod 755 it before zipping)")
        return RuntimeLaunch([str(bootstrap)], f"{runtime} runs the function's own bootstrap")
    raise RuntimeUnavailable(
        f"Lambda Lab does not run {runtime} functions yet; Python (python3.10 to python3.14) and "
        "custom runtimes (provided.al2023) run today"
    )


def interpreter_command() -> list[str]:
    """The launcher runs isolated (-I), without site (-S) and unbuffered (-u): fast and predictable."""
    return [sys.executable, "-I", "-S", "-u", str(LAUNCHER)]


# The packages AWS's Python runtime ships with: the SDK and what it needs, nothing else, so a
# function that imports another library fails here as it would on AWS unless the zip has it.
SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def sdk_site(target: Path) -> Path | None:
    """A directory of links to the SDK packages of this interpreter, put on the functions' sys.path."""
    import importlib.util

    target.mkdir(parents=True, exist_ok=True)
    for name in SDK_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = target / source.name
        if not link.exists():
            try:
                link.symlink_to(source)
            except FileExistsError:
                pass
    return target
