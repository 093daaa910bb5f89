"""CPU share: a CPU-bound function's duration at 128, 256, 512, 1,024 and 1,769 MB follows 1,769/memory.

One handler, a fixed Python loop, is deployed at each memory size. The loop is sized so that it
takes about --work seconds at 1,769 MB (one full vCPU), then every size is invoked --rounds times
in shuffled order, warm, and the REPORT line's Duration is read (what a learner's power tuning
reads). The baseline is the 1,769 MB duration of the same run.

RATIO, per size: median duration / median duration at 1,769 MB, against the expected 1,769/memory;
the deviation is measured/expected - 1. The issue's target: every deviation within 20%.

Also printed, and part of the figures:
- the handler's own CPU time per second of wall time at each size (its share, as the kernel saw it);
- a function that sleeps --sleep seconds at 128 MB against the same at 1,769 MB: it uses no CPU, so
  it must not be slowed (ratio near 1);
- --concurrent invokes at 128 MB at once, each in its own environment, against the 1,769 MB
  baseline: each must still get its own share while the machine has room for all of them.

--burners N keeps N processes spinning on the machine for the whole run (a busy machine: as
many burners as cores leave no core free). Then the 1,769 MB baseline cannot get a full core,
so the ratios shrink, but every size below the machine's free capacity must still get its
share: the figure to read is SHARE, CPU/wall divided by memory/1,769 (target within 10%).

    .venv/bin/python benchmarks/bench_cpu_share.py [--work 0.5] [--rounds 3] [--concurrent 4] [--burners 2]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Failure, Home, create_function, create_role, run_main, setting_variables,  # noqa: E402
                    start_cloud, write_results)
from support import log_tail, report_line  # noqa: E402

NAME = "cpu_share"
MEMORY_SIZES = (128, 256, 512, 1024, 1769)
BASELINE_MB = 1769
TARGET_DEVIATION = 0.20
TARGET_SHARE_DEVIATION = 0.10  # on a busy machine: CPU/wall against memory/1,769 at the small sizes
BUSY_SIZES = (128, 256, 512)  # together 0.5 vCPU: there is room for them even with every core contended
DURATION = re.compile(r"\tDuration: ([\d.]+) ms")
HANDLER = """\
import time


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
        return {"cpu_s": 0.0}
    started = time.process_time()
    total = 0
    for number in range(event["loop"]):
        total += number * number
    return {"cpu_s": time.process_time() - started}
"""


def function_name(memory_mb: int) -> str:
    return f"cpu-{memory_mb}"


def invoke(lam: object, memory_mb: int, event: dict) -> tuple[float, float]:
    """(REPORT Duration in seconds, the handler's own CPU seconds); a failed invoke is a Failure."""
    response = lam.invoke(FunctionName=function_name(memory_mb), Payload=json.dumps(event), LogType="Tail")
    body = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise Failure(f"{function_name(memory_mb)} failed: {body}")
    duration_ms = float(DURATION.search(report_line(log_tail(response))).group(1))
    return duration_ms / 1000, body["cpu_s"]


def calibrate(lam: object, work_s: float) -> int:
    """Loop iterations that take about work_s of CPU (at 1,769 MB nothing holds the loop back)."""
    loop = 200_000
    for _ in range(3):
        _, cpu_s = invoke(lam, BASELINE_MB, {"loop": loop})
        loop = max(10_000, int(loop * work_s / max(cpu_s, 1e-4)))
    return loop


def concurrent_durations(cloud: object, memory_mb: int, event: dict, count: int) -> list[float]:
    """count invokes at once, each with its own client and so its own environment."""
    clients = [cloud.client("lambda") for _ in range(count)]
    durations: list[float | BaseException] = [0.0] * count
    barrier = threading.Barrier(count)

    def run(number: int) -> None:
        barrier.wait()
        try:
            durations[number] = invoke(clients[number], memory_mb, event)[0]
        except BaseException as exc:  # reported below
            durations[number] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [d for d in durations if isinstance(d, BaseException)]
    if failures:
        raise Failure(f"{len(failures)} of {count} concurrent invokes failed: {failures[0]}")
    return durations  # type: ignore[return-value]


def start_burners(count: int) -> list[subprocess.Popen]:
    """count processes that spin until killed: a machine busy with other work."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(count)]


def run(home: Home, work_s: float, rounds: int, sleep_s: float, concurrent: int, settings: dict[str, str],
        burners: int = 0) -> None:
    cloud = start_cloud(home.sub("cloud"), settings)
    spinning = start_burners(burners)
    try:
        lam = cloud.client("lambda")
        role = create_role(cloud.client("iam"))
        for memory_mb in MEMORY_SIZES:
            create_function(lam, function_name(memory_mb), HANDLER, role, MemorySize=memory_mb, Timeout=900)
            invoke(lam, memory_mb, {"loop": 1000})  # the cold start is not what is measured
        loop = calibrate(lam, work_s)
        durations: dict[int, list[float]] = {m: [] for m in MEMORY_SIZES}
        cpu_per_wall: dict[int, list[float]] = {m: [] for m in MEMORY_SIZES}
        for round_number in range(rounds):
            order = list(MEMORY_SIZES)
            random.shuffle(order)
            for memory_mb in order:
                duration_s, cpu_s = invoke(lam, memory_mb, {"loop": loop})
                durations[memory_mb].append(duration_s)
                cpu_per_wall[memory_mb].append(cpu_s / duration_s)
            print(f"  round {round_number + 1}/{rounds}: " + "  ".join(
                f"{m} MB {durations[m][-1]:.2f} s" for m in MEMORY_SIZES), flush=True)
        sleep_small = [invoke(lam, 128, {"sleep": sleep_s})[0] for _ in range(rounds)]
        sleep_baseline = [invoke(lam, BASELINE_MB, {"sleep": sleep_s})[0] for _ in range(rounds)]
        together = concurrent_durations(cloud, 128, {"loop": loop}, concurrent) if concurrent > 1 else []
    finally:
        for burner in spinning:
            burner.kill()
            burner.wait()
        cloud.stop()

    baseline = statistics.median(durations[BASELINE_MB])
    rows = []
    for memory_mb in MEMORY_SIZES:
        measured = statistics.median(durations[memory_mb]) / baseline
        expected = BASELINE_MB / memory_mb
        rows.append({"memory_mb": memory_mb, "median_duration_s": round(statistics.median(durations[memory_mb]), 4),
                     "ratio": round(measured, 3), "expected_ratio": round(expected, 3),
                     "deviation": round(measured / expected - 1, 4),
                     "cpu_per_wall": round(statistics.median(cpu_per_wall[memory_mb]), 4),
                     "share_got": round(statistics.median(cpu_per_wall[memory_mb]) / min(1.0, memory_mb / BASELINE_MB), 3),
                     "raw_s": [round(d, 4) for d in durations[memory_mb]]})
    worst = max(abs(row["deviation"]) for row in rows)
    met = worst <= TARGET_DEVIATION
    worst_share = max(abs(row["share_got"] - 1) for row in rows if row["memory_mb"] in BUSY_SIZES)
    share_met = worst_share <= TARGET_SHARE_DEVIATION
    sleep_ratio = statistics.median(sleep_small) / statistics.median(sleep_baseline)
    together_ratios = [d / baseline for d in together]

    print(f"A CPU-bound loop of {loop:,} iterations ({work_s} s of CPU at 1,769 MB), {rounds} rounds, warm; "
          f"REPORT Duration medians (baseline: 1,769 MB, {baseline:.3f} s)"
          + (f"; {burners} burners spinning" if burners else ""))
    print(f"  {'memory':>8} {'duration':>10} {'ratio':>8} {'expected':>9} {'deviation':>10} {'CPU/wall':>9} {'share':>6}")
    for row in rows:
        print(f"  {row['memory_mb']:>5} MB {row['median_duration_s']:>8.3f} s {row['ratio']:>7.2f}x "
              f"{row['expected_ratio']:>8.2f}x {row['deviation']:>+9.1%} {row['cpu_per_wall']:>9.3f} "
              f"{row['share_got']:>6.2f}")
    print(f"  target: every deviation within {TARGET_DEVIATION:.0%}: {'met' if met else 'NOT met'} "
          f"(worst {worst:.1%})" + (" (not expected with burners: the baseline gets less than a core)"
                                    if burners and not met else ""))
    print(f"  share (CPU/wall over memory/1,769) at {', '.join(map(str, BUSY_SIZES))} MB within "
          f"{TARGET_SHARE_DEVIATION:.0%}: {'met' if share_met else 'NOT met'} (worst {worst_share:.1%})")
    print(f"  a function sleeping {sleep_s} s: 128 MB / 1,769 MB = {sleep_ratio:.2f}x (waiting is not slowed)")
    if together:
        print(f"  {concurrent} CPU-bound invokes at 128 MB at once: ratios to the 1,769 MB baseline "
              + ", ".join(f"{r:.2f}x" for r in together_ratios)
              + f" (expected {BASELINE_MB / 128:.2f}x each: {concurrent} x 128/1769 = "
              f"{concurrent * 128 / 1769:.2f} vCPUs, within this machine's)")
    print("RESULT cpu_share: " + " | ".join(f"{row['memory_mb']} MB {row['ratio']:.2f}x "
                                           f"(expected {row['expected_ratio']:.2f}x, {row['deviation']:+.1%})"
                                           for row in rows)
          + f" | RATIO worst deviation {worst:.1%} ({'met' if met else 'NOT met'})"
          + f" | SHARE worst {worst_share:.1%} ({'met' if share_met else 'NOT met'})"
          + (f" | {burners} burners" if burners else ""))
    path = write_results(NAME, {
        "description": "REPORT Duration of a CPU-bound loop at each memory size, against 1,769/memory",
        "settings": settings, "loop": loop, "work_s": work_s, "rounds": rounds, "burners": burners,
        "worst_share_deviation": round(worst_share, 4), "share_target_met": share_met,
        "baseline_s": round(baseline, 4), "sizes": rows, "worst_deviation": round(worst, 4),
        "target_deviation": TARGET_DEVIATION, "target_met": met,
        "sleep": {"seconds": sleep_s, "ratio_128_to_1769": round(sleep_ratio, 3),
                  "raw_128_s": sleep_small, "raw_1769_s": sleep_baseline},
        "concurrent_128": {"count": concurrent, "ratios": [round(r, 3) for r in together_ratios],
                           "expected_ratio": round(BASELINE_MB / 128, 3)},
    })
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=float, default=0.5, help="seconds of CPU the loop takes at 1,769 MB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.3, help="seconds the I/O-bound function sleeps")
    parser.add_argument("--concurrent", type=int, default=4, help="CPU-bound invokes at 128 MB at once")
    parser.add_argument("--burners", type=int, default=0, help="processes spinning on the machine meanwhile")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for the cloud, e.g. cpu_share=0")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.work, args.rounds, args.sleep, args.concurrent, settings,
                                           args.burners))


if __name__ == "__main__":
    sys.exit(main())
