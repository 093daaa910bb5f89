"""The billing meter and the bill: what the REPORT lines say is what the bill counts, under
today's billing rules and the historical ones (100 ms rounding, INIT not billed), per function,
per time range and per month."""

from __future__ import annotations

import math
import shutil
from datetime import datetime, timezone

import pytest

from lambdalab.records import pricing
from lambdalab.records.bill import Bill, price
from lambdalab.records.logs import parse_report
from lambdalab.records.meter import Meter, MeterEntry
from support import create_function, create_role, invoke_json, make_zip, start_cloud, wait_until
from test_packages import RUNTIME_API_ECHO_PYTHON

WORK = """import time
def handler(event, context):
    time.sleep(event.get('sleep', 0))
    if event.get('fail'):
        raise ValueError('asked to fail')
    return 'done'
"""
SLOW_INIT = "import time\ntime.sleep(0.15)  # a slow INIT phase\n"


# --- helpers ------------------------------------------------------------------------------------

def report_lines(cloud, function_name: str) -> list[dict[str, str]]:
    """Every REPORT line of a function in CloudWatch Logs, parsed."""
    logs = cloud.client("logs")
    found, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}", **({"nextToken": token} if token else {}))
        found += [parse_report(event["message"]) for event in page["events"] if event["message"].startswith("REPORT")]
        token = page.get("nextToken")
        if not token:
            return found


def ms(field: str) -> float:
    """'15.74 ms' -> 15.74"""
    return float(field.split()[0])


def meter_entries(cloud, **query: object) -> list[dict]:
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return cloud.admin("GET", "/lambdalab/meter" + (f"?{suffix}" if suffix else ""))


def read_bill(cloud, **query: object) -> Bill:
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return Bill.from_json(cloud.admin("GET", "/lambdalab/bill" + (f"?{suffix}" if suffix else "")))


def tail_report(response: dict) -> dict[str, str]:
    import base64

    text = base64.b64decode(response["LogResult"]).decode()
    return parse_report(next(line for line in text.splitlines() if line.startswith("REPORT")))


def invoke_tail(lam, name: str, event: dict | None = None) -> dict[str, str]:
    import json

    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), LogType="Tail")
    response["Payload"].read()
    return tail_report(response)


def assert_init_included(report: dict[str, str], granularity_ms: int = 1) -> None:
    """Billed = Duration + Init Duration, rounded up (the printed figures are rounded to 0.01 ms)."""
    total = ms(report["Duration"]) + ms(report["Init Duration"])
    billed = ms(report["Billed Duration"])
    assert pricing.billed_ms(total - 0.01, granularity_ms) <= billed <= pricing.billed_ms(total + 0.01, granularity_ms)


def assert_duration_only(report: dict[str, str], granularity_ms: int = 1) -> None:
    duration = ms(report["Duration"])
    billed = ms(report["Billed Duration"])
    assert pricing.billed_ms(duration - 0.01, granularity_ms) <= billed <= pricing.billed_ms(duration + 0.01,
                                                                                             granularity_ms)


# --- the meter against the REPORT lines ---------------------------------------------------------

def test_meter_totals_equal_the_sum_of_report_lines(aws, lam, role):
    create_function(lam, "work", WORK, role, MemorySize=512, Timeout=1)
    create_function(lam, "tiny", WORK, role, Architectures=["arm64"], EphemeralStorage={"Size": 1024})
    events = [{}, {"sleep": 0.05}, {}, {"fail": True}, {"sleep": 1.5}, {}]  # a cold start, warm ones, an error,
    for event in events:                                                   # a timeout, a cold start again
        invoke_json(lam, "work", event)
    for _ in range(3):
        lam.invoke(FunctionName="tiny", InvocationType="Event", Payload=b"{}")
    wait_until(lambda: len(meter_entries(aws)) == len(events) + 3, 60, 0.1, "every invoke metered")
    wait_until(lambda: len(report_lines(aws, "tiny")) == 3, 20, 0.1, "the async invokes' REPORT lines")

    bill = read_bill(aws)
    for name, memory_mb in (("work", 512), ("tiny", 128)):
        reports = report_lines(aws, name)
        charged = bill.function(name)
        billed = [int(ms(report["Billed Duration"])) for report in reports]
        assert charged.requests == len(reports)
        assert charged.billed_ms == sum(billed)
        assert charged.gb_seconds == pytest.approx(sum(billed) * memory_mb / 1024 / 1000)
        assert charged.cold_starts == sum("Init Duration" in report for report in reports)
        assert sorted(e["request_id"] for e in meter_entries(aws, function=name)) == \
            sorted(report["RequestId"] for report in reports)
    assert bill.function("work").errors == 2  # the exception and the timeout
    assert bill.function("work").cold_starts == 2  # the timeout reset the environment
    assert bill.requests == len(events) + 3
    assert bill.billed_ms == bill.function("work").billed_ms + bill.function("tiny").billed_ms


def test_the_bill_prices_the_metered_usage(aws, lam, role):
    create_function(lam, "x86", WORK, role, MemorySize=1024)
    create_function(lam, "arm", WORK, role, MemorySize=2048, Architectures=["arm64"], EphemeralStorage={"Size": 2560})
    for _ in range(3):
        invoke_json(lam, "x86")
        invoke_json(lam, "arm")
    listed = read_bill(aws, free_tier=0)
    x86, arm = listed.function("x86"), listed.function("arm")
    assert x86.list_price_usd == pytest.approx(3 * 0.2e-6 + x86.gb_seconds * 0.0000166667)
    assert arm.list_price_usd == pytest.approx(3 * 0.2e-6 + arm.gb_seconds * 0.0000133334
                                               + arm.gb_seconds * 0.0000000309)  # 2 GB above 512 MB at 2 GB
    assert listed.total_usd == pytest.approx(x86.list_price_usd + arm.list_price_usd)
    assert arm.tiers == ("arm64 first 7.5 billion GB-s",)

    with_free_tier = read_bill(aws)
    assert with_free_tier.free_requests == 6
    assert with_free_tier.free_gb_seconds == pytest.approx(with_free_tier.gb_seconds)
    assert with_free_tier.total_usd == pytest.approx(arm.ephemeral_cost_usd)  # storage has no free tier
    assert with_free_tier.list_price_usd == pytest.approx(listed.total_usd)


def test_throttled_invokes_are_not_billed(aws, lam, role):
    create_function(lam, "off", WORK, role)
    lam.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    for _ in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="off", Payload=b"{}")
    assert read_bill(aws).functions == ()
    assert meter_entries(aws) == []


def test_a_time_range_and_one_function(aws, lam, role):
    create_function(lam, "a", WORK, role)
    create_function(lam, "b", WORK, role)
    invoke_json(lam, "a")
    middle = meter_entries(aws)[-1]["at"]  # metered before Invoke answers
    later = aws.admin("GET", "/lambdalab/clock")["now"]
    invoke_json(lam, "a")
    invoke_json(lam, "b")
    assert read_bill(aws).requests == 3
    assert read_bill(aws, since=later).requests == 2
    assert read_bill(aws, until=middle).requests == 1
    only_b = read_bill(aws, function="b")
    assert [f.name for f in only_b.functions] == ["b"] and only_b.function_name == "b"
    everything, before, after = read_bill(aws, free_tier=0), read_bill(aws, free_tier=0, until=middle), \
        read_bill(aws, free_tier=0, since=later)
    assert before.total_usd + after.total_usd == pytest.approx(everything.total_usd)


def test_reset_starts_a_new_session(aws, lam, role):
    create_function(lam, "short-lived", WORK, role)
    invoke_json(lam, "short-lived")
    assert read_bill(aws).requests == 1
    aws.reset()
    bill = read_bill(aws)
    assert bill.requests == 0 and bill.functions == () and bill.total_usd == 0


def test_a_bad_range_is_refused_with_a_message(aws):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.admin("GET", "/lambdalab/bill?since=20&until=10")
    assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.admin("GET", "/lambdalab/bill?since=yesterday")
    assert refused.value.code == 400


def test_months_in_virtual_time_each_get_their_free_tier(aws, lam, role):
    create_function(lam, "monthly", WORK, role)
    end_of_january = datetime(2031, 1, 31, 23, 59, tzinfo=timezone.utc).timestamp()
    aws.admin_json("POST", "/lambdalab/clock", {"mode": "virtual", "start": end_of_january})
    invoke_json(lam, "monthly")
    aws.admin_json("POST", "/lambdalab/clock", {"advance_s": 120})
    invoke_json(lam, "monthly")
    bill = read_bill(aws, since=end_of_january - 1)
    assert sorted({line.month for line in bill.lines}) == ["2031-01", "2031-02"]
    free_requests = [line for line in bill.lines if line.item == "Requests, free tier"]
    assert [(line.month, line.quantity) for line in free_requests] == [("2031-01", 1), ("2031-02", 1)]
    assert bill.since == end_of_january - 1 and bill.until == end_of_january + 120


# --- REPORT's Billed Duration: init billing and granularity --------------------------------------

def test_a_cold_start_bills_its_init_phase_and_a_warm_one_only_its_duration(aws, lam, role):
    create_function(lam, "init-billed", WORK, role)
    cold = invoke_tail(lam, "init-billed")
    warm = invoke_tail(lam, "init-billed")
    assert "Init Duration" in cold and "Init Duration" not in warm
    assert_init_included(cold)
    assert_duration_only(warm)


@pytest.fixture(scope="module")
def cloud_of_2019(tmp_path_factory: pytest.TempPathFactory):
    """Billing as before Dec 2020 and Aug 2025: 100 ms rounded up, INIT billed only for custom runtimes."""
    cloud = start_cloud(tmp_path_factory.mktemp("billing-2019"),
                        {"LAMBDALAB_BILL_INIT_PHASE": "false", "LAMBDALAB_BILLING_GRANULARITY_MS": "100"})
    yield cloud
    cloud.stop()


def test_before_2020_billing_rounds_up_to_100_ms_and_skips_init_of_managed_runtimes(cloud_of_2019):
    cloud_of_2019.reset()
    lam = cloud_of_2019.client("lambda")
    role = create_role(cloud_of_2019.client("iam"))
    create_function(lam, "old-times", SLOW_INIT + WORK, role, MemorySize=256)
    cold = invoke_tail(lam, "old-times")
    warm = invoke_tail(lam, "old-times", {"sleep": 0.01})
    assert ms(cold["Init Duration"]) >= 150
    assert_duration_only(cold, 100)
    assert_duration_only(warm, 100)
    # rounding up adds less than 100 ms, the INIT phase more: had it been billed, the bill would be higher
    assert ms(cold["Billed Duration"]) < ms(cold["Duration"]) + ms(cold["Init Duration"])
    billed = [int(ms(report["Billed Duration"])) for report in (cold, warm)]
    assert all(value % 100 == 0 for value in billed)
    bill = read_bill(cloud_of_2019)
    assert bill.billed_ms == sum(billed) and bill.granularity_ms == 100 and not bill.bill_init_phase
    assert bill.gb_seconds == pytest.approx(sum(billed) / 1000 * 0.25)


@pytest.mark.skipif(shutil.which("python3") is None, reason="the custom runtime's bootstrap is a python3 script")
def test_before_august_2025_a_custom_runtime_already_paid_for_init(cloud_of_2019):
    cloud_of_2019.reset()
    lam = cloud_of_2019.client("lambda")
    role = create_role(cloud_of_2019.client("iam"))
    lam.create_function(FunctionName="custom", Runtime="provided.al2023", Role=role, Handler="function.handler",
                        Code={"ZipFile": make_zip({"bootstrap": RUNTIME_API_ECHO_PYTHON}, {"bootstrap": 0o755})})
    cold = invoke_tail(lam, "custom")
    assert "Init Duration" in cold
    assert_init_included(cold, 100)
    assert read_bill(cloud_of_2019).billed_ms == ms(cold["Billed Duration"])


# --- lambdalab.bill() from a notebook -----------------------------------------------------------

def test_lambdalab_bill_shows_the_session_as_a_table_a_chart_and_numbers(aws, lam, role, monkeypatch):
    import lambdalab

    monkeypatch.setenv("LAMBDALAB_HOME", str(aws.home))
    create_function(lam, "shown", WORK, role, MemorySize=256)
    invoke_json(lam, "shown")
    invoke_json(lam, "shown", {"fail": True})
    before = datetime.now(timezone.utc)
    view = lambdalab.bill()
    assert view.requests == 2 and view.total_usd == 0
    assert [(f.name, f.requests) for f in view.functions] == [("shown", 2)]
    assert view.functions[0].gb_seconds == pytest.approx(view.gb_seconds) and view.functions[0].cost_usd == 0
    text = view.text()
    assert "shown" in text and "monthly free tier applied" in text and "Requests, free tier" in text
    assert repr(view) == text
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == text and "application/vnd.jupyter.widget-view+json" in bundle
    image = view.widget().children[1]
    assert bytes(image.value).startswith(b"\x89PNG")

    unpaid = lambdalab.bill(free_tier=False)
    assert unpaid.total_usd == pytest.approx(view.list_price_usd) and unpaid.total_usd > 0
    assert lambdalab.bill(since=before).requests == 0
    assert lambdalab.bill(since=before.timestamp() - 3600, function_name="nothing").functions == ()
    assert "No invocations in this period" in lambdalab.bill(since=before).text()
    with pytest.raises(TypeError):
        lambdalab.bill(since="yesterday")


# --- pricing the entries (no cloud) --------------------------------------------------------------

def entry(at: float, name: str, billed_ms: int, memory_mb: int = 1024, architecture: str = "x86_64",
          requests: int = 1) -> MeterEntry:
    return MeterEntry(at=at, function_name=name, version="$LATEST", architecture=architecture, memory_mb=memory_mb,
                      ephemeral_storage_mb=512, billed_ms=billed_ms, duration_ms=float(billed_ms), init_ms=0.0,
                      cold_starts=0, errors=0, request_id=None, requests=requests)


JUNE = datetime(2030, 6, 10, tzinfo=timezone.utc).timestamp()


def test_the_free_tier_pays_for_the_first_usage_of_the_month_whichever_function_it_was():
    first = entry(JUNE, "first", 300_000_000, requests=600_000)  # 300,000 GB-s
    second = entry(JUNE + 60, "second", 200_000_000, requests=600_000)  # 200,000 GB-s: 100,000 of them free
    bill = price([first, second], JUNE, JUNE + 3600)
    assert bill.function("first").cost_usd == 0
    assert bill.function("first").free_gb_seconds == 300_000
    assert bill.function("second").free_gb_seconds == 100_000
    assert bill.function("second").free_requests == 400_000
    assert bill.function("second").cost_usd == pytest.approx(100_000 * 0.0000166667 + 200_000 * 0.2e-6)
    # the bill of the second alone still knows the first used most of the free tier
    assert price([first, second], JUNE + 30, JUNE + 3600).total_usd == pytest.approx(bill.total_usd)
    assert price([first, second], JUNE, JUNE + 3600, function_name="first").total_usd == 0


def test_a_new_month_brings_a_new_free_tier():
    july = datetime(2030, 7, 1, tzinfo=timezone.utc).timestamp()
    entries = [entry(JUNE, "f", 400_000_000), entry(july + 10, "f", 400_000_000)]
    assert price(entries, JUNE, july + 60).total_usd == 0  # each month's 400,000 free GB-s pay for its own
    assert price(entries, JUNE, july + 60, free_tier=False).total_usd == pytest.approx(
        2 * (0.2e-6 + 400_000 * 0.0000166667))


def test_the_worked_example_billed_invoke_by_invoke_as_the_meter_does():
    """3 million 1 s invokes at 512 MB in one month, metered in pieces: $18.33 + $0.40, as the facts sheet says."""
    pieces = [entry(JUNE + n, f"f{n % 3}", 1000 * 300_000, memory_mb=512, requests=300_000) for n in range(10)]
    bill = price(pieces, JUNE, JUNE + 60)
    lines = {line.item: line for line in bill.lines}
    assert round(lines["Duration x86_64, first 6 billion GB-s"].cost_usd, 2) == 18.33
    assert round(lines["Requests"].cost_usd, 2) == 0.40
    assert round(bill.total_usd, 2) == 18.73
    assert bill.total_usd == pytest.approx(pricing.estimate(3_000_000, 1000, 512).total)


def test_old_entries_fold_into_a_roll_up_that_keeps_the_session_totals():
    class FixedClock:
        value = JUNE

        def now(self) -> float:
            return self.value

    from lambdalab.records.invocations import InvocationRecord

    clock = FixedClock()
    meter = Meter(clock, keep=3)
    for n in range(7):
        clock.value = JUNE + n
        meter.record(InvocationRecord(
            request_id=f"r{n}", function_name="f", function_arn="arn:aws:lambda:us-east-1:1:function:f",
            version="$LATEST", invocation_type="RequestResponse", started_at=0.0, duration_ms=10.0, billed_ms=10 + n,
            init_ms=5.0 if n == 0 else None, memory_mb=128, max_memory_mb=20, architecture="x86_64",
            ephemeral_storage_mb=512, runtime="python3.12", environment_id="e", error_type=None, timed_out=False,
            logged=True))
    entries = meter.entries()
    assert len(entries) == 4 and entries[0].requests == 4 and entries[0].request_id is None
    assert sum(e.requests for e in entries) == 7
    assert sum(e.billed_ms for e in entries) == sum(10 + n for n in range(7))
    assert entries[0].cold_starts == 1 and entries[0].init_ms == 5.0
    assert [e.request_id for e in entries[1:]] == ["r4", "r5", "r6"]
    assert price(entries, 0, JUNE + 60).billed_ms == sum(10 + n for n in range(7))
    meter.clear()
    assert meter.entries() == [] and meter.session_started_at == JUNE + 6


def test_a_bill_survives_its_trip_through_json():
    bill = price([entry(JUNE, "f", 1000), entry(JUNE, "g", 2000, architecture="arm64")], JUNE, JUNE + 1,
                 free_tier=False)
    again = Bill.from_json(bill.as_json())
    assert again == bill
    assert math.isclose(again.total_usd, bill.total_usd)


def test_grouped_pricing_equals_pricing_invoke_by_invoke():
    """The bill charges runs of uniform price together; the result must equal charging every entry in
    time order, also across the free tier running out, tier thresholds and a new month."""
    import random
    from collections import defaultdict

    july = datetime(2030, 7, 1, tzinfo=timezone.utc).timestamp()
    chooser = random.Random(5)
    entries = []
    for n in range(1500):
        at = JUNE + n * 1000 if n < 1200 else july + n
        entries.append(replace_entry(entry(at, chooser.choice("abcd"), chooser.choice([100, 10**6, 10**10]),
                                           memory_mb=chooser.choice([128, 10240]),
                                           architecture=chooser.choice(["x86_64", "arm64"]),
                                           requests=chooser.choice([1, 300_000])),
                                     ephemeral_storage_mb=chooser.choice([512, 4096])))
    since, until = entries[300].at, entries[1400].at
    for free_tier in (True, False):
        bill = price(entries, since, until, free_tier=free_tier)
        months, expected, listed = {}, defaultdict(float), defaultdict(float)
        list_months: dict[str, pricing.MonthToDate] = {}
        for each in entries:
            if each.at > until:
                break
            quantities = (each.requests, each.gb_seconds, each.architecture, each.extra_storage_gb_seconds)
            charge = months.setdefault(each.month, pricing.MonthToDate(free_tier)).charge(*quantities)
            list_charge = list_months.setdefault(each.month, pricing.MonthToDate(False)).charge(*quantities)
            if each.at >= since:
                expected[each.function_name] += charge.total
                listed[each.function_name] += list_charge.total
        assert {f.name: pytest.approx(f.cost_usd, rel=1e-9) for f in bill.functions} == expected
        assert {f.name: pytest.approx(f.list_price_usd, rel=1e-9) for f in bill.functions} == listed
        assert any("next" in line.item for line in bill.lines)  # a tier threshold was crossed


def replace_entry(original: MeterEntry, **changes: object) -> MeterEntry:
    from dataclasses import replace

    return replace(original, **changes)
