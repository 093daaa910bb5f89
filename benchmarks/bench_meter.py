"""What the billing meter and the metrics cost: per invoke, against a warm invoke measured in the same run.

1. Listeners: the meter's and the metrics' listeners run inside every invoke (engine._finish).
   Their time per invocation, in this process with moto's CloudWatch backend in memory, is divided
   by the median warm invoke round trip through boto3 against a fresh cloud.
   RATIO = listener time / warm invoke (the share of a warm invoke spent on bookkeeping).
2. The bill: pricing a full meter (100,000 entries, the most it keeps one by one) as GET
   /lambdalab/bill does, against the same warm invoke (how many invokes one bill costs): for one
   function, and for 5 functions taking turns.
3. Memory: bytes per meter entry (tracemalloc), and CloudWatch datapoints per invoke.

    .venv/bin/python benchmarks/bench_meter.py [--invokes 200] [--records 20000] [--entries 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (ECHO_FUNCTION_CODE, Failure, Home, create_function, create_role, ms, run_main,  # noqa: E402
                    start_cloud, summary, write_results)

NAME = "meter"


def warm_invoke_seconds(home: Home, invokes: int) -> list[float]:
    cloud = start_cloud(home.sub("cloud"))
    try:
        lam = cloud.client("lambda")
        create_function(lam, "echo", ECHO_FUNCTION_CODE, create_role(cloud.client("iam")))
        lam.invoke(FunctionName="echo", Payload=b"{}")["Payload"].read()  # the cold start
        times = []
        for _ in range(invokes):
            started = time.perf_counter()
            response = lam.invoke(FunctionName="echo", Payload=b'{"a": 1}')
            response["Payload"].read()
            times.append(time.perf_counter() - started)
            if response.get("FunctionError"):
                raise Failure("the echo function failed")
        return times
    finally:
        cloud.stop()


def record(n: int, function_arn: str):
    from lambdalab.records.invocations import InvocationRecord

    return InvocationRecord(
        request_id=f"00000000-0000-0000-0000-{n:012d}", function_name=function_arn.rsplit(":", 1)[1],
        function_arn=function_arn, version="$LATEST", invocation_type="RequestResponse", started_at=time.time(),
        duration_ms=12.3, billed_ms=13, init_ms=None, memory_mb=128, max_memory_mb=40, architecture="x86_64",
        ephemeral_storage_mb=512, runtime="python3.12", environment_id="env", error_type=None, timed_out=False,
        logged=True)


def listener_seconds(records: int) -> tuple[float, int]:
    """Seconds per invocation of meter.record + metrics.record; datapoints stored per second of records."""
    from moto.cloudwatch.models import cloudwatch_backends

    from lambdalab.core.clock import CloudClock
    from lambdalab.engine.concurrency import ConcurrencyCounter
    from lambdalab.records.meter import Meter
    from lambdalab.aws.metrics_sink import LambdaMetrics

    clock = CloudClock()
    meter, metrics = Meter(clock), LambdaMetrics(clock, ConcurrencyCounter(1000))
    arns = [f"arn:aws:lambda:us-east-1:000000000077:function:f{n}" for n in range(5)]
    made = [record(n, arns[n % len(arns)]) for n in range(records)]
    started = time.perf_counter()
    for each in made:
        meter.record(each)
        metrics.record(each)
    elapsed = time.perf_counter() - started
    clock.stop()
    return elapsed / records, len(cloudwatch_backends["000000000077"]["us-east-1"].metric_data)


def meter_of(entries: int, functions: int = 1):
    from lambdalab.records.meter import Meter

    class Clock:
        def now(self) -> float:
            return 1_900_000_000.0

    meter = Meter(Clock(), keep=entries)
    arns = [f"arn:aws:lambda:us-east-1:000000000078:function:f{n}" for n in range(functions)]
    for n in range(entries):
        meter.record(record(n, arns[n % functions]))
    return meter


def bill_seconds(meter, rounds: int = 3) -> float:
    from lambdalab.records.bill import price

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        entries = meter.entries()
        bill = price(entries, 0.0, 2_000_000_000.0)
        bill.as_json()
        times.append(time.perf_counter() - started)
    if bill.requests != len(entries):
        raise Failure(f"the bill counts {bill.requests} requests of {len(entries)}")
    return statistics.median(times)


def bytes_per_entry(entries: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    meter = meter_of(entries)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del meter
    return (after - before) / entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=200)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    return run_main(NAME, lambda home: measure(home, args))


def measure(home: Home, args: argparse.Namespace) -> None:
    warm = statistics.median(warm_invoke_seconds(home, args.invokes))
    per_invocation, datapoints = listener_seconds(args.records)
    bill = bill_seconds(meter_of(args.entries))
    interleaved = bill_seconds(meter_of(args.entries, functions=5))
    per_entry = bytes_per_entry(args.entries)

    print(f"warm invoke (median of {args.invokes}):           {ms(warm):9.3f} ms")
    print(f"meter + metrics listeners per invoke:        {ms(per_invocation):9.3f} ms   "
          f"RATIO {per_invocation / warm:.4f} of a warm invoke")
    print(f"CloudWatch datapoints kept for {args.records} invokes: {datapoints} (one set per series and second)")
    print(f"bill of {args.entries:,} meter entries:          {ms(bill):9.3f} ms   "
          f"RATIO {bill / warm:.1f} warm invokes")
    print(f"  the same, 5 functions taking turns:        {ms(interleaved):9.3f} ms   "
          f"RATIO {interleaved / warm:.1f} warm invokes")
    print(f"meter memory per entry:                      {per_entry:9.0f} bytes "
          f"({per_entry * args.entries / 2**20:.1f} MiB for {args.entries:,})")
    write_results(NAME, {
        "warm_invoke_ms": ms(warm),
        "listeners_ms_per_invoke": ms(per_invocation),
        "listeners_ratio_to_warm_invoke": per_invocation / warm,
        "cloudwatch_datapoints": datapoints,
        "records": args.records,
        "bill_ms": ms(bill),
        "bill_entries": args.entries,
        "bill_ratio_to_warm_invoke": bill / warm,
        "bill_interleaved_ms": ms(interleaved),
        "bill_interleaved_ratio_to_warm_invoke": interleaved / warm,
        "meter_bytes_per_entry": per_entry,
    })


if __name__ == "__main__":
    sys.exit(main())
