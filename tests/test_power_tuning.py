"""Power tuning: a function run at several memory sizes, with cold starts set aside, errors reported
per size, the original memory restored whatever happens, and the cheapest and the fastest named."""

from __future__ import annotations

import io
import json
import math

import pytest
from matplotlib.figure import Figure

from lambdalab.records import pricing
from lambdalab.tuning import PowerTuningError, PowerTuningResult, Sample, cost_per_invoke, summarise, tune
from lambdalab.widgets.power_tuning import PowerTuningView, TextProgress, power_tune, tuning_widget
from support import create_function

WAITER = '''
import time

def handler(event, context):
    time.sleep(event.get("wait_s", 0.05))     # waiting on another service: memory does not help
    return {"memory": context.memory_limit_in_mb, "echo": event.get("echo")}
'''
HUNGRY = '''
def handler(event, context):
    data = bytearray(200 * 1024 * 1024)          # needs more than 128 MB
    return len(data)
'''
NEEDS_PAYLOAD = '''
def handler(event, context):
    return event["order"]["total"] * 2           # KeyError without the payload
'''


def memory_of(lam, name: str) -> int:
    return lam.get_function_configuration(FunctionName=name)["MemorySize"]


def test_every_size_is_measured_warm_after_a_cold_warm_up_and_the_memory_is_restored(lam, role):
    create_function(lam, "waiter", WAITER, role, MemorySize=300)
    result = power_tune("waiter", memory_sizes=(1024, 128, 512), invokes=3, client=lam, progress=False)
    assert [row.memory_mb for row in result.rows] == [128, 512, 1024]
    for row in result.rows:
        assert row.ok and row.error is None
        assert row.invokes == 3                               # the warm-up is not among them
        assert row.cold_starts == 1 and row.init_ms is not None and row.init_ms > 0
        assert 50 <= row.min_ms <= row.median_ms <= row.max_ms
        assert row.billed_ms >= row.min_ms
    assert result.original_memory_mb == 300 and result.restored
    assert memory_of(lam, "waiter") == 300


def test_cost_follows_memory_for_a_waiting_function_so_the_smallest_is_cheapest(lam, role):
    create_function(lam, "waiter", WAITER, role)
    result = power_tune("waiter", memory_sizes=(128, 1024), invokes=2, client=lam, progress=False)
    small, large = result.rows
    assert large.cost_per_invoke > small.cost_per_invoke
    assert result.cheapest.memory_mb == 128
    assert result.fastest is not None
    assert small.cost_per_million == pytest.approx(small.cost_per_invoke * 1_000_000)


def test_the_cost_of_an_invoke_is_its_request_plus_its_gb_seconds():
    # 1,000 ms at 1,024 MB is one GB-second.
    assert cost_per_invoke(1000, 1024) == pytest.approx(0.20 / 1e6 + 0.0000166667)
    assert cost_per_invoke(1000, 1024, "arm64") == pytest.approx(0.20 / 1e6 + 0.0000133334)


def test_a_row_counts_cold_starts_but_describes_warm_invokes_only():
    samples = [Sample(900.0, 1150.0, init_ms=250.0), Sample(100.0, 100.0), Sample(300.0, 300.0), Sample(200.0, 201.0)]
    row = summarise(512, samples)
    assert row.invokes == 3 and row.cold_starts == 1 and row.init_ms == 250.0
    assert (row.min_ms, row.median_ms, row.max_ms) == (100.0, 200.0, 300.0)
    assert row.mean_ms == pytest.approx(200.0)
    assert row.billed_ms == pytest.approx(601 / 3)
    assert row.cost_per_invoke == pytest.approx(cost_per_invoke(601 / 3, 512))
    assert row.gb_seconds_per_invoke == pytest.approx(601 / 3 / 1000 / 2)


def test_the_payload_reaches_the_function(lam, role):
    create_function(lam, "doubler", NEEDS_PAYLOAD, role)
    result = power_tune("doubler", memory_sizes=(128,), invokes=2, payload={"order": {"total": 21}},
                        client=lam, progress=False)
    assert result.rows[0].ok
    without = power_tune("doubler", memory_sizes=(128,), invokes=2, client=lam, progress=False)
    assert not without.rows[0].ok and without.rows[0].error.startswith("KeyError")


def test_a_failing_size_is_reported_not_raised_and_the_others_still_run(lam, role):
    # At 128 MB the function has 7% of a core: filling 128 MB of pages takes it a while on a busy
    # machine. The timeout leaves room, so what stops it is the memory limit, never the clock.
    create_function(lam, "hungry", HUNGRY, role, MemorySize=1024, Timeout=60)
    result = power_tune("hungry", memory_sizes=(128, 512), invokes=2, client=lam, progress=False)
    failed, fine = result.rows
    assert not failed.ok and "Runtime.ExitError" in failed.error and "signal: killed" in failed.error
    assert failed.median_ms is None and failed.cost_per_invoke is None
    assert fine.ok
    assert result.cheapest.memory_mb == 512 and result.fastest.memory_mb == 512
    assert "128 MB failed: Runtime.ExitError" in result.text()
    assert memory_of(lam, "hungry") == 1024


def test_a_size_the_api_refuses_is_reported_with_aws_error(lam, role):
    create_function(lam, "waiter", WAITER, role)
    result = power_tune("waiter", memory_sizes=(128, 20_000), invokes=1, client=lam, progress=False)
    assert result.rows[0].ok
    refused = result.rows[1]
    assert refused.error.startswith("ValidationException: 1 validation error detected")
    assert memory_of(lam, "waiter") == 128


def test_a_missing_function_is_refused_in_aws_words(lam):
    with pytest.raises(PowerTuningError, match=r"ResourceNotFoundException: Function not found: "
                                               r"arn:aws:lambda:us-east-1:\d{12}:function:nowhere"):
        power_tune("nowhere", client=lam, progress=False)


@pytest.mark.parametrize("arguments", [{"invokes": 0}, {"memory_sizes": []}, {"memory_sizes": ["big"]},
                                       {"architecture": "sparc"}])
def test_arguments_it_cannot_use_are_refused_before_anything_runs(lam, arguments):
    with pytest.raises(PowerTuningError):
        power_tune("anything", client=lam, progress=False, **arguments)


class InterruptingClient:
    """The real client, until the Nth invoke: then the learner presses Stop (KeyboardInterrupt)."""

    def __init__(self, client, interrupt_at: int) -> None:
        self._client, self._left = client, interrupt_at

    def invoke(self, **arguments):
        self._left -= 1
        if self._left == 0:
            raise KeyboardInterrupt
        return self._client.invoke(**arguments)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_an_interrupt_still_restores_the_original_memory(lam, role):
    create_function(lam, "waiter", WAITER, role, MemorySize=200)
    with pytest.raises(KeyboardInterrupt):
        power_tune("waiter", memory_sizes=(128, 256, 512), invokes=2, client=InterruptingClient(lam, 5),
                   progress=False)
    assert memory_of(lam, "waiter") == 200


def test_arm64_pricing_and_the_old_100_ms_billing_can_be_asked_for(lam, role):
    create_function(lam, "waiter", WAITER, role)
    event = {"wait_s": 0.01}
    result = power_tune("waiter", memory_sizes=(512,), invokes=1, payload=event, client=lam, progress=False,
                        granularity_ms=100, architecture="arm64")
    row = result.rows[0]
    assert result.architecture == "arm64" and row.architecture == "arm64"
    assert row.billed_ms == math.ceil(row.mean_ms / 100) * 100 >= 100      # about 10 ms, rounded UP to 100
    assert row.cost_per_invoke == pytest.approx(cost_per_invoke(100, 512, "arm64"))
    assert row.cost_per_invoke < cost_per_invoke(100, 512, "x86_64")


def test_the_result_shows_itself_as_text_a_table_widget_and_a_chart(lam, role):
    create_function(lam, "waiter", WAITER, role)
    result = power_tune("waiter", memory_sizes=(128, 256), invokes=1, client=lam, progress=False)
    text = result.text()
    assert "Power tuning of waiter" in text and "128 MB" in text and "256 MB" in text
    assert f"Cheapest: {result.cheapest.memory_mb} MB" in text and "Fastest:" in text
    assert text.endswith("Memory restored to 128 MB.")
    assert repr(result) == text
    bundle = result._repr_mimebundle_()
    assert bundle["text/plain"] == text and "application/vnd.jupyter.widget-view+json" in bundle
    view = tuning_widget(result.result)
    assert "cheapest" in view.children[0].value
    assert bytes(view.children[1].value).startswith(b"\x89PNG")
    figure = result.chart()
    assert isinstance(figure, Figure) and figure._repr_png_().startswith(b"\x89PNG")


def test_the_model_runs_without_its_view_and_says_nothing(lam, role, capsys):
    """tuning.tune is what power_tune runs: a plain result, no reporter unless one is handed in."""
    create_function(lam, "waiter", WAITER, role)
    result = tune("waiter", memory_sizes=(128, 256), invokes=1, client=lam)
    assert isinstance(result, PowerTuningResult) and not hasattr(result, "_repr_mimebundle_")
    assert repr(result) == result.text() and "Power tuning of waiter" in result.text()
    assert capsys.readouterr().out == ""
    shown = PowerTuningView(result)
    assert shown.rows is result.rows and shown.cheapest == result.cheapest and shown.text() == result.text()


def test_text_progress_says_one_line_per_memory_size(lam, role):
    create_function(lam, "waiter", WAITER, role)
    stream = io.StringIO()
    reporter = TextProgress("waiter", [128, 512], 1, stream)
    row = summarise(128, [Sample(100.0, 100.0)])
    reporter.row_done(row)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Power tuning waiter: 2 memory size(s), 1 warm-up + 1 invoke(s) each"
    assert lines[1].strip().startswith("128 MB: median 100.0 ms")


def test_without_widgets_progress_is_printed(lam, role, capsys):
    create_function(lam, "waiter", WAITER, role)
    power_tune("waiter", memory_sizes=(128, 256), invokes=1, client=lam)
    printed = capsys.readouterr().out
    assert "Power tuning waiter" in printed and "128 MB: median" in printed and "256 MB: median" in printed
    assert "Memory restored to 128 MB." in printed


def test_it_tunes_the_function_of_the_learners_cloud_by_default(aws, role, monkeypatch):
    """No client given: the library's own client for the running local cloud (found by its state file)."""
    monkeypatch.setenv("LAMBDALAB_HOME", str(aws.home))
    lam = aws.client("lambda")
    create_function(lam, "waiter", WAITER, role)
    result = power_tune("waiter", memory_sizes=(128,), invokes=1, payload=json.dumps({"echo": 1}), progress=False)
    assert result.rows[0].ok
    assert result.text().endswith("Memory left at 128 MB.")          # 128 MB was its own size: nothing changed
    assert pricing.REQUEST_PRICE_PER_MILLION / 1e6 < result.rows[0].cost_per_invoke


# --- Lab 6's checks recompute the learner's choice from the cloud's record of the same invokes ------

def record(memory_mb: int, duration_ms: float, init_ms: float | None = None, function: str = "lab06-quote",
           error: str | None = None) -> dict:
    return {"function_name": function, "memory_mb": memory_mb, "duration_ms": duration_ms,
            "billed_ms": int(duration_ms) + 1, "init_ms": init_ms, "error_type": error, "architecture": "x86_64"}


def test_the_latest_tuning_run_of_each_size_counts_not_a_stray_invoke_after_it():
    from lambdalab.grader.checks.lab06 import measured_rows

    records = ([record(128, 900.0)] * 4                                          # an early run at 128 MB
               + [record(128, 500.0, init_ms=30.0)] + [record(128, 400.0)] * 3    # the tuning run at 128 MB
               + [record(512, 100.0, init_ms=30.0)] + [record(512, 120.0)] * 3
               + [record(512, 50.0, function="another")] * 5                     # another function
               + [record(512, 10.0, error="Unhandled")]                           # a failed invoke
               + [record(128, 5.0, init_ms=30.0), record(128, 5.0)])              # a stray invoke later
    rows = measured_rows(records)
    assert sorted(rows) == [128, 512]
    assert rows[128].median_ms == 400.0 and rows[128].invokes == 3 and rows[128].cold_starts == 1
    assert rows[512].median_ms == 120.0


@pytest.fixture
def probe(aws):
    from lambdalab.core.state import CloudState
    from lambdalab.grader.probe import Probe

    return Probe(CloudState(**aws.state))


def test_the_lab06_checks_accept_only_the_cheapest_size_within_the_target_and_the_right_bill(lam, role, probe):
    from lambdalab.grader.checks import lab06
    from lambdalab.grader.registry import NotYet

    create_function(lam, "lab06-quote", WAITER, role, MemorySize=3008)
    with pytest.raises(NotYet, match="at least 3"):
        lab06.memory_choice(probe)                                # nothing tuned yet
    result = power_tune("lab06-quote", memory_sizes=(128, 256, 1024), invokes=3, payload={"wait_s": 0.02},
                        client=lam, progress=False)
    with pytest.raises(NotYet, match="did not measure") as not_measured:
        lab06.memory_choice(probe)                                # still 3,008 MB
    assert "128" not in not_measured.value.hint
    lam.update_function_configuration(FunctionName="lab06-quote", MemorySize=1024)
    with pytest.raises(NotYet, match="another size you measured meets it too") as dearer:
        lab06.memory_choice(probe)
    assert "128" not in dearer.value.message + dearer.value.hint    # the answer is never given away
    lam.update_function_configuration(FunctionName="lab06-quote", MemorySize=128)
    assert "128 MB" in lab06.memory_choice(probe)                 # waiting code: the smallest size is cheapest

    arn = lam.get_function_configuration(FunctionName="lab06-quote")["FunctionArn"]
    with pytest.raises(NotYet, match="no monthly-cost-usd tag"):
        lab06.monthly_bill(probe)
    right = lab06.expected_bill(result.row(128))
    assert right == pytest.approx(pricing.estimate(lab06.MONTHLY_INVOCATIONS, result.row(128).billed_ms, 128).total,
                                  rel=0.01)     # the same month, but without rounding the mean billed duration up
    without_free_tier = pricing.estimate(lab06.MONTHLY_INVOCATIONS, result.row(128).billed_ms, 128,
                                         free_tier=False).total
    lam.tag_resource(Resource=arn, Tags={"monthly-cost-usd": f"{without_free_tier:.2f}"})
    with pytest.raises(NotYet, match="is not what"):
        lab06.monthly_bill(probe)
    lam.tag_resource(Resource=arn, Tags={"monthly-cost-usd": "about ten dollars"})
    with pytest.raises(NotYet, match="not a number"):
        lab06.monthly_bill(probe)
    lam.tag_resource(Resource=arn, Tags={"monthly-cost-usd": f"{right:.2f}"})  # AWS refuses "$" and "," in tag values
    assert lab06.monthly_bill(probe).startswith(f"${right:,.2f} a month")
    assert lab06.monthly_bill(probe).endswith(f"(the check makes it ${right:,.2f}).")
