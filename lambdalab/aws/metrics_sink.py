"""Lambda's own metrics (namespace AWS/Lambda) in CloudWatch, written as Lambda writes them on AWS.

Per function (dimension ``FunctionName``), from the engine's listeners:

- ``Invocations`` (Count, 1 per invocation that ran, errors included, throttles not),
- ``Errors`` (Count, 1 for a function error: an unhandled exception, a timeout, a crash, an
  INIT failure; 0 otherwise, so that Average is the error rate),
- ``Duration`` (Milliseconds, the invoke phase: INIT is not in it, as on AWS),
- ``Throttles`` (Count, 1 per throttled invoke),
- ``ConcurrentExecutions`` (Count; read it with Maximum), also account-wide without dimensions,
- ``IteratorAge`` (Milliseconds) when a stream poller calls :meth:`LambdaMetrics.put_iterator_age`.

They go straight into moto's CloudWatch backend, so ``GetMetricStatistics``,
``GetMetricData`` and ``ListMetrics`` answer with them through boto3 as on AWS. Each series is
kept as one statistic set (Sum, Minimum, Maximum, SampleCount) per second, stamped at the start
of its second: every statistic comes out as from single values, and memory grows with the
seconds the cloud was busy, not with the number of invocations (AWS keeps Lambda's metrics per
minute; a second is finer, and moto rounds a query's StartTime down to the second only).

One moto quirk shapes what is written: moto answers a query *without* dimensions with every
datapoint of the metric, whatever their dimensions (AWS answers with the dimensionless series
only). So the account-wide Invocations, Errors, Duration and Throttles are not written: moto's
answer to the dimensionless query is already their sum over all functions, which is what AWS's
account-wide series holds. ConcurrentExecutions is written account-wide as well, because the
account's peak is not a sum of the functions' peaks; read with Maximum, moto's mixed answer is
the account's peak, since the account's count is never below one function's.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

from ..core.arns import FunctionArn
from ..engine.concurrency import ConcurrencyCounter
from ..engine.spec import FunctionSpec
from ..records.invocations import InvocationRecord

NAMESPACE = "AWS/Lambda"
COUNT = "Count"
MILLISECONDS = "Milliseconds"


class LambdaMetrics:
    """Turns the engine's invocations and throttles into AWS/Lambda datapoints."""

    def __init__(self, clock: Any, concurrency: ConcurrencyCounter) -> None:
        self._clock = clock
        self._concurrency = concurrency
        self._lock = threading.Lock()
        # (account, region) -> (the backend's datapoint list, {(metric, dimensions, unit, second): datum});
        # moto's reset gives the backend a new list, and the index starts again with it.
        self._series: dict[tuple[str, str], tuple[list, dict[tuple, MetricAggregatedDatum]]] = {}

    def record(self, record: InvocationRecord) -> None:
        """An engine listener, called after the invocation released its concurrency slot: the count it
        saw is the others still running plus itself. The earliest to finish of a set of overlapping
        invocations sees them all, so Maximum over a period is the period's peak."""
        self.put_function_metrics(record.function_arn, [
            ("Invocations", 1, COUNT),
            ("Errors", int(record.error_type is not None), COUNT),
            ("Duration", record.duration_ms, MILLISECONDS),
            ("ConcurrentExecutions", self._concurrency.running(record.function_arn) + 1, COUNT),
        ])
        self.put_account_metric(record.function_arn, "ConcurrentExecutions", self._concurrency.total() + 1, COUNT)

    def record_throttle(self, spec: FunctionSpec) -> None:
        """An engine throttle listener: the invoke of this function was refused (TooManyRequestsException)."""
        self.put_function_metrics(spec.arn, [("Throttles", 1, COUNT)])

    def put_iterator_age(self, function: str | FunctionSpec, age_ms: float) -> None:
        """How old the last record of a stream batch was when the function got it (Kinesis, DynamoDB)."""
        self.put_function_metrics(_arn(function), [("IteratorAge", age_ms, MILLISECONDS)])

    def put_function_metrics(self, function_arn: str, metrics: list[tuple[str, float, str]]) -> None:
        """(name, value, unit) datapoints of one function, now by the cloud's clock. Never raises: a
        metric that cannot be written must not fail the invocation it describes."""
        account, region, name = _parts(function_arn)
        self._put(account, region, (("FunctionName", name),), metrics)

    def put_account_metric(self, function_arn: str, metric: str, value: float, unit: str) -> None:
        """A datapoint without dimensions, in the account and region of the function."""
        account, region, _ = _parts(function_arn)
        self._put(account, region, (), [(metric, value, unit)])

    def _second(self) -> datetime:
        """The start of the clock's current second, as moto keeps times (naive UTC)."""
        return datetime.fromtimestamp(int(self._clock.now()), timezone.utc).replace(tzinfo=None)

    def _put(self, account: str, region: str, dimensions: tuple[tuple[str, str], ...],
             metrics: list[tuple[str, float, str]]) -> None:
        try:
            second = self._second()
            with self._lock:
                data = cloudwatch_backends[account][region].metric_data
                known, series = self._series.get((account, region), (None, {}))
                if known is not data:
                    series = {}
                    self._series[(account, region)] = (data, series)
                for metric, value, unit in metrics:
                    _add(data, series, (metric, dimensions, unit, second), float(value))
        except Exception:  # noqa: BLE001 - see put_function_metrics
            pass


def _add(data: list, series: dict[tuple, MetricAggregatedDatum], key: tuple, value: float) -> None:
    """One value into its second's statistic set, made (and handed to moto) on the second's first value."""
    datum = series.get(key)
    if datum is None:
        metric, dimensions, unit, second = key
        datum = MetricAggregatedDatum(NAMESPACE, metric, min_stat=value, max_stat=value, sample_count=1.0,
                                      sum_stat=value, dimensions=[{"Name": n, "Value": v} for n, v in dimensions],
                                      timestamp=second, unit=unit)
        series[key] = datum
        data.append(datum)
        return
    datum.sum += value
    datum.sample_count += 1
    datum.min = min(datum.min, value)
    datum.max = max(datum.max, value)


def _arn(function: str | FunctionSpec) -> str:
    return function if isinstance(function, str) else function.arn


def _parts(function_arn: str) -> tuple[str, str, str]:
    """A function's ARN -> (account, region, name)."""
    arn = FunctionArn.parse(function_arn)
    if arn is None:
        raise ValueError(f"not a function ARN: {function_arn}")
    return arn.account_id, arn.region, arn.name
