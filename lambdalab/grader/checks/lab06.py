"""Lab 6: pricing. The learner tunes lab06-quote, picks the memory size that costs least while
meeting a latency target, and estimates its monthly bill.

Both checks recompute the answer from the learner's own data: the cloud keeps every invoke's
REPORT figures (``/lambdalab/invocations``), so the check rebuilds the learner's tuning table
from the same invokes, with the same arithmetic as ``power_tune`` (``tuning.summarise``). Timing
noise cannot make the check disagree with the learner's table, because it is the same table.
"""

from __future__ import annotations

from ...client.connection import admin
from ...records import pricing
from ...tuning import Sample, TuningRow, cheapest_row, summarise
from ..catalogue import register
from ..results import NotYet

FUNCTION = "lab06-quote"
LATENCY_TARGET_MS = 400
MONTHLY_INVOCATIONS = 20_000_000
BILL_TAG = "monthly-cost-usd"
MIN_WARM_INVOKES = 3
MIN_SIZES = 3
BILL_TOLERANCE = 0.02  # the mean billed duration may be rounded to the millisecond; a mistake is far larger

SET_UP = "Run the set-up cells at the top of the lab (they create lab06-quote), then this check again."
TUNE = (f"Run the power-tuning cell of Task 1 (at least {MIN_SIZES} memory sizes, at least "
        f"{MIN_WARM_INVOKES} invokes each), then this check again.")


def _configuration(probe) -> dict:
    return probe.function_or_not_yet(FUNCTION, f"There is no function {FUNCTION}.", SET_UP)


def measured_rows(records: list[dict], function_name: str = FUNCTION,
                  min_warm: int = MIN_WARM_INVOKES) -> dict[int, TuningRow]:
    """The learner's tuning table, rebuilt from the cloud's invocation records.

    A run is a cold start (a configuration change makes one) and the warm invokes after it at
    the same memory size. Per memory size the latest run with at least min_warm warm invokes
    counts (a tuning run), so a stray invoke made later at that size does not replace it.
    """
    mine = [r for r in records if r["function_name"] == function_name and r.get("error_type") is None]
    runs: list[list[dict]] = []
    for record in mine:
        if not runs or record["memory_mb"] != runs[-1][0]["memory_mb"] or record.get("init_ms") is not None:
            runs.append([])
        runs[-1].append(record)
    latest = {run[0]["memory_mb"]: run for run in runs
              if sum(1 for r in run if r.get("init_ms") is None) >= min_warm}
    rows = {}
    for memory_mb, run in sorted(latest.items()):
        samples = [Sample(r["duration_ms"], r["billed_ms"], r.get("init_ms")) for r in run]
        rows[memory_mb] = summarise(memory_mb, samples, run[-1].get("architecture") or "x86_64")
    return rows


def _tuned(probe) -> dict[int, TuningRow]:
    rows = measured_rows(admin("GET", "/lambdalab/invocations", probe.state))
    if len(rows) < MIN_SIZES:
        sizes = ", ".join(f"{m} MB" for m in rows) or "none"
        raise NotYet(f"The cloud has tuning data for {len(rows)} memory size(s) of {FUNCTION} ({sizes}); "
                     f"the task needs at least {MIN_SIZES}.", TUNE)
    return rows


def _sizes(rows: dict[int, TuningRow]) -> str:
    return ", ".join(f"{m} MB" for m in rows)


@register("lab06.memory_choice", "lab06-quote runs at the cheapest memory size that meets the latency target")
def memory_choice(probe) -> str:
    configuration = _configuration(probe)
    rows = _tuned(probe)
    within = [row for row in rows.values() if row.median_ms <= LATENCY_TARGET_MS]
    if not within:
        raise NotYet(f"None of the sizes you measured ({_sizes(rows)}) has a median of {LATENCY_TARGET_MS} ms "
                     "or less, so none meets the target.",
                     "Tune larger memory sizes too: CPU comes with memory, up to one vCPU at 1,769 MB.")
    best = cheapest_row(within)
    memory = configuration["MemorySize"]
    if memory not in rows:
        raise NotYet(f"{FUNCTION} has {memory} MB, a size your tuning run did not measure ({_sizes(rows)}).",
                     "Choose one of the sizes you measured, and set it with update_function_configuration.")
    row = rows[memory]
    if row.median_ms > LATENCY_TARGET_MS:
        raise NotYet(f"At {memory} MB your tuning run measured a median of {row.median_ms:.0f} ms: over the "
                     f"{LATENCY_TARGET_MS} ms target.",
                     f"Keep only the rows whose median_ms is at most {LATENCY_TARGET_MS}.")
    if row.cost_per_invoke > best.cost_per_invoke * (1 + 1e-9):
        raise NotYet(f"{memory} MB meets the target (median {row.median_ms:.0f} ms), but another size you "
                     "measured meets it too, for less per invoke.",
                     f"Of the rows whose median_ms is at most {LATENCY_TARGET_MS}, take the one with the lowest "
                     "cost_per_invoke.")
    return (f"{FUNCTION} has {memory} MB: a median of {row.median_ms:.0f} ms (target {LATENCY_TARGET_MS} ms) at "
            f"${row.cost_per_million:.4f} per million invokes, the cheapest of the sizes you measured that meet "
            "the target.")


def expected_bill(row: TuningRow) -> float:
    """A month of MONTHLY_INVOCATIONS at the row's memory and mean billed duration, free tier included.

    Priced from the month's GB-seconds as they are (the mean billed duration is not rounded again),
    so a learner who multiplies it out exactly gets the same cents."""
    gb_seconds = pricing.gb_seconds(row.memory_mb, MONTHLY_INVOCATIONS * row.billed_ms)
    return pricing.MonthToDate(free_tier=True).charge(MONTHLY_INVOCATIONS, gb_seconds, row.architecture).total


def _tagged_bill(probe, configuration: dict) -> float:
    lam = probe.client("lambda")
    tags = lam.list_tags(Resource=configuration["FunctionArn"]).get("Tags", {})
    hint = (f'lam.tag_resource(Resource=<the function\'s ARN>, Tags={{"{BILL_TAG}": "12.34"}}), '
            "with your estimate in dollars instead of 12.34.")
    if BILL_TAG not in tags:
        raise NotYet(f"{FUNCTION} has no {BILL_TAG} tag yet.", hint)
    try:
        return float(tags[BILL_TAG].replace("$", "").replace(",", "").strip())
    except ValueError:
        raise NotYet(f"The {BILL_TAG} tag says {tags[BILL_TAG]!r}, which is not a number of dollars.", hint) from None


@register("lab06.monthly_bill", "The monthly bill of lab06-quote is estimated right")
def monthly_bill(probe) -> str:
    configuration = _configuration(probe)
    guess = _tagged_bill(probe, configuration)
    rows = _tuned(probe)
    memory = configuration["MemorySize"]
    if memory not in rows:
        raise NotYet(f"{FUNCTION} has {memory} MB, a size your tuning run did not measure: there is no billed "
                     "duration to price it with.", "Do Task 1 first: the bill is for the memory size you chose.")
    bill = expected_bill(rows[memory])
    if abs(guess - bill) > max(0.05, BILL_TOLERANCE * bill):
        hint = ("A month's bill: GB-seconds = invokes x billed seconds x memory in GB (MB / 1024); take off the "
                "free 400,000 GB-s and 1,000,000 requests; then the GB-s price plus $0.20 per million requests.")
        raise NotYet(f"Your estimate, ${guess:,.2f}, is not what {MONTHLY_INVOCATIONS:,} invokes a month at "
                     f"{memory} MB cost with the billed duration you measured.", hint)
    return (f"${guess:,.2f} a month: right for {MONTHLY_INVOCATIONS:,} invokes at {memory} MB "
            f"(the check makes it ${bill:,.2f}).")
