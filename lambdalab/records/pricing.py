"""What Lambda charges, computed without invoking anything (us-east-1 prices of the facts sheet).

A month's bill is requests plus duration in GB-seconds, after the free tier, with duration
priced in tiers by the month's total GB-seconds of each architecture. Billed time is rounded
up: to 1 ms since December 2020, to 100 ms before (``granularity_ms=100``).
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


def duration_cost(gb_seconds: float, architecture: str = "x86_64") -> float:
    """The duration charge of a month's billable GB-seconds, tier by tier."""
    if architecture not in DURATION_TIERS:
        raise ValueError(f"architecture must be one of {sorted(DURATION_TIERS)}, not {architecture!r}")
    cost, below = 0.0, 0.0
    for ceiling, price in DURATION_TIERS[architecture]:
        in_tier = max(0.0, min(gb_seconds, ceiling) - below)
        cost += in_tier * price
        below = ceiling
        if gb_seconds <= ceiling:
            break
    return cost


def estimate(invocations: int, duration_ms: float, memory_mb: int, architecture: str = "x86_64",
             granularity_ms: int = 1, ephemeral_storage_mb: int = 512, free_tier: bool = True) -> Estimate:
    """N invokes of D ms at M MB for a month, priced as AWS prices them."""
    if invocations < 0 or duration_ms < 0 or memory_mb <= 0:
        raise ValueError("invocations and duration must not be negative, memory must be positive")
    seconds = invocations * billed_ms(duration_ms, granularity_ms) / 1000 if invocations else 0.0
    gb_seconds = seconds * memory_mb / 1024
    billable_requests = max(0, invocations - FREE_REQUESTS) if free_tier else invocations
    billable_gb_seconds = max(0.0, gb_seconds - FREE_GB_SECONDS) if free_tier else gb_seconds
    extra_storage_gb = max(0, ephemeral_storage_mb - EPHEMERAL_FREE_MB) / 1024
    return Estimate(
        requests=invocations,
        gb_seconds=gb_seconds,
        billable_requests=billable_requests,
        billable_gb_seconds=billable_gb_seconds,
        request_cost=billable_requests / 1_000_000 * REQUEST_PRICE_PER_MILLION,
        duration_cost=duration_cost(billable_gb_seconds, architecture),
        ephemeral_cost=seconds * extra_storage_gb * EPHEMERAL_PRICE_PER_GB_SECOND,
    )
