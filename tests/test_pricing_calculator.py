"""The pricing calculator: a month's bill from its sliders, to the cent, with the break-even
against an always-on server; the sliders and ``set`` move the same workload."""

from __future__ import annotations

import pytest

from lambdalab.records.pricing import estimate
from lambdalab.widgets.pricing_calculator import Workload, break_even_invocations, pricing_calculator


def test_the_worked_example_of_the_old_pricing_page():
    calculator = pricing_calculator(memory_mb=512, duration_ms=1000, invocations=3_000_000)
    assert round(calculator.estimate.total, 2) == 18.73
    text = calculator.text()
    assert "1,500,000.0 GB-s, 400,000.0 free, 1,100,000.0 billable x $0.0000166667 = $18.33" in text
    assert "3,000,000, 1,000,000 free, 2,000,000 billable x $0.20 per million = $0.40" in text
    assert "total: $18.73 a month" in text


def test_100_ms_billing_rounds_a_short_invoke_up():
    now = pricing_calculator(memory_mb=1024, duration_ms=15, invocations=10_000_000, free_tier=False)
    then = pricing_calculator(memory_mb=1024, duration_ms=15, invocations=10_000_000, free_tier=False,
                              granularity_ms=100)
    assert now.workload.billed_ms == 15 and then.workload.billed_ms == 100
    assert then.estimate.duration_cost == pytest.approx(now.estimate.duration_cost * 100 / 15)
    assert "billed 100 ms, rounded up to 100 ms" in then.text()


def test_arm64_is_cheaper_and_the_free_tier_is_optional():
    x86 = pricing_calculator(memory_mb=2048, duration_ms=500, invocations=5_000_000)
    arm = pricing_calculator(memory_mb=2048, duration_ms=500, invocations=5_000_000, architecture="arm64")
    assert arm.estimate.duration_cost == pytest.approx(x86.estimate.duration_cost * 0.0000133334 / 0.0000166667)
    assert arm.estimate.request_cost == x86.estimate.request_cost
    paying = pricing_calculator(memory_mb=2048, duration_ms=500, invocations=5_000_000, free_tier=False)
    assert paying.estimate.total == pytest.approx(x86.estimate.total + 400_000 * 0.0000166667 + 0.20)
    assert "(no free tier)" in paying.text()


def test_the_break_even_with_a_server_is_the_first_month_that_costs_as_much():
    workload = Workload(memory_mb=512, duration_ms=100, invocations=1)
    server = 15.18
    invokes = break_even_invocations(workload, server)
    assert estimate(invokes, 100, 512).total >= server > estimate(invokes - 1, 100, 512).total
    calculator = pricing_calculator(memory_mb=512, duration_ms=100, invocations=30_000_000, server_usd_per_month=server)
    assert calculator.break_even == invokes
    assert f"costs as much as {invokes:,} invokes a month" in calculator.text()
    assert "the server is cheaper" in calculator.text()
    assert pricing_calculator().break_even is None                       # no server price given


def test_a_server_lambda_never_reaches_has_no_break_even():
    assert break_even_invocations(Workload(memory_mb=128, duration_ms=1, invocations=1), 1e9) is None
    assert break_even_invocations(Workload(), 0) == 0


def test_sliders_and_set_move_the_same_workload():
    calculator = pricing_calculator(memory_mb=512, duration_ms=100, invocations=2_000_000)
    view = calculator.widget()
    controls = calculator._controls
    first_breakdown = calculator._breakdown.value
    controls["memory_mb"].value = 1024
    assert calculator.workload.memory_mb == 1024
    assert calculator._breakdown.value != first_breakdown and "1,024 MB" in calculator._breakdown.value
    controls["architecture"].value = "arm64"
    controls["granularity_ms"].value = 100
    controls["free_tier"].value = False
    controls["invocations"].value = 1e7
    controls["duration_ms"].value = 250.0
    assert calculator.workload == Workload(1024, 250.0, 10_000_000, "arm64", 100, False)
    calculator.set(memory_mb=256, invocations=0)
    assert controls["memory_mb"].value == 256 and calculator.workload.invocations == 0
    assert controls["invocations"].value == 1                            # the log slider's lowest value
    assert "256 MB" in calculator._breakdown.value
    image = bytes(view.children[-1].value)
    assert image.startswith(b"\x89PNG")


def test_it_shows_itself_as_text_where_widgets_cannot_render():
    calculator = pricing_calculator(server_usd_per_month=20)
    bundle = calculator._repr_mimebundle_()
    assert bundle["text/plain"] == calculator.text()
    assert calculator.text().startswith("Lambda pricing calculator (us-east-1)")
    assert calculator.chart()._repr_png_().startswith(b"\x89PNG")


@pytest.mark.parametrize("values", [{"memory_mb": 64}, {"memory_mb": 20_000}, {"duration_ms": 0},
                                    {"duration_ms": 1_000_000}, {"invocations": -1}, {"architecture": "sparc"},
                                    {"granularity_ms": 10}])
def test_values_aws_does_not_have_are_refused(values):
    with pytest.raises(ValueError):
        pricing_calculator(**values)
    with pytest.raises(ValueError):
        pricing_calculator().set(**values)
