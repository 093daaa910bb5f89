"""AWS/Lambda metrics in CloudWatch: what the test provokes (invokes, errors, throttles, overlapping
invokes) is what GetMetricStatistics and GetMetricData answer through boto3, per function."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from lambdalab.aws import metrics_sink as metrics
from support import create_function, create_role, invoke_json, wait_until

WORK = """import time
def handler(event, context):
    time.sleep(event.get('sleep', 0))
    if event.get('fail'):
        raise ValueError('asked to fail')
    return 'done'
"""
# Waits until the test opens its gate (an object in S3), so the test decides when each invoke ends.
GATED = """import time, boto3
s3 = boto3.client('s3')
def handler(event, context):
    while True:
        try:
            s3.head_object(Bucket='gates', Key=event['gate'])
            return 'through'
        except Exception:
            time.sleep(0.05)
"""
GATE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::gates/*"}]}


def datapoints(aws, metric: str, statistic: str, function_name: str | None = None) -> list[dict]:
    now = datetime.now(timezone.utc)
    dimensions = [{"Name": "FunctionName", "Value": function_name}] if function_name else []
    return aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=dimensions, StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5), Period=3600, Statistics=[statistic])["Datapoints"]


def total(aws, metric: str, function_name: str | None = None) -> float:
    return sum(point["Sum"] for point in datapoints(aws, metric, "Sum", function_name))


def peak(aws, metric: str, function_name: str | None = None) -> float:
    return max((point["Maximum"] for point in datapoints(aws, metric, "Maximum", function_name)), default=0.0)


def throttled(lam, name: str) -> None:
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"


def concurrent_executions(aws) -> int:
    return aws.admin("GET", "/lambdalab/status")["concurrent_executions"]


def gated_invokes(aws, name: str, gates: list[str]) -> list[threading.Thread]:
    lam = aws.client("lambda")
    threads = [threading.Thread(target=invoke_json, args=(lam, name, {"gate": gate})) for gate in gates]
    for thread in threads:
        thread.start()
    return threads


@pytest.fixture
def gates(aws):
    """An S3 bucket of gates and a role that may read it: put_object opens a gate."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="gates")
    return s3


def test_invocations_errors_duration_and_throttles_match_what_happened(aws, lam, role):
    create_function(lam, "work", WORK, role, Timeout=1)
    create_function(lam, "other", WORK, role)
    for _ in range(5):
        invoke_json(lam, "work")
    invoke_json(lam, "work", {"fail": True})
    invoke_json(lam, "work", {"sleep": 3})  # a timeout is an error too
    invoke_json(lam, "other")
    invoke_json(lam, "other")
    lam.put_function_concurrency(FunctionName="work", ReservedConcurrentExecutions=0)
    for _ in range(3):
        throttled(lam, "work")

    assert total(aws, "Invocations", "work") == 7  # throttled invokes are not invocations
    assert total(aws, "Errors", "work") == 2
    assert total(aws, "Throttles", "work") == 3
    assert total(aws, "Invocations", "other") == 2
    assert total(aws, "Errors", "other") == 0
    assert datapoints(aws, "Throttles", "Sum", "other") == []

    durations = datapoints(aws, "Duration", "SampleCount", "work")
    assert sum(point["SampleCount"] for point in durations) == 7
    assert {point["Unit"] for point in durations} == {"Milliseconds"}
    assert peak(aws, "Duration", "work") == 1000.0  # the timeout's duration is the timeout
    invocation_records = aws.admin("GET", "/lambdalab/invocations")
    assert total(aws, "Duration", "other") == pytest.approx(
        sum(r["duration_ms"] for r in invocation_records if r["function_name"] == "other"))
    error_rate = datapoints(aws, "Errors", "Average", "work")[0]["Average"]
    assert error_rate == pytest.approx(2 / 7)

    # the account-wide figures, without dimensions, cover every function
    assert total(aws, "Invocations") == 9
    assert total(aws, "Throttles") == 3
    names = {metric["Dimensions"][0]["Value"] for metric in aws.client("cloudwatch").list_metrics(
        Namespace="AWS/Lambda", MetricName="Invocations")["Metrics"]}
    assert names == {"work", "other"}


def test_get_metric_data_answers_per_function(aws, lam, role):
    create_function(lam, "queried", WORK, role)
    for event in ({}, {}, {"fail": True}):
        invoke_json(lam, "queried", event)
    now = datetime.now(timezone.utc)

    def query(query_id: str, metric: str, stat: str) -> dict:
        return {"Id": query_id, "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": "queried"}]}, "Period": 60, "Stat": stat}}

    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query("invocations", "Invocations", "Sum"), query("errors", "Errors", "Sum"),
                           query("slowest", "Duration", "Maximum")],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=2))
    results = {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}
    assert sum(results["invocations"]) == 3
    assert sum(results["errors"]) == 1
    assert max(results["slowest"]) > 0


def test_concurrent_executions_is_the_peak_of_overlapping_invokes(aws, lam, iam, gates):
    role = create_role(iam, "gated-role", inline=GATE_POLICY)
    create_function(lam, "gated", GATED, role, Timeout=60)
    create_function(lam, "alone", WORK, role)
    invoke_json(lam, "alone")
    threads = gated_invokes(aws, "gated", ["one", "two", "three"])
    wait_until(lambda: concurrent_executions(aws) == 3, 60, 0.05, "three invokes running at once")
    gates.put_object(Bucket="gates", Key="one", Body=b"")
    wait_until(lambda: total(aws, "Invocations", "gated") == 1, 60, 0.05, "the first invoke's metrics written")
    gates.put_object(Bucket="gates", Key="two", Body=b"")
    gates.put_object(Bucket="gates", Key="three", Body=b"")
    for thread in threads:
        thread.join(60)

    assert peak(aws, "ConcurrentExecutions", "gated") == 3
    assert peak(aws, "ConcurrentExecutions", "alone") == 1
    assert peak(aws, "ConcurrentExecutions") == 3  # the account's peak
    assert total(aws, "Invocations", "gated") == 3


def test_a_busy_function_with_reserved_concurrency_1_counts_its_throttles(aws, lam, iam, gates):
    role = create_role(iam, "gated-role", inline=GATE_POLICY)
    create_function(lam, "single", GATED, role, Timeout=60)
    lam.put_function_concurrency(FunctionName="single", ReservedConcurrentExecutions=1)
    threads = gated_invokes(aws, "single", ["open"])
    wait_until(lambda: concurrent_executions(aws) == 1, 60, 0.05, "the first invoke running")
    throttled(lam, "single")
    throttled(lam, "single")
    gates.put_object(Bucket="gates", Key="open", Body=b"")
    for thread in threads:
        thread.join(60)
    assert total(aws, "Throttles", "single") == 2
    assert total(aws, "Invocations", "single") == 1
    assert total(aws, "Errors", "single") == 0


def test_metrics_start_again_after_a_reset(aws, lam, role):
    create_function(lam, "again", WORK, role)
    invoke_json(lam, "again")
    assert total(aws, "Invocations", "again") == 1
    aws.reset()
    assert datapoints(aws, "Invocations", "Sum", "again") == []


def test_the_iterator_age_hook_writes_a_per_function_metric():
    """put_iterator_age is what the stream pollers call; it writes into the cloud process's CloudWatch."""
    from moto.cloudwatch.models import cloudwatch_backends

    from lambdalab.core.clock import CloudClock
    from lambdalab.engine.concurrency import ConcurrencyCounter

    clock = CloudClock()
    clock.use_virtual(datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())
    publisher = metrics.LambdaMetrics(clock, ConcurrencyCounter(1000))
    arn = "arn:aws:lambda:eu-west-1:000000000042:function:reader"
    publisher.put_iterator_age(arn, 1500.0)
    publisher.put_iterator_age(arn, 250.0)
    backend = cloudwatch_backends["000000000042"]["eu-west-1"]
    stats = backend.get_metric_statistics("AWS/Lambda", "IteratorAge", datetime(2029, 12, 31), datetime(2030, 1, 2),
                                          3600, ["Maximum", "SampleCount"], [{"Name": "FunctionName", "Value": "reader"}])
    assert [(s.maximum, s.sample_count, s.unit) for s in stats] == [(1500.0, 2, "Milliseconds")]
    assert stats[0].timestamp == datetime(2030, 1, 1)
    clock.stop()


def test_a_busy_second_is_one_statistic_set_per_series_whatever_the_number_of_invokes():
    """Memory grows with the seconds the cloud was busy, not with the invokes; the statistics stay exact."""
    from moto.cloudwatch.models import cloudwatch_backends

    from lambdalab.core.clock import CloudClock
    from lambdalab.engine.concurrency import ConcurrencyCounter
    from lambdalab.records.invocations import InvocationRecord

    clock = CloudClock()
    clock.use_virtual(datetime(2030, 2, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp())
    publisher = metrics.LambdaMetrics(clock, ConcurrencyCounter(1000))
    arn = "arn:aws:lambda:eu-west-1:000000000043:function:busy"
    for n in range(1000):
        publisher.record(InvocationRecord(
            request_id=str(n), function_name="busy", function_arn=arn, version="$LATEST",
            invocation_type="RequestResponse", started_at=0.0, duration_ms=float(n), billed_ms=n + 1, init_ms=None,
            memory_mb=128, max_memory_mb=20, architecture="x86_64", ephemeral_storage_mb=512, runtime="python3.12",
            environment_id="e", error_type="Unhandled" if n % 10 == 0 else None, timed_out=False, logged=True))
    publisher.record_throttle(type("Spec", (), {"arn": arn})())
    backend = cloudwatch_backends["000000000043"]["eu-west-1"]
    assert len(backend.metric_data) == 6  # Invocations, Errors, Duration, ConcurrentExecutions (x2), Throttles

    def stat(metric: str, statistic: str) -> float:
        found = backend.get_metric_statistics("AWS/Lambda", metric, datetime(2030, 2, 1), datetime(2030, 2, 2), 60,
                                              [statistic], [{"Name": "FunctionName", "Value": "busy"}])
        return found[0].get_statistics_for_type(statistic)

    assert stat("Invocations", "Sum") == 1000
    assert stat("Errors", "Sum") == 100 and stat("Errors", "Average") == pytest.approx(0.1)
    assert (stat("Duration", "Minimum"), stat("Duration", "Maximum")) == (0.0, 999.0)
    assert stat("Duration", "Average") == pytest.approx(499.5)
    assert stat("Throttles", "Sum") == 1
    clock.advance(1)
    publisher.put_iterator_age(arn, 5.0)
    assert len(backend.metric_data) == 7  # a new second, a new set
    clock.stop()
