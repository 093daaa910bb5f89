"""One day of a rate(1 minute) schedule on the virtual clock, against 1,440 direct invokes.

Schedule: a fresh local cloud, an EventBridge rule rate(1 minute) whose target is a Python
function (with the permission EventBridge needs), the clock switched to virtual time and advanced
by one day in one admin request: 1,440 firings, each a Scheduled Event through the async queue to
the function, run one after another, in order, before the request returns.
Baseline: the same function invoked directly (boto3 lambda.invoke, RequestResponse) 1,440 times,
in the same cloud, in the same run.

The issue asks that the day run in under 10 s; the test suite checks the count and the order
(tests/test_eventbridge.py) and never the time, which is measured only here.

    .venv/bin/python benchmarks/bench_schedule_day.py [--minutes 1440] [--setting NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Failure, Home, create_function, create_role, run_main, setting_variables,  # noqa: E402
                    start_cloud, write_results)

NAME = "schedule_day"
TARGET_S = 10.0
START = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
CODE = "def handler(event, context):\n    return event.get('time')\n"


def advance_one_schedule_day(cloud: object, minutes: int) -> tuple[float, list[float]]:
    """Wall seconds of the advance, and the moments the schedule fired, as the clock reported them."""
    started = time.perf_counter()
    report = cloud.admin_json("POST", "/lambdalab/clock", {"advance_s": minutes * 60})
    elapsed = time.perf_counter() - started
    return elapsed, [fired["at"] for fired in report["fired"] if fired["name"] == "schedule minutely"]


def invoke_directly(lam: object, times: int) -> float:
    started = time.perf_counter()
    for number in range(times):
        response = lam.invoke(FunctionName="minutely-target", Payload=json.dumps({"time": number}))
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise Failure(f"direct invoke {number} failed: {body[:300]!r}")
    return time.perf_counter() - started


def run(home: Home, minutes: int, settings: dict[str, str]) -> None:
    cloud = start_cloud(home.sub("cloud"), settings)
    try:
        lam, events = cloud.client("lambda"), cloud.client("events")
        role = create_role(cloud.client("iam"))
        arn = create_function(lam, "minutely-target", CODE, role)["FunctionArn"]
        invoke_directly(lam, 5)  # warm: both measurements start from a warm environment
        cloud.admin_json("POST", "/lambdalab/clock", {"mode": "virtual", "start": START})
        rule_arn = events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")["RuleArn"]
        events.put_targets(Rule="minutely", Targets=[{"Id": "target", "Arn": arn}])
        lam.add_permission(FunctionName="minutely-target", StatementId="schedule", Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com", SourceArn=rule_arn)
        before = len(cloud.admin("GET", "/lambdalab/invocations"))
        schedule_s, fired = advance_one_schedule_day(cloud, minutes)
        scheduled = len(cloud.admin("GET", "/lambdalab/invocations")) - before
        expected = [START + 60 * n for n in range(1, minutes + 1)]
        if fired != expected:
            raise Failure(f"the schedule fired {len(fired)} times, not once a minute in order")
        if scheduled != minutes:
            raise Failure(f"{scheduled} scheduled invocations ran during the advance, not {minutes}")
        cloud.admin_json("POST", "/lambdalab/clock", {"mode": "real"})
        direct_s = invoke_directly(lam, minutes)
    finally:
        cloud.stop()

    ratio = schedule_s / direct_s
    print(f"One day of rate(1 minute) on the virtual clock: {minutes} scheduled invocations in one advance")
    print(f"  schedule day (one advance):   {schedule_s:8.2f} s   ({schedule_s / minutes * 1000:6.2f} ms each)")
    print(f"  baseline ({minutes} direct invokes): {direct_s:8.2f} s   ({direct_s / minutes * 1000:6.2f} ms each)")
    print(f"  target: the day in under {TARGET_S:g} s: {'met' if schedule_s < TARGET_S else 'NOT met'}")
    print(f"RESULT schedule_s={schedule_s:.3f} direct_s={direct_s:.3f} RATIO={ratio:.2f}")
    path = write_results(NAME, {"minutes": minutes, "schedule_s": schedule_s, "direct_s": direct_s, "ratio": ratio,
                                "target_s": TARGET_S, "settings": settings})
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=1440, help="minutes of schedule to advance (a day: 1440)")
    parser.add_argument("--setting", action="append", default=[], help="a Lambda Lab setting NAME=VALUE")
    arguments = parser.parse_args()
    settings = setting_variables(arguments.setting)
    return run_main(NAME, lambda home: run(home, arguments.minutes, settings))


if __name__ == "__main__":
    sys.exit(main())
