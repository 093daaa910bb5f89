"""Cold and warm invokes of the same small function in every runtime, against Python's in the same run.

The function is tests/runtimes/runtime_samples.py's (the one tests/test_runtimes.py deploys):
Python, Node.js, Ruby, Java and Go (provided.al2023), and the shell-script custom runtime. A
language missing on this machine is left out, and the report says so. Each round changes every
function's configuration (a new environment, as on AWS) and invokes each once cold and a few
times warm, the languages one after another, so the load of a busy machine falls on all alike.

Figures per runtime: the REPORT line's Init Duration, the cold and the warm boto3 round trip;
the RATIO of each to Python's in the same run.

    .venv/bin/python benchmarks/bench_runtimes.py [--rounds 10] [--warm 5]
"""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (ROOT, Failure, Home, create_role, ms, run_main, setting_variables, start_cloud,  # noqa: E402
                    summary, write_results)

sys.path.insert(0, str(ROOT / "tests" / "runtimes"))

from runtime_samples import SAMPLES, shell_zip  # noqa: E402

from lambdalab import toolchains  # noqa: E402

NAME = "runtimes"
INIT_DURATION = re.compile(r"Init Duration: ([0-9.]+) ms")
AVAILABLE = {
    "python": lambda: True,
    "node": lambda: toolchains.find_node() is not None,
    "ruby": lambda: toolchains.find_ruby() is not None,
    "java": lambda: toolchains.find_java() is not None and toolchains.find_javac() is not None,
    "go": lambda: toolchains.find_go() is not None,
    "shell": lambda: shutil.which("curl") is not None,
}


def invoke(lam: object, function: str) -> tuple[float, float | None]:
    """(round trip in s, Init Duration in ms or None)."""
    started = time.perf_counter()
    response = lam.invoke(FunctionName=function, Payload=b'{"bench": true}', LogType="Tail")
    body = response["Payload"].read()
    elapsed = time.perf_counter() - started
    if response.get("FunctionError") or response["StatusCode"] != 200:
        raise Failure(f"invoke of {function} failed: {response.get('FunctionError')} {body[:300]!r}")
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    match = INIT_DURATION.search(tail)
    return elapsed, float(match.group(1)) if match else None


def deploy(lam: object, role: str, language: str, cache: Path) -> str:
    name = f"bench-{language}"
    if language == "shell":
        runtime, handler, package = "provided.al2023", "function.handler", shell_zip()
    else:
        sample = SAMPLES[language]
        runtime, handler, package = sample.runtime, sample.handler, sample.build(cache)
    lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler, MemorySize=512,
                        Timeout=30, Code={"ZipFile": package})
    return name


def run(home: Home, rounds: int, warm_per_cold: int, settings: dict[str, str]) -> None:
    languages = [language for language, available in AVAILABLE.items() if available()]
    missing = [language for language in AVAILABLE if language not in languages]
    cloud = start_cloud(home.sub("cloud"), settings)
    figures = {language: {"init_ms": [], "cold_s": [], "warm_s": []} for language in languages}
    try:
        lam = cloud.client("lambda")
        role = create_role(cloud.client("iam"))
        functions = {language: deploy(lam, role, language, home.sub("build-cache")) for language in languages}
        for function in functions.values():
            invoke(lam, function)  # first-time costs (unpacking, compiling Java's runtime) are paid here
        for number in range(rounds):
            for language, function in functions.items():
                lam.update_function_configuration(FunctionName=function,
                                                  Environment={"Variables": {"ROUND": str(number)}})
                elapsed, init = invoke(lam, function)
                if init is None:
                    raise Failure(f"round {number}: the cold invoke of {function} was not cold")
                figures[language]["cold_s"].append(elapsed)
                figures[language]["init_ms"].append(init)
                for _ in range(warm_per_cold):
                    elapsed, init = invoke(lam, function)
                    if init is not None:
                        raise Failure(f"round {number}: a warm invoke of {function} was cold")
                    figures[language]["warm_s"].append(elapsed)
    finally:
        cloud.stop()

    python = {key: summary(values)["median"] for key, values in figures["python"].items()}
    print(f"Cold and warm invokes per runtime ({rounds} cold invokes each, {warm_per_cold} warm after each; "
          "512 MB; medians; ratio = runtime / Python in this run)")
    print(f"  {'runtime':<8} {'Init Duration':>14} {'ratio':>7} {'cold round trip':>16} {'ratio':>7} "
          f"{'warm round trip':>16} {'ratio':>7}")
    results = {}
    for language in languages:
        medians = {key: summary(values)["median"] for key, values in figures[language].items()}
        ratios = {key: medians[key] / python[key] for key in medians}
        results[language] = {
            "runtime": SAMPLES[language].runtime if language in SAMPLES else "provided.al2023 (shell)",
            "init_duration_ms": summary(figures[language]["init_ms"]),
            "cold_round_trip_ms": {k: (ms(v) if k != "n" else v) for k, v in summary(figures[language]["cold_s"]).items()},
            "warm_round_trip_ms": {k: (ms(v) if k != "n" else v) for k, v in summary(figures[language]["warm_s"]).items()},
            "ratio_to_python": {key: round(value, 3) for key, value in ratios.items()},
        }
        print(f"  {language:<8} {medians['init_ms']:11.1f} ms {ratios['init_ms']:6.2f}x "
              f"{ms(medians['cold_s']):13.1f} ms {ratios['cold_s']:6.2f}x "
              f"{ms(medians['warm_s']):13.2f} ms {ratios['warm_s']:6.2f}x")
    if missing:
        print(f"  not measured (not installed here): {', '.join(missing)}")
    summary_line = " | ".join(f"{language} init {results[language]['init_duration_ms']['median']:.1f} ms "
                              f"RATIO {results[language]['ratio_to_python']['init_ms']:.2f}x "
                              f"warm RATIO {results[language]['ratio_to_python']['warm_s']:.2f}x"
                              for language in languages if language != "python")
    print(f"RESULT runtimes: python init {python['init_ms']:.1f} ms, warm {ms(python['warm_s']):.2f} ms | {summary_line}")
    path = write_results(NAME, {
        "description": "cold (Init Duration, round trip) and warm round trip per runtime, against Python",
        "rounds": rounds, "warm_per_cold": warm_per_cold, "memory_mb": 512, "settings": settings,
        "toolchains": toolchains.summary(), "not_measured": missing, "runtimes": results,
        "raw": {language: {"init_ms": values["init_ms"], "cold_ms": [ms(t) for t in values["cold_s"]],
                           "warm_ms": [ms(t) for t in values["warm_s"]]} for language, values in figures.items()},
    })
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="cold invokes per runtime (default 10)")
    parser.add_argument("--warm", type=int, default=5, help="warm invokes after each cold one (default 5)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Lambda Lab setting for the cloud, e.g. freeze_idle_environments=0")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.rounds, args.warm, settings))


if __name__ == "__main__":
    sys.exit(main())
