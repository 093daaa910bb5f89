"""Memory of the whole course in one JupyterLab, as on Binder (1 to 2 GB for everything).

A JupyterLab server runs idle while every notebook and every lab solution is executed in
course order (00, 01, lab01, 02, lab02, ...), each in its own kernel, all sharing one local
cloud, as one learner's session would. A sampler sums the proportional set size (PSS: shared
pages counted once) of the server, the kernels, the cloud and every execution environment.
Target (issue 3): the peak stays under 1 GB; finished kernels and idle environments give
their memory back. Prints the peak and its ratio to the 1 GB budget.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Failure, Home, run_main, write_results  # noqa: E402

BUDGET_MB = 1024


def course_order() -> list[Path]:
    order = []
    for tutorial in sorted((ROOT / "notebooks").glob("*.ipynb")):
        order.append(tutorial)
        number = tutorial.name.split("-", 1)[0]
        order += sorted((ROOT / "solutions").glob(f"lab{number}-*.ipynb"))
    return order


class PssSampler:
    """Sums PSS over the given roots and their descendants, plus the cloud named by the state file."""

    def __init__(self, roots: list[int], home: Path, interval_s: float = 0.25) -> None:
        self.roots, self.home, self.interval_s = roots, home, interval_s
        self.peak_mb = 0.0
        self.peak_processes = 0
        self.last_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _family(self) -> list[psutil.Process]:
        from lambdalab.core import state

        pids = set(self.roots)
        current = state.read(self.home)
        if current is not None:
            pids.add(current.pid)
        family = []
        for pid in pids:
            try:
                root = psutil.Process(pid)
                family += [root] + root.children(recursive=True)
            except psutil.Error:
                continue
        return list({p.pid: p for p in family}.values())

    def sample(self) -> float:
        total = 0
        family = self._family()
        for process in family:
            try:
                total += process.memory_full_info().pss
            except psutil.Error:
                continue
        self.last_mb = total / 2**20
        if self.last_mb > self.peak_mb:
            self.peak_mb, self.peak_processes = self.last_mb, len(family)
        return self.last_mb

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval_s)

    def __enter__(self) -> "PssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def start_jupyterlab(home: Home) -> subprocess.Popen:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--IdentityProvider.token=", f"--ServerApp.root_dir={ROOT}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home.sub("jupyter.log"), "wb")
    return subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(home.sub("runtime"))))


def body(home: Home) -> None:
    from lambdalab.client import control as client

    cloud_home = home.sub("learner")
    os.environ["LAMBDALAB_HOME"] = str(cloud_home)
    server = start_jupyterlab(home)
    timings = {}
    try:
        time.sleep(3)
        with PssSampler([server.pid, os.getpid()], cloud_home) as sampler:
            for path in course_order():
                started = time.monotonic()
                notebook = nbformat.read(path, as_version=4)
                NotebookClient(notebook, timeout=600, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                timings[path.name] = round(time.monotonic() - started, 1)
                print(f"  {path.relative_to(ROOT)}: {timings[path.name]} s, now {sampler.sample():.0f} MB "
                      f"(peak {sampler.peak_mb:.0f} MB)", flush=True)
            after_kernels = sampler.sample()
        peak, processes = sampler.peak_mb, sampler.peak_processes
    finally:
        server.terminate()
        server.wait(timeout=30)
        client.stop(cloud_home)
    print(f"\nPeak PSS of JupyterLab + kernels + local cloud + environments: {peak:.0f} MB "
          f"({processes} processes); after the last kernel ended: {after_kernels:.0f} MB")
    print(f"Course memory: peak {peak:.0f} MB vs budget {BUDGET_MB} MB: ratio {peak / BUDGET_MB:.2f}")
    write_results("course_memory", {"peak_pss_mb": round(peak, 1), "peak_processes": processes,
                                    "after_kernels_mb": round(after_kernels, 1), "budget_mb": BUDGET_MB,
                                    "notebook_seconds": timings})
    if peak >= BUDGET_MB:
        raise Failure(f"the course peaked at {peak:.0f} MB, over the {BUDGET_MB} MB budget")


if __name__ == "__main__":
    sys.exit(run_main("course_memory", body))
