"""Which runtime identifiers exist, and how each one is started in an environment.

A runtime here is what it is on AWS: a program that polls the Runtime API. Python, Node.js,
Ruby and Java runtimes ship in the package (python_bootstrap.py, node/bootstrap.js,
ruby/bootstrap.rb, java/), each run on the machine's own interpreter whatever version the
function asks for (the logs' INIT_START line says which); a custom runtime (provided.*, Go
among them) is the function's own ``bootstrap`` executable. toolchains.py finds the
interpreters; a missing one is reported at Invoke, with what to install.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from ... import toolchains

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "launcher.py"
PYTHON_BOOTSTRAP = HERE / "python_bootstrap.py"
NODE_BOOTSTRAP = HERE / "node" / "bootstrap.js"
RUBY_BOOTSTRAP = HERE / "ruby" / "bootstrap.rb"

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

    error_type = "Runtime.InvalidEntrypoint"


class NotRunnableHere(RuntimeUnavailable):
    """AWS would run it, this machine cannot (never the case on AWS, so an error type of our own)."""

    error_type = "Runtime.Unavailable"


class ToolchainMissing(NotRunnableHere):
    """The language the runtime needs is not installed here; the message says what to install."""


def launch_for(runtime: str, task_root: Path, opt_dir: Path | None = None, memory_mb: int = 128,
               cache_dir: Path | None = None) -> RuntimeLaunch:
    """The command that starts runtime in an environment; raises RuntimeUnavailable with the reason."""
    if not runtime:  # PackageType=Image: the image names its own runtime
        raise NotRunnableHere(
            "Lambda Lab does not run container images (PackageType=Image): it has no container engine, by design "
            "(no Docker). The function was created, and its configuration is real; to run the same code here, "
            "deploy it as a .zip package with the runtime the image is built from."
        )
    if runtime in PYTHON_RUNTIMES:
        local = f"CPython {platform.python_version()} ({sys.executable})"
        return RuntimeLaunch(["--python-bootstrap", str(PYTHON_BOOTSTRAP)], f"{runtime} runs on the local {local}")
    if runtime in CUSTOM_RUNTIMES:
        return _custom_launch(runtime, task_root, opt_dir)
    if runtime in NODE_RUNTIMES:
        return _node_launch(runtime, task_root, opt_dir, memory_mb)
    if runtime in RUBY_RUNTIMES:
        return _ruby_launch(runtime, task_root, opt_dir)
    if runtime in JAVA_RUNTIMES:
        return _java_launch(runtime, task_root, opt_dir, memory_mb, cache_dir or task_root.parent / ".runtime-cache")
    if runtime in DOTNET_RUNTIMES:
        raise ToolchainMissing(
            f"Lambda Lab cannot run {runtime} functions: it has no .NET runtime of its own, because no .NET SDK "
            "could be installed from the package registries it is built from (Debian's packages, PyPI, npm). "
            "The same code runs here as a custom runtime: publish it as a self-contained 'bootstrap' "
            "executable and deploy it with Runtime=provided.al2023."
        )
    raise RuntimeUnavailable(f"Lambda Lab does not know the runtime {runtime}")


def _with_environment(variables: dict[str, str], command: list[str]) -> list[str]:
    """The launcher sets these variables (each --setenv NAME=VALUE) before it becomes the runtime."""
    prefix: list[str] = []
    for name, value in variables.items():
        prefix += ["--setenv", f"{name}={value}"]
    return prefix + command


def _custom_launch(runtime: str, task_root: Path, opt_dir: Path | None) -> RuntimeLaunch:
    # As on AWS: the function's own bootstrap (/var/task), else one a layer brings (/opt).
    candidates = [task_root / "bootstrap"] + ([opt_dir / "bootstrap"] if opt_dir is not None else [])
    bootstrap = next((path for path in candidates if path.exists()), candidates[0])
    if not bootstrap.exists():
        raise RuntimeUnavailable("Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")
    if not os.access(bootstrap, os.X_OK):
        raise RuntimeUnavailable("the bootstrap file is not executable (chmod 755 it before zipping)")
    return RuntimeLaunch([str(bootstrap)], f"{runtime} runs the function's own bootstrap")


def _major(runtime: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in runtime).split()
    return int(digits[0]) if digits else 0


def _node_launch(runtime: str, task_root: Path, opt_dir: Path | None, memory_mb: int) -> RuntimeLaunch:
    node = toolchains.find_node(_major(runtime))
    if node is None:
        raise ToolchainMissing(toolchains.missing_message("Node.js", runtime))
    opt = str(opt_dir) if opt_dir is not None else "/opt"
    node_path = f"{opt}/nodejs/node{_major(runtime)}/node_modules:{opt}/nodejs/node_modules:{task_root}"
    # AWS's Node.js bootstrap sizes V8's heap from the function's memory: 90% old space, 5% semi-space.
    new_space = max(memory_mb // 10, 2)
    command = [str(node.executable), f"--max-semi-space-size={max(new_space // 2, 1)}",
               f"--max-old-space-size={memory_mb - new_space}", str(NODE_BOOTSTRAP)]
    return RuntimeLaunch(_with_environment({"NODE_PATH": node_path}, command),
                         f"{runtime} runs on the local {node.describe()}")


def _ruby_launch(runtime: str, task_root: Path, opt_dir: Path | None) -> RuntimeLaunch:
    ruby = toolchains.find_ruby()
    if ruby is None:
        raise ToolchainMissing(toolchains.missing_message("Ruby", runtime))
    opt = str(opt_dir) if opt_dir is not None else "/opt"
    version = runtime.replace("ruby", "") + ".0"
    variables = {
        "RUBYLIB": f"{task_root}:{opt}/ruby/lib",
        "GEM_PATH": f"{task_root}/vendor/bundle/ruby/{version}:{opt}/ruby/gems/{version}",
    }
    return RuntimeLaunch(_with_environment(variables, [str(ruby.executable), str(RUBY_BOOTSTRAP)]),
                         f"{runtime} runs on the local {ruby.describe()}")


def _java_launch(runtime: str, task_root: Path, opt_dir: Path | None, memory_mb: int, cache_dir: Path) -> RuntimeLaunch:
    from ...toolchains.java_build import compiled_runtime

    java = toolchains.find_java()
    if java is None:
        raise ToolchainMissing(toolchains.missing_message("Java", runtime))
    bootstrap_classes = compiled_runtime(cache_dir)
    if bootstrap_classes is None:
        raise ToolchainMissing(toolchains.missing_message("javac", runtime))
    classpath = [str(bootstrap_classes), str(task_root), f"{task_root}/lib/*"]
    if opt_dir is not None:
        classpath.append(f"{opt_dir}/java/lib/*")
    # One JVM per environment, started for a short life: C1 only, the class-data archive, the serial
    # collector (what the JVM picks by itself on Lambda's small machines) and a heap that leaves
    # room for the JVM's own memory inside the function's memory size.
    heap_mb = max(int(memory_mb * 0.85) - 32, 16)
    command = [str(java.executable), "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
               "-XX:+UseSerialGC", f"-Xmx{heap_mb}m", "-Xss512k", "-XX:-UsePerfData", "-Djava.io.tmpdir={TMPDIR}",
               "-cp", ":".join(classpath), "lambdalab.runtime.Bootstrap"]
    return RuntimeLaunch(command, f"{runtime} runs on the local {java.describe()}")


def interpreter_command() -> list[str]:
    """The launcher runs isolated (-I), without site (-S) and unbuffered (-u): fast and predictable."""
    return [sys.executable, "-I", "-S", "-u", str(LAUNCHER)]


# The packages AWS's Python runtime ships with: the SDK and what it needs, nothing else, so a
# function that imports another library fails here as it would on AWS unless the zip has it.
SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def sdk_site(target: Path) -> Path | None:
    """A directory of links to the SDK packages of this interpreter, put on the functions' sys.path.

    Called once as the engine starts (target is <workspace>/runtime-site): the moment to start
    compiling the Java runtime in the background, next to it in <workspace>/runtime-cache.
    """
    import importlib.util

    from ...toolchains.java_build import compile_in_background

    compile_in_background(target.parent / "runtime-cache")  # does nothing where there is no javac

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
