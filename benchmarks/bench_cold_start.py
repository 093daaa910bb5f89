"""Cold start of a trivial Python handler, against starting the same interpreter with `python -c pass`.

Every cold invoke gets a fresh execution environment: before it the function's configuration
changes (an environment variable), which retires the warm one as on AWS (``--mode create``
creates a new function instead). Each cold invoke is followed by warm invokes of the same
environment, and by one `python -c pass` of the same interpreter (sys.executable), so the three
are measured interleaved, under the same load.

Figures: the REPORT line's Init Duration (LogType=Tail), the handler's own init (its module
measures itself: ~0 for a trivial handler), the cold and warm boto3 round trips.
Overhead = median Init Duration - median own init: what Lambda Lab adds before the handler
could run. The RATIO is that overhead / median `python -c pass`.

    .venv/bin/python benchmarks/bench_cold_start.py [--cold 30] [--mode update|create]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Failure, Home, create_function, create_role, ms, run_main, setting_variables,  # noqa: E402
                    start_cloud, summary, write_results)

NAME = "cold_start"
TARGET_OVERHEAD_MS = 60.0
WARM_PER_COLD = 3
HANDLER = """\
import time
_STARTED = time.perf_counter()
import os


def handler(event, context):
    return {"pid": os.getpid(), "environment": os.environ.get("LAMBDALAB_ENVIRONMENT_ID"), "own_init_ms": OWN_INIT_MS}


OWN_INIT_MS = (time.perf_counter() - _STARTED) * 1000
"""
INIT_DURATION = re.compile(r"Init Duration: ([0-9.]+) ms")


def invoke(lam: object, function: str) -> tuple[float, dict, float | None]:
    """(round trip in s, the handler's answer, Init Duration in ms or None)."""
    started = time.perf_counter()
    response = lam.invoke(FunctionName=function, Payload=b"{}", LogType="Tail")
    body = response["Payload"].read()
    elapsed = time.perf_counter() - started
    if response.get("FunctionError") or response["StatusCode"] != 200:
        raise Failure(f"invoke of {function} failed: {response.get('FunctionError')} {body[:300]!r}")
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    if "REPORT RequestId" not in tail:
        raise Failure(f"no REPORT line in the log tail of {function}: {tail[-500:]!r}")
    match = INIT_DURATION.search(tail)
    return elapsed, json.loads(body), float(match.group(1)) if match else None


def python_pass(arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments, "-c", "pass"], check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(home: Home, colds: int, mode: str, settings: dict[str, str]) -> None:
    cloud = start_cloud(home.sub("cloud"), settings)
    init_ms: list[float] = []
    own_init_ms: list[float] = []
    cold_s: list[float] = []
    warm_s: list[float] = []
    pass_s: list[float] = []
    pass_isolated_s: list[float] = []
    environments: set[str] = set()
    try:
        lam = cloud.client("lambda")
        role = create_role(cloud.client("iam"))
        create_function(lam, "cold", HANDLER, role)
        invoke(lam, "cold")  # the package is unpacked once, and every first-time cost is paid here
        for _ in range(3):
            python_pass([])
            python_pass(["-I", "-S"])
        for number in range(colds):
            if mode == "update":
                function = "cold"
                lam.update_function_configuration(FunctionName=function,
                                                  Environment={"Variables": {"COLD_START": str(number)}})
            else:
                function = f"cold-{number}"
                create_function(lam, function, HANDLER, role)
            elapsed, answer, init = invoke(lam, function)
            if init is None:
                raise Failure(f"cold invoke {number} has no Init Duration: it was not a cold start")
            if answer["environment"] in environments:
                raise Failure(f"cold invoke {number} reused environment {answer['environment']}")
            environments.add(answer["environment"])
            cold_s.append(elapsed)
            init_ms.append(init)
            own_init_ms.append(answer["own_init_ms"])
            for _ in range(WARM_PER_COLD):
                elapsed, warm_answer, init = invoke(lam, function)
                if init is not None or warm_answer["environment"] != answer["environment"]:
                    raise Failure(f"warm invoke after cold invoke {number} was not warm")
                warm_s.append(elapsed)
            pass_s.append(python_pass([]))
            pass_isolated_s.append(python_pass(["-I", "-S"]))
    finally:
        cloud.stop()

    init, own = summary(init_ms), summary(own_init_ms)
    cold, warm = summary(cold_s), summary(warm_s)
    python, isolated = summary(pass_s), summary(pass_isolated_s)
    overhead_ms = init["median"] - own["median"]
    round_trip_extra_ms = ms(cold["median"] - warm["median"])
    ratio = overhead_ms / ms(python["median"])
    ratio_round_trip = round_trip_extra_ms / ms(python["median"])
    how = "configuration changed before each" if mode == "update" else "a new function for each"
    print(f"Cold start of a trivial Python handler ({colds} cold invokes, {how}; "
          f"{WARM_PER_COLD} warm invokes and one `python -c pass` after each)")
    print(f"  Init Duration (REPORT):          median {init['median']:7.2f} ms   p90 {init['p90']:7.2f} ms")
    print(f"  handler's own init:              median {own['median']:7.3f} ms")
    print(f"  cold round trip (boto3):         median {ms(cold['median']):7.2f} ms   p90 {ms(cold['p90']):7.2f} ms")
    print(f"  warm round trip (boto3):         median {ms(warm['median']):7.2f} ms")
    print(f"  cold - warm round trip:                 {round_trip_extra_ms:7.2f} ms")
    print(f"  `python -c pass` ({Path(sys.executable).name}):        median {ms(python['median']):7.2f} ms"
          f"   (`python -I -S -c pass`, as environments start: {ms(isolated['median']):.2f} ms)")
    print(f"  Init Duration - `python -I -S -c pass` = {init['median'] - ms(isolated['median']):.2f} ms: "
          "what the engine, the launcher and the Python runtime add to a bare interpreter start")
    print(f"  overhead beyond the handler's own init = Init Duration - own init = {overhead_ms:.2f} ms "
          f"= {ratio:.2f}x `python -c pass`")
    verdict = "met" if overhead_ms < TARGET_OVERHEAD_MS else "NOT met"
    print(f"  target: overhead under {TARGET_OVERHEAD_MS:.0f} ms: {verdict}")
    print(f"RESULT cold_start: init duration median {init['median']:.2f} ms | own init {own['median']:.3f} ms | "
          f"cold-warm round trip {round_trip_extra_ms:.2f} ms | python -c pass {ms(python['median']):.2f} ms | "
          f"overhead {overhead_ms:.2f} ms | RATIO overhead/python-c-pass {ratio:.2f}x "
          f"(round trip {ratio_round_trip:.2f}x)")

    def in_ms(figures: dict) -> dict:
        return {k: (ms(v) if k != "n" else v) for k, v in figures.items()}

    path = write_results(NAME, {
        "description": "cold start (Init Duration, round trips) of a trivial Python handler vs `python -c pass`",
        "mode": mode, "cold_invokes": colds, "warm_per_cold": WARM_PER_COLD, "settings": settings,
        "init_duration_ms": {k: round(v, 3) if k != "n" else v for k, v in init.items()},
        "own_init_ms": {k: round(v, 4) if k != "n" else v for k, v in own.items()},
        "cold_round_trip_ms": in_ms(cold), "warm_round_trip_ms": in_ms(warm),
        "python_c_pass_ms": in_ms(python), "python_isolated_c_pass_ms": in_ms(isolated),
        "overhead_ms": round(overhead_ms, 3),
        "init_minus_isolated_python_ms": round(init["median"] - ms(isolated["median"]), 3), "cold_minus_warm_round_trip_ms": round_trip_extra_ms,
        "ratio_overhead_to_python_c_pass": round(ratio, 3),
        "ratio_round_trip_extra_to_python_c_pass": round(ratio_round_trip, 3),
        "target_overhead_ms": TARGET_OVERHEAD_MS, "target_met": overhead_ms < TARGET_OVERHEAD_MS,
        "raw": {"init_ms": init_ms, "cold_ms": [ms(t) for t in cold_s], "python_c_pass_ms": [ms(t) for t in pass_s]},
    })
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", type=int, default=30, help="cold invokes (default 30)")
    parser.add_argument("--mode", choices=("update", "create"), default="update",
                        help="update: change the configuration before each cold invoke; create: a new function each")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for the cloud, e.g. isolate_tmp_with_mount_namespace=0")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.cold, args.mode, settings))


if __name__ == "__main__":
    sys.exit(main())
