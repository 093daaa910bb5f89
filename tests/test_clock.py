"""The cloud's clock: virtual time moves only when advanced, and timers run in order."""

from __future__ import annotations

import threading
import time

import pytest

from lambdalab.core.clock import CloudClock


def test_virtual_time_stands_still_until_advanced() -> None:
    clock = CloudClock()
    clock.use_virtual(start=1_000_000.0)
    assert clock.now() == 1_000_000.0
    clock.advance(60)
    assert clock.now() == 1_000_060.0


def test_advance_runs_due_timers_in_order_at_their_moment() -> None:
    clock = CloudClock()
    clock.use_virtual(start=0.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(30.0, lambda: seen.append(("b", clock.now())), "b")
    clock.call_at(10.0, lambda: seen.append(("a", clock.now())), "a")
    clock.call_at(500.0, lambda: seen.append(("late", clock.now())), "late")
    report = clock.advance(100)
    assert seen == [("a", 10.0), ("b", 30.0)]
    assert [name for _, name in report.fired] == ["a", "b"]
    assert clock.pending() == [(500.0, "late")]


def test_timers_booked_during_an_advance_run_in_the_same_advance() -> None:
    clock = CloudClock()
    clock.use_virtual(start=0.0)
    fired: list[float] = []

    def every_minute() -> None:
        fired.append(clock.now())
        clock.call_later(60, every_minute, "tick")

    clock.call_at(60, every_minute, "tick")
    clock.advance(86_400)
    assert len(fired) == 1_440
    assert fired[-1] == 86_400


def test_cancelled_timers_never_run() -> None:
    clock = CloudClock()
    clock.use_virtual(start=0.0)
    ran = []
    timer = clock.call_at(5, lambda: ran.append(True))
    timer.cancel()
    clock.advance(10)
    assert ran == []


def test_advance_waits_for_the_cloud_to_settle() -> None:
    clock = CloudClock()
    clock.use_virtual(start=0.0)
    work_done = threading.Event()
    busy = {"now": True}
    clock.add_busy_check(lambda: busy["now"])

    def finish() -> None:
        busy["now"] = False
        work_done.set()

    threading.Timer(0.05, finish).start()
    clock.advance(1)
    assert work_done.is_set()


def test_real_time_timers_run_on_their_own() -> None:
    clock = CloudClock()
    ran = threading.Event()
    clock.call_later(0.01, ran.set)
    assert ran.wait(10)


def test_advancing_a_real_clock_is_refused() -> None:
    with pytest.raises(RuntimeError):
        CloudClock().advance(1)


def test_clock_through_the_cloud(cloud) -> None:
    cloud.admin_json("POST", "/lambdalab/clock", {"mode": "virtual", "start": 0})
    answer = cloud.admin_json("POST", "/lambdalab/clock", {"advance_s": 90})
    assert answer["now"] == 90 and answer["virtual"] is True
    cloud.admin_json("POST", "/lambdalab/clock", {"mode": "real"})
    assert cloud.admin_json("GET", "/lambdalab/clock")["virtual"] is False


def test_back_to_real_time_the_clock_runs_on_from_where_it_stood() -> None:
    clock = CloudClock()
    clock.use_virtual()
    clock.advance(3 * 86_400)
    ahead = clock.now()
    ran = threading.Event()
    clock.call_later(0.05, ran.set)  # booked in the advanced time: still due 50 ms from now
    clock.use_real()
    assert clock.now() >= ahead
    assert ran.wait(10)


def test_a_reset_puts_the_clock_back_to_the_wall_clock() -> None:
    clock = CloudClock()
    clock.use_virtual()
    clock.advance(86_400)
    clock.use_real()
    clock.reset()
    assert abs(clock.now() - time.time()) < 60
