"""The bill: what the session's invocations (or a time range's) cost, per function, as AWS bills them.

The meter's entries are priced in time order, month by month (UTC calendar months): the free
tier is monthly and shared by every function and both architectures, so it pays for the
month's first usage, and a price tier's discount applies to the usage after its threshold.
Entries before the range, or of other functions, still use up the free tier; they are just
not on this bill. Bills of adjacent ranges therefore add up to the bill of both.

This is the model only, shared by the cloud (which prices its meter, GET /lambdalab/bill) and
the notebook (which reads the answer back with ``Bill.from_json``): numbers, a JSON form and a
plain-text form. How a bill looks in JupyterLab, and ``lambdalab.bill()`` that asks the running
cloud for one, are in :mod:`lambdalab.widgets.bill`: a view imports its model, never the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import pricing
from .meter import MeterEntry


@dataclass(frozen=True)
class FunctionCharges:
    """One function's part of the bill (dollars). cost_usd is after the free tier, list_price_usd before."""

    name: str
    requests: int
    gb_seconds: float
    billed_ms: int
    cold_starts: int
    init_ms: float
    errors: int
    free_requests: int
    free_gb_seconds: float
    request_cost_usd: float
    duration_cost_usd: float
    ephemeral_cost_usd: float
    list_price_usd: float
    architectures: tuple[str, ...]
    memory_sizes_mb: tuple[int, ...]
    tiers: tuple[str, ...]  # the price tiers its billable GB-seconds fell in

    @property
    def cost_usd(self) -> float:
        return self.request_cost_usd + self.duration_cost_usd + self.ephemeral_cost_usd


@dataclass(frozen=True)
class BillLine:
    """A line as on AWS's bill: one month's quantity of one item at one price."""

    month: str
    item: str
    quantity: float
    unit: str
    unit_price_usd: float
    cost_usd: float


@dataclass(frozen=True)
class Bill:
    """A bill as the cloud priced it: per function (FunctionCharges) and as AWS's bill lines (BillLine).

    Frozen and made of plain values, so that it crosses from the cloud to the notebook as JSON
    (as_json, from_json) and means the same on both sides."""

    since: float  # the cloud clock's epoch seconds
    until: float
    function_name: str | None
    free_tier: bool
    granularity_ms: int
    bill_init_phase: bool
    functions: tuple[FunctionCharges, ...]
    lines: tuple[BillLine, ...]

    @property
    def requests(self) -> int:
        return sum(f.requests for f in self.functions)

    @property
    def gb_seconds(self) -> float:
        return sum(f.gb_seconds for f in self.functions)

    @property
    def billed_ms(self) -> int:
        return sum(f.billed_ms for f in self.functions)

    @property
    def free_requests(self) -> int:
        return sum(f.free_requests for f in self.functions)

    @property
    def free_gb_seconds(self) -> float:
        return sum(f.free_gb_seconds for f in self.functions)

    @property
    def total_usd(self) -> float:
        return sum(f.cost_usd for f in self.functions)

    @property
    def list_price_usd(self) -> float:
        """The same usage without the free tier."""
        return sum(f.list_price_usd for f in self.functions)

    def function(self, name: str) -> FunctionCharges | None:
        return next((f for f in self.functions if f.name == name), None)

    # --- words: the plain-text form (what a notebook run headless, or read without widgets, shows) ---

    def title(self) -> str:
        what = f"function {self.function_name}" if self.function_name else "all functions"
        return f"Lambda bill for {what}, {_when(self.since)} to {_when(self.until)} UTC"

    def how_billed(self) -> str:
        init = ("INIT phase of cold starts billed (since Aug 2025)" if self.bill_init_phase
                else "INIT phase billed only for custom runtimes (before Aug 2025)")
        free = "monthly free tier applied" if self.free_tier else "without the free tier"
        return f"Billed duration rounded up to {self.granularity_ms} ms; {init}; {free}."

    def text(self) -> str:
        lines = [self.title(), self.how_billed()]
        if not self.functions:
            lines.append("No invocations in this period: nothing to pay.")
            return "\n".join(lines)
        lines.append(f"{'function':<24}{'requests':>10}{'GB-s':>12}{'free GB-s':>12}{'cost':>17}{'list price':>17}")
        for f in self.functions:
            lines.append(f"{f.name[:23]:<24}{f.requests:>10,}{f.gb_seconds:>12,.3f}{f.free_gb_seconds:>12,.3f}"
                         f"{usd(f.cost_usd):>17}{usd(f.list_price_usd):>17}")
        lines.append(f"{'total':<24}{self.requests:>10,}{self.gb_seconds:>12,.3f}{self.free_gb_seconds:>12,.3f}"
                     f"{usd(self.total_usd):>17}{usd(self.list_price_usd):>17}")
        lines.append("Bill lines:")
        for line in self.lines:
            lines.append(f"  {line.month}  {line.item:<42}{quantity(line):>14} {line.unit:<9}"
                         f"at {unit_price(line):<28}{usd(line.cost_usd)}")
        return "\n".join(lines)

    # --- JSON: how the bill crosses from the cloud to the notebook --------------------------------

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Bill":
        functions = tuple(FunctionCharges(**{**f, "architectures": tuple(f["architectures"]),
                                              "memory_sizes_mb": tuple(f["memory_sizes_mb"]),
                                              "tiers": tuple(f["tiers"])}) for f in data["functions"])
        lines = tuple(BillLine(**line) for line in data["lines"])
        return cls(**{**data, "functions": functions, "lines": lines})


def usd(amount: float) -> str:
    """Dollars with the digits that matter: $18.73, $0.0000208 (a learner's bill is tiny), $0.00."""
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    decimals = min(12, 2 - math.floor(math.log10(abs(amount))))
    return f"${amount:.{decimals}f}"


def quantity(line: BillLine) -> str:
    return f"{line.quantity:,.0f}" if line.unit == "requests" else f"{line.quantity:,.3f}"


def unit_price(line: BillLine) -> str:
    if line.unit_price_usd == 0:
        return "free"
    if line.unit == "requests":
        return f"${line.unit_price_usd * 1_000_000:.2f} per million"
    return f"${line.unit_price_usd:.10f}".rstrip("0").rstrip(".") + " per GB-s"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# --- pricing the meter's entries ---------------------------------------------------------------

@dataclass
class _Tally:
    """A function's charges while they add up."""

    requests: int = 0
    gb_seconds: float = 0.0
    billed_ms: int = 0
    cold_starts: int = 0
    init_ms: float = 0.0
    errors: int = 0
    free_requests: int = 0
    free_gb_seconds: float = 0.0
    request_cost: float = 0.0
    duration_cost: float = 0.0
    ephemeral_cost: float = 0.0
    list_price: float = 0.0
    architectures: set[str] = field(default_factory=set)
    memory_sizes: set[int] = field(default_factory=set)
    tiers: dict[str, None] = field(default_factory=dict)  # ordered set

    def add(self, run: "_Run", charge: pricing.Charge, list_charge: pricing.Charge) -> None:
        self.requests += run.requests
        self.gb_seconds += charge.gb_seconds
        self.billed_ms += run.billed_ms
        self.cold_starts += run.cold_starts
        self.init_ms += run.init_ms
        self.errors += run.errors
        self.free_requests += charge.free_requests
        self.free_gb_seconds += charge.free_gb_seconds
        self.request_cost += charge.request_cost
        self.duration_cost += charge.duration_cost
        self.ephemeral_cost += charge.ephemeral_cost
        self.list_price += list_charge.total
        self.architectures.add(run.architecture)
        self.memory_sizes.update(run.memory_sizes)
        for tier, _, _ in charge.tiers:
            self.tiers[f"{run.architecture} {pricing.tier_name(run.architecture, tier)}"] = None

    def charges(self, name: str) -> FunctionCharges:
        return FunctionCharges(
            name=name, requests=self.requests, gb_seconds=self.gb_seconds, billed_ms=self.billed_ms,
            cold_starts=self.cold_starts, init_ms=self.init_ms, errors=self.errors,
            free_requests=self.free_requests, free_gb_seconds=self.free_gb_seconds,
            request_cost_usd=self.request_cost, duration_cost_usd=self.duration_cost,
            ephemeral_cost_usd=self.ephemeral_cost, list_price_usd=self.list_price,
            architectures=tuple(sorted(self.architectures)), memory_sizes_mb=tuple(sorted(self.memory_sizes)),
            tiers=tuple(self.tiers),
        )


@dataclass
class _Run:
    """Entries of one month, function and architecture, all on the bill or all off it, charged at once.
    Charging is additive (the free tier and the tiers are used up by quantities), so a run costs what
    its entries one by one would, when they all fall at one price (see _Month)."""

    month: str
    function_name: str
    architecture: str
    on_bill: bool
    requests: int = 0
    gb_seconds: float = 0.0
    extra_storage_gb_seconds: float = 0.0
    billed_ms: int = 0
    cold_starts: int = 0
    init_ms: float = 0.0
    errors: int = 0
    memory_sizes: set[int] = field(default_factory=set)

    def add(self, entry: MeterEntry) -> None:
        self.requests += entry.requests
        self.gb_seconds += entry.gb_seconds
        self.extra_storage_gb_seconds += entry.extra_storage_gb_seconds
        self.billed_ms += entry.billed_ms
        self.cold_starts += entry.cold_starts
        self.init_ms += entry.init_ms
        self.errors += entry.errors
        self.memory_sizes.add(entry.memory_mb)


class _Month:
    """One month's charges. Entries that fall at one price (see MonthToDate.is_uniform) cost the same
    in any order, so they wait in runs per function and are charged together when an entry that is
    not uniform comes (the free tier running out, a tier threshold) or the month ends: a handful of
    charges per month instead of one per invocation, with the same result."""

    def __init__(self, month: str, free_tier: bool, tallies: dict[str, _Tally], lines: "_Lines") -> None:
        self.month = month
        self.paying, self.listing = pricing.MonthToDate(free_tier), pricing.MonthToDate(free_tier=False)
        # where paying and listing will be once the waiting groups are charged
        self.paying_ahead, self.listing_ahead = pricing.MonthToDate(free_tier), pricing.MonthToDate(free_tier=False)
        self.waiting: dict[tuple[str, str, bool], _Run] = {}
        self._tallies, self._lines = tallies, lines

    def add(self, entry: MeterEntry, on_bill: bool) -> None:
        quantities = (entry.requests, entry.gb_seconds, entry.architecture)
        uniform = self.paying_ahead.is_uniform(*quantities) and self.listing_ahead.is_uniform(*quantities)
        self.paying_ahead.advance(*quantities)
        self.listing_ahead.advance(*quantities)
        key = (entry.function_name if on_bill else "", entry.architecture, on_bill)
        if uniform:
            run = self.waiting.get(key) or self.waiting.setdefault(key, _Run(self.month, *key))
            run.add(entry)
            return
        self.flush()
        run = _Run(self.month, *key)
        run.add(entry)
        self._charge(run)

    def flush(self) -> None:
        for group in self.waiting.values():
            self._charge(group)
        self.waiting.clear()

    def _charge(self, run: _Run) -> None:
        quantities = (run.requests, run.gb_seconds, run.architecture, run.extra_storage_gb_seconds)
        charge, list_charge = self.paying.charge(*quantities), self.listing.charge(*quantities)
        if run.on_bill:
            self._tallies.setdefault(run.function_name, _Tally()).add(run, charge, list_charge)
            self._lines.add_charge(self.month, run.architecture, charge, run.extra_storage_gb_seconds)


class _Lines:
    """Bill lines summed by (month, item, unit, price)."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str, str, float], list[float]] = {}

    def add(self, month: str, item: str, quantity: float, unit: str, price: float, cost: float) -> None:
        if quantity <= 0:
            return
        line = self._sums.setdefault((month, item, unit, price), [0.0, 0.0])
        line[0] += quantity
        line[1] += cost

    def add_charge(self, month: str, architecture: str, charge: pricing.Charge, extra_storage_gb_seconds: float) -> None:
        request_price = pricing.REQUEST_PRICE_PER_MILLION / 1_000_000
        self.add(month, "Requests, free tier", charge.free_requests, "requests", 0.0, 0.0)
        self.add(month, "Requests", charge.requests - charge.free_requests, "requests", request_price,
                 charge.request_cost)
        self.add(month, "Duration, free tier", charge.free_gb_seconds, "GB-s", 0.0, 0.0)
        for tier, in_tier, price in charge.tiers:
            self.add(month, f"Duration {architecture}, {pricing.tier_name(architecture, tier)}", in_tier, "GB-s",
                     price, in_tier * price)
        self.add(month, f"Ephemeral storage above {pricing.EPHEMERAL_FREE_MB} MB", extra_storage_gb_seconds, "GB-s",
                 pricing.EPHEMERAL_PRICE_PER_GB_SECOND, charge.ephemeral_cost)

    def lines(self) -> tuple[BillLine, ...]:
        return tuple(BillLine(month, item, quantity, unit, price, cost)
                     for (month, item, unit, price), (quantity, cost) in self._sums.items())


def price(entries: Iterable[MeterEntry], since: float, until: float, *, function_name: str | None = None,
          free_tier: bool = True, granularity_ms: int = 1, bill_init_phase: bool = True) -> Bill:
    """The bill of the entries from since to until (clock times) of one function or all.

    `entries` are the session's, oldest first, also those before `since`: they used up part of
    the month's free tier. granularity_ms and bill_init_phase only say how the entries were billed."""
    tallies: dict[str, _Tally] = {}
    lines = _Lines()
    months: dict[str, _Month] = {}
    months_of_days: dict[int, str] = {}
    for entry in entries:
        if entry.at > until:
            break
        day = int(entry.at // 86_400)
        name = months_of_days.get(day) or months_of_days.setdefault(day, entry.month)
        month = months.get(name) or months.setdefault(name, _Month(name, free_tier, tallies, lines))
        month.add(entry, entry.at >= since and function_name in (None, entry.function_name))
    for month in months.values():
        month.flush()
    functions = tuple(tallies[name].charges(name) for name in sorted(tallies))
    return Bill(since=since, until=until, function_name=function_name, free_tier=free_tier,
                granularity_ms=granularity_ms, bill_init_phase=bill_init_phase, functions=functions,
                lines=lines.lines())
