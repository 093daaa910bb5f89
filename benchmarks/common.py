"""What the benchmarks share: a fresh cloud each, statistics, results, and the echo cloud.

Each benchmark starts its own local cloud with tests/support.py's ``start_cloud`` (the very
``python -m lambdalab serve`` a learner runs), in a home directory under benchmarks/results/
(git-ignored; not under /tmp, where the engine could not give environments a private /tmp).

Run as a script, this module is the *echo cloud* of bench_warm_invoke.py's floor::

    python benchmarks/common.py echo-cloud        # LAMBDALAB_HOME says where its home is

It is the same LocalCloud, serving the same way, except that moto's Invoke API handler is
replaced, after LocalCloud() has installed the engine's, by one that looks the function up
(so a wrong name is still a 404) and answers the payload back: the Lambda engine is never
reached. No library code changes; the replacement lives only in that process.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
sys.path.insert(0, str(ROOT / "tests"))

from support import TestCloud, create_function, create_role, make_zip, start_cloud  # noqa: E402,F401

__all__ = ["ECHO_FUNCTION_CODE", "Failure", "Home", "TestCloud", "TreeMemorySampler", "create_function", "create_role",
           "describe", "descendants", "make_zip", "ms", "percentile", "run_main", "setting_variables",
           "start_cloud", "start_echo_cloud", "summary", "wait_for_no_descendants", "write_results"]

ECHO_FUNCTION_CODE = "def handler(event, context):\n    return event\n"


class Failure(Exception):
    """Something functional went wrong: the benchmark exits non-zero (a slow figure never does)."""


# --- homes ----------------------------------------------------------------------------------

class Home:
    """A LAMBDALAB_HOME of one benchmark run under benchmarks/results/; removed unless the run failed."""

    def __init__(self, name: str) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f"home-{name}-", dir=RESULTS))

    def sub(self, name: str) -> Path:
        return self.path / name

    def cleanup(self, keep: bool) -> None:
        if keep:
            print(f"(kept {self.path} for inspection: cloud.log is there)")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# --- the echo cloud ---------------------------------------------------------------------------

def start_echo_cloud(home: Path, extra_env: dict[str, str] | None = None) -> TestCloud:
    """The echo cloud in a process of its own, started and awaited as start_cloud does."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAMBDALAB_HOME=str(home), **(extra_env or {}))
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(name, None)
    log = open(home / "cloud.log", "ab")
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "echo-cloud"], cwd=ROOT, env=env,
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    state_file = home / "cloud.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state_file.exists():
            try:
                state = json.loads(state_file.read_text())
            except ValueError:
                state = {}
            if state.get("pid") == process.pid:
                return TestCloud(home, process, state["endpoint"], state)
        if process.poll() is not None:
            raise RuntimeError(f"echo cloud exited: {(home / 'cloud.log').read_text()[-3000:]}")
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError("echo cloud did not start in 60 s")


def _serve_echo_cloud() -> None:
    from moto.awslambda.responses import LambdaResponse

    from lambdalab.cloud.server import LocalCloud

    cloud = LocalCloud(port=0)  # installs the engine's moto hooks; the echo replaces one of them below

    def echo_invoke(self: LambdaResponse) -> tuple[int, dict[str, str], bytes | str]:
        from urllib.parse import unquote

        function_name = unquote(self.path.rsplit("/", 2)[-2])
        self.backend.get_function(function_name, self._get_param("qualifier"))
        return 200, {"content-type": "application/json", "X-Amz-Executed-Version": "$LATEST", "status": "200"}, \
            self.body or b"{}"

    LambdaResponse.invoke = echo_invoke
    cloud.serve_forever(announce=False)


def setting_variables(assignments: list[str]) -> dict[str, str]:
    """["watch_interval_s=0.05"] -> {"LAMBDALAB_WATCH_INTERVAL_S": "0.05"}: settings for a cloud's environment."""
    from lambdalab.core.settings import Settings

    known = set(Settings.__dataclass_fields__)
    variables = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        name = name.strip().lower().removeprefix("lambdalab_")
        if not separator or name not in known:
            raise SystemExit(f"--setting {assignment!r}: expected NAME=VALUE with NAME one of {sorted(known)}")
        variables[f"LAMBDALAB_{name.upper()}"] = value
    return variables


# --- statistics and results -----------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 0.9),
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def write_results(name: str, document: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        **document,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# --- processes --------------------------------------------------------------------------------

def descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def wait_for_no_descendants(pid: int, timeout_s: float = 15.0) -> list[Any]:
    """Polls until pid has no descendant left (zombies count) or timeout_s passes; returns what is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = descendants(pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def describe(processes: list[Any]) -> str:
    import psutil

    parts = []
    for process in processes[:10]:
        try:
            parts.append(f"{process.pid} {process.status()} {' '.join(process.cmdline())[:80]}")
        except psutil.Error:
            parts.append(f"{process.pid} (gone)")
    return "; ".join(parts) + (" ..." if len(processes) > 10 else "")


class Sampler:
    """A measurement taken in a thread while a `with` block runs; subclasses say what _run samples."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        raise NotImplementedError


class TreeMemorySampler(Sampler):
    """Peak of the summed RSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        super().__init__(interval_s)
        self.pid = pid
        self.peak_processes = 0
        self.samples = 0
        self.seen: dict[int, float] = {}  # pid -> create_time of every descendant seen

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total, count = 0, 0
            try:
                family = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for process in family:
                try:
                    total += process.memory_info().rss
                    count += 1
                    if process.pid != self.pid and process.pid not in self.seen:
                        self.seen[process.pid] = process.create_time()
                except psutil.Error:
                    continue
            self.samples += 1
            if total > self.peak_bytes:
                self.peak_bytes, self.peak_processes = total, count
            self._stop.wait(self.interval_s)


# --- running a benchmark -------------------------------------------------------------------

def run_main(name: str, body: Callable[[Home], None]) -> int:
    """Runs body with a fresh home; Failure (or any error) is reported and makes the exit status 1."""
    home = Home(name)
    failed = True
    try:
        body(home)
        failed = False
        return 0
    except Failure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        home.cleanup(keep=failed)


if __name__ == "__main__":
    if sys.argv[1:] == ["echo-cloud"]:
        _serve_echo_cloud()
    else:
        sys.exit("usage: python benchmarks/common.py echo-cloud   (LAMBDALAB_HOME names its home)")


def still_alive(born: dict[int, float]) -> list[int]:
    """Which of the processes seen (pid -> create_time) still run: a pid reused since is not one of them."""
    import psutil

    alive = []
    for pid, created in born.items():
        try:
            if abs(psutil.Process(pid).create_time() - created) < 0.01:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive
