"""The pricing model against the facts sheet's figures, to the cent."""

import pytest

from lambdalab.records.pricing import (MonthToDate, billed_invocation_ms, billed_ms, duration_cost, estimate,
                                      tier_name, tier_split)


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


def test_init_is_billed_for_managed_runtimes_since_august_2025_and_for_custom_runtimes_always():
    assert billed_invocation_ms(15.74, 130.49, "python3.12") == 147  # 146.23 ms, rounded up
    assert billed_invocation_ms(15.74, None, "python3.12") == 16  # a warm invoke has no INIT phase
    assert billed_invocation_ms(15.74, 130.49, "python3.12", bill_init_phase=False) == 16
    assert billed_invocation_ms(15.74, 130.49, "provided.al2023", bill_init_phase=False) == 147
    assert billed_invocation_ms(15.74, 130.49, "", bill_init_phase=False, package_type="Image") == 147
    assert billed_invocation_ms(15.74, 130.49, "python3.12", granularity_ms=100) == 200
    assert billed_invocation_ms(15.74, 130.49, "python3.12", granularity_ms=100, bill_init_phase=False) == 100


def test_tiers_are_named_as_on_the_pricing_page():
    assert [tier_name("x86_64", tier) for tier in range(3)] == [
        "first 6 billion GB-s", "next 9 billion GB-s", "over 15 billion GB-s"]
    assert [tier_name("arm64", tier) for tier in range(3)] == [
        "first 7.5 billion GB-s", "next 11.25 billion GB-s", "over 18.75 billion GB-s"]
    assert [(tier, gbs) for tier, gbs, _ in tier_split(5e9, 16e9)] == [(0, 1e9), (1, 9e9), (2, 1e9)]


def test_a_month_billed_piece_by_piece_costs_what_it_costs_at_once():
    month = MonthToDate()
    pieces = [month.charge(300_000, 150_000.0) for _ in range(10)]  # 3 million invokes, 1,500,000 GB-s
    assert sum(piece.free_requests for piece in pieces) == 1_000_000
    assert sum(piece.free_gb_seconds for piece in pieces) == 400_000
    assert [piece.total == 0 for piece in pieces[:2]] == [True, True]  # the month's first usage is free
    assert round(sum(piece.total for piece in pieces), 2) == 18.73
    assert sum(piece.total for piece in pieces) == pytest.approx(estimate(3_000_000, 1000, 512).total)


def test_the_free_tier_is_shared_by_both_architectures_and_tiers_are_counted_per_architecture():
    month = MonthToDate()
    x86 = month.charge(1, 400_000.0, "x86_64")
    arm = month.charge(1, 1_000.0, "arm64")
    assert x86.total == 0 and arm.free_gb_seconds == 0
    assert arm.duration_cost == pytest.approx(1_000 * 0.0000133334)
    big = month.charge(1, 7e9, "x86_64")
    assert [(tier, gbs) for tier, gbs, _ in big.tiers] == [(0, 6e9), (1, 1e9)]
    assert [tier for tier, _, _ in month.charge(1, 1.0, "arm64").tiers] == [0]
