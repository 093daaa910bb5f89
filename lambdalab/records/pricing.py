"""What Lambda charges, computed without invoking anything (us-east-1 prices of the facts sheet).

A month's bill is requests plus duration in GB-seconds, after the free tier, with duration
priced in tiers by the month's total GB-seconds of each architecture. Billed time is rounded
up: to 1 ms since December 2020, to 100 ms before (``granularity_ms=100``).

:class:`MonthToDate` prices usage as it comes in, one invocation after another, so that the
free tier and the tiers are used up in time order: the billing meter's bills are built on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REQUEST_PRICE_PER_MILLION = 0.20
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000
EPHEMERAL_PRICE_PER_GB_SECOND = 0.0000000309
EPHEMERAL_FREE_MB = 512

# (GB-seconds up to which this price applies in a month, price per GB-second)
DURATION_TIERS = {
    "x86_64": ((6e9, 0.0000166667), (15e9, 0.0000166667 * 0.9), (math.inf, 0.0000166667 * 0.8)),
    "arm64": ((7.5e9, 0.0000133334), (18.75e9, 0.0000133334 * 0.9), (math.inf, 0.0000133334 * 0.8)),
}


@dataclass(frozen=True)
class Estimate:
    """One workload's month: what is used, what is free, what it costs (dollars)."""

    requests: int
    gb_seconds: float
    billable_requests: int
    billable_gb_seconds: float
    request_cost: float
    duration_cost: float
    ephemeral_cost: float

    @property
    def total(self) -> float:
        return self.request_cost + self.duration_cost + self.ephemeral_cost


def billed_ms(duration_ms: float, granularity_ms: int = 1) -> int:
    """Rounded UP to the granularity (the course notes' "nearest 100 ms" was always up)."""
    return max(granularity_ms, math.ceil(duration_ms / granularity_ms - 1e-9) * granularity_ms)


def init_is_billed(runtime: str, bill_init_phase: bool = True, package_type: str = "Zip") -> bool:
    """Custom runtimes and container images always paid for INIT; managed runtimes since 1 Aug 2025."""
    return bill_init_phase or runtime.startswith("provided") or package_type == "Image"


def billed_invocation_ms(duration_ms: float, init_ms: float | None, runtime: str, *, granularity_ms: int = 1,
                         bill_init_phase: bool = True, package_type: str = "Zip") -> int:
    """The REPORT line's Billed Duration: the invoke, plus the INIT phase of a cold start when it is billed."""
    billed_time = duration_ms
    if init_ms is not None and init_is_billed(runtime, bill_init_phase, package_type):
        billed_time += init_ms
    return billed_ms(billed_time, granularity_ms)


def gb_seconds(memory_mb: int, billed_duration_ms: float) -> float:
    return memory_mb / 1024 * billed_duration_ms / 1000


def extra_storage_gb_seconds(ephemeral_storage_mb: int, billed_duration_ms: float) -> float:
    """Only the ephemeral storage above the free 512 MB is charged."""
    return max(0, ephemeral_storage_mb - EPHEMERAL_FREE_MB) / 1024 * billed_duration_ms / 1000


def _tiers(architecture: str) -> tuple[tuple[float, float], ...]:
    if architecture not in DURATION_TIERS:
        raise ValueError(f"architecture must be one of {sorted(DURATION_TIERS)}, not {architecture!r}")
    return DURATION_TIERS[architecture]


def tier_split(start_gb_seconds: float, end_gb_seconds: float,
               architecture: str = "x86_64") -> list[tuple[int, float, float]]:
    """The month's billable GB-seconds from start to end, cut at the tier boundaries: (tier, GB-s, price)."""
    split, below = [], 0.0
    for tier, (ceiling, price) in enumerate(_tiers(architecture)):
        in_tier = max(0.0, min(end_gb_seconds, ceiling) - max(start_gb_seconds, below))
        if in_tier > 0:
            split.append((tier, in_tier, price))
        below = ceiling
        if end_gb_seconds <= ceiling:
            break
    return split


def tier_name(architecture: str, tier: int) -> str:
    """How the pricing page names a tier: "first 6 billion GB-s", "next 9 billion GB-s", "over 15 billion GB-s"."""
    tiers = _tiers(architecture)
    ceiling = tiers[tier][0]
    below = tiers[tier - 1][0] if tier else 0.0
    if math.isinf(ceiling):
        return f"over {below / 1e9:g} billion GB-s"
    return f"{'first' if tier == 0 else 'next'} {(ceiling - below) / 1e9:g} billion GB-s"


def duration_cost(gb_seconds: float, architecture: str = "x86_64") -> float:
    """The duration charge of a month's billable GB-seconds, tier by tier."""
    return sum(in_tier * price for _, in_tier, price in tier_split(0.0, gb_seconds, architecture))


def estimate(invocations: int, duration_ms: float, memory_mb: int, architecture: str = "x86_64",
             granularity_ms: int = 1, ephemeral_storage_mb: int = 512, free_tier: bool = True) -> Estimate:
    """N invokes of D ms at M MB for a month, priced as AWS prices them."""
    if invocations < 0 or duration_ms < 0 or memory_mb <= 0:
        raise ValueError("invocations and duration must not be negative, memory must be positive")
    total_ms = invocations * billed_ms(duration_ms, granularity_ms) if invocations else 0
    month = MonthToDate(free_tier).charge(invocations, gb_seconds(memory_mb, total_ms), architecture,
                                          extra_storage_gb_seconds(ephemeral_storage_mb, total_ms))
    return Estimate(
        requests=invocations,
        gb_seconds=month.gb_seconds,
        billable_requests=invocations - month.free_requests,
        billable_gb_seconds=month.gb_seconds - month.free_gb_seconds,
        request_cost=month.request_cost,
        duration_cost=month.duration_cost,
        ephemeral_cost=month.ephemeral_cost,
    )


@dataclass(frozen=True)
class Charge:
    """What one piece of usage adds to its month's bill (dollars), and which allowances it used."""

    requests: int
    gb_seconds: float
    free_requests: int
    free_gb_seconds: float
    tiers: tuple[tuple[int, float, float], ...]  # (tier, billable GB-s in it, price per GB-s)
    request_cost: float
    duration_cost: float
    ephemeral_cost: float

    @property
    def total(self) -> float:
        return self.request_cost + self.duration_cost + self.ephemeral_cost


class MonthToDate:
    """One account's month so far. Each charge costs what it adds to the month's bill: the free tier
    (shared by every function and both architectures) goes to the first usage of the month, and a
    tier's lower price to the usage that comes after its threshold, as on AWS's bill."""

    def __init__(self, free_tier: bool = True) -> None:
        self.free_requests_left = FREE_REQUESTS if free_tier else 0
        self.free_gb_seconds_left = float(FREE_GB_SECONDS) if free_tier else 0.0
        self.billable_gb_seconds = {architecture: 0.0 for architecture in DURATION_TIERS}

    def charge(self, requests: int, gb_seconds: float, architecture: str = "x86_64",
               extra_storage_gb_seconds: float = 0.0) -> Charge:
        free_requests, free_gb_seconds, start, end = self._use(requests, gb_seconds, architecture)
        tiers = tuple(tier_split(start, end, architecture))
        return Charge(
            requests=requests,
            gb_seconds=gb_seconds,
            free_requests=free_requests,
            free_gb_seconds=free_gb_seconds,
            tiers=tiers,
            request_cost=(requests - free_requests) / 1_000_000 * REQUEST_PRICE_PER_MILLION,
            duration_cost=sum(in_tier * price for _, in_tier, price in tiers),
            ephemeral_cost=extra_storage_gb_seconds * EPHEMERAL_PRICE_PER_GB_SECOND,
        )

    def advance(self, requests: int, gb_seconds: float, architecture: str = "x86_64") -> None:
        """Use the allowances as charge() would, without pricing anything (cheap)."""
        self._use(requests, gb_seconds, architecture)

    def is_uniform(self, requests: int, gb_seconds: float, architecture: str = "x86_64") -> bool:
        """True when this usage, charged now, falls at one price for its requests and one for its GB-s:
        no free allowance runs out inside it and no tier threshold is crossed. Usage like that costs the
        same in any order, so a bill may charge many such pieces together."""
        free_gb_seconds = self.free_gb_seconds_left
        if 0 < self.free_requests_left < requests or 0 < free_gb_seconds < gb_seconds:
            return False
        if free_gb_seconds >= gb_seconds:
            return True  # all of it free
        start = self.billable_gb_seconds.get(architecture, 0.0)
        end = start + gb_seconds  # none of it free
        for ceiling, _ in DURATION_TIERS.get(architecture, ()):
            if start < ceiling < end:
                return False
        return True

    def _use(self, requests: int, gb_seconds: float, architecture: str) -> tuple[int, float, float, float]:
        """(free requests, free GB-s, billable GB-s of the architecture before, after) of this usage."""
        free_requests = min(requests, self.free_requests_left)
        self.free_requests_left -= free_requests
        free_gb_seconds = min(gb_seconds, self.free_gb_seconds_left)
        self.free_gb_seconds_left -= free_gb_seconds
        start = self.billable_gb_seconds.get(architecture, 0.0)
        end = start + gb_seconds - free_gb_seconds
        if architecture in self.billable_gb_seconds:
            self.billable_gb_seconds[architecture] = end
        return free_requests, free_gb_seconds, start, end
