"""200 concurrent invokes of a handler that sleeps 0.5 s: all succeed, each in an environment of its own,
and no process outlives a reset or the cloud.

Each of 200 threads has its own boto3 client (no retries); all start behind one barrier. The handler
sleeps 0.5 s and answers its environment id and pid. Meanwhile a sampler thread records the peak of
the summed RSS of the cloud process and all its descendants (environments included; shared pages
are counted once per process, so this overstates; the PSS total taken once after the run does not).

After the run: POST /lambdalab/reset must leave no descendant of the cloud (polled, 15 s at most),
and after the cloud stops none of the environments' processes may exist.

RATIO = wall time / 0.5 s, the wall time of the ideal (infinitely many cores, no overhead: every
invoke runs its 0.5 s sleep at once). It is not a comparison with another implementation: 1.0 is
the floor, and what is above it is cold starts, queueing and the machine's core count.

    .venv/bin/python benchmarks/bench_concurrency.py [--invokes 200] [--sleep 0.5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (still_alive, Failure, Home, TreeMemorySampler, create_function, create_role, describe, ms,  # noqa: E402
                    run_main, setting_variables, start_cloud, summary, wait_for_no_descendants, write_results)

NAME = "concurrency"
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*$", re.MULTILINE)
HANDLER = """\
import os
import time


def handler(event, context):
    time.sleep(event["sleep"])
    return {"pid": os.getpid(), "environment": os.environ["LAMBDALAB_ENVIRONMENT_ID"]}
"""


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size summed over pids (shared pages split between their users)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def run(home: Home, invokes: int, sleep_s: float, settings: dict[str, str]) -> None:
    cloud = start_cloud(home.sub("cloud"), settings)
    cloud_pid = cloud.process.pid
    problems: list[str] = []
    try:
        role = create_role(cloud.client("iam"))
        create_function(cloud.client("lambda"), "sleeper", HANDLER, role, Timeout=30)
        session = cloud.session()
        config = Config(retries={"max_attempts": 0}, read_timeout=120, connect_timeout=60, max_pool_connections=4)
        clients = [session.client("lambda", endpoint_url=cloud.endpoint, config=config) for _ in range(invokes)]
        payload = json.dumps({"sleep": sleep_s}).encode()
        barrier = threading.Barrier(invokes + 1)
        results: list[dict | None] = [None] * invokes

        def worker(number: int) -> None:
            barrier.wait()
            started, sent_at = time.perf_counter(), time.time()
            try:
                response = clients[number].invoke(FunctionName="sleeper", Payload=payload)
                body = response["Payload"].read()
                finished = time.perf_counter()
                if response.get("FunctionError"):
                    results[number] = {"error": f"{response['FunctionError']}: {body[:200]!r}", "finished": finished}
                else:
                    results[number] = {**json.loads(body), "started": started, "finished": finished, "sent_at": sent_at,
                                       "request_id": response["ResponseMetadata"].get("RequestId")}
            except Exception as exc:  # throttles and connection errors alike: a failure to report
                results[number] = {"error": f"{type(exc).__name__}: {exc}", "finished": time.perf_counter()}

        threads = [threading.Thread(target=worker, args=(n,), name=f"invoke-{n}") for n in range(invokes)]
        for thread in threads:
            thread.start()
        cloud_process = psutil.Process(cloud_pid)
        cpu_before = cloud_process.cpu_times()
        own_before = psutil.Process().cpu_times()
        with TreeMemorySampler(cloud_pid, interval_s=0.1) as sampler:
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            results = [result or {"error": "the thread ended without a result", "finished": time.perf_counter()}
                       for result in results]
            wall = max(result["finished"] for result in results) - started
            time.sleep(0.2)  # one more sample with every environment alive
        cpu_after_run = cloud_process.cpu_times()
        own_after = psutil.Process().cpu_times()
        errors = [result["error"] for result in results if "error" in result]
        succeeded = [result for result in results if "error" not in result]
        latencies = [result["finished"] - result["started"] for result in succeeded]
        environment_ids = {result["environment"] for result in succeeded}
        environment_pids = {result["pid"] for result in succeeded}
        born: dict[int, float] = {}
        for pid in environment_pids:
            try:
                born[pid] = psutil.Process(pid).create_time()
            except psutil.NoSuchProcess:
                problems.append(f"environment process {pid} was gone before the reset")
        family_pss = pss_bytes([cloud_pid] + [p.pid for p in psutil.Process(cloud_pid).children(recursive=True)])
        status = cloud.admin("GET", "/lambdalab/status")
        invocations = cloud.admin("GET", "/lambdalab/invocations")
        init_ms = [record["init_ms"] for record in invocations if record.get("init_ms") is not None]
        engine_started = {record["request_id"]: record["started_at"] for record in invocations}
        arrival_delays = [engine_started[r["request_id"]] - r["sent_at"] for r in succeeded
                          if r.get("request_id") in engine_started]
        first_sent = min((r["sent_at"] for r in succeeded), default=0.0)
        last_arrival = max(engine_started.values(), default=first_sent) - first_sent
        in_environment_ms = [record["duration_ms"] for record in invocations]

        reset_started = time.perf_counter()
        cloud.reset()
        reset_s = time.perf_counter() - reset_started
        left_after_reset = wait_for_no_descendants(cloud_pid, timeout_s=15)
        cpu_after_reset = cloud_process.cpu_times()  # the environments are reaped: their CPU is the children's
        left_description = describe(left_after_reset)
        after_reset_status = cloud.admin("GET", "/lambdalab/status")
    finally:
        stop_started = time.perf_counter()
        cloud.stop()
        stop_s = time.perf_counter() - stop_started
    exit_code = cloud.process.returncode
    alive_after_stop = still_alive(born)
    log_text = (home.sub("cloud") / "cloud.log").read_text(errors="replace")
    tracebacks = log_text.count("Traceback (most recent call last)")
    traceback_kinds: dict[str, int] = {}
    for block in log_text.split("Traceback (most recent call last)")[1:]:
        match = EXCEPTION_LINE.search(block)
        kind = match.group(0)[:120] if match else "?"
        traceback_kinds[kind] = traceback_kinds.get(kind, 0) + 1
    cloud_cpu_s = (cpu_after_run.user + cpu_after_run.system) - (cpu_before.user + cpu_before.system)
    environments_cpu_s = ((cpu_after_reset.children_user + cpu_after_reset.children_system)
                          - (cpu_before.children_user + cpu_before.children_system))
    client_cpu_s = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    leaked = len(left_after_reset) + len(alive_after_stop)

    lat = summary(latencies) if latencies else None
    ratio = wall / sleep_s
    print(f"{invokes} concurrent invokes of a handler sleeping {sleep_s} s "
          f"(one boto3 client and thread each, started behind one barrier)")
    print(f"  succeeded: {len(succeeded)}/{invokes}   errors or throttles: {len(errors)}")
    for error in sorted(set(errors))[:5]:
        print(f"    {errors.count(error)} x {error[:200]}")
    print(f"  wall time: {wall:.2f} s   (ideal {sleep_s} s)")
    if lat:
        print(f"  per invoke round trip: median {lat['median']:.2f} s  p90 {lat['p90']:.2f} s  max {lat['max']:.2f} s")
    if init_ms:
        print(f"  Init Duration under this load: median {statistics.median(init_ms):.0f} ms  max {max(init_ms):.0f} ms "
              f"({len(init_ms)} cold starts); REPORT Duration median "
              f"{statistics.median(in_environment_ms):.0f} ms")
    if arrival_delays:
        print(f"  from the client's call to the engine taking the invoke: median {statistics.median(arrival_delays):.2f} s"
              f"  max {max(arrival_delays):.2f} s; the last invoke reached the engine {last_arrival:.2f} s after the "
              f"first call (environments freed by then are reused)")
    print(f"  distinct environments: {len(environment_ids)} (distinct pids {len(environment_pids)}; "
          f"the cloud counted {status['environments']})")
    print(f"  peak RSS, cloud + descendants: {sampler.peak_bytes / 2**20:.0f} MB over {sampler.peak_processes} "
          f"processes ({sampler.samples} samples; RSS counts shared pages in every process); "
          f"PSS after the run: {family_pss / 2**20:.0f} MB")
    print(f"  reset took {reset_s:.2f} s; descendants left after it: {len(left_after_reset)}"
          + (f" ({left_description})" if left_after_reset else ""))
    print(f"  cloud stopped in {stop_s:.2f} s (exit code {exit_code}); environment processes alive after: "
          f"{len(alive_after_stop)}")
    print(f"  CPU during the run: cloud process {cloud_cpu_s:.2f} s, environments {environments_cpu_s:.2f} s "
          f"({environments_cpu_s / max(1, len(environment_ids)) * 1000:.0f} ms each), benchmark's clients "
          f"{client_cpu_s:.2f} s; {psutil.cpu_count()} CPUs x {wall:.2f} s = {psutil.cpu_count() * wall:.2f} CPU-s")
    if tracebacks:
        print(f"  note: the cloud's log holds {tracebacks} traceback(s): "
              + "; ".join(f"{count} x {kind}" for kind, count in traceback_kinds.items()))
    print(f"  processes leaked: {leaked}")
    print(f"RESULT concurrency: {len(succeeded)}/{invokes} ok | wall {wall:.2f} s | distinct environments "
          f"{len(environment_ids)} | peak RSS {sampler.peak_bytes / 2**20:.0f} MB (PSS {family_pss / 2**20:.0f} MB) | "
          f"leaked processes {leaked} | RATIO wall/ideal({sleep_s} s) {ratio:.2f}x")
    path = write_results(NAME, {
        "description": f"{invokes} concurrent invokes of a {sleep_s} s handler: success, environments, memory, leaks",
        "passed": not errors and not leaked and not problems,
        "invokes": invokes, "sleep_s": sleep_s, "settings": settings,
        "succeeded": len(succeeded), "errors": errors,
        "wall_s": round(wall, 3), "ratio_wall_to_ideal": round(ratio, 3),
        "round_trip_s": {k: (round(v, 4) if k != "n" else v) for k, v in lat.items()} if lat else None,
        "init_ms": {"median": round(statistics.median(init_ms), 1), "max": round(max(init_ms), 1),
                    "n": len(init_ms)} if init_ms else None,
        "arrival_delay_s": {"median": round(statistics.median(arrival_delays), 3), "max": round(max(arrival_delays), 3),
                            "last_arrival_after_first_call": round(last_arrival, 3)} if arrival_delays else None,
        "distinct_environments": len(environment_ids), "distinct_pids": len(environment_pids),
        "cloud_environments_before_reset": status["environments"],
        "cloud_environments_after_reset": after_reset_status["environments"],
        "peak_rss_mb": round(sampler.peak_bytes / 2**20, 1), "peak_rss_processes": sampler.peak_processes,
        "pss_after_run_mb": round(family_pss / 2**20, 1),
        "reset_s": round(reset_s, 3), "stop_s": round(stop_s, 3), "cloud_exit_code": exit_code,
        "descendants_left_after_reset": len(left_after_reset),
        "environment_processes_alive_after_stop": len(alive_after_stop),
        "processes_leaked": leaked, "cloud_log_tracebacks": tracebacks, "cloud_log_traceback_kinds": traceback_kinds,
        "cpu_s": {"cloud": round(cloud_cpu_s, 3), "environments": round(environments_cpu_s, 3),
                  "benchmark_clients": round(client_cpu_s, 3)},
        "problems": problems,
    })
    print(f"(results in {path})")
    if errors:
        raise Failure(f"{len(errors)} of {invokes} invokes failed")
    if leaked:
        raise Failure(f"{leaked} processes leaked")
    if problems:
        raise Failure("; ".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invokes", type=int, default=200)
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds the handler sleeps (default 0.5)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for the cloud, e.g. watch_interval_s=0.05")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.invokes, args.sleep, settings))


if __name__ == "__main__":
    sys.exit(main())
