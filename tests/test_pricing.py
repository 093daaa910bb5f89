"""The pricing model against the facts sheet's figures, to the cent."""

import pytest

from lambdalab.records.pricing import billed_ms, duration_cost, estimate


def test_the_worked_example_of_the_old_pricing_page():
    month = estimate(3_000_000, 1000, 512)
    assert month.gb_seconds == 1_500_000
    assert month.billable_gb_seconds == 1_100_000
    assert round(month.duration_cost, 2) == 18.33
    assert month.billable_requests == 2_000_000
    assert round(month.request_cost, 2) == 0.40
    assert round(month.total, 2) == 18.73


def test_billing_rounds_up_to_1_ms_now_and_to_100_ms_before_december_2020():
    assert billed_ms(15.74) == 16
    assert billed_ms(15.74, granularity_ms=100) == 100
    assert billed_ms(101, granularity_ms=100) == 200  # always up, never to the nearest
    assert billed_ms(0.2) == 1


def test_arm64_costs_less_per_gb_second():
    assert duration_cost(1_000_000, "arm64") == pytest.approx(13.3334)
    assert duration_cost(1_000_000, "x86_64") == pytest.approx(16.6667)


def test_duration_tiers_apply_above_6_billion_gb_seconds_on_x86():
    first = 6e9 * 0.0000166667
    assert duration_cost(7e9) == pytest.approx(first + 1e9 * 0.0000166667 * 0.9)
    assert duration_cost(16e9) == pytest.approx(first + 9e9 * 0.0000166667 * 0.9 + 1e9 * 0.0000166667 * 0.8)


def test_the_free_tier_covers_small_workloads():
    assert estimate(1_000_000, 100, 128).total == 0


def test_ephemeral_storage_is_charged_only_above_512_mb():
    assert estimate(1_000_000, 1000, 1024, ephemeral_storage_mb=512).ephemeral_cost == 0
    storage = estimate(1_000_000, 1000, 1024, ephemeral_storage_mb=1536).ephemeral_cost
    assert storage == pytest.approx(1_000_000 * 1.0 * 1.0 * 0.0000000309)


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        estimate(-1, 10, 128)
    with pytest.raises(ValueError):
        duration_cost(10, "sparc")
