"""Sustained load (10,000 synchronous invokes at concurrency 50) in sealed environments, and what the sandbox costs.

Load: a fresh cloud with the default sandbox (``auto``: namespaces where the kernel allows them),
one Python function returning its event. 50 threads, each with its own boto3 client (no retries),
take invokes from one counter until 10,000 are done; each event is unique and the answer must be
that event. Reported: throughput, p50/p99 round trip, lost invokes (errors, throttles, wrong
answers: must be 0), environments used, the cloud's RSS before and after, and the processes left
after POST /lambdalab/reset and after the cloud stops (must be 0).

Sandbox cost: three more clouds, measured interleaved: ``LAMBDALAB_SANDBOX=namespaces``,
``LAMBDALAB_SANDBOX=process-group`` and the echo cloud (benchmarks/common.py: the moto floor of
bench_warm_invoke.py). Warm: the boto3 round trip of the echo function, in alternating rounds.
Cold: Init Duration of a trivial handler after an environment variable changed (as
bench_cold_start.py does), the two sandboxes taking turns; overhead = median Init Duration -
median of the handler's own init. Targets: the sandboxed warm invoke at most 1.3x the floor, the
sandboxed cold start overhead under 60 ms. The RATIO is sandboxed / process-group warm median.

    .venv/bin/python benchmarks/bench_load.py [--invokes 10000] [--concurrency 50]
        [--warm-invokes 300] [--rounds 10] [--cold 15] [--setting NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import base64
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

from common import (Sampler, still_alive, ECHO_FUNCTION_CODE, Failure, Home, create_function, create_role, describe, ms,  # noqa: E402
                    percentile, run_main, setting_variables, start_cloud, start_echo_cloud, summary,
                    wait_for_no_descendants, write_results)

NAME = "load"
TARGET_WARM_RATIO = 1.3
TARGET_COLD_OVERHEAD_MS = 60.0
BEFORE_SANDBOX = {"invokes_per_s": 137, "p50_ms": 281, "cloud_rss_mb": (167, 187)}  # issue 11, on main before
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*$", re.MULTILINE)
INIT_DURATION = re.compile(r"Init Duration: ([0-9.]+) ms")
WARM_PAYLOAD = json.dumps({"benchmark": NAME, "numbers": [1, 2, 3], "text": "hello"}).encode()
COLD_HANDLER = """\
import time
_STARTED = time.perf_counter()
import os


def handler(event, context):
    return {"environment": os.environ.get("LAMBDALAB_ENVIRONMENT_ID"), "own_init_ms": OWN_INIT_MS}


OWN_INIT_MS = (time.perf_counter() - _STARTED) * 1000
"""


def mb(nbytes: float) -> float:
    return round(nbytes / 2**20, 1)


def log_tracebacks(log_path: Path) -> dict[str, int]:
    """{exception line: count} of the tracebacks in a cloud's log; the first one of each kind is kept in SAMPLES."""
    kinds: dict[str, int] = {}
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    for block in text.split("Traceback (most recent call last)")[1:]:
        match = EXCEPTION_LINE.search(block)
        kind = match.group(0)[:120] if match else "?"
        kinds[kind] = kinds.get(kind, 0) + 1
        SAMPLES.setdefault(kind, block[:match.end() if match else 2000][-2000:])
    return kinds


SAMPLES: dict[str, str] = {}  # the first traceback of each kind seen in any cloud's log, for results/load.json


class RssSampler(Sampler):
    """Peak RSS of one process (the cloud alone), sampled in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        super().__init__(interval_s)
        self.process = psutil.Process(pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.process.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)


# --- 1. load ------------------------------------------------------------------------------------

def run_load(home: Home, invokes: int, concurrency: int, settings: dict[str, str]) -> dict:
    cloud = start_cloud(home.sub("load"), settings)
    cloud_pid = cloud.process.pid
    cloud_process = psutil.Process(cloud_pid)
    problems: list[str] = []
    born: dict[int, float] = {}
    try:
        sandbox = cloud.admin("GET", "/lambdalab/status")["sandbox"]
        role = create_role(cloud.client("iam"))
        create_function(cloud.client("lambda"), "echo", ECHO_FUNCTION_CODE, role)
        session = cloud.session()
        config = Config(retries={"max_attempts": 0}, read_timeout=120, connect_timeout=60, max_pool_connections=2)
        clients = [session.client("lambda", endpoint_url=cloud.endpoint, config=config) for _ in range(concurrency)]
        first = clients[0].invoke(FunctionName="echo", Payload=b'{"first": true}')  # package unpacked once
        first_body = first["Payload"].read()
        if first.get("FunctionError") or json.loads(first_body) != {"first": True}:
            raise Failure(f"the first invoke failed: {first.get('FunctionError')} {first_body[:300]!r}")
        rss_before = cloud_process.memory_info().rss

        counter = iter(range(invokes))
        counter_lock = threading.Lock()
        latencies: list[list[float]] = [[] for _ in range(concurrency)]
        errors: list[list[str]] = [[] for _ in range(concurrency)]
        wrong: list[list[str]] = [[] for _ in range(concurrency)]
        barrier = threading.Barrier(concurrency + 1)

        def worker(number: int) -> None:
            client = clients[number]
            barrier.wait()
            while True:
                with counter_lock:
                    sequence = next(counter, None)
                if sequence is None:
                    return
                payload = json.dumps({"n": sequence, "thread": number, "text": "load"}).encode()
                started = time.perf_counter()
                try:
                    response = client.invoke(FunctionName="echo", Payload=payload)
                    body = response["Payload"].read()
                except Exception as exc:  # throttles and connection errors alike: a lost invoke
                    errors[number].append(f"{type(exc).__name__}: {str(exc)[:200]}")
                    continue
                elapsed = time.perf_counter() - started
                if response.get("FunctionError"):
                    errors[number].append(f"{response['FunctionError']}: {body[:200]!r}")
                    continue
                try:
                    answer = json.loads(body)
                except ValueError:
                    answer = None
                if answer != json.loads(payload):
                    wrong[number].append(f"event {sequence} answered {body[:200]!r}")
                    continue
                latencies[number].append(elapsed)

        threads = [threading.Thread(target=worker, args=(n,), name=f"load-{n}") for n in range(concurrency)]
        for thread in threads:
            thread.start()
        cpu_before = cloud_process.cpu_times()
        with RssSampler(cloud_pid) as sampler:
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        cpu_after = cloud_process.cpu_times()
        rss_after = cloud_process.memory_info().rss
        environments_cpu_s = 0.0  # of every process of the environments, alive now (none was reaped yet)
        for process in psutil.Process(cloud_pid).children(recursive=True):
            try:
                born[process.pid] = process.create_time()
                times = process.cpu_times()
                environments_cpu_s += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        status = cloud.admin("GET", "/lambdalab/status")
        records = [r for r in cloud.admin("GET", "/lambdalab/invocations") if r["function_name"] == "echo"][1:]
        cloud.reset()
        left_after_reset = wait_for_no_descendants(cloud_pid, timeout_s=15)
        left_description = describe(left_after_reset)
        rss_after_reset = cloud_process.memory_info().rss
    finally:
        cloud.stop()
    alive_after_stop = still_alive(born)
    tracebacks = log_tracebacks(home.sub("load") / "cloud.log")

    all_latencies = [t for values in latencies for t in values]
    all_errors = [e for values in errors for e in values]
    all_wrong = [w for values in wrong for w in values]
    lost = len(all_errors) + len(all_wrong)
    if len(all_latencies) + lost != invokes:
        problems.append(f"{invokes - len(all_latencies) - lost} invokes neither answered nor failed")
    engine_errors = [r for r in records if r.get("error_type") or r.get("timed_out")]
    if engine_errors:
        problems.append(f"the engine recorded {len(engine_errors)} failed invocations "
                        f"(e.g. {engine_errors[0].get('error_type')}, timed out {engine_errors[0].get('timed_out')})")
    leaked = len(left_after_reset) + len(alive_after_stop)
    environment_ids = {r["environment_id"] for r in records}
    init_ms = [r["init_ms"] for r in records if r.get("init_ms") is not None]
    return {
        "sandbox": sandbox, "invokes": invokes, "concurrency": concurrency, "wall_s": wall,
        "succeeded": len(all_latencies), "errors": all_errors, "wrong": all_wrong, "lost": lost,
        "throughput": len(all_latencies) / wall,
        "latency": summary(all_latencies) if all_latencies else None,
        "p50": percentile(all_latencies, 0.5), "p99": percentile(all_latencies, 0.99),
        "records": len(records), "environments": len(environment_ids), "cold_starts": len(init_ms),
        "init_ms_median": statistics.median(init_ms) if init_ms else None,
        "report_duration_ms_median": statistics.median([r["duration_ms"] for r in records]) if records else None,
        "environments_at_end": status["environments"],
        "rss_before": rss_before, "rss_after": rss_after, "rss_peak": sampler.peak_bytes,
        "rss_after_reset": rss_after_reset,
        "cloud_cpu_s": (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        "environments_cpu_s": environments_cpu_s,
        "descendants_before_reset": len(born), "left_after_reset": len(left_after_reset),
        "left_description": left_description, "alive_after_stop": len(alive_after_stop), "leaked": leaked,
        "tracebacks": tracebacks, "problems": problems,
        "raw_ms": [round(ms(t), 2) for t in all_latencies],
    }


# --- 2. the sandbox's cost ----------------------------------------------------------------------

def warm_invoke(lam: object) -> float:
    started = time.perf_counter()
    response = lam.invoke(FunctionName="echo", Payload=WARM_PAYLOAD)
    body = response["Payload"].read()
    elapsed = time.perf_counter() - started
    if response.get("FunctionError") or response["StatusCode"] != 200 or json.loads(body) != json.loads(WARM_PAYLOAD):
        raise Failure(f"warm invoke failed: {response.get('FunctionError')} {body[:300]!r}")
    return elapsed


def cold_invoke(lam: object, number: int, label: str, seen: set[str]) -> tuple[float, float]:
    """(Init Duration ms, the handler's own init ms) of one forced cold start."""
    lam.update_function_configuration(FunctionName="cold", Environment={"Variables": {"COLD_START": str(number)}})
    response = lam.invoke(FunctionName="cold", Payload=b"{}", LogType="Tail")
    body = response["Payload"].read()
    if response.get("FunctionError") or response["StatusCode"] != 200:
        raise Failure(f"cold invoke {number} ({label}) failed: {response.get('FunctionError')} {body[:300]!r}")
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    match = INIT_DURATION.search(tail)
    answer = json.loads(body)
    if match is None or answer["environment"] in seen:
        raise Failure(f"cold invoke {number} ({label}) was not a cold start: {tail[-300:]!r}")
    seen.add(answer["environment"])
    return float(match.group(1)), answer["own_init_ms"]


def run_cost(home: Home, warm_invokes: int, rounds: int, colds: int, settings: dict[str, str],
             namespaces_refused: str | None) -> dict:
    clouds = {}
    refusal = namespaces_refused
    try:
        if refusal is None:
            try:
                clouds["namespaces"] = start_cloud(home.sub("namespaces"),
                                                   {**settings, "LAMBDALAB_SANDBOX": "namespaces"})
            except RuntimeError as exc:
                refusal = str(exc)[-500:]
        clouds["process-group"] = start_cloud(home.sub("process-group"),
                                              {**settings, "LAMBDALAB_SANDBOX": "process-group"})
        clouds["floor"] = start_echo_cloud(home.sub("floor"), settings)
        labels = list(clouds)
        sandboxes = [label for label in labels if label != "floor"]
        for label in sandboxes:
            got = clouds[label].admin("GET", "/lambdalab/status")["sandbox"]
            if got != label:
                raise Failure(f"the cloud started with LAMBDALAB_SANDBOX={label} reports sandbox {got!r}")
        clients = {}
        for label, cloud in clouds.items():
            role = create_role(cloud.client("iam"))
            lam = cloud.client("lambda")
            create_function(lam, "echo", ECHO_FUNCTION_CODE, role)
            if label != "floor":
                create_function(lam, "cold", COLD_HANDLER, role)
            clients[label] = lam
        for _ in range(20):  # warm-up: every first-time cost paid
            for label in labels:
                warm_invoke(clients[label])

        warm: dict[str, list[float]] = {label: [] for label in labels}
        per_round = max(1, warm_invokes // rounds)
        for number in range(rounds):
            order = labels[number % len(labels):] + labels[:number % len(labels)]
            if number % 2:
                order.reverse()
            for label in order:
                for _ in range(per_round):
                    warm[label].append(warm_invoke(clients[label]))

        init: dict[str, list[float]] = {label: [] for label in sandboxes}
        own: dict[str, list[float]] = {label: [] for label in sandboxes}
        seen: dict[str, set[str]] = {label: set() for label in sandboxes}
        for label in sandboxes:
            cold_invoke(clients[label], -1, label, seen[label])  # the package is unpacked once, here
        for number in range(colds):
            order = sandboxes if number % 2 == 0 else sandboxes[::-1]
            for label in order:
                duration, own_ms = cold_invoke(clients[label], number, label, seen[label])
                init[label].append(duration)
                own[label].append(own_ms)
    finally:
        for cloud in clouds.values():
            cloud.stop()
    tracebacks = {label: log_tracebacks(home.sub(label) / "cloud.log") for label in clouds}
    return {"refusal": refusal, "warm": warm, "init": init, "own": own, "tracebacks": tracebacks,
            "per_round": per_round}


# --- the report ---------------------------------------------------------------------------------

def run(home: Home, args: argparse.Namespace, settings: dict[str, str]) -> None:
    load = run_load(home, args.invokes, args.concurrency, settings)
    refused = None
    if load["sandbox"] != "namespaces" and "LAMBDALAB_SANDBOX" not in settings:
        refused = f"the default cloud got sandbox {load['sandbox']!r} (see its log for why)"
    cost = run_cost(home, args.warm_invokes, args.rounds, args.cold, settings, refused)

    before = BEFORE_SANDBOX
    lat = load["latency"]
    print(f"Load: {load['invokes']} synchronous invokes of a handler returning its event, concurrency "
          f"{load['concurrency']} (a boto3 client and thread each, no retries), sandbox {load['sandbox']!r}")
    print(f"  succeeded {load['succeeded']}/{load['invokes']}   lost {load['lost']} "
          f"(errors or throttles {len(load['errors'])}, wrong answers {len(load['wrong'])})")
    for error in sorted(set(load["errors"] + load["wrong"]))[:5]:
        print(f"    {(load['errors'] + load['wrong']).count(error)} x {error[:200]}")
    print(f"  throughput {load['throughput']:.1f} invokes/s over {load['wall_s']:.1f} s   "
          f"(issue 11, before the sandbox: {before['invokes_per_s']} invokes/s)")
    if lat:
        print(f"  round trip: p50 {ms(load['p50']):.1f} ms   p99 {ms(load['p99']):.1f} ms   max {ms(lat['max']):.1f} ms"
              f"   (before: p50 {before['p50_ms']} ms)")
    if load["report_duration_ms_median"] is not None:
        print(f"  REPORT Duration median {load['report_duration_ms_median']:.2f} ms; "
              f"{load['cold_starts']} cold starts (Init Duration median {load['init_ms_median'] or 0:.0f} ms)")
    print(f"  environments used: {load['environments']} (the cloud held {load['environments_at_end']} at the end)")
    print(f"  cloud RSS: {mb(load['rss_before'])} MB before -> {mb(load['rss_after'])} MB after "
          f"(peak {mb(load['rss_peak'])} MB, {mb(load['rss_after_reset'])} MB after the reset)   "
          f"(before the sandbox: {before['cloud_rss_mb'][0]} -> {before['cloud_rss_mb'][1]} MB)")
    print(f"  CPU: cloud process {load['cloud_cpu_s']:.1f} s, environments' processes "
          f"{load['environments_cpu_s']:.1f} s (their whole life, first invoke included)")
    print(f"  processes leaked: {load['leaked']} (of {load['descendants_before_reset']} descendants before the reset: "
          f"{load['left_after_reset']} left after it, {load['alive_after_stop']} alive after the cloud stopped)"
          + (f": {load['left_description']}" if load["left_after_reset"] else ""))
    if load["tracebacks"]:
        print("  note: the cloud's log holds tracebacks: "
              + "; ".join(f"{count} x {kind}" for kind, count in load["tracebacks"].items()))
    for problem in load["problems"]:
        print(f"  PROBLEM: {problem}")

    warm = {label: summary(values) for label, values in cost["warm"].items()}
    sandboxes = list(cost["init"])
    overhead = {label: statistics.median(cost["init"][label]) - statistics.median(cost["own"][label])
                for label in sandboxes}
    print()
    print(f"Sandbox cost: warm round trip ({len(cost['warm']['floor'])} invokes each, rounds of "
          f"{cost['per_round']} taking turns) and cold start ({args.cold} each, an environment variable changed "
          "before each, the sandboxes taking turns)")
    if cost["refusal"]:
        print(f"  NAMESPACES REFUSED by this machine: {cost['refusal']}; measured process-group only")
    for label in ("floor", *sandboxes):
        name = "floor (echo cloud, no engine)" if label == "floor" else f"sandbox {label}"
        print(f"  warm {name:30s} median {ms(warm[label]['median']):7.2f} ms   p90 {ms(warm[label]['p90']):7.2f} ms"
              + ("" if label == "floor" else f"   = {warm[label]['median'] / warm['floor']['median']:.2f}x the floor"))
    for label in sandboxes:
        print(f"  cold {('sandbox ' + label):30s} Init Duration median {statistics.median(cost['init'][label]):7.2f} ms"
              f"   p90 {percentile(cost['init'][label], 0.9):7.2f} ms   own init "
              f"{statistics.median(cost['own'][label]):.3f} ms   overhead {overhead[label]:.2f} ms")
    sealed = "namespaces" if "namespaces" in sandboxes else "process-group"
    warm_ratio_floor = warm[sealed]["median"] / warm["floor"]["median"]
    warm_met = warm_ratio_floor <= TARGET_WARM_RATIO
    cold_met = overhead[sealed] < TARGET_COLD_OVERHEAD_MS
    if "namespaces" in sandboxes:
        warm_ratio = warm["namespaces"]["median"] / warm["process-group"]["median"]
        warm_extra_ms = ms(warm["namespaces"]["median"] - warm["process-group"]["median"])
        cold_extra_ms = overhead["namespaces"] - overhead["process-group"]
        cold_ratio = overhead["namespaces"] / overhead["process-group"]
        print(f"  the sandbox adds: warm {warm_extra_ms:+.2f} ms ({warm_ratio:.2f}x process-group), "
              f"cold start overhead {cold_extra_ms:+.2f} ms ({cold_ratio:.2f}x process-group)")
    else:
        warm_ratio = warm_extra_ms = cold_extra_ms = cold_ratio = None
    print(f"  target: warm invoke ({sealed}) at most {TARGET_WARM_RATIO}x the floor "
          f"({warm_ratio_floor:.2f}x): {'met' if warm_met else 'NOT met'}")
    print(f"  target: cold start overhead ({sealed}) under {TARGET_COLD_OVERHEAD_MS:.0f} ms "
          f"({overhead[sealed]:.2f} ms): {'met' if cold_met else 'NOT met'}")
    for label, kinds in cost["tracebacks"].items():
        if kinds:
            print(f"  note: the {label} cloud's log holds tracebacks: "
                  + "; ".join(f"{count} x {kind}" for kind, count in kinds.items()))

    ratio_text = (f"RATIO sandbox/process-group warm {warm_ratio:.2f}x, cold overhead {cold_ratio:.2f}x"
                  if warm_ratio is not None else "RATIO n/a (namespaces refused)")
    print(f"RESULT load: {load['succeeded']}/{load['invokes']} ok, lost {load['lost']} | "
          f"{load['throughput']:.1f} invokes/s | p50 {ms(load['p50']):.1f} ms p99 {ms(load['p99']):.1f} ms | "
          f"environments {load['environments']} | cloud RSS {mb(load['rss_before'])} -> {mb(load['rss_after'])} MB | "
          f"leaked {load['leaked']} | warm {sealed}/floor {warm_ratio_floor:.2f}x | cold overhead "
          f"{overhead[sealed]:.2f} ms" + (f" ({cold_extra_ms:+.2f} ms vs process-group)" if cold_extra_ms is not None
                                         else "") + f" | {ratio_text}")

    def in_ms(figures: dict) -> dict:
        return {k: (ms(v) if k != "n" else v) for k, v in figures.items()}

    path = write_results(NAME, {
        "description": "10,000 sync invokes at concurrency 50 in the default sandbox; the sandbox's warm and cold cost",
        "passed": not load["lost"] and not load["leaked"] and not load["problems"], "settings": settings,
        "before_sandbox": before,
        "load": {k: v for k, v in load.items() if k not in ("latency", "raw_ms")}
        | {"latency_ms": in_ms(lat) if lat else None, "p50_ms": ms(load["p50"]), "p99_ms": ms(load["p99"]),
           "rss_mb": {"before": mb(load["rss_before"]), "after": mb(load["rss_after"]),
                      "peak": mb(load["rss_peak"]), "after_reset": mb(load["rss_after_reset"])}},
        "cost": {
            "namespaces_refused": cost["refusal"],
            "warm_ms": {label: in_ms(figures) for label, figures in warm.items()},
            "init_duration_ms": {label: {"median": round(statistics.median(v), 3), "p90": round(percentile(v, 0.9), 3)}
                                 for label, v in cost["init"].items()},
            "own_init_ms": {label: round(statistics.median(v), 4) for label, v in cost["own"].items()},
            "cold_overhead_ms": {label: round(v, 3) for label, v in overhead.items()},
            "warm_ratio_sandbox_to_process_group": round(warm_ratio, 3) if warm_ratio is not None else None,
            "warm_ratio_to_floor": round(warm_ratio_floor, 3),
            "cold_overhead_extra_ms": round(cold_extra_ms, 3) if cold_extra_ms is not None else None,
            "cold_overhead_ratio": round(cold_ratio, 3) if cold_ratio is not None else None,
            "targets": {"warm_ratio_to_floor": TARGET_WARM_RATIO, "warm_met": warm_met,
                        "cold_overhead_ms": TARGET_COLD_OVERHEAD_MS, "cold_met": cold_met},
            "tracebacks": cost["tracebacks"],
        },
        "traceback_samples": SAMPLES,
        "raw": {"load_ms": load["raw_ms"], "warm_ms": {k: [ms(t) for t in v] for k, v in cost["warm"].items()},
                "init_ms": cost["init"]},
    })
    print(f"(results in {path})")
    if load["lost"]:
        raise Failure(f"{load['lost']} of {load['invokes']} invokes were lost")
    if load["leaked"]:
        raise Failure(f"{load['leaked']} processes leaked")
    if load["problems"]:
        raise Failure("; ".join(load["problems"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invokes", type=int, default=10_000, help="synchronous invokes of the load (default 10000)")
    parser.add_argument("--concurrency", type=int, default=50, help="threads, each with its own client (default 50)")
    parser.add_argument("--warm-invokes", type=int, default=300, help="warm invokes per cloud (default 300)")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds of the warm invokes (default 10)")
    parser.add_argument("--cold", type=int, default=15, help="cold starts per sandbox (default 15)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for every cloud (the cost clouds' sandbox is set for them)")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args, settings))


if __name__ == "__main__":
    sys.exit(main())
