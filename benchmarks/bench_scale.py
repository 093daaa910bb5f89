"""Scale: 1,000 concurrent execution environments (the default account limit) alive at once, all answering.

--invokes threads (default 1,000, the account's concurrency limit) each invoke, once, a 128 MB Python
function that says it has started (it creates a file named after its environment in a "started"
folder of the benchmark's home) and then waits, polling every 0.5 s, for a "release" file. So all of
them are executing at the same time, each in an environment of its own, until the benchmark has seen
every one start and measured the plateau; then it creates the release file and every invoke answers.

Measured:
- the ramp: how long until all had started, and the cold-start rate (environments started per
  second) over the ramp, overall and per 10 % of it, so a slowdown as environments pile up shows;
- the plateau: the PSS (shared pages split between their users: the real memory) and RSS of the cloud
  and of all environments, the cloud's threads and open files; peak RSS sampled through the whole run;
- the end: every invoke's answer (success, distinct environments and pids), failures grouped by kind,
  then after POST /lambdalab/reset no descendant of the cloud, and after the cloud stops none of the
  environments' processes alive (leaks).

If the plateau is not reached (a throttle, an error, --ramp-timeout passed), the report says which
limit was hit and how many environments were alive, and the run exits non-zero.

The client: one boto3 client with a pool of --invokes connections shared by --invokes threads (a
thousand clients would cost the benchmark itself gigabytes). Settings of the benchmark's own cloud
(never a learner's) go through --setting NAME=VALUE; the default run needs none.

RATIO = environments at once / the account's concurrency limit (1.0: the limit itself was reached).

    .venv/bin/python benchmarks/bench_scale.py [--invokes 1000] [--memory 128] [--ramp-timeout 900]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import psutil
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_concurrency import EXCEPTION_LINE, pss_bytes  # noqa: E402
from common import (still_alive, Failure, Home, TreeMemorySampler, create_function, create_role, describe, run_main,  # noqa: E402
                    setting_variables, start_cloud, wait_for_no_descendants, write_results)

NAME = "scale"
HANDLER = """\
import os
import time


def handler(event, context):
    environment = os.environ["LAMBDALAB_ENVIRONMENT_ID"]
    open(os.path.join(event["started"], environment), "w").close()
    deadline = time.time() + event["wait_at_most"]
    while not os.path.exists(event["release"]) and time.time() < deadline:
        time.sleep(0.5)
    return {"environment": environment, "pid": os.getpid(), "released": os.path.exists(event["release"])}
"""


def raise_open_files_limit() -> None:
    """A thousand connections need more than the usual 1,024 descriptors in this process too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def environment_pids(cloud_pid: int) -> list[int]:
    """Live (not zombie) descendants of the cloud."""
    pids = []
    for process in psutil.Process(cloud_pid).children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                pids.append(process.pid)
        except psutil.Error:
            continue
    return pids


LIMIT_SIGNS = {  # what a failure says -> which limit of the machine or the account was hit
    "Too many open files": "the cloud's open-files limit (RLIMIT_NOFILE: raise the hard limit, ulimit -Hn)",
    "TooManyRequestsException": "the account's concurrency limit (LAMBDALAB_ACCOUNT_CONCURRENCY)",
    "Cannot allocate memory": "the machine's memory",
    "MemoryError": "the machine's memory",
    "Resource temporarily unavailable": "processes or threads (ulimit -u, a cgroup's pids.max, kernel.threads-max)",
    "can't start new thread": "threads (ulimit -u, a cgroup's pids.max, kernel.threads-max)",
}


def limits_hit(texts: list[str]) -> list[str]:
    """The limits that errors and the cloud's tracebacks name, most frequent first."""
    found = collections.Counter()
    for text in texts:
        for sign, limit in LIMIT_SIGNS.items():
            if sign in text:
                found[limit] += 1
    return [limit for limit, _ in found.most_common()]


def admin_or_none(cloud: object, method: str, path: str) -> object:
    """One of the cloud's own requests, or None when the cloud no longer answers (a limit was hit)."""
    try:
        return cloud.admin(method, path)
    except OSError:
        return None


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return total


def ramp_steps(started_at: list[float], ramp_began: float) -> list[dict]:
    """Environments per second in each tenth of the ramp (by count), to show a slowdown as they pile up."""
    ordered = sorted(started_at)
    steps, tenth = [], max(1, len(ordered) // 10)
    previous_count, previous_time = 0, ramp_began
    for index in range(tenth - 1, len(ordered), tenth):
        count, moment = index + 1, ordered[index]
        rate = (count - previous_count) / max(moment - previous_time, 1e-6)
        steps.append({"environments": count, "at_s": round(moment - ramp_began, 2), "per_s": round(rate, 1)})
        previous_count, previous_time = count, moment
    return steps


class Plateau:
    """What the cloud looked like with every environment alive at once (zeros if the cloud is gone)."""

    def __init__(self, cloud_pid: int, cpu_window_s: float = 5.0) -> None:
        self.cloud_cpu_share = 0.0
        self.environment_pids: list[int] = []
        self.cloud_pss = self.cloud_rss = self.environments_pss = self.environments_rss = 0
        self.cloud_threads = self.cloud_fds = self.cloud_open_files_limit = 0
        try:
            self._measure(cloud_pid, cpu_window_s)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass

    def _measure(self, cloud_pid: int, cpu_window_s: float) -> None:
        cloud = psutil.Process(cloud_pid)
        before = cloud.cpu_times()
        time.sleep(cpu_window_s)  # what keeping them all busy costs the cloud: watcher, CPU share, Runtime APIs
        after = cloud.cpu_times()
        self.cloud_cpu_share = ((after.user + after.system) - (before.user + before.system)) / cpu_window_s
        self.environment_pids = [pid for pid in environment_pids(cloud_pid)]
        self.cloud_pss = pss_bytes([cloud_pid])
        self.cloud_rss = cloud.memory_info().rss
        self.environments_pss = pss_bytes(self.environment_pids)
        self.environments_rss = rss_bytes(self.environment_pids)
        self.cloud_threads = cloud.num_threads()
        self.cloud_fds = cloud.num_fds()
        self.cloud_open_files_limit = resource.prlimit(cloud_pid, resource.RLIMIT_NOFILE)[0]

    def as_dict(self) -> dict:
        count = max(1, len(self.environment_pids))
        return {
            "environment_processes": len(self.environment_pids),
            "cloud_pss_mb": round(self.cloud_pss / 2**20, 1), "cloud_rss_mb": round(self.cloud_rss / 2**20, 1),
            "environments_pss_mb": round(self.environments_pss / 2**20, 1),
            "environments_rss_mb": round(self.environments_rss / 2**20, 1),
            "pss_per_environment_mb": round(self.environments_pss / count / 2**20, 2),
            "total_pss_mb": round((self.cloud_pss + self.environments_pss) / 2**20, 1),
            "cloud_threads": self.cloud_threads, "cloud_fds": self.cloud_fds,
            "cloud_open_files_soft_limit": self.cloud_open_files_limit,
            "cloud_cpu_while_holding": round(self.cloud_cpu_share, 3),
        }


def run(home: Home, invokes: int, memory_mb: int, ramp_timeout_s: float, settings: dict[str, str]) -> None:
    raise_open_files_limit()
    cloud = start_cloud(home.sub("cloud"), settings)
    cloud_pid = cloud.process.pid
    started_dir, release = home.sub("started"), home.sub("release")
    started_dir.mkdir()
    results: list[dict | None] = [None] * invokes
    plateau: Plateau | None = None
    problems: list[str] = []
    born: dict[int, float] = {}
    try:
        role = create_role(cloud.client("iam"))
        create_function(cloud.client("lambda"), "holder", HANDLER, role, MemorySize=memory_mb, Timeout=900)
        limit = cloud.client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
        client = cloud.session().client("lambda", endpoint_url=cloud.endpoint, config=Config(
            retries={"max_attempts": 0}, read_timeout=ramp_timeout_s + 300, connect_timeout=300,
            max_pool_connections=invokes))
        payload = json.dumps({"started": str(started_dir), "release": str(release),
                              "wait_at_most": ramp_timeout_s + 120}).encode()
        barrier = threading.Barrier(invokes + 1)

        def worker(number: int) -> None:
            barrier.wait()
            try:
                response = client.invoke(FunctionName="holder", Payload=payload)
                body = json.loads(response["Payload"].read())
                if response.get("FunctionError"):
                    results[number] = {"error": f"{body.get('errorType')}: {str(body.get('errorMessage'))[:160]}"}
                else:
                    results[number] = body
            except Exception as exc:  # throttles and connection errors: a failure to report, by kind
                results[number] = {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}

        threads = [threading.Thread(target=worker, args=(n,), name=f"invoke-{n}", daemon=True)
                   for n in range(invokes)]
        for thread in threads:
            thread.start()
        cloud_process = psutil.Process(cloud_pid)
        cpu_before = cloud_process.cpu_times()
        with TreeMemorySampler(cloud_pid, interval_s=1.0) as sampler:
            barrier.wait()
            ramp_began = time.time()
            seen: dict[str, float] = {}
            last_report = time.monotonic()
            while len(seen) < invokes and time.time() - ramp_began < ramp_timeout_s:
                for entry in os.scandir(started_dir):
                    if entry.name not in seen:
                        seen[entry.name] = entry.stat().st_mtime
                finished = sum(1 for result in results if result is not None)
                if finished:  # an invoke that answers before the release failed: no plateau to wait for
                    problems.append(f"{finished} invokes ended before the release")
                    break
                if time.monotonic() - last_report >= 10:
                    last_report = time.monotonic()
                    print(f"  {time.time() - ramp_began:6.1f} s: {len(seen)} environments started", flush=True)
                time.sleep(0.2)
            ramp_s = (max(seen.values()) - ramp_began) if seen else 0.0
            reached = len(seen)
            print(f"  plateau: {reached} environments executing at once; measuring", flush=True)
            plateau = Plateau(cloud_pid)
            born = {}
            for pid in plateau.environment_pids:
                try:
                    born[pid] = psutil.Process(pid).create_time()
                except psutil.Error:
                    continue
            status = admin_or_none(cloud, "GET", "/lambdalab/status")
            release.touch()
            released_at = time.monotonic()
            for thread in threads:
                thread.join(timeout=max(1.0, ramp_timeout_s + 300 - (time.monotonic() - released_at)))
            answers_s = time.monotonic() - released_at
        cpu_after = cloud_process.cpu_times() if cloud.process.poll() is None else cpu_before
        if cloud.process.poll() is not None:
            problems.append(f"the cloud exited (status {cloud.process.returncode}) during the run")
        if admin_or_none(cloud, "POST", "/lambdalab/reset") is None:
            problems.append("the cloud did not answer POST /lambdalab/reset (see its log's tracebacks)")
        left_after_reset = wait_for_no_descendants(cloud_pid, timeout_s=60)
    finally:
        release.touch()
        cloud.stop()
    alive_after_stop = still_alive(born)

    answered = [r for r in results if r is not None and "error" not in r]
    errors = collections.Counter(r["error"] if r is not None else "no answer" for r in results
                                 if r is None or "error" in r)
    distinct = {r["environment"] for r in answered}
    log_text = (home.sub("cloud") / "cloud.log").read_text(errors="replace")
    traceback_kinds = collections.Counter()
    for block in log_text.split("Traceback (most recent call last)")[1:]:
        match = EXCEPTION_LINE.search(block)
        traceback_kinds[match.group(0)[:120] if match else "?"] += 1
    leaked = len(left_after_reset) + len(alive_after_stop)
    rate = reached / ramp_s if ramp_s > 0 else float("nan")
    steps = ramp_steps(list(seen.values()), ramp_began)
    figures = plateau.as_dict()
    cloud_cpu_s = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)

    print(f"{invokes} invokes at once of a {memory_mb} MB function that waits to be released "
          f"(account concurrency limit {limit}, {psutil.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB)")
    print(f"  ramp: {reached} environments started in {ramp_s:.1f} s: {rate:.1f} cold starts per second; per tenth: "
          + ", ".join(f"{s['environments']}@{s['at_s']}s {s['per_s']}/s" for s in steps))
    print(f"  plateau: {figures['environment_processes']} environment processes; PSS {figures['total_pss_mb']:.0f} MB "
          f"(cloud {figures['cloud_pss_mb']:.0f} MB, environments {figures['environments_pss_mb']:.0f} MB = "
          f"{figures['pss_per_environment_mb']:.1f} MB each); RSS cloud {figures['cloud_rss_mb']:.0f} MB, "
          f"environments {figures['environments_rss_mb']:.0f} MB; peak RSS sampled {sampler.peak_bytes / 2**20:.0f} MB")
    print(f"  cloud: {figures['cloud_threads']} threads, {figures['cloud_fds']} open files (soft limit "
          f"{figures['cloud_open_files_soft_limit']}), {cloud_cpu_s:.1f} s of CPU during the run, "
          f"{figures['cloud_cpu_while_holding']:.0%} of a core while all were executing; "
          + (f"the cloud counted {status['environments']} environments, {status['concurrent_executions']} executing"
             if status else "THE CLOUD DID NOT ANSWER (it has stopped: see the tracebacks below)"))
    print(f"  answers: {len(answered)}/{invokes} within {answers_s:.1f} s of the release, from {len(distinct)} "
          f"distinct environments")
    for error, count in errors.most_common(5):
        print(f"    {count} x {error}")
    if traceback_kinds:
        print("  note: the cloud's log holds tracebacks: " + "; ".join(f"{n} x {k}" for k, n in traceback_kinds.items()))
    hit = limits_hit(list(errors.elements()) + list(traceback_kinds.elements()))
    if hit:
        print("  LIMIT HIT: " + "; ".join(hit))
    print(f"  processes left after reset: {len(left_after_reset)}"
          + (f" ({describe(left_after_reset)})" if left_after_reset else "")
          + f"; alive after the cloud stopped: {len(alive_after_stop)}")
    at_once = min(reached, len(distinct)) if answered else reached
    print(f"RESULT scale: {at_once} environments at once ({len(answered)}/{invokes} answered) | ramp {ramp_s:.1f} s, "
          f"{rate:.1f} cold starts/s | PSS {figures['total_pss_mb']:.0f} MB ({figures['pss_per_environment_mb']:.1f} MB "
          f"per environment) | peak RSS {sampler.peak_bytes / 2**20:.0f} MB | leaked {leaked} | "
          f"RATIO environments at once / limit {at_once / limit:.2f}")
    path = write_results(NAME, {
        "description": f"{invokes} concurrent invokes of a {memory_mb} MB function held until all had started",
        "passed": not errors and not leaked and not problems and len(distinct) == invokes,
        "invokes": invokes, "memory_mb": memory_mb, "settings": settings, "account_limit": limit,
        "started": reached, "ramp_s": round(ramp_s, 2), "cold_starts_per_s": round(rate, 2), "ramp_steps": steps,
        "plateau": figures, "peak_rss_sampled_mb": round(sampler.peak_bytes / 2**20, 1),
        "peak_rss_processes": sampler.peak_processes, "cloud_cpu_s": round(cloud_cpu_s, 2),
        "answered": len(answered), "distinct_environments": len(distinct), "answers_after_release_s": round(answers_s, 2),
        "errors": dict(errors), "cloud_log_tracebacks": dict(traceback_kinds), "limits_hit": hit,
        "left_after_reset": len(left_after_reset), "alive_after_stop": len(alive_after_stop), "problems": problems,
    })
    print(f"(results in {path})")
    if errors or problems:
        raise Failure(f"{sum(errors.values())} of {invokes} invokes failed; {'; '.join(problems)}")
    if len(distinct) != invokes:
        raise Failure(f"only {len(distinct)} distinct environments for {invokes} concurrent invokes")
    if leaked:
        raise Failure(f"{leaked} processes leaked")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invokes", type=int, default=1000)
    parser.add_argument("--memory", type=int, default=128, help="the function's memory size in MB")
    parser.add_argument("--ramp-timeout", type=float, default=900.0,
                        help="seconds to wait for every environment to start")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for the benchmark's cloud, e.g. account_concurrency=2000")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.invokes, args.memory, args.ramp_timeout, settings))


if __name__ == "__main__":
    sys.exit(main())
