"""Warm invoke round trip through boto3, against the floor of the same call with no engine behind it.

Engine: a fresh local cloud (``python -m lambdalab serve``) with a Python function whose handler
returns its event; after warm-up every invoke reuses the one warm environment.
Floor:  the echo cloud (benchmarks/common.py): the same server, the same boto3 Invoke, moto's
routing, IAM check and function lookup, but the Invoke handler answers the payload itself.
Rounds of the two alternate, so drift of the machine falls on both alike.

    .venv/bin/python benchmarks/bench_warm_invoke.py [--invokes 300] [--warmup 20] [--rounds 10]
        [--setting freeze_idle_environments=0 ...]   (Lambda Lab settings, for experiments)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (ECHO_FUNCTION_CODE, Failure, Home, create_function, create_role, ms, run_main,  # noqa: E402
                    setting_variables, start_cloud, start_echo_cloud, summary, write_results)

NAME = "warm_invoke"
TARGET_RATIO = 1.3
PAYLOAD = json.dumps({"benchmark": NAME, "numbers": [1, 2, 3], "text": "hello"}).encode()


def invoke_once(lam: object, function: str) -> float:
    started = time.perf_counter()
    response = lam.invoke(FunctionName=function, Payload=PAYLOAD)
    body = response["Payload"].read()
    elapsed = time.perf_counter() - started
    if response.get("FunctionError") or response["StatusCode"] != 200:
        raise Failure(f"invoke of {function} failed: {response.get('FunctionError')} {body[:300]!r}")
    if json.loads(body) != json.loads(PAYLOAD):
        raise Failure(f"invoke of {function} answered {body[:300]!r}, not the event")
    return elapsed


def run(home: Home, invokes: int, warmup: int, rounds: int, settings: dict[str, str]) -> None:
    engine_cloud = start_cloud(home.sub("engine"), settings)
    floor_cloud = start_echo_cloud(home.sub("floor"), settings)
    try:
        clients = {}
        for label, cloud in (("engine", engine_cloud), ("floor", floor_cloud)):
            role = create_role(cloud.client("iam"))
            lam = cloud.client("lambda")
            create_function(lam, "echo", ECHO_FUNCTION_CODE, role)
            clients[label] = lam
        for _ in range(warmup):
            for label in ("floor", "engine"):
                invoke_once(clients[label], "echo")
        times: dict[str, list[float]] = {"floor": [], "engine": []}
        per_round = max(1, invokes // rounds)
        for number in range(rounds):
            order = ("floor", "engine") if number % 2 == 0 else ("engine", "floor")
            for label in order:
                for _ in range(per_round):
                    times[label].append(invoke_once(clients[label], "echo"))

        environments = engine_cloud.admin("GET", "/lambdalab/environments")
        invocations = engine_cloud.admin("GET", "/lambdalab/invocations")
        in_environment = [record["duration_ms"] for record in invocations[warmup:]]
        cold_starts = sum(environment["cold_starts"] for environment in environments)
    finally:
        engine_cloud.stop()
        floor_cloud.stop()

    floor, engine = summary(times["floor"]), summary(times["engine"])
    ratio = engine["median"] / floor["median"]
    ratio_p90 = engine["p90"] / floor["p90"]
    in_env_median = statistics.median(in_environment) if in_environment else float("nan")
    print(f"Warm invoke round trip, boto3 lambda.invoke of a handler returning its event "
          f"({len(times['engine'])} invokes each after {warmup} warm-up, {rounds} alternating rounds)")
    print(f"  floor  (echo, no engine): median {ms(floor['median']):8.2f} ms   p90 {ms(floor['p90']):8.2f} ms")
    print(f"  engine (real function):   median {ms(engine['median']):8.2f} ms   p90 {ms(engine['p90']):8.2f} ms")
    print(f"  engine adds {ms(engine['median'] - floor['median']):.2f} ms at the median; of it "
          f"{in_env_median:.2f} ms is the REPORT Duration (environment thawed, event delivered, reply back)")
    print(f"  environments used: {len(environments)}, cold starts: {cold_starts} (expected 1 and 1)")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"  target: median at most {TARGET_RATIO}x the floor: {verdict}")
    print(f"RESULT warm_invoke: floor median {ms(floor['median']):.2f} ms p90 {ms(floor['p90']):.2f} ms | "
          f"engine median {ms(engine['median']):.2f} ms p90 {ms(engine['p90']):.2f} ms | "
          f"RATIO engine/floor median {ratio:.2f}x (p90 {ratio_p90:.2f}x)")
    path = write_results(NAME, {
        "description": "warm boto3 Invoke round trip vs the same Invoke answered by an echo (engine bypassed)",
        "invokes_each": len(times["engine"]), "warmup": warmup, "rounds": rounds, "settings": settings,
        "floor_ms": {k: (ms(v) if k != "n" else v) for k, v in floor.items()},
        "engine_ms": {k: (ms(v) if k != "n" else v) for k, v in engine.items()},
        "ratio_median": round(ratio, 3), "ratio_p90": round(ratio_p90, 3),
        "target_ratio": TARGET_RATIO, "target_met": ratio <= TARGET_RATIO,
        "report_duration_median_ms": round(in_env_median, 3),
        "environments": len(environments), "cold_starts": cold_starts,
        "raw_ms": {label: [ms(t) for t in values] for label, values in times.items()},
    })
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invokes", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for both clouds, e.g. freeze_idle_environments=0")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.invokes, args.warmup, args.rounds, settings))


if __name__ == "__main__":
    sys.exit(main())
