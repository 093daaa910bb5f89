"""Power tuning: run one function at several memory sizes and see what each costs and how fast it is.

Memory is Lambda's only performance knob: CPU comes with it (1,769 MB buys one vCPU), and the
price of a millisecond grows with it. Whether more memory pays for itself depends on the code,
so the only way to know is to measure, as AWS's Lambda Power Tuning tool does. This uses plain
boto3 (UpdateFunctionConfiguration, then Invoke with LogType=Tail) and reads each REPORT line,
so it works on any function, here or on AWS.

The first invoke after a configuration change is a cold start: it is made as a warm-up, kept
apart (cold starts, init duration) and left out of the figures, which describe warm invokes.

This is the model: running the tuning through a boto3 client (``tune``), the result table and
its plain-text form. The learner's ``lambdalab.power_tune``, the progress bar, the chart and the
widget are in :mod:`lambdalab.widgets.power_tuning`, which imports this module, never the reverse.
"""

from __future__ import annotations

import base64
import json
import statistics
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from .client.connection import aws_client
from .records import pricing
from .records.logs import parse_report

DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
SAME_SPEED = 0.05  # medians closer than this are the same speed, given a laptop's noise


class PowerTuningError(Exception):
    """power_tune cannot start: no such function, or arguments it cannot use."""


@dataclass(frozen=True)
class Sample:
    """One invoke's REPORT figures."""

    duration_ms: float
    billed_ms: float
    init_ms: float | None = None

    @property
    def cold(self) -> bool:
        return self.init_ms is not None


@dataclass(frozen=True)
class TuningRow:
    """One memory size: the figures of its warm invokes, what one invoke costs, or what went wrong."""

    memory_mb: int
    architecture: str
    invokes: int
    cold_starts: int
    median_ms: float | None
    mean_ms: float | None
    min_ms: float | None
    max_ms: float | None
    billed_ms: float | None
    init_ms: float | None
    cost_per_invoke: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Measured without an error: a candidate for cheapest and fastest."""
        return self.error is None and self.median_ms is not None

    @property
    def cost_per_million(self) -> float | None:
        return None if self.cost_per_invoke is None else self.cost_per_invoke * 1_000_000

    @property
    def gb_seconds_per_invoke(self) -> float | None:
        return None if self.billed_ms is None else pricing.gb_seconds(self.memory_mb, self.billed_ms)


def cost_per_invoke(billed_ms: float, memory_mb: int, architecture: str = "x86_64") -> float:
    """One invoke's request charge plus its duration charge, without the free tier."""
    return (pricing.REQUEST_PRICE_PER_MILLION / 1_000_000
            + pricing.duration_cost(pricing.gb_seconds(memory_mb, billed_ms), architecture))


def summarise(memory_mb: int, samples: Sequence[Sample], architecture: str = "x86_64",
              error: str | None = None) -> TuningRow:
    """A row from the samples of one memory size; cold starts are counted, not averaged in.

    Shared by power_tune and by checks that recompute a learner's choice from the cloud's
    record of the same invokes, so both always agree on the figures.
    """
    cold = [s for s in samples if s.cold]
    warm = [s for s in samples if not s.cold]
    init_ms = statistics.fmean(s.init_ms for s in cold) if cold else None
    if not warm:
        return TuningRow(memory_mb, architecture, 0, len(cold), None, None, None, None, None, init_ms, None, error)
    durations = [s.duration_ms for s in warm]
    billed = statistics.fmean(s.billed_ms for s in warm)
    return TuningRow(
        memory_mb=memory_mb, architecture=architecture, invokes=len(warm), cold_starts=len(cold),
        median_ms=statistics.median(durations), mean_ms=statistics.fmean(durations),
        min_ms=min(durations), max_ms=max(durations), billed_ms=billed, init_ms=init_ms,
        cost_per_invoke=cost_per_invoke(billed, memory_mb, architecture), error=error,
    )


def cheapest_row(rows: Iterable[TuningRow]) -> TuningRow | None:
    """Lowest cost per invoke; on a tie, the faster one."""
    candidates = [r for r in rows if r.ok]
    return min(candidates, key=lambda r: (r.cost_per_invoke, r.median_ms)) if candidates else None


def fastest_row(rows: Iterable[TuningRow]) -> TuningRow | None:
    """Lowest median duration; on a tie, the cheaper one."""
    candidates = [r for r in rows if r.ok]
    return min(candidates, key=lambda r: (r.median_ms, r.cost_per_invoke)) if candidates else None


@dataclass(repr=False)
class PowerTuningResult:
    """Every memory size tried, with the cheapest and the fastest; its repr is the table as text.

    A plain record: the view (:class:`lambdalab.widgets.power_tuning.PowerTuningView`) wraps it
    to draw the table and the chart, so the result can be made and read without ipywidgets."""

    function_name: str
    architecture: str
    invokes: int
    original_memory_mb: int
    rows: list[TuningRow] = field(default_factory=list)
    restored: bool = True

    @property
    def cheapest(self) -> TuningRow | None:
        return cheapest_row(self.rows)

    @property
    def fastest(self) -> TuningRow | None:
        return fastest_row(self.rows)

    def row(self, memory_mb: int) -> TuningRow:
        for row in self.rows:
            if row.memory_mb == memory_mb:
                return row
        raise KeyError(f"{memory_mb} MB was not tuned; tuned: {[r.memory_mb for r in self.rows]}")

    def text(self) -> str:
        return tuning_text(self)

    def __repr__(self) -> str:
        return self.text()


# --- the result in words: the plain-text form, which the view reuses in its table and verdict --------

def money(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


def row_summary(row: TuningRow) -> str:
    if not row.ok:
        return f"{row.memory_mb:>5} MB: error: {row.error}"
    return (f"{row.memory_mb:>5} MB: median {row.median_ms:.1f} ms, "
            f"{money(row.cost_per_million)} per million invokes")


def restore_sentence(result: PowerTuningResult) -> str:
    if not any(r.memory_mb != result.original_memory_mb for r in result.rows):
        return f"Memory left at {result.original_memory_mb} MB."
    if result.restored:
        return f"Memory restored to {result.original_memory_mb} MB."
    return f"Memory could NOT be restored to {result.original_memory_mb} MB: set it yourself."


def verdict_lines(result: PowerTuningResult) -> list[str]:
    cheapest, fastest = result.cheapest, result.fastest
    if cheapest is None or fastest is None:
        return ["No memory size ran without an error: nothing to compare."]
    return [f"Cheapest: {cheapest.memory_mb} MB, {money(cheapest.cost_per_million)} per million invokes "
            f"(median {cheapest.median_ms:.1f} ms).",
            f"Fastest: {fastest.memory_mb} MB, median {fastest.median_ms:.1f} ms "
            f"({money(fastest.cost_per_million)} per million invokes)."] + _speed_note(cheapest, fastest)


def _speed_note(cheapest: TuningRow, fastest: TuningRow) -> list[str]:
    """Say so when "fastest" is only noise: more memory did not buy speed worth the name."""
    if fastest.memory_mb == cheapest.memory_mb or fastest.median_ms < cheapest.median_ms * (1 - SAME_SPEED):
        return []
    return [f"The fastest is within {SAME_SPEED:.0%} of the cheapest's median: more memory did not make "
            "this function faster."]


def heading(result: PowerTuningResult) -> str:
    return (f"Power tuning of {result.function_name}: {result.invokes} warm invoke(s) per memory size "
            f"after a warm-up, priced as {result.architecture} in us-east-1, without the free tier.")


COLUMNS = ("memory", "median ms", "mean ms", "min..max ms", "billed ms", "$ per invoke", "$ per 1M", "cold starts")


def cells(row: TuningRow) -> list[str]:
    """A row of the table as the COLUMNS' texts (shared by the text table and the widget's HTML table)."""
    cold = f"{row.cold_starts}" + (f" (init {row.init_ms:.0f} ms)" if row.init_ms is not None else "")
    if row.median_ms is None:
        return [f"{row.memory_mb} MB", "-", "-", "-", "-", "-", "-", cold]
    return [f"{row.memory_mb} MB", f"{row.median_ms:.1f}", f"{row.mean_ms:.1f}",
            f"{row.min_ms:.1f}..{row.max_ms:.1f}", f"{row.billed_ms:.1f}", f"{row.cost_per_invoke:.9f}",
            money(row.cost_per_million), cold]


def tuning_text(result: PowerTuningResult) -> str:
    table = [list(COLUMNS)] + [cells(row) for row in result.rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [heading(result)]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in table]
    lines += [f"{row.memory_mb} MB failed: {row.error}" for row in result.rows if row.error]
    lines += verdict_lines(result) + [restore_sentence(result)]
    return "\n".join(lines)


# --- running it --------------------------------------------------------------------------------

class SilentProgress:
    """What a run tells its reporter, one call per step; this one reports nothing.

    The run only knows this interface: the reporters that print lines or draw a progress bar
    are views (:mod:`lambdalab.widgets.power_tuning`) and are handed in."""

    def memory(self, memory_mb: int) -> None:
        """A memory size is being configured."""

    def invoked(self, number: int) -> None:
        """Invoke `number` (1 is the warm-up) of the current memory size has finished."""

    def row_done(self, row: TuningRow) -> None:
        """The current memory size is measured."""

    def finish(self, result: PowerTuningResult) -> None:
        """The run is over (also after an error or an interrupt); the memory is restored."""


Reporting = Callable[[str, list[int], int], SilentProgress]
"""Makes the reporter of a run from (function name, memory sizes, invokes per size)."""


def tune(function_name: str, memory_sizes: Iterable[int] = DEFAULT_MEMORY_SIZES, invokes: int = 10,
         payload: Any = None, architecture: str | None = None, *, granularity_ms: int | None = None,
         client: Any = None, reporting: Reporting | None = None) -> PowerTuningResult:
    """Invoke the function `invokes` times (after one warm-up) at each memory size, then restore its memory.

    architecture: price as x86_64 or arm64 (default: the function's own; both run on the same CPU
    here, so only the price differs). granularity_ms: re-bill each Duration at this granularity
    (100 shows the billing of before December 2020); by default the REPORT's Billed Duration is used.
    client: a boto3 Lambda client (default: one for the local cloud). Errors of the function are
    reported per memory size, not raised; the original memory is restored even on an interrupt.
    reporting: makes the reporter, once the arguments and the function are known to be good (so
    nothing is announced for a run that cannot start); default: report nothing.
    """
    sizes = _memory_sizes(memory_sizes)
    if not isinstance(invokes, int) or invokes < 1:
        raise PowerTuningError(f"invokes must be a whole number of at least 1, not {invokes!r}")
    if architecture is not None and architecture not in pricing.DURATION_TIERS:
        raise PowerTuningError(f"architecture must be one of {sorted(pricing.DURATION_TIERS)} or None, "
                               f"not {architecture!r}")
    if client is None:
        client = aws_client("lambda")
    configuration = _configuration(client, function_name)
    priced_as = architecture or (configuration.get("Architectures") or ["x86_64"])[0]
    result = PowerTuningResult(function_name, priced_as, invokes, configuration["MemorySize"])
    body = _payload_bytes(payload)
    reporter = reporting(function_name, sizes, invokes) if reporting is not None else SilentProgress()
    current_memory = result.original_memory_mb
    try:
        for memory_mb in sizes:
            reporter.memory(memory_mb)
            error = _set_memory(client, function_name, memory_mb, current_memory)
            if error is None:
                current_memory = memory_mb
                samples, error = _measure(client, function_name, body, invokes, granularity_ms, reporter)
            else:
                samples = []
            row = summarise(memory_mb, samples, priced_as, error)
            result.rows.append(row)
            reporter.row_done(row)
    finally:
        if current_memory != result.original_memory_mb:
            result.restored = _restore(client, function_name, result.original_memory_mb)
        reporter.finish(result)
    return result


# --- the steps ---------------------------------------------------------------------------------

def _memory_sizes(memory_sizes: Iterable[int]) -> list[int]:
    sizes = list(memory_sizes)
    if not sizes or not all(isinstance(m, int) and not isinstance(m, bool) for m in sizes):
        raise PowerTuningError(f"memory_sizes must be a non-empty list of whole numbers of MB, not {memory_sizes!r}")
    return sorted(set(sizes))


def _configuration(client: Any, function_name: str) -> dict:
    try:
        return client.get_function_configuration(FunctionName=function_name)
    except ClientError as err:
        error = err.response.get("Error", {})
        raise PowerTuningError(f"{error.get('Code', 'Error')}: {error.get('Message', err)}") from None


def _payload_bytes(payload: Any) -> bytes:
    if payload is None:
        return b"{}"
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def _error_text(err: ClientError) -> str:
    error = err.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(err))}"


def _set_memory(client: Any, function_name: str, memory_mb: int, current_mb: int) -> str | None:
    """Configure the memory and wait until the update is done; an API refusal is returned as text."""
    if memory_mb == current_mb:
        return None
    try:
        client.update_function_configuration(FunctionName=function_name, MemorySize=memory_mb)
        client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    except ClientError as err:
        return _error_text(err)
    except WaiterError as err:
        return f"the update to {memory_mb} MB did not complete: {err}"
    return None


def _measure(client: Any, function_name: str, body: bytes, invokes: int, granularity_ms: int | None,
             reporter: SilentProgress) -> tuple[list[Sample], str | None]:
    """A warm-up invoke, then `invokes` more; stops at the first failure, which it returns as text.

    The warm-up is kept only if it was a cold start (to count it and its init duration); a warm
    warm-up (the memory was already right and an environment was ready) is dropped.
    """
    samples: list[Sample] = []
    for number in range(invokes + 1):
        sample, error = _invoke_once(client, function_name, body, granularity_ms)
        reporter.invoked(number + 1)
        if error is not None:
            return samples, error
        if number > 0 or sample.cold:
            samples.append(sample)
    return samples, None


def _invoke_once(client: Any, function_name: str, body: bytes,
                 granularity_ms: int | None) -> tuple[Sample | None, str | None]:
    try:
        response = client.invoke(FunctionName=function_name, Payload=body, LogType="Tail")
    except ClientError as err:
        return None, _error_text(err)
    answer = response["Payload"].read()
    if response.get("FunctionError"):
        return None, _function_error_text(answer, response["FunctionError"])
    log = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    reports = [line for line in log.splitlines() if line.startswith("REPORT RequestId:")]
    if not reports:
        return None, "no REPORT line in the log tail of the invoke (LogType=Tail)"
    fields = parse_report(reports[-1])
    duration = _ms(fields["Duration"])
    billed = _ms(fields["Billed Duration"])
    if granularity_ms is not None:
        billed = pricing.billed_ms(duration, granularity_ms)
    init = _ms(fields["Init Duration"]) if "Init Duration" in fields else None
    return Sample(duration, billed, init), None


def _function_error_text(answer: bytes, function_error: str) -> str:
    """The error document's type and message, without its stack trace."""
    try:
        document = json.loads(answer)
    except ValueError:
        document = None
    if isinstance(document, dict):
        kind = document.get("errorType", function_error)
        return f"{kind}: {str(document.get('errorMessage', ''))[:300]}"
    return f"{function_error}: {answer[:300].decode('utf-8', 'replace')}"


def _ms(value: str) -> float:
    return float(value.split()[0])


def _restore(client: Any, function_name: str, memory_mb: int) -> bool:
    """Put the original memory back; a failure is a warning, never a mask over the real error."""
    try:
        client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        client.update_function_configuration(FunctionName=function_name, MemorySize=memory_mb)
        client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        return True
    except Exception as err:  # noqa: BLE001 - reported as a warning: the caller's outcome stands
        # stacklevel 4: past _restore, tune and lambdalab.power_tune, at the learner's cell
        warnings.warn(f"power_tune could not restore {function_name} to {memory_mb} MB: {err}", stacklevel=4)
        return False
